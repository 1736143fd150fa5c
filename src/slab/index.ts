/* Linux's SLAB (mm/slab.c): array caches over SLUB's slabs. */
export { SlabAllocator, type SlabOptions } from "./slab.js";
