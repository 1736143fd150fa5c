/*
 * `kmem recommend TRACE|WORKLOAD... [--memory BYTES] [--json | --csv [FILE]] [--html FILE]`:
 * per trace, replays against every candidate at the memory given (or the default for the
 * trace) and again under pressure, ranks them (src/recommend.ts), prints the numbers and the
 * reason; for several traces, the cross-trace summary after them.
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
import { rankingCsv } from "../csv.js";
import { defaultMemoryBytes, type ReplayOutcome, type ReplayResult } from "../replay.js";
import type { TraceSource } from "../source.js";
import { MACHINE_WORKLOADS, WORKLOADS } from "../workloads/index.js";
import { CliError, Exit } from "./exit.js";
import { formatBytes, formatInt, formatLatency, formatPct, formatRate, table } from "./format.js";
import { REPORT_FRAMES, reportTrace, writeReport } from "./html.js";
import { machineSetup } from "./machine.js";
import { runSmp, type SmpSection, smpAllocators, smpText } from "./smp.js";
import { checkOutputPath, writeOutput } from "./output.js";
import { describeSource, selectAllocators } from "./replay.js";
import { type Pair, resolveSources, type RunOptions, runPairs, shortName } from "./run.js";
import { summaryText } from "./summary.js";

export interface RecommendOptions {
  allocator: string[];
  /** Default: the workload's own goal, else balanced. */
  goal?: Goal;
  memory?: number;
  /** A machine profile (machines.ts): its workloads by default, its memory scaled. */
  machine?: string;
  /** With machine: one of its memory sizes (default: the smallest). */
  ram?: number;
  /** With machine: RAM / scale bytes per allocator (default: the profile's). */
  scale?: number;
  /** With machine: workers for its smpWorkloads (default: its cpus; 0 or 1: none). */
  workers?: number;
  json: boolean;
  /** true: CSV on standard output; a string: CSV to that file. */
  csv?: boolean | string;
  html?: string;
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
  /** The runs under pressure, in registry order. */
  pressure: ReplayResult[];
  goal: Goal;
}

