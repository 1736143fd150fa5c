/*
 * SLAB's adaptive magazines against fixed arrays (issue 18, part 4), a workload whose load
 * changes: quiet (each worker ends QUIET idle intervals), busy (WORKERS workers hammer one
 * 64-byte cache in bursts, each ending an interval with mm.reap() every INTERVAL
 * operations), quiet again (each worker frees its live set and ends QUIET idle intervals).
 * Reported per configuration, the median of ROUNDS rounds: throughput in the busy phase
 * (million operations per second, all workers) and the memory the cache holds in the
 * quiet phase after (its slab pages, and the free objects kept in slabs and arrays) after
 * CHECKPOINT idle intervals and after QUIET; then, for the last adaptive round, each
 * worker's limit (as its slabinfo shows it) through the phases and its failed trylocks of
 * the shared layer per busy interval.
 *
 *   npm run build && node dist/bench/slab-adaptive.js [ROUNDS] [WORKERS] [INTERVAL]
 *
 * Intervals are counted in operations, never in time; only the throughput is timed.
 */

import { Worker } from "node:worker_threads";
import { Kmem } from "../src/index.js";
import type { AdaptiveJob, AdaptiveResult } from "./slab-adaptive-worker.js";

const WORKER = new URL("./slab-adaptive-worker.js", import.meta.url);
const ROUNDS = Number(process.argv[2] ?? 3);
const WORKERS = Number(process.argv[3] ?? 3);
const INTERVAL = Number(process.argv[4] ?? 10_000);
const OPS = 400_000;
const LIVE = 2000;
const QUIET = 8;
const CHECKPOINT = 2;

interface Held {
  pages: number;
  freeObjects: number;
}

interface Outcome {
  mops: number;
  early: Held;
  late: Held;
  workers: AdaptiveResult[];
}

function held(mm: Kmem): Held {
  const info = mm.stats().caches.find((c) => c.name === "msg");
  return {
    pages: (info?.slabs ?? 0) * (info?.pagesPerSlab ?? 1),
    freeObjects: (info?.totalObjects ?? 0) - (info?.activeObjects ?? 0),
  };
}

async function until(s: Int32Array, i: number, n: number): Promise<void> {
  while (Atomics.load(s, i) < n) await new Promise((r) => setTimeout(r, 5));
}

async function round(adaptive: boolean, seed: number): Promise<Outcome> {
  const mm = new Kmem({ memory: 64 << 20, cpus: WORKERS + 1, slab: "slab", adaptive });
  if (mm.createCache("msg", 64) === null) throw new Error("no memory");
  const sync = new SharedArrayBuffer(24);
  const s = new Int32Array(sync);
  const results = Array.from({ length: WORKERS }, (_, w) => {
    const job: AdaptiveJob = {
      buffer: mm.buffer as SharedArrayBuffer,
      sync,
      ops: OPS,
      live: LIVE,
      interval: INTERVAL,
      quiet: QUIET,
      checkpoint: CHECKPOINT,
      seed: seed * 16 + w,
    };
    const worker = new Worker(WORKER, { workerData: job });
    return new Promise<AdaptiveResult>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
  });
  await until(s, 0, WORKERS);
  Atomics.store(s, 1, 1);
  Atomics.notify(s, 1);
  await until(s, 2, WORKERS);
  const early = held(mm);
  Atomics.store(s, 3, 1);
  Atomics.notify(s, 3);
  await until(s, 4, WORKERS);
  const done = await Promise.all(results);
  const late = held(mm);
  Atomics.store(s, 5, 1);
  Atomics.notify(s, 5);
  await new Promise((r) => setTimeout(r, 20));
  for (const d of done) mm.offlineCpu(d.cpu);
  mm.verify();
  const ms = Math.max(...done.map((d) => d.ms));
  return { mops: (WORKERS * OPS) / ms / 1000, early, late, workers: done };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** A run of equal values as one, e.g. 15 7 3 1 1 -> 15 7 3 1 (x2). */
function steps(xs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j < xs.length && xs[j] === xs[i]) j++;
    out.push(j - i > 1 ? `${xs[i]}x${j - i}` : `${xs[i]}`);
    i = j;
  }
  return out.join(" ");
}

const all: Record<string, Outcome[]> = { fixed: [], adaptive: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const adaptive of [false, true])
    all[adaptive ? "adaptive" : "fixed"]?.push(await round(adaptive, r));
}
console.log(
  `SLAB, ${WORKERS} workers x ${OPS} ops on one 64-byte cache (live ${LIVE} each), an interval (reap) every ${INTERVAL} ops, ${QUIET} idle intervals before and after; median of ${ROUNDS}`,
);
for (const [name, outs] of Object.entries(all)) {
  const m = (f: (o: Outcome) => number) => median(outs.map(f));
  console.log(
    `${name.padEnd(9)} busy ${m((o) => o.mops).toFixed(2)} M ops/s` +
      `   quiet after ${CHECKPOINT}: ${m((o) => o.early.pages)} pages, ${m((o) => o.early.freeObjects)} free objects` +
      `   after ${QUIET}: ${m((o) => o.late.pages)} pages, ${m((o) => o.late.freeObjects)} free objects`,
  );
}
const last = all["adaptive"]?.at(-1);
for (const w of last?.workers ?? []) {
  const [q1, busy, q2] = w.limits;
  console.log(
    `cpu ${w.cpu} limits: quiet ${steps(q1)} | busy ${steps(busy)} | quiet ${steps(q2)}` +
      `   failed trylocks per busy interval: ${steps(w.fails)}`,
  );
}
