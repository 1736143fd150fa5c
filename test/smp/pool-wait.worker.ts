/*
 * A worker of test/smp/pool-wait.test.ts. "alloc": a pool allocation that may sleep, with
 * failslab on so that only the pool's reserve can serve it; reports what it got, whether the
 * flag was up when it returned, and gives the element back. "free": after `delayMs`, raises
 * the flag and frees the elements it was given to the pool.
 */

import { parentPort, workerData } from "node:worker_threads";
import { Kmem } from "../../src/index.js";

interface Job {
  buffer: SharedArrayBuffer;
  flag: SharedArrayBuffer;
  pool: number;
  kind: "alloc" | "free";
  gfp: number;
  waitMs: number;
  elements: number[];
}

const job = workerData as Job;
const mm = Kmem.attach(job.buffer, { allocWaitMs: job.waitMs });
const pool = mm.openMempool(job.pool);
const flag = new Int32Array(job.flag);
Atomics.add(flag, 2, 1); // attached
if (job.kind === "free") {
  while (Atomics.load(flag, 1) === 0) Atomics.wait(flag, 1, 0);
  Atomics.store(flag, 0, 1);
  for (const el of job.elements) pool.free(el);
  parentPort?.postMessage({ cpu: mm.cpu });
} else {
  mm.setFault("failslab", { probability: 100, interval: 1, times: -1, ignoreGfpWait: false });
  const addr = pool.alloc(job.gfp);
  const flagged = Atomics.load(flag, 0) === 1;
  mm.setFault("failslab", null);
  // Tell the main thread the element is back before it looks at the pool.
  if (addr !== 0) pool.free(addr);
  parentPort?.postMessage({ cpu: mm.cpu, addr, flagged });
}
