/*
 * p2, 4.2BSD's power-of-two free lists: the model run, faults, misuse, and what defines it
 * (a header per block naming its list; no coalescing, no memory ever given back).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, type P2Allocator } from "../../src/index.js";
import { assertMisuse, expectArgumentError, expectKmemError } from "../helpers.js";
import { modelProperty, runUnderFaults } from "./harness.js";

const make = (mm: Kmem): P2Allocator | null => mm.createAllocator("p2");

function fresh(): { mm: Kmem; a: P2Allocator } {
  const mm = new Kmem({ memory: 4 << 20, minFreeBytes: 0 });
  const a = make(mm);
  assert.ok(a !== null);
  return { mm, a };
}

describe("p2", () => {
  it("model: random alloc/free/realloc keep contents, never overlap, verify() clean", () => {
    modelProperty(make);
  });

  it("under page-allocator faults: failures return 0 and nothing live is lost", () => {
    assert.ok(runUnderFaults(make, 7) > 0);
  });

  it("rounds a request plus its 8-byte header up to a power of two", () => {
    const { a } = fresh();
    const cases: [number, number][] = [
      [0, 8],
      [1, 8],
      [8, 8],
      [9, 24],
      [56, 56],
      [57, 120],
      [4088, 4088],
      [4089, 8184],
    ];
    for (const [size, usable] of cases) {
      const addr = a.alloc(size);
      assert.notEqual(addr, 0);
      assert.equal(a.usableSize(addr), usable, `size ${size}`);
      assert.equal(addr % 8, 0);
    }
    a.verify();
  });

  it("never coalesces and never gives memory back: freed blocks serve their own size only", () => {
    const { mm, a } = fresh();
    const small = Array.from({ length: 256 }, () => a.alloc(8)); // one page of 16-byte blocks
    const pages = a.stats().pages;
    for (const p of small) a.free(p);
    a.verify();
    // Every block is free, yet the page stays with p2, on the 16-byte list.
    assert.equal(a.stats().pages, pages);
    assert.deepEqual(a.stats().buckets, [{ size: 16, blocks: 256, free: 256 }]);
    const before = mm.stats().freePages;
    // A 32-byte block cannot be made of two free 16-byte buddies: a new page is carved.
    const big = a.alloc(24);
    assert.equal(a.stats().pages, pages + 1);
    assert.equal(mm.stats().freePages, before - 1);
    assert.deepEqual(a.stats().buckets, [
      { size: 16, blocks: 256, free: 256 },
      { size: 32, blocks: 128, free: 127 },
    ]);
    // The freed 16-byte blocks come back in LIFO order.
    assert.equal(a.alloc(8), small[small.length - 1]);
    a.free(big);
    a.verify();
  });

  it("keeps the header in front of the block: the block names its own list", () => {
    const { mm, a } = fresh();
    const p = a.alloc(100); // 108 bytes with the header -> the 128-byte list (bucket 3)
    const hdr = mm.getUint32(p - 8);
    assert.equal(hdr & 0xff, 0xef, "4.2BSD's magic");
    assert.equal((hdr >>> 8) & 0xff, 3, "bucket index");
    assert.equal(mm.getUint32(p - 4), 100, "the size asked for");
    a.free(p);
    // Free, word 1 links the list: to the next block of the page, carved in address order.
    assert.equal(mm.getUint32(p - 4), p - 8 + 128);
    assert.equal((mm.getUint32(p - 8) >>> 16) & 0xff, 2, "state: free");
  });

  it("realloc stays in place within the bucket and moves the contents otherwise", () => {
    const { mm, a } = fresh();
    const p = a.alloc(40);
    mm.memory.fill(0x5a, p, p + 40);
    assert.equal(a.realloc(p, 56), p);
    assert.equal(a.realloc(p, 30), p, "more than half the block: stays");
    const q = a.realloc(p, 300);
    assert.notEqual(q, p);
    assert.ok(mm.memory.subarray(q, q + 30).every((x) => x === 0x5a));
    const r = a.realloc(q, 10);
    assert.notEqual(r, q, "shrinking below half moves to the smaller list");
    assert.equal(a.realloc(0, 10) !== 0, true);
    a.verify();
  });

  it("fails (0) for what no block can hold, and counts it", () => {
    const { a } = fresh();
    assert.equal(a.alloc(a.maxSize + 1), 0);
    assert.equal(a.alloc(2 ** 32 + 5), 0);
    assert.equal(a.alloc(3 << 20), 0, "more than memory");
    assert.equal(a.stats().fails, 3);
    a.verify();
  });
});

describe("p2 misuse", () => {
  it("refuses what it did not hand out, without changing a byte", () => {
    const { mm, a } = fresh();
    const p = a.alloc(100);
    const q = a.alloc(5000);
    const page = mm.allocPages(0);
    for (const bad of [p + 8, p - 8, p + 1, q + 4096, page, page + 8, 8, mm.memory.length]) {
      assertMisuse(mm, "INVALID_FREE", () => a.free(bad), true);
    }
    assertMisuse(mm, "INVALID_FREE", () => a.usableSize(p + 16), true);
    assertMisuse(mm, "INVALID_FREE", () => a.realloc(p + 16, 10), true);
    a.free(p);
    assertMisuse(mm, "DOUBLE_FREE", () => a.free(p), true);
    assertMisuse(mm, "DOUBLE_FREE", () => a.realloc(p, 10), true);
    a.verify();
  });

  it("rejects malformed arguments with TypeError/RangeError", () => {
    const { a } = fresh();
    expectArgumentError(TypeError, /size must be a non-negative integer/, () => a.alloc(1.5));
    expectArgumentError(RangeError, /size must be a non-negative integer/, () => a.alloc(-1));
    expectArgumentError(TypeError, /address must be an integer/, () =>
      a.free("16" as unknown as number),
    );
    assert.throws(() => a.free(-8), /INVALID_FREE/);
  });

  it("finds a header overwritten by a write past the previous block (CORRUPTION)", () => {
    const { mm, a } = fresh();
    const p = a.alloc(24); // 32-byte blocks
    const q = a.alloc(24);
    assert.equal(q, p + 32);
    mm.memory.fill(0x41, p, p + 32); // 8 bytes too many: q's header
    expectKmemError("CORRUPTION", () => a.free(q));
    expectKmemError("CORRUPTION", () => a.verify());
  });

  it("finds a free block overwritten after free when it is handed out again", () => {
    const { mm, a } = fresh();
    const p = a.alloc(24);
    a.free(p);
    mm.setUint32(p - 8, 0x12345678);
    expectKmemError("CORRUPTION", () => a.alloc(24));
  });
});
