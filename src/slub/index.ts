/* SLUB: object caches over page blocks (Linux mm/slub.c). */
export { Desc, descriptorWords, NodeRec, nodeRecIndex, SlubPg } from "./layout.js";
export { SlubAllocator, type SlubOptions } from "./slub.js";
// What Linux's SLAB (src/slab) builds on: SLUB's slabs, registry and debug hooks.
export { CpuSlot, cpuSlotBase } from "./layout.js";
export type { CachedObject } from "./slub.js";
export { postAlloc, preFree } from "./hooks.js";
export {
  checkHandle,
  cpuView,
  liveCaches,
  lockSlabMutex,
  lookupCache,
  unlockSlabMutex,
} from "./registry.js";
export { allocSingle, discardEmpty, slabFree, takeFree } from "./slow.js";
