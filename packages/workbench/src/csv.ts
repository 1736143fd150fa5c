/*
 * Results as CSV (RFC 4180): a header row, then one row per (trace, allocator), the fields of
 * ReplayResult flattened under snake_case names with their units in the name (bytes, ns);
 * empty where a figure is null. recommend adds the ranking's columns and the pressure run's.
 */

import type { Ranked } from "./recommend.js";
import type { ReplayResult } from "./replay.js";

const COLUMNS: readonly [string, (r: ReplayResult) => string | number | boolean | null][] = [
  ["trace", (r) => r.trace],
  ["allocator", (r) => r.allocator],
  ["memory_bytes", (r) => r.memoryBytes],
  ["ops", (r) => r.ops],
  ["complete", (r) => r.complete],
  ["ops_per_sec", (r) => r.opsPerSec],
  ["ops_per_sec_ci95_low", (r) => r.opsPerSecCI95?.[0] ?? null],
  ["ops_per_sec_ci95_high", (r) => r.opsPerSecCI95?.[1] ?? null],
  ["timed_runs", (r) => r.runs],
  ["elapsed_ms", (r) => r.elapsedMs],
  ["peak_payload_bytes", (r) => r.peakPayloadBytes],
  ["peak_footprint_bytes", (r) => r.peakFootprintBytes],
  ["utilization", (r) => r.utilization],
  ["internal_fragmentation", (r) => r.internalFragmentation],
  ["overhead_fraction", (r) => r.overheadFraction],
  ["requests", (r) => r.requests],
  ["failures", (r) => r.failures],
  ["p50_ns", (r) => r.latencyNs.p50],
  ["p99_ns", (r) => r.latencyNs.p99],
  ["p999_ns", (r) => r.latencyNs.p999],
  ["max_ns", (r) => r.latencyNs.max],
  ["latency_samples", (r) => r.latencyNs.samples],
  ["clock_floor_ns", (r) => r.latencyNs.floorNs],
  ["leftover_blocks", (r) => r.leftovers.blocks],
  ["leftover_bytes", (r) => r.leftovers.bytes],
  ["contents_checked", (r) => r.contentsChecked],
  ["error", (r) => r.error],
];

function cell(v: string | number | boolean | null): string {
  if (v === null) return "";
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function line(cells: readonly (string | number | boolean | null)[]): string {
  return `${cells.map(cell).join(",")}\r\n`;
}

/** `kmem replay --csv`: one row per result. */
export function resultsCsv(results: readonly ReplayResult[]): string {
  let out = line(COLUMNS.map(([name]) => name));
  for (const r of results) out += line(COLUMNS.map(([, get]) => get(r)));
  return out;
}

/** `kmem recommend --csv`: one row per ranked candidate and trace, with rank, score and pressure. */
export function rankingCsv(
  rankings: readonly {
    trace: string;
    goal: string;
    pressureMemoryBytes: number;
    ranking: readonly Ranked[];
  }[],
): string {
  let out = line([
    ...COLUMNS.map(([name]) => name),
    "goal",
    "rank",
    "score",
    "pressure_memory_bytes",
    "pressure_requests",
    "pressure_failures",
    "pressure_complete",
  ]);
  for (const t of rankings) {
    t.ranking.forEach((x, i) => {
      out += line([
        ...COLUMNS.map(([, get]) => get(x.result)),
        t.goal,
        i + 1,
        Math.round(x.score * 1000) / 1000,
        t.pressureMemoryBytes,
        x.pressure.requests,
        x.pressure.failures,
        x.pressure.complete,
      ]);
    });
  }
  return out;
}
