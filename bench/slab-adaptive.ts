/*
 * SLAB's adaptive magazines against fixed arrays (issue 18, part 4), a workload whose load
 * changes: quiet (nothing runs), busy (WORKERS workers hammer one 64-byte cache in bursts, each ending
 * an interval with mm.reap() every INTERVAL operations), quiet again (each worker ends QUIET
 * idle intervals). Reported per configuration, the median of ROUNDS rounds: throughput in the
 * busy phase (million operations per second, all workers) and the memory the cache holds in
 * the quiet phase after (its slab pages, and the free objects kept in slabs and arrays).
 *
 *   npm run build && node dist/bench/slab-adaptive.js [ROUNDS]
 *
 * Intervals are counted in operations, never in time; only the throughput is timed.
 */

import { Worker } from "node:worker_threads";
import { Kmem } from "../src/index.js";
import type { AdaptiveJob } from "./slab-adaptive-worker.js";

const WORKER = new URL("./slab-adaptive-worker.js", import.meta.url);
const WORKERS = 3;
const OPS = 400_000;
const LIVE = 2000;
const INTERVAL = 50_000;
const QUIET = 2;
const ROUNDS = Number(process.argv[2] ?? 3);

interface Outcome {
  mops: number;
  pages: number;
  freeObjects: number;
  limit: string;
}

async function round(adaptive: boolean, seed: number): Promise<Outcome> {
  const mm = new Kmem({ memory: 64 << 20, cpus: WORKERS + 1, slab: "slab", adaptive });
  if (mm.createCache("msg", 64) === null) throw new Error("no memory");
  const sync = new SharedArrayBuffer(16);
  const s = new Int32Array(sync);
  const results = Array.from({ length: WORKERS }, (_, w) => {
    const job: AdaptiveJob = {
      buffer: mm.buffer as SharedArrayBuffer,
      sync,
      ops: OPS,
      live: LIVE,
      interval: INTERVAL,
      quiet: QUIET,
      seed: seed * 16 + w,
    };
    const worker = new Worker(WORKER, { workerData: job });
    return new Promise<{ ms: number; cpu: number; busyLimit: number; quietLimit: number }>(
      (resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
      },
    );
  });
  while (Atomics.load(s, 0) < WORKERS) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(s, 1, 1);
  Atomics.notify(s, 1);
  const done = await Promise.all(results);
  while (Atomics.load(s, 2) < WORKERS) await new Promise((r) => setTimeout(r, 5));
  const info = mm.stats().caches.find((c) => c.name === "msg");
  Atomics.store(s, 3, 1);
  Atomics.notify(s, 3);
  await new Promise((r) => setTimeout(r, 20));
  for (const d of done) mm.offlineCpu(d.cpu);
  mm.verify();
  const ms = Math.max(...done.map((d) => d.ms));
  return {
    mops: (WORKERS * OPS) / ms / 1000,
    pages: (info?.slabs ?? 0) * (info?.pagesPerSlab ?? 1),
    freeObjects: (info?.totalObjects ?? 0) - (info?.activeObjects ?? 0),
    limit: `${done.map((d) => d.busyLimit).join(",")} busy, ${done.map((d) => d.quietLimit).join(",")} quiet`,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const rows: string[] = [];
const all: Record<string, Outcome[]> = { fixed: [], adaptive: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const adaptive of [false, true])
    all[adaptive ? "adaptive" : "fixed"]?.push(await round(adaptive, r));
}
for (const [name, outs] of Object.entries(all)) {
  rows.push(
    `${name.padEnd(9)} busy ${median(outs.map((o) => o.mops)).toFixed(2)} M ops/s` +
      `   quiet: ${median(outs.map((o) => o.pages))} pages, ${median(outs.map((o) => o.freeObjects))} free objects held` +
      `   (workers' limits: ${outs[0]?.limit})`,
  );
}
console.log(
  `SLAB, ${WORKERS} workers x ${OPS} ops on one 64-byte cache (live ${LIVE} each), reap every ${INTERVAL} ops, ${QUIET} idle intervals after; median of ${ROUNDS}`,
);
for (const r of rows) console.log(r);
