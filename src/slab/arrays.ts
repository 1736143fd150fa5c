/*
 * SLAB's array caches (Linux mm/slab.c cache_alloc_refill, cache_flusharray, free_block,
 * __cache_free_alien, alloc_arraycache): the slow paths between a cpu's array, its node's
 * shared array and the slabs; a cache's array block, made on first use.
 *
 * Functions take the allocator (slab.ts, whose header has the invariants and locks).
 *
 * A free object on its way between a cpu's array, an alien array, a shared array and its
 * slab is, at every instruction, in one of them, so that a context dying anywhere loses
 * none (recover.ts); in two only while the node's list_lock is held, whose recovery keeps
 * the node's side and drops it from the dead cpu's arrays:
 *
 *   refill from the shared array    this cpu's array written and counted, then the shared
 *                                   array shortened, under the lock
 *   flush to the shared array       the shared array grown, then this cpu's array
 *                                   shortened, under the lock
 *   free_block of an array's front  each run of one node's objects put back in their slabs,
 *   (freeFront: flush, drain)       then taken off the array, under that node's lock
 *   alien array drained             into its node's shared array and slabs, then emptied,
 *                                   under that node's lock
 *   shared array drained            its node's objects back to their slabs, another node's
 *   (drainShared: shrink, reap,     into this cpu's alien array for their node (taking
 *   tune)                           their node's lock under this one would break the lock
 *                                   order), then the array shortened, under the lock; the
 *                                   alien arrays drain after, under their nodes' locks
 */

import { KmemError } from "../errors.js";
import { CpuRequest, Hdr, Vm } from "../memory/index.js";
import { Gfp } from "../page/index.js";
import type { KmemCache } from "../slab-common/index.js";
import { Desc, lockSlabMutex, unlockSlabMutex } from "../slub/index.js";
import { tryLock } from "../sync/index.js";
import {
  Ac,
  ALIEN_LIMIT,
  ALIEN_STRIDE,
  BATCHREFILL_LIMIT,
  Block,
  blockShape,
  blockWord,
  defaultTunables,
  freeLimit,
  freelistCacheSize,
  MAGAZINE_SIZES,
  MAGAZINE_START,
  Mgmt,
  Node,
  slabShape,
} from "./layout.js";
import type { ArrayViews, SlabAllocator } from "./slab.js";
import { ArraysOp, intendArrays } from "./recover.js";
import { destroySlabs, fill, putObjects } from "./slabs.js";
import { drainEveryCache } from "./tune.js";

/** Descriptor word of the array block's address. */
export function blockAt(slab: SlabAllocator): number {
  return blockWord(slab.nrCpus);
}

/* ------------------------------------------------------------------ the block */

/**
 * The views of `c`'s block for this context; the block is made (under slab_mutex) by the
 * first context to use the cache. Every cache has one: its node records (the slab lists)
 * live there; a debug cache, or every cache when per-cpu caching is off, has arrays of no
 * slots (objects go to and from the slabs). null: no memory for the block.
 */
export function openArrays(slab: SlabAllocator, c: KmemCache): ArrayViews | null {
  const at = blockAt(slab);
  let b = (c.dv[at] as number) >>> 0;
  if (b === 0) {
    lockSlabMutex(slab);
    try {
      b = (c.dv[at] as number) >>> 0;
      if (b === 0) {
        const t = defaultTunables(c.size, slab.pageSize, slab.nrCpus);
        if (!slab.percpu || c.debug !== 0) {
          b = makeBlock(slab, c, t.limit, t.batch, 0, 0, 0, false);
        } else {
          let limit = t.limit;
          let cap = t.limit;
          if (slab.adaptive) {
            limit = Math.min(t.limit, MAGAZINE_SIZES[MAGAZINE_START] as number);
            cap = Math.max(t.limit, MAGAZINE_SIZES[MAGAZINE_SIZES.length - 1] as number);
          }
          b = makeBlock(slab, c, limit, (limit + 1) >>> 1, t.shared, cap, t.batch * t.shared);
        }
        if (b === 0) return null;
      }
    } finally {
      unlockSlabMutex(slab);
    }
  }
  return viewsOf(slab, c, b);
}

/** The name of the cache whose objects hold off-slab index arrays of `bytes` bytes. */
export function freelistCacheName(bytes: number): string {
  return `slab-freelist-${bytes}`;
}

