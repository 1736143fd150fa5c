/*
 * The other context of test/slab/adaptive.test.ts: attaches, and on each request takes
 * node 0's list_lock of the cache "m" (the lock that guards the shared array), says so,
 * and gives it back once the main thread waits for it (the lock word's CONTENDED bit).
 *
 *   sync (i32): 0 requests, 1 locks taken, 2 locks given back, 3 stop flag
 */

import { parentPort, workerData } from "node:worker_threads";
import { Kmem } from "../../src/index.js";
import type { SlabAllocator } from "../../src/slab/index.js";

const CONTENDED = 1 << 30;
const { buffer, sync } = workerData as { buffer: SharedArrayBuffer; sync: SharedArrayBuffer };
const s = new Int32Array(sync);
const mm = Kmem.attach(buffer);
const slab = (mm as unknown as { slab: SlabAllocator }).slab;
const c = slab.findByName("m");
if (c === null) throw new Error("no cache m");
const at = slab.lockAt[0] as number;
parentPort?.postMessage({ cpu: mm.cpu });

for (let k = 1; ; k++) {
  while (Atomics.load(s, 0) < k && Atomics.load(s, 3) === 0) Atomics.wait(s, 0, k - 1, 50);
  if (Atomics.load(s, 3) !== 0) break;
  slab.lockNode(c, 0);
  Atomics.store(s, 1, k);
  Atomics.notify(s, 1);
  // Held until the main thread has failed its trylock and waits (no timing: the bit).
  while ((Atomics.load(c.dv, at) & CONTENDED) === 0) Atomics.wait(s, 3, 0, 1);
  slab.unlockNode(c, 0);
  Atomics.store(s, 2, k);
  Atomics.notify(s, 2);
}
parentPort?.postMessage({ cpu: mm.cpu, done: true });
