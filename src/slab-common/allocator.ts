/*
 * The object allocator: what serves object caches (createCache) and, with kmalloc, requests
 * by size. SLUB (src/slub) and SLOB (src/slob) implement it, Linux's SLAB (src/slab) will;
 * the facade holds one, and each KmemCache handle calls back into the one that made it.
 */

import type { FaultAttr } from "../fault/index.js";
import type { Ctor, KmemCache } from "./cache.js";

/** Per-cache figures, as stats() and slabinfo show them. */
export interface SlabCacheInfo {
  name: string;
  objectSize: number;
  size: number;
  activeObjects: number;
  /** Objects of its slabs, each slab counted with its own (slabs may differ in order). */
  totalObjects: number;
  slabs: number;
  /** SLUB: the pages its slabs hold (their orders may differ: SLUB's kmalloc-2k). */
  pages?: number;
  /** Of its smallest slabs (SLUB's kmalloc-2k takes larger ones as it grows). */
  objectsPerSlab: number;
  pagesPerSlab: number;
  /** Objects set aside as corrupt. */
  quarantined: number;
  /** Names of caches merged into this one. */
  aliases: string[];
  /** SLUB: empty slabs kept in its nodes' reserves (counted in `slabs` too). */
  emptySlabs?: number;
}

/**
 * An object allocator (what Linux's mm/slab.h asks of SLUB, SLAB and SLOB).
 *
 * Every method is an operation every allocator has. Where one has nothing to do, its result
 * says so, as Linux's did:
 *
 *   shrink, shrinkAll  return the pages given back. SLOB gives a page back the moment its
 *                      last block is freed and keeps nothing per cpu, so it never holds a
 *                      page a shrink could free: 0, as Linux's SLOB __kmem_cache_shrink.
 *   drainCpu           returns the objects and slabs taken back from a dead cpu. SLOB keeps
 *                      nothing per cpu (no cpu slab, no sheaf): 0, as Linux's SLOB, which
 *                      had no cpu-hotplug callback.
 *
 * The callers check what is theirs to check first (a KmemCache handle its gfp and node, the
 * facade sizes and addresses); the allocator checks the rest: createCache's arguments, that
 * an address is a live object of the cache (free, checkLive), that a handle is not stale.
 */
export interface ObjectAllocator {
  /** failslab's knobs and counters, or null when it is off. */
  failslab: FaultAttr | null;
  /** The instance's header words (what a cache's free reads Hdr.POOLS from). */
  readonly h: Int32Array;
  /**
   * Set by the instance: throws DOUBLE_FREE when `addr` is held in a mempool's reserve
   * (called by a cache's free only while some pool exists, Hdr.POOLS non-zero).
   */
  reserved: ((addr: number, fn: string) => void) | null;

  /** kmem_cache_create: checks its arguments; null when no memory for the descriptor. */
  createCache(name: unknown, size: unknown, options: unknown): KmemCache | null;
  /** The cache named `name`, made in any context; null if none. */
  findByName(name: string): KmemCache | null;
  /** This context's handle for cache id `id`, made in any context; null if none. */
  cacheById(id: number): KmemCache | null;
  /** Registers in this context the constructor of cache `name`, made in another context. */
  registerCtor(name: string, ctor: Ctor): void;
  /** The caches (not the names merged into them), newest first, as /proc/slabinfo. */
  realCaches(): KmemCache[];

  /** kmem_cache_alloc: an object, or 0. `size`: what kmalloc was asked for, else -1. */
  alloc(c: KmemCache, gfp: number, size: number): number;
  /** kmem_cache_alloc_node: an object of node `nid` (-1: as alloc), or 0. */
  allocNode(c: KmemCache, gfp: number, size: number, nid: number): number;
  /** kmem_cache_free: `addr` must be a live object of `c`, else KmemError, nothing changed. */
  free(c: KmemCache, addr: number): void;
  /** What free checks, changing nothing: `addr` is a live object of `c` (`fn` names the call). */
  checkLive(c: KmemCache, addr: number, fn: string): void;
  /** kmem_cache_shrink: the pages given back to the page allocator. */
  shrink(c: KmemCache): number;
  /** kmem_cache_destroy: KmemError BUSY, the cache kept, while objects are live. */
  destroy(c: KmemCache): void;
  /** NUMA nodes of the instance (node arguments are checked against it). */
  nodeCount(): number;
  /** Throws the error for an invalid gfp mask. */
  badGfp(gfp: unknown): never;

  /** Reclaim: shrinks caches until `nrToScan` pages are given back or all were tried. */
  shrinkAll(nrToScan: number): number;
  /** cpu hotplug: takes back what dead cpu `cpu` held (its context is gone). */
  drainCpu(cpu: number): number;

  info(c: KmemCache): SlabCacheInfo;
  /** Pages the allocator holds, [reclaimable, unreclaimable]. */
  slabPages(): [number, number];
  /** Checks the allocator's invariants (ids in its file header); throws KmemError. */
  verify(): void;
}

/**
 * An object allocator whose kmalloc is size classes over caches of its own (src/kmalloc's
 * Kmalloc; Linux's kmalloc_caches): SLUB, and Linux's SLAB. kfree finds an object's cache
 * from its slab (virt_to_slab). Arguments are trusted: kmalloc checked them. SLOB serves
 * kmalloc itself and is not one.
 */
export interface KmallocBackend extends ObjectAllocator {
  /**
   * Called before a new slab's pages are taken (node, -1 for the policy's; pages): kmalloc's
   * large-run cache gives way (src/kmalloc/large-cache.ts). Null: nothing to call.
   */
  onGrow: ((nid: number, pages: number) => void) | null;
  /** createCache without the argument checks, for kmalloc's caches (SlabFlag.KMALLOC). */
  createCacheInternal(
    name: string,
    size: number,
    align: number,
    flags: number,
    ctor: Ctor | null,
  ): KmemCache | null;
  /** The head frame of the slab holding `addr`, 0 if `addr` is in no slab. */
  slabOf(addr: number): number;
  /** kfree of the object at `addr` of the slab at `head`. */
  freeInSlab(head: number, addr: number): void;
  /** The cache of the live object at `addr` (ksize); KmemError if it is not live. */
  liveObjectCache(head: number, addr: number): KmemCache;
  /** krealloc within the object: moves the kmalloc red zone, zeroes past `size` if `zero`. */
  resizeInPlace(addr: number, size: number, zero: boolean): void;
  /** The cache of kmem's own metadata named `name` (KMEM_OWN), found or made; null: no memory. */
  ownCache(name: string, size: number, align: number): KmemCache | null;
  /** kmem's free of an object of its own caches (a caller's kfree of it is refused). */
  freeOwn(addr: number): void;
  /** ksize of an object of kmem's own caches (slab `head`). */
  ksizeOwn(head: number, addr: number): number;
}
