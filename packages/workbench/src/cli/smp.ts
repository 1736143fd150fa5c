/*
 * The machine profiles' workloads on every cpu at once (smp.ts): with --machine, recommend
 * and demo replay the profile's smpWorkloads with a worker per cpu over one
 * SharedArrayBuffer, against the allocators that can (SLAB, SLUB, SLOB, buddy), and print
 * the throughput on one cpu and on all, the speedup, the failures, and a ranking that says
 * how many cores the runs really had.
 */

import { availableParallelism } from "node:os";
import { hostLine, replayOnCpus, SMP_ALLOCATORS, type SmpResult } from "../smp.js";
import { formatBytes, formatInt, formatRate, table } from "./format.js";

export interface SmpSection {
  workload: string;
  cpus: number;
  memoryBytes: number;
  opsPerCpu: number;
  results: SmpResult[];
  host: string;
}

/** The allocators of `chosen` (all when empty) that run on several cpus. */
export function smpAllocators(chosen: readonly string[]): string[] {
  const names = chosen.flatMap((a) => a.split(","));
  return SMP_ALLOCATORS.filter((a) => names.length === 0 || names.includes(a));
}

export async function runSmp(
  workload: string,
  allocators: readonly string[],
  cpus: number,
  memoryBytes: number,
  opsPerCpu: number,
  seed: number,
): Promise<SmpSection> {
  const results: SmpResult[] = [];
  for (const allocator of smpAllocators(allocators)) {
    results.push(
      await replayOnCpus({
        allocator,
        workload,
        ops: opsPerCpu,
        seed,
        cpus,
        memoryBytes,
        rounds: 3,
      }),
    );
  }
  return { workload, cpus, memoryBytes, opsPerCpu, results, host: hostLine() };
}

/** Best first: runs without errors, then fewer failures, then throughput on every cpu. */
export function smpRanking(s: SmpSection): SmpResult[] {
  const bad = (r: SmpResult): number => (r.all.error !== null || r.one.error !== null ? 1 : 0);
  return [...s.results].sort(
    (a, b) =>
      bad(a) - bad(b) || a.all.failures - b.all.failures || b.all.opsPerSec - a.all.opsPerSec,
  );
}

/** What the cpus asked for were here: "4 cpus asked, 2 cores here". */
export function coresNote(cpus: number): string {
  const cores = availableParallelism();
  return cores >= cpus
    ? `${cpus} cpus asked, ${cores} cores here`
    : `${cpus} cpus asked, ${cores} cores here: at most ${cores} workers ran at once, so a speedup above ${cores}× cannot happen here and the rest of the loss is contention and the machine's other load`;
}

export function smpText(s: SmpSection): string {
  const rows = [["allocator", "1 cpu ops/s", `${s.cpus} cpus ops/s`, "speedup", "failures"]];
  for (const r of s.results) {
    const err = r.all.error ?? r.one.error;
    rows.push([
      r.allocator + (err !== null ? " !" : ""),
      formatRate(r.one.opsPerSec),
      formatRate(r.all.opsPerSec),
      `${r.speedup.toFixed(2)}×`,
      `${formatInt(r.all.failures)}/${formatInt(r.all.requests)}`,
    ]);
  }
  const errors = s.results
    .filter((r) => (r.all.error ?? r.one.error) !== null)
    .map((r) => `! ${r.allocator}: ${r.all.error ?? r.one.error}`);
  return (
    `${s.workload} on ${s.cpus} cpus: a worker per cpu over one SharedArrayBuffer, each its own ` +
    `trace of ${formatInt(s.opsPerCpu)} ops, ${formatBytes(s.memoryBytes)} in all; 1 cpu: one ` +
    `worker replays the same traces in turn; the faster of 3 rounds; ${s.host}\n\n` +
    `${table(rows, 1)}\n${errors.length > 0 ? `${errors.join("\n")}\n` : ""}\n` +
    `on ${s.cpus} cpus: ${smpRanking(s)
      .map((r) => `${r.allocator} ${formatRate(r.all.opsPerSec)}`)
      .join(" > ")} (failures first, then throughput); ${coresNote(s.cpus)}\n`
  );
}
