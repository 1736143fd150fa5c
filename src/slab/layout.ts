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

import { CpuSlot, cpuSlotBase } from "../slub/index.js";

/** The array block's header. */
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
  /**
   * Failed trylocks of the shared layer by every cpu, ever (Bonwick & Adams's
   * cache_depot_contention: the depot, and so its count, is the cache's).
   */
  FAILS = 9,
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
  const sharedBase = Block.WORDS + acStride * nrCpus;
  const alienBase = sharedBase + (sharedCap > 0 ? sharedStride * nrNodes : 0);
  const words = alienBase + (nrNodes > 1 ? ALIEN_STRIDE * nrCpus * nrNodes : 0);
  return { cap, sharedCap, acStride, sharedStride, sharedBase, alienBase, words };
}

/** Descriptor word holding the array block's address (cpu 0's sheaf words, see above). */
export function blockWord(nrCpus: number): number {
  return cpuSlotBase(nrCpus, 0) + CpuSlot.SHEAF;
}

/** free_limit: free objects a node keeps in free slabs before it destroys one. */
export function freeLimit(nrCpus: number, batch: number, objects: number): number {
  return (1 + nrCpus) * batch + objects;
}
