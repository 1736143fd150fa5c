/*
 * KASAN, translated from Linux's mm/kasan/kasan_test_c.c where the cases carry over: each
 * out-of-bounds kind (right and left of a kmalloc object, past a krealloc'd size, a
 * kmalloc_large tail, vmalloc's tail and guard page, the page allocator), use after
 * kfree/vfree/free_pages, the quarantine, double and invalid frees; each report begins
 * with "BUG: KASAN: " and its kind, as Linux's does. Plus the shadow in the buffer
 * (attach sees it), the options' checks and an instance without KASAN left as it was.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Kmem, KmemError } from "../../src/index.js";
import { stackLines } from "../../src/kasan/report.js";

const MiB = 1 << 20;
const P = 4096;

/** Asserts `fn` throws KmemError KASAN whose report has `kind` (and `more`, if given). */
function kasan(fn: () => unknown, kind: string, more?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KmemError && err.code === "KASAN", String(err));
    assert.match(err.message, new RegExp(`BUG: KASAN: ${kind} in `));
    if (more !== undefined) assert.match(err.message, more);
    return true;
  });
}

function mk(extra: object = {}): Kmem {
  return new Kmem({ memory: 8 * MiB, kasan: true, ...extra });
}

describe("KASAN: slab out of bounds", () => {
  it("kmalloc_oob_right: the exact right bound of kmalloc(115), and the slot's end", () => {
    const mm = mk();
    const p = mm.kmalloc(128 - 8 - 5);
    for (let i = 0; i < 115; i++) mm.setUint8(p + i, i);
    kasan(() => mm.setUint8(p + 115, 1), "slab-out-of-bounds", /Write of size 1 at addr/);
    kasan(() => mm.setUint8(p + 120, 1), "slab-out-of-bounds");
    kasan(
      () => mm.getUint8(p + 128),
      "slab-out-of-bounds",
      /located 13 bytes to the right of\n allocated 115-byte region/,
    );
    // Nothing was written by the refused stores.
    assert.equal(mm.getUint8(p + 114), 114);
    mm.kfree(p);
    mm.verify();
  });

  it("kmalloc_oob_left: the byte before kmalloc(15)", () => {
    const mm = mk();
    const p = mm.kmalloc(15);
    kasan(() => mm.getUint8(p - 1), "slab-out-of-bounds", /1 bytes to the left of/);
    mm.kfree(p);
  });

  it("a typed access that runs past the end: getUint32 at size - 2", () => {
    const mm = mk();
    const p = mm.kmalloc(10);
    mm.setUint16(p + 8, 7);
    kasan(() => mm.getUint32(p + 8), "slab-out-of-bounds", /Read of size 4/);
    kasan(() => mm.write(p, new Uint8Array(11)), "slab-out-of-bounds", /Write of size 11/);
    assert.deepEqual(mm.read(p + 8, 2), new Uint8Array([7, 0]));
  });

  it("ksize_unpoisons_memory: ksize does not widen the object", () => {
    const mm = mk();
    const p = mm.kmalloc(115);
    const real = mm.ksize(p);
    assert.ok(real > 115);
    kasan(() => mm.getUint8(p + 115), "slab-out-of-bounds");
    kasan(() => mm.getUint8(p + 120), "slab-out-of-bounds");
    kasan(() => mm.getUint8(p + real - 1), "slab-out-of-bounds");
  });

  it("cache objects: past the object size of a cache", () => {
    const mm = mk();
    const c = mm.createCache("test_cache", 200);
    assert.ok(c !== null);
    const p = c.alloc();
    mm.setUint8(p + 199, 1);
    kasan(() => mm.getUint8(p + 200), "slab-out-of-bounds", /cache test_cache/);
    c.free(p);
    kasan(() => mm.getUint8(p), "slab-use-after-free");
    c.destroy();
  });

  it("krealloc_more_oob: krealloc(kmalloc(201), 235)", () => {
    const mm = mk();
    const p1 = mm.kmalloc(201);
    const p2 = mm.krealloc(p1, 235);
    for (const off of [200, 201, 218, 234]) mm.setUint8(p2 + off, 1);
    kasan(() => mm.setUint8(p2 + 235, 1), "slab-out-of-bounds");
    kasan(() => mm.setUint8(p2 + 240, 1), "slab-out-of-bounds");
    mm.kfree(p2);
  });

  it("krealloc_less_oob: krealloc(kmalloc(235), 201)", () => {
    const mm = mk();
    const p1 = mm.kmalloc(235);
    const p2 = mm.krealloc(p1, 201);
    assert.equal(p2, p1);
    mm.setUint8(p2 + 200, 1);
    for (const off of [201, 208, 218, 234, 235]) {
      kasan(() => mm.setUint8(p2 + off, 1), "slab-out-of-bounds");
    }
    mm.kfree(p2);
  });

  it("krealloc_uaf: krealloc of a freed pointer is reported", () => {
    const mm = mk();
    const p = mm.kmalloc(201);
    mm.kfree(p);
    kasan(() => mm.krealloc(p, 235), "slab-use-after-free", /in krealloc/);
  });
});

