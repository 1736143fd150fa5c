/*
 * Workers over one SharedArrayBuffer: throughput of kmalloc/kfree with one and two workers,
 * producer/consumer cross-worker frees, and the same with per-cpu caching switched off.
 * mitata measures one thread; these runs start workers at a shared start line and time
 * them (bench/smp-worker.ts), keeping per case the best of several rounds.
 */

import { Worker } from "node:worker_threads";
import { Kmem } from "../src/index.js";
import type { SmpJob } from "./smp-worker.js";

const WORKER = new URL("./smp-worker.js", import.meta.url);
const HEAP = 64 * 2 ** 20;

interface Done {
  ms: number;
  cpu: number;
}

/** Runs the jobs in workers from one start line; returns their times. */
async function race(mm: Kmem | null, jobs: Omit<SmpJob, "start" | "buffer" | "heap">[]) {
  const start = new SharedArrayBuffer(8);
  const flags = new Int32Array(start);
  const done = jobs.map(
    (j) =>
      new Promise<Done>((resolve, reject) => {
        const job: SmpJob = {
          ...j,
          buffer: mm === null ? null : (mm.buffer as SharedArrayBuffer),
          heap: HEAP,
          start,
        };
        const w = new Worker(WORKER, { workerData: job });
        w.once("message", resolve);
        w.once("error", reject);
      }),
  );
  while (Atomics.load(flags, 0) < jobs.length) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  const results = await Promise.all(done);
  // Let the workers exit, then hand their cpus back.
  await new Promise((resolve) => setTimeout(resolve, 20));
  if (mm !== null) for (const r of results) mm.offlineCpu(r.cpu);
  return results;
}

function instance(percpu: boolean, slab: "slub" | "slab" | "slob" = "slub"): Kmem {
  return new Kmem({ memory: HEAP, cpus: 3, percpu, slab });
}

/**
 * Million operations per second of each case, the best of `rounds`, the cases interleaved
 * round by round (load from elsewhere on a shared machine only ever slows a run down, and
 * interleaving spreads it over every case).
 */
async function best(rounds: number, cases: (() => Promise<number>)[]): Promise<number[]> {
  const top = cases.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < cases.length; i++) {
      top[i] = Math.max(top[i] as number, await (cases[i] as () => Promise<number>)());
    }
  }
  return top;
}

const OPS = 1_000_000;

async function churn(
  workers: number,
  percpu: boolean | null,
  slab: "slub" | "slab" | "slob" = "slub",
): Promise<number> {
  const mm = percpu === null ? null : instance(percpu, slab);
  const jobs = Array.from({ length: workers }, (_, i) => ({
    kind: "churn" as const,
    ops: OPS,
    seed: 11 + i,
    ring: null,
  }));
  const res = await race(mm, jobs);
  return (workers * OPS) / Math.max(...res.map((r) => r.ms)) / 1000;
}

async function pair(percpu: boolean): Promise<number> {
  const res = await race(instance(percpu), [{ kind: "pair", ops: OPS, seed: 1, ring: null }]);
  return OPS / (res[0] as Done).ms / 1000;
}

async function prodcons(percpu: boolean, slab: "slub" | "slab" | "slob" = "slub"): Promise<number> {
  const ring = new SharedArrayBuffer((2 + 1024) * 4);
  const res = await race(instance(percpu, slab), [
    { kind: "produce", ops: OPS, seed: 1, ring },
    { kind: "consume", ops: OPS, seed: 2, ring },
  ]);
  return OPS / Math.max(...res.map((r) => r.ms)) / 1000;
}

function fmt(x: number): string {
  return x.toFixed(2);
}

/** Runs every case and prints Markdown tables (when `filter` matches "smp" or "workers"). */
export async function runSmpBenchmarks(rounds: number): Promise<string> {
  const lines: string[] = [];
  const [one, two, oneOff, twoOff, solo, soloTwo] = (await best(rounds, [
    () => churn(1, true),
    () => churn(2, true),
    () => churn(1, false),
    () => churn(2, false),
    () => churn(1, null),
    () => churn(2, null),
  ])) as [number, number, number, number, number, number];
  lines.push(
    "### kmalloc/kfree churn in workers (1000 live blocks of 8..512 B each; M ops/s, best of " +
      `${rounds})`,
    "",
    "| instance | 1 worker | 2 workers | 2 workers / 1 |",
    "| --- | ---: | ---: | ---: |",
    `| cpus: 3, SharedArrayBuffer | ${fmt(one)} | ${fmt(two)} | ${fmt(two / one)}× |`,
    `| cpus: 3, percpu: false | ${fmt(oneOff)} | ${fmt(twoOff)} | ${fmt(twoOff / oneOff)}× |`,
    `| cpus: 1, an ArrayBuffer instance per worker (nothing shared: the machine's ceiling) | ${fmt(solo)} | ${fmt(soloTwo)} | ${fmt(soloTwo / solo)}× |`,
    "",
  );
  const [p, pOff, pc, pcOff] = (await best(rounds, [
    () => pair(true),
    () => pair(false),
    () => prodcons(true),
    () => prodcons(false),
  ])) as [number, number, number, number];
  lines.push(
    "### kmalloc(64) allocated in one worker, freed in another (M objects/s, best of " +
      `${rounds})`,
    "",
    "| case | percpu: true | percpu: false |",
    "| --- | ---: | ---: |",
    `| same worker: kmalloc(64)+kfree pairs | ${fmt(p)} | ${fmt(pOff)} |`,
    `| producer worker -> ring -> consumer worker frees | ${fmt(pc)} | ${fmt(pcOff)} |`,
    "",
  );
  return lines.join("\n");
}

/* ------------------------------------------------------------------ the slab allocators */

/**
 * The churn and producer/consumer cases of runSmpBenchmarks with kmalloc over SLUB, SLAB and
 * SLOB (per-cpu caching on), the cases interleaved round by round; Markdown.
 */
export async function runSmpSlabBenchmarks(rounds: number): Promise<string> {
  const kinds = ["slub", "slab", "slob"] as const;
  const cases = kinds.flatMap((k) => [
    () => churn(1, true, k),
    () => churn(2, true, k),
    () => prodcons(true, k),
  ]);
  const r = await best(rounds, cases);
  const lines = [
    `### Workers and the slab allocators (cpus: 3, SharedArrayBuffer; M ops/s, best of ${rounds})`,
    "",
    "| kmalloc over | churn, 1 worker | churn, 2 workers | 2 workers / 1 | producer -> consumer frees (M objects/s) |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  kinds.forEach((k, i) => {
    const [one, two, pc] = r.slice(3 * i, 3 * i + 3) as [number, number, number];
    lines.push(
      `| ${k.toUpperCase()} | ${fmt(one)} | ${fmt(two)} | ${fmt(two / one)}× | ${fmt(pc)} |`,
    );
  });
  lines.push("");
  return lines.join("\n");
}
