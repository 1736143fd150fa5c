/*
 * kmalloc benchmarks, side by side with the peers in one process: the hot 64-byte pair,
 * pairs of other sizes, churn at several live-set sizes, and batches of 100,000 allocations
 * freed in order or shuffled.
 *
 * Every allocator is driven through the same small interface (alloc(size) -> handle,
 * free(handle)), kmem included, so that each pays the same call cost. Each (workload,
 * allocator) pair gets its own copy of the workload function (compiled from the same source
 * with a distinct tag), so the engine's type feedback for one allocator does not make the
 * calls megamorphic for the next. Handles are kept in Uint32Arrays (every allocator's handles
 * are 32-bit addresses or offsets): the calls pass small integers, as a C program passes its
 * pointers, not the doubles a Float64Array would hand over.
 */

import { Prng } from "kmem-workbench";
import { Kmem, type Mempool } from "../src/index.js";
import { add } from "./harness.js";
import { createPeers, type PeerAllocator } from "./peers/index.js";

/** What every allocator in these benchmarks offers. */
export interface BenchAllocator {
  readonly name: string;
  alloc(size: number): number;
  free(handle: number): void;
}

export class KmemAllocator implements BenchAllocator {
  readonly name: string;
  private readonly mm: Kmem;
  constructor(heapBytes: number, slab: "slub" | "slob" | "slab" = "slub", cpus = 1) {
    this.mm = new Kmem({ memory: heapBytes, slab, cpus });
    this.name =
      slab === "slub" ? "kmem kmalloc" : `kmem kmalloc (${slab === "slob" ? "SLOB" : "SLAB"})`;
  }
  alloc(size: number): number {
    return this.mm.kmalloc(size);
  }
  free(handle: number): void {
    this.mm.kfree(handle);
  }
}

/** A memory pool of 512-byte kmalloc elements (every size in these workloads fits one). */
class MempoolAllocator implements BenchAllocator {
  readonly name = "kmem mempool (512-byte elements)";
  private readonly pool: Mempool;
  constructor(heapBytes: number) {
    const pool = new Kmem({ memory: heapBytes }).createMempool(64, 512);
    if (pool === null) throw new Error("no memory for the pool's reserve");
    this.pool = pool;
  }
  alloc(size: number): number {
    return size <= 512 ? this.pool.alloc() : 0;
  }
  free(handle: number): void {
    this.pool.free(handle);
  }
}

/** Operations per call of a pair or churn workload. */
export const PAIRS = 1000;

/** Workload sources: `a` is the allocator, `s` the prepared state. */
const WORKLOADS = {
  pair: `
    const size = s.size;
    for (let i = 0; i < ${PAIRS}; i++) a.free(a.alloc(size));
  `,
  churn: `
    const slots = s.slots, sizes = s.sizes, picks = s.picks, n = picks.length;
    let pos = s.pos;
    for (let i = 0; i < ${PAIRS}; i++) {
      const k = picks[pos];
      a.free(slots[k]);
      const h = a.alloc(sizes[pos]);
      if (h === 0) throw new Error(a.name + ": out of memory in churn");
      slots[k] = h;
      pos = (pos + 1) % n;
    }
    s.pos = pos;
  `,
  batch: `
    const sizes = s.sizes, order = s.order, handles = s.handles, n = sizes.length;
    for (let i = 0; i < n; i++) {
      const h = a.alloc(sizes[i]);
      if (h === 0) throw new Error(a.name + ": out of memory in batch");
      handles[i] = h;
    }
    for (let i = 0; i < n; i++) a.free(handles[order[i]]);
  `,
} as const;

let tag = 0;
export function compile(
  kind: keyof typeof WORKLOADS,
): (a: BenchAllocator, s: Record<string, unknown>) => void {
  tag++;
  return new Function("a", "s", `/* copy ${tag} */ ${WORKLOADS[kind]}`) as (
    a: BenchAllocator,
    s: Record<string, unknown>,
  ) => void;
}

export function churnState(a: BenchAllocator, live: number, seed: number): Record<string, unknown> {
  const rng = new Prng(seed);
  const slots = new Uint32Array(live);
  for (let i = 0; i < live; i++) {
    const h = a.alloc(8 + rng.below(505));
    if (h === 0) throw new Error(`${a.name}: out of memory filling ${live} live blocks`);
    slots[i] = h;
  }
  const n = 1 << 16;
  const sizes = new Int32Array(n);
  const picks = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    sizes[i] = 8 + rng.below(505);
    picks[i] = rng.below(live);
  }
  return { slots, sizes, picks, pos: 0 };
}

function batchState(count: number, shuffled: boolean, seed: number): Record<string, unknown> {
  const rng = new Prng(seed);
  const sizes = new Int32Array(count);
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    sizes[i] = 8 + rng.below(505);
    order[i] = i;
  }
  if (shuffled) {
    for (let i = count - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
  }
  return { sizes, order, handles: new Uint32Array(count) };
}

/** Allocators for one case: kmem and every peer, each on a heap of `heapBytes`. */
async function allocators(heapBytes: number): Promise<BenchAllocator[]> {
  const peers: PeerAllocator[] = await createPeers(heapBytes);
  return [
    new KmemAllocator(heapBytes),
    new KmemAllocator(heapBytes, "slob"),
    new KmemAllocator(heapBytes, "slab"),
    new MempoolAllocator(heapBytes),
    ...peers,
  ];
}

/**
 * Allocators too slow for a workload at a given size are left out (BENCHMARKS.md says so):
 * @thi.ng/malloc searches its list of live blocks on every free, so its cost per operation
 * grows with the live set (0.14 ms per operation at 10,000 live); SLOB's first fit walks
 * its partly free pages (27 us per pair at 100,000 live), as Linux's did.
 */
function tooSlow(a: BenchAllocator, live: number): boolean {
  return (a.name.startsWith("@thi.ng/malloc") || a.name.endsWith("(SLOB)")) && live > 10_000;
}

export async function registerKmallocBenchmarks(): Promise<void> {
  const HEAP = 256 * 2 ** 20;
  for (const size of [64, 16, 256, 4096]) {
    for (const a of await allocators(HEAP)) {
      if (a instanceof MempoolAllocator && size > 512) continue;
      const run = compile("pair");
      const state = { size };
      add(`kmalloc(${size}) + kfree pair`, a.name, PAIRS, () => run(a, state));
    }
  }
  for (const live of [1_000, 10_000, 100_000]) {
    for (const a of await allocators(HEAP)) {
      if (tooSlow(a, live)) continue;
      const run = compile("churn");
      const state = churnState(a, live, 7);
      add(
        `churn, ${live} live blocks of 8..512 bytes (free one, allocate one)`,
        a.name,
        PAIRS,
        () => run(a, state),
      );
    }
  }
  for (const shuffled of [false, true]) {
    for (const a of await allocators(HEAP)) {
      if (tooSlow(a, 100_000)) continue;
      const run = compile("batch");
      const state = batchState(100_000, shuffled, 9);
      add(
        `100,000 allocations of 8..512 bytes, then freed ${shuffled ? "shuffled" : "in order"}`,
        a.name,
        200_000,
        () => run(a, state),
      );
    }
  }
}
