/* /proc-style reports over a snapshot of allocator state. */
export {
  buddyinfo,
  extfragIndexReport,
  type MemSnapshot,
  meminfo,
  slabinfoHeader,
  unusableIndexReport,
  vmstat,
} from "./proc.js";
