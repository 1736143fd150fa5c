/* Helpers of the vmem tests: "nothing changed" checks and a brute-force placement search. */

import type { KmemError, KmemErrorCode, VmemArena } from "../../src/index.js";
import { assertBadArgumentOf, assertMisuseOf } from "../helpers.js";

/** Everything observable about an arena: its walk and its stats, counters included. */
export function snapshot(arena: VmemArena): unknown {
  return { segments: arena.segments(), stats: arena.stats() };
}

/** Asserts `fn` throws KmemError `code` and leaves the arena as it was. */
export function assertMisuse(arena: VmemArena, code: KmemErrorCode, fn: () => unknown): KmemError {
  return assertMisuseOf(arena, snapshot, code, fn);
}

/** Asserts `fn` throws `type` with a message matching `pattern`, the arena untouched. */
export function assertBadArgument(
  arena: VmemArena,
  type: typeof TypeError | typeof RangeError,
  pattern: RegExp,
  fn: () => unknown,
): void {
  assertBadArgumentOf(arena, snapshot, type, pattern, fn);
}

export interface Constraints {
  align: number;
  phase: number;
  nocross: number;
  minaddr: number;
  maxaddr: number;
}

/** Whether [t, t + size) meets the constraints. */
export function meets(t: number, size: number, c: Constraints): boolean {
  if (t % c.align !== c.phase) return false;
  if (t < c.minaddr || t + size > c.maxaddr) return false;
  if (c.nocross !== 0 && Math.floor(t / c.nocross) !== Math.floor((t + size - 1) / c.nocross)) {
    return false;
  }
  return true;
}

/** Every free segment of the arena, from its walk. */
export function freeSegments(arena: VmemArena): { base: number; size: number }[] {
  return arena.segments().filter((s) => s.type === "free");
}

/**
 * Sizes of the free segments in which `size` units can be placed at the constraints, by
 * trying every aligned start (small arenas only).
 */
export function fittingSegments(arena: VmemArena, size: number, c: Constraints): number[] {
  const out: number[] = [];
  for (const s of freeSegments(arena)) {
    for (let t = s.base; t + size <= s.base + s.size; t++) {
      if (meets(t, size, c)) {
        out.push(s.size);
        break;
      }
    }
  }
  return out;
}
