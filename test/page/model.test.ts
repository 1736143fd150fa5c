/*
 * Model-based property tests of the page allocator: random sequences of allocations, frees
 * and drains against a reference map of live blocks. After every step: no two live blocks
 * overlap, each is aligned to its size and inside managed memory, the contents written are
 * intact, and verify() passes. A failed allocation is checked against the buddy lists: with
 * no reserve, it may fail only when no free block of that order or larger exists.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GFP_ATOMIC, GFP_KERNEL, GFP_NOWAIT, Kmem, KmemError } from "../../src/index.js";

type Op =
  | { kind: "alloc"; order: number; gfp: number }
  | { kind: "free"; pick: number }
  | { kind: "drain" };

const GFPS = [GFP_KERNEL, GFP_ATOMIC, GFP_NOWAIT];

function opArb(maxOrder: number): fc.Arbitrary<Op> {
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant("alloc" as const),
        // Skewed to small orders, as real traffic is.
        order: fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: 0, max: 1 }) },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: maxOrder - 1 }) },
        ),
        gfp: fc.constantFrom(...GFPS),
      }),
    },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("drain" as const) }) },
  );
}

interface Live {
  addr: number;
  order: number;
  stamp: number;
}

/**
 * Runs `ops` against `mm` beside a reference of which pages are whose. With `checked` (an
 * instance made with KASAN) every live block is also touched at both ends through the
 * checked accessors (no report may come), and a freed block's first byte must report.
 */
function runModel(mm: Kmem, ops: Op[], exactFailures: boolean, checked = false): void {
  const pageSize = mm.pageSize;
  const firstManaged = (mm.totalPages - mm.managedPages) * pageSize;
  const owner = new Int32Array(mm.totalPages).fill(-1);
  const live: Live[] = [];
  let stamp = 1;
  const initial = mm.stats().freeByOrder;
  const initialFree = mm.stats().freePages;

  for (const op of ops) {
    if (op.kind === "alloc") {
      const addr = mm.allocPages(op.order, op.gfp);
      if (addr === 0) {
        if (exactFailures) {
          const free = mm.stats().freeByOrder;
          for (let o = op.order; o < free.length; o++) {
            assert.equal(free[o], 0, `order-${op.order} failed with a free order-${o} block`);
          }
        }
      } else {
        const size = pageSize << op.order;
        assert.equal(addr % size, 0, "aligned to its size");
        assert.ok(addr >= firstManaged && addr + size <= mm.memory.length, "inside managed memory");
        const first = addr / pageSize;
        for (let p = first; p < first + (1 << op.order); p++) {
          assert.equal(owner[p], -1, `page ${p} handed out twice`);
          owner[p] = stamp;
        }
        mm.memory.fill(stamp & 0xff, addr, addr + size);
        if (checked) {
          mm.setUint8(addr, stamp & 0xff);
          assert.equal(mm.getUint8(addr + size - 1), stamp & 0xff);
        }
        live.push({ addr, order: op.order, stamp });
        stamp++;
      }
    } else if (op.kind === "free") {
      if (live.length === 0) continue;
      const i = op.pick % live.length;
      const block = live[i] as Live;
      live[i] = live[live.length - 1] as Live;
      live.pop();
      const size = pageSize << block.order;
      const bytes = mm.memory.subarray(block.addr, block.addr + size);
      for (let b = 0; b < size; b += 509) {
        assert.equal(bytes[b], block.stamp & 0xff, "contents intact");
      }
      assert.equal(bytes[size - 1], block.stamp & 0xff);
      mm.freePages(block.addr, block.order);
      if (checked) {
        assert.throws(
          () => mm.getUint8(block.addr),
          (err: unknown) => err instanceof KmemError && err.code === "KASAN",
          "a freed block reports",
        );
      }
      const first = block.addr / pageSize;
      for (let p = first; p < first + (1 << block.order); p++) owner[p] = -1;
    } else {
      mm.drainPages();
    }
    mm.verify();
    const s = mm.stats();
    const livePages = live.reduce((n, b) => n + (1 << b.order), 0);
    assert.equal(s.freePages + livePages, initialFree, "every page is free or live");
  }

  for (const block of live) mm.freePages(block.addr, block.order);
  mm.drainPages();
  mm.verify();
  assert.deepEqual(mm.stats().freeByOrder, initial, "all freed: the initial blocks are back");
}

describe("page allocator model", () => {
  it("without a reserve, fails only when no block is large enough", () => {
    fc.assert(
      fc.property(fc.array(opArb(6), { minLength: 50, maxLength: 300, size: "max" }), (ops) => {
        const mm = new Kmem({ memory: 512 << 10, maxOrder: 6, minFreeBytes: 0 });
        runModel(mm, ops, true);
      }),
      { numRuns: 150 },
    );
  });

  it("with Linux's default watermarks and mixed GFP flags, keeps every invariant", () => {
    fc.assert(
      fc.property(
        fc.array(opArb(11), { minLength: 50, maxLength: 300, size: "max" }),
        fc.constantFrom(1024, 4096, 16384),
        (ops, pageSize) => {
          const mm = new Kmem({ memory: 4 << 20, pageSize });
          runModel(mm, ops, false);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("under KASAN: no report on live blocks, a report on every freed one", () => {
    fc.assert(
      fc.property(fc.array(opArb(6), { minLength: 50, maxLength: 200, size: "max" }), (ops) => {
        const mm = new Kmem({ memory: 512 << 10, maxOrder: 6, minFreeBytes: 0, kasan: true });
        runModel(mm, ops, false, true);
      }),
      { numRuns: 40 },
    );
  });

  it("survives long seeded churn near exhaustion", () => {
    fc.assert(
      fc.property(fc.array(opArb(8), { minLength: 1000, maxLength: 2000, size: "max" }), (ops) => {
        const mm = new Kmem({ memory: 256 << 10, maxOrder: 8, minFreeBytes: 0 });
        runModel(mm, ops, true);
      }),
      { numRuns: 10 },
    );
  });
});
