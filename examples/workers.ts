// Workers: one instance in a SharedArrayBuffer; a worker allocates, the main thread frees.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Kmem } from "kmem";

if (isMainThread) {
  const mm = new Kmem({ memory: 8 * 1024 * 1024, cpus: 2 }); // a SharedArrayBuffer, 2 cpus
  const points = mm.createCache("point", 16);
  if (points === null) throw new Error("out of memory");
  const worker = new Worker(new URL(import.meta.url), { workerData: mm.buffer });
  const [cpu, addrs] = await new Promise<[number, number[]]>((ok) => worker.once("message", ok));
  let sum = 0;
  for (const p of addrs) {
    sum += mm.getFloat64(p); // what the worker wrote there
    points.free(p); // a remote free: the object was allocated on the worker's cpu
  }
  console.log(`worker (cpu ${cpu}) made ${addrs.length} points, sum ${sum}; main is cpu ${mm.cpu}`);
  await new Promise((ok) => worker.once("exit", ok));
  mm.offlineCpu(cpu); // give back what the worker's cpu kept cached
  mm.verify();
  console.log(`points live: ${mm.stats().caches.find((c) => c.name === "point")?.activeObjects}`);
} else {
  const mm = Kmem.attach(workerData as SharedArrayBuffer); // its own cpu id, the same caches
  const points = mm.findCache("point");
  if (points === null) throw new Error("no cache named point");
  const addrs = Array.from({ length: 1000 }, (_, i) => {
    const p = points.alloc();
    mm.setFloat64(p, i);
    return p;
  });
  parentPort?.postMessage([mm.cpu, addrs]);
}
