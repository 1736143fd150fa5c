/*
 * A worker of bench/smp.ts: opens the instance (or makes one of its own), prepares its
 * workload, waits at the start line, runs, and posts how long the run took.
 *
 *   start (i32): 0 ready count (Atomics.add by each worker), 1 go flag (main: store + notify)
 *   ring  (i32): 0 head, 1 tail, 2.. addresses   (one producer, one consumer)
 */

import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { Prng } from "kmem-workbench";
import { Kmem } from "../src/index.js";

export interface SmpJob {
  /** The instance's buffer, or null to make a one-cpu instance of `heap` bytes here. */
  buffer: SharedArrayBuffer | null;
  heap: number;
  kind: "churn" | "pair" | "produce" | "consume";
  ops: number;
  seed: number;
  start: SharedArrayBuffer;
  ring: SharedArrayBuffer | null;
}

const job = workerData as SmpJob;
const mm = job.buffer === null ? new Kmem({ memory: job.heap }) : Kmem.attach(job.buffer);
const start = new Int32Array(job.start);
const LIVE = 1000;
const RING = 1024;

// Prepared before the start line: the churn's live set and its random sequence.
const rng = new Prng(job.seed);
const slots = new Float64Array(LIVE);
const sizes = new Int32Array(1 << 16);
const picks = new Int32Array(1 << 16);
if (job.kind === "churn") {
  for (let i = 0; i < LIVE; i++) slots[i] = mm.kmalloc(8 + rng.below(505));
  for (let i = 0; i < sizes.length; i++) {
    sizes[i] = 8 + rng.below(505);
    picks[i] = rng.below(LIVE);
  }
}

function churn(n: number): void {
  const mask = sizes.length - 1;
  for (let i = 0; i < n; i++) {
    const k = picks[i & mask] as number;
    mm.kfree(slots[k] as number);
    const a = mm.kmalloc(sizes[i & mask] as number);
    if (a === 0) throw new Error("out of memory in churn");
    slots[k] = a;
  }
}

function pair(n: number): void {
  for (let i = 0; i < n; i++) mm.kfree(mm.kmalloc(64));
}

function produce(n: number, ring: Int32Array): void {
  let tail = 0;
  for (let i = 0; i < n; i++) {
    const a = mm.kmalloc(64);
    if (a === 0) throw new Error("out of memory in produce");
    while (tail - Atomics.load(ring, 0) >= RING);
    ring[2 + (tail % RING)] = a;
    Atomics.store(ring, 1, ++tail);
  }
}

function consume(n: number, ring: Int32Array): void {
  let head = 0;
  for (let i = 0; i < n; i++) {
    while (Atomics.load(ring, 1) === head);
    mm.kfree(ring[2 + (head % RING)] as number);
    Atomics.store(ring, 0, ++head);
  }
}

// Warm up the code paths, then wait at the start line.
if (job.kind === "churn") churn(20000);
else if (job.kind === "pair") pair(20000);
Atomics.add(start, 0, 1);
Atomics.notify(start, 0);
Atomics.wait(start, 1, 0);
const t0 = performance.now();
if (job.kind === "churn") churn(job.ops);
else if (job.kind === "pair") pair(job.ops);
else if (job.kind === "produce") produce(job.ops, new Int32Array(job.ring as SharedArrayBuffer));
else consume(job.ops, new Int32Array(job.ring as SharedArrayBuffer));
const ms = performance.now() - t0;
if (job.kind === "churn") for (const a of slots) mm.kfree(a);
parentPort?.postMessage({ ms, cpu: mm.cpu });