/**
 * Builds (and keeps) this context's views of the block at `b`. `keep` false: views for a
 * recovery, with the locks a dead cpu held taken over (slab_mutex among them): not kept,
 * and with no freelist cache (looking it up takes slab_mutex).
 */
export function viewsOf(slab: SlabAllocator, c: KmemCache, b: number, keep = true): ArrayViews {
  const hdr = slab.phys.wordsAt(b, Block.WORDS);
  if (hdr[Block.MAGIC] !== Block.MAGIC_VALUE || hdr[Block.CACHE] !== c.realId) {
    throw new KmemError("CORRUPTION", `ASLAB-1: the array block of ${c.name} is damaged`);
  }
  const s = blockShape(
    hdr[Block.CAP] as number,
    hdr[Block.SHARED_CAP] as number,
    slab.nrCpus,
    slab.nrNodes,
  );
  const nodes: Int32Array[] = [];
  for (let n = 0; n < slab.nrNodes; n++) {
    nodes.push(slab.phys.wordsAt(b + (Block.WORDS + Node.WORDS * n) * 4, Node.WORDS));
  }
  const ac = slab.phys.wordsAt(b + (s.acBase + s.acStride * slab.cpuId) * 4, Ac.ENTRY + s.cap);
  const shared: Int32Array[] = [];
  if (s.sharedCap > 0) {
    for (let n = 0; n < slab.nrNodes; n++) {
      shared.push(
        slab.phys.wordsAt(b + (s.sharedBase + s.sharedStride * n) * 4, Ac.ENTRY + s.sharedCap),
      );
    }
  }
  const alien: Int32Array[] = [];
  if (slab.nrNodes > 1) {
    for (let n = 0; n < slab.nrNodes; n++) {
      const w = s.alienBase + ALIEN_STRIDE * (slab.cpuId * slab.nrNodes + n);
      alien.push(slab.phys.wordsAt(b + w * 4, Ac.ENTRY + ALIEN_LIMIT));
    }
  }
  const mgmt = c.dv[Desc.MIN_PARTIAL] as number as Mgmt;
  const shape = slabShape(
    c.size,
    c.objects,
    c.order,
    c.bitmap,
    c.dv[Desc.ALIGN] as number,
    mgmt,
    slab.pageSize,
  );
  const fcache =
    mgmt === Mgmt.OFF_SLAB && keep
      ? slab.findByName(freelistCacheName(freelistCacheSize(c.objects)))
      : null;
  const v: ArrayViews = {
    serial: c.serial,
    block: b,
    hdr,
    ac,
    shared,
    alien,
    nodes,
    shape,
    fcache,
    arrays: hdr[Block.ARRAYS] !== 0,
  };
  if (keep) slab.views[c.realId] = v;
  return v;
}

/** The word index of the block word in the descriptor of `c`'s real cache. */
export function blockSlot(slab: SlabAllocator, c: KmemCache): number {
  const real = slab.cacheById(c.realId) ?? c;
  return (real.desc >>> 2) + blockAt(slab);
}

/**
 * alloc_arraycache for every cpu, node and node pair at once, and each node's
 * kmem_cache_node: a zeroed block with the tunables and free_limit written in, `old`'s
 * node records (a block being replaced: its slab lists) copied in, its address stored in
 * the descriptor (slab_mutex held). 0 if the page allocator has no block. Under SLAB's
 * array intent record MAKE (recover.ts), cleared by the caller once `old` is freed.
 */
