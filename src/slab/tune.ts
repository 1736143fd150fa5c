/*
 * SLAB's tunables and reaping (Linux mm/slab.c do_tune_cpucache, slabinfo_write,
 * cache_reap, drain_array, drain_freelist, drain_cpu_caches) and the adaptive magazines
 * (Bonwick & Adams 2001, illumos kmem_cache_magazine_resize): what changes the arrays'
 * limits and what empties them.
 *
 * An interval of the adaptive rule is a reap round: `mm.reap()` ends one for the cpu that
 * calls it (cache_reap runs per cpu in Linux), so tests and the workbench drive intervals
 * explicitly; nothing here reads a clock.
 */

import { checkInteger, KmemError } from "../errors.js";
import { CpuRequest, CpuState, Hdr } from "../memory/index.js";
import type { KmemCache } from "../slab-common/index.js";
import { liveCaches, lockSlabMutex, unlockSlabMutex } from "../slub/index.js";
import { cpuState } from "../sync/index.js";
import {
  blockSlot,
  drainAlienArray,
  drainShared,
  freeBlock,
  freeFront,
  makeBlock,
  openArrays,
  viewsOf,
} from "./arrays.js";
import {
  Ac,
  ALIEN_STRIDE,
  Block,
  blockShape,
  blockWord,
  DEPOT_CONTENTION,
  MAGAZINE_SIZES,
  Node,
} from "./layout.js";
import type { ArrayViews, SlabAllocator } from "./slab.js";
import { ArraysOp, deadArrayObjects, intendArrays, writeTunables } from "./recover.js";
import { drainFreelist } from "./slabs.js";

/* ------------------------------------------------------------------ draining */

/** The `k` oldest objects of this cpu's array `ac` back to their slabs. */
function drainOwn(slab: SlabAllocator, c: KmemCache, ac: Int32Array, k: number): number {
  const n = ac[Ac.AVAIL] as number;
  k = Math.min(k, n);
  if (k <= 0) return 0;
  freeFront(slab, c, ac, k);
  return k;
}

/** Real caches with a block (their arrays and slab lists), with this context's views. */
function cachesWithArrays(slab: SlabAllocator): { c: KmemCache; v: ArrayViews }[] {
  const out: { c: KmemCache; v: ArrayViews }[] = [];
  for (const c of slab.caches) {
    if (c === null || c.id !== c.realId || c.dead) continue;
    if ((c.dv[blockWord(slab.nrCpus)] as number) === 0) continue;
    const v = slab.arraysOf(c);
    if (v !== null) out.push({ c, v });
  }
  return out;
}

/**
 * drain_cpu_caches for this cpu and every node: this cpu's array and alien arrays, and
 * every node's shared array. Returns the objects given back.
 */
export function drainAll(slab: SlabAllocator, c: KmemCache): number {
  if ((c.dv[blockWord(slab.nrCpus)] as number) === 0) return 0;
  const v = slab.arraysOf(c);
  if (v === null) return 0;
  let n = drainOwn(slab, c, v.ac, v.ac[Ac.AVAIL] as number);
  v.alien.forEach((al, node) => {
    n += drainAlienArray(slab, c, al, v.shared[node], node);
  });
  v.shared.forEach((sh, node) => {
    n += drainShared(slab, c, sh, node, sh[Ac.AVAIL] as number);
  });
  return n;
}

/**
 * What the shrinker and a FLUSH_SLABS request run first: every cache's arrays of this cpu,
 * and the shared arrays, back to the slabs.
 */
export function drainEveryCache(slab: SlabAllocator): number {
  slab.buddy.clearRequest(CpuRequest.FLUSH_SLABS);
  let n = 0;
  for (const { c } of cachesWithArrays(slab)) n += drainAll(slab, c);
  return n;
}

/** Every node's free slabs of `c` destroyed (kmem_cache_shrink). Returns pages. */
export function drainFreeSlabs(slab: SlabAllocator, c: KmemCache): number {
  if ((c.dv[blockWord(slab.nrCpus)] as number) === 0) return 0;
  const v = slab.arraysOf(c);
  if (v === null) return 0;
  let n = 0;
  for (let node = 0; node < slab.nrNodes; node++) {
    n += drainFreelist(slab, c, v, node, Number.POSITIVE_INFINITY);
  }
  return n << c.order;
}

