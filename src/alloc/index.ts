/* The common allocator interface and the kmem layers behind it. */
export type { ByteAllocator } from "./allocator.js";
export { buddyAllocator, kmallocAllocator, mempoolAllocator } from "./kmem-adapters.js";
export {
  type RmapAllocatorOptions,
  rmapAllocator,
  type VmemAllocatorOptions,
  vmemAllocator,
} from "./range-adapters.js";
