/*
 * Slab cache flags, the slub_debug letters that stand for them, and calculate_alignment
 * (Linux include/linux/slab.h, mm/slab_common.c): what every object allocator reads from a
 * cache's flags. Bits are kmem's own.
 */

/** Slab cache flags, with Linux's names. */
export const enum SlabFlag {
  /** Consistency checks on alloc and free (slub_debug F). */
  CONSISTENCY_CHECKS = 1 << 0,
  /** Red zones around objects (Z). */
  RED_ZONE = 1 << 1,
  /** Poison free objects (P). */
  POISON = 1 << 2,
  /** Align objects to cache lines. */
  HWCACHE_ALIGN = 1 << 3,
  /** Record who allocated and freed each object (U). */
  STORE_USER = 1 << 4,
  /** Log every allocation and free (T). */
  TRACE = 1 << 5,
  /** Fault injection applies to this cache when failslab's cacheFilter is on (A). */
  FAILSLAB = 1 << 6,
  /** Its slabs are reclaimable (counted as SReclaimable). */
  RECLAIM_ACCOUNT = 1 << 7,
  /** Never merge with another cache. */
  NO_MERGE = 1 << 8,
  /** A kmalloc size class (internal). */
  KMALLOC = 1 << 9,
  VALID_MASK = (1 << 10) - 1,
  /**
   * kmem's own metadata (internal, never a caller's): the cache descriptors' cache and the
   * kmem_meta-N caches of kmallocOwn. kfree, ksize and krealloc refuse their objects; only
   * kmem frees them (freeOwn).
   */
  KMEM_OWN = 1 << 10,
  /**
   * Slabs sized for footprint (internal: kmalloc's fine classes; SLUB's layout and reserve,
   * SLAB lays out its own). Objects of half a page or more get the smallest order that
   * holds one (Linux's calculate_order asks for 8 objects a slab, so kmalloc-8k takes 8
   * pages for 4 objects and a slab that keeps one object strands three), and the node's
   * reserve of empty slabs follows min_partial's rule with 1 for min_partial, not 5 to 10
   * (some thirty kmalloc caches would keep five empty slabs each; slub/layout.ts
   * FOOTPRINT_MIN_PARTIAL). BENCHMARKS.md, "Four programs recorded after the tuning".
   */
  FOOTPRINT = 1 << 11,
  /**
   * slub_debug O (an instance's debug option, never a cache's flag): a cache whose slots
   * need a higher page order with the debug metadata than its objects alone do gets no
   * metadata debugging (red zone, poison, user tracking), as Linux's
   * disable_higher_order_debug.
   */
  ORDER_OFF = 1 << 30,
  /** The debugging that puts metadata in the slots (Linux DEBUG_METADATA_FLAGS). */
  DEBUG_METADATA = RED_ZONE | POISON | STORE_USER,
  /** Flags that forbid merging (SLAB_NEVER_MERGE). */
  NEVER_MERGE = CONSISTENCY_CHECKS | RED_ZONE | POISON | STORE_USER | TRACE | FAILSLAB | NO_MERGE,
  /** Flags that turn on the debug paths. */
  DEBUG_MASK = CONSISTENCY_CHECKS | RED_ZONE | POISON | STORE_USER | TRACE,
}

export const SLAB_CONSISTENCY_CHECKS: number = SlabFlag.CONSISTENCY_CHECKS;
export const SLAB_RED_ZONE: number = SlabFlag.RED_ZONE;
export const SLAB_POISON: number = SlabFlag.POISON;
export const SLAB_HWCACHE_ALIGN: number = SlabFlag.HWCACHE_ALIGN;
export const SLAB_STORE_USER: number = SlabFlag.STORE_USER;
export const SLAB_TRACE: number = SlabFlag.TRACE;
export const SLAB_FAILSLAB: number = SlabFlag.FAILSLAB;
export const SLAB_RECLAIM_ACCOUNT: number = SlabFlag.RECLAIM_ACCOUNT;
export const SLAB_NO_MERGE: number = SlabFlag.NO_MERGE;
/** Flags a caller may pass to createCache. */
export const SLAB_USER_FLAGS: number = SlabFlag.VALID_MASK & ~SlabFlag.KMALLOC;

/** slub_debug letters and the flags they stand for. */
export function debugFlags(letters: string): number {
  let flags = 0;
  for (const ch of letters) {
    if (ch === "F") flags |= SlabFlag.CONSISTENCY_CHECKS;
    else if (ch === "Z") flags |= SlabFlag.RED_ZONE;
    else if (ch === "P") flags |= SlabFlag.POISON;
    else if (ch === "U") flags |= SlabFlag.STORE_USER;
    else if (ch === "T") flags |= SlabFlag.TRACE;
    else if (ch === "A") flags |= SlabFlag.FAILSLAB;
    else if (ch === "O") flags |= SlabFlag.ORDER_OFF;
  }
  return flags;
}

/** ARCH_SLAB_MINALIGN: the least alignment of any object. */
const MIN_ALIGN = 8;
const CACHE_LINE = 64;

/** calculate_alignment: HWCACHE_ALIGN halves the line while the object fits twice. */
export function calculateAlignment(flags: number, align: number, size: number): number {
  let a = align;
  if ((flags & SlabFlag.HWCACHE_ALIGN) !== 0) {
    let ralign = CACHE_LINE;
    while (size <= ralign / 2) ralign /= 2;
    a = Math.max(a, ralign);
  }
  return Math.ceil(Math.max(a, MIN_ALIGN) / 4) * 4;
}
