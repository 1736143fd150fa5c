/* What every object allocator (SLUB, SLOB) shares: the cache handle, flags, checks. */
export type { KmallocBackend, ObjectAllocator, SlabCacheInfo } from "./allocator.js";
export { type CacheGeometry, type Ctor, KmemCache } from "./cache.js";
export {
  CacheName,
  type CacheOptions,
  checkCtor,
  encodeCacheName,
  parseCacheArgs,
} from "./create.js";
export { failslabHits } from "./failslab.js";
export {
  calculateAlignment,
  debugFlags,
  SLAB_CONSISTENCY_CHECKS,
  SLAB_FAILSLAB,
  SLAB_HWCACHE_ALIGN,
  SLAB_NO_MERGE,
  SLAB_POISON,
  SLAB_RECLAIM_ACCOUNT,
  SLAB_RED_ZONE,
  SLAB_STORE_USER,
  SLAB_TRACE,
  SlabFlag,
} from "./flags.js";