describe("KASAN: use after free and the quarantine", () => {
  it("kmalloc_uaf: read ptr[8] after kfree(kmalloc(10))", () => {
    const mm = mk();
    const p = mm.kmalloc(10);
    mm.kfree(p);
    kasan(
      () => mm.getUint8(p + 8),
      "slab-use-after-free",
      /located 8 bytes inside of\n freed 10-byte region/,
    );
  });

  it("kmalloc_uaf2: the quarantine hands out another address", () => {
    const mm = mk();
    const p1 = mm.kmalloc(43);
    mm.kfree(p1);
    const p2 = mm.kmalloc(43);
    assert.notEqual(p2, p1);
    kasan(() => mm.getUint8(p1 + 40), "slab-use-after-free");
    mm.setUint8(p2 + 40, 1);
    mm.kfree(p2);
  });

  it("the quarantine is bounded: freed objects come back once it overflows", () => {
    const mm = mk({ kasan: { quarantine: 4 * 64 } });
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const p = mm.kmalloc(64);
      seen.add(p);
      mm.kfree(p);
    }
    assert.ok(seen.size <= 6, `${seen.size} addresses`);
    mm.verify();
  });

  it("quarantine 0: reuse at once, use after free still caught until reuse", () => {
    const mm = mk({ kasan: { quarantine: 0 } });
    const p = mm.kmalloc(64);
    mm.kfree(p);
    kasan(() => mm.getUint32(p), "slab-use-after-free");
    assert.equal(mm.kmalloc(64), p);
    mm.getUint32(p);
  });

  it("kmalloc_large_uaf and page_alloc_uaf", () => {
    const mm = mk();
    const big = mm.kmalloc(2 * P + 10);
    mm.kfree(big);
    kasan(() => mm.getUint8(big), "use-after-free");
    const pages = mm.allocPages(4);
    mm.setUint32(pages + 16 * P - 4, 1);
    mm.freePages(pages, 4);
    kasan(() => mm.getUint8(pages), "use-after-free", /physical page/);
  });

  it("vfree then access: use-after-free", () => {
    const mm = mk();
    const v = mm.vmalloc(3 * P);
    mm.setUint32(v + P, 1);
    mm.vfree(v);
    kasan(() => mm.getUint32(v + P), "use-after-free", /freed vmalloc area/);
    // A new area at the same place is good again.
    const w = mm.vmalloc(3 * P);
    assert.equal(w, v);
    mm.setUint32(w + P, 2);
  });

  it("the shrinker and shrinkSlabs empty the quarantine", () => {
    const mm = mk();
    const before = mm.stats().slabPages;
    const ps = Array.from({ length: 100 }, () => mm.kmalloc(512));
    for (const p of ps) mm.kfree(p);
    assert.match(mm.report("kasan"), /quarantine \d+ objects/);
    mm.shrinkSlabs();
    assert.match(mm.report("kasan"), /quarantine 0 objects, 0 of/);
    assert.ok(mm.stats().slabPages <= before);
    mm.verify();
  });

  it("destroying a cache first gives its quarantined objects back", () => {
    const mm = mk();
    const c = mm.createCache("q", 64);
    assert.ok(c !== null);
    const objs = Array.from({ length: 10 }, () => c.alloc());
    for (const o of objs) c.free(o);
    c.destroy();
    mm.verify();
  });
});

