/* kmalloc and friends: size classes, alignment, zeroing, krealloc, ksize, large requests. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { __GFP_ZERO, GFP_ATOMIC, GFP_KERNEL, Kmem, ZERO_SIZE_PTR } from "../../src/index.js";
import { kmallocSizes } from "../../src/kmalloc/index.js";

function mm(pageSize = 4096) {
  return new Kmem({ memory: 8 << 20, pageSize, minFreeBytes: 0 });
}

describe("kmalloc", () => {
  it("has Linux's size classes, scaled with the page size", () => {
    assert.deepEqual(
      kmallocSizes(4096),
      [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192],
    );
    assert.deepEqual(kmallocSizes(1024), [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048]);
    assert.equal(kmallocSizes(65536).at(-1), 131072);
  });

  it("rounds every size to its class (ksize), larger ones to whole pages", () => {
    const k = mm();
    const expect: Array<[number, number]> = [
      [1, 8],
      [8, 8],
      [9, 16],
      [17, 32],
      [33, 64],
      [64, 64],
      [65, 96],
      [96, 96],
      [97, 128],
      [129, 192],
      [192, 192],
      [193, 256],
      [257, 512],
      [513, 1024],
      [2049, 4096],
      [4097, 8192],
      [8192, 8192],
      [8193, 16384],
      [12288, 16384],
      [16385, 32768],
    ];
    for (const [size, usable] of expect) {
      const p = k.kmalloc(size);
      assert.notEqual(p, 0);
      assert.equal(k.ksize(p), usable, `kmalloc(${size})`);
      k.kfree(p);
    }
    k.verify();
  });

  it("aligns power-of-two sizes naturally", () => {
    const k = mm();
    for (const size of [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]) {
      for (let i = 0; i < 5; i++) {
        const p = k.kmalloc(size);
        assert.equal(p % Math.min(size, 1 << 20), 0, `kmalloc(${size}) at ${p}`);
      }
    }
  });

  it("kmalloc(0) is ZERO_SIZE_PTR, not NULL", () => {
    const k = mm();
    assert.equal(k.kmalloc(0), ZERO_SIZE_PTR);
    assert.equal(ZERO_SIZE_PTR, 16);
    k.kfree(ZERO_SIZE_PTR);
  });

  it("kzalloc and kcalloc zero, even reused memory", () => {
    const k = mm();
    const p = k.kmalloc(300);
    k.memory.fill(0xff, p, p + 512);
    k.kfree(p);
    const z = k.kzalloc(300);
    assert.equal(z, p);
    assert.ok(k.memory.subarray(z, z + 300).every((x) => x === 0));
    k.memory.fill(0xff, p, p + 512);
    k.kfree(z);
    const c = k.kcalloc(10, 30);
    assert.equal(c, p);
    assert.ok(k.memory.subarray(c, c + 300).every((x) => x === 0));
    assert.equal(k.kmalloc(300, GFP_KERNEL | __GFP_ZERO) !== 0, true);
  });

  it("krealloc: in place while the class holds it, else moved with its contents", () => {
    const k = mm();
    const p = k.kmalloc(50);
    for (let i = 0; i < 50; i++) k.memory[p + i] = i;
    assert.equal(k.krealloc(p, 60), p, "64-byte class holds 60");
    assert.equal(k.krealloc(p, 10), p, "shrinking stays in place");
    const q = k.krealloc(p, 1000);
    assert.notEqual(q, p);
    for (let i = 0; i < 50; i++) assert.equal(k.memory[q + i], i);
    assert.throws(() => k.kfree(p), /already free/);
    const r = k.krealloc(q, 100000);
    for (let i = 0; i < 50; i++) assert.equal(k.memory[r + i], i);
    assert.equal(k.krealloc(r, 0), ZERO_SIZE_PTR, "krealloc to 0 frees");
    assert.throws(() => k.kfree(r), /already free/);
    const s = k.krealloc(0, 40);
    assert.equal(k.ksize(s), 64);
    k.kfree(s);
    k.verify();
  });

  it("krealloc that cannot grow returns 0 and leaves the old allocation intact", () => {
    const k = mm();
    const p = k.kmalloc(100);
    k.memory.fill(0x77, p, p + 100);
    k.setFault("failslab", { probability: 100, times: -1 });
    assert.equal(k.krealloc(p, 1000, GFP_ATOMIC), 0);
    assert.ok(k.memory.subarray(p, p + 100).every((x) => x === 0x77));
    assert.equal(k.ksize(p), 128);
    k.kfree(p);
    k.verify();
  });

  it("krealloc with __GFP_ZERO in place zeroes the tail past the new size", () => {
    const k = mm();
    const p = k.kmalloc(100);
    k.memory.fill(0x33, p, p + 128);
    assert.equal(k.krealloc(p, 40, GFP_KERNEL | __GFP_ZERO), p);
    assert.ok(k.memory.subarray(p + 40, p + 128).every((x) => x === 0));
    assert.ok(k.memory.subarray(p, p + 40).every((x) => x === 0x33));
  });

  it("large requests are whole pages from the page allocator, freed with kfree", () => {
    const k = mm();
    const before = k.stats().freePages;
    const p = k.kmalloc(100000);
    assert.equal(p % 4096, 0);
    assert.equal(k.ksize(p), 131072);
    assert.equal(k.stats().events.kmalloc_large, 1);
    assert.throws(() => k.freePages(p, 5), /belongs to kmalloc/);
    k.kfree(p);
    k.drainPages();
    assert.equal(k.stats().freePages, before);
    assert.equal(k.kmalloc(64 << 20), 0, "beyond the largest order: 0");
    k.verify();
  });

  it("works with 1 KiB and 64 KiB pages", () => {
    for (const pageSize of [1024, 65536]) {
      const k = mm(pageSize);
      const small = k.kmalloc(100);
      const big = k.kmalloc(pageSize * 2);
      const bigger = k.kmalloc(pageSize * 2 + 1);
      assert.ok(small !== 0 && big !== 0 && bigger !== 0);
      assert.equal(k.ksize(big), pageSize * 2);
      k.kfree(small);
      k.kfree(big);
      k.kfree(bigger);
      k.verify();
    }
  });
});
