/* Exact scenarios of the buddy allocator: split, merge, alignment, zeroing, exhaustion. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { __GFP_ZERO, GFP_ATOMIC, GFP_KERNEL, Kmem, KmemError } from "../../src/index.js";
import { Frame, Pg, PgFlag } from "../../src/memory/index.js";
import type { BuddyAllocator } from "../../src/page/index.js";

const PAGE = 4096;

describe("buddy allocator", () => {
  it("splits the smallest block: one order-3 block gives free blocks at orders 2, 1, 0", () => {
    // 8 MiB with maxOrder 4: every free block is order 3 (8 pages) except a few at the start.
    const mm = new Kmem({ memory: 8 << 20, maxOrder: 4, minFreeBytes: 0 });
    // Take every block below order 3 first, so that only order-3 blocks are left.
    const small: Array<[number, number]> = [];
    for (let o = 0; o < 3; o++) {
      while ((mm.stats().freeByOrder[o] as number) > 0) small.push([mm.allocPages(o), o]);
    }
    mm.drainPages();
    const before = mm.stats().freeByOrder;
    assert.deepEqual(before.slice(0, 3), [0, 0, 0]);
    // Small memory: the per-cpu list refills one page at a time (pcpBatch 1).
    const one = mm.allocPages(0);
    assert.notEqual(one, 0);
    const after = mm.stats().freeByOrder;
    assert.deepEqual(after, [1, 1, 1, (before[3] as number) - 1]);
    mm.verify();
    mm.freePages(one, 0);
    mm.drainPages();
    assert.deepEqual(mm.stats().freeByOrder, before, "freeing merges back to the same blocks");
    for (const [a, o] of small) mm.freePages(a, o);
    mm.verify();
  });

  it("merges buddies: freeing both halves of an order-1 pair yields the order-2 block", () => {
    const mm = new Kmem({ memory: 4 << 20, maxOrder: 3, minFreeBytes: 0 });
    // Take the odd small blocks left at the start of memory: only order-2 blocks remain.
    for (let o = 0; o < 2; o++) {
      while ((mm.stats().freeByOrder[o] as number) > 0) mm.allocPages(o);
    }
    mm.drainPages();
    const before = mm.stats().freeByOrder;
    const a = mm.allocPages(1);
    const b = mm.allocPages(1);
    // Two order-1 blocks split from one order-2 block are buddies: a ^ b == 2 pages.
    assert.equal((a / PAGE) ^ (b / PAGE), 2);
    mm.freePages(a, 1);
    assert.equal(mm.stats().freeByOrder[1], (before[1] as number) + 1);
    mm.freePages(b, 1);
    assert.deepEqual(mm.stats().freeByOrder, before);
    mm.verify();
  });

  it("aligns every block to its own size and keeps it inside managed memory", () => {
    const mm = new Kmem({ memory: 16 << 20, minFreeBytes: 0 });
    const reserved = (mm.totalPages - mm.managedPages) * PAGE;
    for (let order = 0; order < mm.maxOrder; order++) {
      const addr = mm.allocPages(order);
      assert.notEqual(addr, 0);
      assert.equal(addr % (PAGE << order), 0, `order ${order} at ${addr}`);
      assert.ok(addr >= reserved && addr + (PAGE << order) <= mm.memory.length);
      mm.freePages(addr, order);
    }
    mm.verify();
  });

  it("never hands out frame 0 or the reserved region", () => {
    const mm = new Kmem({ memory: 1 << 20, minFreeBytes: 0 });
    const reserved = (mm.totalPages - mm.managedPages) * PAGE;
    const live: number[] = [];
    const free = mm.stats().freePages;
    for (;;) {
      const addr = mm.allocPages(0, GFP_ATOMIC);
      if (addr === 0) break;
      assert.ok(addr >= reserved);
      live.push(addr);
    }
    assert.equal(live.length, free);
    assert.equal(new Set(live).size, live.length);
    for (const addr of live) mm.freePages(addr, 0);
    mm.verify();
  });

  it("returns to the initial free block structure after exhaust-and-free-all", () => {
    const mm = new Kmem({ memory: 2 << 20, maxOrder: 6, minFreeBytes: 0 });
    const initial = mm.stats().freeByOrder;
    const live: Array<[number, number]> = [];
    for (let order = mm.maxOrder - 1; order >= 0; order--) {
      for (;;) {
        const addr = mm.allocPages(order);
        if (addr === 0) break;
        live.push([addr, order]);
      }
    }
    assert.equal(mm.stats().freePages, 0);
    // Free in a scrambled order.
    live.sort((x, y) => ((x[0] * 2654435761) % 1000) - ((y[0] * 2654435761) % 1000));
    for (const [addr, order] of live) mm.freePages(addr, order);
    mm.drainPages();
    assert.deepEqual(mm.stats().freeByOrder, initial);
    mm.verify();
  });

  it("zeroes with __GFP_ZERO and leaves contents alone without it", () => {
    const mm = new Kmem({ memory: 1 << 20, minFreeBytes: 0 });
    const addr = mm.allocPages(2);
    mm.memory.fill(0xab, addr, addr + 4 * PAGE);
    mm.freePages(addr, 2);
    const again = mm.allocPages(2);
    assert.equal(again, addr, "the same block comes back (LIFO free lists)");
    assert.equal(mm.memory[again + 100], 0xab);
    mm.freePages(again, 2);
    const zeroed = mm.allocPages(2, GFP_KERNEL | __GFP_ZERO);
    assert.ok(mm.memory.subarray(zeroed, zeroed + 4 * PAGE).every((b) => b === 0));
  });

  it("parks freed order-0 pages on the per-cpu list and drains them for a higher order", () => {
    // 64 pages: the per-cpu list can hold a good share of memory.
    const mm = new Kmem({ memory: 256 << 10, maxOrder: 6, minFreeBytes: 0 });
    const free = mm.stats().freePages;
    const pages: number[] = [];
    for (;;) {
      const addr = mm.allocPages(0);
      if (addr === 0) break;
      pages.push(addr);
    }
    for (const addr of pages) mm.freePages(addr, 0);
    const s = mm.stats();
    assert.ok(s.pcpPages > 0, "some freed pages wait on the per-cpu list");
    assert.equal(s.freePages, free);
    // The largest block needs the per-cpu pages merged back.
    const top = mm.stats().freeByOrder.length - 1;
    let order = top;
    while (order > 0 && 2 ** order > free) order--;
    const big = mm.allocPages(order);
    assert.notEqual(big, 0, `order ${order} must succeed once the per-cpu list is drained`);
    mm.verify();
  });

  it("drains its own per-cpu list for a higher order even without direct reclaim", () => {
    const mm = new Kmem({ memory: 256 << 10, maxOrder: 6, minFreeBytes: 0 });
    const pages: number[] = [];
    for (;;) {
      const addr = mm.allocPages(0, GFP_ATOMIC);
      if (addr === 0) break;
      pages.push(addr);
    }
    for (const addr of pages) mm.freePages(addr, 0);
    assert.ok(mm.stats().pcpPages > 0);
    assert.notEqual(mm.allocPages(4, GFP_ATOMIC), 0);
  });

  it("never lets a per-cpu list reach pcpHigh: a batch goes back first", () => {
    const mm = new Kmem({ memory: 64 << 20, minFreeBytes: 0 });
    const high = Math.max(Math.floor(mm.watermarks.low / 1), 4 * 3);
    const pages: number[] = [];
    for (let i = 0; i < 2 * high; i++) pages.push(mm.allocPages(0));
    for (const addr of pages) {
      mm.freePages(addr, 0);
      assert.ok(mm.stats().pcpPages < high, `${mm.stats().pcpPages} < ${high}`);
    }
    assert.ok((mm.stats().events.pcp_drain ?? 0) > 0);
  });

  it("reports sizes of large blocks without 32-bit overflow", () => {
    const lines: string[] = [];
    const mm = new Kmem({
      memory: 1 << 20,
      pageSize: 65536,
      maxOrder: 20,
      log: (l) => lines.push(l),
    });
    assert.equal(mm.allocPages(19), 0);
    assert.match(lines[1] as string, / 0\*33554432kB = \d+kB$/);
  });

  it("keeps buddies of different owners apart: adjacent allocated and free blocks do not merge", () => {
    const mm = new Kmem({ memory: 1 << 20, maxOrder: 4, minFreeBytes: 0 });
    const a = mm.allocPages(2);
    const b = mm.allocPages(2);
    mm.freePages(a, 2);
    mm.verify();
    const c = mm.allocPages(2);
    assert.equal(c, a);
    mm.freePages(b, 2);
    mm.freePages(c, 2);
    mm.verify();
  });

  it("trims a block: the kept pages as aligned pieces, the tail back as the blocks that tile it", () => {
    const mm = new Kmem({ memory: 8 << 20, minFreeBytes: 0 });
    const b = (mm as unknown as { buddy: BuddyAllocator }).buddy;
    const f = (mm as unknown as { phys: { frames: Int32Array } }).phys.frames;
    mm.drainPages();
    for (const pages of [1, 5, 7, 8, 11, 16]) {
      const free = mm.stats().buddyFreePages;
      const addr = mm.allocPages(4);
      const pfn = addr / PAGE;
      b.trimBlock(addr, 4, pages, PgFlag.HEAD | PgFlag.KMALLOC);
      mm.drainPages();
      assert.equal(mm.stats().buddyFreePages, free - pages, `${pages} pages kept`);
      // The kept pieces: pages' set bits from the top, each head marked with its order.
      const kept: number[] = [];
      for (let at = 0; at < pages;) {
        const i = (pfn + at) * Frame.WORDS;
        assert.equal(f[i + Pg.FLAGS], PgFlag.HEAD | PgFlag.KMALLOC);
        kept.push(f[i + Pg.ORDER] as number);
        at += 1 << (f[i + Pg.ORDER] as number);
      }
      const bits = [3, 2, 1, 0].filter((k) => (pages & (1 << k)) !== 0);
      assert.deepEqual(kept, pages === 16 ? [4] : bits);
      mm.verify();
      for (let at = 0, k = 0; at < pages; at += 1 << (kept[k] as number), k++) {
        f[(pfn + at) * Frame.WORDS + Pg.FLAGS] = PgFlag.HEAD;
        mm.freePages(addr + at * PAGE, kept[k] as number);
      }
      mm.drainPages();
      assert.equal(mm.stats().buddyFreePages, free, `${pages}: every page back`);
      mm.verify();
    }
  });

  it("refuses a trim of what is not an allocated block, or of a bad count, changing nothing", () => {
    const mm = new Kmem({ memory: 8 << 20, minFreeBytes: 0 });
    const b = (mm as unknown as { buddy: BuddyAllocator }).buddy;
    const addr = mm.allocPages(3);
    const free = mm.stats().buddyFreePages;
    const flags = PgFlag.HEAD | PgFlag.KMALLOC;
    assert.throws(() => b.trimBlock(addr, 2, 3, flags), KmemError, "wrong order");
    assert.throws(() => b.trimBlock(addr + PAGE, 3, 3, flags), KmemError, "inside the block");
    assert.throws(() => b.trimBlock(addr + 8 * PAGE, 3, 3, flags), KmemError, "a free block");
    assert.throws(() => b.trimBlock(addr, 3, 0, flags), RangeError);
    assert.throws(() => b.trimBlock(addr, 3, 9, flags), RangeError);
    assert.throws(() => b.trimBlock(addr, 3, 2.5, flags), RangeError);
    assert.throws(() => b.trimBlock(addr, 3, 3, PgFlag.BUDDY), RangeError);
    assert.throws(() => b.trimBlock(addr, 3, 3, 0), RangeError);
    assert.equal(mm.stats().buddyFreePages, free);
    mm.verify();
    mm.freePages(addr, 3);
    mm.verify();
  });
});
