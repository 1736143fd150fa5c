/*
 * What the replaying commands share: turning TRACE|WORKLOAD arguments into validated trace
 * sources (every one before anything runs, so a malformed trace stops the command before it
 * prints anything), and running (trace, allocator) pairs under one progress bar.
 */

import { existsSync } from "node:fs";
import { basename } from "node:path";
import type { AllocatorEntry } from "../allocators.js";
import { replay, type ReplayOutcome } from "../replay.js";
import { loadTrace, type TraceSource } from "../source.js";
import { MACHINE_WORKLOADS, WORKLOADS, workloadNames } from "../workloads/index.js";
import { CliError, Exit } from "./exit.js";
import { progressBar } from "./progress.js";

export interface SourceOptions {
  /** Ops and seed for arguments that name a built-in workload. */
  ops: number;
  seed: number;
}

/** A file path (plain or .gz .rep), or the name of a built-in workload (generated in memory). */
export async function resolveSource(arg: string, options: SourceOptions): Promise<TraceSource> {
  if (existsSync(arg)) {
    try {
      return await loadTrace(arg);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === "string") {
        throw new CliError(Exit.Failure, `cannot read ${arg}: ${(err as Error).message}`);
      }
      throw err;
    }
  }
  const workload = [...WORKLOADS, ...MACHINE_WORKLOADS].find((w) => w.name === arg);
  if (workload !== undefined) return workload.generate(options.ops, options.seed);
  throw new CliError(
    Exit.Failure,
    `cannot read ${arg}: no such file, nor a built-in workload (${workloadNames().join(", ")})`,
  );
}

export async function resolveSources(
  args: readonly string[],
  options: SourceOptions,
): Promise<TraceSource[]> {
  const sources: TraceSource[] = [];
  for (const arg of args) sources.push(await resolveSource(arg, options));
  return sources;
}

/** A trace's name for tables: a file's base name, a workload's name. */
export function shortName(name: string): string {
  return basename(name);
}

export interface Pair {
  source: TraceSource;
  entry: AllocatorEntry;
  memoryBytes: number;
  /** False for a run that needs no throughput (a pressure run). */
  timed: boolean;
}

export interface RunOptions {
  check: boolean;
  timeLimitMs: number;
  /** Scale of warm-up and repeated timing runs (1, or 0.1 with --quick). */
  timingScale?: number;
  /** Keep each measured pass's allocator in its outcome (for /proc reports). */
  keepCandidate?: boolean;
  /** Heap-map snapshots of each timed pair's measured pass (for --html); default none. */
  heapMapFrames?: number;
}

/** Replays every pair in order, with a progress bar on stderr when it is a terminal. */
export async function runPairs(
  pairs: readonly Pair[],
  options: RunOptions,
): Promise<ReplayOutcome[]> {
  const weight = (p: Pair): number => p.source.info.header.ops * (p.timed ? 2 : 1);
  const bar = await progressBar(pairs.reduce((s, p) => s + weight(p), 0));
  const outcomes: ReplayOutcome[] = [];
  let before = 0;
  try {
    for (const p of pairs) {
      const ops = p.source.info.header.ops;
      const label = `${shortName(p.source.name)} on ${p.entry.name}`;
      bar.update(before, label);
      outcomes.push(
        await replay(p.source, p.entry, {
          memoryBytes: p.memoryBytes,
          check: options.check,
          timeLimitMs: options.timeLimitMs,
          timed: p.timed,
          timingScale: options.timingScale ?? 1,
          keepCandidate: options.keepCandidate ?? false,
          heapMapFrames: p.timed ? (options.heapMapFrames ?? 0) : 0,
          onProgress: (pass, done) =>
            bar.update(before + (p.timed && pass === 2 ? ops : 0) + done, label),
        }),
      );
      before += weight(p);
    }
  } finally {
    bar.stop();
  }
  return outcomes;
}
