/* kmem's public surface: re-exports only. */
export { KmemError, type KmemErrorCode } from "./errors.js";
export type { FaultOptions, FaultState } from "./fault/index.js";
export { ZERO_SIZE_PTR } from "./kmalloc/index.js";
export { MEMPOOL_MAX_NR, Mempool } from "./mempool/index.js";
// What offlineCpu() returns for a context that died.
export type { DeadCpuReport } from "./sync/index.js";
export {
  type CacheStats,
  type FaultName,
  Kmem,
  type AttachOptions,
  type KmemOptions,
  type KmemStats,
  type MemPolicy,
  type NodeStats,
  type ReportName,
} from "./kmem.js";
/* Sanitizers (docs/sanitizers.md). */
export type {
  KasanOptions,
  KfenceOptions,
  KmemleakLeak,
  KmemleakRange,
  SanitizerReport,
} from "./kmem.js";
export {
  __GFP_ACCOUNT,
  __GFP_COMP,
  __GFP_DIRECT_RECLAIM,
  __GFP_DMA,
  __GFP_DMA32,
  __GFP_FS,
  __GFP_HARDWALL,
  __GFP_HIGH,
  __GFP_HIGHMEM,
  __GFP_IO,
  __GFP_KSWAPD_RECLAIM,
  __GFP_MEMALLOC,
  __GFP_MOVABLE,
  __GFP_NOFAIL,
  __GFP_NOMEMALLOC,
  __GFP_NORETRY,
  __GFP_NOWARN,
  __GFP_RECLAIM,
  __GFP_RECLAIMABLE,
  __GFP_RETRY_MAYFAIL,
  __GFP_THISNODE,
  __GFP_WRITE,
  __GFP_ZERO,
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOFS,
  GFP_NOIO,
  GFP_NOWAIT,
  GFP_USER,
  gfpString,
  type LogFn,
  type Shrinker,
  type Watermarks,
} from "./page/index.js";
export {
  type CacheOptions,
  type Ctor,
  KmemCache,
  SLAB_CONSISTENCY_CHECKS,
  SLAB_FAILSLAB,
  SLAB_HWCACHE_ALIGN,
  SLAB_NO_MERGE,
  SLAB_POISON,
  SLAB_RECLAIM_ACCOUNT,
  SLAB_RED_ZONE,
  SLAB_STORE_USER,
  SLAB_TRACE,
} from "./slab-common/index.js";
export { PAGE_KIND_NAMES, PageKind, type PageMap, type PageMapCache } from "./report/index.js";
export {
  ResourceMap,
  type ResourceMapOptions,
  type ResourceMapStats,
  type Segment,
} from "./rmap/index.js";
export {
  type QcacheStats,
  VmemArena,
  type VmemOptions,
  type VmemPolicy,
  type VmemSegment,
  type VmemStats,
  type XallocOptions,
} from "./vmem/index.js";
export {
  type ByteAllocator,
  buddyAllocator,
  kmallocAllocator,
  mempoolAllocator,
  type RmapAllocatorOptions,
  rmapAllocator,
  type VmemAllocatorOptions,
  vmemAllocator,
} from "./alloc/index.js";
export {
  CLASSIC_NAMES,
  classicAllocator,
  type ClassicAllocator,
  type ClassicAllocators,
  type ClassicName,
  type ClassicOptions,
  type ClassicStats,
  DynixAllocator,
  type DynixClass,
  type DynixOptions,
  type DynixStats,
  LazyBuddyAllocator,
  type LazyBuddyOptions,
  type LazyBuddyOrder,
  type LazyBuddyStats,
  M_NOWAIT,
  M_WAITOK,
  MachZoneAllocator,
  type MachZoneOptions,
  type MachZoneStats,
  MAX_ZONES,
  type MalloctType,
  McKusickKarelsAllocator,
  type McKusickKarelsOptions,
  type McKusickKarelsStats,
  type MkBucket,
  type MkPageInfo,
  type MkType,
  P2Allocator,
  type P2Bucket,
  type P2Stats,
  type ZoneInfo,
  type ZoneOptions,
} from "./classic/index.js";
export {
  type ZsClassStats,
  ZsPool,
  type ZsPoolOptions,
  type ZsPoolStats,
} from "./zsmalloc/index.js";
export {
  type WritebackMode,
  Zram,
  type ZramBackingStore,
  type ZramOptions,
  type ZramReportName,
  type ZramStats,
} from "./zram/index.js";
export { type Algorithm, availableAlgorithms, type PageCodec } from "./codec/index.js";
export {
  MAX_SWAPFILES,
  type OomVictim,
  type SwapAreaInfo,
  type SwaponOptions,
  type ZswapConfig,
  type ZswapStats,
} from "./swap/index.js";
