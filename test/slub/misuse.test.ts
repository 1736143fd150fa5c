/*
 * Misuse of slab objects and kmalloc memory: DOUBLE_FREE, INVALID_FREE and WRONG_CACHE,
 * detected before any byte of memory changes (the whole buffer is compared), with every
 * other object intact and usable afterwards.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, SLAB_NO_MERGE, ZERO_SIZE_PTR } from "../../src/index.js";
import {
  assertBadArgument,
  assertMisuse,
  SLAB_ALLOCATORS,
  type SlabAllocatorName,
} from "../helpers.js";

/** The suite, for one of the allocators built on SLUB's slabs. */
function suite(slab: SlabAllocatorName): void {
  function setup() {
    const mm = new Kmem({ slab, memory: 2 << 20, minFreeBytes: 0 });
    const a = mm.createCache("a", 40, { flags: SLAB_NO_MERGE });
    const b = mm.createCache("b", 40, { flags: SLAB_NO_MERGE });
    assert.ok(a !== null && b !== null);
    const objs = [
      a.alloc(),
      a.alloc(),
      b.alloc(),
      mm.kmalloc(64),
      mm.kmalloc(3000),
      mm.kmalloc(50000),
    ];
    objs.forEach((o, i) => mm.memory.fill(0x10 + i, o, o + 40));
    const intact = () => {
      objs.forEach((o, i) => assert.ok(mm.memory.subarray(o, o + 40).every((x) => x === 0x10 + i)));
    };
    return { mm, a, b, objs, intact };
  }

  describe("slab misuse", () => {
    it("DOUBLE_FREE on the cpu freelist, on a slab's own freelist, and for kmalloc", () => {
      const { mm, a, objs, intact } = setup();
      const extra = a.alloc();
      a.free(extra);
      assertMisuse(mm, "DOUBLE_FREE", () => a.free(extra), true);
      const k = mm.kmalloc(64);
      mm.kfree(k);
      assertMisuse(mm, "DOUBLE_FREE", () => mm.kfree(k), true);
      // An object freed while its slab is not the cpu slab: fill past one slab first.
      const many: number[] = [];
      for (let i = 0; i < 300; i++) many.push(a.alloc());
      const old = many[0] as number;
      a.free(old);
      assertMisuse(mm, "DOUBLE_FREE", () => a.free(old), true);
      for (const o of many.slice(1)) a.free(o);
      const large = mm.kmalloc(50000);
      mm.kfree(large);
      assertMisuse(mm, "DOUBLE_FREE", () => mm.kfree(large), true);
      intact();
      assert.ok(objs.length > 0);
    });

    it("INVALID_FREE for an address inside an object, in a slab's padding, or never allocated", () => {
      const { mm, a, objs, intact } = setup();
      const o = objs[0] as number;
      assertMisuse(mm, "INVALID_FREE", () => a.free(o + 8), true);
      assertMisuse(mm, "INVALID_FREE", () => mm.kfree(o + 1), true);
      assertMisuse(mm, "INVALID_FREE", () => mm.kfree((objs[4] as number) + 100), true);
      // Page-allocator pages are not kmalloc memory.
      const page = mm.allocPages(0);
      assertMisuse(mm, "INVALID_FREE", () => a.free(page), true);
      assertMisuse(mm, "INVALID_FREE", () => mm.kfree(page), true);
      assertMisuse(mm, "INVALID_FREE", () => mm.kfree(page + 16), true);
      assertMisuse(mm, "INVALID_FREE", () => mm.kfree(4096), true);
      assertMisuse(mm, "INVALID_FREE", () => mm.kfree(mm.memory.length + 64), true);
      assertMisuse(mm, "INVALID_FREE", () => mm.kfree(-64), true);
      assertMisuse(mm, "INVALID_FREE", () => mm.freePages((objs[0] as number) & ~4095, 0), true);
      assertMisuse(mm, "INVALID_FREE", () => mm.freePages(objs[5] as number, 4), true);
      intact();
    });

    it("WRONG_CACHE for an object freed to another cache, naming both", () => {
      const { mm, b, objs, intact } = setup();
      const err = assertMisuse(mm, "WRONG_CACHE", () => b.free(objs[0] as number), true);
      assert.match(err.message, /belongs to cache "a", not "b"/);
      const k = mm.createCache("k64", 64, { flags: SLAB_NO_MERGE });
      assertMisuse(mm, "WRONG_CACHE", () => k?.free(objs[3] as number), true);
      intact();
    });

    it("goes on working after misuse: everything frees, verify() passes", () => {
      const { mm, a, b, objs } = setup();
      assertMisuse(mm, "WRONG_CACHE", () => b.free(objs[1] as number), true);
      a.free(objs[0] as number);
      a.free(objs[1] as number);
      b.free(objs[2] as number);
      mm.kfree(objs[3] as number);
      mm.kfree(objs[4] as number);
      mm.kfree(objs[5] as number);
      mm.verify();
      assert.equal(mm.stats().caches.find((c) => c.name === "a")?.activeObjects, 0);
    });

    it("kfree(0) and kfree(ZERO_SIZE_PTR) do nothing; ksize says 0", () => {
      const { mm, intact } = setup();
      const before = mm.memory.slice();
      mm.kfree(0);
      mm.kfree(ZERO_SIZE_PTR);
      assert.equal(mm.ksize(0), 0);
      assert.equal(mm.ksize(ZERO_SIZE_PTR), 0);
      assert.ok(Buffer.from(mm.memory).equals(Buffer.from(before)));
      intact();
    });

    it("ksize and krealloc of a freed or foreign address throw, and change nothing", () => {
      const { mm, objs, intact } = setup();
      const k = mm.kmalloc(100);
      mm.kfree(k);
      assertMisuse(mm, "DOUBLE_FREE", () => mm.ksize(k), true);
      assertMisuse(mm, "DOUBLE_FREE", () => mm.krealloc(k, 500), true);
      assertMisuse(mm, "INVALID_FREE", () => mm.ksize((objs[3] as number) + 4), true);
      intact();
    });
  });

  describe("kmalloc bad arguments", () => {
    it("sizes, counts, addresses and gfp", () => {
      const { mm, intact } = setup();
      for (const fn of ["kmalloc", "kzalloc"] as const) {
        assertBadArgument(mm, TypeError, /size must be a non-negative integer, got 1\.5/, () =>
          mm[fn](1.5),
        );
        assertBadArgument(mm, TypeError, /size must be a non-negative integer, got NaN/, () =>
          mm[fn](Number.NaN),
        );
        assertBadArgument(mm, TypeError, /size/, () => mm[fn]("8" as unknown as number));
        assertBadArgument(mm, RangeError, /size must be a non-negative integer, got -1/, () =>
          mm[fn](-1),
        );
        assertBadArgument(mm, RangeError, /gfp/, () => mm[fn](8, 1 << 30));
      }
      assertBadArgument(mm, RangeError, /n must be/, () => mm.kcalloc(-1, 8));
      assertBadArgument(mm, TypeError, /size must be/, () => mm.kcalloc(1, 0.5));
      assertBadArgument(mm, TypeError, /address must be an integer/, () => mm.kfree(0.5));
      assertBadArgument(mm, TypeError, /address must be an integer/, () => mm.ksize(Number.NaN));
      assertBadArgument(mm, TypeError, /address must be an integer/, () =>
        mm.krealloc("1" as unknown as number, 8),
      );
      assertBadArgument(mm, TypeError, /size/, () => mm.krealloc(0, 1.5));
      intact();
    });

    it("too large is not an error: it returns 0", () => {
      const { mm } = setup();
      assert.equal(mm.kmalloc(2 ** 32), 0);
      assert.equal(mm.kmalloc(2 ** 40), 0);
      assert.equal(mm.kmalloc(64 << 20), 0);
      assert.equal(mm.kcalloc(2 ** 20, 2 ** 20), 0, "n * size overflows 32 bits");
      assert.equal(mm.kcalloc(2 ** 53, 2), 0);
      mm.verify();
    });
  });
}

for (const slab of SLAB_ALLOCATORS) describe(slab, () => suite(slab));
