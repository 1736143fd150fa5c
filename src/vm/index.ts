/* The virtual-memory layer: the vmalloc space, page tables, vmalloc/vmap, checked access. */
export { MemAccess } from "./access.js";
export { type RecordAllocator } from "./areas.js";
export { VMALLOC_OFFSET, type VmGeometry, vmallocGeometry } from "./layout.js";
export { Lru, PgVm, Pte, VmDesc } from "./layout.js";
export { Caller, Vmalloc, type VmapAreaInfo, type VmSwap } from "./vmalloc.js";
export { PageTables, type PtSwapHooks } from "./pgtable.js";
