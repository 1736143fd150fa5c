/* The vmem resource allocator (Bonwick & Adams 2001): arenas, constrained allocation, quantum caches. */
export {
  VmemArena,
  type VmemOptions,
  type VmemPolicy,
  type VmemSegment,
  type VmemStats,
  type XallocOptions,
} from "./arena.js";
export type { QcacheStats } from "./qcache.js";
