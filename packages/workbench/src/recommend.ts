/*
 * Ranking allocators on one trace by the criteria of the allocator literature (Wilson et al.'s
 * survey, Bonwick's slab papers, TLSF): speed, memory utilization, overhead (metadata and free
 * memory held), worst-case latency, and failures, at the given memory and under pressure.
 *
 * Each criterion gives a score in [0, 1] relative to the best candidate (1 = the best of
 * them); the total is the weighted sum:
 *
 *   speed        1 + log10(ops/s ÷ best) / 2: 10x slower scores 0.5, 100x slower 0
 *   utilization  utilization ÷ best
 *   overhead     (1 - overhead) ÷ best, overhead = metadata and free memory held at the peak
 *   latency      1 + log10(best p99.9 ÷ p99.9) / 2, as speed
 *   failures     1 - 5 x (share of requests failed + share failed under pressure), >= 0:
 *                running out of memory is a fault in the program, not a small loss
 *
 * Speed and latency are scored by orders of magnitude: 150 against 300 ns an op matters less
 * to a system than a quarter of its memory. A candidate that misbehaved (a failed check)
 * scores 0. A candidate whose replay stopped at the time limit is ranked after every one that
 * finished, whatever its score: its figures cover a prefix of the trace (perhaps before the
 * peak), and not finishing in time is itself the verdict; the best values the others are
 * scored against come from the complete runs.
 *
 * The reason paragraph is written from the numbers: who leads on what, by how much, and where
 * each other candidate loses the most.
 */

import type { ReplayResult } from "./replay.js";
import { formatInt as count, formatLatency, formatOpsPerSec, formatShare as pct } from "./units.js";

export type CriterionKey = "speed" | "utilization" | "overhead" | "latency" | "failures";

export interface Criterion {
  readonly key: CriterionKey;
  readonly label: string;
}

export const CRITERIA: readonly Criterion[] = [
  { key: "speed", label: "speed" },
  { key: "utilization", label: "utilization" },
  { key: "overhead", label: "overhead" },
  { key: "latency", label: "tail latency" },
  { key: "failures", label: "failures" },
];

/** What the system cares about most; each goal is a set of weights summing to 1. */
export type Goal = "balanced" | "speed" | "memory" | "latency";

export const GOALS: Readonly<Record<Goal, Readonly<Record<CriterionKey, number>>>> = {
  balanced: { speed: 0.2, utilization: 0.3, overhead: 0.1, latency: 0.15, failures: 0.25 },
  speed: { speed: 0.4, utilization: 0.15, overhead: 0.05, latency: 0.15, failures: 0.25 },
  memory: { speed: 0.1, utilization: 0.4, overhead: 0.15, latency: 0.1, failures: 0.25 },
  latency: { speed: 0.15, utilization: 0.15, overhead: 0.05, latency: 0.4, failures: 0.25 },
};

export function isGoal(name: string): name is Goal {
  return Object.hasOwn(GOALS, name);
}

/** Memory for the pressure run: 1.5 x the trace's peak payload, in 64 KiB steps, >= 1 MiB. */
export function pressureMemoryBytes(peakPayloadBytes: number): number {
  const step = 64 * 1024;
  return Math.max(1 << 20, Math.ceil((1.5 * peakPayloadBytes) / step) * step);
}

export interface Ranked {
  allocator: string;
  goal: Goal;
  /** Weighted sum of the scores, 0..1. */
  score: number;
  scores: Record<Criterion["key"], number>;
  result: ReplayResult;
  /** The same trace replayed with pressureMemoryBytes. */
  pressure: ReplayResult;
  /** Both replays covered the whole trace (else the candidate is ranked after those that did). */
  complete: boolean;
}

function rate(failures: number, requests: number): number {
  return requests > 0 ? failures / requests : 0;
}

/** Bytes held per byte asked, at the payload peak, less the payload itself. */
function overheadOf(r: ReplayResult): number {
  if (r.overheadFraction !== null) return r.overheadFraction;
  return 1 - r.utilization;
}

/** Score of a ratio to the best (<= 1) by orders of magnitude: 1, 0.5 at 1/10, 0 at 1/100. */
function magnitude(ratio: number): number {
  return Math.min(1, Math.max(0, 1 + Math.log10(ratio) / 2));
}

function tailOf(r: ReplayResult): number {
  return Math.max(1, r.latencyNs.p999);
}

/** Ranks the candidates, best first. `results` and `pressure` are in the same order. */
export function rank(
  results: ReplayResult[],
  pressure: ReplayResult[],
  goal: Goal = "balanced",
): Ranked[] {
  const weights = GOALS[goal];
  const ok = (r: ReplayResult): boolean => r.error === null;
  const finished = results.filter((r) => ok(r) && r.complete);
  const basis = finished.length > 0 ? finished : results.filter(ok);
  const best = {
    speed: Math.max(1, ...basis.map((r) => r.opsPerSec ?? 0)),
    utilization: Math.max(1e-9, ...basis.map((r) => r.utilization)),
    overhead: Math.max(1e-9, ...basis.map((r) => 1 - overheadOf(r))),
    latency: Math.min(...basis.map(tailOf)),
  };
  const ranked = results.map((r, i): Ranked => {
    const p = pressure[i] as ReplayResult;
    const scores = {
      speed: magnitude(Math.max(1, r.opsPerSec ?? 0) / best.speed),
      utilization: r.utilization / best.utilization,
      overhead: (1 - overheadOf(r)) / best.overhead,
      latency: magnitude(best.latency / tailOf(r)),
      failures: Math.max(0, 1 - 5 * (rate(r.failures, r.requests) + rate(p.failures, p.requests))),
    };
    for (const c of CRITERIA) scores[c.key] = Math.min(1, scores[c.key]);
    let score = 0;
    for (const c of CRITERIA) score += weights[c.key] * scores[c.key];
    if (!ok(r) || !ok(p)) score = 0;
    const complete = r.complete && p.complete;
    return { allocator: r.allocator, goal, score, scores, result: r, pressure: p, complete };
  });
  return ranked.sort((x, y) => Number(y.complete) - Number(x.complete) || y.score - x.score);
}

