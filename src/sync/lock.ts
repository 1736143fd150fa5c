/*
 * Locks over i32 words of the managed buffer, for contexts (the main thread and workers)
 * sharing one SharedArrayBuffer: a futex mutex after Drepper's "Futexes are tricky" (mutex
 * type 3), with the owner's cpu id in the word so that the lock of a context that died
 * can be found and taken over (robust.ts: Linux's robust futexes, FUTEX_OWNER_DIED).
 *
 *   lock word   31  30          16 15             0
 *              +---+-----------+---+---------------+
 *              | 0 | CONTENDED | 0 | owner cpu + 1 |     0 = free
 *              +---+-----------+---+---------------+
 *
 * lock():   one compareExchange 0 -> cpu + 1 when free (the uncontended case). Otherwise
 *           spin a little, then mark the word CONTENDED and Atomics.wait on it, in rounds of
 *           WAIT_MS so that the owner's hotplug state is looked at again after each round: an
 *           owner that is DEAD is waited for too (offlineCpu takes its locks over, repairs
 *           what they guard and releases them); one that is OFFLINE cannot release it
 *           (DEADLOCK; offlineCpu never lets a cpu id go while a lock names it).
 *           Where a context may not block (a browser's main thread, or a buffer that is not
 *           shared) it only spins.
 * unlock(): one exchange to 0; Atomics.notify only when the word was CONTENDED.
 *
 * Every lock of kmem is taken through these two functions, in the lock order below. An
 * instance with one cpu takes none: its callers test `smp` first, one predictable branch.
 * At rest (between calls) every lock word is 0.
 */

/*
 * Lock order: the one list. kmem takes its locks in this order, any of them skipped, none
 * out of order; what each lock guards and when it is held is in the header of the file
 * named after it (test/facts.test.ts checks that every lock word the code names is here).
 *
 *   0. the vmalloc lock (Hdr.LOCK_VMALLOC), src/vm/vmalloc.ts; it also guards the swap
 *      layer's state (src/swap/swap.ts): the LRU lists and the frames' LRU words, the swap
 *      areas and their slot tables, zswap's entries and counters. Swap-out and swap-in
 *      hold it; under it they take a zram slot lock (2b) and a zsmalloc pool's lock (4a),
 *      never a lock before it. Reclaim reaches it from inside an allocation: a swap-in
 *      allocates its page before taking it (so reclaim and the OOM killer run with it
 *      free); reclaim takes it with a try (reclaimLock) and skips the LRU when another
 *      context holds it, and works under it when this context holds it already (an
 *      allocation inside vmalloc or vmap): every allocation made under it happens where
 *      the tables and areas are consistent, and swap-out rewrites only leaf entries of LRU
 *      pages, allocating only zsmalloc objects from the reserves (PF_MEMALLOC: no
 *      recursion). The OOM killer does not run while this context holds it (a victim's
 *      vfree takes it). Held across the whole of vmalloc, vzalloc, vfree, vmap and vunmap
 *      (and the vmalloc half of kvmalloc and kvfree), which allocate records (kmalloc) and
 *      pages under it, so it comes before every other lock. The accessors (read, write, typed access, virtToPhys) walk the
 *      tables without it, as Linux's page-table walks do: touching an area another context
 *      is freeing is the caller's use after free, and the translation cache is dropped by
 *      the descriptor's generation word that every unmap bumps.
 *   1. the mempool lock (Hdr.LOCK_POOL), src/mempool/mempool.ts. Never held across a call
 *      into the allocator (which may reclaim and run shrinkers).
 *   2. slab_mutex (Hdr.LOCK_SLAB; re-entrant within one context), src/slub/slub.ts.
 *      2a. the zsmalloc registry lock (Reg.LOCK), src/zsmalloc/context.ts. Held for list
 *          work only; never across an allocation or a free.
 *      2b. a zram slot lock (ZramEntry.LOCK, word 3 of the slot's table entry),
 *          src/zram/zram.ts: the slot's handle, flags, size and value. Never two at once,
 *          but by offlineCpu settling a device (src/zram/robust.ts): every slot lock of it
 *          in index order, nothing else held.
 *          Held across the free of the slot's object (so before the pool's lock, and before
 *          a slab's list_lock or SLOB's lock for the handle's kfree) and across
 *          decompressing it; not across the backing store's calls.
 *      2c. a zram device's backing bitmap lock (Zd.BD_LOCK), src/zram/zram.ts: the bitmap
 *          of backing blocks; taken alone or under a slot lock.
 *   3. slob_lock (Hdr.LOCK_SLOB; SLOB only, in place of 2 and 4), src/slob/slob.ts.
 *   4. a cache's node list_lock (Desc.LOCK for node 0, NodeRec.LOCK for the others),
 *      src/slub/slub.ts.
 *      4a. a zsmalloc pool's lock (Pool.LOCK), src/zsmalloc/zsmalloc.ts. Taken under a slot
 *          lock or alone (or under reclaim's callers: compaction is a shrinker); held
 *          across the freeing of a zspage's pages (the zone lock after it), never across
 *          an allocation or a kfree, so reclaim never finds it held by its own context.
      4b. the kmalloc heap lock (HeapDesc.LOCK, one per node), src/kmalloc/heap.ts: the
          heap's free lists, its chunks' blocks and chunk list. A leaf but for the zone
          lock: never held across an allocation from the page allocator (a new chunk is
          taken before it), nor across a call out of the heap.
 *      4c. the kmalloc large-run cache lock (LcDesc.LOCK, one per node),
 *          src/kmalloc/large-cache.ts: the bins of freed large runs, their counters and the
 *          runs' marks. A leaf: never held across a call into the page allocator (evicted
 *          runs are freed after it is given back), never with the heap lock.
 *   5. the zone lock (Zone.LOCK, one per node), src/page/buddy.ts.
 */

