/* The kmem layers behind the ByteAllocator interface: handles, footprint, failures. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buddyAllocator, Kmem, kmallocAllocator } from "../../src/index.js";

describe("kmallocAllocator", () => {
  it("allocates, reallocates and frees through kmalloc, footprint following the pages", () => {
    const mm = new Kmem({ memory: 1 << 20 });
    const a = kmallocAllocator(mm);
    const before = a.footprint();
    const x = a.alloc(100);
    assert.ok(x > 0);
    assert.equal(a.usableSize?.(x, 100), 128);
    assert.ok(a.footprint() > before, "a new slab is counted");
    mm.memory[x] = 7;
    const y = a.realloc?.(x, 100, 3000) ?? -1;
    assert.ok(y > 0);
    assert.equal(mm.memory[y], 7);
    a.free(y, 3000);
    a.verify?.();
    assert.equal(a.alloc(1 << 30), -1, "too large fails with -1");
  });
});

describe("buddyAllocator", () => {
  it("rounds requests up to page blocks", () => {
    const mm = new Kmem({ memory: 1 << 20 });
    const a = buddyAllocator(mm);
    const before = a.footprint();
    const x = a.alloc(3 * 4096);
    assert.ok(x > 0);
    assert.equal(x % (4 * 4096), 0, "an order-2 block is naturally aligned");
    assert.equal(a.usableSize?.(x, 3 * 4096), 4 * 4096);
    assert.equal(a.footprint() - before, 4 * (4096 + 32));
    a.free(x, 3 * 4096);
    assert.equal(a.footprint(), before);
    assert.equal(a.alloc(8 << 20), -1);
    a.verify?.();
  });
});
