/* Parsing and printing helpers of the command line: byte sizes, tables; the units are units.ts's. */

export {
  formatBytes,
  formatInt,
  formatLatency,
  formatNs,
  formatOpsPerSec,
  formatPct,
  formatRate,
} from "../units.js";

/** "64M", "1G", "512k", "4096" -> bytes. Throws Error on anything else. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (m === null) throw new Error(`not a byte size: ${JSON.stringify(text)} (try 64M, 1G, 4096)`);
  const units: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  const bytes = Number(m[1]) * (units[(m[2] ?? "").toLowerCase()] as number);
  if (!Number.isSafeInteger(bytes)) throw new Error(`not a whole number of bytes: ${text}`);
  return bytes;
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
