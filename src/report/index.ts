/* /proc-style reports over a snapshot of allocator state. */
export {
  buddyinfo,
  extfragIndexReport,
  type MemSnapshot,
  meminfo,
  type NodeSnapshot,
  numastat,
  slabinfo,
  type SlabinfoCache,
  swaps,
  type SwapsArea,
  unusableIndexReport,
  vmallocinfo,
  type VmallocinfoArea,
  vmstat,
  type ZoneSnapshot,
  zoneinfo,
} from "./proc.js";
export {
  type CacheLookup,
  type HeapUse,
  PAGE_KIND_NAMES,
  PageKind,
  type PageMap,
  type PageMapCache,
  pageMap,
} from "./pagemap.js";
