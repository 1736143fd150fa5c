/*
 * Memory pools: the reserve guarantees progress when the allocator fails (failslab), frees
 * refill it first, resize and destroy, misuse and bad input, under SLUB and SLOB, and a
 * model-based property test of the reserve's bookkeeping.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  GFP_ATOMIC,
  GFP_KERNEL,
  Kmem,
  type KmemCache,
  type Mempool,
  SLAB_NO_MERGE,
} from "../../src/index.js";
import { assertMisuse } from "../helpers.js";

const failAll = { probability: 100, interval: 1, times: -1, ignoreGfpWait: false };

for (const slab of ["slub", "slob"] as const) {
  const make = (memory = 1 << 20) => new Kmem({ memory, minFreeBytes: 0, slab });
  const active = (mm: Kmem, name: string) =>
    mm.stats().caches.find((c) => c.name === name)?.activeObjects;

  describe(`mempool (${slab})`, () => {
    it("fills its reserve at creation and hands it out when the allocator fails", () => {
      const mm = make();
      const cache = mm.createCache("io", 96) as KmemCache;
      const pool = mm.createMempool(4, cache) as Mempool;
      assert.equal(pool.currNr, 4);
      assert.equal(pool.minNr, 4);
      assert.equal(active(mm, "io"), 4, "reserve elements are live objects of the cache");
      const fresh = pool.alloc();
      assert.notEqual(fresh, 0);
      assert.equal(pool.currNr, 4, "the allocator served it: the reserve is untouched");
      mm.setFault("failslab", failAll);
      const got = [1, 2, 3, 4].map(() => pool.alloc(GFP_ATOMIC));
      assert.ok(
        got.every((a) => a !== 0),
        "the reserve carries four allocations",
      );
      assert.equal(pool.currNr, 0);
      assert.equal(pool.alloc(GFP_ATOMIC), 0, "reserve empty, allocator failing: 0");
      assert.equal(pool.alloc(GFP_KERNEL), 0, "a single context cannot wait for a free");
      // Frees refill the reserve first, even while the allocator works again.
      mm.setFault("failslab", null);
      pool.free(got[0] as number);
      pool.free(got[1] as number);
      assert.equal(pool.currNr, 2);
      assert.equal(active(mm, "io"), 5);
      for (const a of [got[2], got[3], fresh]) pool.free(a as number);
      assert.equal(pool.currNr, 4);
      assert.equal(active(mm, "io"), 4, "the fifth went back to the cache");
      mm.verify();
      pool.destroy();
      assert.equal(active(mm, "io"), 0);
      cache.destroy();
      mm.verify();
    });

    it("pools kmalloc blocks of a size, zeroing on __GFP_ZERO", () => {
      const mm = make();
      const pool = mm.createMempool(2, 300) as Mempool;
      assert.equal(pool.size, 300);
      const a = pool.alloc();
      mm.memory.fill(0xaa, a, a + 300);
      pool.free(a);
      mm.setFault("failslab", failAll);
      const b = pool.alloc(GFP_ATOMIC | 0x100 /* __GFP_ZERO */);
      assert.ok(mm.memory.subarray(b, b + 300).every((x) => x === 0));
      mm.setFault("failslab", null);
      pool.free(b);
      pool.destroy();
      mm.verify();
    });

    it("returns null and takes nothing when the reserve cannot be filled", () => {
      const mm = make(256 << 10);
      const settled = () => {
        mm.shrinkSlabs();
        mm.drainPages();
        return mm.stats().freePages;
      };
      const before = settled();
      assert.equal(mm.createMempool(1000, 2000), null);
      assert.equal(settled(), before);
      mm.verify();
    });

    it("resizes: shrinking frees the surplus, growing refills", () => {
      const mm = make();
      const cache = mm.createCache("rs", 64) as KmemCache;
      const pool = mm.createMempool(3, cache) as Mempool;
      assert.equal(pool.resize(10), true);
      assert.equal(pool.currNr, 10);
      assert.equal(active(mm, "rs"), 10);
      assert.equal(pool.resize(2), true);
      assert.equal(pool.currNr, 2);
      assert.equal(active(mm, "rs"), 2);
      mm.setFault("failslab", failAll);
      assert.equal(pool.resize(5), true, "the array grew; elements come later through frees");
      assert.equal(pool.currNr, 2);
      mm.setFault("failslab", null);
      mm.verify();
      pool.destroy();
      cache.destroy();
    });

    it("allocAsync: the reserve, or 0 at once where nobody could free an element", async () => {
      const mm = make();
      const cache = mm.createCache("as", 48) as KmemCache;
      const pool = mm.createMempool(1, cache) as Mempool;
      mm.setFault("failslab", failAll);
      const el = await pool.allocAsync();
      assert.notEqual(el, 0, "the reserve served it");
      assert.equal(await pool.allocAsync(), 0, "one cpu: no wait");
      mm.setFault("failslab", null);
      await assert.rejects(pool.allocAsync(1 << 30), TypeError);
      pool.free(el);
      pool.destroy();
      await assert.rejects(pool.allocAsync(), /destroyed/);
      mm.verify();
    });

    it("refuses misuse without changing anything", () => {
      const mm = make();
      const cache = mm.createCache("m", 40, { flags: SLAB_NO_MERGE }) as KmemCache;
      const other = mm.createCache("o", 40, { flags: SLAB_NO_MERGE }) as KmemCache;
      const pool = mm.createMempool(2, cache) as Mempool;
      const x = pool.alloc();
      const y = other.alloc();
      assertMisuse(mm, "WRONG_CACHE", () => pool.free(y), true);
      assertMisuse(mm, "INVALID_FREE", () => pool.free(x + 8), true);
      pool.free(x); // into the reserve (it was full: straight back to the cache)
      mm.setFault("failslab", failAll);
      const r = pool.alloc(GFP_ATOMIC);
      mm.setFault("failslab", null);
      pool.free(r); // back into the reserve
      assertMisuse(mm, "DOUBLE_FREE", () => pool.free(r), true);
      const k = mm.createMempool(1, 100) as Mempool;
      const small = mm.kmalloc(8);
      assertMisuse(mm, "INVALID_FREE", () => k.free(small), true);
      assert.throws(() => pool.free(-4), TypeError);
      assert.throws(() => pool.alloc(1 << 30), TypeError);
      pool.destroy();
      assert.throws(() => pool.alloc(), { code: "DESTROYED" });
      assert.throws(() => pool.destroy(), { code: "DESTROYED" });
      mm.verify();
    });

    it("validates its arguments", () => {
      const mm = make();
      const elsewhere = make().createCache("x", 8) as KmemCache;
      assert.throws(() => mm.createMempool(-1, 8), RangeError);
      assert.throws(() => mm.createMempool(1.5, 8), TypeError);
      assert.throws(() => mm.createMempool(1, 0), RangeError);
      assert.throws(() => mm.createMempool(1, "8" as unknown as number), TypeError);
      assert.throws(() => mm.createMempool(1, elsewhere), /cache of this instance/);
      const c = mm.createCache("gone", 8) as KmemCache;
      c.destroy();
      assert.throws(() => mm.createMempool(1, c), { code: "DESTROYED" });
      mm.verify();
    });

    it("keeps its books under random traffic with the allocator failing at random", () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc.record({ op: fc.constant("alloc" as const), atomic: fc.boolean() }),
              fc.record({ op: fc.constant("free" as const), pick: fc.nat() }),
              fc.record({ op: fc.constant("fail" as const), on: fc.boolean() }),
              fc.record({ op: fc.constant("resize" as const), n: fc.nat(12) }),
            ),
            { minLength: 30, maxLength: 150, size: "max" },
          ),
          (ops) => {
            const mm = make();
            const cache = mm.createCache("p", 72) as KmemCache;
            const pool = mm.createMempool(4, cache) as Mempool;
            const out: number[] = [];
            let failing = false;
            for (const o of ops) {
              if (o.op === "alloc") {
                const reserve = pool.currNr;
                const a = pool.alloc(o.atomic ? GFP_ATOMIC : GFP_KERNEL);
                if (failing) {
                  assert.equal(a === 0, reserve === 0, "fails exactly when the reserve is empty");
                  if (a !== 0) assert.equal(pool.currNr, reserve - 1);
                } else {
                  assert.notEqual(a, 0);
                  assert.equal(pool.currNr, reserve, "the allocator served it");
                }
                if (a !== 0) out.push(a);
              } else if (o.op === "free" && out.length > 0) {
                const [a] = out.splice(o.pick % out.length, 1);
                const reserve = pool.currNr;
                pool.free(a as number);
                assert.equal(pool.currNr, Math.min(pool.minNr, reserve + 1));
              } else if (o.op === "fail") {
                failing = o.on;
                mm.setFault("failslab", o.on ? failAll : null);
              } else if (o.op === "resize") {
                pool.resize(o.n);
                assert.ok(pool.currNr <= pool.minNr);
              }
              assert.equal(active(mm, "p"), out.length + pool.currNr, "nothing lost");
              assert.equal(new Set(out).size, out.length, "nothing handed out twice");
            }
            mm.verify();
            mm.setFault("failslab", null);
            for (const a of out) pool.free(a);
            pool.destroy();
            assert.equal(active(mm, "p"), 0);
            mm.verify();
          },
        ),
        { numRuns: 40 },
      );
    });
  });
}
