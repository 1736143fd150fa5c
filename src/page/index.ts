/* The page allocator layer: buddy system, reclaim, GFP flags, watermarks, fragmentation indices. */
export { BuddyAllocator, type LogFn, Mpol, type NodeInfo } from "./buddy.js";
export {
  extfragForOrder,
  extfragIndexMilli,
  formatMilli,
  unusableIndexMilli,
} from "./fragmentation.js";
export * from "./gfp.js";
export { type GrowableMemory, growMemory, onlineMemory, onlinePages } from "./hotplug.js";
export type { Shrinker } from "./reclaim.js";
export {
  computeWatermarks,
  defaultMinFreeKb,
  pcpBatch,
  pcpHigh,
  WATERMARK_SCALE_FACTOR,
  type Watermarks,
} from "./watermarks.js";
