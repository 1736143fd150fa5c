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
 *                                                          cache, free, in no slab's free
 *                                                          part, once (of any node: a
 *                                                          refill's fallback brings another
 *                                                          node's objects to a cpu's array,
 *                                                          a flush to the shared array)
 *   an object in the shared array or a slab's free part    dropped from the dead cpu's
 *   and in the dead cpu's array or alien array too (a       arrays (dropHeld), under the
 *   refill, flush, free_block, alien or shared drain:       lock: no live cpu can take it
 *   the moves of arrays.ts's header, two homes only         from the node's side while they
 *   while the lock is held)                                still name it
 *
 * The dead cpu's own arrays, its alien arrays among them (NUMA), are then given back by
 * drainDeadCpu (tune.ts), each entry kept only if deadArrayObjects finds it free and in no
 * slab's free part or shared array: an object pushed and not yet marked free (a free goes
 * into the array, the alien array too, before its bit is cleared) stays allocated, and an
 * alien array drained half way into its node's shared array and slabs (under that node's
 * list_lock, rebuilt above) keeps only what had not gone yet.
 *
 * The objects in other cpus' arrays are theirs (changed without a lock): they are the
 * objects counted active whose bits are clear and that no shared array holds, and are not
 * looked at. Nothing read is trusted: a count past the slab's objects or an index array
 * naming an object twice, past the slab or in use makes the recovery throw (offlineCpu
 * reports the lock unrecovered).
 *
 * What stays lost is what the dead context had in hand: a new slab not yet counted, a
 * free slab taken off to be destroyed, the object it was taking or freeing on its array
 * without a lock (allocated still). No free object in an array is lost: each is in an
 * array or its slab at every instruction (arrays.ts).
 *
 * slab_mutex (offlineCpu, Kmem.reopen): a cache's array block is made, tuned and given back
 * under slab_mutex through SLAB's array intent record (Hdr.SLAB_ARRAYS..SLAB_ARRAYS_FREE,
 * on the lock's line beside the registry's record of src/slub/registry.ts), written before
 * the first store of each change and cleared after its last; repairArrays (the memory
 * alone, after repairRegistry) settles it, and offlineCpu's drain (finishArrays) frees the
 * block it leaves (SLAB_ARRAYS_FREE):
 *
 *   MAKE     a block being made (openArrays on a cache's first use; tuneCache to larger
 *            arrays, OLD the block replaced, whose node records are copied in before the
 *            new block is published in the descriptor)
 *            -> not yet published: rolled back, the new block (once allocated) freed;
 *               published: rolled forward, the old block (its magic still set) freed
 *   TUNE     tuneCache within the arrays' room: the tunables, every node's free_limit,
 *            every cpu's limit and batchcount and every shared array's limit
 *            -> rolled forward: every word written as the record says (a shared array
 *               above its new limit gives back what is over at its next drain)
 *   RELEASE  destroy() giving the block back (its slabs gone): OLD
 *            -> rolled forward: the descriptor's block word cleared, the block (its magic
 *               still set) freed
 *
 * Lost to a death at most: the block a MAKE allocated in the one statement before the
 * record names it, or one being freed once its magic is cleared (what the context held).
 * A destroy's slabs and their off-slab index arrays are released in two passes (slab.ts
 * releaseCached, afterRelease): the slabs without one under the list_locks, then, with no
 * lock of the cache held, each remaining slab's index array (its frame's word cleared
 * first: one lost at most) and the slab; a destroy rolled forward (finishRegistry) runs
 * both again over what is left.
 */

import { Frame, Hdr, Pg, PgFlag, type PhysMem, Vm } from "../memory/index.js";
import type { KmemCache } from "../slab-common/index.js";
import { Desc } from "../slub/index.js";
import { blockAt, viewsOf } from "./arrays.js";
import {
  Ac,
  ALIEN_LIMIT,
  ALIEN_STRIDE,
  Block,
  blockShape,
  blockWord,
  freeLimit,
  MAGAZINE_SIZES,
  Mgmt,
  Node,
  SlabList,
  SlabPg,
} from "./layout.js";
import type { ArrayViews, SlabAllocator } from "./slab.js";
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
  const b = (c.dv[blockAt(slab)] as number) >>> 0;
  if (b === 0) return "no slabs";
  const v = viewsOf(slab, c, b, false);
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
  // An object of another node's slab (a refill's fallback brought it) is checked in its
  // own slab, whose free part no object in an array is ever put in while it is there.
  const sh = v.shared[n];
  let dropped = 0;
  let taken = 0;
  const kept = new Set<number>();
  if (sh !== undefined && sh.length > Ac.ENTRY) {
    const avail = Math.min(Math.max(sh[Ac.AVAIL] as number, 0), sh.length - Ac.ENTRY);
    for (let k = 0; k < avail; k++) {
      const obj = (sh[Ac.ENTRY + k] as number) >>> 0;
      let ok = !kept.has(obj) && !free.has(obj);
      if (ok) {
        ok = false;
        for (let m = 0; m < slab.nrNodes && !ok; m++) ok = slab.isFreeObjectOf(c, obj, m);
      }
      if (!ok) {
        dropped++;
        continue;
      }
      sh[Ac.ENTRY + kept.size] = obj;
      kept.add(obj);
    }
    sh[Ac.AVAIL] = kept.size;
  }
  if (dead >= 0 && dead < slab.nrCpus) taken = dropHeld(slab, v, b, dead, kept, free);
  return `${slabs} slabs on three lists and ${freeObjects} free objects rebuilt from mem_map${fixed + dropped + taken > 0 ? `, ${fixed} index arrays, ${dropped} shared entries and ${taken} entries of the dead cpu's arrays put right` : ""}`;
}

