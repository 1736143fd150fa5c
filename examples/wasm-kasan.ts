// KASAN for a C program compiled to WebAssembly: clients/kasan/bugs.c, built by
// clients/build.js and instrumented by binaryen (wasm-opt -g -O2 --instrument-memory), runs
// on a heap with kasan: every load and store it makes is checked against KASAN's shadow.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { KmemError, type WasmInstance, WasmHeap } from "kmem/wasm";

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
  const out = execFileSync(process.execPath, ["clients/build.js", "--json", "bugs-kasan"]);
  path = (JSON.parse(out.toString()) as Record<string, string>)["bugs-kasan"] as string;
} catch {
  process.exit(77); // no clang or wasm-opt here to build it (the docs test skips this example)
}

const heap = WasmHeap.create({ initial: 64, kasan: { stacks: true } });
// heap.imports.env: memory, the malloc family, and load_ptr, store_ptr, load_val_i32, ...
const instance = new Instance(new Module(readFileSync(path)), heap.imports);
heap.bind(instance);
const bugs = instance.exports as Record<string, (...args: number[]) => number>;
bugs._initialize?.();

// The report without this machine's file paths, the module's frames by function name.
const show = (err: unknown) => {
  if (!(err instanceof KmemError)) throw err;
  const lines = err.message
    .split("\n")
    .filter((l) => !l.includes("file://") && l !== "=".repeat(66));
  console.log(lines.join("\n").replace(/ \(wasm:\/\/[^)]*\)/g, ""));
};

console.log(`clean(5000): ${bugs.clean?.(5000)}, ${heap.counts().misuses} reports`);
try {
  bugs.oob_write?.(13); // p = malloc(13); p[13] = 0
} catch (err) {
  show(err); // the store was not made: the module trapped before it
}
try {
  bugs.uaf_read?.(); // p = malloc(40); free(p); return p[3]
} catch (err) {
  show(err);
}
heap.verify();
