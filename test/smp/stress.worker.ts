/* A worker of test/smp/workers.test.ts: attaches to the instance and runs its share. */

import { parentPort, workerData } from "node:worker_threads";
import { Kmem } from "../../src/index.js";
import { Ring, type StressConfig, stress } from "./stress.js";

const data = workerData as { buffers: SharedArrayBuffer[]; cfg: StressConfig; waitMs: number };
try {
  const mm = Kmem.attach(data.buffers, { allocWaitMs: data.waitMs });
  const result = stress(mm, data.cfg);
  parentPort?.postMessage({ cpu: mm.cpu, result });
} catch (err) {
  // Done sending, so that the participant draining this worker's ring stops waiting for it
  // (it would spin forever); the error then fails the test through the worker's exit.
  Atomics.store(new Int32Array(data.cfg.out), Ring.DONE, 1);
  throw err;
}