/** Replays `source` against the candidates twice (full memory, pressure) and ranks them. */
export async function recommendFor(
  source: TraceSource,
  allocators: readonly string[],
  memory: number | undefined,
  run: RunOptions,
  goal: Goal = "balanced",
): Promise<Recommendation> {
  const entries = await selectAllocators(allocators);
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
    pressure,
    goal,
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
  targetsGiven: readonly string[],
  optionsGiven: RecommendOptions,
  out: (text: string) => void,
): Promise<Exit> {
  if (optionsGiven.machine !== undefined && optionsGiven.ram === 0) {
    if (optionsGiven.json || optionsGiven.csv !== undefined || optionsGiven.html !== undefined)
      throw new CliError(
        Exit.Usage,
        "--ram all prints each size in turn: give one size with --json, --csv or --html",
      );
    // --ram all: each of the machine's memory sizes in turn.
    let worst = Exit.Ok;
    const { findMachine } = await import("../machines.js");
    const sizes = findMachine(optionsGiven.machine).ramBytes;
    for (const [k, ram] of sizes.entries()) {
      if (k > 0) out("\n");
      const code = await recommendCommand(targetsGiven, { ...optionsGiven, ram }, out);
      if (code !== Exit.Ok) worst = code;
    }
    return worst;
  }
  const machine = machineSetup(targetsGiven, optionsGiven);
  const targets = machine?.targets ?? targetsGiven;
  const options =
    machine !== null ? { ...optionsGiven, memory: machine.memoryBytes } : optionsGiven;
  if (targets.length === 0)
    throw new CliError(Exit.Usage, "recommend: give traces or workloads, or --machine");
  if (options.html !== undefined) checkOutputPath(options.html);
  if (typeof options.csv === "string") checkOutputPath(options.csv);
  const sources = await resolveSources(targets, options);
  const recs: Recommendation[] = [];
  let smpFaulty = false;
  for (const [k, source] of sources.entries()) {
    const target = targets[k] ?? "";
    const goal =
      options.goal ??
      [...WORKLOADS, ...MACHINE_WORKLOADS].find((w) => w.name === target)?.goal ??
      "balanced";
    recs.push(
      await recommendFor(
        source,
        options.allocator,
        options.memory,
        {
          check: options.check,
          timeLimitMs: options.timeLimit * 1000,
          timingScale: options.quick ? 0.1 : 1,
          heapMapFrames: options.html !== undefined ? REPORT_FRAMES : 0,
        },
        goal,
      ),
    );
  }
  // The machine's workloads that run on every cpu: a worker per cpu (smp.ts), run before
  // any output so that --json carries them too.
  const smp = new Map<string, SmpSection>();
  const workers = optionsGiven.workers ?? machine?.json.cpus ?? 0;
  const smpShown = options.json || options.csv !== true;
  if (machine !== null && workers > 1 && smpShown && smpAllocators(options.allocator).length > 0) {
    for (const target of targets.filter((t) => machine.smpWorkloads.includes(t))) {
      const s = await runSmp(
        target,
        options.allocator,
        workers,
        machine.memoryBytes,
        Math.max(1000, Math.floor(options.ops / workers)),
        options.seed,
      );
      smp.set(target, s);
      if (s.results.some((r) => r.all.error !== null || r.one.error !== null)) smpFaulty = true;
    }
  }
  const json = (rec: Recommendation, k: number): unknown => ({
    ...(machine !== null ? { machine: machine.json } : {}),
    trace: rec.trace,
    memoryBytes: rec.memoryBytes,
    pressureMemoryBytes: rec.pressureMemoryBytes,
    goal: rec.goal,
    weights: GOALS[rec.goal],
    ranking: rec.ranking.map((x) => ({
      allocator: x.allocator,
      score: x.score,
      complete: x.complete,
      scores: x.scores,
      result: x.result,
      pressure: x.pressure,
    })),
    reason: rec.reason,
    ...(smp.has(targets[k] ?? "") ? { smp: smp.get(targets[k] ?? "") } : {}),
  });
  const csv = (): string =>
    rankingCsv(
      recs.map((r) => ({
        trace: r.trace,
        goal: r.goal,
        pressureMemoryBytes: r.pressureMemoryBytes,
        ranking: r.ranking,
      })),
    );
  if (machine !== null && !options.json && options.csv !== true) out(`${machine.line}\n\n`);
  if (options.json) {
    // One trace: its object, as before; several: an array of them.
    const body = recs.length === 1 ? json(recs[0] as Recommendation, 0) : recs.map(json);
    out(`${JSON.stringify(body, null, 2)}\n`);
  } else if (options.csv === true) {
    out(csv());
  } else {
    for (const [k, rec] of recs.entries()) {
      const i = (sources[k] as TraceSource).info;
      out(
        `${shortName(rec.trace)}: ${formatInt(i.header.ops)} ops, peak payload ` +
          `${formatBytes(i.peakPayloadBytes)}; memory ${formatBytes(rec.memoryBytes)}, under pressure ` +
          `${formatBytes(rec.pressureMemoryBytes)} (1.5× the peak payload)\n\n`,
      );
      out(`${rankingTable(rec)}\n\n${wrap(rec.reason, 100)}\n`);
      if (k < recs.length - 1) out("\n");
    }
    const summary = summaryText(
      recs.map((r) => ({
        trace: r.trace,
        results: r.outcomes.map((o) => o.result),
        ranking: r.ranking,
      })),
    );
    if (summary !== "") out(`\n${summary}`);
    for (const s of smp.values()) out(`\n${smpText(s)}`);
  }
  if (typeof options.csv === "string") await writeOutput(options.csv, csv());
  if (options.html !== undefined) {
    await writeReport(
      options.html,
      recs.length === 1
        ? `kmem recommend: ${shortName(recs[0]?.trace ?? "")}`
        : `kmem recommend: ${recs.length} traces`,
      `${recs.length} trace${recs.length === 1 ? "" : "s"} ranked, each replayed with the memory shown and under pressure`,
      recs.map((rec, k) =>
        reportTrace(
          sources[k] as TraceSource,
          describeSource(targets[k] ?? "", sources[k] as TraceSource),
          rec.memoryBytes,
          rec.outcomes,
          {
            pressure: { memoryBytes: rec.pressureMemoryBytes, results: rec.pressure },
            recommendation: {
              goal: rec.goal,
              ranking: rec.ranking.map((x) => ({
                allocator: x.allocator,
                score: x.score,
                complete: x.complete,
              })),
              reason: rec.reason,
            },
          },
        ),
      ),
    );
    const line = `report: ${options.html} (self-contained, opens offline)\n`;
    if (options.json || options.csv === true) process.stderr.write(line);
    else out(line);
  }
  const faulty = recs.some((rec) =>
    rec.ranking.some((x) => x.result.error !== null || x.pressure.error !== null),
  );
  return faulty || smpFaulty ? Exit.AllocatorFault : Exit.Ok;
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
