/*
 * Slabs that grow with their cache (slub/layout.ts growOrder, topOrderOf): a kmalloc cache
 * sized for footprint whose smallest slab holds two objects or more starts with those slabs
 * and takes larger ones as its slabs multiply: up to 16 objects a slab (32 of half a page)
 * where its objects tile it (kmalloc-512, -1k and -2k with the fine classes), up to the
 * order whose tail is the least share where they leave one (kmalloc-320 to -1536); a slab
 * of any order is checked, counted, recovered and given back as its own, and an address in
 * a smaller slab's tail is no object's.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GFP_KERNEL, Kmem, KmemError, PageKind, type PageMap } from "../../src/index.js";
import type { BuddyAllocator } from "../../src/page/index.js";
import { bswap32, Desc, Grow, GROW_SHIFT, growOrder } from "../../src/slub/layout.js";
import { consumeUntilFree, expectKmemError } from "../helpers.js";

function kmem(memory = 16 << 20, sizeClasses: "fine" | "linux" = "fine"): Kmem {
  return new Kmem({ memory, sizeClasses });
}

/** The order of every slab of cache `name` in the page map, in address order. */
function slabOrders(mm: Kmem, name: string): number[] {
  const map: PageMap = mm.pageMap();
  const id = map.caches.find((c) => c.name === name)?.id;
  const out: number[] = [];
  for (let pfn = 0; pfn < map.totalPages; pfn += 1 << (map.order[pfn] as number)) {
    if (map.kind[pfn] === PageKind.SLAB && map.cache[pfn] === id)
      out.push(map.order[pfn] as number);
  }
  return out;
}

function counts(orders: number[]): number[] {
  const n = [0, 0, 0, 0, 0];
  for (const o of orders) n[o]!++;
  return n;
}

