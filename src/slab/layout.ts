/*
 * SLAB's layout: the array block of a cache (its per-cpu array caches, its shared array per
 * node and its alien arrays), enable_cpucache's defaults, and Bonwick & Adams's magazine
 * sizes for adaptive caches.
 *
 * Each cache has one array block, pages from the page allocator (Linux kmallocs each
 * array_cache; one block per cache keeps the bootstrap simple: kmalloc's own caches need
 * arrays before kmalloc works). Its address is in the cache descriptor, in the words of
 * cpu 0's slot that SLUB keeps its sheaf in (SLAB caches never have a sheaf: Desc.SHEAF_CAP
 * is SLUB's, and SLAB never fills one):
 *
 *   block (words)
 *   +-----------------+-----------------------+-----------------------+------------------+
 *   | Block header    | cpu 0: array_cache    | cpu 1: array_cache    | ... (acStride)   |
 *   | (Block.WORDS)   | Ac header + cap slots | Ac header + cap slots |                  |
 *   +-----------------+-----------------------+-----------------------+------------------+
 *   | node 0: shared array (Ac header + batchcount * shared slots) | node 1 ...          |
 *   +--------------------------------------------------------------------------------------+
 *   | alien[cpu][node]: Ac header + ALIEN_LIMIT slots (more than one node only)           |
 *   +--------------------------------------------------------------------------------------+
 *
 * Every array is a LIFO stack of object addresses (entry[avail - 1] is the most recently
 * freed, the next one allocated); every stride is a multiple of 16 words, so that with
 * several cpus no two cpus' arrays share a 64-byte line.
 *
 * Objects in an array are free: their allocation bit is clear (a free of one is a double
 * free), they are on no freelist, and their slab counts them in use (SLUB's inuse), as the
 * objects of a sheaf.
 */

import { type CacheGeometry, SlabFlag } from "../slab-common/index.js";
import {
  bitmapBytes,
  CpuSlot,
  calculateGeometry,
  cpuSlotBase,
  FRAME_BITMAP_OBJECTS,
  MAX_OBJECTS_PER_SLAB,
  remoteWords,
} from "../slub/index.js";

/** The array block's header (the per-node records, then the arrays, follow it). */
export const enum Block {
  MAGIC = 0,
  /** The cache's id. */
  CACHE = 1,
  /** Order of the block's pages. */
  ORDER = 2,
  /** The tunables as slabinfo prints them: limit, batchcount, shared (the factor). */
  LIMIT = 3,
  BATCH = 4,
  SHARED = 5,
  /** Slots per per-cpu array. */
  CAP = 6,
  /** Slots per shared array (batchcount * shared when the block was made). */
  SHARED_CAP = 7,
  /** 1: the per-cpu limits adapt (Bonwick & Adams's magazine resizing). */
  ADAPTIVE = 8,
  /** 1: the cache has array caches; 0: every object goes to and from the slabs. */
  ARRAYS = 9,
  /**
   * Failed trylocks of the shared layer by every cpu, ever (Bonwick & Adams's
   * cache_depot_contention: the depot, and so its count, is the cache's).
   */
  FAILS = 10,
  WORDS = 16,
  /** "arry" */
  MAGIC_VALUE = 0x61727279,
}

/** An array_cache's header; its entries follow. */
export const enum Ac {
  /** Objects in the array. */
  AVAIL = 0,
  LIMIT = 1,
  BATCH = 2,
  /** Set on every allocation from the array; cleared by reap, which drains it only if clear. */
  TOUCHED = 3,
  /** Failed trylocks of the node list_lock this cpu met (refill and flush), ever. */
  FAILS = 4,
  /** Block.FAILS when this cpu's last interval ended (adaptive). */
  FAILS_SEEN = 5,
  /** Index in MAGAZINE_SIZES of the limit (adaptive). */
  MAG = 6,
  ENTRY = 8,
}

/** Linux's BATCHREFILL_LIMIT: an untouched array refills at most this many at once. */
export const BATCHREFILL_LIMIT = 16;
/** Linux's alien array limit (alloc_alien_cache(node, 12, ...)). */
export const ALIEN_LIMIT = 12;
/** Bonwick & Adams's magazine sizes (illumos kmem_magtype). */
export const MAGAZINE_SIZES: readonly number[] = [1, 3, 7, 15, 31, 47, 63, 95, 143];
/** Where an adaptive cache starts: 15 rounds (Bonwick's default magazine for small objects). */
export const MAGAZINE_START = 3;
/** kmem_depot_contention: more failed trylocks than this in an interval grow the magazine. */
export const DEPOT_CONTENTION = 3;

