/*
 * Watermarks and GFP semantics (mm/page_alloc.c __zone_watermark_ok, gfp_to_alloc_flags):
 * which request may take free memory below which mark, and failure reports (reclaim:
 * reclaim.test.ts).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  __GFP_HIGH,
  __GFP_MEMALLOC,
  __GFP_NOFAIL,
  __GFP_NOMEMALLOC,
  __GFP_NOWARN,
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOWAIT,
  Kmem,
} from "../../src/index.js";
import { computeWatermarks, pcpBatch } from "../../src/page/index.js";
import { consumeUntilFree } from "../helpers.js";
import { zone } from "./helpers.js";

describe("watermark derivation", () => {
  it("follows Linux for 1 GiB: min_free_kbytes 4096, min 1024, low 1286, high 1548", () => {
    assert.deepEqual(computeWatermarks(262144, 4096, undefined), {
      minFreeKb: 4096,
      min: 1024,
      low: 1286,
      high: 1548,
    });
  });

  it("clamps min_free_kbytes to [128, 262144] and to 1/16 of a small memory", () => {
    // 64 GiB of 4 KiB pages: sqrt(16 * 64 Mi kB) = 32768 kB.
    assert.equal(computeWatermarks(16 * 1024 * 1024, 4096, undefined).minFreeKb, 32768);
    // 4 TiB would give 262144+: clamped.
    assert.equal(computeWatermarks(2 ** 30, 4096, undefined).minFreeKb, 262144);
    // 8 MiB: sqrt(16 * 8192) = 362 kB.
    assert.equal(computeWatermarks(2048, 4096, undefined).minFreeKb, 362);
    // 1 MiB: sqrt gives 128 (the floor), capped at 1024/16 = 64 kB.
    assert.equal(computeWatermarks(256, 4096, undefined).minFreeKb, 64);
  });

  it("takes minFreeBytes as given, 0 disabling the reserve", () => {
    const mm = new Kmem({ memory: 8 << 20, minFreeBytes: 0 });
    assert.equal(mm.watermarks.min, 0);
    const zoned = zone();
    assert.deepEqual(zoned.watermarks, { minFreeKb: 1600, min: 400, low: 500, high: 600 });
  });

  it("sizes per-cpu batches as zone_batchsize does", () => {
    assert.equal(pcpBatch(262144, 4096), 63);
    assert.equal(pcpBatch(2048, 4096), 1);
  });
});

describe("reserve tiers per GFP flag", () => {
  it("below min: GFP_NOWAIT and GFP_KERNEL fail, GFP_ATOMIC dips into the reserve", () => {
    const mm = zone();
    consumeUntilFree(mm, 300);
    assert.equal(mm.allocPages(0, GFP_NOWAIT), 0);
    assert.equal(mm.allocPages(0, GFP_KERNEL), 0);
    assert.notEqual(mm.allocPages(0, GFP_ATOMIC), 0);
    // __GFP_HIGH alone (may block) gets half the reserve: 200.
    assert.notEqual(mm.allocPages(0, GFP_KERNEL | __GFP_HIGH), 0);
    mm.verify();
  });

  it("GFP_ATOMIC stops at min - min/2 - (min/2)/4 = 150 free pages", () => {
    const mm = zone();
    consumeUntilFree(mm, 151);
    assert.notEqual(mm.allocPages(0, GFP_ATOMIC), 0, "151 > 150: allowed");
    mm.drainPages();
    assert.equal(mm.stats().buddyFreePages, 150);
    assert.equal(mm.allocPages(0, GFP_ATOMIC), 0, "150 is not above 150");
    // GFP_KERNEL | __GFP_HIGH stops at 200: already below.
    assert.equal(mm.allocPages(0, GFP_KERNEL | __GFP_HIGH), 0);
  });

  it("an order-k request needs free - (2^k - 1) above the mark", () => {
    const mm = zone();
    consumeUntilFree(mm, 405);
    // order 2: 405 - 3 = 402 > 400 passes; order 3: 405 - 7 = 398 fails.
    const ok = mm.allocPages(2, GFP_KERNEL);
    assert.notEqual(ok, 0);
    mm.freePages(ok, 2);
    assert.equal(mm.allocPages(3, GFP_KERNEL), 0);
  });

  it("between min and low the fast path fails, the slow path succeeds and wakes kswapd", () => {
    const mm = zone();
    consumeUntilFree(mm, 450);
    assert.equal(mm.stats().events.kswapd_wake, 0);
    assert.notEqual(mm.allocPages(0, GFP_NOWAIT), 0);
    assert.equal(mm.stats().events.kswapd_wake, 1);
  });

  it("__GFP_NOFAIL takes half the min reserve as a last resort, and needs to be able to wait", () => {
    const mm = zone();
    consumeUntilFree(mm, 250);
    assert.equal(mm.allocPages(0, GFP_KERNEL), 0);
    // ALLOC_MIN_RESERVE: min 400 -> 200, and 250 > 200.
    assert.notEqual(mm.allocPages(0, GFP_KERNEL | __GFP_NOFAIL), 0);
    // Without __GFP_DIRECT_RECLAIM, NOFAIL cannot be honoured: Linux warns and fails.
    assert.equal(mm.allocPages(0, GFP_NOWAIT | __GFP_NOFAIL), 0);
    consumeUntilFree(mm, 150);
    assert.equal(mm.allocPages(0, GFP_KERNEL | __GFP_NOFAIL), 0, "below half of min: nothing left");
  });

  it("__GFP_MEMALLOC takes everything; __GFP_NOMEMALLOC forbids it", () => {
    const mm = zone();
    consumeUntilFree(mm, 10);
    assert.equal(mm.allocPages(0, GFP_ATOMIC), 0);
    assert.notEqual(mm.allocPages(0, GFP_ATOMIC | __GFP_MEMALLOC), 0);
    assert.equal(mm.allocPages(0, GFP_ATOMIC | __GFP_MEMALLOC | __GFP_NOMEMALLOC), 0);
  });

  it("returns 0, never throws, when memory is exhausted", () => {
    const mm = zone();
    consumeUntilFree(mm, 0);
    for (const gfp of [
      GFP_KERNEL,
      GFP_ATOMIC,
      GFP_NOWAIT,
      GFP_KERNEL | __GFP_NOFAIL,
      __GFP_MEMALLOC,
    ]) {
      assert.equal(mm.allocPages(0, gfp), 0);
      assert.equal(mm.allocPages(5, gfp), 0);
    }
    mm.verify();
  });
});

describe("failure reports", () => {
  it("reports through log, with the order, gfp mode and free areas", () => {
    const lines: string[] = [];
    const mm = zone((line) => lines.push(line));
    consumeUntilFree(mm, 0);
    assert.equal(mm.allocPages(3, GFP_KERNEL), 0);
    assert.equal(lines[0], "kmem: page allocation failure: order:3, mode:0xcc0(GFP_KERNEL)");
    assert.match(lines[1] as string, /^Node 0 Normal: 0\*4kB 0\*8kB .* = 0kB$/);
    const n = lines.length;
    assert.equal(mm.allocPages(3, GFP_KERNEL | __GFP_NOWARN), 0);
    assert.equal(mm.allocPages(0, GFP_NOWAIT), 0, "GFP_NOWAIT includes __GFP_NOWARN");
    assert.equal(lines.length, n, "__GFP_NOWARN silences the report");
    assert.equal(mm.stats().events.pgalloc_fail, 3);
  });

  it("is silent without a log option", () => {
    const mm = zone();
    consumeUntilFree(mm, 0);
    assert.equal(mm.allocPages(0, GFP_KERNEL), 0);
  });
});
