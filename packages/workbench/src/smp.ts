/*
 * A workload on several cpus: one kmem instance over a SharedArrayBuffer, a worker per cpu,
 * each replaying its own trace of the workload (its own seed: the connections or messages
 * of that cpu) at the same time, against the same allocator. The same traces replayed by
 * one worker one after another give the one-cpu time; the ratio is the speedup, and what it
 * lacks of the cpus' count is contention (locks, shared lists, cache lines) and, where the
 * machine has fewer cores than workers or other load, time the workers did not run at all:
 * the result says how many cores the machine has and its load.
 *
 * Only kmem's layers that serve several contexts take part: kmalloc over SLAB, SLUB and SLOB,
 * and the buddy system. The npm peers have no shared heap. Requests are GFP_KERNEL |
 * __GFP_NORETRY: one that fails does not wait for another worker to free memory (a
 * GFP_KERNEL request would, up to 100 ms each), so that failures count as on one cpu.
 */

import { availableParallelism, loadavg } from "node:os";
import { Worker } from "node:worker_threads";
import { Kmem } from "kmem";
import { mallocMaxOrder } from "./allocators.js";
import type { SmpJob, SmpReply } from "./smp-worker.js";

const WORKER = new URL("./smp-worker.js", import.meta.url);

/** The allocators that run on several cpus, in the order reports list them. */
export const SMP_ALLOCATORS: readonly string[] = ["slab", "slub", "slob", "buddy"];

export interface SmpOptions {
  allocator: string;
  workload: string;
  /** Ops of each cpu's trace. */
  ops: number;
  seed: number;
  cpus: number;
  memoryBytes: number;
  /** Each run is made this many times, the two kinds interleaved; the fastest is kept. */
  rounds: number;
}

export interface SmpRun {
  /** Ops per second over all workers (total ops / the slowest worker's time). */
  opsPerSec: number;
  ms: number;
  requests: number;
  failures: number;
  error: string | null;
}

export interface SmpResult {
  allocator: string;
  workload: string;
  cpus: number;
  memoryBytes: number;
  /** One worker replaying every cpu's trace in turn. */
  one: SmpRun;
  /** A worker per cpu, all at once. */
  all: SmpRun;
  /** all.opsPerSec / one.opsPerSec. */
  speedup: number;
}

/** The machine the runs were made on: cores and load (1-minute average). */
export function hostLine(): string {
  return `${availableParallelism()} cores here, load ${loadavg()[0]?.toFixed(1) ?? "?"}`;
}

function kmemOptions(allocator: string, memoryBytes: number, cpus: number) {
  const slab = allocator === "slab" ? "slab" : allocator === "slob" ? "slob" : "slub";
  return {
    memory: memoryBytes,
    cpus: cpus + 1,
    slab: slab as "slab" | "slob" | "slub",
    ...(allocator === "buddy" ? {} : { maxOrder: mallocMaxOrder(memoryBytes) }),
  };
}

/** Runs `seedsPerWorker.length` workers from one start line over a fresh instance. */
async function race(o: SmpOptions, seedsPerWorker: number[][]): Promise<SmpRun> {
  if (!SMP_ALLOCATORS.includes(o.allocator)) {
    throw new RangeError(
      `${o.allocator} does not run on several cpus (${SMP_ALLOCATORS.join(", ")} do)`,
    );
  }
  const mm = new Kmem(kmemOptions(o.allocator, o.memoryBytes, o.cpus));
  const sync = new SharedArrayBuffer(12);
  const s = new Int32Array(sync);
  const replies = seedsPerWorker.map((seeds) => {
    const job: SmpJob = {
      buffer: mm.buffer as SharedArrayBuffer,
      sync,
      allocator: o.allocator,
      workload: o.workload,
      ops: o.ops,
      seeds,
    };
    const w = new Worker(WORKER, { workerData: job });
    const exited = new Promise<void>((resolve) => w.once("exit", () => resolve()));
    return new Promise<{ reply: SmpReply; exited: Promise<void> }>((resolve, reject) => {
      w.once("message", (reply: SmpReply) => resolve({ reply, exited }));
      w.once("error", reject);
    });
  });
  while (Atomics.load(s, 0) < seedsPerWorker.length) {
    await new Promise((r) => setTimeout(r, 2));
  }
  Atomics.store(s, 1, 1);
  Atomics.notify(s, 1);
  const done = await Promise.all(replies);
  Atomics.store(s, 2, 1);
  Atomics.notify(s, 2);
  await Promise.all(done.map((d) => d.exited));
  for (const { reply } of done) mm.offlineCpu(reply.cpu);
  let error = done.map((d) => d.reply.error).find((e) => e !== null) ?? null;
  if (error === null) {
    try {
      mm.verify();
    } catch (err) {
      error = `verify: ${(err as Error).message}`;
    }
  }
  const ms = Math.max(...done.map((d) => d.reply.ms));
  const ops = done.reduce((n, d) => n + d.reply.ops, 0);
  return {
    opsPerSec: ms > 0 ? (ops / ms) * 1000 : 0,
    ms,
    requests: done.reduce((n, d) => n + d.reply.requests, 0),
    failures: done.reduce((n, d) => n + d.reply.failures, 0),
    error,
  };
}

/**
 * The workload on `cpus` workers at once, and the same traces on one worker in turn; each
 * the fastest of `rounds` (load from elsewhere only ever slows a run down).
 */
export async function replayOnCpus(o: SmpOptions): Promise<SmpResult> {
  const seeds = Array.from({ length: o.cpus }, (_, w) => o.seed * 1000 + w);
  let one: SmpRun | null = null;
  let all: SmpRun | null = null;
  const faster = (a: SmpRun | null, b: SmpRun): SmpRun =>
    a === null || b.error !== null || (a.error === null && b.opsPerSec > a.opsPerSec) ? b : a;
  for (let r = 0; r < Math.max(1, o.rounds); r++) {
    one = faster(one, await race(o, [seeds]));
    all = faster(
      all,
      await race(
        o,
        seeds.map((seed) => [seed]),
      ),
    );
  }
  const a = all as SmpRun;
  const b = one as SmpRun;
  return {
    allocator: o.allocator,
    workload: o.workload,
    cpus: o.cpus,
    memoryBytes: o.memoryBytes,
    one: b,
    all: a,
    speedup: b.opsPerSec > 0 ? a.opsPerSec / b.opsPerSec : 0,
  };
}
