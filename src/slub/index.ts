/* SLUB: object caches over page blocks (Linux mm/slub.c). */
export { Desc, descriptorWords, NodeRec, nodeRecIndex, SlubPg } from "./layout.js";
export { SlubAllocator, type SlubOptions } from "./slub.js";
