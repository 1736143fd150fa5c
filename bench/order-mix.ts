/*
 * The order mix of a kernel's page traffic (mostly single pages, some larger blocks), for
 * the page benchmarks: pickOrder draws one order from a seeded Prng.
 */

import type { Prng } from "kmem-workbench";

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