export function makeBlock(
  slab: SlabAllocator,
  c: KmemCache,
  limit: number,
  batch: number,
  shared: number,
  cap: number,
  sharedCap: number,
  arrays = true,
  old: ArrayViews | null = null,
): number {
  const s = blockShape(cap, sharedCap, slab.nrCpus, slab.nrNodes);
  let order = 0;
  while (slab.pageSize << order < s.words * 4) order++;
  if (order >= slab.maxOrder) return 0;
  const h = slab.h;
  intendArrays(h, ArraysOp.MAKE, blockSlot(slab, c), 0, old === null ? 0 : old.block, order, 0, 0);
  const b = slab.buddy.allocPages(order, Gfp.KERNEL | Gfp.NOWARN) >>> 0;
  h[Hdr.SLAB_ARRAYS_NEW] = b;
  if (b === 0) {
    h[Hdr.SLAB_ARRAYS] = ArraysOp.NONE;
    return 0;
  }
  slab.phys.fill(0, b, b + (slab.pageSize << order));
  // Slab metadata, as Linux's kmalloc'd arrays are: counted in nr_slab_unreclaimable.
  slab.ev[Vm.NR_SLAB_UNRECLAIMABLE] = (slab.ev[Vm.NR_SLAB_UNRECLAIMABLE] as number) + (1 << order);
  const hdr = slab.phys.wordsAt(b, Block.WORDS);
  hdr[Block.MAGIC] = Block.MAGIC_VALUE;
  hdr[Block.CACHE] = c.realId;
  hdr[Block.ORDER] = order;
  hdr[Block.LIMIT] = limit;
  hdr[Block.BATCH] = batch;
  hdr[Block.SHARED] = shared;
  hdr[Block.CAP] = cap;
  hdr[Block.SHARED_CAP] = sharedCap;
  hdr[Block.ADAPTIVE] = slab.adaptive && arrays ? 1 : 0;
  hdr[Block.ARRAYS] = arrays ? 1 : 0;
  for (let n = 0; n < slab.nrNodes; n++) {
    const nr = slab.phys.wordsAt(b + (Block.WORDS + Node.WORDS * n) * 4, Node.WORDS);
    nr[Node.FREE_LIMIT] = freeLimit(slab.nrCpus, batch, c.objects);
  }
  const mag = MAGAZINE_SIZES.indexOf(limit);
  for (let cpu = 0; cpu < slab.nrCpus && arrays; cpu++) {
    const ac = slab.phys.wordsAt(b + (s.acBase + s.acStride * cpu) * 4, Ac.ENTRY);
    ac[Ac.LIMIT] = limit;
    ac[Ac.BATCH] = batch;
    ac[Ac.MAG] = mag < 0 ? MAGAZINE_START : mag;
  }
  for (let n = 0; n < slab.nrNodes && sharedCap > 0; n++) {
    const sh = slab.phys.wordsAt(b + (s.sharedBase + s.sharedStride * n) * 4, Ac.ENTRY);
    sh[Ac.LIMIT] = sharedCap;
    sh[Ac.BATCH] = batch;
  }
  if (slab.nrNodes > 1 && arrays) {
    for (let k = 0; k < slab.nrCpus * slab.nrNodes; k++) {
      const al = slab.phys.wordsAt(b + (s.alienBase + ALIEN_STRIDE * k) * 4, Ac.ENTRY);
      al[Ac.LIMIT] = ALIEN_LIMIT;
      al[Ac.BATCH] = ALIEN_LIMIT;
    }
  }
  if (old !== null) {
    // The slab lists move with the node records (free_limit anew), before it is published.
    for (let n = 0; n < slab.nrNodes; n++) {
      const nr = slab.phys.wordsAt(b + (Block.WORDS + Node.WORDS * n) * 4, Node.WORDS);
      const limitNow = nr[Node.FREE_LIMIT] as number;
      nr.set(old.nodes[n] as Int32Array);
      nr[Node.FREE_LIMIT] = limitNow;
    }
  }
  Atomics.store(c.dv, blockAt(slab), b | 0);
  if (old === null) h[Hdr.SLAB_ARRAYS] = ArraysOp.NONE;
  return b;
}

/**
 * destroy(): the block goes back to the page allocator (its slabs are gone already),
 * under SLAB's array intent record RELEASE (recover.ts).
 */
export function releaseBlock(slab: SlabAllocator, c: KmemCache): void {
  const at = blockAt(slab);
  const b = (c.dv[at] as number) >>> 0;
  if (b === 0) return;
  intendArrays(slab.h, ArraysOp.RELEASE, blockSlot(slab, c), 0, b, 0, 0, 0);
  c.dv[at] = 0;
  slab.views[c.realId] = undefined;
  freeBlock(slab, b);
  slab.h[Hdr.SLAB_ARRAYS] = ArraysOp.NONE;
}

/** A block's pages back to the page allocator. */
export function freeBlock(slab: SlabAllocator, b: number): void {
  const order = slab.phys.word((b >>> 2) + Block.ORDER);
  slab.phys.setWord((b >>> 2) + Block.MAGIC, 0);
  slab.ev[Vm.NR_SLAB_UNRECLAIMABLE] = (slab.ev[Vm.NR_SLAB_UNRECLAIMABLE] as number) - (1 << order);
  slab.buddy.freePages(b, order);
}

