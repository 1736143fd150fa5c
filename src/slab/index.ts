/* Linux's SLAB (mm/slab.c): array caches over slabs on three lists per node. */
export { SlabAllocator, type SlabOptions } from "./slab.js";
export { slabStart } from "./slabs.js";
export { repairArrays } from "./recover.js";
