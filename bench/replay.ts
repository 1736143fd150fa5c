/*
 * Replay of the traces (bench/traces.ts: the 13 CMU malloc-lab traces and the recorded
 * programs, ../shared/traces and traces/programs) against the allocators of the workbench,
 * kmem's and the peers', as `kmem replay` does it: a timed pass for ops/s, a measured pass for
 * everything else.
 *
 * - `programsSideBySide`: every program trace against kmem's kmalloc (slub), tlsf, codemix
 *   malloc and @thi.ng/malloc, each (trace, allocator) in a process of its own
 *   (replay-one.ts), a 256 MiB heap, the median of BENCH_ROUNDS rounds with their range:
 *   the table the goals are judged by. kmem's ratio to TLSF is that of their medians, with
 *   the range of the rounds' own ratios (the two run back to back in each round); the timed
 *   loop alone (loop-alone.ts: an allocator that does nothing) runs once a round beside
 *   them, its speed the ceiling of every allocator's on that trace and its spread the
 *   engine's and the machine's own.
 * - `replayBenchmarks`: every trace against every allocator in this process, memory 4x the
 *   peak payload: utilization, throughput, and tail latency with failures.
 *
 * A pass stops after TIME_LIMIT_S (an allocator whose free walks a list of every live block
 * needs minutes on the program traces); such a cell shows the ops it covered.
 */

import { execFile } from "node:child_process";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ALLOCATORS,
  defaultMemoryBytes,
  loadTrace,
  replay,
  type ReplayResult,
} from "kmem-workbench";
import { malloclabTraces, programTraces, traceName } from "./traces.js";

const TIME_LIMIT_S = 30;
const MiB = 2 ** 20;

function traceFiles(): string[] {
  return [...malloclabTraces(), ...programTraces()];
}

/** The allocators of the side-by-side table, kmem's first. */
export const SIDE_BY_SIDE = ["slub", "tlsf", "malloc", "@thi.ng/malloc"] as const;
const SIDE_NAMES: Record<string, string> = {
  slub: "kmem kmalloc (slub)",
  tlsf: "AssemblyScript TLSF",
  malloc: "codemix malloc",
  "@thi.ng/malloc": "@thi.ng/malloc",
};
const SIDE_MEMORY = 256 * MiB;

/**
 * One replay in a fresh process (replay-one.ts; loop-alone.ts for the loop alone), by the
 * scripts in `bench`: this build's dist/bench/, or another build's (bench:ab's before).
 */
export function replayAlone(
  file: string,
  allocator: string | null,
  bench = fileURLToPath(new URL(".", import.meta.url)),
): Promise<ReplayResult> {
  const script = join(bench, allocator === null ? "loop-alone.js" : "replay-one.js");
  const args =
    allocator === null
      ? [script, file]
      : [script, file, allocator, String(SIDE_MEMORY), String(TIME_LIMIT_S)];
  const what = allocator ?? "the timed loop alone";
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * MiB }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${what} on ${file}: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as ReplayResult);
    });
  });
}

/**
 * Every program trace (whose name contains `only`, if given) against SIDE_BY_SIDE, each pair
 * in a process of its own, `rounds` times over (trace by trace, the allocators one after
 * another, kmem and TLSF taking turns to go first, then the timed loop alone): the median
 * M ops/s of the rounds with their range, and utilization; kmem's ratio to TLSF's speed (of
 * the medians, with the range of the rounds' ratios) and to the best peer's utilization (of
 * the peers that replayed the whole trace), kmem's failures, and the loop alone's M ops/s.
 * Returns the Markdown ("" without traces).
 */
