/* The cross-trace summary as text, under the per-trace tables of replay and recommend. */

import { SUMMARY_CRITERIA, summarize, type TraceResults } from "../summary.js";
import { formatBytes, formatLatency, formatPct, formatRate, table } from "./format.js";
import { shortName } from "./run.js";

/** Winners per criterion and trace, geometric means per allocator; "" for one trace. */
export function summaryText(traces: readonly TraceResults[]): string {
  if (traces.length < 2) return "";
  const s = summarize(traces);
  const winners = [
    ["trace", ...SUMMARY_CRITERIA.map((c) => c.label)],
    ...s.perTrace.map((p) => [
      shortName(p.trace),
      ...SUMMARY_CRITERIA.map((c) => {
        const w = p.winners[c.key];
        if (w === null) return "-";
        if (c.key === "failures" && w.value === 0 && w.tied > 0) return "none failed";
        return w.tied > 0 ? `${w.allocator} +${w.tied}` : w.allocator;
      }),
    ]),
  ];
  const geo = [
    [
      "allocator",
      "traces",
      "ops/s",
      "util",
      "footprint",
      "p99.9",
      "failed",
      "wins",
      ...(s.rows.some((r) => r.meanScore !== null) ? ["mean score"] : []),
    ],
    ...s.rows.map((r) => [
      r.allocator,
      `${r.traces}/${traces.length}`,
      r.geoOpsPerSec === null ? "-" : formatRate(r.geoOpsPerSec),
      r.geoUtilization === null ? "-" : r.geoUtilization.toFixed(3),
      r.geoFootprintBytes === null ? "-" : formatBytes(Math.round(r.geoFootprintBytes)),
      r.geoP999Ns === null ? "-" : formatLatency(r.geoP999Ns, 0),
      formatPct(r.failureRate),
      SUMMARY_CRITERIA.map((c) => r.wins[c.key]).join("/"),
      ...(r.meanScore === null ? [] : [`${r.meanScore.toFixed(2)} (${r.rankedFirst} first)`]),
    ]),
  ];
  const best = SUMMARY_CRITERIA.map((c) => `${c.label} ${s.overall[c.key] ?? "-"}`).join(", ");
  return (
    `summary over ${traces.length} traces: the winner of each criterion per trace\n` +
    `${table(winners, 1)}\n\n` +
    `geometric means over the traces each allocator finished (wins: ${SUMMARY_CRITERIA.map((c) => c.label).join("/")})\n` +
    `${table(geo, 1)}\n\nbest over all traces: ${best}\n`
  );
}
