/*
 * A worker of test/wasm/heap.test.ts: opens the heap over the shared memory, frees the block
 * the main thread handed it, and allocates blocks filled with their index for the main thread
 * to check and free.
 */

import { parentPort, workerData } from "node:worker_threads";
import { WasmHeap, type WasmMemory } from "../../src/wasm/index.js";

const { memory, heapBase, count, freeing } = workerData as {
  memory: WasmMemory;
  heapBase: number;
  count: number;
  freeing: number;
};
const heap = WasmHeap.attach(memory, { heapBase });
heap.imports.env.free(freeing);
const mem = new Uint8Array(memory.buffer);
const blocks: number[] = [];
for (let i = 0; i < count; i++) {
  const p = heap.imports.env.malloc(100 + i * 37);
  mem.fill(i & 0xff, p, p + 100);
  blocks.push(p);
}
parentPort?.postMessage({ cpu: heap.kmem.cpu, blocks });
