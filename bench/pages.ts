/*
 * Page allocator benchmarks: the order-0 alloc+free pair, random mixed-order churn, and
 * construction, at several memory sizes. The floor is a bare LIFO freelist of page numbers
 * in an Int32Array: the least any page allocator can do.
 */

import { Prng } from "kmem-workbench";
import { GFP_KERNEL, Kmem } from "../src/index.js";
import { pickOrder } from "./order-mix.js";
import { add, do_not_optimize } from "./harness.js";

const MiB = 2 ** 20;

function floorFreelist(pages: number) {
  const next = new Int32Array(pages);
  for (let i = 0; i < pages - 1; i++) next[i] = i + 1;
  next[pages - 1] = -1;
  let head = 1;
  return {
    alloc(): number {
      const p = head;
      head = next[p] as number;
      return p;
    },
    free(p: number): void {
      next[p] = head;
      head = p;
    },
  };
}

/** Pairs per measured call, so that the harness's own cost is amortised. */
const PAIRS = 1000;
const CHURN_SLOTS = 2048;
const CHURN_OPS = 1 << 16;
const CHURN_BATCH = 512;

/** A churn that keeps about half of CHURN_SLOTS blocks live, orders 0..6 (60% order 0). */
function churn(mm: Kmem) {
  const rng = new Prng(42);
  const slot = new Int32Array(CHURN_OPS);
  const order = new Int32Array(CHURN_OPS);
  for (let i = 0; i < CHURN_OPS; i++) {
    slot[i] = rng.below(CHURN_SLOTS);
    order[i] = pickOrder(rng, 6);
  }
  const addr = new Float64Array(CHURN_SLOTS);
  const live = new Int32Array(CHURN_SLOTS).fill(-1);
  let pos = 0;
  return () => {
    for (let n = 0; n < CHURN_BATCH; n++) {
      const s = slot[pos] as number;
      const o = live[s] as number;
      if (o >= 0) {
        mm.freePages(addr[s] as number, o);
        live[s] = -1;
      } else {
        const want = order[pos] as number;
        const a = mm.allocPages(want, GFP_KERNEL);
        if (a !== 0) {
          addr[s] = a;
          live[s] = want;
        }
      }
      pos = (pos + 1) & (CHURN_OPS - 1);
    }
  };
}

export function registerPageBenchmarks(): void {
  const floor = floorFreelist(1 << 16);
  add("order-0 alloc+free pair", "floor: LIFO freelist in an Int32Array", PAIRS, () => {
    let sum = 0;
    for (let i = 0; i < PAIRS; i++) {
      const p = floor.alloc();
      sum += p;
      floor.free(p);
    }
    do_not_optimize(sum);
  });
  for (const size of [64 * MiB, 1024 * MiB]) {
    const mm = new Kmem({ memory: size });
    add("order-0 alloc+free pair", `kmem allocPages(0)+freePages, ${size / MiB} MiB`, PAIRS, () => {
      for (let i = 0; i < PAIRS; i++) mm.freePages(mm.allocPages(0), 0);
    });
  }
  for (const size of [64 * MiB, 1024 * MiB]) {
    const mm = new Kmem({ memory: size });
    add("order-3 alloc+free pair", `kmem allocPages(3)+freePages, ${size / MiB} MiB`, PAIRS, () => {
      for (let i = 0; i < PAIRS; i++) mm.freePages(mm.allocPages(3), 3);
    });
  }
  for (const size of [64 * MiB, 1024 * MiB]) {
    const mm = new Kmem({ memory: size });
    add(
      "mixed-order churn (orders 0..6, ~1000 live blocks)",
      `kmem, ${size / MiB} MiB`,
      CHURN_BATCH,
      churn(mm),
    );
  }
  for (const size of [64 * MiB, 256 * MiB, 1024 * MiB]) {
    add("construction (new Kmem, buffer included)", `${size / MiB} MiB`, 1, () => {
      do_not_optimize(new Kmem({ memory: size }));
    });
  }
  const adopted = new ArrayBuffer(1024 * MiB);
  add(
    "construction (new Kmem, buffer included)",
    "1024 MiB, adopting an existing ArrayBuffer",
    1,
    () => {
      do_not_optimize(new Kmem({ memory: adopted }));
    },
  );
}