function align16(words: number): number {
  return (words + 15) & ~15;
}

/** enable_cpucache: the tunables of a cache of `size`-byte slots. */
export function defaultTunables(
  size: number,
  pageSize: number,
  nrCpus: number,
): { limit: number; batch: number; shared: number } {
  let limit: number;
  if (size > 131072) limit = 1;
  else if (size > pageSize) limit = 8;
  else if (size > 1024) limit = 24;
  else if (size > 256) limit = 54;
  else limit = 120;
  const shared = size <= pageSize && nrCpus > 1 ? 8 : 0;
  return { limit, batch: (limit + 1) >>> 1, shared };
}

/** The shape of an array block. */
export interface BlockShape {
  /** Word of the first per-cpu array (after the header and the node records). */
  acBase: number;
  cap: number;
  sharedCap: number;
  acStride: number;
  sharedStride: number;
  sharedBase: number;
  alienBase: number;
  words: number;
}

export const ALIEN_STRIDE = align16(Ac.ENTRY + ALIEN_LIMIT);

export function blockShape(
  cap: number,
  sharedCap: number,
  nrCpus: number,
  nrNodes: number,
): BlockShape {
  const acStride = align16(Ac.ENTRY + cap);
  const sharedStride = align16(Ac.ENTRY + sharedCap);
  const acBase = Block.WORDS + Node.WORDS * nrNodes;
  const sharedBase = acBase + acStride * nrCpus;
  const alienBase = sharedBase + (sharedCap > 0 ? sharedStride * nrNodes : 0);
  const words = alienBase + (nrNodes > 1 ? ALIEN_STRIDE * nrCpus * nrNodes : 0);
  return { acBase, cap, sharedCap, acStride, sharedStride, sharedBase, alienBase, words };
}

/** Descriptor word holding the array block's address (cpu 0's sheaf words, see above). */
export function blockWord(nrCpus: number): number {
  return cpuSlotBase(nrCpus, 0) + CpuSlot.SHEAF;
}

/** free_limit: free objects a node keeps in free slabs before it destroys one. */
export function freeLimit(nrCpus: number, batch: number, objects: number): number {
  return (1 + nrCpus) * batch + objects;
}

/* ------------------------------------------------------------------ kmem_cache_node */

/**
 * A node's record in the array block (Linux struct kmem_cache_node): the three slab lists,
 * each a head and a tail pfn linked through the frames' next/prev words (0: none), and the
 * counts. total_slabs is SLUB's nr_slabs word of the descriptor (NodeRec.NR_SLABS), which
 * slabinfo reads. Guarded by the node's list_lock of the cache (the descriptor's word).
 */
export const enum Node {
  FULL_HEAD = 0,
  FULL_TAIL = 1,
  PARTIAL_HEAD = 2,
  PARTIAL_TAIL = 3,
  FREE_HEAD = 4,
  FREE_TAIL = 5,
  /** Slabs on the free list. */
  FREE_SLABS = 6,
  /** Free objects of the slabs on the partial and free lists (not of the arrays). */
  FREE_OBJECTS = 7,
  /** (1 + cpus) * batchcount + objects per slab: free objects kept before a slab goes. */
  FREE_LIMIT = 8,
  /** The colour of the node's last new slab (cache_grow_begin advances it, then uses it). */
  COLOUR_NEXT = 9,
  /** Set when an allocation took a slab from the free list; cache_reap clears it. */
  FREE_TOUCHED = 10,
  WORDS = 16,
}

/** A slab's list, in its counters word (LIST_SHIFT). */
export const enum SlabList {
  NONE = 0,
  FULL = 1,
  PARTIAL = 2,
  FREE = 3,
}

