/*
 * Mach's zone allocator: the model run (kalloc), faults, misuse, zones of their own, and what
 * defines it: zone garbage collection frees exactly the pages whose elements are all free,
 * when kmem's reclaim asks.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, type MachZoneAllocator } from "../../src/index.js";
import { assertMisuse, expectArgumentError, expectKmemError } from "../helpers.js";
import { modelProperty, runUnderFaults } from "./harness.js";

const make = (mm: Kmem): MachZoneAllocator | null => mm.createAllocator("mach-zone");

function fresh(zoneCheck = false): { mm: Kmem; a: MachZoneAllocator } {
  const mm = new Kmem({ memory: 4 << 20, minFreeBytes: 0 });
  const a = mm.createAllocator("mach-zone", { zoneCheck });
  assert.ok(a !== null);
  return { mm, a };
}

describe("mach-zone", () => {
  it("model: random kalloc/kfree/realloc keep contents, never overlap, verify() clean", () => {
    modelProperty(make);
  });

  it("under page-allocator faults: failures return 0 and nothing live is lost", () => {
    assert.ok(runUnderFaults(make, 5) > 0);
  });

  it("kalloc serves each size from the zone of its power of two", () => {
    const { a } = fresh();
    const p = a.alloc(100);
    assert.equal(a.usableSize(p), 128);
    const z = a.zoneNamed("kalloc.128");
    assert.equal(a.zoneInfo(z).count, 1);
    assert.equal(a.zoneInfo(z).free, 31, "one page carved into 32 elements");
    const big = a.alloc(3 * 4096);
    assert.equal(a.usableSize(big), 4 * 4096, "beyond two pages: whole pages");
    a.free(p);
    a.free(big);
    assert.deepEqual(
      a.stats().zones.map((x) => x.name),
      [
        "kalloc.16",
        "kalloc.32",
        "kalloc.64",
        "kalloc.128",
        "kalloc.256",
        "kalloc.512",
        "kalloc.1024",
        "kalloc.2048",
        "kalloc.4096",
        "kalloc.8192",
      ],
    );
    a.verify();
  });

  it("zone_gc frees exactly the pages whose elements are all free", () => {
    const { mm, a } = fresh();
    const z = a.zinit(256, "vm_objects", { allocSize: 4096 });
    const els = Array.from({ length: 8 * 16 }, () => a.zalloc(z)); // 8 pages of 16
    const pageOf = (p: number) => Math.floor(p / 4096);
    const pages = [...new Set(els.map(pageOf))];
    assert.equal(pages.length, 8);
    // Pages 0, 2 and 5 all free; one element free on pages 1 and 3; the rest allocated.
    const freedPages = new Set([pages[0], pages[2], pages[5]]);
    const partial = new Set([pages[1], pages[3]]);
    const kept: number[] = [];
    const seenPartial = new Set<number>();
    for (const p of els) {
      const pg = pageOf(p);
      if (freedPages.has(pg)) a.zfree(z, p);
      else if (partial.has(pg) && !seenPartial.has(pg)) {
        seenPartial.add(pg);
        a.zfree(z, p);
      } else {
        mm.memory.fill(0xa5, p, p + 256);
        kept.push(p);
      }
    }
    const before = mm.stats().freePages;
    assert.equal(a.zoneGc(), 3);
    assert.equal(mm.stats().freePages, before + 3);
    const info = a.zoneInfo(z);
    assert.deepEqual([info.pages, info.count, info.free, info.gcPages], [5, kept.length, 2, 3]);
    a.verify();
    // The freed pages are no longer the zone's; the kept elements are untouched.
    for (const pg of freedPages) {
      assertMisuse(mm, "INVALID_FREE", () => a.zfree(z, (pg as number) * 4096), true);
    }
    for (const p of kept) assert.ok(mm.memory.subarray(p, p + 256).every((x) => x === 0xa5));
    // The two free elements of the partial pages stay on the free list, in order.
    const again = [a.zalloc(z), a.zalloc(z)].map(pageOf).sort();
    assert.deepEqual(again, [...partial].sort());
    for (const p of kept) a.zfree(z, p);
    a.verify();
  });

  it("skips a zone whose free space is under 2 x allocSize or a tenth of its size", () => {
    const { a } = fresh();
    const z = a.zinit(256, "small", { allocSize: 4096 });
    const els = Array.from({ length: 64 }, () => a.zalloc(z));
    for (const p of els.slice(0, 16)) a.zfree(z, p); // 4 KiB free: one page's worth
    assert.equal(a.zoneGc(), 0);
    assert.equal(a.zoneInfo(z).gcFreed, 0);
    for (const p of els.slice(16, 48)) a.zfree(z, p); // 12 KiB free now: collected
    assert.equal(a.zoneGc(), 3);
    a.verify();
  });

  it("leaves a zone that is not collectable alone", () => {
    const { a } = fresh();
    const z = a.zinit(512, "wired", { collectable: false });
    const els = Array.from({ length: 64 }, () => a.zalloc(z));
    for (const p of els) a.zfree(z, p);
    assert.equal(a.zoneGc(), 0);
    assert.equal(a.zoneInfo(z).pages, 8);
  });

  it("runs as a shrinker: kmem's reclaim gets the zone pages back under pressure", () => {
    const mm = new Kmem({ memory: 2 << 20, minFreeBytes: 0 });
    const a = make(mm);
    assert.ok(a !== null);
    const els: number[] = [];
    for (;;) {
      const p = a.alloc(1000);
      if (p === 0) break;
      els.push(p);
    }
    for (const p of els) a.free(p); // the zone keeps every page
    const zonePages = a.zoneInfo(a.zoneNamed("kalloc.1024")).pages;
    assert.ok(zonePages > 300);
    const pages: number[] = [];
    for (;;) {
      const p = mm.allocPages(0);
      if (p === 0) break;
      pages.push(p);
    }
    assert.ok(pages.length >= zonePages, `got ${pages.length} pages, the zone held ${zonePages}`);
    assert.ok(a.stats().gc.runs > 0);
    assert.equal(a.zoneInfo(a.zoneNamed("kalloc.1024")).pages, 0);
    a.verify();
    for (const p of pages) mm.freePages(p, 0);
    a.unregisterShrinker();
    mm.verify();
  });

  it("an exhaustible zone fails at its max; another grows past it by half", () => {
    const { a } = fresh();
    const ex = a.zinit(1024, "fixed", { max: 8192, exhaustible: true });
    assert.equal(Array.from({ length: 9 }, () => a.zalloc(ex)).filter((p) => p === 0).length, 1);
    const grow = a.zinit(1024, "grows", { max: 8192 });
    assert.ok(Array.from({ length: 9 }, () => a.zalloc(grow)).every((p) => p !== 0));
    assert.deepEqual([a.zoneInfo(grow).overflows, a.zoneInfo(grow).maxSize], [1, 12288]);
    a.verify();
  });

  it("zones of elements larger than a page take blocks of pages", () => {
    const { a } = fresh();
    const z = a.zinit(6000, "bufs");
    const ps = [a.zalloc(z), a.zalloc(z), a.zalloc(z)];
    assert.equal(a.zoneInfo(z).pages, 6, "an 8 KiB block holds one 6000-byte element");
    for (const p of ps) a.zfree(z, p);
    assert.equal(a.zoneGc(), 6, "whole-page elements: always scanned");
    a.verify();
  });
});

describe("mach-zone misuse", () => {
  it("refuses what is not an element, and another zone's element, changing nothing", () => {
    const { mm, a } = fresh();
    const z1 = a.zinit(100, "one");
    const z2 = a.zinit(100, "two");
    const p = a.zalloc(z1);
    const q = a.alloc(64);
    const big = a.alloc(20000);
    for (const bad of [p + 8, p + 100, q + 32, big + 4096, mm.allocPages(0), 0]) {
      assertMisuse(mm, "INVALID_FREE", () => a.free(bad), true);
    }
    assertMisuse(mm, "WRONG_CACHE", () => a.zfree(z2, p), true);
    assertMisuse(mm, "WRONG_CACHE", () => a.zfree(z1, q), true);
    assertMisuse(mm, "INVALID_FREE", () => a.realloc(p, 10), true);
    expectArgumentError(RangeError, /zone must be an integer in 0\.\.11/, () => a.zalloc(12));
    a.verify();
  });

  it("finds a double free with zoneCheck (Mach's zone_check); verify() finds it otherwise", () => {
    const checked = fresh(true);
    const p = checked.a.alloc(64);
    checked.a.free(p);
    assertMisuse(checked.mm, "DOUBLE_FREE", () => checked.a.free(p), true);
    const { a } = fresh();
    const q = a.alloc(64);
    a.free(q);
    a.free(q); // undetected: the element is on the list twice
    expectKmemError("CORRUPTION", () => a.verify());
  });

  it("rejects malformed arguments", () => {
    const { a } = fresh();
    expectArgumentError(RangeError, /size must be an integer/, () => a.zinit(0, "z"));
    expectArgumentError(TypeError, /unknown zone option "maximum"/, () =>
      a.zinit(8, "z", { maximum: 1 } as never),
    );
    expectArgumentError(TypeError, /zoneCheck must be a boolean/, () =>
      new Kmem({ memory: 1 << 20 }).createAllocator("mach-zone", { zoneCheck: 1 as never }),
    );
  });
});