import { hex, KmemError } from "../errors.js";
import { CpuState, Hdr, Pcp, type PhysMem } from "../memory/index.js";

export const enum LockWord {
  FREE = 0,
  OWNER_MASK = 0xffff,
  CONTENDED = 1 << 30,
}

/** Failed compareExchanges before a context starts to wait. */
const SPINS = 100;
/** A wait round: after it, the owner's state is looked at again. */
const WAIT_MS = 5;

/**
 * Whether this thread may block in Atomics.wait (Node's main thread and workers may; a
 * browser's main thread may not).
 */
export const canBlock: boolean = (() => {
  if (typeof SharedArrayBuffer === "undefined") return false;
  try {
    // The word is 0, so this returns "not-equal" at once where waiting is allowed.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
})();

/**
 * Takes the lock at `w[i]` for `cpu`; `name` names the lock in errors. `h` is a view from
 * byte 0 of node 0's buffer (the header's cpu states at their Hdr indices): `w` itself
 * unless the lock word lives elsewhere (a cache's list_lock in a descriptor on another node).
 */
export function lock(w: Int32Array, i: number, cpu: number, name: string, h: Int32Array = w): void {
  if (Atomics.compareExchange(w, i, 0, cpu + 1) !== 0) lockSlow(w, i, cpu, name, h);
}

/**
 * lock(), then catches this context up with memory another brought online since its last
 * look (PhysMem.sync, page/hotplug.ts) before the caller reads what the lock guards: blocks
 * and frames there may lie in it. If it cannot (a damaged header), the lock is given back
 * and the error goes on. For the locks whose holders need no more than that (the kmalloc
 * heap's, the large-run cache's); SLUB's and SLOB's catch up their own state too.
 */
export function lockSynced(
  w: Int32Array,
  i: number,
  cpu: number,
  name: string,
  h: Int32Array,
  phys: PhysMem,
): void {
  lock(w, i, cpu, name, h);
  if (Atomics.load(h, Hdr.MEM_GENERATION) !== phys.generation) {
    try {
      phys.sync();
    } catch (err) {
      unlock(w, i, cpu);
      throw err;
    }
  }
}

/** Takes the lock if it is free; true if taken. */
export function tryLock(w: Int32Array, i: number, cpu: number): boolean {
  return Atomics.compareExchange(w, i, 0, cpu + 1) === 0;
}

/** Releases a lock `cpu` holds. */
export function unlock(w: Int32Array, i: number, cpu: number): void {
  if (Atomics.exchange(w, i, 0) !== cpu + 1) Atomics.notify(w, i, 1);
}

/**
 * Takes over the lock at `w[i]` for `cpu` if cpu `dead` holds it (FUTEX_OWNER_DIED): the
 * word then names `cpu`, its CONTENDED bit kept so that the unlock wakes the waiters. True
 * if taken over; false if `dead` does not hold it.
 */
export function takeOverLock(w: Int32Array, i: number, dead: number, cpu: number): boolean {
  for (;;) {
    const v = Atomics.load(w, i);
    if ((v & LockWord.OWNER_MASK) !== dead + 1) return false;
    if (Atomics.compareExchange(w, i, v, (v & LockWord.CONTENDED) | (cpu + 1)) === v) return true;
  }
}

/** The cpu holding the lock at `w[i]`, or -1 if it is free. */
export function lockOwner(w: Int32Array, i: number): number {
  return wordOwner(Atomics.load(w, i));
}

/**
 * The cpu holding a lock whose word was read as `v` (-1 for 0: free). For a caller that
 * has read the word already: a second read may find it released (or taken by another).
 */
export function wordOwner(v: number): number {
  return (v & LockWord.OWNER_MASK) - 1;
}

function lockSlow(w: Int32Array, i: number, cpu: number, name: string, h: Int32Array): void {
  const mine = cpu + 1;
  const blocking = canBlock && w.buffer instanceof SharedArrayBuffer;
  for (let spin = 0; ; spin++) {
    const v = Atomics.load(w, i);
    if (v === 0) {
      // Once a context had to wait, others may be waiting too: take it marked contended,
      // so that our unlock wakes the next one.
      if (Atomics.compareExchange(w, i, 0, spin < SPINS ? mine : mine | LockWord.CONTENDED) === 0)
        return;
      continue;
    }
    checkOwner(w, h, v, cpu, name);
    if (spin < SPINS) continue;
    if ((v & LockWord.CONTENDED) === 0) {
      if (Atomics.compareExchange(w, i, v, v | LockWord.CONTENDED) !== v) continue;
    }
    if (blocking) Atomics.wait(w, i, v | LockWord.CONTENDED, WAIT_MS);
  }
}

/** A lock that can never be released: held by this very context, or by an OFFLINE cpu. */
function checkOwner(w: Int32Array, h: Int32Array, v: number, cpu: number, name: string): void {
  const owner = (v & LockWord.OWNER_MASK) - 1;
  if (owner === cpu) {
    throw new KmemError(
      "DEADLOCK",
      `${name} is already held by this context (cpu ${cpu}): a shrinker, constructor or log function called back into kmem`,
    );
  }
  if (owner < 0 || owner >= (h[Hdr.NR_CPUS] as number)) {
    // Read from memory: a lock word naming no cpu of the instance is damage, not a holder.
    throw new KmemError(
      "CORRUPTION",
      `${name}: its lock word ${hex(v >>> 0)} names cpu ${owner}, not a cpu of the instance`,
    );
  }
  const state = h[Hdr.PCP + Pcp.WORDS * owner + Pcp.STATE];
  // A DEAD owner's locks are being taken over and repaired by offlineCpu (robust.ts), which
  // releases each once its state is whole again: wait for that as for any owner.
  if (state !== CpuState.ONLINE && state !== CpuState.DEAD) {
    throw new KmemError(
      "DEADLOCK",
      `${name} is held by cpu ${owner}, which went offline while holding it`,
    );
  }
  if (!(w.buffer instanceof SharedArrayBuffer)) {
    // Contexts over an unshared buffer live in one thread: the owner cannot run meanwhile.
    throw new KmemError(
      "DEADLOCK",
      `${name} is held by cpu ${owner} of this thread (a callback of it called into this context)`,
    );
  }
}
