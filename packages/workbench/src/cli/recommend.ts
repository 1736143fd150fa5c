/*
 * `kmem recommend TRACE|WORKLOAD [--memory BYTES]`: replays against every candidate, at the
 * memory given (or the default for the trace) and again under pressure, ranks them
 * (src/recommend.ts), prints the numbers and the reason.
 */

import {
  CRITERIA,
  explain,
  type Goal,
  GOALS,
  pressureMemoryBytes,
  rank,
  type Ranked,
} from "../recommend.js";
import { defaultMemoryBytes, type ReplayOutcome } from "../replay.js";
import type { TraceSource } from "../source.js";
import { WORKLOADS } from "../workloads/index.js";
import { Exit } from "./exit.js";
import { formatBytes, formatInt, formatLatency, formatPct, formatRate, table } from "./format.js";
import { selectAllocators } from "./replay.js";
import { type Pair, resolveSource, type RunOptions, runPairs, shortName } from "./run.js";

export interface RecommendOptions {
  allocator: string[];
  /** Default: the workload's own goal, else balanced. */
  goal?: Goal;
  memory?: number;
  json: boolean;
  check: boolean;
  timeLimit: number;
  quick: boolean;
  seed: number;
  ops: number;
}

export interface Recommendation {
  trace: string;
  memoryBytes: number;
  pressureMemoryBytes: number;
  ranking: Ranked[];
  reason: string;
  /** The full-memory replays, in registry order (with chart data). */
  outcomes: ReplayOutcome[];
}

/** Replays `source` against the candidates twice (full memory, pressure) and ranks them. */
export async function recommendFor(
  source: TraceSource,
  allocators: readonly string[],
  memory: number | undefined,
  run: RunOptions,
  goal: Goal = "balanced",
): Promise<Recommendation> {
  const entries = selectAllocators(allocators);
  const memoryBytes = memory ?? defaultMemoryBytes(source.info.peakPayloadBytes);
  const tight = pressureMemoryBytes(source.info.peakPayloadBytes);
  const pairs: Pair[] = [
    ...entries.map((entry) => ({ source, entry, memoryBytes, timed: true })),
    ...entries.map((entry) => ({ source, entry, memoryBytes: tight, timed: false })),
  ];
  const outcomes = await runPairs(pairs, run);
  const results = outcomes.slice(0, entries.length).map((o) => o.result);
  const pressure = outcomes.slice(entries.length).map((o) => o.result);
  const ranking = rank(results, pressure, goal);
  const name = shortName(source.name);
  return {
    trace: source.name,
    memoryBytes,
    pressureMemoryBytes: tight,
    ranking,
    reason: explain(ranking, name, tight),
    outcomes: outcomes.slice(0, entries.length),
  };
}

/** The ranking as a table: score, the measurements behind each criterion. */
export function rankingTable(rec: Recommendation): string {
  const rows = [
    [
      "rank",
      "allocator",
      "score",
      "ops/s",
      "util",
      "overhead",
      "p99",
      "p99.9",
      "max",
      "failures",
      "under pressure",
    ],
  ];
  const notes: string[] = [];
  rec.ranking.forEach((x, i) => {
    const r = x.result;
    const mark = r.error !== null || x.pressure.error !== null ? " !" : x.complete ? "" : " *";
    if (mark === " *") {
      const p = r.complete ? x.pressure : r;
      notes.push(
        `* ${x.allocator}: ${r.complete ? "the run under pressure" : "the replay"} stopped at the ` +
          `time limit after ${formatInt(p.ops)} ops; ranked after the complete runs`,
      );
    }
    rows.push([
      String(i + 1),
      x.allocator + mark,
      x.score.toFixed(2),
      formatRate(r.opsPerSec),
      r.utilization.toFixed(3),
      formatPct(r.overheadFraction),
      formatLatency(r.latencyNs.p99, r.latencyNs.floorNs),
      formatLatency(r.latencyNs.p999, r.latencyNs.floorNs),
      formatLatency(r.latencyNs.max, r.latencyNs.floorNs),
      `${formatInt(r.failures)}/${formatInt(r.requests)}`,
      `${formatInt(x.pressure.failures)}/${formatInt(x.pressure.requests)}`,
    ]);
  });
  const goal = rec.ranking[0]?.goal ?? "balanced";
  const weights = CRITERIA.map((c) => `${c.label} ${GOALS[goal][c.key].toFixed(2)}`).join(", ");
  return (
    `${table(rows, 2)}\n${notes.length > 0 ? `\n${notes.join("\n")}\n` : ""}\nscore: the weighted sum of scores relative to the best candidate ` +
    `(goal ${goal}: ${weights})`
  );
}

export async function recommendCommand(
  target: string,
  options: RecommendOptions,
  out: (text: string) => void,
): Promise<Exit> {
  const source = await resolveSource(target, options);
  const goal = options.goal ?? WORKLOADS.find((w) => w.name === target)?.goal ?? "balanced";
  const rec = await recommendFor(
    source,
    options.allocator,
    options.memory,
    {
      check: options.check,
      timeLimitMs: options.timeLimit * 1000,
      timingScale: options.quick ? 0.1 : 1,
    },
    goal,
  );
  if (options.json) {
    out(
      `${JSON.stringify(
        {
          trace: rec.trace,
          memoryBytes: rec.memoryBytes,
          pressureMemoryBytes: rec.pressureMemoryBytes,
          goal,
          weights: GOALS[goal],
          ranking: rec.ranking.map((x) => ({
            allocator: x.allocator,
            score: x.score,
            scores: x.scores,
            result: x.result,
            pressure: x.pressure,
          })),
          reason: rec.reason,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const i = source.info;
    out(
      `${shortName(source.name)}: ${formatInt(i.header.ops)} ops, peak payload ` +
        `${formatBytes(i.peakPayloadBytes)}; memory ${formatBytes(rec.memoryBytes)}, under pressure ` +
        `${formatBytes(rec.pressureMemoryBytes)} (1.5× the peak payload)\n\n`,
    );
    out(`${rankingTable(rec)}\n\n${wrap(rec.reason, 100)}\n`);
  }
  const faulty = rec.ranking.some((x) => x.result.error !== null || x.pressure.error !== null);
  return faulty ? Exit.AllocatorFault : Exit.Ok;
}

/** Breaks a paragraph into lines of at most `width` characters. */
export function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines.join("\n");
}
