/*
 * A mempool's reserve is known to the allocator below: an element freed to the pool and
 * then to kfree (or its cache, or krealloc) is DOUBLE_FREE, not an element with two owners;
 * and the pool never writes into an element (a constructed object stays constructed).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, type Mempool, SLAB_NO_MERGE } from "../../src/index.js";
import { assertMisuse } from "../helpers.js";

/** An element the pool had to take from its reserve, freed back into it. */
function reserved(mm: Kmem, pool: Mempool): number {
  const before = pool.currNr;
  mm.setFault("failslab", { probability: 100, times: 1, verbose: 0 });
  const e = pool.alloc();
  mm.setFault("failslab", null);
  assert.notEqual(e, 0);
  assert.equal(pool.currNr, before - 1, "the element came from the reserve");
  pool.free(e);
  assert.equal(pool.currNr, before);
  return e;
}

for (const slab of ["slub", "slob"] as const) {
  describe(`mempool reserves (${slab})`, () => {
    it("kfree and krealloc of an element in a kmalloc pool's reserve: DOUBLE_FREE, nothing changed", () => {
      const mm = new Kmem({ memory: 2 << 20, slab, minFreeBytes: 0 });
      const pool = mm.createMempool(4, 128);
      assert.ok(pool !== null);
      const e = reserved(mm, pool);
      assertMisuse(mm, "DOUBLE_FREE", () => mm.kfree(e), true);
      assertMisuse(mm, "DOUBLE_FREE", () => mm.krealloc(e, 300), true);
      assertMisuse(mm, "DOUBLE_FREE", () => mm.kvfree(e), true);
      assertMisuse(mm, "DOUBLE_FREE", () => pool.free(e), true);
      // The element has one owner: kmalloc never hands it out while the pool holds it.
      const got = new Set<number>();
      for (let i = 0; i < 64; i++) got.add(mm.kmalloc(128));
      assert.ok(!got.has(e));
      const fromPool: number[] = [];
      for (let i = 0; i < 4; i++) {
        mm.setFault("failslab", { probability: 100, times: 1, verbose: 0 });
        fromPool.push(pool.alloc());
        mm.setFault("failslab", null);
      }
      assert.ok(fromPool.includes(e));
      for (const a of got) mm.kfree(a);
      for (const a of fromPool) pool.free(a);
      pool.destroy();
      mm.verify();
    });

    it("a cache's free of an element in a cache pool's reserve: DOUBLE_FREE; elements keep their constructed state", () => {
      const mm = new Kmem({ memory: 2 << 20, slab, minFreeBytes: 0 });
      const c = mm.createCache("ctor", 16, {
        flags: SLAB_NO_MERGE,
        ctor: (a) => mm.memory.fill(1, a, a + 4),
      });
      assert.ok(c !== null);
      const pool = mm.createMempool(3, c);
      assert.ok(pool !== null);
      const e = reserved(mm, pool);
      assertMisuse(mm, "DOUBLE_FREE", () => c.free(e), true);
      assertMisuse(mm, "DOUBLE_FREE", () => mm.kfree(e), true);
      const els: number[] = [];
      for (let i = 0; i < 3; i++) {
        mm.setFault("failslab", { probability: 100, times: 1, verbose: 0 });
        els.push(pool.alloc());
        mm.setFault("failslab", null);
      }
      for (const a of els) assert.deepEqual([...mm.memory.subarray(a, a + 4)], [1, 1, 1, 1]);
      for (const a of els) pool.free(a);
      pool.destroy();
      // Back in the cache, untouched: the next allocations are still constructed.
      for (const a of els) assert.deepEqual([...mm.memory.subarray(a, a + 4)], [1, 1, 1, 1]);
      mm.verify();
    });
  });
}

describe("mempool reserves and contexts attached before the first pool", () => {
  for (const slab of ["slub", "slob"] as const) {
    it(`${slab}: a context attached before createMempool cannot kfree an element of a reserve`, () => {
      const mm = new Kmem({
        memory: new SharedArrayBuffer(2 << 20),
        cpus: 3,
        slab,
        minFreeBytes: 0,
      });
      // Both attached while no pool exists; the pool is made by one of them.
      const early = Kmem.attach(mm.buffer);
      const maker = Kmem.attach(mm.buffer);
      const pool = maker.createMempool(4, 128);
      assert.ok(pool !== null);
      const e = reserved(maker, pool);
      for (const ctx of [early, mm]) {
        const err = assertMisuse(ctx, "DOUBLE_FREE", () => ctx.kfree(e), true);
        assert.match(err.message, /reserve of the mempool/);
      }
      // An element out of the pool is an ordinary object to them.
      const out = pool.alloc();
      assert.notEqual(out, 0);
      pool.free(out);
      const k = early.kmalloc(128);
      early.kfree(k);
      mm.verify();
    });
  }
});