/* ------------------------------------------------------------------ locks */

/**
 * Takes node `n`'s list_lock of `c` for the shared layer: a trylock first, whose failures
 * this cpu's array and the cache count (Bonwick & Adams's contention measure), then the lock.
 */
function lockShared(slab: SlabAllocator, c: KmemCache, n: number, v: ArrayViews): void {
  if (slab.smp === true && !tryLock(c.dv, slab.lockAt[n] as number, slab.cpuId)) {
    v.ac[Ac.FAILS]!++;
    Atomics.add(v.hdr, Block.FAILS, 1);
    slab.lockNode(c, n);
  }
}

/* ------------------------------------------------------------------ refill and flush */

/**
 * cache_alloc_refill: up to batchcount objects (BATCHREFILL_LIMIT if the array was not
 * touched since the last reap) from this node's shared array, else from the slabs (partial
 * slabs, else new ones). Returns the array's new avail (0: no memory).
 */
export function refill(slab: SlabAllocator, c: KmemCache, v: ArrayViews, gfp: number): number {
  if ((slab.buddy.pendingRequests() & CpuRequest.FLUSH_SLABS) !== 0) drainEveryCache(slab);
  const ac = v.ac;
  let batch = ac[Ac.BATCH] as number;
  if (ac[Ac.TOUCHED] === 0 && batch > BATCHREFILL_LIMIT) batch = BATCHREFILL_LIMIT;
  batch = Math.max(1, Math.min(batch, ac[Ac.LIMIT] as number));
  const node = slab.nrNodes === 1 ? 0 : slab.buddy.localNode;
  const sh = v.shared[node];
  if (sh !== undefined && (sh[Ac.AVAIL] as number) > 0) {
    let k = 0;
    lockShared(slab, c, node, v);
    try {
      const avail = sh[Ac.AVAIL] as number;
      k = Math.min(batch, avail);
      // transfer_objects: the most recently freed of the shared array, in this cpu's array
      // before they leave the shared one (an object in both only while the lock is held:
      // recover.ts keeps the shared array's).
      ac.set(sh.subarray(Ac.ENTRY + avail - k, Ac.ENTRY + avail), Ac.ENTRY);
      ac[Ac.AVAIL] = k;
      sh[Ac.AVAIL] = avail - k;
      sh[Ac.TOUCHED] = 1;
    } finally {
      slab.unlockNode(c, node);
    }
    if (k > 0) {
      ac[Ac.TOUCHED] = 1;
      return k;
    }
  }
  // The local node's slabs (cache_grow there if it has none); another node's only when
  // this one has no memory (fallback_alloc).
  const got = fill(slab, c, v, gfp, node, ac, Ac.ENTRY, batch);
  ac[Ac.AVAIL] = got;
  if (got > 0) ac[Ac.TOUCHED] = 1;
  return got;
}

/**
 * cache_flusharray: the array is at its limit. Its batchcount oldest objects go to this
 * node's shared array if it has room, else back to their slabs (free_block); more if a
 * lower limit was set meanwhile. Returns the new avail.
 */
export function flushArray(slab: SlabAllocator, c: KmemCache, v: ArrayViews): number {
  const ac = v.ac;
  const n = ac[Ac.AVAIL] as number;
  const limit = ac[Ac.LIMIT] as number;
  const batch = Math.min(n, Math.max(ac[Ac.BATCH] as number, n - limit + 1, 1));
  const node = slab.nrNodes === 1 ? 0 : slab.buddy.localNode;
  const sh = v.shared[node];
  if (sh !== undefined) {
    let moved = 0;
    lockShared(slab, c, node, v);
    try {
      const avail = sh[Ac.AVAIL] as number;
      const room = (sh[Ac.LIMIT] as number) - avail;
      if (room > 0) {
        moved = Math.min(batch, room);
        sh.set(ac.subarray(Ac.ENTRY, Ac.ENTRY + moved), Ac.ENTRY + avail);
        sh[Ac.AVAIL] = avail + moved;
        // Out of this cpu's array under the lock too: an object in both arrays only while
        // it is held (recover.ts keeps the shared array's).
        ac.copyWithin(Ac.ENTRY, Ac.ENTRY + moved, Ac.ENTRY + n);
        ac[Ac.AVAIL] = n - moved;
      }
    } finally {
      slab.unlockNode(c, node);
    }
    if (moved > 0) return n - moved;
  }
  freeFront(slab, c, ac, batch);
  return n - batch;
}

