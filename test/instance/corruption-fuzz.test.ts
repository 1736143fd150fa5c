/*
 * The corruption fuzz: bytes of every metadata region (header, mem_map frames, cache
 * descriptors, slab pages with their freelists and SLOB headers, page tables, the vmalloc
 * descriptor, the zsmalloc registry, pool descriptors and element arrays) are flipped in
 * snapshots that are then reopened, and in live instances; verify, allocations and frees
 * follow. Every case must end in KmemError CORRUPTION, a refused reopen, or success with
 * verify() passing: never a hang, an engine error (TypeError, RangeError) or another code.
 *
 * Each configuration runs in a worker that reports every case as it ends; a worker that
 * reports nothing for HANG_MS is terminated and the case it was on fails (a hang detector,
 * not a timing assertion: a case takes milliseconds). npm test runs a seeded sample;
 * KMEM_CORRUPTION_CASES=N runs N cases per configuration (see docs/README.md).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import type { FuzzJob, FuzzResult } from "./corruption.worker.js";

const WORKER = new URL("./corruption.worker.js", import.meta.url);
const CASES = Number(process.env.KMEM_CORRUPTION_CASES ?? 150);
const SEED = Number(process.env.KMEM_CORRUPTION_SEED ?? 23);
const HANG_MS = 60_000;

function run(job: FuzzJob): Promise<FuzzResult[]> {
  return new Promise((resolve, reject) => {
    const results: FuzzResult[] = [];
    const w = new Worker(WORKER, { workerData: job });
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        void w.terminate();
        reject(
          new Error(
            `${job.config}: case ${job.first + results.length} (seed ${job.seed}) made no progress: a hang`,
          ),
        );
      }, HANG_MS);
    };
    arm();
    w.on("message", (r: FuzzResult) => {
      results.push(r);
      arm();
    });
    w.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    w.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${job.config}: the worker exited with ${code}`));
      else resolve(results);
    });
  });
}

describe("corruption fuzz", () => {
  for (const config of ["slub", "slub-smp", "slob"] as const) {
    it(`${config}: ${CASES} damaged instances end in CORRUPTION or pass verify()`, async () => {
      const results = await run({ config, seed: SEED, first: 0, count: CASES });
      assert.equal(results.length, CASES);
      const bad = results.filter(
        (r) => r.outcome !== "ok" && r.outcome !== "corruption" && r.outcome !== "refused",
      );
      assert.deepEqual(
        bad.map((r) => `case ${r.i} (${r.live ? "live" : "reopened"}, ${r.region}): ${r.outcome}`),
        [],
      );
    });
  }
});