function times(a: number, b: number): string {
  const x = a / b;
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(1)}×`;
}

/** What candidate `r` does on criterion `key`, in words with its number. */
function describe(key: Criterion["key"], x: Ranked): string {
  const r = x.result;
  switch (key) {
    case "speed":
      return `runs at ${formatOpsPerSec(r.opsPerSec)}`;
    case "utilization":
      return `uses its memory at ${r.utilization.toFixed(2)} utilization`;
    case "overhead":
      return `holds ${pct(overheadOf(r))} of its footprint in metadata and free memory at the peak`;
    case "latency":
      return `takes ${formatLatency(r.latencyNs.p999, r.latencyNs.floorNs)} at the 99.9th percentile`;
    case "failures": {
      const f = r.failures;
      const pf = x.pressure.failures;
      if (f === 0 && pf === 0) return "never failed, even under pressure";
      if (f === 0) return `failed ${pct(rate(pf, x.pressure.requests))} of requests under pressure`;
      return `failed ${pct(rate(f, r.requests))} of requests even with the full memory`;
    }
  }
}

/** The criterion where `a` gains most over `b` (weighted score difference), and that gain. */
function largestGap(a: Ranked, b: Ranked): [Criterion, number] {
  let bestC = CRITERIA[0] as Criterion;
  let gap = -Infinity;
  const weights = GOALS[a.goal];
  for (const c of CRITERIA) {
    const d = weights[c.key] * (a.scores[c.key] - b.scores[c.key]);
    if (d > gap) {
      gap = d;
      bestC = c;
    }
  }
  return [bestC, gap];
}

/** One paragraph saying why the ranking came out as it did, from the numbers. */
export function explain(ranked: Ranked[], traceName: string, pressureBytes: number): string {
  const [first, second] = ranked;
  if (first === undefined) return "No allocator was replayed.";
  const broken = ranked.filter((x) => x.result.error !== null || x.pressure.error !== null);
  const parts: string[] = [];
  const leads = CRITERIA.filter((c) =>
    ranked.every((x) => x === first || first.scores[c.key] >= x.scores[c.key]),
  );
  const goal = first.goal === "balanced" ? "" : `, where ${first.goal} counts most`;
  parts.push(
    `${first.allocator} is the best fit for ${traceName}${goal} (score ${first.score.toFixed(2)} of 1)` +
      (leads.length > 0
        ? `: it leads on ${leads.map((c) => c.label).join(", ")}.`
        : ", with no single criterion where it leads but the best balance."),
  );
  const facts = CRITERIA.filter((c) => c.key !== "overhead").map((c) => describe(c.key, first));
  parts.push(`It ${facts.join(", ")}.`);
  if (first.result.internalFragmentation !== null && first.result.internalFragmentation > 0.15) {
    parts.push(
      `Its weak point is rounding: ${pct(first.result.internalFragmentation)} of the bytes ` +
        "it reserves for live blocks at the peak were not asked for.",
    );
  }
  if (second !== undefined && second.score > 0 && second.complete) {
    const [c, gap] = largestGap(second, first);
    const [loss] = largestGap(first, second);
    parts.push(
      gap > 0
        ? `${second.allocator} comes second (${second.score.toFixed(2)}): it does better on ${c.label} ` +
            `(it ${describe(c.key, second)}), but loses more on ${loss.label} ` +
            `(it ${describe(loss.key, second)}).`
        : `${second.allocator} comes second (${second.score.toFixed(2)}), behind on every criterion.`,
    );
  }
  for (const x of ranked.slice(2)) {
    if (x.score === 0 || !x.complete) continue;
    const [loss] = largestGap(first, x);
    parts.push(
      `${x.allocator} (${x.score.toFixed(2)}) loses most on ${loss.label}: it ${describe(loss.key, x)}.`,
    );
  }
  const mine = first.result.opsPerSec ?? 0;
  const theirs = second?.complete === true ? (second.result.opsPerSec ?? 0) : 0;
  if (second !== undefined && theirs > 0 && mine / theirs > 1.5) {
    parts.push(`${first.allocator} is ${times(mine, theirs)} as fast as ${second.allocator} here.`);
  }
  const partial = ranked.filter((x) => !x.complete && x.result.error === null);
  if (partial.length > 0) {
    parts.push(
      partial
        .map((x) => {
          const r = x.result.complete ? x.pressure : x.result;
          const run = x.result.complete ? "its run under pressure" : "its replay";
          return `${x.allocator} did not finish within the time limit (${run} stopped after ${count(r.ops)} ops)`;
        })
        .join("; ") +
        ": ranked after the candidates that did, its figures covering only the ops it replayed.",
    );
  }
  const failedUnderPressure = ranked.filter((x) => x.pressure.failures > 0 && x.score > 0);
  if (failedUnderPressure.length > 0) {
    parts.push(
      `With memory cut to ${(pressureBytes / 2 ** 20).toFixed(1)} MiB (1.5× the peak payload), ` +
        failedUnderPressure
          .map(
            (x) =>
              `${x.allocator} failed ${count(x.pressure.failures)} of ` +
              `${count(x.pressure.requests)} requests`,
          )
          .join(", ") +
        ".",
    );
  }
  for (const x of broken) {
    parts.push(`${x.allocator} is ranked last: ${x.result.error ?? x.pressure.error}.`);
  }
  return parts.join(" ");
}
