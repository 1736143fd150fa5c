/*
 * Model-based property tests across layers: random kmalloc, kfree, krealloc, cache
 * alloc/free, allocPages and freePages against a reference map of live allocations. After
 * every step: no two live allocations overlap, each lies in managed memory, the bytes written
 * are read back intact, counters agree with the model, and verify() passes.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GFP_ATOMIC, GFP_KERNEL, Kmem, type KmemCache, SLAB_NO_MERGE } from "../../src/index.js";

type Op =
  | { kind: "kmalloc"; size: number; zero: boolean }
  | { kind: "kfree"; pick: number }
  | { kind: "krealloc"; pick: number; size: number }
  | { kind: "calloc"; cache: number }
  | { kind: "cfree"; pick: number }
  | { kind: "pages"; order: number }
  | { kind: "shrink"; cache: number };

const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 512 }) },
  { weight: 2, arbitrary: fc.integer({ min: 513, max: 9000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 9001, max: 70000 }) },
  { weight: 1, arbitrary: fc.constant(0) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("kmalloc" as const),
      size: sizeArb,
      zero: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("kfree" as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("krealloc" as const), pick: fc.nat(), size: sizeArb }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("calloc" as const), cache: fc.nat(2) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("cfree" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("pages" as const), order: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("shrink" as const), cache: fc.nat(2) }) },
);

interface Block {
  addr: number;
  /** Bytes the caller may use and that we stamp. */
  size: number;
  stamp: number;
  how: "kmalloc" | "cache" | "pages";
  cache?: KmemCache;
  order?: number;
}

function stampOf(b: Block, i: number): number {
  return (b.stamp * 31 + i) & 0xff;
}

/**
 * `split`: two NUMA nodes, each a buffer of its own, pages interleaved between them, so
 * objects, slabs and large blocks land on both and every access goes through a window.
 */
function run(
  ops: Op[],
  debug: string,
  slab: "slub" | "slob" | "slab" = "slub",
  split = false,
  kasan = false,
): void {
  const mm = split
    ? new Kmem({ nodes: [1 << 20, 1 << 20], minFreeBytes: 0, debug, slab })
    : new Kmem({ memory: 2 << 20, minFreeBytes: 0, debug, slab, kasan });
  if (split) mm.setPolicy({ mode: "interleave", nodes: [0, 1] });
  const freeAtStart = mm.stats().freePages;
  const caches = [
    mm.createCache("m24", 24, { flags: SLAB_NO_MERGE }),
    mm.createCache("m200", 200, { flags: SLAB_NO_MERGE, ctor: () => {} }),
    mm.createCache("m3000", 3000, { flags: SLAB_NO_MERGE }),
  ] as KmemCache[];
  const sizes = [24, 200, 3000];
  mm.shrinkSlabs();
  mm.drainPages();
  const initialFree = mm.stats().freePages;
  const initialSlab = mm.stats().slabPages;
  const live: Block[] = [];
  const first = (mm.totalPages - mm.managedPages) * mm.pageSize;
  let stamp = 1;

  const place = (b: Block) => {
    assert.ok(b.addr >= first, "inside managed memory");
    // One node's managed memory holds it all (view() throws otherwise).
    if (b.size > 0) assert.equal(mm.view(b.addr, b.size).length, b.size);
    for (const o of live) {
      if (o.size === 0 || b.size === 0) continue;
      assert.ok(
        b.addr + b.size <= o.addr || o.addr + o.size <= b.addr,
        `overlap ${b.addr} with ${o.addr}`,
      );
    }
    for (let i = 0; i < b.size; i += 97) mm.setUint8(b.addr + i, stampOf(b, i));
    if (b.size > 0) mm.setUint8(b.addr + b.size - 1, stampOf(b, b.size - 1));
    live.push(b);
  };
  const check = (b: Block) => {
    for (let i = 0; i < b.size; i += 97)
      assert.equal(mm.getUint8(b.addr + i), stampOf(b, i), "contents intact");
    if (b.size > 0) assert.equal(mm.getUint8(b.addr + b.size - 1), stampOf(b, b.size - 1));
  };
  const take = (pick: number, how: Block["how"]): Block | undefined => {
    const mine = live.filter((b) => b.how === how);
    if (mine.length === 0) return undefined;
    const b = mine[pick % mine.length] as Block;
    live.splice(live.indexOf(b), 1);
    return b;
  };

  for (const op of ops) {
    switch (op.kind) {
      case "kmalloc": {
        const addr = op.zero ? mm.kzalloc(op.size, GFP_ATOMIC) : mm.kmalloc(op.size, GFP_KERNEL);
        if (addr === 0) break;
        if (op.size === 0) {
          assert.equal(addr, 16);
          break;
        }
        assert.ok(mm.ksize(addr) >= op.size);
        if (op.zero)
          assert.ok(
            mm.view(addr, op.size).every((x) => x === 0),
            "kzalloc zeroes",
          );
        place({ addr, size: op.size, stamp: stamp++, how: "kmalloc" });
        break;
      }
      case "kfree": {
        const b = take(op.pick, "kmalloc");
        if (b === undefined) break;
        check(b);
        mm.kfree(b.addr);
        break;
      }
      case "krealloc": {
        const b = take(op.pick, "kmalloc");
        if (b === undefined) break;
        check(b);
        const addr = mm.krealloc(b.addr, op.size);
        if (addr === 0) {
          live.push(b); // failed: the old one stands
          break;
        }
        if (op.size === 0) break;
        const kept = Math.min(b.size, op.size);
        for (let i = 0; i < kept; i += 97)
          assert.equal(mm.getUint8(addr + i), stampOf(b, i), "krealloc copies");
        place({ addr, size: op.size, stamp: stamp++, how: "kmalloc" });
        break;
      }
      case "calloc": {
        const c = caches[op.cache] as KmemCache;
        const addr = c.alloc();
        if (addr === 0) break;
        place({ addr, size: sizes[op.cache] as number, stamp: stamp++, how: "cache", cache: c });
        break;
      }
      case "cfree": {
        const b = take(op.pick, "cache");
        if (b === undefined) break;
        check(b);
        b.cache?.free(b.addr);
        break;
      }
      case "pages": {
        const addr = mm.allocPages(op.order);
        if (addr === 0) break;
        place({ addr, size: 4096 << op.order, stamp: stamp++, how: "pages", order: op.order });
        break;
      }
      case "shrink":
        (caches[op.cache] as KmemCache).shrink();
        break;
    }
    mm.verify();
    caches.forEach((c, i) => {
      const active = mm.stats().caches.find((x) => x.name === c.name)?.activeObjects;
      const mine = live.filter((b) => b.cache === caches[i]).length;
      // KASAN's quarantine holds freed objects back: SLUB still counts them active.
      if (kasan) assert.ok((active ?? 0) >= mine);
      else assert.equal(active, mine);
    });
  }
  for (const b of live) {
    check(b);
    if (b.how === "kmalloc") mm.kfree(b.addr);
    else if (b.how === "cache") b.cache?.free(b.addr);
    else mm.freePages(b.addr, b.order as number);
  }
  mm.verify();
  for (const c of caches) c.destroy();
  mm.verify();
  // Nothing leaked across the layers: with every cache shrunk and the per-cpu lists drained,
  // the page allocator holds all it held before the caches were created.
  mm.shrinkSlabs();
  mm.drainPages();
  if (slab === "slob") {
    // SLOB keeps no empty page: with the descriptors gone, every page is back.
    assert.equal(mm.stats().freePages, freeAtStart, "all pages came back");
    assert.equal(mm.stats().slabPages, 0);
  } else {
    // Only the descriptor cache's slabs remain (with SLAB, also the caches' array blocks,
    // which count as slab pages), and every other page came back.
    const st = mm.stats();
    const boot = st.caches.find((c) => c.name === "kmem_cache");
    const bootPages = (boot?.slabs ?? 0) * (boot?.pagesPerSlab ?? 1);
    if (slab === "slab") assert.ok(st.slabPages >= bootPages);
    else assert.equal(st.slabPages, bootPages);
    assert.equal(st.freePages - initialFree, initialSlab - st.slabPages, "all pages came back");
  }
}

