/* The kmem layers behind the ByteAllocator interface: handles, footprint, failures. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buddyAllocator, Kmem, kmallocAllocator, mempoolAllocator } from "../../src/index.js";

describe("kmallocAllocator", () => {
  it("allocates, reallocates and frees through kmalloc, footprint following the pages", () => {
    const mm = new Kmem({ memory: 1 << 20 });
    const a = kmallocAllocator(mm);
    const before = a.footprint();
    const x = a.alloc(100);
    assert.ok(x > 0);
    assert.equal(a.usableSize?.(x, 100), 112);
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

describe("mempoolAllocator", () => {
  it("hands out elements up to their size, fails larger requests, and refills its reserve", () => {
    const mm = new Kmem({ memory: 1 << 20 });
    const a = mempoolAllocator(mm, 256, 4);
    const x = a.alloc(200);
    assert.ok(x > 0);
    assert.equal(a.usableSize?.(x, 200), 256);
    assert.equal(a.alloc(257), -1, "larger than an element");
    mm.setFault("failslab", { probability: 100, interval: 1, times: -1, ignoreGfpWait: false });
    const reserve = [1, 2, 3, 4].map(() => a.alloc(10));
    assert.ok(
      reserve.every((r) => r > 0),
      "the reserve carries four",
    );
    assert.equal(a.alloc(10), -1);
    mm.setFault("failslab", null);
    for (const r of reserve) a.free(r, 10);
    a.free(x, 200);
    a.verify?.();
    assert.throws(() => mempoolAllocator(new Kmem({ memory: 256 << 10 }), 4096, 1000), RangeError);
  });
});
