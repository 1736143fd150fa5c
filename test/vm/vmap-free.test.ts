/*
 * freePages() of a page still mapped by vmap() is refused (INVALID_FREE naming the area),
 * nothing changed; the page of a higher-order block (a tail) counts as well. After
 * vunmap() the free goes through.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem } from "../../src/index.js";
import { assertMisuse } from "../helpers.js";

const P = 4096;

describe("freePages of vmapped pages", () => {
  it("an order-0 page and a tail of an order-2 block, mapped: INVALID_FREE until vunmap", () => {
    const mm = new Kmem({ memory: 4 << 20, minFreeBytes: 0 });
    const single = mm.allocPages(0);
    const block = mm.allocPages(2);
    const other = mm.allocPages(0);
    const va = mm.vmap([single, block + 2 * P]);
    assert.notEqual(va, 0);
    mm.memory.fill(7, single, single + P);
    const e1 = assertMisuse(mm, "INVALID_FREE", () => mm.freePages(single, 0), true);
    assert.match(e1.message, new RegExp(`vmap area at 0x${va.toString(16)}`));
    assertMisuse(mm, "INVALID_FREE", () => mm.freePages(block, 2), true);
    mm.freePages(other, 0);
    assert.equal(mm.getUint8(va), 7);
    mm.vunmap(va);
    mm.freePages(single, 0);
    mm.freePages(block, 2);
    mm.verify();
  });
});
