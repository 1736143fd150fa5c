/*
 * SLOB's own semantics: first fit within a page, the three page lists, pages going back as
 * soon as they are empty, alignment, constructors at every allocation, tiny memories and
 * large page sizes, misuse on every entry point (nothing changes), failslab, and its
 * metadata overhead against SLUB's.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  GFP_KERNEL,
  Kmem,
  type KmemCache,
  KmemError,
  SLAB_HWCACHE_ALIGN,
  SLAB_RED_ZONE,
} from "../../src/index.js";
import { assertBadArgument, assertMisuse } from "../helpers.js";

function slob(memory = 1 << 20, pageSize = 4096): Kmem {
  return new Kmem({ memory, pageSize, minFreeBytes: 0, slab: "slob" });
}

describe("SLOB", () => {
  it("is chosen with slab: 'slob' and refuses debugging and unknown allocators", () => {
    const mm = slob();
    assert.equal(mm.slabAllocator, "slob");
    assert.equal(new Kmem({ memory: 1 << 20 }).slabAllocator, "slub");
    assert.throws(
      () => new Kmem({ memory: 1 << 20, slab: "slob", debug: "FZ" }),
      /SLOB has no debugging/,
    );
    assert.throws(
      () => new Kmem({ memory: 1 << 20, slab: "slub2" as "slob" }),
      (e: unknown) =>
        e instanceof RangeError && /slab must be "slub", "slab" or "slob"/.test(e.message),
    );
  });

  it("fits first: a freed hole is reused by the next request that fits in it", () => {
    const mm = slob();
    const a = mm.kmalloc(100);
    const b = mm.kmalloc(100);
    const c = mm.kmalloc(100);
    assert.equal(a >>> 12, c >>> 12, "one page serves all three");
    assert.ok(a < b && b < c, "blocks are carved in address order");
    mm.kfree(b);
    const d = mm.kmalloc(60);
    assert.equal(d, b, "the first hole large enough, at its start");
    const e = mm.kmalloc(30);
    assert.ok(e > d && e < c, "the rest of the hole comes next");
    mm.verify();
  });

  it("coalesces a freed block with its free neighbours", () => {
    const mm = slob();
    // 100 + 4 bytes of header: blocks follow each other without alignment holes.
    const blocks = Array.from({ length: 20 }, () => mm.kmalloc(100));
    assert.equal(mm.stats().slabPages, 1);
    for (let i = 0; i < blocks.length; i += 2) mm.kfree(blocks[i] as number);
    mm.verify();
    assert.equal(mm.kmalloc(200 - 4) > (blocks[19] as number), true, "no 200-byte hole yet");
    // Freeing block 1 merges blocks 0..2 into one hole of 312 bytes.
    mm.kfree(blocks[1] as number);
    assert.equal(mm.kmalloc(200), blocks[0], "the merged hole serves it, first fit");
    mm.verify();
  });

  it("gives a page back the moment it is empty", () => {
    const mm = slob();
    const free0 = mm.stats().freePages;
    const blocks = Array.from({ length: 30 }, (_, i) => mm.kmalloc(20 + i));
    assert.equal(mm.stats().slabPages, 1);
    for (const b of blocks.reverse()) mm.kfree(b);
    assert.equal(mm.stats().slabPages, 0, "an empty SLOB page goes straight back");
    assert.equal(mm.stats().freePages, free0);
    mm.verify();
  });

  it("keeps small, medium and large requests on separate page lists", () => {
    const mm = slob();
    const small = mm.kmalloc(40);
    const medium = mm.kmalloc(500);
    const large = mm.kmalloc(1500);
    assert.notEqual(small >>> 12, medium >>> 12);
    assert.notEqual(medium >>> 12, large >>> 12);
    assert.notEqual(small >>> 12, large >>> 12);
    assert.equal(mm.stats().slabPages, 3);
    mm.verify();
  });

  it("aligns power-of-two kmalloc sizes naturally and honours cache alignment", () => {
    const mm = slob();
    for (const size of [8, 16, 32, 64, 128, 256, 512, 1024, 2048]) {
      const p = mm.kmalloc(size);
      assert.equal(p % size, 0, `kmalloc(${size}) aligned`);
      assert.ok(mm.ksize(p) >= size);
    }
    for (const size of [1, 3, 7, 13, 100, 1000]) assert.equal(mm.kmalloc(size) % 8, 0);
    const c = mm.createCache("al", 50, { align: 128 }) as KmemCache;
    const h = mm.createCache("hw", 100, { flags: SLAB_HWCACHE_ALIGN }) as KmemCache;
    for (let i = 0; i < 10; i++) {
      assert.equal(c.alloc() % 128, 0);
      assert.equal(h.alloc() % 64, 0);
    }
    mm.verify();
  });

  it("serves big requests from whole pages: kmalloc_large and big cache objects", () => {
    const mm = slob();
    const p = mm.kmalloc(5000);
    assert.equal(p % 4096, 0);
    assert.equal(mm.ksize(p), 8192);
    const c = mm.createCache("big", 6000) as KmemCache;
    const other = mm.createCache("other", 6000) as KmemCache;
    const o = c.alloc();
    assert.equal(o % 4096, 0);
    assert.equal(mm.stats().caches.find((x) => x.name === "big")?.activeObjects, 1);
    assertMisuse(mm, "WRONG_CACHE", () => other.free(o));
    c.free(o);
    assertMisuse(mm, "DOUBLE_FREE", () => c.free(o));
    mm.kfree(p);
    mm.verify();
  });

  it("runs the constructor at every allocation (SLOB keeps no constructed state)", () => {
    const mm = slob();
    let calls = 0;
    const c = mm.createCache("ctor", 32, {
      ctor: (addr) => {
        calls++;
        mm.memory[addr] = 0x5c;
      },
    }) as KmemCache;
    const a = c.alloc();
    assert.equal(mm.memory[a], 0x5c);
    mm.memory[a] = 1;
    c.free(a);
    const b = c.alloc();
    assert.equal(mm.memory[b], 0x5c);
    assert.equal(calls, 2);
  });

  it("zeroes with __GFP_ZERO, initOnAlloc and initOnFree", () => {
    const mm = new Kmem({ memory: 1 << 20, slab: "slob", initOnFree: true });
    const a = mm.kmalloc(200);
    mm.memory.fill(0xee, a, a + 200);
    mm.kfree(a);
    const b = mm.kmalloc(200);
    assert.equal(b, a);
    assert.ok(
      mm.memory.subarray(b, b + 200).every((x) => x === 0),
      "initOnFree zeroed it",
    );
    mm.memory.fill(0xee, b, b + 200);
    const z = mm.krealloc(b, 100, GFP_KERNEL);
    assert.equal(z, b, "shrinking stays in place");
    const n = new Kmem({ memory: 1 << 20, slab: "slob", initOnAlloc: true });
    const c = n.kmalloc(64);
    n.memory.fill(0xee, c, c + 64);
    n.kfree(c);
    const d = n.kmalloc(64);
    assert.ok(n.memory.subarray(d, d + 64).every((x) => x === 0));
  });

  it("works in a 256 KiB memory and with 1 KiB and 64 KiB pages", () => {
    for (const [memory, pageSize] of [
      [256 << 10, 4096],
      [256 << 10, 1024],
      [4 << 20, 65536],
    ] as const) {
      const mm = slob(memory, pageSize);
      const got: number[] = [];
      for (let i = 0; ; i++) {
        const p = mm.kmalloc(1 + ((i * 131) % (pageSize / 2)));
        if (p === 0) break;
        got.push(p);
      }
      assert.ok(got.length > 10, `${pageSize}: allocations succeeded`);
      mm.verify();
      for (let i = 0; i < got.length; i += 3) mm.kfree(got[i] as number);
      mm.verify();
      for (let i = 0; i < got.length; i++) if (i % 3 !== 0) mm.kfree(got[i] as number);
      assert.equal(mm.stats().slabPages, 0, `${pageSize}: every page back`);
      mm.verify();
    }
  });

  it("survives one-unit fragments on 64 KiB pages (the free-block encoding's edge)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 20, maxLength: 200, size: "max" }),
        (sizes) => {
          const mm = slob(2 << 20, 65536);
          const live: number[] = [];
          for (const [i, s] of sizes.entries()) {
            // Odd sizes and power-of-two alignment leave one-unit holes.
            live.push(mm.kmalloc(s % 2 === 0 ? 16 : s));
            if (i % 3 === 2) mm.kfree(live.splice((s * 7) % live.length, 1)[0] as number);
          }
          mm.verify();
          for (const p of live) mm.kfree(p);
          assert.equal(mm.stats().slabPages, 0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("uses fewer pages than SLUB for mixed small objects (lowest metadata overhead)", () => {
    const sizes = Array.from({ length: 3000 }, (_, i) => 8 + ((i * 7919) % 300));
    const pagesFor = (slab: "slub" | "slob") => {
      const mm = new Kmem({ memory: 8 << 20, minFreeBytes: 0, slab });
      const before = mm.stats().freePages;
      for (const s of sizes) assert.notEqual(mm.kmalloc(s), 0);
      mm.drainPages();
      return before - mm.stats().freePages;
    };
    const slobPages = pagesFor("slob");
    const slubPages = pagesFor("slub");
    const payload = sizes.reduce((a, b) => a + b, 0) / 4096;
    assert.ok(slobPages < slubPages, `SLOB ${slobPages} pages vs SLUB ${slubPages}`);
    assert.ok(
      slobPages < payload * 1.1,
      `SLOB ${slobPages} pages for ${payload.toFixed(0)} of payload`,
    );
  });

  it("fails with 0 under failslab and loses nothing", () => {
    const mm = slob();
    const c = mm.createCache("fs", 48) as KmemCache;
    const free0 = mm.stats().freePages;
    mm.setFault("failslab", { probability: 100, interval: 1, times: 3, ignoreGfpWait: false });
    assert.equal(mm.kmalloc(100), 0);
    assert.equal(c.alloc(), 0);
    assert.equal(mm.kmalloc(10), 0);
    assert.notEqual(mm.kmalloc(10), 0, "times ran out");
    assert.equal(mm.getFault("failslab")?.times, 0);
    mm.setFault("failslab", null);
    mm.verify();
    assert.ok(mm.stats().freePages >= free0 - 1);
  });
});

describe("SLOB misuse: KmemError and nothing changed", () => {
  const setup = () => {
    const mm = slob();
    const a = mm.createCache("a", 40) as KmemCache;
    const b = mm.createCache("b", 40) as KmemCache;
    const k = mm.kmalloc(100);
    const x = a.alloc();
    const y = b.alloc();
    const pages = mm.allocPages(0);
    return { mm, a, b, k, x, y, pages };
  };

  it("kfree", () => {
    const { mm, k, pages } = setup();
    assertMisuse(mm, "INVALID_FREE", () => mm.kfree(k + 8), true);
    assertMisuse(mm, "INVALID_FREE", () => mm.kfree(k + 1), true);
    assertMisuse(mm, "INVALID_FREE", () => mm.kfree(pages), true);
    assertMisuse(mm, "INVALID_FREE", () => mm.kfree(pages + 64), true);
    assertMisuse(mm, "INVALID_FREE", () => mm.kfree(8), true);
    mm.kfree(k);
    assertMisuse(mm, "DOUBLE_FREE", () => mm.kfree(k), true);
    assertBadArgument(mm, TypeError, /address must be an integer/, () => mm.kfree(1.5));
  });

  it("cache free: wrong cache, double free, inside an object, a kmalloc block", () => {
    const { mm, a, b, k, x, y } = setup();
    assertMisuse(mm, "WRONG_CACHE", () => a.free(y), true);
    assertMisuse(mm, "WRONG_CACHE", () => b.free(x), true);
    assertMisuse(mm, "WRONG_CACHE", () => a.free(k), true);
    assertMisuse(mm, "INVALID_FREE", () => a.free(x + 16), true);
    a.free(x);
    assertMisuse(mm, "DOUBLE_FREE", () => a.free(x), true);
    assert.throws(() => a.free(-1), TypeError);
  });

  it("ksize and krealloc of what is not live", () => {
    const { mm, k } = setup();
    assertMisuse(mm, "INVALID_FREE", () => mm.ksize(k + 24), true);
    assertMisuse(mm, "INVALID_FREE", () => mm.krealloc(k + 24, 500), true);
    mm.kfree(k);
    assertMisuse(mm, "DOUBLE_FREE", () => mm.ksize(k), true);
    assertMisuse(mm, "DOUBLE_FREE", () => mm.krealloc(k, 500), true);
  });

  it("destroy with live objects is BUSY; a destroyed cache refuses use", () => {
    const { mm, a, x } = setup();
    assertMisuse(mm, "BUSY", () => a.destroy(), true);
    a.free(x);
    a.destroy();
    mm.verify();
    assert.throws(() => a.alloc(), { code: "DESTROYED", message: /was destroyed/ });
    const again = mm.createCache("a", 40);
    assert.ok(again !== null, "the name is free again");
  });

  it("verify() finds a clobbered block header", () => {
    const { mm, k } = setup();
    mm.memory[k - 3]! ^= 0x40;
    assert.throws(
      () => mm.verify(),
      (e: unknown) => e instanceof KmemError && e.code === "CORRUPTION" && /SLOB-3/.test(e.message),
    );
  });

  it("accepts cache debug flags and ignores them, as Linux's SLOB", () => {
    const mm = slob();
    const c = mm.createCache("rz", 40, { flags: SLAB_RED_ZONE }) as KmemCache;
    const o = c.alloc();
    assert.equal(mm.ksize(o), 40, "no red zone around the object");
    c.free(o);
    mm.verify();
  });
});

describe("SLOB sizes from 2 GiB up", () => {
  it("kmalloc, kzalloc, kmallocNode and krealloc of 2 GiB .. 4 GiB - 1 return 0, nothing changed", () => {
    const mm = new Kmem({ memory: 4 << 20, slab: "slob", minFreeBytes: 0 });
    const keep = mm.kmalloc(100);
    const used = mm.usedPages;
    for (const size of [2 ** 31 - 1, 2 ** 31, 2 ** 31 + 4, 2 ** 32 - 4, 2 ** 32 - 1]) {
      assert.equal(mm.kmalloc(size), 0, `kmalloc(${size})`);
      assert.equal(mm.kzalloc(size), 0, `kzalloc(${size})`);
      assert.equal(mm.kmallocNode(size, GFP_KERNEL, 0), 0, `kmallocNode(${size})`);
      assert.equal(mm.krealloc(keep, size), 0, `krealloc(${size})`);
    }
    assert.equal(mm.usedPages, used);
    assert.equal(mm.ksize(keep) >= 100, true);
    mm.kfree(keep);
    mm.verify();
  });
});
