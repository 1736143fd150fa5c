/*
 * The cache of freed large runs (src/kmalloc/large-cache.ts): a freed run served again
 * whole, misuse of a cached run refused before anything changes, the cache dropped by
 * shrink and before an allocation fails, its bounds, recovery from the runs' marks, and a
 * model of random large allocations with verify() after every step.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { __GFP_ZERO, GFP_ATOMIC, GFP_KERNEL, Kmem } from "../../src/index.js";
import { type Kmalloc, LC_PER_BIN, LcDesc, type LargeRunCache } from "../../src/kmalloc/index.js";
import { Frame, Pg } from "../../src/memory/index.js";
import { expectKmemError, memMap } from "../helpers.js";

function mm(memory = 8 << 20, extra: object = {}): Kmem {
  return new Kmem({ memory, minFreeBytes: 0, ...extra });
}

function cache(k: Kmem): LargeRunCache {
  const lc = (k as unknown as { km: Kmalloc }).km.largeCache;
  assert.ok(lc !== null);
  return lc;
}

/** The first node's cache descriptor. */
function desc(k: Kmem): Int32Array {
  return (cache(k) as unknown as { d: Int32Array[] }).d[0] as Int32Array;
}

function fill(k: Kmem, p: number, n: number, v: number): void {
  k.memory.fill(v, p, p + n);
}

describe("kmalloc large-run cache: reuse", () => {
  it("a freed run is kept whole and served again to a request of its page count", () => {
    const k = mm();
    const a = k.kmalloc(20000);
    const other = k.kmalloc(40000);
    k.kfree(other);
    k.kfree(a);
    assert.equal(k.stats().kmallocCachedPages, 5 + 10);
    const free = k.stats().freePages;
    const b = k.kmalloc(19000);
    assert.equal(b, a, "the cached run of 5 pages");
    assert.equal(k.stats().freePages, free, "no page from the page allocator");
    assert.equal(k.ksize(b), 20480);
    assert.equal(k.stats().kmallocCachedPages, 10);
    k.verify();
    k.kfree(b);
    k.verify();
  });

  it("zeroes a cached run for __GFP_ZERO and with init_on_alloc, and with init_on_free", () => {
    for (const initOnAlloc of [false, true]) {
      const k = mm(8 << 20, { initOnAlloc });
      const a = k.kmalloc(30000);
      fill(k, a, 30000, 0x5a);
      k.kfree(a);
      const b = initOnAlloc ? k.kmalloc(30000) : k.kmalloc(30000, GFP_KERNEL | __GFP_ZERO);
      assert.equal(b, a);
      assert.ok(k.memory.subarray(b, b + 32768).every((x) => x === 0));
      k.kfree(b);
    }
    // init_on_free: wiped when it goes into the cache.
    const k = mm(8 << 20, { initOnFree: true });
    const a = k.kmalloc(30000);
    fill(k, a, 30000, 0x5a);
    k.kfree(a);
    assert.equal(k.stats().kmallocCachedPages, 8);
    assert.ok(k.memory.subarray(a, a + 32768).every((x) => x === 0));
    // And when it goes back to the page allocator (no cache with Linux's classes).
    const l = mm(8 << 20, { initOnFree: true, sizeClasses: "linux" });
    const c = l.kmalloc(30000);
    fill(l, c, 30000, 0x5a);
    l.kfree(c);
    assert.equal(l.stats().kmallocCachedPages, 0);
    assert.ok(l.memory.subarray(c, c + 32768).every((x) => x === 0));
    l.verify();
  });

  it("is not there with Linux's classes, SLOB or a sanitizer", () => {
    for (const extra of [{ sizeClasses: "linux" }, { slab: "slob" }, { kmemleak: true }]) {
      const k = mm(8 << 20, extra);
      k.kfree(k.kmalloc(20000));
      assert.equal(k.stats().kmallocCachedPages, 0, JSON.stringify(extra));
      k.verify();
    }
  });

  it("holds at most PER_BIN runs a bin", () => {
    const k = mm();
    const runs = Array.from({ length: LC_PER_BIN + 2 }, () => k.kmalloc(20000));
    for (const p of runs) k.kfree(p);
    assert.equal(k.stats().kmallocCachedPages, LC_PER_BIN * 5);
    k.verify();
  });

  it("gives way when kmalloc would pass its peak footprint: a large miss, a new slab", () => {
    const k = mm();
    // One run in use at a time: the cache holds no more than that run's pages.
    const x = k.kmalloc(20000);
    k.kfree(x);
    const y = k.kmalloc(24000);
    assert.equal(k.stats().kmallocCachedPages, 0, "evicted: 6 pages in use, 5 cached > 6");
    k.kfree(y);
    assert.equal(k.stats().kmallocCachedPages, 6);
    // Small objects beyond the peak: the first new slab evicts the cached run.
    const small = Array.from({ length: 300 }, () => k.kmalloc(64));
    assert.equal(k.stats().kmallocCachedPages, 0);
    for (const p of small) k.kfree(p);
    k.verify();
  });
});

