/*
 * Replay of the public traces (../shared/traces: the 13 CMU malloc-lab traces and the three
 * recorded programs) against every allocator of the workbench, kmem's and the npm peers', as
 * `kmem replay` does it: a timed pass for ops/s, a measured pass for everything else. Prints
 * Markdown tables of utilization, throughput, and tail latency with failures.
 *
 * A pass stops after TIME_LIMIT_S (an allocator whose free walks a list of every live block
 * needs minutes on the program traces); such a cell shows the ops it covered.
 */

import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ALLOCATORS,
  defaultMemoryBytes,
  loadTrace,
  replay,
  type ReplayResult,
} from "kmem-workbench";

const TIME_LIMIT_S = 30;
const DIR = fileURLToPath(new URL("../../../shared/traces/", import.meta.url));
/** The repository's own traces of real programs (traces/README.md). */
const OWN = fileURLToPath(new URL("../../traces/", import.meta.url));

function traceFiles(): string[] {
  const files: string[] = [];
  for (const dir of [join(DIR, "malloclab"), join(DIR, "programs"), OWN]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (/\.rep(\.gz)?$/.test(f)) files.push(join(dir, f));
  }
  return files;
}

function cell(r: ReplayResult, value: string): string {
  if (r.error !== null) return "error";
  return r.complete ? value : `${value}*`;
}

/** Runs the replays and returns the Markdown (or "" when there are no traces). */
export async function replayBenchmarks(log: (line: string) => void): Promise<string> {
  const files = traceFiles();
  if (files.length === 0) return "";
  const names = ALLOCATORS.map((a) => a.name);
  const rows: { trace: string; ops: number; memory: number; results: ReplayResult[] }[] = [];
  for (const file of files) {
    const source = await loadTrace(file);
    const memory = defaultMemoryBytes(source.info.peakPayloadBytes);
    const results: ReplayResult[] = [];
    for (const entry of ALLOCATORS) {
      const { result } = await replay(source, entry, {
        memoryBytes: memory,
        timeLimitMs: TIME_LIMIT_S * 1000,
      });
      results.push(result);
      log(`${basename(file)} ${entry.name}: ${((result.opsPerSec ?? 0) / 1e6).toFixed(2)} M ops/s`);
    }
    rows.push({ trace: basename(file), ops: source.info.header.ops, memory, results });
  }
  const head = (first: string[]): string[] => [
    `| ${[...first, ...names].join(" | ")} |`,
    `| ${[...first, ...names].map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
  ];
  const out: string[] = [
    "### Replay of the public traces: utilization (peak payload / peak footprint)",
    "",
    ...head(["trace", "ops", "memory"]),
  ];
  for (const r of rows) {
    out.push(
      `| ${r.trace} | ${r.ops.toLocaleString("en-US")} | ${r.memory / 2 ** 20} MiB | ${r.results
        .map((x) =>
          cell(
            x,
            x.utilization.toFixed(3) +
              (x.failures > 0 ? ` (${x.failures.toLocaleString("en-US")} failed)` : ""),
          ),
        )
        .join(" | ")} |`,
    );
  }
  out.push(
    "",
    "### Replay of the public traces: throughput (million ops per second)",
    "",
    ...head(["trace"]),
  );
  for (const r of rows) {
    out.push(
      `| ${r.trace} | ${r.results.map((x) => cell(x, ((x.opsPerSec ?? 0) / 1e6).toFixed(2))).join(" | ")} |`,
    );
  }
  out.push(
    "",
    "### Replay of the public traces: p99 / p99.9 latency of one op (ns)",
    "",
    ...head(["trace"]),
  );
  for (const r of rows) {
    out.push(
      `| ${r.trace} | ${r.results.map((x) => cell(x, `${x.latencyNs.p99} / ${x.latencyNs.p999}`)).join(" | ")} |`,
    );
  }
  const partial = rows.flatMap((r) =>
    r.results
      .filter((x) => !x.complete && x.error === null)
      .map(
        (x) =>
          `${x.allocator} on ${r.trace}: ${x.ops.toLocaleString("en-US")} of ${r.ops.toLocaleString("en-US")} ops`,
      ),
  );
  const errors = rows.flatMap((r) =>
    r.results.filter((x) => x.error !== null).map((x) => x.error as string),
  );
  out.push("");
  if (partial.length > 0)
    out.push(`\\* stopped after ${TIME_LIMIT_S} s: ${partial.join("; ")}.`, "");
  for (const e of errors) out.push(`error: ${e}`, "");
  return out.join("\n");
}