/**
 * The shrinker: this cpu's arrays and the shared arrays of every cache, then free slabs
 * of every cache until `nrToScan` pages came back; other online cpus are asked to drain
 * theirs (FLUSH_SLABS). Returns pages.
 */
export function shrinkEveryCache(slab: SlabAllocator, nrToScan: number): number {
  drainEveryCache(slab);
  let pages = 0;
  lockSlabMutex(slab);
  try {
    for (const c of liveCaches(slab)) {
      if (c.id !== c.realId) continue;
      pages += drainFreeSlabs(slab, c);
      if (pages >= nrToScan) break;
    }
  } finally {
    unlockSlabMutex(slab);
  }
  if (slab.smp === true) slab.buddy.requestOthers(CpuRequest.FLUSH_SLABS);
  return pages;
}

/** cpu hotplug: the arrays of dead cpu `cpu` go back to the slabs. */
export function drainDeadCpu(slab: SlabAllocator, cpu: number): number {
  let n = 0;
  lockSlabMutex(slab);
  try {
    for (const c of slab.caches) {
      if (c === null || c.id !== c.realId || c.dead) continue;
      const b = (c.dv[blockWord(slab.nrCpus)] as number) >>> 0;
      if (b === 0) continue;
      const v = viewsOf(slab, c, b);
      const s = blockShape(
        v.hdr[Block.CAP] as number,
        v.hdr[Block.SHARED_CAP] as number,
        slab.nrCpus,
        slab.nrNodes,
      );
      const ac = slab.phys.wordsAt(b + (s.acBase + s.acStride * cpu) * 4, Ac.ENTRY + s.cap);
      // Only what the cpu can still give back: an object half taken or half given back
      // by a refill, flush or free it died in is its slab's, or in use (recover.ts).
      const avail = Math.min(Math.max(ac[Ac.AVAIL] as number, 0), s.cap);
      ac[Ac.AVAIL] = deadArrayObjects(slab, c, ac, Ac.ENTRY, avail);
      n += drainOwn(slab, c, ac, ac[Ac.AVAIL] as number);
      for (let node = 0; node < slab.nrNodes && slab.nrNodes > 1; node++) {
        const w = s.alienBase + ALIEN_STRIDE * (cpu * slab.nrNodes + node);
        const al = slab.phys.wordsAt(b + w * 4, Ac.ENTRY + 12);
        const k = Math.min(Math.max(al[Ac.AVAIL] as number, 0), 12);
        al[Ac.AVAIL] = deadArrayObjects(slab, c, al, Ac.ENTRY, k);
        n += drainAlienArray(slab, c, al, v.shared[node], node);
      }
    }
  } finally {
    unlockSlabMutex(slab);
  }
  return n;
}

/* ------------------------------------------------------------------ cache_reap */

/**
 * cache_reap on this cpu: for every cache, the alien arrays drain; this cpu's array, if it
 * was not touched since the last round, gives back (limit + 4) / 5 objects (else it is
 * marked untouched); so does this node's shared array; and up to
 * (free_limit + 5 * num - 1) / (5 * num) empty slabs of this node go back to the page
 * allocator. With adaptive caches the round also ends a contention interval (adapt).
 */
export function reapAll(slab: SlabAllocator): { objects: number; pages: number } {
  let objects = 0;
  let pages = 0;
  lockSlabMutex(slab);
  let list: { c: KmemCache; v: ArrayViews }[];
  try {
    list = cachesWithArrays(slab);
  } finally {
    unlockSlabMutex(slab);
  }
  for (const { c, v } of list) {
    const r = reapCache(slab, c, v);
    objects += r.objects;
    pages += r.pages;
  }
  return { objects, pages };
}

