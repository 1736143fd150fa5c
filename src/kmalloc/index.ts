/* kmalloc: size classes over slab caches, large requests over pages. */
export {
  badSize,
  Kmalloc,
  type KmallocApi,
  kmallocSizes,
  type SizeClasses,
  krealloc,
  ZERO_SIZE_PTR,
} from "./kmalloc.js";
export { largePages, largeRunCached, LargeKmalloc } from "./large.js";
export { CHUNK_BYTES, CHUNK_MIN_BYTES, HEAP_MIN, type HeapStats, KmallocHeap } from "./heap.js";
export { LC_MAX_PAGES, LC_PER_BIN, LcDesc, LargeRunCache } from "./large-cache.js";
