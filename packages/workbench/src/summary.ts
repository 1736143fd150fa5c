/*
 * Results over several traces: the winner of each criterion per trace, and per allocator the
 * geometric means across traces (the mean of ratios that does not depend on which allocator
 * is the reference: Fleming & Wallace 1986), with the traces it won and the runs it did not
 * finish. A trace where an allocator misbehaved or did not finish is left out of its means
 * (and counted), so that a prefix of a trace does not pass for the whole. A run that failed
 * requests did not serve the same workload (a refusing allocator holds less memory and works
 * less): it can win the other criteria only where every run failed some.
 */

import type { Ranked } from "./recommend.js";
import type { ReplayResult } from "./replay.js";
import { formatBytes, formatLatency, formatOpsPerSec } from "./units.js";

/** A criterion of the summary: how to read it off a result, and which way is better. */
export interface SummaryCriterion {
  key: "speed" | "utilization" | "footprint" | "latency" | "failures";
  label: string;
  /** The figure, or null where there is none (not measured). */
  value(r: ReplayResult): number | null;
  /** True if larger is better. */
  higher: boolean;
  format(v: number, r?: ReplayResult): string;
}

function failureRate(r: ReplayResult): number {
  return r.requests > 0 ? r.failures / r.requests : 0;
}

export const SUMMARY_CRITERIA: readonly SummaryCriterion[] = [
  {
    key: "speed",
    label: "throughput",
    value: (r) => r.opsPerSec,
    higher: true,
    format: (v) => formatOpsPerSec(v),
  },
  {
    key: "utilization",
    label: "utilization",
    value: (r) => r.utilization,
    higher: true,
    format: (v) => v.toFixed(3),
  },
  {
    key: "footprint",
    label: "peak footprint",
    value: (r) => r.peakFootprintBytes,
    higher: false,
    format: (v) => formatBytes(Math.round(v)),
  },
  {
    key: "latency",
    label: "p99.9 latency",
    value: (r) => Math.max(1, r.latencyNs.p999),
    higher: false,
    format: (v, r) => formatLatency(v, r?.latencyNs.floorNs ?? 0),
  },
  {
    key: "failures",
    label: "failed requests",
    value: failureRate,
    higher: false,
    format: (v) => `${(100 * v).toFixed(v > 0 && v < 0.01 ? 2 : 1)}%`,
  },
];

/** One trace's results (and ranking, when recommend made one). */
export interface TraceResults {
  trace: string;
  results: readonly ReplayResult[];
  ranking?: readonly Ranked[];
}

/** The best result of a criterion on one trace, among those that finished without error. */
export interface Winner {
  allocator: string;
  value: number;
  text: string;
  /** Others with the same value. */
  tied: number;
}

export interface SummaryRow {
  allocator: string;
  /** Traces where the allocator finished without error: the means are over these. */
  traces: number;
  /** Traces it did not finish (time limit), and where it misbehaved. */
  incomplete: number;
  errors: number;
  /** Geometric means over its complete traces (null where a figure is missing). */
  geoOpsPerSec: number | null;
  geoUtilization: number | null;
  geoFootprintBytes: number | null;
  geoP999Ns: number | null;
  /** Failed requests over requests, all traces together. */
  failureRate: number;
  /** Traces where it was first of the ranking (recommend only), and its mean score. */
  rankedFirst: number;
  meanScore: number | null;
  /** Per criterion: the traces it won. */
  wins: Record<SummaryCriterion["key"], number>;
}

export interface Summary {
  /** Per trace, the winner of each criterion (null where nobody finished). */
  perTrace: { trace: string; winners: Record<SummaryCriterion["key"], Winner | null> }[];
  rows: SummaryRow[];
  /**
   * The allocator with the best geometric mean of each criterion over every trace; for
   * failures "none failed" (or "7 of 9 failed none") when several served every request, and
   * "a = b" for another tie.
   */
  overall: Record<SummaryCriterion["key"], string | null>;
}

function geomean(values: readonly number[]): number | null {
  const v = values.filter((x) => x > 0);
  if (v.length === 0 || v.length !== values.length) return null;
  return Math.exp(v.reduce((s, x) => s + Math.log(x), 0) / v.length);
}