function reapCache(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
): { objects: number; pages: number } {
  let objects = 0;
  const node = slab.nrNodes === 1 ? 0 : slab.buddy.localNode;
  if (v.arrays) {
    v.alien.forEach((al, n) => {
      objects += drainAlienArray(slab, c, al, v.shared[n], n);
    });
    const ac = v.ac;
    const touched = ac[Ac.TOUCHED] !== 0;
    if (v.hdr[Block.ADAPTIVE] !== 0) objects += adapt(slab, c, v, touched);
    if (touched) ac[Ac.TOUCHED] = 0;
    else objects += drainOwn(slab, c, ac, (((ac[Ac.LIMIT] as number) + 4) / 5) | 0);
  }
  const sh = v.shared[node];
  if (sh !== undefined) {
    if (sh[Ac.TOUCHED] !== 0) sh[Ac.TOUCHED] = 0;
    else objects += drainShared(slab, c, sh, node, (((sh[Ac.LIMIT] as number) + 4) / 5) | 0);
  }
  // drain_freelist: a node whose free list served no allocation since the last round gives
  // back up to (free_limit + 5 * num - 1) / (5 * num) free slabs.
  const nr = v.nodes[node] as Int32Array;
  let slabs = 0;
  if (nr[Node.FREE_TOUCHED] !== 0) nr[Node.FREE_TOUCHED] = 0;
  else {
    const limit = nr[Node.FREE_LIMIT] as number;
    const max = Math.floor((limit + 5 * c.objects - 1) / (5 * c.objects));
    slabs = drainFreelist(slab, c, v, node, max);
  }
  return { objects, pages: slabs << c.order };
}

/**
 * Bonwick & Adams's rule at the end of this cpu's interval: more failed trylocks of the
 * cache's shared layer than DEPOT_CONTENTION since the last one, by any cpu (the depot's
 * contention is the cache's, as in illumos), grow this cpu's array to the next magazine
 * size if it was used in the interval; an array not touched in the interval shrinks to the
 * one below (SLAB's touched rule), giving back what no longer fits. Returns the objects
 * given back.
 */
function adapt(slab: SlabAllocator, c: KmemCache, v: ArrayViews, touched: boolean): number {
  const ac = v.ac;
  const total = Atomics.load(v.hdr, Block.FAILS);
  const fails = (total - (ac[Ac.FAILS_SEEN] as number)) | 0;
  ac[Ac.FAILS_SEEN] = total;
  let mag = ac[Ac.MAG] as number;
  if (touched && fails > DEPOT_CONTENTION && mag < MAGAZINE_SIZES.length - 1) mag++;
  else if (!touched && mag > 0) mag--;
  else return 0;
  const limit = MAGAZINE_SIZES[mag] as number;
  ac[Ac.MAG] = mag;
  ac[Ac.LIMIT] = limit;
  ac[Ac.BATCH] = (limit + 1) >>> 1;
  const excess = (ac[Ac.AVAIL] as number) - limit;
  return excess > 0 ? drainOwn(slab, c, ac, excess) : 0;
}

/* ------------------------------------------------------------------ tunables */

/**
 * slabinfo_write + do_tune_cpucache: limit >= 1, 1 <= batchcount <= limit, shared >= 0, or
 * RangeError (Linux: -EINVAL, nothing changed). Limits the arrays have room for take effect
 * at once (each cpu's array gives back what is over at its next flush, this cpu's now);
 * larger ones need a new block, which needs every other cpu offline (KmemError BUSY).
 */
