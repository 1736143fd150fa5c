/*
 * mm.createAllocator and the ByteAllocator adapters: names and options checked, null when the
 * control block cannot be had, state in the managed buffer (node 0's when each node has a
 * buffer of its own), the same interface for every allocator.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CLASSIC_NAMES,
  type ClassicOptions,
  classicAllocator,
  Kmem,
  KmemError,
} from "../../src/index.js";
import { expectArgumentError } from "../helpers.js";

describe("createAllocator", () => {
  it("knows the five allocators of the literature, in its order", () => {
    assert.deepEqual(CLASSIC_NAMES, ["p2", "mckusick-karels", "lazy-buddy", "mach-zone", "dynix"]);
  });

  it("checks the name and the options", () => {
    const mm = new Kmem({ memory: 1 << 20 });
    expectArgumentError(RangeError, /allocator name must be one of p2, mckusick-karels/, () =>
      mm.createAllocator("slab" as never),
    );
    expectArgumentError(TypeError, /p2: unknown option "x"/, () =>
      mm.createAllocator("p2", { x: 1 } as unknown as ClassicOptions["p2"]),
    );
    expectArgumentError(TypeError, /options must be an object/, () =>
      mm.createAllocator("dynix", 3 as never),
    );
  });

  it("returns null when its control block cannot be had, taking nothing", () => {
    const mm = new Kmem({ memory: 1 << 20, minFreeBytes: 0 });
    const held: number[] = [];
    for (let p = mm.allocPages(0); p !== 0; p = mm.allocPages(0)) held.push(p);
    const free = mm.stats().freePages;
    for (const name of CLASSIC_NAMES) assert.equal(mm.createAllocator(name), null, name);
    assert.equal(mm.stats().freePages, free);
    assert.throws(() => classicAllocator(mm, "p2"), /no memory for its control block/);
    mm.freePages(held.pop() as number, 0);
    assert.notEqual(mm.createAllocator("p2"), null);
  });

  for (const name of CLASSIC_NAMES) {
    it(`${name}: state in the buffer, pages from kmem, the same surface as every other`, () => {
      const mm = new Kmem({ memory: 4 << 20, minFreeBytes: 0 });
      const before = mm.stats().freePages;
      const a = mm.createAllocator(name);
      assert.ok(a !== null);
      assert.equal(a.name, name);
      assert.equal(a.address % mm.pageSize, 0, "the control block is a page of kmem's");
      assert.equal(mm.stats().freePages, before - a.stats().pages);
      const p = a.alloc(100);
      assert.ok(p > 0 && a.usableSize(p) >= 100);
      assert.equal(a.stats().live, 1);
      assert.equal(mm.stats().freePages, before - a.stats().pages);
      assert.equal(a.footprint(), a.stats().pages * (mm.pageSize + 32));
      const q = a.realloc(p, 3000);
      assert.ok(q > 0);
      a.free(q);
      assert.equal(a.stats().live, 0);
      assert.equal(a.stats().allocs, 2);
      a.verify();
      mm.verify();
      assert.equal(a.alloc(mm.memory.length), 0, "more than memory: 0, not an error");
      assert.throws(() => a.free(12345), KmemError);
    });

    it(`${name}: as a ByteAllocator, -1 for what it cannot serve`, () => {
      const mm = new Kmem({ memory: 4 << 20 });
      const b = classicAllocator(mm, name);
      assert.equal(b.name, name);
      const h = b.alloc(64);
      assert.ok(h > 0);
      assert.ok((b.usableSize?.(h, 64) ?? 0) >= 64);
      const moved = b.realloc?.(h, 64, 5000) ?? -1;
      assert.ok(moved > 0);
      b.free(moved, 5000);
      assert.equal(b.alloc(8 << 20), -1);
      b.verify?.();
    });
  }

  it("over a buffer per NUMA node, serves from node 0's (the buffer mm.memory views)", () => {
    const mm = new Kmem({ nodes: [1 << 20, 1 << 20], minFreeBytes: 0 });
    mm.setPolicy({ mode: "interleave", nodes: [0, 1] });
    for (const name of CLASSIC_NAMES) {
      const a = mm.createAllocator(name);
      assert.ok(a !== null);
      const ps = Array.from({ length: 40 }, (_, i) => a.alloc(64 + i * 97));
      for (const p of ps) {
        assert.ok(p !== 0 && p + a.usableSize(p) <= mm.memory.length, `${name}: ${p} on node 0`);
        assert.equal(mm.nodeOf(p), 0);
      }
      for (const p of ps) a.free(p);
      a.verify();
    }
    mm.verify();
  });
});
