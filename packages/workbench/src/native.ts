/*
 * The C library's malloc as a candidate, replayed by native code (native/replay.c): the number
 * every C programmer knows, beside kmem's. The replayer is compiled on first use with the
 * system's compiler ($CC, else cc, gcc or clang: `-O2`, with the C library's malloc) into
 * dist/native/, and again whenever its source is newer; where no compiler works the candidate
 * is skipped with a one-line reason (`nativeStatus`). Nothing built is committed.
 *
 * A replay writes the trace's ops to a temporary file (12 bytes an op: the replayer maps it)
 * and runs the replayer twice, each pass in a fresh process: the measured pass (latency,
 * payload, footprint, utilization, the contents check), then the timed pass (ops/s), with the
 * warm-up, repeat and time-limit rules of replay.ts. Footprint is the C library's own: the main
 * arena's extent plus its mmapped chunks (see native/replay.c). The heap map needs memory the
 * workbench can see, which native code's is not: a native result has none.
 */

import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ReplayDetail, ReplayOptions, ReplayOutcome, ReplayResult } from "./replay.js";
import type { TraceSource } from "./source.js";

const SOURCE = fileURLToPath(new URL("../../native/replay.c", import.meta.url));
/** The compiled replayer (nativeStatus() builds it). */
export const BINARY = fileURLToPath(new URL("../native/kmem-replay-native", import.meta.url));

/** The replay rules of replay.ts the native passes follow (its constants, passed on). */
export interface NativeTiming {
  minTimedOps: number;
  warmOps: number;
  warmMs: number;
  repeatMs: number;
}

let status: Promise<string | null> | null = null;

/** Compiles the replayer if it is missing or older than its source; null, or why it cannot. */
export function nativeStatus(): Promise<string | null> {
  status ??= Promise.resolve().then(() => {
    const compilers = [process.env.CC, "cc", "gcc", "clang"].filter(
      (c): c is string => c !== undefined && c !== "",
    );
    return compileReplayer(compilers, BINARY);
  });
  return status;
}

/**
 * Compiles the replayer to `binary` with the first of `compilers` that works, unless it is
 * there and newer than its source; null, or why it cannot (one line).
 */
export function compileReplayer(compilers: readonly string[], binary: string): string | null {
  try {
    return build(compilers, binary);
  } catch (err) {
    return `its replayer cannot be built (${(err as Error).message})`;
  }
}

function build(compilers: readonly string[], binary: string): string | null {
  if (!existsSync(SOURCE)) return `its source ${SOURCE} is not installed`;
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(SOURCE).mtimeMs) return null;
  mkdirSync(dirname(binary), { recursive: true });
  // Built under a name of its own, then renamed: processes building at once never see half a file.
  const tmp = `${binary}.${process.pid}.tmp`;
  const failures: string[] = [];
  for (const cc of compilers) {
    const r = spawnSync(cc, ["-O2", "-std=c11", "-o", tmp, SOURCE, "-lm"], { encoding: "utf8" });
    if (r.error !== undefined) continue;
    if (r.status === 0) {
      renameSync(tmp, binary);
      return null;
    }
    failures.push(`${cc}: ${(r.stderr.split("\n")[0] ?? "").trim() || `exit ${r.status}`}`);
  }
  rmSync(tmp, { force: true });
  return failures.length > 0
    ? `its replayer does not compile (${failures[0]})`
    : "no C compiler (cc, gcc or clang) on this machine";
}

/** Writes the ops of `source` as the replayer reads them: "KMRP", ids, ops, then 12 bytes an op. */
async function writeOps(source: TraceSource, path: string): Promise<void> {
  const fh = await open(path, "w");
  try {
    const head = new Uint32Array([0x50524d4b, source.info.header.ids, source.info.header.ops]);
    await fh.write(new Uint8Array(head.buffer));
    const pieces: Uint32Array[] = [];
    await source.forEachChunk((c) => {
      const w = new Uint32Array(c.length * 3);
      for (let i = 0; i < c.length; i++) {
        w[3 * i] = c.op[i] as number;
        w[3 * i + 1] = c.id[i] as number;
        w[3 * i + 2] = c.size[i] as number;
      }
      pieces.push(w);
      return true;
    });
    for (const w of pieces) await fh.write(new Uint8Array(w.buffer));
  } finally {
    await fh.close();
  }
}

