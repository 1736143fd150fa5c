/*
 * A built-in page workload: random allocPages/freePages of mixed orders, the kind of traffic
 * a kernel's page allocator sees (mostly single pages, some larger blocks), seeded so that
 * every run is the same. Used by `kmem demo` and the benchmarks.
 */

import type { Kmem } from "../kmem.js";
import { GFP_KERNEL } from "../page/index.js";
import { Prng } from "./prng.js";

export interface PageChurnOptions {
  /** Operations to run (allocations and frees). */
  ops: number;
  seed: number;
  /** Largest order requested (inclusive). */
  maxOrder: number;
  /** Keep at most this share of managed pages live (0..1). */
  maxLiveShare: number;
}

export interface PageChurnResult {
  allocs: number;
  frees: number;
  failures: number;
  /** Blocks still allocated at the end (the workload leaves them, to show fragmentation). */
  liveBlocks: number;
  livePages: number;
}

/** Order distribution: 60% order 0, then halving shares for each order up. */
export function pickOrder(rng: Prng, maxOrder: number): number {
  let order = 0;
  let p = rng.next();
  while (order < maxOrder && p >= 0.6) {
    order++;
    p = rng.next();
  }
  return order;
}

export function runPageChurn(mm: Kmem, options: PageChurnOptions): PageChurnResult {
  const rng = new Prng(options.seed);
  const addrs: number[] = [];
  const orders: number[] = [];
  let livePages = 0;
  const maxLive = Math.floor(mm.managedPages * options.maxLiveShare);
  const result: PageChurnResult = { allocs: 0, frees: 0, failures: 0, liveBlocks: 0, livePages: 0 };
  for (let i = 0; i < options.ops; i++) {
    const wantFree = addrs.length > 0 && (livePages >= maxLive || rng.next() < 0.45);
    if (wantFree) {
      const k = rng.below(addrs.length);
      const addr = addrs[k] as number;
      const order = orders[k] as number;
      addrs[k] = addrs[addrs.length - 1] as number;
      orders[k] = orders[orders.length - 1] as number;
      addrs.pop();
      orders.pop();
      mm.freePages(addr, order);
      livePages -= 1 << order;
      result.frees++;
    } else {
      const order = pickOrder(rng, Math.min(options.maxOrder, mm.maxOrder - 1));
      const addr = mm.allocPages(order, GFP_KERNEL);
      if (addr === 0) {
        result.failures++;
      } else {
        addrs.push(addr);
        orders.push(order);
        livePages += 1 << order;
        result.allocs++;
      }
    }
  }
  result.liveBlocks = addrs.length;
  result.livePages = livePages;
  return result;
}