/**
 * The dead cpu's array and alien arrays of `c` (block `b`) without the objects the node's
 * shared array (`shared`) or its slabs' free parts (`free`) hold: an object that was in
 * both when it died (a refill, a flush, a free_block, an alien array's or a shared array's
 * drain, the list_lock held) stays on the node's side, dropped from the dead cpu's arrays
 * under the lock, so that no live cpu takes it from there while they still name it.
 * Returns how many entries went.
 */
function dropHeld(
  slab: SlabAllocator,
  v: ArrayViews,
  b: number,
  dead: number,
  shared: ReadonlySet<number>,
  free: ReadonlySet<number>,
): number {
  const s = blockShape(
    v.hdr[Block.CAP] as number,
    v.hdr[Block.SHARED_CAP] as number,
    slab.nrCpus,
    slab.nrNodes,
  );
  const arrays = [slab.phys.wordsAt(b + (s.acBase + s.acStride * dead) * 4, Ac.ENTRY + s.cap)];
  for (let m = 0; m < slab.nrNodes && slab.nrNodes > 1; m++) {
    const w = s.alienBase + ALIEN_STRIDE * (dead * slab.nrNodes + m);
    arrays.push(slab.phys.wordsAt(b + w * 4, Ac.ENTRY + ALIEN_LIMIT));
  }
  let taken = 0;
  for (const arr of arrays) {
    const avail = Math.min(Math.max(arr[Ac.AVAIL] as number, 0), arr.length - Ac.ENTRY);
    let m = 0;
    for (let j = 0; j < avail; j++) {
      const obj = (arr[Ac.ENTRY + j] as number) >>> 0;
      if (shared.has(obj) || free.has(obj)) taken++;
      else arr[Ac.ENTRY + m++] = obj;
    }
    if (m < avail) arr[Ac.AVAIL] = m;
  }
  return taken;
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

/* ------------------------------------------------------------------ slab_mutex */

/** SLAB's array intent record's operations (Hdr.SLAB_ARRAYS; see the header). */
export const enum ArraysOp {
  NONE = 0,
  MAKE = 1,
  TUNE = 2,
  RELEASE = 3,
}

/**
 * Writes SLAB's array intent record (slab_mutex held) before the first store of a block
 * change: the op word last, so that a record is whole once it names an op.
 */
export function intendArrays(
  h: Int32Array,
  op: ArraysOp,
  slot: number,
  nw: number,
  old: number,
  limit: number,
  batch: number,
  shared: number,
): void {
  h[Hdr.SLAB_ARRAYS_SLOT] = slot;
  h[Hdr.SLAB_ARRAYS_NEW] = nw;
  h[Hdr.SLAB_ARRAYS_OLD] = old;
  h[Hdr.SLAB_ARRAYS_LIMIT] = limit;
  h[Hdr.SLAB_ARRAYS_BATCH] = batch;
  h[Hdr.SLAB_ARRAYS_SHARED] = shared;
  h[Hdr.SLAB_ARRAYS] = op;
}

/** A block whose magic says it is one (read from the buffer: range-checked). */
function isBlock(phys: PhysMem, b: number): boolean {
  return (
    b !== 0 &&
    (b & (phys.pageSize - 1)) === 0 &&
    phys.hasByte(b + Block.WORDS * 4 - 1) &&
    phys.word((b >>> 2) + Block.MAGIC) === Block.MAGIC_VALUE
  );
}

/** Leaves the block at `b` for the drain to free (finishArrays); `order` if no header yet. */
function leaveBlock(phys: PhysMem, b: number, order: number): void {
  const o = isBlock(phys, b) ? phys.word((b >>> 2) + Block.ORDER) : order;
  if (o < 0 || o >= 16) return;
  phys.header[Hdr.SLAB_ARRAYS_FREE] = (b | o) >>> 0;
}

/**
 * slab_mutex's recovery for SLAB's arrays (after repairRegistry, slab_mutex held by the
 * caller): the block change a dead context left half done, settled from the record (see
 * the header); a block to free is left in SLAB_ARRAYS_FREE. Needs only the memory.
 */
export function repairArrays(phys: PhysMem): string {
  const h = phys.header;
  const op = h[Hdr.SLAB_ARRAYS] as number;
  if (op === ArraysOp.NONE) return "";
  const slot = h[Hdr.SLAB_ARRAYS_SLOT] as number;
  const nw = (h[Hdr.SLAB_ARRAYS_NEW] as number) >>> 0;
  const old = (h[Hdr.SLAB_ARRAYS_OLD] as number) >>> 0;
  const nrCpus = h[Hdr.NR_CPUS] as number;
  const nrNodes = h[Hdr.NR_NODES] as number;
  if (slot <= 0 || !phys.hasByte(slot * 4 + 3)) {
    throw new Error(`SLAB's array intent record names descriptor word ${slot}`);
  }
  let done: string;
  if (op === ArraysOp.MAKE) {
    const published = nw !== 0 && phys.word(slot) >>> 0 === nw;
    if (published) {
      if (isBlock(phys, old)) leaveBlock(phys, old, 0);
      done = "an array block made: kept, the block it replaced freed";
    } else {
      if (nw !== 0) leaveBlock(phys, nw, h[Hdr.SLAB_ARRAYS_LIMIT] as number);
      done = "an array block being made: undone";
    }
  } else if (op === ArraysOp.TUNE) {
    const b = phys.word(slot) >>> 0;
    if (!isBlock(phys, b)) throw new Error(`the tuned cache's array block ${b} is damaged`);
    const limit = h[Hdr.SLAB_ARRAYS_LIMIT] as number;
    const batch = h[Hdr.SLAB_ARRAYS_BATCH] as number;
    const shared = h[Hdr.SLAB_ARRAYS_SHARED] as number;
    const objects = phys.word(slot - blockWord(nrCpus) + Desc.OBJECTS);
    writeTunables(phys, b, nrCpus, nrNodes, objects, limit, batch, shared);
    done = `a tune completed (limit ${limit}, batchcount ${batch}, shared ${shared})`;
  } else if (op === ArraysOp.RELEASE) {
    if (phys.word(slot) >>> 0 === old) phys.setWord(slot, 0);
    if (isBlock(phys, old)) leaveBlock(phys, old, 0);
    done = "an array block given back: completed";
  } else {
    throw new Error(`SLAB's array intent record says ${op}`);
  }
  h[Hdr.SLAB_ARRAYS] = ArraysOp.NONE;
  return done;
}

/**
 * tuneCache within the arrays' room (and its roll forward): the block's tunables, every
 * node's free_limit, every cpu's limit, batchcount and magazine, every shared array's
 * limit and batchcount. Idempotent.
 */
export function writeTunables(
  phys: PhysMem,
  b: number,
  nrCpus: number,
  nrNodes: number,
  objects: number,
  limit: number,
  batch: number,
  shared: number,
): void {
  const hdr = phys.wordsAt(b, Block.WORDS);
  const s = blockShape(hdr[Block.CAP] as number, hdr[Block.SHARED_CAP] as number, nrCpus, nrNodes);
  const sharedCap = nrCpus > 1 ? batch * shared : 0;
  hdr[Block.LIMIT] = limit;
  hdr[Block.BATCH] = batch;
  hdr[Block.SHARED] = shared;
  for (let n = 0; n < nrNodes; n++) {
    phys.setWord(
      (b >>> 2) + Block.WORDS + Node.WORDS * n + Node.FREE_LIMIT,
      freeLimit(nrCpus, batch, objects),
    );
  }
  const mag = MAGAZINE_SIZES.indexOf(limit);
  for (let cpu = 0; cpu < nrCpus; cpu++) {
    const ac = phys.wordsAt(b + (s.acBase + s.acStride * cpu) * 4, Ac.ENTRY);
    // The batchcount first when it falls, the limit first when it rises: never above it.
    if (batch <= (ac[Ac.BATCH] as number)) {
      ac[Ac.BATCH] = batch;
      ac[Ac.LIMIT] = limit;
    } else {
      ac[Ac.LIMIT] = limit;
      ac[Ac.BATCH] = batch;
    }
    if (mag >= 0) ac[Ac.MAG] = mag;
  }
  for (let n = 0; n < nrNodes && s.sharedCap > 0; n++) {
    const sh = phys.wordsAt(b + (s.sharedBase + s.sharedStride * n) * 4, Ac.ENTRY);
    sh[Ac.LIMIT] = sharedCap;
    sh[Ac.BATCH] = batch;
  }
}

/**
 * offlineCpu's drain (slab_mutex held, no other lock): the block repairArrays left to free
 * goes back to the page allocator. Returns what was done ("" for nothing).
 */
export function finishArrays(slab: SlabAllocator): string {
  const h = slab.h;
  if ((h[Hdr.SLAB_ARRAYS] as number) !== ArraysOp.NONE) repairArrays(slab.phys);
  const w = (h[Hdr.SLAB_ARRAYS_FREE] as number) >>> 0;
  if (w === 0) return "";
  h[Hdr.SLAB_ARRAYS_FREE] = 0;
  const order = w & 15;
  const b = w - order;
  if (isBlock(slab.phys, b)) {
    // Counted when its header was written (arrays.ts makeBlock).
    slab.phys.setWord((b >>> 2) + Block.MAGIC, 0);
    slab.ev[Vm.NR_SLAB_UNRECLAIMABLE] =
      (slab.ev[Vm.NR_SLAB_UNRECLAIMABLE] as number) - (1 << order);
  }
  slab.buddy.freePages(b, order);
  return `an array block of order ${order} freed`;
}
