/*
 * Integer-range allocators: vmem (instant fit, best fit, next fit, with and without quantum
 * caches) and the resource map against `number-allocator` from npm, for ids (allocate one,
 * free one, at 10,000 live; 100,000 allocated then freed in order or shuffled), and vmem and
 * rmap through their ByteAllocator adapters on the churn of bench/kmalloc.ts (10,000 live
 * blocks of 8..512 bytes), with kmalloc for reference.
 *
 * As in bench/kmalloc.ts, every (workload, allocator) pair runs its own copy of the workload
 * code, so that one allocator's type feedback does not slow the next.
 */

import { NumberAllocator } from "number-allocator";
import { Prng } from "kmem-workbench";
import {
  type ByteAllocator,
  Kmem,
  kmallocAllocator,
  ResourceMap,
  rmapAllocator,
  VmemArena,
  type VmemPolicy,
  vmemAllocator,
} from "../src/index.js";
import { add } from "./harness.js";

/** What the id benchmarks drive: one id at a time. */
interface IdAllocator {
  readonly name: string;
  /** An id, or -1. */
  alloc(): number;
  free(id: number): void;
}

/** Ids 0 .. 2^20 - 1 in every allocator. */
const IDS = 2 ** 20;

class VmemIds implements IdAllocator {
  readonly name: string;
  private readonly arena: VmemArena;
  constructor(policy: VmemPolicy, qcache: boolean) {
    this.name = `vmem ${policy}${qcache ? " + quantum cache" : ""}`;
    this.arena = new VmemArena({
      name: "ids",
      base: 0,
      size: IDS,
      quantum: 1,
      policy,
      qcacheMax: qcache ? 1 : 0,
    });
  }
  alloc(): number {
    return this.arena.alloc(1);
  }
  free(id: number): void {
    this.arena.free(id, 1);
  }
}

class RmapIds implements IdAllocator {
  readonly name = "rmap (first fit)";
  private readonly map = new ResourceMap({ base: 0, size: IDS });
  alloc(): number {
    return this.map.alloc(1);
  }
  free(id: number): void {
    this.map.free(id, 1);
  }
}

class NumberAllocatorIds implements IdAllocator {
  readonly name = "number-allocator";
  private readonly na = new NumberAllocator(0, IDS - 1);
  alloc(): number {
    const id = this.na.alloc();
    return id === null ? -1 : id;
  }
  free(id: number): void {
    this.na.free(id);
  }
}

function idAllocators(): IdAllocator[] {
  return [
    new VmemIds("instantfit", false),
    new VmemIds("bestfit", false),
    new VmemIds("nextfit", false),
    new VmemIds("instantfit", true),
    new RmapIds(),
    new NumberAllocatorIds(),
  ];
}

const PAIRS = 1000;

const WORKLOADS = {
  idChurn: `
    const slots = s.slots, picks = s.picks, n = picks.length;
    let pos = s.pos;
    for (let i = 0; i < ${PAIRS}; i++) {
      const k = picks[pos];
      a.free(slots[k]);
      const id = a.alloc();
      if (id < 0) throw new Error(a.name + ": out of ids in churn");
      slots[k] = id;
      pos = (pos + 1) % n;
    }
    s.pos = pos;
  `,
  idBatch: `
    const order = s.order, ids = s.ids, n = order.length;
    for (let i = 0; i < n; i++) {
      const id = a.alloc();
      if (id < 0) throw new Error(a.name + ": out of ids in batch");
      ids[i] = id;
    }
    for (let i = 0; i < n; i++) a.free(ids[order[i]]);
  `,
  byteChurn: `
    const slots = s.slots, slotSize = s.slotSize, sizes = s.sizes, picks = s.picks, n = picks.length;
    let pos = s.pos;
    for (let i = 0; i < ${PAIRS}; i++) {
      const k = picks[pos];
      a.free(slots[k], slotSize[k]);
      const size = sizes[pos];
      const h = a.alloc(size);
      if (h < 0) throw new Error(a.name + ": out of memory in churn");
      slots[k] = h;
      slotSize[k] = size;
      pos = (pos + 1) % n;
    }
    s.pos = pos;
  `,
} as const;

