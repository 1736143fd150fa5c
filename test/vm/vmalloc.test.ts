/*
 * vmalloc, vzalloc, vfree, vmap, vunmap and kvmalloc: exact scenarios after Linux's
 * lib/test_vmalloc.c and the KASAN vmalloc tests (guard pages, use after free, page-granular
 * and scattered), the fragmentation case vmalloc exists for, and the page tables.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  __GFP_NOWARN,
  GFP_ATOMIC,
  GFP_KERNEL,
  Kmem,
  KmemError,
  type KmemErrorCode,
} from "../../src/index.js";

const MiB = 1 << 20;

function throwsCode(fn: () => unknown, code: KmemErrorCode, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KmemError, `expected KmemError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  });
}

/** Takes every free page as order 0, then frees every other one: no free block of order 1. */
function fragment(mm: Kmem): number[] {
  const held: number[] = [];
  for (;;) {
    const a = mm.allocPages(0, GFP_ATOMIC | __GFP_NOWARN);
    if (a === 0) break;
    held.push(a);
  }
  held.sort((a, b) => a - b);
  const kept: number[] = [];
  for (let i = 0; i < held.length; i++) {
    if (i % 2 === 0) mm.freePages(held[i] as number, 0);
    else kept.push(held[i] as number);
  }
  mm.drainPages();
  return kept;
}

describe("the vmalloc space", () => {
  it("lies above physical memory, after Linux's 32-bit hole, with room for two pages per page", () => {
    const mm = new Kmem({ memory: 16 * MiB });
    // (16 MiB + 8 MiB) & ~(8 MiB - 1)
    assert.equal(mm.vmallocStart, 24 * MiB);
    assert.equal(mm.vmallocEnd - mm.vmallocStart, 32 * MiB);
    assert.ok(mm.isVmallocAddr(mm.vmallocStart));
    assert.ok(!mm.isVmallocAddr(mm.vmallocEnd));
    assert.ok(!mm.isVmallocAddr(16 * MiB - 1));
    const a = mm.vmalloc(100);
    assert.ok(a >= mm.vmallocStart && a < mm.vmallocEnd);
    assert.equal(a % mm.pageSize, 0);
    assert.equal(new Kmem({ memory: 20 * MiB }).vmallocStart, 24 * MiB);
  });

  it("takes three levels of tables with 1 KiB pages over a large memory", () => {
    const mm = new Kmem({ memory: 64 * MiB, pageSize: 1024 });
    // 2 x 65536 pages of 1 KiB: 131072 > 256 x 256 entries, so pgd -> pmd -> pte.
    const a = mm.vmalloc(300 * 1024);
    assert.notEqual(a, 0);
    assert.equal(mm.stats().pageTablePages, 4); // pgd, one pmd, two pte tables
    for (let off = 0; off < 300 * 1024; off += 1024) mm.setUint32(a + off, off);
    for (let off = 0; off < 300 * 1024; off += 1024) assert.equal(mm.getUint32(a + off), off);
    mm.verify();
    mm.vfree(a);
    assert.equal(mm.stats().pageTablePages, 1, "emptied tables are freed; the pgd stays");
    mm.verify();
  });

  it("stays below 4 GiB when physical memory is large (addresses are 32-bit)", () => {
    const mm = new Kmem({ memory: 3 * 2 ** 30 });
    assert.equal(mm.vmallocStart, 3 * 2 ** 30 + 8 * MiB);
    assert.equal(mm.vmallocEnd, 2 ** 32, "the space ends where 32 bits do");
    const a = mm.vmalloc(16 * MiB);
    assert.ok(a >= mm.vmallocStart && a + 16 * MiB < mm.vmallocEnd);
    mm.setUint32(a + 16 * MiB - 4, 0xdeadbeef);
    assert.equal(mm.getUint32(a + 16 * MiB - 4), 0xdeadbeef);
    mm.vfree(a);
    mm.verify();
  });

  it("is empty when physical memory reaches 4 GiB: vmalloc gives 0, kvmalloc uses kmalloc", () => {
    const mm = new Kmem({ nodes: [2 ** 31, 2 ** 31] });
    assert.equal(mm.vmallocStart, 2 ** 32);
    assert.equal(mm.vmallocEnd, 2 ** 32);
    assert.equal(mm.vmalloc(4096), 0);
    const kv = mm.kvmalloc(MiB);
    assert.ok(kv > 0 && kv < 2 ** 32);
    mm.kvfree(kv);
    mm.verify();
  });
});