/**
 * free_block of the `k` oldest objects of this cpu's array `ac`, each run of one node's
 * objects under that node's list_lock, the run leaving the array under the same lock: an
 * object is in the array and its slab's free part only while the lock is held (the
 * list_lock's recovery drops it from the slab's side, recover.ts), so that no live cpu can
 * take it from its slab while a dead cpu's array still names it. Slabs past free_limit are
 * destroyed once the locks are dropped.
 */
export function freeFront(slab: SlabAllocator, c: KmemCache, ac: Int32Array, k: number): void {
  const v = slab.arraysOf(c) as ArrayViews;
  const doomed: number[] = [];
  try {
    while (k > 0) {
      const node = objectNode(slab, ac[Ac.ENTRY]);
      let end = 1;
      while (end < k && (slab.nrNodes === 1 || objectNode(slab, ac[Ac.ENTRY + end]) === node)) {
        end++;
      }
      slab.lockNode(c, node);
      try {
        putObjects(slab, c, v, node, ac, Ac.ENTRY, end, doomed);
        const n = ac[Ac.AVAIL] as number;
        ac.copyWithin(Ac.ENTRY, Ac.ENTRY + end, Ac.ENTRY + n);
        ac[Ac.AVAIL] = n - end;
      } finally {
        slab.unlockNode(c, node);
      }
      k -= end;
    }
  } finally {
    destroySlabs(slab, c, v, doomed);
  }
}

/**
 * free_block: `k` objects of `arr` from index `from` back to their slabs, each under its
 * node's list_lock (taken here, one node at a time); slabs past free_limit destroyed once
 * the lock is dropped. Their allocation bits are clear.
 */
export function freeObjects(
  slab: SlabAllocator,
  c: KmemCache,
  arr: Int32Array,
  from: number,
  k: number,
): void {
  const v = slab.arraysOf(c) as ArrayViews;
  const doomed: number[] = [];
  let j = 0;
  try {
    while (j < k) {
      // A run of objects of one node, under that node's lock.
      const node = slab.slabNode(slab.slabOf((arr[from + j] as number) >>> 0));
      let end = j + 1;
      while (
        end < k &&
        (slab.nrNodes === 1 ||
          slab.slabNode(slab.slabOf((arr[from + end] as number) >>> 0)) === node)
      ) {
        end++;
      }
      slab.lockNode(c, node);
      try {
        putObjects(slab, c, v, node, arr, from + j, end - j, doomed);
      } finally {
        slab.unlockNode(c, node);
      }
      j = end;
    }
  } finally {
    destroySlabs(slab, c, v, doomed);
  }
}

/**
 * Gives the `k` oldest objects of node `n`'s shared array back to their slabs (another
 * node's by way of this cpu's alien array for it: see the header), then shortens the
 * array, under the node's lock; a full alien array ends a pass early (drained, then the
 * next pass). Slabs left free past free_limit are destroyed after each pass. Returns how
 * many.
 */
export function drainShared(
  slab: SlabAllocator,
  c: KmemCache,
  sh: Int32Array,
  n: number,
  k: number,
): number {
  const v = slab.arraysOf(c) as ArrayViews;
  let done = 0;
  while (done < k) {
    const doomed: number[] = [];
    let full = -1;
    let j = 0;
    slab.lockNode(c, n);
    try {
      const avail = sh[Ac.AVAIL] as number;
      const want = Math.min(k - done, avail);
      while (j < want && full < 0) {
        let end = j;
        while (end < want && (slab.nrNodes === 1 || objectNode(slab, sh[Ac.ENTRY + end]) === n)) {
          end++;
        }
        if (end > j) putObjects(slab, c, v, n, sh, Ac.ENTRY + j, end - j, doomed);
        j = end;
        for (; j < want; j++) {
          const obj = sh[Ac.ENTRY + j] as number;
          const m = objectNode(slab, obj);
          if (m === n) break;
          const al = v.alien[m] as Int32Array;
          const a = al[Ac.AVAIL] as number;
          if (a >= ALIEN_LIMIT) {
            full = m;
            break;
          }
          // In the alien array before it leaves the shared array.
          al[Ac.ENTRY + a] = obj;
          al[Ac.AVAIL] = a + 1;
        }
      }
      sh.copyWithin(Ac.ENTRY, Ac.ENTRY + j, Ac.ENTRY + avail);
      sh[Ac.AVAIL] = avail - j;
    } finally {
      slab.unlockNode(c, n);
      destroySlabs(slab, c, v, doomed);
    }
    done += j;
    // This cpu's alien arrays the pass filled, each under its node's lock.
    for (let m = 0; m < slab.nrNodes && slab.nrNodes > 1; m++) {
      if (m !== n && ((v.alien[m] as Int32Array)[Ac.AVAIL] as number) > 0) {
        drainAlienArray(slab, c, v.alien[m] as Int32Array, v.shared[m], m);
      }
    }
    if (j === 0 && full < 0) break;
  }
  return done;
}

