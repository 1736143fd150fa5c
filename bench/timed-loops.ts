/*
 * The replay loops the breakdown times and profiles (breakdown.ts, profile-runs.ts): one per
 * allocator, each compiled on its own, so the engine's type feedback stays monomorphic.
 */

import { Kmem } from "../src/index.js";
import { mallocMaxOrder, type PeerHeap, tlsfHeap } from "kmem-workbench";
import type { FlatTrace } from "./traces.js";

/** The heap every loop runs on: 256 MiB, as the program benchmarks. */
export const HEAP = 256 * 2 ** 20;

/** A replay loop over ops [from, to) of a trace, on an allocator made by `fresh`. */
export interface Timed<A> {
  fresh(): Promise<A> | A;
  run(a: A, t: FlatTrace, addr: Int32Array, from: number, to: number): void;
}

/** kmalloc, kfree and krealloc called on a Kmem, no adapter. */
export const KMEM: Timed<Kmem> = {
  // As the workbench's slub: orders up to the memory's size, so no request fails for size.
  fresh: () => new Kmem({ memory: HEAP, maxOrder: mallocMaxOrder(HEAP) }),
  run(mm, t, addr, from, to) {
    for (let i = from; i < to; i++) {
      const op = t.op[i] as number;
      const id = t.id[i] as number;
      if (op === 1) {
        const a = addr[id] as number;
        if (a !== 0) mm.kfree(a);
        addr[id] = 0;
      } else if (op === 0 || addr[id] === 0) addr[id] = mm.kmalloc((t.size[i] as number) || 1);
      else {
        const b = mm.krealloc(addr[id] as number, (t.size[i] as number) || 1);
        if (b !== 0) addr[id] = b;
      }
    }
  },
};

/** The tlsf heap's malloc, free and realloc. */
export const TLSF: Timed<PeerHeap> = {
  fresh: () => tlsfHeap(HEAP),
  run(heap, t, addr, from, to) {
    const realloc = heap.realloc as (h: number, size: number) => number;
    for (let i = from; i < to; i++) {
      const op = t.op[i] as number;
      const id = t.id[i] as number;
      if (op === 1) {
        const a = addr[id] as number;
        if (a !== 0) heap.free(a);
        addr[id] = 0;
      } else if (op === 0 || addr[id] === 0) addr[id] = heap.malloc((t.size[i] as number) || 1);
      else {
        const b = realloc(addr[id] as number, (t.size[i] as number) || 1);
        if (b !== 0) addr[id] = b;
      }
    }
  },
};

/** The same loop with an allocator that does nothing: handles from a counter. */
export const LOOP: Timed<{ next: number }> = {
  fresh: () => ({ next: 16 }),
  run(c, t, addr, from, to) {
    for (let i = from; i < to; i++) {
      const op = t.op[i] as number;
      const id = t.id[i] as number;
      if (op === 1) addr[id] = 0;
      else addr[id] = c.next += 16;
    }
  },
};
