/*
 * Reclaim (src/page/reclaim.ts): direct reclaim in rounds of shrinkers and per-cpu drains,
 * __GFP_NORETRY, kswapd woken and run, and reclaim's own allocations (PF_MEMALLOC).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  __GFP_KSWAPD_RECLAIM,
  __GFP_MEMALLOC,
  __GFP_NOMEMALLOC,
  __GFP_NORETRY,
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOWAIT,
  type Kmem,
} from "../../src/index.js";
import { consumeUntilFree } from "../helpers.js";
import { zone } from "./helpers.js";

describe("reclaim", () => {
  /** A shrinker holding `pages` order-0 pages it gives back on request. */
  function stash(mm: Kmem, pages: number) {
    const held: number[] = [];
    for (let i = 0; i < pages; i++) held.push(mm.allocPages(0, GFP_ATOMIC | __GFP_MEMALLOC));
    const calls: number[] = [];
    const shrinker = (nrToScan: number): number => {
      calls.push(nrToScan);
      let freed = 0;
      while (freed < nrToScan && held.length > 0) {
        mm.freePages(held.pop() as number, 0);
        freed++;
      }
      return freed;
    };
    return { held, calls, shrinker };
  }

  it("GFP_KERNEL runs direct reclaim (shrinkers, then per-cpu lists) before failing", () => {
    const mm = zone();
    const s = stash(mm, 200);
    consumeUntilFree(mm, 300);
    mm.registerShrinker(s.shrinker);
    // Without __GFP_KSWAPD_RECLAIM nothing wakes kswapd: this is direct reclaim alone.
    const addr = mm.allocPages(0, GFP_KERNEL & ~__GFP_KSWAPD_RECLAIM);
    assert.notEqual(addr, 0);
    // Rounds of SWAP_CLUSTER_MAX (32) pages until 300 + 32k > 400.
    assert.deepEqual(s.calls, [32, 32, 32, 32]);
    assert.equal(mm.stats().events.allocstall_normal, 4);
    assert.equal(mm.stats().events.pageoutrun, 0);
    mm.verify();
  });

  it("__GFP_NORETRY reclaims one round only", () => {
    const mm = zone();
    const s = stash(mm, 200);
    consumeUntilFree(mm, 300);
    mm.registerShrinker(s.shrinker);
    assert.equal(mm.allocPages(0, (GFP_KERNEL & ~__GFP_KSWAPD_RECLAIM) | __GFP_NORETRY), 0);
    assert.deepEqual(s.calls, [32]);
  });

  it("GFP_NOWAIT and GFP_ATOMIC never run shrinkers themselves", () => {
    const mm = zone();
    const s = stash(mm, 200);
    consumeUntilFree(mm, 100);
    mm.registerShrinker(s.shrinker);
    assert.equal(mm.allocPages(0, GFP_NOWAIT), 0);
    assert.equal(mm.allocPages(0, GFP_ATOMIC), 0);
    assert.deepEqual(s.calls, []);
  });

  it("kswapd, woken by an atomic request, runs in the next request that may sleep", () => {
    const mm = zone();
    const s = stash(mm, 300);
    consumeUntilFree(mm, 450);
    mm.registerShrinker(s.shrinker);
    assert.notEqual(mm.allocPages(0, GFP_ATOMIC), 0);
    assert.equal(s.calls.length, 0, "an atomic request does not run shrinkers");
    assert.equal(mm.stats().events.kswapd_wake, 1);
    assert.notEqual(mm.allocPages(0, GFP_KERNEL), 0);
    assert.equal(mm.stats().events.pageoutrun, 1);
    assert.ok(mm.stats().buddyFreePages >= 599, "reclaimed up to the high watermark");
    mm.unregisterShrinker(s.shrinker);
  });

  it("kswapd() runs background reclaim on demand", () => {
    const mm = zone();
    const s = stash(mm, 300);
    consumeUntilFree(mm, 450);
    mm.registerShrinker(s.shrinker);
    assert.equal(mm.kswapd(), 150);
    assert.equal(mm.stats().buddyFreePages, 600);
  });

  it("a shrinker's own allocations do not recurse into reclaim, and may use the reserves", () => {
    const mm = zone();
    consumeUntilFree(mm, 300);
    let calls = 0;
    let inner = -1;
    let innerNoMemalloc = -1;
    mm.registerShrinker(() => {
      calls++;
      inner = mm.allocPages(0, GFP_KERNEL);
      innerNoMemalloc = mm.allocPages(0, GFP_KERNEL | __GFP_NOMEMALLOC);
      return 0;
    });
    mm.allocPages(0, GFP_KERNEL & ~__GFP_KSWAPD_RECLAIM);
    assert.equal(calls, 1, "one round (no progress), and no nested reclaim from inside it");
    assert.notEqual(inner, 0, "reclaim context may use the reserves (PF_MEMALLOC)");
    assert.equal(innerNoMemalloc, 0, "unless __GFP_NOMEMALLOC");
  });

  it("a shrinker returning garbage is a TypeError, and reclaim state is restored", () => {
    const mm = zone();
    consumeUntilFree(mm, 300);
    const bad = () => -1;
    mm.registerShrinker(bad);
    assert.throws(() => mm.allocPages(0, GFP_KERNEL), TypeError);
    mm.unregisterShrinker(bad);
    assert.equal(mm.allocPages(0, GFP_KERNEL), 0);
    mm.verify();
  });
});