describe("SLUB: slabs that grow with their cache", () => {
  it("growOrder: a step up for each doubling of the slabs from 2^GROW_SHIFT on, up to topOrder", () => {
    assert.equal(GROW_SHIFT, 3);
    // The largest slab of a growing cache: 16 pages (slabOf looks for a head up to it).
    assert.equal(Grow.MAX_ORDER, 4);
    const rows: [number, number][] = [
      [0, 0],
      [1, 0],
      [15, 0],
      [16, 1],
      [31, 1],
      [32, 2],
      [63, 2],
      [64, 3],
      [1 << 20, 3],
    ];
    for (const [slabs, step] of rows) assert.equal(growOrder(0, 3, slabs), step, `${slabs} slabs`);
    assert.equal(growOrder(1, 3, 16), 2);
    assert.equal(growOrder(1, 2, 1000), 2);
    assert.equal(growOrder(2, 2, 1000), 2);
    // The bound: a slab of order k comes after 2^(k - order + GROW_SHIFT) slabs of 2^order
    // pages at least, so it is at most an eighth of the pages held.
    for (let slabs = 0; slabs < 5000; slabs++) {
      const k = growOrder(0, 3, slabs);
      assert.ok(k === 0 || (1 << k) * 8 <= slabs, `${slabs} slabs: order ${k}`);
    }
  });

  it("which caches grow: the fine classes' whose objects tile every order, up to 16 a slab, 32 of half a page (kmalloc-512, -1k, -2k), and those whose objects leave a tail, to the order with the least (kmalloc-320 to -1536); no other", () => {
    const fine = kmem();
    const caches = (mm: Kmem) =>
      mm
        .stats()
        .caches.map((x) => mm.findCache(x.name) as NonNullable<ReturnType<Kmem["findCache"]>>);
    const grows = caches(fine)
      .filter((c) => c.topOrder !== c.order)
      .map((c) => `${c.name} ${c.order}..${c.topOrder}`);
    assert.deepEqual(grows, [
      "kmalloc-2k 0..4",
      "kmalloc-1536 2..3",
      "kmalloc-1280 2..3",
      "kmalloc-1k 1..2",
      "kmalloc-768 1..2",
      "kmalloc-640 1..2",
      "kmalloc-512 0..1",
      "kmalloc-384 0..1",
      "kmalloc-320 0..1",
    ]);
    // One object a slab (kmalloc-4k, -8k; kmalloc-3k, whose one object leaves a tail too),
    // tails no larger slab makes a smaller share (kmalloc-448, -896: 1.6% of any), Linux's
    // classes (calculate_order's one order) and a cache a user makes keep one order.
    const linux = kmem(16 << 20, "linux");
    assert.deepEqual(
      caches(linux).filter((c) => c.topOrder !== c.order),
      [],
    );
    const own = fine.createCache("own-2k", 2048);
    assert.ok(own !== null);
    assert.equal(own.topOrder, own.order);
    // The same shares of a page, whatever the page: kmalloc-8k, -4k and -2k tile with 16 KiB
    // pages, -32k, -16k and -8k with 64; the classes of 5/64 to 3/8 of a page leave tails.
    for (const [pageSize, names] of [
      [
        16384,
        [
          ...["kmalloc-8k 0..4", "kmalloc-6k 2..3", "kmalloc-5k 2..3", "kmalloc-4k 1..2"],
          ...["kmalloc-3k 1..2", "kmalloc-2560 1..2", "kmalloc-2k 0..1", "kmalloc-1536 0..1"],
          "kmalloc-1280 0..1",
        ],
      ],
      [
        65536,
        [
          ...["kmalloc-32k 0..4", "kmalloc-24k 2..3", "kmalloc-20k 2..3", "kmalloc-16k 1..2"],
          ...["kmalloc-12k 1..2", "kmalloc-10k 1..2", "kmalloc-8k 0..1", "kmalloc-6k 0..1"],
          "kmalloc-5k 0..1",
        ],
      ],
    ] as const) {
      const mm = new Kmem({ memory: 64 << 20, pageSize });
      assert.deepEqual(
        caches(mm)
          .filter((c) => c.topOrder !== c.order)
          .map((c) => `${c.name} ${c.order}..${c.topOrder}`),
        names,
        `${pageSize}-byte pages`,
      );
    }
  });

  it("a burst of 2,048-byte blocks: sixteen slabs of one page, sixteen of two, thirty-two of four, sixty-four of eight, then of sixteen; each counted, checked and given back", () => {
    const mm = kmem();
    const base = mm.usedPages;
    const blocks: number[] = [];
    for (let i = 0; i < 3008; i++) {
      const a = mm.kmalloc(2048);
      assert.notEqual(a, 0);
      new Uint32Array(mm.buffer, a, 512).fill(i);
      blocks.push(a);
      if (i % 97 === 0) mm.verify();
    }
    mm.verify();
    // 16 slabs of 2 objects, 16 of 4, 32 of 8, 64 of 16, then slabs of 32: 32 + 64 + 256 +
    // 1,024 + 51 * 32 = 3,008.
    assert.deepEqual(counts(slabOrders(mm, "kmalloc-2k")), [16, 16, 32, 64, 51]);
    const info = mm.stats().caches.find((c) => c.name === "kmalloc-2k");
    assert.equal(info?.slabs, 179);
    assert.equal(info?.totalObjects, 3008);
    assert.equal(info?.activeObjects, 3008);
    assert.equal(info?.objectsPerSlab, 2);
    // The page map counts each slab's own objects.
    const map = mm.pageMap();
    for (const a of [blocks[0], blocks[40], blocks[200], blocks[3007]] as number[]) {
      const pfn = Math.floor(a / map.pageSize);
      assert.equal(map.capacity[pfn], 2 << (map.order[pfn] as number));
    }
    // Two blocks a page in every slab: the 3,008 blocks in 1,504 pages, none left over.
    const orders = slabOrders(mm, "kmalloc-2k");
    assert.equal(
      orders.reduce((n, o) => n + (1 << o), 0),
      1504,
    );
    assert.ok(mm.usedPages - base >= 1504);
    for (let i = 0; i < blocks.length; i++) {
      const a = blocks[i] as number;
      assert.equal(new Uint32Array(mm.buffer, a, 512)[511], i);
    }
    // Freed in a scattered order, then shrunk: every slab goes back whatever its order.
    for (let i = 0; i < blocks.length; i += 3) mm.kfree(blocks[i] as number);
    mm.verify();
    for (let i = 1; i < blocks.length; i += 3) mm.kfree(blocks[i] as number);
    for (let i = 2; i < blocks.length; i += 3) mm.kfree(blocks[i] as number);
    mm.verify();
    mm.shrinkSlabs();
    assert.equal(slabOrders(mm, "kmalloc-2k").length, 0);
    mm.verify();
  });

  it("without a free block of the larger order, a new slab takes the cache's own (SLUB's fallback from oo to min), quietly", () => {
    const logged: string[] = [];
    const mm = new Kmem({ memory: 4 << 20, log: (m) => logged.push(m) });
    const early: number[] = [];
    for (let i = 0; i < 80; i++) early.push(mm.kmalloc(2048));
    // 16 slabs of one page (32 objects), then of two (48 objects): the cache grows.
    assert.deepEqual(counts(slabOrders(mm, "kmalloc-2k")), [16, 12, 0, 0, 0]);
    // Every free page taken, then every other one given back: free memory in single pages.
    const pages = consumeUntilFree(mm, 0);
    const kept: number[] = [];
    pages.sort((a, b) => a - b);
    for (let i = 0; i < pages.length; i++) {
      if (i % 2 === 0) mm.freePages(pages[i] as number, 0);
      else kept.push(pages[i] as number);
    }
    mm.drainPages();
    assert.equal(
      mm
        .stats()
        .freeByOrder.slice(1)
        .reduce((x, y) => x + y, 0),
      0,
    );
    const late: number[] = [];
    for (let i = 0; i < 20; i++) {
      const a = mm.kmalloc(2048);
      assert.notEqual(a, 0, `allocation ${i}`);
      late.push(a);
    }
    mm.verify();
    const map = mm.pageMap();
    for (const a of late) assert.equal(map.order[Math.floor(a / map.pageSize)], 0);
    assert.deepEqual(
      logged.filter((m) => /allocation failure/.test(m)),
      [],
    );
    for (const a of [...early, ...late]) mm.kfree(a);
    for (const p of kept) mm.freePages(p, 0);
    mm.shrinkSlabs();
    mm.verify();
  });

  it("a larger slab comes from the free lists only: nothing drained, dropped, reclaimed, injected or counted as a failure", () => {
    const mm = new Kmem({ memory: 4 << 20 });
    const b = (mm as unknown as { buddy: BuddyAllocator }).buddy;
    // Free memory in single pages only, and one page on this cpu's list.
    const pages = consumeUntilFree(mm, 0).sort((x, y) => x - y);
    const kept: number[] = [];
    pages.forEach((p, i) => (i % 2 === 0 ? mm.freePages(p, 0) : kept.push(p)));
    mm.drainPages();
    mm.freePages(mm.allocPages(0), 0);
    let dropped = 0;
    b.dropCaches.push(() => {
      dropped++;
      return 0;
    });
    const before = mm.stats();
    assert.ok(before.pcpPages > 0);
    assert.equal(b.allocPagesIfFree(-1, 1, GFP_KERNEL), 0);
    const after = mm.stats();
    assert.equal(after.pcpPages, before.pcpPages, "the per-cpu list kept its pages");
    assert.equal(dropped, 0, "no cache dropped");
    assert.equal(after.events.pgalloc_fail, before.events.pgalloc_fail, "no failure counted");
    // An order-1 block once a kept page's buddy is free too; fault injection does not touch
    // it (a failure of it is no failure), where it fails an allocation that must succeed.
    const k = kept.find((p) => pages.includes(p ^ 4096)) as number;
    mm.freePages(k, 0);
    mm.drainPages();
    mm.setFault("fail_page_alloc", {
      probability: 100,
      times: -1,
      verbose: 0,
      ignoreGfpWait: false,
    });
    assert.equal(mm.allocPages(1, GFP_KERNEL), 0);
    const got = b.allocPagesIfFree(-1, 1, GFP_KERNEL);
    assert.equal(got, Math.min(k, k ^ 4096));
    mm.setFault("fail_page_alloc", null);
    mm.freePages(got, 1);
    for (const p of kept) if (p !== k) mm.freePages(p, 0);
    mm.verify();
  });

  it("a free pointer forged into the next page is caught: the cpu slab's own span bounds it, not the largest slab's", () => {
    const mm = kmem();
    const c = mm.findCache("kmalloc-2k");
    assert.ok(c !== null && c.topOrder > c.order);
    const a = mm.kmalloc(2048);
    // The cpu slab is a page of two objects; the other one is on the cpu freelist. Its free
    // pointer, encoded as SLUB encodes it, is made to name the next page (a slot of the
    // cache's largest slabs, not of this one).
    const b = a + 2048;
    const fp = b + c.offset;
    const forged = (a + 4096) ^ c.secret ^ bswap32(fp);
    new Int32Array(mm.buffer)[fp >>> 2] = forged;
    // The object whose pointer was forged is not handed out (its slab is set aside and a
    // new slab serves); taken as valid, it would have been, and the next allocation would
    // have been whatever lies at a + 4096.
    const x = mm.kmalloc(2048);
    const y = mm.kmalloc(2048);
    assert.ok(x !== b && y !== b, "the object with the forged pointer was handed out");
    assert.equal(mm.stats().events.slab_errors, 1);
    assert.notEqual(Math.floor(x / 4096), Math.floor(a / 4096));
    mm.verify();
    mm.kfree(a);
    mm.kfree(y);
    mm.verify();
  });

  it("kmalloc-320: sixteen slabs of a page (12 objects), then of two (25); an address in a one-page slab's tail is no object's, refused before anything changes", () => {
    const mm = kmem();
    const blocks: number[] = [];
    for (let i = 0; i < 400; i++) {
      const a = mm.kmalloc(320);
      new Uint32Array(mm.buffer, a, 80).fill(i);
      blocks.push(a);
    }
    const n = counts(slabOrders(mm, "kmalloc-320"));
    assert.equal(n[0], 16);
    assert.equal(16 * 12 + (n[1] as number) * 25 >= 400, true);
    assert.ok((n[1] as number) > 0);
    // The objects the slabs hold, in slabinfo and the page map: 12 and 25 a slab.
    const line = mm
      .report("slabinfo")
      .split("\n")
      .find((l) => l.startsWith("kmalloc-320 "));
    assert.equal(Number(line?.trim().split(/\s+/)[2]), 16 * 12 + (n[1] as number) * 25);
    const map = mm.pageMap();
    const first = blocks[0] as number;
    const head = first - (first % 4096);
    assert.equal(map.order[head / 4096], 0);
    assert.equal(map.capacity[head / 4096], 12);
    // A one-page slab's tail (3,840..4,095): the two-page slabs' slot table has slot 12 at
    // 3,840; this slab has no such slot.
    const c = mm.findCache("kmalloc-320");
    assert.ok(c !== null);
    const tail = head + 12 * 320;
    const before = new Uint8Array(mm.buffer).slice();
    for (const [what, fn] of [
      ["kfree", () => mm.kfree(tail)],
      ["ksize", () => mm.ksize(tail)],
      ["krealloc", () => mm.krealloc(tail, 100)],
      ["kmem_cache_free", () => c.free(tail)],
    ] as const) {
      const e = expectKmemError("INVALID_FREE", fn);
      assert.match(e.message, /not the start of an object/, what);
    }
    assert.deepEqual(new Uint8Array(mm.buffer), before, "nothing changed");
    mm.verify();
    // A two-page slab's twelfth slot, at the same offset, is an object like any other.
    const big = blocks.find((a) => map.order[(a - (a % 8192)) / 4096] === 1 && a % 8192 === 3840);
    assert.ok(big !== undefined);
    assert.equal(mm.ksize(big), 320);
    blocks.forEach((a, i) => assert.ok(new Uint32Array(mm.buffer, a, 80).every((x) => x === i)));
    for (const a of blocks) mm.kfree(a);
    mm.shrinkSlabs();
    mm.verify();
    assert.deepEqual(slabOrders(mm, "kmalloc-320"), []);
  });

  it("a descriptor whose orders were damaged is CORRUPTION (SLAB-7) to a context that opens it", () => {
    for (const [name, damage] of [
      ["kmalloc-2k", (w: number) => (w & 0xff) | (9 << 8)], // topOrder beyond the page allocator's
      ["kmalloc-2k", (w: number) => (w & 0xff) | (5 << 8)], // above slabOf's reach, 64 objects
      ["kmalloc-2k", (w: number) => (w & ~0xff) | 5], // order above topOrder (0..4)
      // Above what slabOf finds, and nothing else wrong: one object tiling a page, 32 at
      // order 5 (kmalloc-4k, whose slabs do not grow, given a topOrder of 5).
      ["kmalloc-4k", (w: number) => (w & 0xff) | (5 << 8)],
      ["kmalloc-3k", () => 2 << 8], // topOrder 2 for a cache of one object a slab
      // kmalloc-320 (0..1) given 0..2: 51 objects, more than a frame's bitmap holds.
      ["kmalloc-320", (w: number) => (w & 0xff) | (2 << 8)],
      ["kmalloc-768", (w: number) => (w & 0xff) | (3 << 8)], // 1..3, not topOrderOf's 1..2
    ] as const) {
      const mm = kmem(4 << 20);
      const c = mm.findCache(name);
      assert.ok(c !== null);
      const snap = mm.buffer.slice(0);
      const w = new Int32Array(snap);
      const at = (c.desc >>> 2) + Desc.ORDER;
      w[at] = damage(w[at] as number);
      assert.throws(
        () => Kmem.reopen(snap),
        (e: unknown) =>
          e instanceof KmemError && e.code === "CORRUPTION" && /SLAB-7/.test(e.message),
      );
    }
  });

  for (const m of [
    {
      what: "2 KiB blocks",
      sizes: [2048, 2048, 2048, 4096, 8192, 100, 3000],
      start: [2048, 2048, 4096],
      starts: 48,
      caches: ["kmalloc-2k", "kmalloc-4k", "kmalloc-8k"],
      grown: [],
    },
    {
      what: "blocks of 289-320 and 641-768 bytes (slabs with tails)",
      sizes: [300, 320, 320, 700, 768, 100, 3000],
      start: [320, 768],
      starts: 400,
      caches: ["kmalloc-320", "kmalloc-768"],
      grown: ["kmalloc-320", "kmalloc-768"],
    },
  ]) {
    it(`model: kmalloc and kfree of ${m.what} among others against a map of live blocks, verify() after every step`, () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc.record({ alloc: fc.constantFrom(...m.sizes) }),
              fc.record({ free: fc.nat() }),
            ),
            { minLength: 40, maxLength: 160 },
          ),
          (ops) => {
            const mm = kmem(8 << 20);
            const live: { a: number; n: number; tag: number }[] = [];
            let tag = 1;
            // A head start of blocks, so that the caches have slabs enough to grow.
            for (let i = 0; i < m.starts; i++) {
              const n = m.start[i % m.start.length] as number;
              const a = mm.kmalloc(n);
              new Uint8Array(mm.buffer, a, n).fill(tag & 0xff);
              live.push({ a, n, tag: tag++ });
            }
            for (const name of m.grown) {
              assert.ok(
                counts(slabOrders(mm, name)).some((n, o) => o > 0 && n > 0),
                name,
              );
            }
            for (const op of ops) {
              if ("alloc" in op) {
                const a = mm.kmalloc(op.alloc);
                assert.notEqual(a, 0);
                new Uint8Array(mm.buffer, a, op.alloc).fill(tag & 0xff);
                live.push({ a, n: op.alloc, tag: tag++ });
              } else if (live.length > 0) {
                const [blk] = live.splice(op.free % live.length, 1);
                const { a, n, tag: t } = blk as { a: number; n: number; tag: number };
                const bytes = new Uint8Array(mm.buffer, a, n);
                assert.ok(
                  bytes.every((x) => x === (t & 0xff)),
                  `block ${a} kept its contents`,
                );
                mm.kfree(a);
              }
              mm.verify();
            }
            for (const { a } of live) mm.kfree(a);
            mm.shrinkSlabs();
            mm.verify();
            for (const name of m.caches) {
              assert.equal(slabOrders(mm, name).length, 0, name);
            }
          },
        ),
        { numRuns: 25 },
      );
    });
  }
});
