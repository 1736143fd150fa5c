/*
 * A worker of bench/slab-adaptive.ts: attaches and waits at the start line; then the three
 * phases, each interval ended by mm.reap() (cache_reap for this cpu, the end of an
 * interval of the adaptive rule) with this cpu's array limit read from slabinfo after it:
 *   quiet  QUIET idle intervals (its live set allocated, nothing else);
 *   busy   OPS operations on the cache "msg" (bursts of 64 allocations then 64 frees over
 *          a churned live set), an interval every INTERVAL operations (timed);
 *   quiet  its live set freed, QUIET idle intervals, stopping at the checkpoint after
 *          CHECKPOINT of them for the main thread to read the instance.
 * Reports the limits and the failed trylocks of the shared layer per interval, and waits
 * for the main thread to have read the instance before it exits.
 *
 *   sync (i32): 0 ready count, 1 go flag, 2 checkpoint count, 3 checkpoint release,
 *   4 done count, 5 exit flag
 */

import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { Prng } from "kmem-workbench";
import { Kmem } from "../src/index.js";
import type { SlabAllocator } from "../src/slab/index.js";

export interface AdaptiveJob {
  buffer: SharedArrayBuffer;
  sync: SharedArrayBuffer;
  ops: number;
  live: number;
  interval: number;
  quiet: number;
  checkpoint: number;
  seed: number;
}

export interface AdaptiveResult {
  cpu: number;
  ms: number;
  /** This cpu's limit after each interval of the first quiet phase, the busy one, the last. */
  limits: [number[], number[], number[]];
  /** Failed trylocks of the shared layer in each busy interval. */
  fails: number[];
}

const job = workerData as AdaptiveJob;
const BURST = 64;
const FAILS = 4; // Ac.FAILS: this cpu's failed trylocks of the shared layer
const mm = Kmem.attach(job.buffer);
const cache = mm.findCache("msg");
if (cache === null) throw new Error("no cache msg");
const slab = (mm as unknown as { slab: SlabAllocator }).slab;
const internal = slab.findByName("msg");
const sync = new Int32Array(job.sync);
const rng = new Prng(job.seed);
const live = new Float64Array(job.live);
const picks = new Int32Array(1 << 16);
for (let i = 0; i < picks.length; i++) picks[i] = rng.below(job.live);

/** This cpu's array limit, as slabinfo shows it. */
const limit = (): number =>
  Number(
    mm
      .report("slabinfo")
      .split("\n")
      .find((l) => l.startsWith("msg "))
      ?.match(/tunables +(\d+)/)?.[1],
  );
/** This cpu's failed trylocks so far. */
const failed = (): number =>
  internal === null ? 0 : ((slab.arraysOf(internal)?.ac[FAILS] as number | undefined) ?? 0);

Atomics.add(sync, 0, 1);
Atomics.wait(sync, 1, 0);
for (let i = 0; i < job.live; i++) live[i] = cache.alloc();
const quiet1: number[] = [];
for (let i = 0; i < job.quiet; i++) {
  mm.reap();
  quiet1.push(limit());
}

const busy: number[] = [];
const fails: number[] = [];
let seen = failed();
const t0 = performance.now();
// Bursts: BURST objects allocated, then freed, so that the arrays empty and fill and go
// to the shared layer (a message handler's working set), on top of a churned live set.
const burst = new Float64Array(BURST);
for (let i = 0; i < job.ops; i += 2 * BURST) {
  const k = picks[(i >>> 7) & 0xffff] as number;
  cache.free(live[k] as number);
  live[k] = cache.alloc();
  for (let j = 0; j < BURST; j++) burst[j] = cache.alloc();
  for (let j = 0; j < BURST; j++) cache.free(burst[j] as number);
  if (i % job.interval < 2 * BURST) {
    mm.reap();
    busy.push(limit());
    const f = failed();
    fails.push(f - seen);
    seen = f;
  }
}
const ms = performance.now() - t0;

for (let i = 0; i < job.live; i++) cache.free(live[i] as number);
const quiet2: number[] = [];
for (let i = 0; i < job.quiet; i++) {
  if (i === job.checkpoint) {
    Atomics.add(sync, 2, 1);
    Atomics.notify(sync, 2);
    Atomics.wait(sync, 3, 0);
  }
  mm.reap();
  quiet2.push(limit());
}
const result: AdaptiveResult = {
  cpu: mm.cpu,
  ms,
  limits: [quiet1, busy, quiet2],
  fails,
};
Atomics.add(sync, 4, 1);
Atomics.notify(sync, 4);
parentPort?.postMessage(result);
Atomics.wait(sync, 5, 0);
