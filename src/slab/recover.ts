/*
 * A SLAB cache's node list_lock whose owner died (offlineCpu, src/sync/robust.ts): the
 * node's shared array, its three slab lists and their counts rebuilt from ground truth,
 * with the lock held by the recovering context; and the dead cpu's own arrays, given back
 * without an object twice or an object in use (drainDeadCpu, tune.ts).
 *
 * Ground truth is the mem_map and the slabs: every frame marked SLAB with the cache's id on
 * the node is one of its slabs (a new slab is marked SLAB only when it is counted, under
 * the lock, and unmarked when it is taken off to be destroyed: slabs.ts grow, detachFree);
 * a slab's `active` and the free part of its index array (entries active..num-1) are what
 * it says, since each object's entry is written before its count changes both ways. From
 * them: each slab's list by its count, the lists' links and tails, free_objects,
 * free_slabs and nr_slabs. A dead context's critical section can have left, and the
 * rebuild settles:
 *
 *   a slab half moved between lists, or off them         the lists rebuilt, links and all
 *   free_objects, free_slabs or nr_slabs not yet           recounted
 *   counted
 *   an object taken into the dead cpu's array, its slab    free still (the array's count is
 *   not yet counted (cache_alloc_refill)                   written first: drainDeadCpu drops
 *                                                          it from the array)
 *   an object put back (free_block), its array not yet     free (drainDeadCpu drops it from
 *   shortened                                              the array)
 *   a full OBJFREELIST slab whose index array was being    no array: the object stays in the
 *   given a home (its count not yet lowered)               dead cpu's array (roll back)
 *   a slab taken off the free list to be destroyed         back on it (never unmarked yet),
 *                                                          or gone (its frame unmarked)
 *   the shared array's entries                             each checked: an object of the
 *                                                          cache on the node, free, in no
 *                                                          slab's free part, once
 *
 * The objects in other cpus' arrays are theirs (changed without a lock): they are the
 * objects counted active whose bits are clear and that no shared array holds, and are not
 * looked at. Nothing read is trusted: a count past the slab's objects or an index array
 * naming an object twice, past the slab or in use makes the recovery throw (offlineCpu
 * reports the lock unrecovered).
 *
 * What stays lost is what the dead context had in hand: a new slab not yet counted, the
 * objects of a shared array it was draining, the object it was taking or freeing on its
 * array without a lock.
 */

import { Frame, Pg, PgFlag } from "../memory/index.js";
import type { KmemCache } from "../slab-common/index.js";
import { blockAt, viewsOf } from "./arrays.js";
import { Ac, Mgmt, Node, SlabList, SlabPg } from "./layout.js";
import type { SlabAllocator } from "./slab.js";
import { getEntry, listAdd, slabStart } from "./slabs.js";

/**
 * Rebuilds node `n`'s shared array and slab lists of cache `c` after cpu `dead` died holding
 * its list_lock (held now by this context). Returns what was done; throws on damage.
 */
