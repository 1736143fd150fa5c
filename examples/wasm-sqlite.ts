// sqlite compiled to WebAssembly with its malloc served by kmem: the worked case of
// docs/wasm.md. The module is clients/build.js's sqlite-kmem (sqlite3.c, clients/sqlite/*.c
// and clients/kmem-malloc.c, linked with -Wl,--import-memory -Wl,--export=__heap_base).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { type WasmInstance, WasmHeap } from "kmem/wasm";
import { Wasi } from "kmem-workbench";

// The WebAssembly API, typed (TypeScript's ES lib lacks it; the DOM lib has it).
const { Module, Instance } = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object, imports: object) => WasmInstance;
    };
  }
).WebAssembly;

let path: string;
try {
  const out = execFileSync(process.execPath, ["clients/build.js", "--json", "sqlite-kmem"]);
  path = (JSON.parse(out.toString()) as Record<string, string>)["sqlite-kmem"] as string;
} catch {
  process.exit(77); // no clang here to build it (the docs test skips this example)
}

const heap = WasmHeap.create({ initial: 256 }); // 16 MiB: the module's data, stack and heap
const wasi = new Wasi({ args: ["sqlite", "5000"] }); // a WASI without files: 5000 rows
wasi.setMemory(heap.memory);
const module = new Module(readFileSync(path));
const instance = new Instance(module, {
  ...heap.imports, // env: memory, malloc, free, calloc, realloc, ...
  wasi_snapshot_preview1: wasi.imports(module),
});
heap.bind(instance); // the heap starts at the module's __heap_base
(instance.exports._start as () => void)(); // sqlite's main

const out = wasi.text(1).split("\n");
console.log(out.slice(0, 2).join("\n"));
console.log(out.slice(-3).join("\n").trim());
console.log(heap.counts());
heap.verify();
const { slabPages } = heap.kmem.stats();
heap.kmem.shrinkSlabs(); // kmem_cache_shrink: the empty slabs SLUB keeps go back
console.log(`after close: ${slabPages} slab pages, ${heap.kmem.stats().slabPages} once shrunk`);