describe("KASAN: out of bounds of pages and vmalloc", () => {
  it("kmalloc_pagealloc_oob_right: the tail of a kmalloc_large block", () => {
    const mm = mk();
    const size = 2 * P + 10;
    const p = mm.kmalloc(size);
    mm.setUint8(p + size - 1, 1);
    kasan(() => mm.setUint8(p + size, 1), "slab-out-of-bounds", /kmalloc_large/);
    mm.kfree(p);
  });

  it("vmalloc_oob: first and last byte fine, size + 5 reported, guard page too", () => {
    const mm = mk();
    const size = P / 2 - 8 - 5;
    const v = mm.vmalloc(size);
    mm.setUint8(v, 1);
    mm.setUint8(v + size - 1, 1);
    kasan(() => mm.getUint8(v + size + 5), "vmalloc-out-of-bounds");
    kasan(() => mm.getUint8(v + P), "vmalloc-out-of-bounds", /guard page/);
    // The underlying page is reachable (vmalloc_to_page).
    assert.ok(mm.virtToPhys(v) > 0);
    mm.vfree(v);
  });

  it("a vmalloc area over several pages: every page's bytes up to the size", () => {
    const mm = mk();
    const size = 3 * P + 100;
    const v = mm.vmalloc(size);
    mm.write(v, new Uint8Array(size).fill(7));
    assert.equal(mm.read(v, size)[size - 1], 7);
    kasan(() => mm.read(v + size - 1, 2), "vmalloc-out-of-bounds");
    mm.vfree(v);
  });

  it("pages: a whole block is usable, a free page next to it is not", () => {
    const mm = mk();
    const a = mm.allocPages(1);
    mm.setUint32(a + 2 * P - 4, 1);
    // The buddy of a freshly split block is free.
    const b = a + 2 * P;
    const nearFree = mm.stats().freePages > 0;
    assert.ok(nearFree);
    try {
      mm.getUint8(b);
    } catch (err) {
      assert.ok(err instanceof KmemError && err.code === "KASAN");
      assert.match(err.message, /BUG: KASAN: use-after-free/);
    }
    mm.freePages(a, 1);
  });
});

describe("KASAN: double and invalid frees", () => {
  it("kmem_cache_double_free and kmem_cache_invalid_free", () => {
    const mm = mk();
    const c = mm.createCache("test_cache", 200);
    assert.ok(c !== null);
    const p = c.alloc();
    c.free(p);
    kasan(() => c.free(p), "double-free", /in kmem_cache_free/);
    const q = c.alloc();
    kasan(() => c.free(q + 1), "invalid-free");
    // The invalid free freed nothing: the object is still live.
    mm.setUint8(q, 1);
    c.free(q);
    mm.verify();
  });

  it("kmalloc_double_kzfree, kmalloc_large double free", () => {
    const mm = mk();
    const p = mm.kzalloc(16);
    mm.kfree(p);
    kasan(() => mm.kfree(p), "double-free", /in kfree/);
    const big = mm.kmalloc(3 * P);
    mm.kfree(big);
    kasan(() => mm.kfree(big), "double-free");
    mm.verify();
  });

  it("mempool elements come through the hooks: usable while held", () => {
    const mm = mk();
    const pool = mm.createMempool(2, 64);
    assert.ok(pool !== null);
    const e = pool.alloc();
    mm.setUint8(e, 1);
    pool.free(e);
    pool.destroy();
  });
});