export async function programsSideBySide(
  log: (line: string) => void,
  only?: string,
  rounds = 1,
): Promise<string> {
  const files = programTraces().filter((f) => only === undefined || f.includes(only));
  if (files.length === 0) return "";
  const runs = rounds > 1 ? `, median of ${rounds} rounds (range)` : "";
  const out = [
    `### Program traces side by side: M ops/s, utilization (each in its own process, 256 MiB${runs})`,
    "",
    `| trace | ops | ${SIDE_BY_SIDE.map((n) => SIDE_NAMES[n]).join(" | ")} | kmem / TLSF speed | kmem / best peer utilization | failures (kmem) | timed loop alone |`,
    `| --- | ---: | ${SIDE_BY_SIDE.map(() => "---:").join(" | ")} | ---: | ---: | ---: | ---: |`,
  ];
  const partial: string[] = [];
  for (const file of files) {
    const alone: ReplayResult[] = [];
    const each = await medianOfRounds(file, SIDE_BY_SIDE, rounds, log, partial, alone);
    const [kmem, tlsf, ...others] = each.map((m) => m.median) as [
      ReplayResult,
      ReplayResult,
      ...ReplayResult[],
    ];
    const bestPeer = Math.max(
      ...[tlsf, ...others].map((r) => (r.error === null && r.complete ? r.utilization : 0)),
    );
    const cells = each.map((m) =>
      cell(m.median, `${speedRange(m)}, ${(m.median.utilization * 100).toFixed(1)}%`),
    );
    out.push(
      `| ${traceName(file)} | ${kmem.ops.toLocaleString("en-US")} | ${cells.join(" | ")} | ` +
        `${speedRatio(each[0] as Rounds, each[1] as Rounds)} | ` +
        `${(kmem.utilization / bestPeer).toFixed(2)}× | ${kmem.failures} | ${speedRange(medianRun(alone), 0)} |`,
    );
  }
  out.push("");
  if (rounds > 1) {
    out.push(
      "kmem / TLSF speed: the ratio of the medians, with the range of the rounds' own ratios " +
        "(kmem and TLSF back to back in each round).",
      "",
    );
  }
  out.push(
    "Timed loop alone: the same timed loop and warm-up against an allocator that does " +
      "nothing (bench/loop-alone.ts), once a round: the ceiling of every speed in its row, " +
      "and how much the loop itself moves from one process to the next.",
    "",
  );
  if (partial.length > 0) {
    out.push(
      `\\* stopped after ${TIME_LIMIT_S} s (its utilization covers those ops only, and is left ` +
        `out of the best peer's): ${partial.join("; ")}.`,
      "",
    );
  }
  return out.join("\n");
}

/**
 * An allocator's runs on one trace: the median run by speed, the slowest and fastest, and
 * every run in the order of the rounds.
 */
export interface Rounds {
  median: ReplayResult;
  min: number;
  max: number;
  runs: readonly ReplayResult[];
}

/** The range of the rounds' own ratios of one allocator's speed to another's. */
export interface RatioRange {
  min: number;
  max: number;
}

/**
 * `a`'s speed over `b`'s, round by round (the runs of one round were made one after the
 * other, kmem's and TLSF's back to back), the smallest and largest of those ratios; rounds
 * where `b` served nothing are left out ({0, 0} if every one is).
 */
export function roundRatios(a: Rounds, b: Rounds): RatioRange {
  let min = Infinity;
  let max = 0;
  for (let r = 0; r < a.runs.length && r < b.runs.length; r++) {
    const below = speed(b.runs[r] as ReplayResult);
    if (below <= 0) continue;
    const x = speed(a.runs[r] as ReplayResult) / below;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return max === 0 ? { min: 0, max: 0 } : { min, max };
}

/**
 * "1.12×" (the ratio of the median runs' speeds), "1.12× (rounds 0.95-1.30)" with the
 * range of the rounds' own ratios over several rounds, "-" where `b` served nothing.
 */
function speedRatio(a: Rounds, b: Rounds): string {
  const below = speed(b.median);
  if (below <= 0) return "-";
  const x = `${(speed(a.median) / below).toFixed(2)}×`;
  if (a.runs.length < 2) return x;
  const r = roundRatios(a, b);
  return `${x} (rounds ${r.min.toFixed(2)}-${r.max.toFixed(2)})`;
}

/**
 * The order the allocators of `names` run in, in round `round`: the first two take turns
 * to go first (kmem and TLSF, SLUB and SLAB), so that neither always meets the machine as
 * the other left it.
 */
export function roundOrder(names: readonly string[], round: number): number[] {
  const order = names.map((_, i) => i);
  if (round % 2 === 1 && order.length >= 2) [order[0], order[1]] = [1, 0];
  return order;
}

/**
 * The median run of `runs` by speed (the lower middle one of an even count), with the range
 * of their speeds.
 */
export function medianRun(runs: readonly ReplayResult[]): Rounds {
  const sorted = [...runs].sort((a, b) => speed(a) - speed(b));
  return {
    median: sorted[(sorted.length - 1) >> 1] as ReplayResult,
    min: speed(sorted[0] as ReplayResult),
    max: speed(sorted[sorted.length - 1] as ReplayResult),
    runs,
  };
}

/**
 * Each allocator of `names` on trace `file`, `rounds` times, each run in a process of its own
 * and logged, the first two alternating (roundOrder); per allocator, in `names`' order, the
 * median run and the range of speeds. Median runs that stopped short (not for an error) are
 * named in `partial`. With `alone`, the timed loop alone runs after each round, its run
 * pushed there.
 */
async function medianOfRounds(
  file: string,
  names: readonly string[],
  rounds: number,
  log: (line: string) => void,
  partial: string[],
  alone?: ReplayResult[],
): Promise<Rounds[]> {
  const runs: ReplayResult[][] = names.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const i of roundOrder(names, round)) {
      const name = names[i] as string;
      const r = await replayAlone(file, name);
      log(
        `${traceName(file)} ${name}: ${(speed(r) / 1e6).toFixed(2)} M ops/s, ` +
          `utilization ${r.utilization.toFixed(3)}${r.complete ? "" : " (partial)"}`,
      );
      runs[i]?.push(r);
    }
    if (alone !== undefined) {
      const r = await replayAlone(file, null);
      log(`${traceName(file)} timed loop alone: ${(speed(r) / 1e6).toFixed(2)} M ops/s`);
      alone.push(r);
    }
  }
  const each = runs.map(medianRun);
  for (const { median: r } of each) {
    if (!r.complete && r.error === null) {
      partial.push(`${r.allocator} on ${traceName(file)}: ${r.ops.toLocaleString("en-US")} ops`);
    }
  }
  return each;
}

