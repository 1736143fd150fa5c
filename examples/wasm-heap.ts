// kmem as the malloc of a WebAssembly module: the imports a C program linked with
// clients/kmem-malloc.c calls, called here from JavaScript as the module would call them.
import { KmemError, WasmHeap } from "kmem/wasm";

// A 4 MiB memory for a module whose __heap_base is 70304 (data from 1024, a 64 KiB stack).
const heap = WasmHeap.create({ heapBase: 70304, initial: 64 });
const { malloc, calloc, realloc, free, malloc_usable_size } = heap.imports.env;
const hex = (p: number) => `0x${p.toString(16)}`;
console.log(`kmem manages ${hex(heap.offset)}..${hex(heap.memory.buffer.byteLength)}`);

const name = malloc(100); // kmalloc-128: 16-byte aligned, as malloc must be
new TextEncoder().encodeInto("kmem", new Uint8Array(heap.memory.buffer, name));
const table = calloc(1000, 8); // zeroed, a block of the kmalloc heap
const moved = realloc(name, 300); // to kmalloc-512, the bytes with it
const text = new TextDecoder().decode(new Uint8Array(heap.memory.buffer, moved, 4));
console.log(`malloc(100) ${hex(name)}, realloc to 300 ${hex(moved)}: "${text}"`);
console.log(`calloc(1000, 8) ${hex(table)}, usable ${malloc_usable_size(table)}`);
free(moved);
free(table);

try {
  free(moved); // a double free: reported with the module's address, nothing changed
} catch (err) {
  if (err instanceof KmemError) console.log(err.message);
}
heap.verify();
console.log(heap.counts());
