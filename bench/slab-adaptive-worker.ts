/*
 * A worker of bench/slab-adaptive.ts: attaches, waits at the start line, hammers the cache
 * "msg" (bursts of 64 allocations then 64 frees over a churned live set) ending an interval
 * (mm.reap()) every INTERVAL operations, frees its live set, ends QUIET idle intervals, reports, and waits for
 * the main thread to have read the instance before it exits.
 *
 *   sync (i32): 0 ready count, 1 go flag, 2 quiet-phase count, 3 exit flag
 */

import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { Prng } from "kmem-workbench";
import { Kmem } from "../src/index.js";

export interface AdaptiveJob {
  buffer: SharedArrayBuffer;
  sync: SharedArrayBuffer;
  ops: number;
  live: number;
  interval: number;
  quiet: number;
  seed: number;
}

const job = workerData as AdaptiveJob;
const BURST = 64;
const mm = Kmem.attach(job.buffer);
const cache = mm.findCache("msg");
if (cache === null) throw new Error("no cache msg");
const sync = new Int32Array(job.sync);
const rng = new Prng(job.seed);
const live = new Float64Array(job.live);
const picks = new Int32Array(1 << 16);
for (let i = 0; i < picks.length; i++) picks[i] = rng.below(job.live);
for (let i = 0; i < job.live; i++) live[i] = cache.alloc();

Atomics.add(sync, 0, 1);
Atomics.wait(sync, 1, 0);
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
  if (i % job.interval < 2 * BURST) mm.reap();
}
const ms = performance.now() - t0;
/** This cpu's array limit, as slabinfo shows it. */
const limit = () =>
  Number(
    mm
      .report("slabinfo")
      .split("\n")
      .find((l) => l.startsWith("msg "))
      ?.match(/tunables +(\d+)/)?.[1],
  );
const busyLimit = limit();
for (let i = 0; i < job.live; i++) cache.free(live[i] as number);
for (let i = 0; i < job.quiet; i++) mm.reap();
const quietLimit = limit();
Atomics.add(sync, 2, 1);
Atomics.notify(sync, 2);
parentPort?.postMessage({ ms, cpu: mm.cpu, busyLimit, quietLimit });
Atomics.wait(sync, 3, 0);
