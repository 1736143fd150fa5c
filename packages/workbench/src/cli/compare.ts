/*
 * `kmem compare [TRACE|WORKLOAD...] [--literature]`: every allocator on the same workloads, in
 * the shape of Bonwick's 1994 table (allocate + free time, waste per workload, overhead);
 * with --literature, the published figures beside kmem's and which orderings still hold
 * (src/literature.ts).
 */

import os from "node:os";
import { compareAllocators, type Comparison, orderings, PUBLISHED_NOTES } from "../literature.js";
import { WORKLOADS } from "../workloads/index.js";
import { Exit } from "./exit.js";
import { formatInt, formatNs, formatPct, table } from "./format.js";
import { progressBar } from "./progress.js";
import { selectAllocators } from "./replay.js";
import { resolveSources, shortName } from "./run.js";

export interface CompareCommandOptions {
  literature: boolean;
  allocator: string[];
  memory?: number;
  quick: boolean;
  seed: number;
  /** Ops of each generated workload (default 50,000; 10,000 with --quick). */
  ops?: number;
  timeLimit: number;
}

/** Ops of the pairs workload, and of each generated workload, full and quick. */
const PAIR_OPS = 200_000;
const QUICK_PAIR_OPS = 50_000;
const WORKLOAD_OPS = 50_000;
const QUICK_WORKLOAD_OPS = 10_000;

export async function compareCommand(
  traces: readonly string[],
  options: CompareCommandOptions,
  out: (text: string) => void,
): Promise<Exit> {
  const entries = await selectAllocators(options.allocator);
  const ops = options.ops ?? (options.quick ? QUICK_WORKLOAD_OPS : WORKLOAD_OPS);
  const sources =
    traces.length > 0
      ? await resolveSources(traces, { ops, seed: options.seed })
      : WORKLOADS.map((w) => w.generate(ops, options.seed));
  const pairOps = options.quick ? QUICK_PAIR_OPS : PAIR_OPS;
  const bar = await progressBar(entries.length * (1 + sources.length));
  let c: Comparison;
  try {
    c = await compareAllocators({
      sources,
      pairOps,
      seed: options.seed,
      allocators: entries,
      ...(options.memory !== undefined ? { memoryBytes: options.memory } : {}),
      timingScale: options.quick ? 0.1 : 1,
      timeLimitMs: options.timeLimit * 1000,
      onStep: (label, done) => bar.update(done, label ?? ""),
    });
  } finally {
    bar.stop();
  }
  out(render(c, options.literature, ops, options.seed, traces.length === 0));
  return c.rows.some((r) => r.errors.length > 0) ? Exit.AllocatorFault : Exit.Ok;
}

/** The report: what ran, the table, and with `literature` the published figures and orderings. */
export function render(
  c: Comparison,
  literature: boolean,
  ops: number,
  seed: number,
  generated: boolean,
): string {
  const names = c.sources.map(shortName);
  const cpu = os.cpus()[0]?.model ?? "unknown cpu";
  const lines: string[] = [
    `kmem compare: ${c.rows.length} allocators on the same workloads, in the shape of Bonwick's 1994 comparison`,
    `time: pairs (512 live blocks of 16..1024 bytes, then free one, allocate one), ${formatInt(c.pairOps)} ops; ` +
      `waste: 1 - peak payload / peak footprint on ${names.join(", ")}` +
      (generated ? ` (${formatInt(ops)} ops each, seed ${seed})` : ""),
    `Node ${process.version} on ${cpu} (${os.cpus().length} cores), ${new Date().toISOString().slice(0, 10)}`,
    "",
  ];
  const header = ["allocator", "alloc+free", ...names, "mean", "overhead", "failures"];
  if (literature)
    header.push(
      "published (Bonwick 1994: alloc+free on a SPARCstation; waste boot/spike/find/kenbus)",
    );
  const rows: string[][] = [header];
  for (const r of c.rows) {
    const row = [
      r.errors.length > 0 ? `${r.allocator} !` : r.allocator,
      r.pairNs > 0 ? formatNs(r.pairNs) : "-",
      ...r.waste.map((x) => (x === null ? "error" : formatPct(x))),
      formatPct(r.meanWaste),
      formatPct(r.overhead),
      formatInt(r.failures),
    ];
    if (literature) {
      const p = r.published;
      row.push(
        p === null ? "" : `${p.allocator}: ${p.pairUs?.toFixed(1)} µs; ${p.waste?.join("/")}%`,
      );
    }
    rows.push(row);
  }
  lines.push(table(rows, 1));
  lines.push(
    "",
    "waste: what Bonwick called total fragmentation; overhead: metadata and free memory held at the payload peak (mean over the workloads); failures: requests not served",
  );
  const errors = c.rows.flatMap((r) => r.errors);
  if (literature) {
    lines.push("", ...PUBLISHED_NOTES, "", ...orderings(c));
  }
  if (errors.length > 0) lines.push("", ...errors.map((e) => `! ${e}`));
  return `${lines.join("\n")}\n`;
}
