/* The results table of `kmem replay`, `recommend` and `demo`, with notes under it. */

import type { ReplayResult } from "../replay.js";
import { formatBytes, formatInt, formatLatency, formatPct, formatRate, table } from "./format.js";
import { shortName } from "./run.js";

const HEADER = [
  "trace",
  "allocator",
  "ops",
  "ops/s",
  "peak payload",
  "peak footprint",
  "util",
  "int.frag",
  "failures",
  "p50",
  "p99",
  "max",
  "leftovers",
];

/** Rows of results, then a note per incomplete or failed run. */
export function resultsTable(results: readonly ReplayResult[], withTrace = true): string {
  const rows: string[][] = [withTrace ? HEADER : HEADER.slice(1)];
  const notes: string[] = [];
  for (const r of results) {
    const mark = r.error !== null ? " !" : r.complete ? "" : " *";
    const row = [
      `${r.allocator}${mark}`,
      formatInt(r.ops),
      formatRate(r.opsPerSec),
      formatBytes(r.peakPayloadBytes),
      formatBytes(r.peakFootprintBytes),
      r.utilization.toFixed(3),
      formatPct(r.internalFragmentation),
      formatInt(r.failures),
      formatLatency(r.latencyNs.p50, r.latencyNs.floorNs),
      formatLatency(r.latencyNs.p99, r.latencyNs.floorNs),
      formatLatency(r.latencyNs.max, r.latencyNs.floorNs),
      formatInt(r.leftovers.blocks),
    ];
    rows.push(withTrace ? [shortName(r.trace), ...row] : row);
    if (r.error !== null) notes.push(`! ${r.error}`);
    else if (!r.complete) {
      notes.push(
        `* ${r.allocator} on ${shortName(r.trace)}: stopped at the time limit after ` +
          `${formatInt(r.ops)} ops; its numbers cover those ops only`,
      );
    }
  }
  return table(rows, withTrace ? 2 : 1) + (notes.length > 0 ? `\n\n${notes.join("\n")}` : "");
}
