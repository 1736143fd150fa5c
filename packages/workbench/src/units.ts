/*
 * Numbers as people read them, one home for every table, paragraph and chart label of the
 * workbench: bytes in binary units, rates with k/M, durations in the unit that keeps three
 * significant digits (87 ns, 1.2 µs, 8.3 ms, 1.4 s), shares as percentages.
 */

/** 67108864 -> "64 MiB"; 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let u = 0;
  while (Math.abs(value) >= 1024 && u < units.length - 1) {
    value /= 1024;
    u++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[u]}`;
}

/** 1234567 -> "1,234,567". */
export function formatInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Three significant digits, no exponent: 12.3, 1.23, 123. */
function sig3(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** Ops per second as "12.3M", "1.23M", "456k", "3.10k", "87"; null (not measured) as "-". */
export function formatRate(opsPerSec: number | null): string {
  if (opsPerSec === null) return "-";
  if (opsPerSec >= 1e6) return `${sig3(opsPerSec / 1e6)}M`;
  if (opsPerSec >= 1e3) return `${sig3(opsPerSec / 1e3)}k`;
  return String(Math.round(opsPerSec));
}

/** A rate in words: "12.3 M ops/s", "3.10 k ops/s", "87 ops/s"; "not measured" for null. */
export function formatOpsPerSec(opsPerSec: number | null): string {
  if (opsPerSec === null) return "not measured";
  const r = formatRate(opsPerSec);
  return /[kM]$/.test(r) ? `${r.slice(0, -1)} ${r.slice(-1)} ops/s` : `${r} ops/s`;
}

/** Nanoseconds as "87 ns", "1.2 µs", "35 µs", "8.3 ms", "28 ms", "1.4 s". */
export function formatNs(ns: number): string {
  const scaled = (v: number, unit: string): string =>
    `${v >= 10 ? Math.round(v) : (Math.round(v * 10) / 10).toFixed(1)} ${unit}`;
  if (ns >= 1e9) return scaled(ns / 1e9, "s");
  // 9,950,000 ns would round to "10.0 ms" at one decimal: switch units by the rounded value.
  if (ns >= 999_950) return scaled(ns / 1e6, "ms");
  if (ns >= 999.5) return scaled(ns / 1e3, "µs");
  return `${Math.round(ns)} ns`;
}

/** A share as a percentage with one decimal: 0.1234 -> "12.3%"; null -> "-". */
export function formatPct(share: number | null): string {
  return share === null ? "-" : `${(100 * share).toFixed(1)}%`;
}

/** A share in prose: two decimals below 1%, one below 10%, none above. */
export function formatShare(v: number): string {
  return `${(100 * v).toFixed(v < 0.01 && v > 0 ? 2 : v < 0.1 ? 1 : 0)}%`;
}

/** A latency against the clock's floor: below it, "<10 ns" (it cannot be told from 0). */
export function formatLatency(ns: number, floorNs: number): string {
  return ns < floorNs ? `<${formatNs(floorNs)}` : formatNs(ns);
}