export function tuneCache(
  slab: SlabAllocator,
  c: KmemCache,
  limit: number,
  batch: number,
  shared: number,
): void {
  checkInteger("limit", limit);
  checkInteger("batchcount", batch);
  checkInteger("shared", shared);
  if (limit < 1 || batch < 1 || batch > limit || shared < 0) {
    throw new RangeError(
      `tuneCache ${c.name}: limit ${limit} batchcount ${batch} shared ${shared} refused (need limit >= 1, 1 <= batchcount <= limit, shared >= 0)`,
    );
  }
  if (!slab.percpu || c.debug !== 0) {
    throw new RangeError(
      `tuneCache ${c.name}: the cache has no array caches (${c.debug !== 0 ? "a debug cache" : "per-cpu caching is off"})`,
    );
  }
  const v = openArrays(slab, c);
  if (v === null) throw new KmemError("BUSY", `tuneCache ${c.name}: no memory for its arrays`);
  const sharedCap = slab.nrCpus > 1 ? batch * shared : 0;
  lockSlabMutex(slab);
  try {
    const hdr = v.hdr;
    if (limit <= (hdr[Block.CAP] as number) && sharedCap <= (hdr[Block.SHARED_CAP] as number)) {
      // Under SLAB's array intent record TUNE (recover.ts: rolled forward).
      intendArrays(slab.h, ArraysOp.TUNE, blockSlot(slab, c), 0, 0, limit, batch, shared);
      writeTunables(slab.phys, v.block, slab.nrCpus, slab.nrNodes, c.objects, limit, batch, shared);
      slab.h[Hdr.SLAB_ARRAYS] = ArraysOp.NONE;
      drainOwn(slab, c, v.ac, (v.ac[Ac.AVAIL] as number) - limit);
      v.shared.forEach((sh, node) => {
        const over = (sh[Ac.AVAIL] as number) - sharedCap;
        if (over > 0) drainShared(slab, c, sh, node, over);
      });
      return;
    }
    for (let cpu = 0; cpu < slab.nrCpus; cpu++) {
      if (cpu !== slab.cpuId && cpuState(slab.h, cpu) === CpuState.ONLINE) {
        throw new KmemError(
          "BUSY",
          `tuneCache ${c.name}: a limit of ${limit} (shared ${sharedCap}) needs larger arrays than its ${v.hdr[Block.CAP]}, made only while no other cpu is online`,
        );
      }
    }
    drainAll(slab, c);
    // Offline cpus hold nothing (offlineCpu drained them); dead ones are drained here.
    drainDeadCpuOf(slab, c, v);
    const adaptive = slab.adaptive ? 143 : 0;
    // The slab lists move to the new block with the node records (makeBlock), under SLAB's
    // array intent record MAKE naming the old block, freed before the record is cleared.
    const cap = Math.max(limit, adaptive);
    const b = makeBlock(slab, c, limit, batch, shared, cap, sharedCap, true, v);
    if (b === 0) throw new KmemError("BUSY", `tuneCache ${c.name}: no memory for its arrays`);
    viewsOf(slab, c, b);
    freeBlock(slab, v.block);
    slab.h[Hdr.SLAB_ARRAYS] = ArraysOp.NONE;
  } finally {
    unlockSlabMutex(slab);
  }
}

/** Every other cpu's arrays of `c` back to the slabs (no other cpu is online). */
function drainDeadCpuOf(slab: SlabAllocator, c: KmemCache, v: ArrayViews): void {
  const s = blockShape(
    v.hdr[Block.CAP] as number,
    v.hdr[Block.SHARED_CAP] as number,
    slab.nrCpus,
    slab.nrNodes,
  );
  for (let cpu = 0; cpu < slab.nrCpus; cpu++) {
    if (cpu === slab.cpuId) continue;
    const ac = slab.phys.wordsAt(v.block + (s.acBase + s.acStride * cpu) * 4, Ac.ENTRY + s.cap);
    drainOwn(slab, c, ac, ac[Ac.AVAIL] as number);
    for (let node = 0; node < slab.nrNodes && slab.nrNodes > 1; node++) {
      const w = s.alienBase + ALIEN_STRIDE * (cpu * slab.nrNodes + node);
      const al = slab.phys.wordsAt(v.block + w * 4, Ac.ENTRY + 12);
      drainAlienArray(slab, c, al, v.shared[node], node);
    }
  }
}

/**
 * slabinfo's columns: [limit, batchcount, sharedfactor, sharedavail]; this cpu's limit
 * and batchcount when adaptive caches made them differ from the cache's.
 */
export function tunablesOf(slab: SlabAllocator, c: KmemCache): [number, number, number, number] {
  const b = (c.dv[blockWord(slab.nrCpus)] as number) >>> 0;
  if (b === 0) return [0, 0, 0, 0];
  const v = slab.arraysOf(c);
  if (v === null || !v.arrays) return [0, 0, 0, 0];
  let sharedAvail = 0;
  for (const sh of v.shared) sharedAvail += sh[Ac.AVAIL] as number;
  const adaptive = v.hdr[Block.ADAPTIVE] !== 0;
  return [
    adaptive ? (v.ac[Ac.LIMIT] as number) : (v.hdr[Block.LIMIT] as number),
    adaptive ? (v.ac[Ac.BATCH] as number) : (v.hdr[Block.BATCH] as number),
    v.hdr[Block.SHARED] as number,
    sharedAvail,
  ];
}
