/*
 * AssemblyScript source of the `tlsf` allocator: the standard library's TLSF (std/assembly/
 * rt/tlsf.ts) as malloc, free and realloc. `heap.alloc`, `heap.free` and `heap.realloc`
 * (std/assembly/memory.ts) are `__alloc`, `__free` and `__realloc`, which with
 * `--runtime minimal` (rt/index-minimal.ts: tlsf + tcms) are TLSF's own functions; the
 * garbage collector's half is never entered (only `__new` would). scripts/wasm.js compiles
 * this file to dist/src/tlsf.wasm when the workbench is built; it is not TypeScript for tsc.
 */

export function alloc(size: usize): usize {
  return heap.alloc(size);
}

export function free(ptr: usize): void {
  heap.free(ptr);
}

export function realloc(ptr: usize, size: usize): usize {
  return heap.realloc(ptr, size);
}
