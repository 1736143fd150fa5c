/* The page allocator layer: buddy system, GFP flags, watermarks, fragmentation indices. */
export { BuddyAllocator, type LogFn, Mpol, type NodeInfo, type Shrinker } from "./buddy.js";
export {
  extfragForOrder,
  extfragIndexMilli,
  formatMilli,
  unusableIndexMilli,
} from "./fragmentation.js";
export * from "./gfp.js";
export {
  computeWatermarks,
  defaultMinFreeKb,
  pcpBatch,
  pcpHigh,
  WATERMARK_SCALE_FACTOR,
  type Watermarks,
} from "./watermarks.js";