/**
 * SLAB's struct slab in a slab's head frame (flags HEAD | SLAB), the owner words laid out
 * as SLUB's where they mean the same (the cache id, the allocation bitmap of a slab of at
 * most 32 objects, the quarantine bit), so that what reads a slab's cache (kfree, ksize,
 * the page map) reads SLAB's slabs too:
 *
 *  16         20              24                                          28
 *  +----------+---------------+-------------------------------------------+----------+
 *  | cache id | freelist      | active (16 b) | - | Q | list | colour (11b)| bitmap   |
 *  +----------+---------------+-------------------------------------------+----------+
 *  freelist: address of the freelist index array (on slab, off slab, or inside a free
 *  object: 0 when an OBJFREELIST slab is full); Q: set aside as corrupt (SLUB's
 *  SlabState.QUARANTINED); list: SlabList; colour: the slab's colour offset in units of
 *  COLOUR_UNIT bytes (s_mem = slab address + colour * COLOUR_UNIT).
 */
export const enum SlabPg {
  CACHE = 4,
  FREELIST = 5,
  COUNTERS = 6,
  BITMAP = 7,
  ACTIVE_MASK = 0xffff,
  QUARANTINED = 1 << 18,
  LIST_SHIFT = 19,
  LIST_MASK = 3 << 19,
  COLOUR_SHIFT = 21,
  COLOUR_MAX = 2047,
}

/** Colour offsets are kept in units of this many bytes (a cache line). */
export const COLOUR_UNIT = 64;
/** cache_line_size(): the least colour_off. */
export const CACHE_LINE = 64;

/** Where a cache's slabs keep their freelist index array (Linux's CFLGS_*). */
export const enum Mgmt {
  /** At the slab's end, before the allocation bitmap. */
  ON_SLAB = 0,
  /** In an object of a freelist cache (CFLGS_OFF_SLAB). */
  OFF_SLAB = 1,
  /** Inside the slab's last free object (CFLGS_OBJFREELIST_SLAB). */
  OBJFREELIST = 2,
}

/** sizeof(freelist_idx_t): one byte while a slab has at most 256 objects, else two. */
export function idxBytes(objects: number): number {
  return objects <= 256 ? 1 : 2;
}

/** Bytes a slab of `n` objects keeps at its end: the index array (on slab), the bitmap. */
function tailBytes(n: number, mgmt: Mgmt, dual: boolean): number {
  return bitmapBytes(n, dual) + (mgmt === Mgmt.ON_SLAB ? n * idxBytes(n) : 0);
}

/** The object size of the freelist cache of a slab of `n` objects (a kmalloc size). */
export function freelistCacheSize(n: number): number {
  let s = 8;
  while (s < n * idxBytes(n)) s *= 2;
  return s;
}

/** cache_estimate: objects of `size` bytes in a slab of `slabBytes`, and the left-over. */
function estimate(
  slabBytes: number,
  size: number,
  mgmt: Mgmt,
  dual: boolean,
): { n: number; left: number } {
  let n = Math.min(Math.floor(slabBytes / size), MAX_OBJECTS_PER_SLAB);
  while (n > 0 && n * size + tailBytes(n, mgmt, dual) > slabBytes) n--;
  return { n, left: slabBytes - n * size - tailBytes(n, mgmt, dual) };
}

/**
 * calculate_slab_order: the first order with objects, stopping at the first that wastes at
 * most 1/8 of the slab, at slab_max_order, or at once for a reclaimable cache. An off-slab
 * index array must come from a freelist cache of at most half the object size.
 */
function slabOrder(
  size: number,
  mgmt: Mgmt,
  flags: number,
  pageSize: number,
  maxOrder: number,
  slabMaxOrder: number,
  dual: boolean,
): { order: number; n: number; left: number } | null {
  let best: { order: number; n: number; left: number } | null = null;
  for (let order = 0; order < maxOrder; order++) {
    const bytes = pageSize << order;
    const { n, left } = estimate(bytes, size, mgmt, dual);
    if (n === 0) continue;
    if (mgmt === Mgmt.OFF_SLAB && freelistCacheSize(n) > size / 2) continue;
    best = { order, n, left };
    if ((flags & SlabFlag.RECLAIM_ACCOUNT) !== 0) break;
    if (order >= slabMaxOrder) break;
    if (left * 8 <= bytes) break;
  }
  return best;
}