describe("vmalloc and vfree", () => {
  it("maps page-granular areas whose bytes read back, and gives every page back", () => {
    const mm = new Kmem({ memory: 4 * MiB, minFreeBytes: 0 });
    mm.vfree(mm.vmalloc(1)); // the descriptor, pgd and first record stay
    mm.drainPages();
    const before = mm.stats();
    const a = mm.vmalloc(3 * 4096 + 5);
    assert.equal(mm.stats().vmallocPages, 4, "vmalloc(PAGE_SIZE * 3 + 5) takes 4 pages");
    const data = new Uint8Array(3 * 4096 + 5).map((_, i) => (i * 7) & 0xff);
    mm.write(a, data);
    assert.deepEqual(mm.read(a, data.length), data);
    for (let p = 0; p < 4; p++) {
      const phys = mm.virtToPhys(a + p * 4096 + 2);
      assert.ok(!mm.isVmallocAddr(phys) && phys % 4096 === 2);
      assert.equal(mm.memory[phys], data[p * 4096 + 2]);
    }
    mm.vfree(a);
    mm.drainPages();
    const after = mm.stats();
    assert.equal(after.freePages, before.freePages);
    assert.equal(after.vmallocPages, 0);
    assert.equal(after.pageTablePages, before.pageTablePages);
    mm.verify();
  });

  it("vmalloc(0) and vfree(0) do nothing; a size beyond memory returns 0 with a warning", () => {
    const lines: string[] = [];
    const mm = new Kmem({ memory: 4 * MiB, log: (l) => lines.push(l) });
    assert.equal(mm.vmalloc(0), 0);
    mm.vfree(0);
    assert.equal(mm.vmalloc(8 * MiB), 0);
    assert.equal(mm.vmalloc(2 ** 40), 0);
    assert.match(
      lines[0] ?? "",
      /^kmem: vmalloc error: size 8388608, exceeds total pages, mode:0xcc0\(GFP_KERNEL\)$/,
    );
    assert.equal(lines.length, 2);
    assert.equal(mm.vmalloc(8 * MiB, GFP_KERNEL | __GFP_NOWARN), 0);
    assert.equal(lines.length, 2, "__GFP_NOWARN silences it");
    assert.equal(mm.stats().events.vmalloc_fail, 3);
    mm.verify();
  });

  it("vzalloc zeroes pages that held data", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const a = mm.vmalloc(8 * 4096);
    mm.write(a, new Uint8Array(8 * 4096).fill(0x9e));
    mm.vfree(a);
    const z = mm.vzalloc(8 * 4096);
    assert.ok(mm.read(z, 8 * 4096).every((b) => b === 0));
  });

  it("puts an unmapped guard page after every area (test_vmalloc, KASAN vmalloc_oob)", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const a = mm.vmalloc(3 * 4096);
    const b = mm.vmalloc(3 * 4096);
    assert.equal(b - a, 4 * 4096, "back-to-back areas are a guard page apart");
    assert.equal(mm.getUint8(a + 3 * 4096 - 1), 0);
    throwsCode(() => mm.getUint8(a + 3 * 4096), "FAULT", /guard page of the vmalloc area at 0x/);
    throwsCode(() => mm.setUint32(a + 3 * 4096 - 2, 1), "FAULT", /guard page/);
    throwsCode(() => mm.virtToPhys(a + 3 * 4096), "FAULT");
    // A write that runs into the guard page writes nothing at all.
    const before = mm.read(a, 3 * 4096);
    throwsCode(() => mm.write(a + 4096, new Uint8Array(2 * 4096 + 1).fill(1)), "FAULT");
    assert.deepEqual(mm.read(a, 3 * 4096), before);
    mm.verify();
  });

  it("faults on use after vfree, even through a cached translation", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const a = mm.vmalloc(2 * 4096);
    mm.setUint32(a + 8, 42);
    assert.equal(mm.getUint32(a + 8), 42); // the translation is cached now
    mm.vfree(a);
    throwsCode(() => mm.getUint32(a + 8), "FAULT", /free vmalloc space/);
    throwsCode(() => mm.read(a, 4), "FAULT");
    throwsCode(() => mm.setUint8(a, 1), "FAULT");
    throwsCode(() => mm.virtToPhys(a), "FAULT");
  });

  it("succeeds where memory is too fragmented for any contiguous block of that size", () => {
    const mm = new Kmem({ memory: 4 * MiB, minFreeBytes: 0 });
    mm.vfree(mm.vmalloc(1));
    fragment(mm);
    const free = mm.stats().freePages;
    assert.ok(free > 300, `${free} pages free`);
    assert.deepEqual(mm.stats().freeByOrder.slice(1), new Array(mm.maxOrder - 1).fill(0));
    assert.equal(mm.allocPages(8, GFP_ATOMIC | __GFP_NOWARN), 0, "no 1 MiB block");
    const a = mm.vmalloc(MiB);
    assert.notEqual(a, 0, "vmalloc does not need one");
    const data = new Uint8Array(MiB).map((_, i) => i % 251);
    mm.write(a, data);
    assert.deepEqual(mm.read(a, MiB), data);
    let adjacent = 0;
    for (let p = 1; p < 256; p++) {
      if (mm.virtToPhys(a + p * 4096) === mm.virtToPhys(a + (p - 1) * 4096) + 4096) adjacent++;
    }
    assert.equal(adjacent, 0, "physically scattered");
    mm.verify();
    mm.vfree(a);
    mm.verify();
  });

  it("places by best fit and coalesces freed neighbours", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const p = 4096;
    const a = mm.vmalloc(4 * p); // 5 pages with its guard
    const b = mm.vmalloc(1 * p); // 2
    const c = mm.vmalloc(2 * p); // 3
    const d = mm.vmalloc(1 * p);
    mm.vfree(a); // hole of 5
    mm.vfree(c); // hole of 3
    assert.equal(mm.vmalloc(2 * p), c, "the 3-page hole fits exactly");
    assert.equal(mm.vmalloc(1 * p), a, "then the smallest hole that holds 2 pages, at its low end");
    mm.vfree(b);
    mm.vfree(a);
    mm.vfree(c);
    mm.vfree(d);
    // All free again as one range: the whole space is one allocation away.
    const space = mm.vmallocEnd - mm.vmallocStart;
    assert.equal(mm.stats().vmallocPages, 0);
    mm.verify();
    const big = mm.vmap(new Array(space / p - 1).fill(mm.allocPages(0)));
    assert.equal(big, mm.vmallocStart, "a vmap of every page but the guard fits at the start");
    mm.vunmap(big);
    mm.verify();
  });

  it("records the caller's site with owner tracking (debug U)", () => {
    const mm = new Kmem({ memory: 4 * MiB, debug: "U" });
    mm.vmalloc(4096);
    assert.match(
      mm.report("vmallocinfo"),
      /^0x[0-9a-f]{8}-0x[0-9a-f]{8} {4}8192 \S*\/vmalloc\.test\.js:\d+:\d+ pages=1 vmalloc N0=1$/m,
    );
  });
});