describe("slab and kmalloc model", () => {
  it("keeps every invariant under random traffic", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 250, size: "max" }), (ops) =>
        run(ops, ""),
      ),
      { numRuns: 60 },
    );
  });

  it("keeps every invariant with full slab debugging (FZPU)", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 150, size: "max" }), (ops) =>
        run(ops, "FZPU"),
      ),
      { numRuns: 25 },
    );
  });

  it("keeps every invariant under KASAN, which reports nothing on correct traffic", () => {
    for (const debug of ["", "FZPU"]) {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 50, maxLength: 150, size: "max" }), (ops) =>
          run(ops, debug, "slub", false, true),
        ),
        { numRuns: 15 },
      );
    }
  });

  it("keeps every invariant under KASAN with SLAB's arrays, which reports nothing", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 150, size: "max" }), (ops) =>
        run(ops, "", "slab", false, true),
      ),
      { numRuns: 15 },
    );
  });

  it("keeps every invariant under KASAN with SLOB, which reports nothing", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 150, size: "max" }), (ops) =>
        run(ops, "", "slob", false, true),
      ),
      { numRuns: 15 },
    );
  });

  it("keeps every invariant with SLOB serving kmalloc and the caches", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 250, size: "max" }), (ops) =>
        run(ops, "", "slob"),
      ),
      { numRuns: 60 },
    );
  });

  it("keeps every invariant with SLAB serving kmalloc and the caches (and with FZPU)", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 250, size: "max" }), (ops) =>
        run(ops, "", "slab"),
      ),
      { numRuns: 60 },
    );
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 150, size: "max" }), (ops) =>
        run(ops, "FZPU", "slab"),
      ),
      { numRuns: 15 },
    );
  });

  it("and over two nodes that are buffers of their own (SLUB, FZPU, SLAB, SLOB)", () => {
    for (const [debug, slab] of [
      ["", "slub"],
      ["FZPU", "slub"],
      ["", "slab"],
      ["", "slob"],
    ] as const) {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 50, maxLength: 200, size: "max" }), (ops) =>
          run(ops, debug, slab, true),
        ),
        { numRuns: 15 },
      );
    }
  });

  it("runs out of memory gracefully: 0, never an exception, nothing lost", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 70000 }), {
          minLength: 50,
          maxLength: 400,
          size: "max",
        }),
        fc.constantFrom("slub" as const, "slab" as const, "slob" as const),
        (sizes, slab) => {
          const mm = new Kmem({ memory: 512 << 10, minFreeBytes: 0, slab });
          const got: number[] = [];
          for (const s of sizes) {
            const a = mm.kmalloc(s, GFP_ATOMIC);
            if (a !== 0) got.push(a);
          }
          mm.verify();
          for (const a of got) mm.kfree(a);
          mm.verify();
        },
      ),
      { numRuns: 30 },
    );
  });
});
