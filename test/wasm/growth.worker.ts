/*
 * A worker of test/wasm/growth.test.ts: opens the heap over the shared memory before the
 * main thread grows it, then (told to go on) frees a block the main thread allocated in the
 * grown memory and allocates blocks, filled with their index, that only the grown memory can
 * hold.
 */

import { parentPort, workerData } from "node:worker_threads";
import { WasmHeap, type WasmMemory } from "../../src/wasm/index.js";

const { memory, heapBase, count } = workerData as {
  memory: WasmMemory;
  heapBase: number;
  count: number;
};
const heap = WasmHeap.attach(memory, { heapBase });
const port = parentPort as NonNullable<typeof parentPort>;
port.postMessage({ pages: heap.kmem.totalPages });
port.once("message", ({ freeing }: { freeing: number }) => {
  heap.imports.env.free(freeing);
  const blocks: number[] = [];
  for (let i = 0; i < count; i++) {
    const p = heap.imports.env.malloc(3000);
    if (p === 0) break;
    new Uint8Array(memory.buffer).fill(i & 0xff, p, p + 3000);
    blocks.push(p);
  }
  port.postMessage({ cpu: heap.kmem.cpu, pages: heap.kmem.totalPages, blocks });
});
