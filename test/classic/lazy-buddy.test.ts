/*
 * The SVR4 lazy buddy system: the model run, faults, misuse, and what defines it (the slack
 * D = A - L deciding whether a free is lazy, reclaiming or accelerated; coalescing back to
 * whole pages once every block is free).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Kmem, type LazyBuddyAllocator, type LazyBuddyOrder } from "../../src/index.js";
import { assertMisuse, expectArgumentError } from "../helpers.js";
import { modelProperty, runModel, runUnderFaults, sizeArb } from "./harness.js";

const make = (mm: Kmem): LazyBuddyAllocator | null => mm.createAllocator("lazy-buddy");

function fresh(): { mm: Kmem; a: LazyBuddyAllocator } {
  const mm = new Kmem({ memory: 4 << 20, minFreeBytes: 0 });
  const a = make(mm);
  assert.ok(a !== null);
  return { mm, a };
}

function order(a: LazyBuddyAllocator, size: number): LazyBuddyOrder | undefined {
  return a.stats().orders.find((o) => o.size === size);
}

/** [allocated, locally free, globally free, slack, state] of the blocks of `size`. */
function counts(a: LazyBuddyAllocator, size: number): [number, number, number, number, string] {
  const o = order(a, size);
  if (o === undefined) return [0, 0, 0, 0, "accelerated"];
  return [o.allocated, o.localFree, o.globalFree, o.slack, o.state];
}

describe("lazy-buddy", () => {
  it("model: random alloc/free/realloc keep contents, never overlap, verify() clean", () => {
    modelProperty(make);
  });

  it("model with 16-byte blocks", () => {
    modelProperty((mm) => mm.createAllocator("lazy-buddy", { minBlock: 16 }), 30);
  });

  it("under page-allocator faults: failures return 0 and nothing live is lost", () => {
    assert.ok(runUnderFaults(make, 3) > 0);
  });

  it("frees lazily while the slack is 2 or more, reclaims at 1, accelerates at 0", () => {
    const { mm, a } = fresh();
    const before = mm.stats().freePages;
    // 64-byte blocks at page offsets 0, 64, 128, 192, 256: each split leaves the buddy of
    // the block it makes globally free, the next allocation takes that buddy.
    const p = Array.from({ length: 5 }, () => a.alloc(64));
    assert.deepEqual(
      p.map((x) => x - (p[0] as number)),
      [0, 64, 128, 192, 256],
    );
    assert.deepEqual(counts(a, 64), [5, 0, 1, 5, "lazy"]);
    a.free(p[0] as number); // D 5 >= 2: lazy, locally free, no coalescing
    assert.deepEqual(counts(a, 64), [4, 1, 1, 3, "lazy"]);
    a.free(p[1] as number); // D 3: lazy
    assert.deepEqual(counts(a, 64), [3, 2, 1, 1, "reclaiming"]);
    a.free(p[4] as number); // D 1: reclaiming: freed globally, coalesced with its free buddy
    assert.deepEqual(counts(a, 64), [2, 2, 0, 0, "accelerated"]);
    assert.equal(order(a, 64)?.coalesces, 1);
    a.free(p[2] as number); // D 0: accelerated: it and a locally free block (p[1]) go global
    assert.deepEqual(counts(a, 64), [1, 1, 2, 0, "accelerated"]);
    a.free(p[3] as number); // D 0: it and the last locally free one (p[0]) go global
    assert.deepEqual(counts(a, 64), [0, 0, 0, 0, "accelerated"]);
    const s = order(a, 64);
    assert.deepEqual([s?.lazyFrees, s?.reclaimingFrees, s?.acceleratedFrees], [2, 1, 2]);
    // Everything coalesced back into the page; it stays as the spare (so does the page of
    // buddy map, the table's spare): the next page the allocator needs.
    assert.equal(a.stats().buddyPages, 0);
    assert.equal(a.stats().sparePage, true);
    assert.equal(mm.stats().freePages, before - 2);
    a.verify();
  });

  it("allocates a locally free block first (slack + 2), a globally free one next (+ 1)", () => {
    const { a } = fresh();
    const p = Array.from({ length: 4 }, () => a.alloc(100)); // 128-byte blocks
    assert.deepEqual(counts(a, 128), [4, 0, 0, 4, "lazy"]);
    a.free(p[0] as number);
    assert.deepEqual(counts(a, 128), [3, 1, 0, 2, "lazy"]);
    assert.equal(a.alloc(128), p[0], "the locally free block");
    assert.deepEqual(counts(a, 128), [4, 0, 0, 4, "lazy"]);
    const q = a.alloc(128); // none free: a 512-byte block split, its unused halves global
    assert.deepEqual(counts(a, 128), [5, 0, 1, 5, "lazy"]);
    const r = a.alloc(128); // the globally free one
    assert.deepEqual(counts(a, 128), [6, 0, 0, 6, "lazy"]);
    assert.equal(r, q + 128);
    a.verify();
  });

  it("coalesces everything back into pages once every block is freed, whatever the order", () => {
    fc.assert(
      fc.property(fc.array(sizeArb, { minLength: 1, maxLength: 200 }), fc.nat(), (sizes, seed) => {
        const { mm, a } = fresh();
        const free0 = mm.stats().freePages;
        const ps = sizes.map((s) => a.alloc(s));
        // Free in a shuffled order.
        let x = seed >>> 0;
        for (let i = ps.length - 1; i > 0; i--) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          const j = x % (i + 1);
          [ps[i], ps[j]] = [ps[j] as number, ps[i] as number];
        }
        for (const p of ps) if (p !== 0) a.free(p);
        a.verify();
        for (const o of a.stats().orders) {
          assert.equal(o.localFree, 0, `${o.size}: no block left locally free`);
          assert.equal(o.globalFree, 0, `${o.size}: everything coalesced`);
        }
        // Back, but for the spare page and the buddy map's spare page.
        const s = a.stats();
        assert.equal(s.buddyPages, 0);
        assert.ok(s.pages <= 3, `${s.pages} pages held`);
        assert.equal(mm.stats().freePages, free0 - (s.pages - 1));
      }),
      { numRuns: 40 },
    );
  });

  it("a model run ends with every page back once all is freed, but for the spares", () => {
    const m = runModel(make, [
      { kind: "alloc", size: 10 },
      { kind: "alloc", size: 300 },
      { kind: "alloc", size: 5000 },
      { kind: "realloc", pick: 0, size: 700 },
      { kind: "free", pick: 1 },
    ]);
    const s = (m.a as LazyBuddyAllocator).stats();
    assert.equal(s.buddyPages, 0);
    assert.equal(s.pages, 3, "the control block, the spare page and the map's spare page");
  });
});