/** Winners per trace and per criterion, and the geometric means per allocator. */
export function summarize(traces: readonly TraceResults[]): Summary {
  const names: string[] = [];
  for (const t of traces)
    for (const r of t.results) if (!names.includes(r.allocator)) names.push(r.allocator);
  const ok = (r: ReplayResult): boolean => r.error === null && r.complete;
  const perTrace = traces.map((t) => {
    const winners = {} as Record<SummaryCriterion["key"], Winner | null>;
    const served = t.results.filter((r) => ok(r) && r.failures === 0);
    for (const c of SUMMARY_CRITERIA) {
      const pool = c.key === "failures" || served.length === 0 ? t.results.filter(ok) : served;
      let best: { r: ReplayResult; v: number } | null = null;
      for (const r of pool) {
        const v = c.value(r);
        if (v === null) continue;
        if (best === null || (c.higher ? v > best.v : v < best.v)) best = { r, v };
      }
      const b = best;
      winners[c.key] =
        b === null
          ? null
          : {
              allocator: b.r.allocator,
              value: b.v,
              text: c.format(b.v, b.r),
              tied: pool.filter((r) => r !== b.r && c.value(r) === b.v).length,
            };
    }
    return { trace: t.trace, winners };
  });
  const rows = names.map((name): SummaryRow => {
    const mine = traces
      .map((t) => t.results.find((r) => r.allocator === name))
      .filter((r) => r !== undefined);
    const done = mine.filter(ok);
    const wins = {} as Record<SummaryCriterion["key"], number>;
    // A tie is nobody's win.
    for (const c of SUMMARY_CRITERIA)
      wins[c.key] = perTrace.filter(
        (p) => p.winners[c.key]?.allocator === name && p.winners[c.key]?.tied === 0,
      ).length;
    const scores = traces.flatMap(
      (t) => t.ranking?.filter((x) => x.allocator === name).map((x) => x.score) ?? [],
    );
    const requests = mine.reduce((s, r) => s + r.requests, 0);
    const opsRates = done.map((r) => r.opsPerSec);
    return {
      allocator: name,
      traces: done.length,
      incomplete: mine.filter((r) => r.error === null && !r.complete).length,
      errors: mine.filter((r) => r.error !== null).length,
      geoOpsPerSec: opsRates.every((v) => v !== null) ? geomean(opsRates as number[]) : null,
      geoUtilization: geomean(done.map((r) => r.utilization)),
      geoFootprintBytes: geomean(done.map((r) => r.peakFootprintBytes)),
      geoP999Ns: geomean(done.map((r) => Math.max(1, r.latencyNs.p999))),
      failureRate: requests > 0 ? mine.reduce((s, r) => s + r.failures, 0) / requests : 0,
      rankedFirst: traces.filter((t) => t.ranking?.[0]?.allocator === name).length,
      meanScore: scores.length > 0 ? scores.reduce((s, x) => s + x, 0) / scores.length : null,
      wins,
    };
  });
  // Overall winners: only allocators that finished every trace compete (a mean over fewer
  // traces is a mean over easier ones).
  const full = rows.filter((r) => r.traces === traces.length);
  const clean = full.filter((r) => r.failureRate === 0);
  const pick = (
    value: (r: SummaryRow) => number | null,
    higher: boolean,
    among = clean.length > 0 ? clean : full,
  ): string | null => {
    let best: SummaryRow | null = null;
    let bestV = 0;
    for (const r of among) {
      const v = value(r);
      if (v === null) continue;
      if (best === null || (higher ? v > bestV : v < bestV)) [best, bestV] = [r, v];
    }
    if (best === null) return null;
    const tied = among.filter((r) => value(r) === bestV).map((r) => r.allocator);
    if (tied.length === 1) return best.allocator;
    if (!higher && bestV === 0) {
      return tied.length === among.length
        ? "none failed"
        : `${tied.length} of ${among.length} failed none`;
    }
    return tied.join(" = ");
  };
  return {
    perTrace,
    rows,
    overall: {
      speed: pick((r) => r.geoOpsPerSec, true),
      utilization: pick((r) => r.geoUtilization, true),
      footprint: pick((r) => r.geoFootprintBytes, false),
      latency: pick((r) => r.geoP999Ns, false),
      failures: pick((r) => r.failureRate, false, full),
    },
  };
}
