/*
 * SLAB's adaptive magazines driven by real contention, deterministically: a worker takes
 * the list_lock that guards the cache's shared array and holds it until this thread has
 * failed its trylock and waits (the lock word's CONTENDED bit), so that each flush here
 * counts exactly one failed trylock. More than kmem_depot_contention (3) in an interval
 * (ended by mm.reap()) grows this cpu's array one magazine size; an interval without use
 * shrinks it one size. Nothing here depends on timing or on how fast the worker starts.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { Kmem, SLAB_NO_MERGE } from "../../src/index.js";
import type { SlabAllocator } from "../../src/slab/index.js";

const WORKER = new URL("./adaptive.worker.js", import.meta.url);
const MiB = 1 << 20;
const AVAIL = 0;
const LIMIT = 1;
const FAILS = 4;
const BLOCK_FAILS = 10;
const SIZES = [1, 3, 7, 15, 31, 47, 63, 95, 143];

/** slabinfo's limit of cache `name` (this cpu's, with adaptive caches). */
function limitOf(mm: Kmem, name: string): number {
  const line = mm
    .report("slabinfo")
    .split("\n")
    .find((l) => l.startsWith(`${name} `));
  const m = /: tunables +(\d+)/.exec(line ?? "");
  assert.ok(m !== null, `slabinfo has ${name}`);
  return Number(m[1]);
}

describe("SLAB: adaptive magazines under a contended shared layer", () => {
  it("steps 1, 3, 7, ..., 143 up on failed trylocks and back down when idle", async () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", adaptive: true, cpus: 2 });
    const cache = mm.createCache("m", 64, { flags: SLAB_NO_MERGE });
    assert.ok(cache !== null);
    const slab = (mm as unknown as { slab: SlabAllocator }).slab;
    const c = slab.findByName("m");
    assert.ok(c !== null);
    cache.free(cache.alloc());
    const v = slab.arraysOf(c);
    assert.ok(v !== null);
    const ac = v.ac;
    assert.equal(limitOf(mm, "m"), 15, "Bonwick's 15 rounds for a 64-byte object");

    // Quiet: the first round finds the array used, each later one steps it down.
    mm.reap();
    for (const size of [7, 3, 1, 1]) {
      mm.reap();
      assert.equal(limitOf(mm, "m"), size);
    }

    const sync = new SharedArrayBuffer(16);
    const s = new Int32Array(sync);
    const worker = new Worker(WORKER, { workerData: { buffer: mm.buffer, sync } });
    const exited = new Promise<number>((resolve, reject) => {
      worker.once("error", reject);
      worker.once("exit", resolve);
    });
    const { cpu } = await new Promise<{ cpu: number }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    try {
      const pool: number[] = [];
      let requests = 0;
      /** One flush of a full array while the worker holds the shared layer's lock. */
      const contendedFlush = (): void => {
        while (pool.length < 2 * (ac[LIMIT] as number) + 2) pool.push(cache.alloc());
        while ((ac[AVAIL] as number) < (ac[LIMIT] as number)) cache.free(pool.pop() as number);
        requests++;
        Atomics.store(s, 0, requests);
        Atomics.notify(s, 0);
        while (Atomics.load(s, 1) < requests) Atomics.wait(s, 1, requests - 1);
        const before = ac[FAILS] as number;
        cache.free(pool.pop() as number); // cache_flusharray: the trylock fails, then waits
        assert.equal(ac[FAILS], before + 1, "one failed trylock");
        assert.equal(v.hdr[BLOCK_FAILS], requests, "counted for the cache too");
        while (Atomics.load(s, 2) < requests) Atomics.wait(s, 2, requests - 1);
      };

      // Three failures are not above the threshold: the size stays.
      for (let i = 0; i < 3; i++) contendedFlush();
      mm.reap();
      assert.equal(limitOf(mm, "m"), 1);

      // Busy: four failures an interval, one size up each, to the largest, and no further.
      for (const size of [...SIZES.slice(1), 143]) {
        for (let i = 0; i < 4; i++) contendedFlush();
        mm.reap();
        assert.equal(limitOf(mm, "m"), size);
        assert.equal(ac[LIMIT], size);
      }
      while (pool.length > 0) cache.free(pool.pop() as number);
      assert.ok((ac[AVAIL] as number) > 95, "the array holds more than the size below");

      // Quiet again (frees alone do not mark an array used, as in Linux): one size down
      // per idle interval, what no longer fits given back.
      for (const size of [...SIZES.slice(0, -1).reverse(), 1]) {
        mm.reap();
        assert.equal(limitOf(mm, "m"), size);
        assert.ok((ac[AVAIL] as number) <= size);
      }
    } finally {
      Atomics.store(s, 3, 1);
      Atomics.notify(s, 0);
      Atomics.notify(s, 3);
      assert.equal(await exited, 0);
    }
    mm.offlineCpu(cpu);
    mm.verify();
  });
});
