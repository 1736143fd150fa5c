/*
 * The ObjectAllocator contract (src/slab-common/allocator.ts), the same scenarios for every
 * object allocator: a cache handle's calls, shrink's pages (0 for SLOB, which never holds
 * an empty page), and the one krealloc over each kmalloc front end.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { __GFP_ZERO, GFP_KERNEL, Kmem, KmemError, ZERO_SIZE_PTR } from "../../src/index.js";

const ALLOCATORS = ["slub", "slob"] as const;

function mk(slab: (typeof ALLOCATORS)[number]): Kmem {
  return new Kmem({ memory: 4 << 20, minFreeBytes: 0, slab });
}

for (const slab of ALLOCATORS) {
  describe(`object allocator ${slab}`, () => {
    it("serves a cache through its handle: alloc, free, shrink, destroy", () => {
      const mm = mk(slab);
      const c = mm.createCache("contract", 100);
      assert.ok(c !== null);
      assert.equal(c.objectSize, 100);
      assert.ok(c.size >= 100);
      const objs = Array.from({ length: 200 }, () => c.alloc(GFP_KERNEL));
      assert.equal(new Set(objs).size, objs.length, "distinct objects");
      assert.ok(objs.every((a) => a !== 0));
      assert.throws(
        () => c.destroy(),
        (e) => e instanceof KmemError && e.code === "BUSY",
      );
      for (const a of objs) c.free(a);
      assert.throws(
        () => c.free(objs[0] as number),
        (e) => e instanceof KmemError && e.code === "DOUBLE_FREE",
      );
      mm.verify();
      const shrunk = c.shrink();
      assert.ok(shrunk >= 0);
      if (slab === "slob") assert.equal(shrunk, 0, "SLOB gave every empty page back at free");
      assert.equal(c.shrink(), 0, "nothing left to give back");
      c.destroy();
      assert.throws(() => c.alloc(), { code: "DESTROYED" });
      mm.verify();
    });

    it("holds no empty slab after shrinkSlabs: its pages are back", () => {
      const mm = mk(slab);
      const used0 = mm.usedPages;
      const c = mm.createCache("pages", 256);
      assert.ok(c !== null);
      const objs = Array.from({ length: 100 }, () => c.alloc());
      assert.ok(mm.usedPages > used0);
      for (const a of objs) c.free(a);
      const freed = mm.shrinkSlabs();
      if (slab === "slob") assert.equal(freed, 0);
      c.destroy();
      mm.shrinkSlabs();
      // What remains is the other caches' (the descriptors, kmalloc's): at most a few pages.
      assert.ok(mm.usedPages - used0 <= 2, `${mm.usedPages - used0} pages still used`);
      mm.verify();
    });

    it("krealloc: in place within the usable size, zeroing with __GFP_ZERO; else moved", () => {
      const mm = mk(slab);
      const p = mm.kmalloc(40);
      const usable = mm.ksize(p);
      assert.ok(usable >= 40);
      mm.memory.fill(0xab, p, p + usable);
      assert.equal(mm.krealloc(p, 20, GFP_KERNEL | __GFP_ZERO), p, "shrinks in place");
      assert.ok(
        mm.memory.subarray(p, p + 20).every((b) => b === 0xab),
        "kept",
      );
      assert.ok(
        mm.memory.subarray(p + 20, p + usable).every((b) => b === 0),
        "zeroed",
      );
      mm.memory.fill(0xcd, p, p + 20);
      const q = mm.krealloc(p, usable + 500);
      assert.notEqual(q, 0);
      assert.notEqual(q, p, "moved");
      assert.ok(
        mm.memory.subarray(q, q + 20).every((b) => b === 0xcd),
        "contents moved",
      );
      assert.equal(mm.krealloc(q, 0), ZERO_SIZE_PTR, "krealloc to 0 frees");
      const r = mm.krealloc(0, 30);
      assert.ok(r !== 0 && mm.ksize(r) >= 30, "krealloc(0, n) is kmalloc");
      mm.kfree(r);
      mm.verify();
    });
  });
}
