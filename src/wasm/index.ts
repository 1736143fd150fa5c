/* kmem/wasm: kmem as the malloc of a program compiled to WebAssembly (docs/wasm.md). */
export { KmemError, type KmemErrorCode } from "../errors.js";
export type { WasmGlobal, WasmInstance, WasmMemory } from "./webassembly.js";
export type { InstrumentImports } from "./kasan.js";
export {
  EINVAL,
  ENOMEM,
  LARGE_SPAN,
  type LargeRoute,
  MALLOC_ALIGN,
  type MallocCounts,
  type MallocImports,
  type MisuseAction,
  WASM_PAGE,
  WasmHeap,
  type WasmHeapAttachOptions,
  type WasmHeapOptions,
} from "./heap.js";
