/* SLOB: the simple list of blocks, kmalloc and object caches for tiny memories. */
export { SLOB_DESCRIPTOR_WORDS, SlobAllocator, type SlobOptions } from "./slob.js";
