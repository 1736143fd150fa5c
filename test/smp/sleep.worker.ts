/*
 * A worker of test/smp/sleep.test.ts. "alloc": an allocation that may sleep, reporting what
 * it got and whether the flag was up when it returned. "free": once the main thread lets it
 * (the flag's second word), raises the flag and frees the pages it was given.
 */

import { parentPort, workerData } from "node:worker_threads";
import { Kmem } from "../../src/index.js";

interface Job {
  buffer: SharedArrayBuffer;
  flag: SharedArrayBuffer;
  kind: "alloc" | "kmalloc" | "free";
  order: number;
  gfp: number;
  waitMs: number;
  pages: number[];
}

const job = workerData as Job;
const mm = Kmem.attach(job.buffer, { allocWaitMs: job.waitMs });
const flag = new Int32Array(job.flag);
Atomics.store(flag, 2, 1); // attached
if (job.kind === "free") {
  while (Atomics.load(flag, 1) === 0) Atomics.wait(flag, 1, 0);
  Atomics.store(flag, 0, 1);
  for (const p of job.pages) mm.freePages(p, 0);
  parentPort?.postMessage({ cpu: mm.cpu });
} else {
  const addr = job.kind === "alloc" ? mm.allocPages(job.order, job.gfp) : mm.kmalloc(64, job.gfp);
  const flagged = Atomics.load(flag, 0) === 1;
  if (addr !== 0) {
    if (job.kind === "alloc") mm.freePages(addr, job.order);
    else mm.kfree(addr);
  }
  parentPort?.postMessage({
    cpu: mm.cpu,
    addr,
    flagged,
    stalls: mm.stats().events.allocstall_normal,
  });
}
