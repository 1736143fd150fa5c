/* Fragmentation indices with Linux's integer arithmetic (mm/vmstat.c), worked examples. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GFP_ATOMIC, Kmem } from "../../src/index.js";
import {
  extfragForOrder,
  extfragIndexMilli,
  formatMilli,
  unusableIndexMilli,
} from "../../src/page/index.js";

describe("fragmentation indices", () => {
  // nr_free: order 0: 4, order 1: 2, order 3: 1 -> 16 free pages in 7 blocks.
  const freeArea = [4, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0];

  it("order 2: two suitable blocks -> unusable 0.500, extfrag -1.000 (would succeed)", () => {
    assert.equal(unusableIndexMilli(freeArea, 2), 500);
    assert.equal(extfragIndexMilli(freeArea, 2), -1000);
  });

  it("order 4: none suitable -> unusable 1.000, extfrag 0.715, extfrag_for_order 100", () => {
    assert.equal(unusableIndexMilli(freeArea, 4), 1000);
    assert.equal(extfragIndexMilli(freeArea, 4), 715);
    assert.equal(extfragForOrder(freeArea, 4), 100);
  });

  it("no free memory: unusable 1000, extfrag 0", () => {
    const none = new Array(11).fill(0);
    assert.equal(unusableIndexMilli(none, 0), 1000);
    assert.equal(extfragIndexMilli(none, 3), 0);
    assert.equal(extfragForOrder(none, 3), 0);
  });

  it("too little memory rather than fragmentation gives an index near 0 (or below)", () => {
    // 2 free pages in one block, order 4 wanted: 1000 - (1000 + 125) / 1 = -125.
    const two = [0, 1, 0, 0, 0];
    assert.equal(extfragIndexMilli(two, 4), -125);
  });

  it("prints as the kernel does", () => {
    assert.equal(formatMilli(500), "0.500");
    assert.equal(formatMilli(-1000), "-1.000");
    assert.equal(formatMilli(715), "0.715");
    assert.equal(formatMilli(1000), "1.000");
    assert.equal(formatMilli(7), "0.007");
  });

  it("Kmem exposes them as fractions over its own free lists", () => {
    const mm = new Kmem({ memory: 2 << 20, maxOrder: 6, minFreeBytes: 0 });
    assert.equal(mm.unusableIndex(0), 0);
    assert.equal(mm.extfragIndex(0), -1);
    // Fragment: take every page, give back every other one.
    const pages: number[] = [];
    for (;;) {
      const a = mm.allocPages(0, GFP_ATOMIC);
      if (a === 0) break;
      pages.push(a);
    }
    for (let i = 0; i < pages.length; i += 2) mm.freePages(pages[i] as number, 0);
    mm.drainPages();
    assert.equal(mm.unusableIndex(1), 1, "no two free pages are buddies");
    assert.equal(mm.unusableIndex(0), 0);
    // N single free pages, order 3 wanted: 1000 - (1000 + N * 1000 / 8) / N.
    const n = mm.stats().freePages;
    const milli = 1000 - Math.trunc((1000 + Math.trunc((n * 1000) / 8)) / n);
    assert.equal(mm.extfragIndex(3), milli / 1000);
    assert.ok(milli > 850, "the failure is from fragmentation, not lack of memory");
    assert.equal(
      mm.report("unusable_index"),
      `Node 0, zone   Normal 0.000 1.000 1.000 1.000 1.000 1.000 \n`,
    );
  });
});