describe("KASAN: the shadow and the options", () => {
  it("another context sees the same shadow", () => {
    const mm = new Kmem({ memory: new SharedArrayBuffer(8 * MiB), cpus: 2, kasan: true });
    const p = mm.kmalloc(20);
    const other = Kmem.attach(mm.buffer);
    other.setUint8(p + 19, 1);
    kasan(() => other.getUint8(p + 20), "slab-out-of-bounds");
    mm.kfree(p);
    kasan(() => other.getUint8(p), "slab-use-after-free");
  });

  it("a context that attaches follows the instance's quarantine and stacks", () => {
    const mm = new Kmem({
      memory: new SharedArrayBuffer(8 * MiB),
      cpus: 2,
      kasan: { quarantine: 0, stacks: true },
    });
    const other = Kmem.attach(mm.buffer);
    assert.match(other.report("kasan"), /quarantine 0 objects, 0 of 0 bytes/);
    const p = other.kmalloc(32);
    other.kfree(p);
    kasan(() => other.getUint8(p), "slab-use-after-free", /Freed by task cpu1:\n.*kasan\.test/);
    const dflt = new Kmem({ memory: new SharedArrayBuffer(8 * MiB), cpus: 2, kasan: true });
    const third = Kmem.attach(dflt.buffer);
    assert.equal(
      /of (\d+) bytes/.exec(third.report("kasan"))?.[1],
      /of (\d+) bytes/.exec(dflt.report("kasan"))?.[1],
    );
    const q = third.kmalloc(32);
    third.kfree(q);
    kasan(() => third.getUint8(q), "slab-use-after-free");
    assert.doesNotMatch(third.report("kasan"), /Freed by task/);
  });

  it("a snapshot reopened keeps KASAN", () => {
    const mm = mk();
    const p = mm.kmalloc(20);
    const copy = (mm.buffer as ArrayBuffer).slice(0);
    const re = Kmem.reopen(copy);
    kasan(() => re.getUint8(p + 24), "slab-out-of-bounds");
    re.setUint8(p, 1);
  });

  it("options are checked", () => {
    assert.throws(() => new Kmem({ memory: 8 * MiB, kasan: 1 as never }), TypeError);
    assert.throws(() => new Kmem({ memory: 8 * MiB, kasan: { x: 1 } as never }), TypeError);
    assert.throws(
      () => new Kmem({ memory: 8 * MiB, kfence: { sampleInterval: 1 }, slab: "slob" }),
      RangeError,
    );
    assert.throws(() => new Kmem({ nodes: [4 * MiB, 4 * MiB], kasan: true }), RangeError);
  });

  it("without kasan nothing is installed and nothing reported", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    assert.equal(Object.getOwnPropertyNames(mm).includes("getUint8"), false);
    assert.equal(mm.debug, "");
    const p = mm.kmalloc(10);
    mm.kfree(p);
    mm.getUint8(p + 8);
    assert.equal(mm.report("kasan"), "kasan: off\n");
  });

  it("kasan adds SLUB red zones (Z) to every cache, as generic KASAN does", () => {
    assert.equal(mk().debug, "Z");
    assert.equal(mk({ debug: "FU" }).debug, "FZU");
  });

  it("the report keeps every report of the context, with the shadow around", () => {
    const mm = mk();
    const p = mm.kmalloc(8);
    kasan(() => mm.getUint8(p + 8), "slab-out-of-bounds");
    const text = mm.report("kasan");
    assert.match(text, /^={66}\nBUG: KASAN: slab-out-of-bounds in getUint8\n/);
    assert.match(text, /Memory state around the buggy address:\n/);
    assert.match(text, /\n>[0-9a-f]{8}: (([0-9a-f]{2}) ?){16}\n +\^\n/);
    assert.match(text, /kasan: 1 report/);
  });

  it("stacks: the report names where the object was allocated and freed", () => {
    const mm = mk({ kasan: { stacks: true } });
    const p = mm.kmalloc(32);
    mm.kfree(p);
    kasan(() => mm.getUint8(p), "slab-use-after-free", /Allocated by task cpu0:\n.*kasan\.test/);
    kasan(() => mm.getUint8(p), "slab-use-after-free", /Freed by task cpu0:\n.*kasan\.test/);
  });
});

