/*
 * A worker of smp.ts: attaches to the instance, generates its traces (one per seed) and
 * replays the first once untimed (the compiler's warm-up, each worker's own), waits at the
 * start line, replays every trace in turn timing the whole (freeing what each left live),
 * and reports.
 *
 *   sync (i32): 0 ready count, 1 go flag, 2 exit flag
 */

import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { __GFP_NORETRY, type ByteAllocator, GFP_KERNEL, Kmem } from "kmem";
import { findWorkload } from "./workloads/index.js";
import type { TraceSource } from "./source.js";
import { Op } from "./trace.js";

export interface SmpJob {
  buffer: SharedArrayBuffer;
  sync: SharedArrayBuffer;
  allocator: string;
  workload: string;
  ops: number;
  /** The seed of each trace this worker replays, one after another. */
  seeds: number[];
}

export interface SmpReply {
  cpu: number;
  ms: number;
  ops: number;
  requests: number;
  failures: number;
  error: string | null;
}

const job = workerData as SmpJob;
const mm = Kmem.attach(job.buffer);
/**
 * A request that fails is not retried and does not wait for another cpu to free memory
 * (__GFP_NORETRY: one round of reclaim, as on one cpu there is nothing to wait for), so that
 * a failure costs here what it costs in a one-cpu replay.
 */
const GFP = GFP_KERNEL | __GFP_NORETRY;
const orderOf = (size: number): number => {
  const pages = Math.ceil(size / mm.pageSize);
  return pages <= 1 ? 0 : 32 - Math.clz32(pages - 1);
};
const a: ByteAllocator =
  job.allocator === "buddy"
    ? {
        name: "buddy",
        alloc: (size) => {
          const order = orderOf(size);
          const p = order < mm.maxOrder ? mm.allocPages(order, GFP) : 0;
          return p === 0 ? -1 : p;
        },
        free: (p, size) => mm.freePages(p, orderOf(size)),
        footprint: () => mm.usedPages * mm.pageSize,
      }
    : {
        name: job.allocator,
        alloc: (size) => {
          const p = mm.kmalloc(size, GFP);
          return p === 0 ? -1 : p;
        },
        free: (p) => mm.kfree(p),
        realloc: (p, _old, size) => {
          const q = mm.krealloc(p, size, GFP);
          return q === 0 ? -1 : q;
        },
        footprint: () => mm.usedPages * mm.pageSize,
      };
const traces = job.seeds.map((seed) => findWorkload(job.workload).generate(job.ops, seed));
const sync = new Int32Array(job.sync);
let requests = 0;
let failures = 0;
let ops = 0;
let error: string | null = null;

/** Replays one trace, then frees what it left live. */
async function replay(source: TraceSource): Promise<void> {
  const ids = source.info.header.ids;
  const addr = new Float64Array(ids).fill(-1);
  const size = new Int32Array(ids);
  const put = (id: number, p: number, s: number): void => {
    if (p < 0) failures++;
    else {
      addr[id] = p;
      size[id] = s;
    }
  };
  await source.forEachChunk((c) => {
    for (let i = 0; i < c.length; i++) {
      const id = c.id[i] as number;
      const op = c.op[i];
      const p = addr[id] as number;
      if (op === Op.Free) {
        if (p >= 0) a.free(p, size[id] as number);
        addr[id] = -1;
        continue;
      }
      requests++;
      const s = c.size[i] as number;
      if (op === Op.Alloc || p < 0) put(id, a.alloc(s), s);
      else {
        const q = a.realloc === undefined ? -1 : a.realloc(p, size[id] as number, s);
        if (q < 0) failures++;
        else put(id, q, s);
      }
    }
    ops += c.length;
    return true;
  });
  for (let id = 0; id < ids; id++) {
    const p = addr[id] as number;
    if (p >= 0) a.free(p, size[id] as number);
  }
}

try {
  await replay(traces[0] as TraceSource);
} catch (err) {
  error = (err as Error).message;
}
requests = 0;
failures = 0;
ops = 0;
Atomics.add(sync, 0, 1);
Atomics.wait(sync, 1, 0);
const t0 = performance.now();
try {
  if (error === null) for (const source of traces) await replay(source);
} catch (err) {
  error = (err as Error).message;
}
const ms = performance.now() - t0;
const reply: SmpReply = { cpu: mm.cpu, ms, ops, requests, failures, error };
parentPort?.postMessage(reply);
Atomics.wait(sync, 2, 0);
