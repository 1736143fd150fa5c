/* SLUB: object caches over page blocks (Linux mm/slub.c). */
export { type CacheBackend, checkCtor, type Ctor, KmemCache } from "./cache.js";
export {
  Desc,
  descriptorWords,
  NodeRec,
  nodeRecIndex,
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
} from "./layout.js";
export { type CacheOptions, SlabAllocator, type SlabCacheInfo, type SlabOptions } from "./slub.js";