describe("lazy-buddy misuse", () => {
  it("refuses an address where no allocated block starts, changing nothing", () => {
    const { mm, a } = fresh();
    const p = a.alloc(64);
    a.alloc(64);
    const r = a.alloc(64); // at p + 128; the split left p + 192 globally free
    const big = a.alloc(10000);
    const page = mm.allocPages(0);
    for (const bad of [p + 32, p + 8, p + 1, big + 4096, big + 64, page, 0, mm.memory.length]) {
      assertMisuse(mm, "INVALID_FREE", () => a.free(bad), true);
    }
    assertMisuse(mm, "DOUBLE_FREE", () => a.free(r + 64), true);
    a.free(p); // lazy: locally free
    assertMisuse(mm, "DOUBLE_FREE", () => a.free(p), true);
    assertMisuse(mm, "DOUBLE_FREE", () => a.usableSize(p), true);
    a.free(big);
    assertMisuse(mm, "INVALID_FREE", () => a.free(big), true);
    a.verify();
  });

  it("rejects malformed arguments", () => {
    const { a } = fresh();
    expectArgumentError(TypeError, /size must be a non-negative integer/, () => a.alloc(NaN));
    expectArgumentError(RangeError, /minBlock must be a power of two in 16\.\.1024/, () =>
      new Kmem({ memory: 1 << 20 }).createAllocator("lazy-buddy", { minBlock: 24 }),
    );
  });
});
