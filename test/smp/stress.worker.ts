/* A worker of test/smp/workers.test.ts: attaches to the instance and runs its share. */

import { parentPort, workerData } from "node:worker_threads";
import { Kmem } from "../../src/index.js";
import { type StressConfig, stress } from "./stress.js";

const data = workerData as { buffers: SharedArrayBuffer[]; cfg: StressConfig; waitMs: number };
const mm = Kmem.attach(data.buffers, { allocWaitMs: data.waitMs });
const result = stress(mm, data.cfg);
parentPort?.postMessage({ cpu: mm.cpu, result });