describe("KASAN over SLAB (its arrays kept: red zones are each object's slack)", () => {
  const slab = (): Kmem => mk({ slab: "slab" });

  it("out of bounds past the requested size, use after free, double free", () => {
    const mm = slab();
    assert.equal(mm.debug, "");
    const p = mm.kmalloc(100);
    mm.setUint8(p + 99, 1);
    kasan(() => mm.getUint8(p + 100), "slab-out-of-bounds", /allocated 100-byte region/);
    mm.kfree(p);
    kasan(() => mm.getUint32(p + 8), "slab-use-after-free", /cache kmalloc-/);
    kasan(() => mm.kfree(p), "double-free");
    const c = mm.createCache("slab_cache", 200);
    assert.ok(c !== null);
    const q = c.alloc();
    kasan(() => c.free(q + 8), "invalid-free");
    c.free(q);
    kasan(() => c.free(q), "double-free", /in kmem_cache_free/);
    mm.verify();
  });

  it("a report on a coloured slab names the object the address lies in, from the slab's colour", () => {
    const mm = slab();
    const c = mm.createCache("coloured", 300);
    assert.ok(c !== null);
    // 300 bytes in 304-byte slots (the 4 bytes of slack a red zone), 13 to a page with 131
    // bytes left over: two colours, so every other slab starts its objects 64 bytes in, and
    // slot arithmetic from the page's start would name a neighbour.
    const objs = Array.from({ length: 120 }, () => c.alloc());
    for (const p of objs) {
      const m = /allocated 300-byte region \[([0-9a-f]+), /.exec(
        (() => {
          try {
            mm.getUint8(p + 300);
          } catch (err) {
            return (err as Error).message;
          }
          return "";
        })(),
      );
      assert.ok(m !== null, `a report for the object at ${p}`);
      assert.equal(Number.parseInt(m[1] as string, 16), p);
    }
    for (const p of objs) c.free(p);
    mm.verify();
  });

  it("objects freed to the arrays come back through the quarantine, usable again", () => {
    const mm = new Kmem({ memory: 8 * MiB, slab: "slab", kasan: { quarantine: 4096 } });
    for (let round = 0; round < 3; round++) {
      const ps = Array.from({ length: 200 }, (_, i) => mm.kmalloc(16 + (i % 48)));
      for (const p of ps) mm.setUint8(p, 7);
      for (const p of ps) mm.kfree(p);
    }
    assert.match(
      mm.report("kasan"),
      /^kasan: 0 reports; quarantine \d+ objects, \d+ of 4096 bytes\n/,
    );
    mm.verify();
  });
});

describe("KASAN over swappable memory", () => {
  it("a page swapped out and back in keeps its shadow: contents usable, the tail still poisoned", () => {
    const mm = mk();
    mm.setZswap({ enabled: true });
    assert.equal(mm.swapon({ pages: 256 }), 0);
    const size = 3 * P + 100;
    const a = mm.vmallocSwappable(size);
    assert.notEqual(a, 0);
    for (let i = 0; i < 4; i++) mm.setUint32(a + i * P, 1000 + i);
    let out = 0;
    for (let k = 0; k < 8 && out < 4; k++) out += mm.reclaim(64);
    const vmstat = mm.report("vmstat");
    assert.match(vmstat, /^zswpout [1-9]/m, "pages were swapped out");
    // Back in through the accessors: no report on the area's own bytes.
    for (let i = 0; i < 4; i++) assert.equal(mm.getUint32(a + i * P), 1000 + i);
    mm.setUint8(a + size - 1, 1);
    assert.match(mm.report("vmstat"), /^zswpin [1-9]/m);
    kasan(() => mm.getUint8(a + size), "vmalloc-out-of-bounds");
    kasan(() => mm.getUint8(a + 4 * P), "vmalloc-out-of-bounds");
    mm.vfree(a);
    kasan(() => mm.getUint8(a), "use-after-free");
    mm.verify();
  });
});

describe("KASAN over SLOB (no slots: each block's slack is its red zone)", () => {
  const slob = (extra: object = {}): Kmem => mk({ slab: "slob", ...extra });

  it("out of bounds past the requested size, use after free, double and invalid frees", () => {
    const mm = slob();
    const p = mm.kmalloc(100);
    mm.setUint8(p + 99, 1);
    kasan(
      () => mm.getUint8(p + 100),
      "slab-out-of-bounds",
      /belongs to the object at [0-9a-f]+\n which belongs to the cache kmalloc of size \d+\n.*\n allocated 100-byte region/,
    );
    mm.kfree(p);
    kasan(() => mm.getUint32(p + 8), "slab-use-after-free", /freed 100-byte region/);
    kasan(() => mm.ksize(p), "slab-use-after-free");
    kasan(() => mm.kfree(p), "double-free");
    const q = mm.kmalloc(40);
    kasan(() => mm.kfree(q + 8), "invalid-free");
    mm.setUint8(q, 1);
    mm.kfree(q);
    mm.verify();
  });

  it("caches and kmalloc_large: poisoned at free, the large tail a page red zone", () => {
    const mm = slob();
    const c = mm.createCache("slob_cache", 200);
    assert.ok(c !== null);
    const o = c.alloc();
    mm.setUint8(o + 199, 1);
    c.free(o);
    kasan(() => mm.getUint8(o), "slab-use-after-free", /cache slob_cache of size 200/);
    kasan(() => c.free(o), "double-free", /in kmem_cache_free/);
    const big = mm.kmalloc(3 * P + 10);
    mm.setUint8(big + 3 * P + 9, 1);
    kasan(() => mm.getUint8(big + 3 * P + 10), "slab-out-of-bounds");
    mm.kfree(big);
    kasan(() => mm.kfree(big), "double-free");
    c.destroy();
    mm.verify();
  });

  it("krealloc moves the boundary; the quarantine gives blocks back to SLOB", () => {
    const mm = slob({ kasan: { quarantine: 2048 } });
    const p = mm.kmalloc(64);
    const q = mm.krealloc(p, 40);
    assert.equal(q, p);
    kasan(() => mm.getUint8(q + 40), "slab-out-of-bounds");
    for (let round = 0; round < 3; round++) {
      const ps = Array.from({ length: 100 }, (_, i) => mm.kmalloc(8 + (i % 90)));
      for (const a of ps) mm.setUint8(a, 7);
      for (const a of ps) mm.kfree(a);
    }
    assert.match(mm.report("kasan"), /quarantine \d+ objects, \d+ of 2048 bytes\n/);
    mm.kfree(q);
    mm.verify();
  });
});

describe("KASAN over the classic allocators", () => {
  const NAMES = ["p2", "mckusick-karels", "lazy-buddy", "mach-zone", "dynix"] as const;

  it("each: past the size asked, after free, a second free; random traffic reports nothing", () => {
    for (const name of NAMES) {
      const mm = mk();
      const a = mm.createAllocator(name);
      assert.ok(a !== null, name);
      const p = a.alloc(100);
      mm.setUint8(p + 99, 1);
      kasan(() => mm.getUint8(p + 100), "slab-out-of-bounds");
      a.free(p);
      kasan(() => mm.getUint8(p), "slab-use-after-free");
      kasan(() => a.free(p), "double-free", new RegExp(`in ${name}\\.free`));
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.integer({ min: 1, max: 700 }), fc.integer({ min: 0, max: 2 })), {
            minLength: 20,
            maxLength: 120,
          }),
          (ops) => {
            const live: [number, number][] = [];
            for (const [size, op] of ops) {
              if (op === 0 || live.length === 0) {
                const q = a.alloc(size);
                if (q === 0) continue;
                mm.write(q, new Uint8Array(size).fill(size & 0xff));
                live.push([q, size]);
              } else {
                const [q, n] = live.splice(size % live.length, 1)[0] as [number, number];
                assert.equal(mm.getUint8(q + n - 1), n & 0xff);
                if (op === 1) a.free(q);
                else {
                  const r: number = a.realloc(q, size);
                  assert.notEqual(r, 0);
                  assert.equal(mm.getUint8(r), n & 0xff);
                  mm.write(r, new Uint8Array(size).fill(size & 0xff));
                  live.push([r, size]);
                }
              }
            }
            for (const [q] of live) a.free(q);
            a.verify();
          },
        ),
        { numRuns: 10 },
      );
      mm.verify();
    }
  });
});

describe("KASAN: the stacks of a report", () => {
  it("keep the caller's frames, not the library's nor Node's own modules', in every form", () => {
    const lib = new URL("../../src/kasan/report.js", import.meta.url).pathname;
    const err = new Error("x");
    err.stack = [
      "Error: x",
      `    at kasanCheck (${lib}:10:5)`,
      "    at oob_write (wasm://wasm/0012ab:wasm-function[7]:0x1f)",
      "    at main (file:///app/run.js:3:1)",
      "    at ModuleJob.run (node:internal/modules/esm/module_job:271:25)",
      "    at async node:internal/modules/esm/loader:647:26",
      "    at async file:///app/run.js:9:1",
      "    at load (file:///srv/a node:b/load.js:2:7)",
    ].join("\n");
    assert.deepEqual(stackLines(err), [
      " at oob_write (wasm://wasm/0012ab:wasm-function[7]:0x1f)",
      " at main (file:///app/run.js:3:1)",
      " at async file:///app/run.js:9:1",
      " at load (file:///srv/a node:b/load.js:2:7)",
    ]);
    assert.deepEqual(stackLines(err, 1), [
      " at oob_write (wasm://wasm/0012ab:wasm-function[7]:0x1f)",
    ]);
  });
});