describe("vmap and vunmap", () => {
  it("maps the given pages, in the given order, and leaves them to the caller", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const block = mm.allocPages(2); // pages of one block may be mapped one by one
    const pages = [mm.allocPages(0), block + 3 * 4096, block, mm.allocPages(0)];
    mm.memory.fill(0x11, pages[1] as number, (pages[1] as number) + 4096);
    const v = mm.vmap(pages);
    assert.notEqual(v, 0);
    pages.forEach((page, i) => assert.equal(mm.virtToPhys(v + i * 4096 + 5), page + 5));
    assert.equal(mm.getUint8(v + 4096), 0x11);
    mm.setUint32(v + 2 * 4096 - 2, 0xa1b2c3d4); // straddles pages[1] and pages[2]
    assert.equal(mm.getUint32(v + 2 * 4096 - 2), 0xa1b2c3d4);
    assert.equal(mm.memory[(pages[2] as number) + 1], 0xa1);
    throwsCode(() => mm.getUint8(v + 4 * 4096), "FAULT", /guard page of the vmap area/);
    assert.equal(mm.stats().vmallocPages, 0, "vmap pages are not vmalloc's");
    mm.verify();
    mm.vunmap(v);
    throwsCode(() => mm.getUint8(v), "FAULT");
    assert.equal(mm.memory[(pages[2] as number) + 1], 0xa1, "the pages and their bytes stay");
    mm.freePages(block, 2);
    mm.freePages(pages[0] as number, 0);
    mm.freePages(pages[3] as number, 0);
    mm.verify();
  });

  it("maps nothing for no pages, and refuses free, reserved or misaligned pages", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    assert.equal(mm.vmap([]), 0);
    const page = mm.allocPages(0);
    const free = mm.allocPages(0);
    mm.freePages(free, 0);
    assert.throws(() => mm.vmap([page, free]), /pages\[1\] \(0x[0-9a-f]+\) is a free page/);
    assert.throws(() => mm.vmap([page + 1]), RangeError);
    assert.throws(
      () => mm.vmap([0]),
      /pages\[0\] must be a page-aligned address of managed memory/,
    );
    assert.throws(() => mm.vmap([4 * MiB]), RangeError);
    assert.throws(() => mm.vmap([page, "x" as unknown as number]), TypeError);
    assert.throws(() => mm.vmap("pages" as unknown as number[]), /pages must be an array/);
    assert.equal(mm.report("vmallocinfo"), "", "nothing was mapped");
    mm.verify();
  });

  it("accepts a typed array of page addresses", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const v = mm.vmap(new Float64Array([mm.allocPages(0), mm.allocPages(0)]));
    mm.setFloat64(v + 4096 - 4, 1.5);
    assert.equal(mm.getFloat64(v + 4096 - 4), 1.5);
    mm.vunmap(v);
  });
});

