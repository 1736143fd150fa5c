/* Parsing and printing helpers of the command line: byte sizes, tables. */

/** "64M", "1G", "512k", "4096" -> bytes. Throws Error on anything else. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (m === null) throw new Error(`not a byte size: ${JSON.stringify(text)} (try 64M, 1G, 4096)`);
  const units: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  const bytes = Number(m[1]) * (units[(m[2] ?? "").toLowerCase()] as number);
  if (!Number.isSafeInteger(bytes)) throw new Error(`not a whole number of bytes: ${text}`);
  return bytes;
}

/** 67108864 -> "64 MiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let u = 0;
  while (value >= 1024 && u < units.length - 1) {
    value /= 1024;
    u++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[u]}`;
}

/** Columns under a header row: the first `left` left-aligned, the others right-aligned. */
export function table(rows: readonly (readonly string[])[], left = 1): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i < left ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** 1234567 -> "1,234,567". */
export function formatInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Ops per second as "12.3M", "456k". */
export function formatRate(opsPerSec: number): string {
  if (opsPerSec >= 1e7) return `${(opsPerSec / 1e6).toFixed(1)}M`;
  if (opsPerSec >= 1e6) return `${(opsPerSec / 1e6).toFixed(2)}M`;
  if (opsPerSec >= 1e3) return `${(opsPerSec / 1e3).toFixed(0)}k`;
  return String(Math.round(opsPerSec));
}

/** Nanoseconds as "87 ns", "1.2 µs", "35 ms". */
export function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(ns >= 1e7 ? 0 : 1)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(ns >= 1e4 ? 0 : 1)} µs`;
  return `${Math.round(ns)} ns`;
}

/** A share as a percentage with one decimal: 0.1234 -> "12.3%". */
export function formatPct(share: number | null): string {
  return share === null ? "-" : `${(100 * share).toFixed(1)}%`;
}