/**
 * SLAB's __kmem_cache_create layout: the slot as SLUB lays it out (red zones, tracks; no
 * free pointer word), then
 * the slab: OBJFREELIST when the index array fits in an object that needs to keep nothing
 * while free (no constructor, no poison, no init_on_free); else off slab when the index
 * array would not fit in the left-over (and `offSlab` allows it: not for a freelist cache
 * itself); else on slab. `minPartial` carries the placement (Mgmt): SLAB has no min_partial.
 */
export function slabGeometry(
  objectSize: number,
  align: number,
  flags: number,
  hasCtor: boolean,
  pageSize: number,
  maxOrder: number,
  dual: boolean,
  initOnFree: boolean,
  memoryBytes: number,
  offSlab: boolean,
): CacheGeometry | null {
  // SLUB's slot without a free pointer word of its own: SLAB's free objects are named by
  // index arrays, and a constructed or poisoned object keeps its bytes while free. (The
  // word at `offset`, inside the object, only tags an object set aside as corrupt.)
  const g = calculateGeometry(
    objectSize,
    align,
    flags & ~SlabFlag.POISON,
    false,
    pageSize,
    maxOrder,
    dual,
  );
  if (g === null) return null;
  // slab_max_order: 1 with more than 32 MiB of memory, else 0 (SLAB_MAX_ORDER_HI, _LO).
  const top = memoryBytes > 32 << 20 ? 1 : 0;
  const size = g.size;
  let mgmt = Mgmt.ON_SLAB;
  let r: { order: number; n: number; left: number } | null = null;
  if (!hasCtor && (flags & SlabFlag.POISON) === 0 && !initOnFree) {
    r = slabOrder(size, Mgmt.OBJFREELIST, flags, pageSize, maxOrder, top, dual);
    if (r !== null && r.n * idxBytes(r.n) <= objectSize) mgmt = Mgmt.OBJFREELIST;
    else r = null;
  }
  if (r === null && offSlab) {
    r = slabOrder(size, Mgmt.OFF_SLAB, flags, pageSize, maxOrder, top, dual);
    // Enough room left over for the index array: on slab after all.
    if (r !== null && r.left < r.n * idxBytes(r.n)) mgmt = Mgmt.OFF_SLAB;
    else r = null;
  }
  if (r === null) r = slabOrder(size, Mgmt.ON_SLAB, flags, pageSize, maxOrder, top, dual);
  if (r === null) return null;
  const slabBytes = pageSize << r.order;
  return {
    ...g,
    order: r.order,
    topOrder: r.order,
    topObjects: r.n,
    objects: r.n,
    bitmap: r.n <= FRAME_BITMAP_OBJECTS ? -1 : slabBytes - bitmapBytes(r.n, dual),
    remote: remoteWords(r.n, dual),
    minPartial: mgmt,
  };
}

/** What a context derives from a cache's geometry to lay out and find its slabs' parts. */
export interface SlabShape {
  mgmt: Mgmt;
  /** Bytes per index array entry. */
  idx: number;
  /** left-over / colour_off: the colours (0 or 1: every slab starts at offset 0). */
  colour: number;
  /** colour_off in bytes: the cache line, or the alignment when larger. */
  colourOff: number;
  /** ON_SLAB: byte offset of the index array from the slab's start. */
  freelistAt: number;
  /** Bytes of the index array. */
  freelistBytes: number;
  /** Bytes of left-over (what colouring uses). */
  left: number;
}

/** The shape of the slabs of a cache of `objects` objects of `size` bytes. */
export function slabShape(
  size: number,
  objects: number,
  order: number,
  bitmap: number,
  align: number,
  mgmt: Mgmt,
  pageSize: number,
): SlabShape {
  const slabBytes = pageSize << order;
  const idx = idxBytes(objects);
  const end = bitmap < 0 ? slabBytes : bitmap;
  const freelistBytes = objects * idx;
  const freelistAt = mgmt === Mgmt.ON_SLAB ? end - freelistBytes : -1;
  const left = Math.max(0, (mgmt === Mgmt.ON_SLAB ? freelistAt : end) - objects * size);
  const colourOff = Math.max(CACHE_LINE, align);
  let colour = Math.floor(left / colourOff);
  // The colour offset must fit the frame's field.
  while (colour > 1 && ((colour - 1) * colourOff) / COLOUR_UNIT > SlabPg.COLOUR_MAX) colour--;
  return { mgmt, idx, colour, colourOff, freelistAt, freelistBytes, left };
}