export function recoverSlabNode(
  slab: SlabAllocator,
  c: KmemCache,
  n: number,
  dead: number,
): string {
  void dead;
  const b = (c.dv[blockAt(slab)] as number) >>> 0;
  if (b === 0) return "no slabs";
  const v = viewsOf(slab, c, b);
  const nr = v.nodes[n] as Int32Array;
  const f = slab.f;
  const num = c.objects;
  const idx = v.shape.idx;
  const objfl = v.shape.mgmt === Mgmt.OBJFREELIST;
  const free = new Set<number>();
  const lists: [number, SlabList][] = [];
  let slabs = 0;
  let freeObjects = 0;
  let fixed = 0;
  for (let p = slab.firstPfn; p < slab.totalPages;) {
    const i = p * Frame.WORDS;
    const flags = f[i + Pg.FLAGS] as number;
    const order = f[i + Pg.ORDER] as number;
    const pfn = p;
    p += (flags & (PgFlag.HEAD | PgFlag.BUDDY)) !== 0 && order >= 0 && order < 32 ? 2 ** order : 1;
    if ((flags & PgFlag.SLAB) === 0 || f[i + SlabPg.CACHE] !== c.realId) continue;
    if (slab.slabNode(pfn) !== n) continue;
    slabs++;
    const counters = f[i + SlabPg.COUNTERS] as number;
    const active = counters & SlabPg.ACTIVE_MASK;
    if (active > num) throw new Error(`the slab at frame ${pfn} counts ${active} of ${num}`);
    // Off every list for now: its list bits go with the rebuild.
    f[i + SlabPg.COUNTERS] = counters & ~SlabPg.LIST_MASK;
    f[i + Pg.NEXT] = 0;
    f[i + Pg.PREV] = 0;
    if ((counters & SlabPg.QUARANTINED) !== 0) continue;
    let fl = (f[i + SlabPg.FREELIST] as number) >>> 0;
    if (objfl && active === num && fl !== 0) {
      // Its array was being given a home by an object not yet counted back.
      f[i + SlabPg.FREELIST] = 0;
      fl = 0;
      fixed++;
    }
    if (active < num && fl === 0) throw new Error(`the slab at frame ${pfn} has no index array`);
    const first = slabStart(slab, pfn) + c.redLeft;
    for (let e = active; e < num; e++) {
      const o = getEntry(slab, fl, e, idx);
      const obj = first + o * c.size;
      if (o >= num || free.has(obj) || slab.testBit(c, pfn, o)) {
        throw new Error(`entry ${e} of the index array of the slab at frame ${pfn} is damaged`);
      }
      free.add(obj);
    }
    freeObjects += num - active;
    lists.push([
      pfn,
      active === num ? SlabList.FULL : active === 0 ? SlabList.FREE : SlabList.PARTIAL,
    ]);
  }
  // The lists, rebuilt in mem_map order.
  nr.fill(0, Node.FULL_HEAD, Node.FREE_TAIL + 1);
  nr[Node.FREE_SLABS] = 0;
  for (const [pfn, list] of lists) listAdd(slab, nr, pfn, list, true);
  nr[Node.FREE_OBJECTS] = freeObjects;
  c.dv[slab.slabsAt[n] as number] = slabs;
  // The shared array: objects of the cache on this node, free, in no slab's free part, once.
  const sh = v.shared[n];
  let dropped = 0;
  if (sh !== undefined && sh.length > Ac.ENTRY) {
    const avail = Math.min(Math.max(sh[Ac.AVAIL] as number, 0), sh.length - Ac.ENTRY);
    const kept = new Set<number>();
    for (let k = 0; k < avail; k++) {
      const obj = (sh[Ac.ENTRY + k] as number) >>> 0;
      if (kept.has(obj) || free.has(obj) || !slab.isFreeObjectOf(c, obj, n)) {
        dropped++;
        continue;
      }
      sh[Ac.ENTRY + kept.size] = obj;
      kept.add(obj);
    }
    sh[Ac.AVAIL] = kept.size;
  }
  return `${slabs} slabs on three lists and ${freeObjects} free objects rebuilt from mem_map${fixed + dropped > 0 ? `, ${fixed} index arrays and ${dropped} shared entries put right` : ""}`;
}

/**
 * The objects of a dead cpu's array (`k` from index `from` of `arr`) it can still give back,
 * moved to the array's front: each an object of `c`, free, in no slab's free part and no
 * shared array, once. Each node's list_lock is taken while its objects are looked at.
 * Returns how many.
 */
export function deadArrayObjects(
  slab: SlabAllocator,
  c: KmemCache,
  arr: Int32Array,
  from: number,
  k: number,
): number {
  const b = (c.dv[blockAt(slab)] as number) >>> 0;
  if (b === 0 || k <= 0) return 0;
  const v = viewsOf(slab, c, b);
  const f = slab.f;
  const num = c.objects;
  const idx = v.shape.idx;
  const kept = new Set<number>();
  for (let n = 0; n < slab.nrNodes; n++) {
    slab.lockNode(c, n);
    try {
      const sh = v.shared[n];
      const inShared = new Set<number>();
      if (sh !== undefined && sh.length > Ac.ENTRY) {
        for (let j = 0; j < (sh[Ac.AVAIL] as number); j++)
          inShared.add((sh[Ac.ENTRY + j] as number) >>> 0);
      }
      for (let j = 0; j < k; j++) {
        const obj = (arr[from + j] as number) >>> 0;
        if (kept.has(obj) || inShared.has(obj) || !slab.isFreeObjectOf(c, obj, n)) continue;
        // Not in its slab's free part.
        const pfn = slab.slabOf(obj);
        const i = pfn * Frame.WORDS;
        const active = (f[i + SlabPg.COUNTERS] as number) & SlabPg.ACTIVE_MASK;
        const fl = (f[i + SlabPg.FREELIST] as number) >>> 0;
        const o = (obj - slabStart(slab, pfn) - c.redLeft) / c.size;
        let isFree = false;
        for (let e = active; e < num && fl !== 0 && !isFree; e++) {
          if (getEntry(slab, fl, e, idx) === o) isFree = true;
        }
        if (!isFree) kept.add(obj);
      }
    } finally {
      slab.unlockNode(c, n);
    }
  }
  let m = 0;
  for (const obj of kept) arr[from + m++] = obj;
  return m;
}