describe("kvmalloc and kvfree", () => {
  it("uses kmalloc while it can, vmalloc when memory is fragmented", () => {
    const mm = new Kmem({ memory: 4 * MiB, minFreeBytes: 0 });
    const small = mm.kvmalloc(100);
    assert.ok(!mm.isVmallocAddr(small) && mm.ksize(small) === 112);
    const big = mm.kvmalloc(64 * 1024);
    assert.ok(!mm.isVmallocAddr(big), "a contiguous block is still to be had");
    mm.kvfree(small);
    mm.kvfree(big);
    mm.vfree(mm.vmalloc(1));
    mm.kfree(mm.kmalloc(100));
    fragment(mm);
    const v = mm.kvmalloc(64 * 1024);
    assert.ok(mm.isVmallocAddr(v), "no order-4 block: vmalloc");
    assert.match(mm.report("vmallocinfo"), / kvmalloc pages=16 vmalloc/);
    assert.equal(mm.kvmalloc(64 * 1024, GFP_ATOMIC), 0, "not GFP_KERNEL-compatible: kmalloc only");
    const tiny = mm.kvmalloc(100, GFP_ATOMIC);
    assert.ok(tiny !== 0 && !mm.isVmallocAddr(tiny), "a page or less: kmalloc");
    const z = mm.kvzalloc(3 * 4096);
    assert.ok(mm.isVmallocAddr(z) && mm.read(z, 3 * 4096).every((x) => x === 0));
    mm.kvfree(v);
    mm.kvfree(z);
    mm.kvfree(tiny);
    mm.kvfree(0);
    mm.verify();
  });

  it("does not warn about the kmalloc attempt it falls back from", () => {
    const lines: string[] = [];
    const mm = new Kmem({ memory: 4 * MiB, minFreeBytes: 0, log: (l) => lines.push(l) });
    mm.vfree(mm.vmalloc(1));
    fragment(mm);
    assert.ok(mm.isVmallocAddr(mm.kvmalloc(32 * 1024)));
    assert.deepEqual(lines, []);
  });
});
