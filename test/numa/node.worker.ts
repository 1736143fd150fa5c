/*
 * A worker of test/numa/workers.test.ts: attaches as a cpu of node `node`, allocates pages
 * and kmalloc objects with the default (local) policy, frees half of the objects itself
 * and hands the other half and its pages back to the main thread to free (remote frees).
 */

import { parentPort, workerData } from "node:worker_threads";
import { Kmem } from "../../src/index.js";

const { buffers, node, count } = workerData as {
  buffers: SharedArrayBuffer[];
  node: number;
  count: number;
};
const mm = Kmem.attach(buffers, { node });
const pages: number[] = [];
const objects: number[] = [];
for (let i = 0; i < count; i++) {
  pages.push(mm.allocPages(0));
  const a = mm.kmalloc(128);
  mm.view(a, 128).fill(node + 1);
  objects.push(a);
}
const nodes = [...pages, ...objects].map((a) => (a === 0 ? -1 : mm.nodeOf(a)));
const kept = objects.filter((_, i) => i % 2 === 0);
for (const a of objects.filter((_, i) => i % 2 === 1)) mm.kfree(a);
parentPort?.postMessage({ cpu: mm.cpu, node: mm.node, nodes, pages, objects: kept });
