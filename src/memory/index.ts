/* Physical memory and its layout: the lowest layer. */
export * from "./layout.js";
export {
  type Backing,
  MAX_GROWABLE_BYTES,
  MAX_MEMORY_BYTES,
  MAX_PAGE_SIZE,
  MIN_PAGE_SIZE,
  PhysMem,
  type PhysMemConfig,
} from "./physmem.js";
export type { ViewPlan } from "./remap.js";