function run(args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(BINARY, args, { maxBuffer: 64 << 20, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(stderr.trim() || err.message));
      else resolve(JSON.parse(stdout));
    });
  });
}

interface MeasuredJson {
  ops: number;
  complete: boolean;
  peakPayloadBytes: number;
  peakFootprintBytes: number;
  usableAtPeak: number;
  footprintAtPeak: number;
  requests: number;
  failures: number;
  latencyNs: ReplayResult["latencyNs"];
  leftovers: ReplayResult["leftovers"];
  error: string | null;
  buckets: [number, number, number][];
  timeline: ReplayDetail["timeline"];
}

interface TimedJson {
  ops: number;
  complete: boolean;
  runMs: number[];
  rates: number[];
  /** Minor page faults of each counted run (near 0: its heap was touched before). */
  faults: number[];
}

/** Replays `source` in native code against the C library's malloc. */
export async function replayNative(
  name: string,
  source: TraceSource,
  options: ReplayOptions,
  timing: NativeTiming,
  medianCI95: (sorted: readonly number[]) => [number, number] | null,
): Promise<ReplayOutcome> {
  const why = await nativeStatus();
  if (why !== null) throw new Error(`${name} is not available: ${why}`);
  const dir = mkdtempSync(join(tmpdir(), "kmem-native-"));
  const file = join(dir, "trace.ops");
  const limit = String(Number.isFinite(options.timeLimitMs) ? (options.timeLimitMs ?? 1e12) : 1e12);
  try {
    await writeOps(source, file);
    const check = options.check ?? true;
    const m = (await run(["measured", file, limit, check ? "1" : "0"])) as MeasuredJson;
    const scale = options.timingScale ?? 1;
    const t =
      options.timed === false
        ? null
        : ((await run([
            "timed",
            file,
            limit,
            String(timing.minTimedOps * scale),
            String(timing.warmOps * scale),
            String(timing.warmMs * scale),
            String(timing.repeatMs * scale),
          ])) as TimedJson);
    const rates = [...(t?.rates ?? [])].sort((a, b) => a - b);
    const ms = [...(t?.runMs ?? [])].sort((a, b) => a - b);
    const median = rates.length > 0 ? (rates[rates.length >> 1] as number) : 0;
    const error = m.error === null ? null : `${name}: ${source.name}: ${m.error}`;
    const result: ReplayResult = {
      trace: source.name,
      allocator: name,
      memoryBytes: options.memoryBytes,
      ops: m.ops,
      complete: m.complete && (t?.complete ?? true) && error === null,
      opsPerSec: median > 0 ? Math.round(median) : null,
      opsPerSecCI95: medianCI95(rates),
      runs: rates.length,
      elapsedMs: ms.length > 0 ? Math.round((ms[ms.length >> 1] as number) * 1000) / 1000 : 0,
      peakPayloadBytes: m.peakPayloadBytes,
      peakFootprintBytes: m.peakFootprintBytes,
      utilization: m.peakFootprintBytes > 0 ? m.peakPayloadBytes / m.peakFootprintBytes : 0,
      internalFragmentation: m.usableAtPeak > 0 ? 1 - m.peakPayloadBytes / m.usableAtPeak : null,
      overheadFraction: m.footprintAtPeak > 0 ? 1 - m.usableAtPeak / m.footprintAtPeak : null,
      requests: m.requests,
      failures: m.failures,
      latencyNs: m.latencyNs,
      leftovers: m.leftovers,
      contentsChecked: check && error === null,
      contentsNotChecked: !check
        ? "the contents check was turned off (--no-check)"
        : error !== null
          ? "the replay stopped at an error"
          : null,
      error,
    };
    const detail: ReplayDetail = {
      timeline: m.timeline,
      latencyBuckets: m.buckets,
      buddyinfo: null,
      heapMap: null,
    };
    return { result, detail };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