describe("kmalloc large-run cache: misuse and pressure", () => {
  it("kfree of a cached run: DOUBLE_FREE; of an address inside it: INVALID_FREE; nothing changes", () => {
    const k = mm();
    const a = k.kmalloc(100000);
    const b = k.kmalloc(20000);
    k.kfree(a);
    const before = k.stats();
    expectKmemError("DOUBLE_FREE", () => k.kfree(a));
    expectKmemError("DOUBLE_FREE", () => k.ksize(a));
    expectKmemError("DOUBLE_FREE", () => k.krealloc(a, 200000));
    expectKmemError("INVALID_FREE", () => k.kfree(a + 16 * 4096));
    expectKmemError("INVALID_FREE", () => k.kfree(a + 4096));
    expectKmemError("INVALID_FREE", () => k.kfree(a + 8));
    assert.throws(() => k.freePages(a, 4), /belongs to kmalloc/);
    assert.equal(k.stats().kmallocCachedPages, before.kmallocCachedPages);
    assert.equal(k.stats().freePages, before.freePages);
    k.verify();
    assert.equal(k.kmalloc(100000), a);
    k.kfree(a);
    k.kfree(b);
    k.verify();
  });

  it("shrinkSlabs drops it; an allocation that needs its pages succeeds, atomic too", () => {
    const k = mm(2 << 20);
    const free0 = k.stats().freePages;
    // Large runs until memory is short, then all freed: some are kept.
    const runs: number[] = [];
    for (let p = k.kmalloc(20000); p !== 0; p = k.kmalloc(20000)) runs.push(p);
    for (const p of runs) k.kfree(p);
    assert.ok(k.stats().kmallocCachedPages > 0);
    k.verify();
    // Every page, atomically (no reclaim): the cache gives its pages back first.
    const pages: number[] = [];
    for (let p = k.allocPages(0, GFP_ATOMIC); p !== 0; p = k.allocPages(0, GFP_ATOMIC)) {
      pages.push(p);
    }
    assert.equal(k.stats().kmallocCachedPages, 0);
    for (const p of pages) k.freePages(p, 0);
    k.drainPages();
    assert.equal(k.stats().freePages, free0);
    k.kfree(k.kmalloc(20000));
    assert.ok(k.shrinkSlabs() >= 5);
    assert.equal(k.stats().kmallocCachedPages, 0);
    k.drainPages();
    assert.equal(k.stats().freePages, free0);
    k.verify();
  });

  it("verify() finds a run marked but on no bin, and a bin's count that is wrong", () => {
    const k = mm();
    const a = k.kmalloc(20000);
    k.kfree(a);
    const d = desc(k);
    d[LcDesc.NR + 4] = 2;
    expectKmemError("CORRUPTION", () => k.verify());
    d[LcDesc.NR + 4] = 1;
    k.verify();
    const head = d[LcDesc.HEADS + 4] as number;
    d[LcDesc.HEADS + 4] = 0;
    const err = expectKmemError("CORRUPTION", () => k.verify());
    assert.match(err.message, /LCACHE-/);
    d[LcDesc.HEADS + 4] = head;
    k.verify();
  });

  it("recover() rebuilds the bins and counters from the runs' marks", () => {
    const k = mm();
    const runs = [20000, 20000, 40000, 70000].map((n) => k.kmalloc(n));
    for (const p of runs) k.kfree(p);
    const cached = k.stats().kmallocCachedPages;
    const d = desc(k);
    for (let w = LcDesc.PAGES; w < LcDesc.WORDS; w++) if (w !== LcDesc.CAP) d[w] = 0;
    expectKmemError("CORRUPTION", () => k.verify());
    cache(k).recover(0);
    k.verify();
    assert.equal(k.stats().kmallocCachedPages, cached);
    const f = memMap(k);
    const p = k.kmalloc(70000);
    assert.equal(p, runs[3]);
    assert.equal(f[(p / k.pageSize) * Frame.WORDS + Pg.OWNER + 1], 0, "no longer marked");
    k.kfree(p);
    k.verify();
  });
});

describe("kmalloc large-run cache: against a model", () => {
  it("random large kmalloc, krealloc, kfree: contents intact, verify() clean at every step", () => {
    const size = fc.oneof(
      fc.integer({ min: 16400, max: 140000 }),
      fc.constantFrom(20000, 20480, 32768 + 1, 40000, 100000),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), size, fc.nat()), { maxLength: 60 }),
        (ops) => {
          const k = mm(4 << 20);
          const live: { p: number; n: number; tag: number }[] = [];
          let tag = 1;
          for (const [op, n, pick] of ops) {
            if (op < 5 || live.length === 0) {
              const p = k.kmalloc(n);
              if (p === 0) continue;
              assert.ok(live.every((b) => b.p !== p));
              live.push({ p, n, tag });
              fill(k, p, n, tag++ & 255);
            } else if (op < 6) {
              const b = live[pick % live.length] as { p: number; n: number; tag: number };
              const q = k.krealloc(b.p, n);
              if (q === 0) continue;
              const kept = Math.min(n, b.n);
              assert.ok(k.memory.subarray(q, q + kept).every((x) => x === (b.tag & 255)));
              b.p = q;
              b.n = n;
              fill(k, q, n, (b.tag = tag++) & 255);
            } else {
              const i = pick % live.length;
              const b = live[i] as { p: number };
              k.kfree(b.p);
              expectKmemError("DOUBLE_FREE", () => k.kfree(b.p));
              live[i] = live[live.length - 1] as { p: number; n: number; tag: number };
              live.pop();
            }
            k.verify();
            for (const b of live) {
              const v = k.memory.subarray(b.p, b.p + b.n);
              assert.ok(v[0] === (b.tag & 255) && v[b.n - 1] === (b.tag & 255), "intact");
            }
          }
        },
      ),
      { numRuns: process.env["KMEM_SLOW"] === "1" ? 200 : 15 },
    );
  });
});
