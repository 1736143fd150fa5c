/*
 * Robust locks: what happens to the locks of a context that died (a worker terminated, an
 * uncaught error, a closed tab) -- Linux's robust futexes and FUTEX_OWNER_DIED.
 *
 * A context's death is learnt by one call only: offlineCpu(id) from a context that lives
 * (or Kmem.reopen, for every cpu but 0). The lock word names its owner's cpu, so the locks a
 * dead cpu held are found by looking at every lock word of the instance, whose places are
 * all known (the header's locks, each zone's, each cache's node list_locks, zsmalloc's and
 * zram's from their registry: the RobustLock list the instance builds, lock order first to
 * last). That costs nothing while no context
 * dies -- no held-locks list to keep up on each lock and unlock, and no window between
 * taking a lock and recording it -- and a death is rare and slow anyway.
 *
 *   offlineCpu(id):  ONLINE --> DEAD             lock() on a DEAD owner's lock waits, as
 *                     |                           for a live one (no DEADLOCK)
 *                     |  every lock word naming id: taken over (compareExchange owner
 *                     |  id -> this cpu, CONTENDED kept), in lock order
 *                     |  innermost first, each one's recovery run (its state rebuilt
 *                     |  from ground truth) and the lock released: the waiters go on,
 *                     |  and an outer lock's recovery takes the inner locks it needs
 *                     |  (the vmalloc recovery frees pages into a zone whose lock the
 *                     |  dead cpu held too) as any critical section does
 *                     |  the per-cpu state drained (walks bounded, nothing trusted)
 *                     v
 *                   OFFLINE   only now may Kmem.attach reuse the id: no lock names it
 *
 * A lock whose kind has no recovery is released all the same (a lock is never left held),
 * and named in the report's `unrecovered`: the state it guards may be what a critical
 * section left half done, and verify() says whether it is.
 */

import { takeOverLock, unlock } from "./lock.js";

/** A lock word of the instance, and how to repair what it guards after its owner died. */
export interface RobustLock {
  /** The view holding the word, and its index. */
  readonly w: Int32Array;
  readonly i: number;
  /** The lock's name in reports ("the zone lock", "the list_lock of cache x", ...). */
  readonly name: string;
  /**
   * Repairs the state the lock guards, the lock held by the caller, its owner `dead` having
   * died at any point inside it; returns a line saying what was done. null: no recovery.
   */
  readonly recover: ((dead: number) => string) | null;
}

/** What offlineCpu() found and did for a cpu whose context died. */
export interface DeadCpuReport {
  /** The cpu id, OFFLINE (free for the next attach) once the report is made. */
  readonly cpu: number;
  /** Locks the cpu held that were taken over and repaired, each with what was done. */
  readonly recovered: string[];
  /**
   * Locks the cpu held that were released without a repair (no recovery for their kind,
   * or the recovery failed), each with why: verify() says whether their state is whole.
   */
  readonly unrecovered: string[];
  /** Per-cpu pages given back to the buddy lists. */
  pages: number;
  /** Cpu slabs and sheaf objects given back to their caches. */
  objects: number;
}

/**
 * Takes over every lock of `locks` (in lock order) that cpu `dead` holds (for `cpu`, this
 * context), then, innermost first, runs each one's recovery and releases it: an outer
 * lock's recovery finds the inner locks free (or another context's, as in any critical
 * section). Fills `report`, in lock order.
 */
export function recoverLocks(
  locks: readonly RobustLock[],
  dead: number,
  cpu: number,
  report: DeadCpuReport,
): void {
  const held: RobustLock[] = [];
  for (const l of locks) if (takeOverLock(l.w, l.i, dead, cpu)) held.push(l);
  const recovered: string[] = [];
  const unrecovered: string[] = [];
  let k = held.length - 1;
  try {
    for (; k >= 0; k--) {
      const l = held[k] as RobustLock;
      try {
        if (l.recover === null) {
          unrecovered.unshift(
            `${l.name}: released; no recovery for this lock yet (verify() checks its state)`,
          );
        } else recovered.unshift(`${l.name}: ${l.recover(dead)}`);
      } catch (err) {
        unrecovered.unshift(`${l.name}: released; recovery failed: ${String(err)}`);
      } finally {
        unlock(l.w, l.i, cpu);
      }
    }
  } finally {
    // Never a lock left held (an engine error in a report line, say).
    for (k--; k >= 0; k--) unlock((held[k] as RobustLock).w, (held[k] as RobustLock).i, cpu);
    report.recovered.push(...recovered);
    report.unrecovered.push(...unrecovered);
  }
}
