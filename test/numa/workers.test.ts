/*
 * NUMA with real workers: each worker attaches as a cpu of its own node and its local
 * allocations land there; the main thread (node 0) frees what they hand back (remote
 * frees across nodes), takes their cpus offline, and everything adds up.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem } from "../../src/index.js";
import { runWorker } from "../helpers.js";

const WORKER = new URL("./node.worker.js", import.meta.url);
const MiB = 1 << 20;

interface Reply {
  cpu: number;
  node: number;
  nodes: number[];
  pages: number[];
  objects: number[];
}

function nodeWorker(
  buffers: readonly SharedArrayBuffer[],
  node: number,
  count: number,
): Promise<Reply> {
  return runWorker<Reply>(WORKER, { buffers, node, count });
}

describe("NUMA with workers", () => {
  for (const slab of ["slub", "slab"] as const)
    it(`${slab}: workers of nodes 1 and 2 allocate locally; the main thread frees across nodes`, async () => {
      const main = new Kmem({ slab, nodes: [4 * MiB, 2 * MiB, 2 * MiB], cpus: 3 });
      // A buffer per node, each shared: the workers attach with all three.
      assert.equal(main.buffers.length, 3);
      assert.ok(main.buffers.every((b) => b instanceof SharedArrayBuffer));
      const buffers = main.buffers as SharedArrayBuffer[];
      const before = main.stats();
      const replies = await Promise.all([nodeWorker(buffers, 1, 150), nodeWorker(buffers, 2, 150)]);
      for (const r of replies) {
        assert.ok(
          r.nodes.every((n) => n === r.node),
          `every page and object of the node-${r.node} worker is on node ${r.node}`,
        );
        for (const a of r.objects) {
          assert.ok(
            main.read(a, 128).every((b) => b === r.node + 1),
            "contents intact",
          );
          main.kfree(a);
        }
        for (const p of r.pages) main.freePages(p, 0);
        main.offlineCpu(r.cpu);
      }
      main.verify();
      const after = main.stats();
      for (const nid of [1, 2]) {
        const local = (after.nodes[nid]?.numa[4] ?? 0) - (before.nodes[nid]?.numa[4] ?? 0);
        assert.ok(local >= 150, `node ${nid} counts its workers' allocations as local (${local})`);
      }
      main.shrinkSlabs();
      main.drainPages();
      main.verify();
      // SLAB: the array blocks of the caches the workers used first stay (slab pages).
      const blocks = slab === "slab" ? main.stats().slabPages - before.slabPages : 0;
      assert.equal(main.usedPages - blocks, before.managedPages - before.freePages);
    });
});
