/*
 * Cpu ids: each context (the main thread, each worker) works as one cpu, with its own
 * per-cpu lists and counters. The ids are claimed in the header, atomically, so that two
 * workers attaching at once never get the same one.
 *
 *   OFFLINE --claimCpu--> ONLINE --offlineCpu--> DEAD --its locks recovered, its per-cpu
 *      ^                                                state drained (robust.ts)--+
 *      +-----------------------------------------------------------------------------+
 *   A cpu stays DEAD (never reused) only if its drain threw (corruption found).
 */

import { CpuState, Hdr, Pcp } from "../memory/index.js";

/** Index of cpu `cpu`'s state word. */
function stateIndex(cpu: number): number {
  return Hdr.PCP + Pcp.WORDS * cpu + Pcp.STATE;
}

/** Claims the lowest offline cpu id of `nrCpus`; -1 when all are taken. */
export function claimCpu(h: Int32Array, nrCpus: number): number {
  for (let cpu = 0; cpu < nrCpus; cpu++) {
    if (
      Atomics.compareExchange(h, stateIndex(cpu), CpuState.OFFLINE, CpuState.ONLINE) ===
      CpuState.OFFLINE
    ) {
      return cpu;
    }
  }
  return -1;
}

export function cpuState(h: Int32Array, cpu: number): number {
  return Atomics.load(h, stateIndex(cpu));
}

/** Sets `cpu`'s state outright (reopening an instance whose contexts are all gone). */
export function forceCpuState(h: Int32Array, cpu: number, state: number): void {
  Atomics.store(h, stateIndex(cpu), state);
}

/** Moves `cpu` from state `from` to `to`; false if it was not in `from`. */
export function setCpuState(h: Int32Array, cpu: number, from: number, to: number): boolean {
  return Atomics.compareExchange(h, stateIndex(cpu), from, to) === from;
}
