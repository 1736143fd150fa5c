/* /proc-style reports over a snapshot of allocator state. */
export {
  buddyinfo,
  extfragIndexReport,
  type MemSnapshot,
  meminfo,
  slabinfo,
  type SlabinfoCache,
  unusableIndexReport,
  vmstat,
} from "./proc.js";