/**
 * M ops/s of the median run (`digits` decimals), with the range of the rounds when there
 * were several.
 */
function speedRange(m: Rounds, digits = 2): string {
  const mops = (x: number): string => (x / 1e6).toFixed(digits);
  return m.min === m.max
    ? mops(speed(m.median))
    : `${mops(speed(m.median))} (${mops(m.min)}-${mops(m.max)})`;
}

/** Ops per second, 0 where nothing was served. */
function speed(r: ReplayResult): number {
  return r.opsPerSec ?? 0;
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

/* ------------------------------------------------------------------ the slab allocators */

/** The slab allocators of the program-trace table of their own, SLUB first. */
export const SLAB_FAMILY = ["slub", "slab", "slob"] as const;

/**
 * Every program trace (whose name contains `only`, if given) against SLUB, SLAB and SLOB
 * (kmalloc over each), each pair in a process of its own as programsSideBySide runs them,
 * the median speed of `rounds` with its range: M ops/s and utilization, SLAB's and SLOB's
 * ratios to SLUB (of the median runs; speed with the range of the rounds' own ratios), and
 * failures. Returns the Markdown ("" without traces).
 */
export async function programsSlabFamily(
  log: (line: string) => void,
  only?: string,
  rounds = 1,
): Promise<string> {
  const files = programTraces().filter((f) => only === undefined || f.includes(only));
  if (files.length === 0) return "";
  const runs = rounds > 1 ? `, median of ${rounds} rounds (range)` : "";
  const out = [
    `### Program traces, the slab allocators: M ops/s, utilization (each in its own process, 256 MiB${runs})`,
    "",
    "| trace | ops | SLUB | SLAB | SLOB | SLAB / SLUB speed | SLOB / SLUB speed | SLAB / SLUB utilization | SLOB / SLUB utilization | failures (SLUB, SLAB, SLOB) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const partial: string[] = [];
  for (const file of files) {
    const each = await medianOfRounds(file, SLAB_FAMILY, rounds, log, partial);
    const [slub, slab, slob] = each.map((m) => m.median) as [
      ReplayResult,
      ReplayResult,
      ReplayResult,
    ];
    const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : "-");
    const cells = each.map((m) =>
      cell(m.median, `${speedRange(m)}, ${(m.median.utilization * 100).toFixed(1)}%`),
    );
    out.push(
      `| ${traceName(file)} | ${slub.ops.toLocaleString("en-US")} | ${cells.join(" | ")} | ` +
        `${speedRatio(each[1] as Rounds, each[0] as Rounds)} | ` +
        `${speedRatio(each[2] as Rounds, each[0] as Rounds)} | ` +
        `${ratio(slab.utilization, slub.utilization)} | ${ratio(slob.utilization, slub.utilization)} | ` +
        `${slub.failures}, ${slab.failures}, ${slob.failures} |`,
    );
  }
  out.push("");
  if (rounds > 1) {
    out.push("Speed ratios: of the median runs, with the range of the rounds' own ratios.", "");
  }
  if (partial.length > 0) {
    out.push(
      `\\* stopped after ${TIME_LIMIT_S} s (its utilization covers those ops only): ${partial.join("; ")}.`,
      "",
    );
  }
  return out.join("\n");
}
