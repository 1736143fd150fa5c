/*
 * The Dynix hierarchical allocator: the model run, faults, misuse, and what defines it
 * (per-cpu main and aux lists of `target` blocks, whole lists through the global layer, the
 * coalesce layer giving a page back when all its blocks are there).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type DynixAllocator, type DynixOptions, Kmem } from "../../src/index.js";
import { assertMisuse, expectArgumentError, expectKmemError } from "../helpers.js";
import { modelProperty, runUnderFaults } from "./harness.js";

const make = (mm: Kmem): DynixAllocator | null => mm.createAllocator("dynix");

function fresh(options?: DynixOptions): { mm: Kmem; a: DynixAllocator } {
  const mm = new Kmem({ memory: 4 << 20, minFreeBytes: 0 });
  const a = mm.createAllocator("dynix", options);
  assert.ok(a !== null);
  return { mm, a };
}

/** [per-cpu blocks, global lists, coalesce-layer blocks, pages] of the 64-byte size. */
function layers(a: DynixAllocator): [number, number, number, number] {
  const c = a.stats().classes.find((x) => x.size === 64);
  return c === undefined ? [0, 0, 0, 0] : [c.perCpu, c.globalLists, c.coalesce, c.pages];
}

describe("dynix", () => {
  it("model: random alloc/free/realloc keep contents, never overlap, verify() clean", () => {
    modelProperty(make);
  });

  it("model with two cpus taking turns and lists of 3", () => {
    modelProperty((mm) => {
      const a = mm.createAllocator("dynix", { cpus: 2, target: 3, globalLists: 1 });
      if (a === null) return null;
      // Every call flips the cpu: blocks freed on the other cpu travel through the layers.
      const alloc = a.alloc.bind(a);
      const free = a.free.bind(a);
      a.alloc = (size: number) => {
        a.setCpu(1 - a.cpu);
        return alloc(size);
      };
      a.free = (addr: number) => {
        a.setCpu(1 - a.cpu);
        free(addr);
      };
      return a;
    }, 30);
  });

  it("under page-allocator faults: failures return 0 and nothing live is lost", () => {
    assert.ok(runUnderFaults(make, 9) > 0);
  });

  it("moves blocks between the layers in whole lists of `target`", () => {
    const { mm, a } = fresh({ cpus: 2, target: 4, globalLists: 1 });
    const free0 = mm.stats().freePages;
    a.setCpu(0);
    const first = a.alloc(64);
    // A list of 4 built from a fresh page of 64 blocks; one handed out.
    assert.deepEqual(layers(a), [3, 0, 60, 1]);
    const blocks = [first, ...Array.from({ length: 11 }, () => a.alloc(64))];
    assert.deepEqual(layers(a), [0, 0, 52, 1]);
    // Freed on cpu 1: main fills to 4, becomes aux; the next full main sends aux global.
    a.setCpu(1);
    for (const b of blocks) a.free(b);
    assert.deepEqual(layers(a), [8, 1, 52, 1]);
    // cpu 0 takes that whole list back in one step.
    a.setCpu(0);
    const again = Array.from({ length: 4 }, () => a.alloc(64));
    assert.equal(a.stats().classes[0]?.fromGlobal, 1);
    assert.deepEqual(layers(a), [8, 0, 52, 1]);
    // Past globalLists, a full list goes to the coalesce layer, block by block.
    a.setCpu(1);
    const more = Array.from({ length: 8 }, () => {
      a.setCpu(0);
      const p = a.alloc(64);
      a.setCpu(1);
      return p;
    });
    for (const b of [...again, ...more]) a.free(b);
    const c = a.stats().classes[0];
    assert.ok(c !== undefined && c.toCoalesce >= 1, "a list was broken up");
    a.verify();
    // drain(): every block back to its page; the page, all free, goes back (the page of page
    // table that described it stays as the table's spare).
    assert.equal(a.drain(), 1);
    assert.deepEqual(layers(a), [0, 0, 0, 0]);
    assert.equal(mm.stats().freePages, free0 - 1);
    a.verify();
  });

  it("gives a page back as soon as the coalesce layer has all of its blocks", () => {
    const { mm, a } = fresh({ target: 2, globalLists: 0 });
    const before = mm.stats().freePages;
    const ps = Array.from({ length: 16 }, () => a.alloc(256)); // exactly one page
    assert.equal(a.stats().classes[0]?.pages, 1);
    for (const p of ps) a.free(p);
    // The cpu keeps main and aux (4 blocks); the rest went down and stay with their page.
    assert.deepEqual([a.stats().classes[0]?.perCpu, a.stats().classes[0]?.coalesce], [4, 12]);
    a.drain();
    assert.equal(mm.stats().freePages, before - 1, "all back but the table's spare page");
    a.verify();
  });

  it("serves more than a page in whole pages", () => {
    const { mm, a } = fresh();
    const before = mm.stats().freePages;
    const p = a.alloc(3 * 4096);
    assert.equal(a.usableSize(p), 4 * 4096);
    a.free(p);
    assert.equal(mm.stats().freePages, before - 1, "all back but the table's spare page");
  });
});

describe("dynix misuse", () => {
  it("refuses an address that is not a block or pages it served, changing nothing", () => {
    const { mm, a } = fresh();
    const p = a.alloc(64);
    const big = a.alloc(10000);
    for (const bad of [p + 8, p + 1, big + 4096, mm.allocPages(0), 0, mm.memory.length]) {
      assertMisuse(mm, "INVALID_FREE", () => a.free(bad), true);
    }
    a.free(big);
    assertMisuse(mm, "INVALID_FREE", () => a.free(big), true);
    a.verify();
  });

  it("cannot see a double free on the fast path; verify() finds the loop", () => {
    const { a } = fresh();
    const p = a.alloc(64);
    a.free(p);
    a.free(p);
    expectKmemError("CORRUPTION", () => a.verify());
  });

  it("rejects malformed arguments", () => {
    const { a } = fresh();
    expectArgumentError(RangeError, /cpu must be an integer in 0\.\.0/, () => a.setCpu(1));
    expectArgumentError(RangeError, /target must be an integer/, () =>
      new Kmem({ memory: 1 << 20 }).createAllocator("dynix", { target: 0 }),
    );
  });
});
