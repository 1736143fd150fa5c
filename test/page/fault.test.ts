/*
 * fail_page_alloc with Linux's knobs and check order (lib/fault-inject.c should_fail_ex,
 * mm/fail_page_alloc.c): every failure path returns 0 and loses nothing.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  __GFP_HIGHMEM,
  __GFP_NOFAIL,
  __GFP_NOWARN,
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOWAIT,
  Kmem,
} from "../../src/index.js";

function mm(log?: (line: string) => void) {
  return new Kmem({ memory: 4 << 20, minFreeBytes: 0, ...(log ? { log } : {}) });
}

/** Which of `n` calls failed (1-based), freeing each success at once. */
function failures(k: Kmem, n: number, order: number, gfp: number): number[] {
  const failed: number[] = [];
  for (let i = 1; i <= n; i++) {
    const addr = k.allocPages(order, gfp);
    if (addr === 0) failed.push(i);
    else k.freePages(addr, order);
  }
  return failed;
}

describe("fail_page_alloc", () => {
  it("defaults: times 1, so probability 100 alone fails exactly once", () => {
    const k = mm();
    k.setFault("fail_page_alloc", { probability: 100 });
    assert.deepEqual(failures(k, 10, 1, GFP_ATOMIC), [1]);
    assert.equal(k.stats().events.fault_injected, 1);
    assert.deepEqual(
      { ...k.getFault("fail_page_alloc") },
      {
        name: "fail_page_alloc",
        probability: 100,
        interval: 1,
        times: 0,
        space: 0,
        verbose: 2,
        ignoreGfpWait: true,
        ignoreGfpHighmem: true,
        minOrder: 1,
        cacheFilter: false,
        count: 0,
        injected: 1,
      },
    );
  });

  it("ignoreGfpHighmem (default) spares __GFP_HIGHMEM requests", () => {
    const k = mm();
    k.setFault("fail_page_alloc", { probability: 100, times: -1 });
    assert.deepEqual(failures(k, 2, 1, GFP_ATOMIC | __GFP_HIGHMEM), []);
    k.setFault("fail_page_alloc", { probability: 100, times: -1, ignoreGfpHighmem: false });
    assert.deepEqual(failures(k, 2, 1, GFP_ATOMIC | __GFP_HIGHMEM), [1, 2]);
  });

  it("getFault returns a frozen copy: changing it changes nothing", () => {
    const k = mm();
    k.setFault("fail_page_alloc", { probability: 100, times: 2 });
    const copy = k.getFault("fail_page_alloc") as { times: number };
    assert.throws(() => {
      copy.times = 99;
    }, TypeError);
    assert.deepEqual(failures(k, 4, 1, GFP_ATOMIC), [1, 2]);
  });

  it("rejects another point's knobs and fractional percentages", () => {
    const k = mm();
    assert.throws(
      () => k.setFault("failslab", { probability: 1, minOrder: 0 }),
      /unknown option "minOrder"/,
    );
    assert.throws(
      () => k.setFault("fail_page_alloc", { probability: 1, cacheFilter: true }),
      /unknown option "cacheFilter"/,
    );
    assert.throws(
      () => k.setFault("fail_page_alloc", { probability: 0.5 }),
      /probability must be an integer/,
    );
  });

  it("interval 10, times -1: calls 10, 20, 30 fail and no others", () => {
    const k = mm();
    k.setFault("fail_page_alloc", { probability: 100, interval: 10, times: -1 });
    assert.deepEqual(failures(k, 35, 2, GFP_NOWAIT), [10, 20, 30]);
  });

  it("space is a budget in pages consumed before failures start", () => {
    const k = mm();
    k.setFault("fail_page_alloc", { probability: 100, times: -1, space: 10 });
    // order 1 = 2 pages: 10 -> 8 -> 6 -> 4 -> 2, then 2 is not > 2: fail.
    assert.deepEqual(failures(k, 7, 1, GFP_ATOMIC), [5, 6, 7]);
  });

  it("times bounds the number of failures", () => {
    const k = mm();
    k.setFault("fail_page_alloc", { probability: 100, times: 3 });
    assert.deepEqual(failures(k, 6, 1, GFP_ATOMIC), [1, 2, 3]);
    assert.equal(k.getFault("fail_page_alloc")?.times, 0);
  });

  it("minOrder (default 1) keeps order 0 immune; minOrder 0 fails it", () => {
    const k = mm();
    k.setFault("fail_page_alloc", { probability: 100, times: -1 });
    assert.deepEqual(failures(k, 3, 0, GFP_ATOMIC), []);
    k.setFault("fail_page_alloc", { probability: 100, times: -1, minOrder: 0 });
    assert.deepEqual(failures(k, 3, 0, GFP_ATOMIC), [1, 2, 3]);
    k.setFault("fail_page_alloc", { probability: 100, times: -1, minOrder: 3 });
    assert.deepEqual(failures(k, 2, 2, GFP_ATOMIC), []);
    assert.deepEqual(failures(k, 2, 3, GFP_ATOMIC), [1, 2]);
  });

  it("ignoreGfpWait (default) spares requests that may reclaim; false fails them too", () => {
    const k = mm();
    k.setFault("fail_page_alloc", { probability: 100, times: -1 });
    assert.deepEqual(failures(k, 3, 1, GFP_KERNEL), []);
    k.setFault("fail_page_alloc", { probability: 100, times: -1, ignoreGfpWait: false });
    assert.deepEqual(failures(k, 3, 1, GFP_KERNEL), [1, 2, 3]);
  });

  it("never fails __GFP_NOFAIL", () => {
    const k = mm();
    k.setFault("fail_page_alloc", { probability: 100, times: -1, ignoreGfpWait: false });
    assert.deepEqual(failures(k, 5, 2, GFP_KERNEL | __GFP_NOFAIL), []);
  });

  it("probability is a seeded percentage: same seed, same failures", () => {
    const pattern = (seed: number) => {
      const k = mm();
      k.setFault("fail_page_alloc", { probability: 30, times: -1, seed });
      return failures(k, 400, 1, GFP_ATOMIC);
    };
    const a = pattern(7);
    assert.deepEqual(pattern(7), a);
    assert.notDeepEqual(pattern(8), a);
    assert.ok(a.length > 80 && a.length < 160, `about 30% of 400 failed: ${a.length}`);
  });

  it("null turns it off", () => {
    const k = mm();
    k.setFault("fail_page_alloc", { probability: 100, times: -1 });
    k.setFault("fail_page_alloc", null);
    assert.equal(k.getFault("fail_page_alloc"), null);
    assert.deepEqual(failures(k, 3, 1, GFP_ATOMIC), []);
  });

  it("logs FAULT_INJECTION unless verbose 0 or __GFP_NOWARN, and no failure report", () => {
    const lines: string[] = [];
    const k = mm((l) => lines.push(l));
    k.setFault("fail_page_alloc", { probability: 100, times: -1 });
    k.allocPages(1, GFP_ATOMIC);
    assert.deepEqual(lines, [
      "FAULT_INJECTION: forcing a failure.\nname fail_page_alloc, interval 1, probability 100, space 0, times -1",
    ]);
    lines.length = 0;
    k.allocPages(1, GFP_ATOMIC | __GFP_NOWARN);
    assert.deepEqual(lines, []);
    k.setFault("fail_page_alloc", { probability: 100, times: -1, verbose: 0 });
    k.allocPages(1, GFP_ATOMIC);
    assert.deepEqual(lines, [], "an injected failure is not reported as a real one");
    // The message shows `times` before this failure used one up (fail_dump runs first).
    k.setFault("fail_page_alloc", { probability: 100 });
    k.allocPages(1, GFP_ATOMIC);
    assert.match(lines[0] ?? "", /times 1$/);
    assert.equal(k.getFault("fail_page_alloc")?.times, 0);
  });

  it("loses nothing across many injected failures", () => {
    const k = mm();
    const free = k.stats().freePages;
    k.setFault("fail_page_alloc", { probability: 50, times: -1, minOrder: 0, seed: 3 });
    const live: Array<[number, number]> = [];
    let failed = 0;
    for (let i = 0; i < 3000; i++) {
      if (i % 3 === 2 && live.length > 0) {
        const [addr, order] = live.splice((i * 7919) % live.length, 1)[0] as [number, number];
        k.freePages(addr, order);
        continue;
      }
      const order = i % 4;
      const addr = k.allocPages(order, GFP_ATOMIC);
      if (addr === 0) failed++;
      else live.push([addr, order]);
    }
    assert.ok(failed > 500);
    k.verify();
    const livePages = live.reduce((n, [, o]) => n + (1 << o), 0);
    assert.equal(k.stats().freePages + livePages, free);
    for (const [addr, order] of live) k.freePages(addr, order);
    k.verify();
    assert.equal(k.stats().freePages, free);
  });
});
