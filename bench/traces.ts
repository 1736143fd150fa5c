/*
 * The traces the replay benchmarks run: the 13 CMU malloc-lab traces and the three recorded
 * programs of ../shared/traces (beside the repository), and the programs recorded for this
 * repository in traces/ and traces/programs. Missing folders give no traces.
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadTrace, traceFiles as repFiles } from "kmem-workbench";

/** ../shared/traces, from dist/bench/ of the repository. */
export const SHARED_TRACES = fileURLToPath(new URL("../../../shared/traces/", import.meta.url));
/** The repository's own traces/. */
export const OWN_TRACES = fileURLToPath(new URL("../../traces/", import.meta.url));

/** The malloc-lab traces, by name. */
export function malloclabTraces(): string[] {
  return repFiles(join(SHARED_TRACES, "malloclab"));
}

/** The recorded programs: the shared ones, then the repository's own (traces/ and traces/programs). */
export function programTraces(): string[] {
  return [
    ...repFiles(join(SHARED_TRACES, "programs")),
    ...repFiles(OWN_TRACES),
    ...repFiles(join(OWN_TRACES, "programs")),
  ];
}

/** A trace's name without its folder and extension. */
export function traceName(file: string): string {
  return (file.split(/[\\/]/).pop() ?? file).replace(/\.rep(\.gz)?$/, "");
}

/** Every op of a trace in three flat arrays: op (0 alloc, 1 free, 2 realloc), id, size. */
export interface FlatTrace {
  name: string;
  ops: number;
  ids: number;
  op: Uint8Array;
  id: Int32Array;
  size: Int32Array;
  peakPayloadBytes: number;
}

/** Reads a whole trace into memory (9 bytes an op). */
export async function flatTrace(file: string): Promise<FlatTrace> {
  const source = await loadTrace(file);
  const n = source.info.header.ops;
  const t: FlatTrace = {
    name: traceName(file),
    ops: n,
    ids: source.info.header.ids,
    op: new Uint8Array(n),
    id: new Int32Array(n),
    size: new Int32Array(n),
    peakPayloadBytes: source.info.peakPayloadBytes,
  };
  let at = 0;
  await source.forEachChunk((c) => {
    t.op.set(c.op.subarray(0, c.length), at);
    t.id.set(c.id.subarray(0, c.length), at);
    t.size.set(c.size.subarray(0, c.length), at);
    at += c.length;
    return true;
  });
  return t;
}
