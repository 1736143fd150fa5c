/* SLOB: the simple list of blocks, kmalloc and object caches for tiny memories. */
export { SLOB_DESCRIPTOR_WORDS, SlobAllocator, type SlobOptions } from "./slob.js";
// slob_lock's recovery before SLOB is open (Kmem.reopen: src/instance).
export { undoJournal } from "./slob.js";
