/* SLUB: object caches over page blocks (Linux mm/slub.c). */
export { Desc, descriptorWords, NodeRec, nodeRecIndex, SlubPg } from "./layout.js";
export { SlubAllocator, type SlubOptions } from "./slub.js";
// slab_mutex's recovery after a dead context (offlineCpu, Kmem.reopen: src/instance).
export { repairRegistry } from "./registry.js";
// What Linux's SLAB (src/slab) builds on: SLUB's registry, slot layout and debug hooks.
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
// SLAB's own slab layer (src/slab/slabs.ts) lays out its slots as SLUB does and checks them
// with the same debug helpers; its verify() reuses the cache-list checks.
export {
  bitmapBytes,
  calculateGeometry,
  FRAME_BITMAP_OBJECTS,
  MAX_OBJECTS_PER_SLAB,
  Poison,
  remoteWords,
} from "./layout.js";
export { checkPoison, checkRedZones, describeDamage, setPoison, setRedZones } from "./debug.js";
export { origSize, owners } from "./hooks.js";
export { activeObjects, cacheDescriptors } from "./registry.js";
export { lockAllNodes, unlockAllNodes } from "./slow.js";
export { corrupt, verifyCaches } from "./verify.js";
