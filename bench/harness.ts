/*
 * A thin layer over mitata: register benchmarks with a unit of work, run them in one process,
 * and print medians per operation with ratios against a named baseline, as a Markdown table
 * ready for BENCHMARKS.md.
 */

import { bench, do_not_optimize, run } from "mitata";

export interface Case {
  group: string;
  name: string;
  /** Operations performed by one call of `fn` (the median is divided by it). */
  opsPerCall: number;
  fn: () => void;
}

const cases: Case[] = [];

export function add(group: string, name: string, opsPerCall: number, fn: () => void): void {
  cases.push({ group, name, opsPerCall, fn });
}

export { do_not_optimize };

export interface Row {
  group: string;
  name: string;
  medianNs: number;
  p99Ns: number;
}

/**
 * Runs every registered case (filtered by substring) `rounds` times, all cases in each round,
 * and keeps per case the lowest of the per-round medians: on a shared machine, load from
 * elsewhere only ever adds time, and interleaving the rounds spreads it over every case.
 */
export async function runAll(filter: string | undefined, rounds: number): Promise<Row[]> {
  const selected = cases.filter(
    (c) => filter === undefined || `${c.group} ${c.name}`.includes(filter),
  );
  const best = new Map<Case, Row>();
  for (let round = 0; round < rounds; round++) {
    for (const c of selected) bench(`${c.group} | ${c.name}`, c.fn);
    const result = await run({ format: "quiet" });
    for (const b of result.benchmarks) {
      for (const r of b.runs) {
        const c = selected.find((x) => `${x.group} | ${x.name}` === r.name);
        if (c === undefined || r.stats === undefined) continue;
        const row: Row = {
          group: c.group,
          name: c.name,
          medianNs: r.stats.p50 / c.opsPerCall,
          p99Ns: r.stats.p99 / c.opsPerCall,
        };
        const prev = best.get(c);
        if (prev === undefined || row.medianNs < prev.medianNs) best.set(c, row);
      }
    }
  }
  return selected.map((c) => best.get(c)).filter((r): r is Row => r !== undefined);
}

function fmt(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(1)} ns`;
}

/** Markdown table per group; ratio is against the first row of the group. */
export function markdown(rows: Row[]): string {
  const out: string[] = [];
  const groups = [...new Set(rows.map((r) => r.group))];
  for (const g of groups) {
    const inGroup = rows.filter((r) => r.group === g);
    const base = inGroup[0] as Row;
    out.push(
      `### ${g}`,
      "",
      "| case | median per op | p99 per op | ratio to first |",
      "| --- | ---: | ---: | ---: |",
    );
    for (const r of inGroup) {
      out.push(
        `| ${r.name} | ${fmt(r.medianNs)} | ${fmt(r.p99Ns)} | ${(r.medianNs / base.medianNs).toFixed(2)}× |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}