type Workload = (a: unknown, s: Record<string, unknown>) => void;

let tag = 0;
function compile(kind: keyof typeof WORKLOADS): Workload {
  tag++;
  return new Function("a", "s", `/* vmem copy ${tag} */ ${WORKLOADS[kind]}`) as Workload;
}

/** `live` ids scattered over twice as many: a random half of 2 x live allocations kept. */
function idChurnState(a: IdAllocator, live: number, seed: number): Record<string, unknown> {
  const rng = new Prng(seed);
  const all = new Float64Array(2 * live);
  for (let i = 0; i < 2 * live; i++) all[i] = a.alloc();
  const slots = new Float64Array(live);
  let kept = 0;
  for (let i = 0; i < 2 * live; i++) {
    const mustKeep = 2 * live - i <= live - kept;
    if (kept < live && (mustKeep || rng.below(2) === 0)) slots[kept++] = all[i] as number;
    else a.free(all[i] as number);
  }
  const n = 1 << 16;
  const picks = new Int32Array(n);
  for (let i = 0; i < n; i++) picks[i] = rng.below(live);
  return { slots, picks, pos: 0 };
}

function idBatchState(count: number, shuffled: boolean, seed: number): Record<string, unknown> {
  const rng = new Prng(seed);
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  if (shuffled) {
    for (let i = count - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
  }
  return { order, ids: new Float64Array(count) };
}

function byteChurnState(a: ByteAllocator, live: number, seed: number): Record<string, unknown> {
  const rng = new Prng(seed);
  const slots = new Float64Array(live);
  const slotSize = new Int32Array(live);
  for (let i = 0; i < live; i++) {
    const size = 8 + rng.below(505);
    const h = a.alloc(size);
    if (h < 0) throw new Error(`${a.name}: out of memory filling ${live} live blocks`);
    slots[i] = h;
    slotSize[i] = size;
  }
  const n = 1 << 16;
  const sizes = new Int32Array(n);
  const picks = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    sizes[i] = 8 + rng.below(505);
    picks[i] = rng.below(live);
  }
  return { slots, slotSize, sizes, picks, pos: 0 };
}

export function registerVmemBenchmarks(): void {
  const group = "vmem/rmap ids";
  for (const a of idAllocators()) {
    const run = compile("idChurn");
    const state = idChurnState(a, 10_000, 11);
    add(`${group}: churn, 10,000 live ids of 2^20 (free one, allocate one)`, a.name, PAIRS, () =>
      run(a, state),
    );
  }
  for (const shuffled of [false, true]) {
    for (const a of idAllocators()) {
      const run = compile("idBatch");
      const state = idBatchState(100_000, shuffled, 13);
      add(
        `${group}: 100,000 ids allocated, then freed ${shuffled ? "shuffled" : "in order"}`,
        a.name,
        200_000,
        () => run(a, state),
      );
    }
  }
  const HEAP = 256 * 2 ** 20;
  const bytes: ByteAllocator[] = [
    vmemAllocator(HEAP, { name: "vmem instantfit" }),
    vmemAllocator(HEAP, { name: "vmem bestfit", policy: "bestfit" }),
    vmemAllocator(HEAP, { name: "vmem instantfit + quantum caches to 256", qcacheMax: 256 }),
    rmapAllocator(HEAP),
    kmallocAllocator(new Kmem({ memory: HEAP }), "kmem kmalloc (slub), for reference"),
  ];
  for (const a of bytes) {
    const run = compile("byteChurn");
    const state = byteChurnState(a, 10_000, 7);
    add(
      "vmem/rmap bytes: churn, 10,000 live blocks of 8..512 bytes (free one, allocate one)",
      a.name,
      PAIRS,
      () => run(a, state),
    );
  }
}