/** The node of the slab that holds object `obj` (an array entry). */
function objectNode(slab: SlabAllocator, obj: number | undefined): number {
  return slab.slabNode(slab.slabOf((obj as number) >>> 0));
}

/* ------------------------------------------------------------------ alien arrays */

/**
 * __cache_free_alien: an object of node `node`'s slab freed on a cpu of another node goes
 * to this cpu's alien array for that node (returned; the caller marks it free after: its
 * bit is still set); a full one drains first.
 */
export function freeAlien(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  node: number,
  addr: number,
): Int32Array {
  const al = v.alien[node] as Int32Array;
  if ((al[Ac.AVAIL] as number) >= ALIEN_LIMIT) drainAlien(slab, c, v, node);
  const n = al[Ac.AVAIL] as number;
  al[Ac.ENTRY + n] = addr;
  al[Ac.AVAIL] = n + 1;
  return al;
}

/**
 * __drain_alien_cache: this cpu's alien array for `node` goes to that node's shared array
 * as far as it has room, the rest back to the slabs, under that node's list_lock.
 */
export function drainAlien(slab: SlabAllocator, c: KmemCache, v: ArrayViews, node: number): number {
  const al = v.alien[node] as Int32Array;
  return drainAlienArray(slab, c, al, v.shared[node], node);
}

export function drainAlienArray(
  slab: SlabAllocator,
  c: KmemCache,
  al: Int32Array,
  sh: Int32Array | undefined,
  node: number,
): number {
  const n = al[Ac.AVAIL] as number;
  if (n === 0) return 0;
  const v = slab.arraysOf(c) as ArrayViews;
  const doomed: number[] = [];
  slab.lockNode(c, node);
  try {
    let moved = 0;
    if (sh !== undefined) {
      const avail = sh[Ac.AVAIL] as number;
      moved = Math.min(n, (sh[Ac.LIMIT] as number) - avail);
      if (moved > 0) {
        sh.set(al.subarray(Ac.ENTRY, Ac.ENTRY + moved), Ac.ENTRY + avail);
        sh[Ac.AVAIL] = avail + moved;
      } else moved = 0;
    }
    putObjects(slab, c, v, node, al, Ac.ENTRY + moved, n - moved, doomed);
    al[Ac.AVAIL] = 0;
  } finally {
    slab.unlockNode(c, node);
    destroySlabs(slab, c, v, doomed);
  }
  return n;
}

/* ------------------------------------------------------------------ without arrays */

/**
 * One object from the slabs of node `nid` (-1: this cpu's, with fallback), counted in its
 * slab; the caller marks it allocated. 0: no memory.
 */
export function allocFromSlabs(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  gfp: number,
  nid: number,
): number {
  const one = slab.one;
  const node = nid >= 0 ? nid : slab.nrNodes === 1 ? 0 : slab.buddy.localNode;
  if (fill(slab, c, v, nid >= 0 ? gfp | Gfp.THISNODE : gfp, node, one, 0, 1) === 0) {
    // __GFP_THISNODE for a node that has no memory: fall back unless the caller asked for it.
    if (nid < 0 || (gfp & Gfp.THISNODE) !== 0 || fill(slab, c, v, gfp, node, one, 0, 1) === 0) {
      return 0;
    }
  }
  return (one[0] as number) >>> 0;
}

/** An object (its bit cleared) straight back to its slab. */
export function freeToSlab(slab: SlabAllocator, c: KmemCache, addr: number): void {
  const one = slab.one;
  one[0] = addr;
  freeObjects(slab, c, one, 0, 1);
}
