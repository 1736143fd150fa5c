/*
 * Model-based test of three contexts over one buffer, interleaved in one thread: random
 * kmalloc, cache alloc, allocPages from a random context, freed from any context (remote
 * frees), shrinks, drains, and cpus going offline and coming back, against a reference
 * map of live allocations. After every step: no overlap, contents intact, counts agree,
 * verify() passes; at the end every page comes back.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Kmem, type KmemCache, SLAB_NO_MERGE } from "../../src/index.js";

type Op =
  | { kind: "kmalloc"; ctx: number; size: number }
  | { kind: "kfree"; ctx: number; pick: number }
  | { kind: "calloc"; ctx: number; cache: number }
  | { kind: "cfree"; ctx: number; pick: number }
  | { kind: "pages"; ctx: number; order: number }
  | { kind: "pfree"; ctx: number; pick: number }
  | { kind: "shrink"; ctx: number; cache: number }
  | { kind: "drain"; ctx: number }
  | { kind: "shrinkAll"; ctx: number }
  | { kind: "offline"; ctx: number };

const ctx = fc.nat(2);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("kmalloc" as const),
      ctx,
      size: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 301, max: 9000 })),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("kfree" as const), ctx, pick: fc.nat() }) },
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("calloc" as const), ctx, cache: fc.nat(2) }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("cfree" as const), ctx, pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("pages" as const), ctx, order: fc.nat(2) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("pfree" as const), ctx, pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("shrink" as const), ctx, cache: fc.nat(2) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("drain" as const), ctx }) },
  // Reclaim's shrinker: asks the other cpus to flush their sheaves and cpu slabs.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("shrinkAll" as const), ctx }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("offline" as const),
      ctx: fc.integer({ min: 1, max: 2 }),
    }),
  },
);

interface Block {
  addr: number;
  size: number;
  stamp: number;
  how: "kmalloc" | "cache" | "pages";
  cache?: number;
  order?: number;
}

const NAMES = ["s24", "s200", "s3000"];
const SIZES = [24, 200, 3000];

/** `split`: two NUMA nodes, each a SharedArrayBuffer of its own, pages interleaved. */
function run(ops: Op[], slab: "slub" | "slob" | "slab", debug: string, split = false): void {
  const first = split
    ? new Kmem({ nodes: [2 << 20, 2 << 20], cpus: 3, minFreeBytes: 0, slab, debug })
    : new Kmem({ memory: 4 << 20, cpus: 3, minFreeBytes: 0, slab, debug });
  const ctors = { s200: () => {} };
  first.createCache("s24", 24, { flags: SLAB_NO_MERGE });
  first.createCache("s200", 200, { flags: SLAB_NO_MERGE, ctor: ctors.s200 });
  first.createCache("s3000", 3000, { flags: SLAB_NO_MERGE });
  const contexts: Kmem[] = [
    first,
    Kmem.attach(first.buffers, { ctors }),
    Kmem.attach(first.buffers, { ctors }),
  ];
  if (split) for (const c of contexts) c.setPolicy({ mode: "interleave", nodes: [0, 1] });
  const cacheOf = (k: number, i: number): KmemCache =>
    (contexts[k] as Kmem).findCache(NAMES[i] as string) as KmemCache;
  const base = (first.totalPages - first.managedPages) * first.pageSize;
  const live: Block[] = [];
  let stamp = 1;
  const stampOf = (b: Block, i: number) => (b.stamp * 31 + i) & 0xff;
  const place = (b: Block) => {
    assert.ok(b.addr >= base, "inside managed memory");
    const mem = first.view(b.addr, b.size); // one node holds it all

    for (const o of live) {
      assert.ok(b.addr + b.size <= o.addr || o.addr + o.size <= b.addr, "no overlap");
    }
    for (let i = 0; i < b.size; i += 61) mem[i] = stampOf(b, i);
    live.push(b);
  };
  const take = (pick: number, how: Block["how"]): Block | undefined => {
    const mine = live.filter((b) => b.how === how);
    if (mine.length === 0) return undefined;
    const b = mine[pick % mine.length] as Block;
    const mem = first.view(b.addr, b.size);
    for (let i = 0; i < b.size; i += 61) assert.equal(mem[i], stampOf(b, i), "intact");
    live.splice(live.indexOf(b), 1);
    return b;
  };

  for (const op of ops) {
    const mm = contexts[op.ctx] as Kmem;
    switch (op.kind) {
      case "kmalloc": {
        const addr = mm.kmalloc(op.size);
        if (addr !== 0) place({ addr, size: op.size, stamp: stamp++, how: "kmalloc" });
        break;
      }
      case "kfree": {
        const b = take(op.pick, "kmalloc");
        if (b !== undefined) mm.kfree(b.addr);
        break;
      }
      case "calloc": {
        const addr = cacheOf(op.ctx, op.cache).alloc();
        const size = SIZES[op.cache] as number;
        if (addr !== 0) place({ addr, size, stamp: stamp++, how: "cache", cache: op.cache });
        break;
      }
      case "cfree": {
        const b = take(op.pick, "cache");
        if (b !== undefined) cacheOf(op.ctx, b.cache as number).free(b.addr);
        break;
      }
      case "pages": {
        const addr = mm.allocPages(op.order);
        const size = mm.pageSize << op.order;
        if (addr !== 0) place({ addr, size, stamp: stamp++, how: "pages", order: op.order });
        break;
      }
      case "pfree": {
        const b = take(op.pick, "pages");
        if (b !== undefined) mm.freePages(b.addr, b.order as number);
        break;
      }
      case "shrink":
        cacheOf(op.ctx, op.cache).shrink();
        break;
      case "drain":
        mm.drainPages();
        break;
      case "shrinkAll":
        mm.shrinkSlabs();
        break;
      case "offline":
        // The worker of this context exits; another context offlines its cpu; a new worker
        // attaches (and gets the same id back).
        first.offlineCpu(mm.cpu);
        contexts[op.ctx] = Kmem.attach(first.buffers, { ctors });
        assert.equal((contexts[op.ctx] as Kmem).cpu, op.ctx);
        break;
    }
    (contexts[stamp % 3] as Kmem).verify();
    NAMES.forEach((name, i) => {
      const active = first.stats().caches.find((c) => c.name === name)?.activeObjects;
      assert.equal(active, live.filter((b) => b.cache === i).length, `${name} active`);
    });
  }
  for (const b of live) {
    const mm = contexts[b.stamp % 3] as Kmem;
    if (b.how === "kmalloc") mm.kfree(b.addr);
    else if (b.how === "cache") cacheOf(b.stamp % 3, b.cache as number).free(b.addr);
    else mm.freePages(b.addr, b.order as number);
  }
  first.verify();
  // Every page comes back once the other cpus are offline and the caches shrunk.
  first.offlineCpu(1);
  first.offlineCpu(2);
  for (const name of NAMES) first.findCache(name)?.destroy();
  first.shrinkSlabs();
  first.drainPages();
  first.verify();
  const st = first.stats();
  const boot = st.caches.find((c) => c.name === "kmem_cache");
  const descriptorPages = slab === "slob" ? 0 : (boot?.slabs ?? 0) * (boot?.pagesPerSlab ?? 1);
  // SLAB: the caches' array blocks remain too (slab pages, as Linux's arrays are).
  if (slab === "slab") assert.ok(st.slabPages >= descriptorPages);
  else assert.equal(st.slabPages, descriptorPages, "only the descriptors' slabs remain");
  assert.equal(st.freePages + st.slabPages, st.managedPages, "every page came back");
  for (const c of st.caches)
    assert.equal(c.activeObjects, c.name === "kmem_cache" ? c.activeObjects : 0);
}

describe("three contexts over one buffer (model)", () => {
  it("keeps every invariant under random traffic with remote frees and hotplug", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 200, size: "max" }), (ops) =>
        run(ops, "slub", ""),
      ),
      { numRuns: 40 },
    );
  });

  it("with full slab debugging (FZPU)", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 120, size: "max" }), (ops) =>
        run(ops, "slub", "FZPU"),
      ),
      { numRuns: 15 },
    );
  });

  it("with SLAB (array caches, shared arrays, alien frees), and with FZPU", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 200, size: "max" }), (ops) =>
        run(ops, "slab", ""),
      ),
      { numRuns: 30 },
    );
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 120, size: "max" }), (ops) =>
        run(ops, "slab", "FZPU"),
      ),
      { numRuns: 10 },
    );
  });

  it("over two nodes that are buffers of their own (SLUB, SLAB and SLOB)", () => {
    for (const slab of ["slub", "slab", "slob"] as const) {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 50, maxLength: 150, size: "max" }), (ops) =>
          run(ops, slab, "", true),
        ),
        { numRuns: 12 },
      );
    }
  });

  it("with SLOB", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 200, size: "max" }), (ops) =>
        run(ops, "slob", ""),
      ),
      { numRuns: 25 },
    );
  });
});
