// Workers: one instance in a SharedArrayBuffer, allocated from the main thread and a worker
// at once; objects made in one thread are freed in the other.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Kmem } from "kmem";

if (isMainThread) {
  const mm = new Kmem({ memory: 8 * 1024 * 1024, cpus: 2 }); // a SharedArrayBuffer, 2 contexts
  const points = mm.createCache("point", 16);
  if (points === null) throw new Error("out of memory");
  const ring = new Int32Array(new SharedArrayBuffer(4 * 1001)); // [count, addresses...]

  const worker = new Worker(new URL(import.meta.url), {
    workerData: { buffer: mm.buffer, ring: ring.buffer },
  });
  const [cpu, sum] = await new Promise<[number, number]>((resolve) =>
    worker.once("message", resolve),
  );
  console.log(`worker was cpu ${cpu}; main thread is cpu ${mm.cpu}`);
  // Free here what the worker allocated there (remote frees), checking what it wrote.
  const f64 = new Float64Array(mm.memory.buffer);
  let check = 0;
  for (let i = 0; i < (ring[0] as number); i++) {
    const p = ring[1 + i] as number;
    check += f64[p / 8] as number;
    points.free(p);
  }
  console.log(`received ${ring[0]} points, sum ${check} (worker said ${sum})`);
  await new Promise((resolve) => worker.once("exit", resolve));
  mm.offlineCpu(cpu); // give back what the worker's cpu kept cached
  mm.verify();
  console.log(
    `point objects live: ${mm.stats().caches.find((c) => c.name === "point")?.activeObjects}`,
  );
} else {
  const data = workerData as { buffer: SharedArrayBuffer; ring: SharedArrayBuffer };
  const mm = Kmem.attach(data.buffer); // its own cpu id, the same caches
  const points = mm.findCache("point");
  if (points === null) throw new Error("no cache named point");
  const ring = new Int32Array(data.ring);
  const f64 = new Float64Array(mm.memory.buffer);
  let sum = 0;
  for (let i = 0; i < 1000; i++) {
    const p = points.alloc();
    f64[p / 8] = i;
    sum += i;
    ring[1 + i] = p;
  }
  Atomics.store(ring, 0, 1000);
  parentPort?.postMessage([mm.cpu, sum]);
}
