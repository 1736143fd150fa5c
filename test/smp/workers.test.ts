/*
 * Real workers over one SharedArrayBuffer: the main thread and two workers run the seeded
 * stress workload of stress.ts at once (same-cpu frees, cross-cpu frees through rings,
 * caches, pages), bounded in time. Afterwards the workers' cpus are taken offline and
 * everything must add up: no broken stamp (nothing handed out twice), every cache empty,
 * verify() clean, and every page back once the caches are shrunk.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem } from "../../src/index.js";
import { runWorker } from "../helpers.js";
import {
  makeCaches,
  newRing,
  Ring,
  type StressConfig,
  type StressResult,
  stress,
} from "./stress.js";

const WORKER = new URL("./stress.worker.js", import.meta.url);

function stressWorker(
  buffers: readonly SharedArrayBuffer[],
  cfg: StressConfig,
  waitMs: number,
): Promise<{ cpu: number; result: StressResult }> {
  return runWorker(WORKER, { buffers, cfg, waitMs });
}

async function round(
  slab: "slub" | "slob" | "slab",
  seed: number,
  ops: number,
  memory = 8 << 20,
  waitMs = 0,
  nodes = 1,
): Promise<{ failures: number; stalls: number }> {
  // With waitMs, allocations that fail wait that long for the others to free (sleeping).
  // With nodes, a SharedArrayBuffer each; a context's node is its cpu id modulo nodes.
  const main =
    nodes > 1
      ? new Kmem({
          nodes: new Array(nodes).fill(memory / nodes),
          cpus: 3,
          slab,
          allocWaitMs: waitMs,
        })
      : new Kmem({ memory, cpus: 3, slab, allocWaitMs: waitMs });
  const buffers = main.buffers as SharedArrayBuffer[];
  const cacheNames = makeCaches(main);
  const pool = main.createMempool(16, 128);
  assert.ok(pool !== null);
  main.vfree(main.vmalloc(1)); // sets the vmalloc layer up (its descriptor stays)
  // What the caches hold before the run (the pool, the vmalloc layer): they hold it after.
  const baseline = new Map(main.stats().caches.map((c) => [c.name, c.activeObjects]));
  const rings = [newRing(64), newRing(64), newRing(64)];
  const deadline = Date.now() + 4000;
  // who -> ring it sends into: 0 -> 1 -> 2 -> 0 (0 is the main thread).
  const cfg = (who: number): StressConfig => ({
    who,
    seed: seed * 7 + who,
    ops,
    deadline,
    out: rings[who] as SharedArrayBuffer,
    in: rings[(who + 2) % 3] as SharedArrayBuffer,
    cacheNames,
    poolAddress: pool.address,
  });
  const workers = [stressWorker(buffers, cfg(1), waitMs), stressWorker(buffers, cfg(2), waitMs)];
  // The main thread takes part too, once the workers are on their way.
  await new Promise((resolve) => setTimeout(resolve, 20));
  let mine: StressResult;
  try {
    mine = stress(main, cfg(0));
  } catch (err) {
    // The workers drain the main thread's ring until it says done: say so, let them finish.
    Atomics.store(new Int32Array(rings[0] as SharedArrayBuffer), Ring.DONE, 1);
    await Promise.allSettled(workers);
    throw err;
  }
  const done = await Promise.all(workers);
  const results = [mine, ...done.map((d) => d.result)];
  for (const d of done) main.offlineCpu(d.cpu);

  for (const r of results) assert.deepEqual(r.broken, [], `participant ${r.who}: stamps intact`);
  const allocs = results.reduce((n, r) => n + r.allocs, 0);
  const frees = results.reduce((n, r) => n + r.frees + r.received, 0);
  assert.equal(frees, allocs, "every allocation was freed exactly once");
  assert.equal(
    results.reduce((n, r) => n + r.sent, 0),
    results.reduce((n, r) => n + r.received, 0),
    "every object sent was received",
  );
  assert.ok(
    results.every((r) => r.sent > 0 && r.received > 0),
    "cross-cpu frees happened",
  );
  main.verify();
  assert.equal(pool.currNr, 16, "the pool's reserve is full again");
  for (const c of main.stats().caches) {
    assert.equal(c.activeObjects, baseline.get(c.name) ?? 0, `${c.name} holds what it held`);
  }
  pool.destroy();
  for (const name of cacheNames) main.findCache(name)?.destroy();
  main.shrinkSlabs();
  main.drainPages();
  main.verify();
  const st = main.stats();
  // Only slabs with objects still in use remain: the cache descriptors and the vmalloc
  // layer's descriptor and records (SLOB: its pages with live blocks); besides them, the
  // vmalloc layer keeps its top page table.
  const inUse = st.caches
    .filter((c) => c.activeObjects > 0)
    .reduce((n, c) => n + c.slabs * c.pagesPerSlab, 0);
  if (slab === "slub") assert.equal(st.slabPages, inUse, "only slabs in use remain");
  assert.equal(st.pageTablePages, 1, "the pgd alone");
  assert.equal(
    st.freePages + st.slabPages + st.pageTablePages,
    st.managedPages,
    "every page came back",
  );
  return {
    failures: results.reduce((n, r) => n + r.failures, 0),
    stalls: st.events.allocstall_normal ?? 0,
  };
}

describe("workers", () => {
  it("main thread and two workers: kmalloc, caches, pages, cross-cpu frees (SLUB)", async () => {
    await round("slub", 1, 30000);
    await round("slub", 2, 30000);
  });

  it("the same in a small memory: failures, reclaim, requests, sleeping allocations", async () => {
    // 1 MiB: allocations fail, reclaim runs and asks the other cpus to flush and drain, and
    // the failing context sleeps a moment for the others to free.
    for (const seed of [4, 5]) {
      const { failures, stalls } = await round("slub", seed, 10000, 1 << 20, 1);
      assert.ok(
        failures > 0 && stalls > 0,
        `memory ran short (${failures} failures, ${stalls} stalls)`,
      );
    }
  });

  it("the same with SLAB behind kmalloc and the caches (and in a small memory)", async () => {
    await round("slab", 8, 30000);
    const { failures } = await round("slab", 9, 10000, 1 << 20, 1);
    assert.ok(failures > 0, "memory ran short");
  });

  it("the same with SLOB behind kmalloc and the caches", async () => {
    await round("slob", 3, 15000);
  });

  it("the same over two NUMA nodes, a SharedArrayBuffer each (SLUB, SLOB and SLAB)", async () => {
    await round("slub", 6, 20000, 8 << 20, 0, 2);
    await round("slob", 7, 10000, 8 << 20, 0, 2);
    await round("slab", 10, 20000, 8 << 20, 0, 2);
  });
});
