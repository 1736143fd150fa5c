// Linux's SLAB: per-cpu array caches with tunables, cache_reap, and adaptive magazines.
import { Kmem } from "kmem";

const mm = new Kmem({ memory: 4 << 20, slab: "slab" });
const cache = mm.createCache("session", 96);
if (cache === null) throw new Error("no memory");

const line = (name: string) =>
  mm
    .report("slabinfo")
    .split("\n")
    .find((l) => l.startsWith(name + " "));

// 500 objects in and out: the frees fill this cpu's array (limit 120, batchcount 60).
const objs = Array.from({ length: 500 }, () => cache.alloc());
for (const o of objs) cache.free(o);
console.log(line("session"));

// echo "session 24 12 0" > /proc/slabinfo, and the refusals Linux gives.
mm.tuneCache("session", { limit: 24, batchcount: 12, shared: 0 });
console.log(line("session"));
try {
  mm.tuneCache("session", { limit: 8, batchcount: 9, shared: 0 });
} catch (e) {
  console.log((e as Error).message);
}

// cache_reap: the first round finds the array touched, the next ones drain it a fifth of
// its limit at a time, and give empty slabs back.
for (let round = 1; round <= 4; round++) {
  const { objects, pages } = mm.reap();
  console.log(`reap ${round}: ${objects} objects, ${pages} pages given back`);
}

// Adaptive: the array grows a magazine size when the shared layer's lock is contended,
// and shrinks one size per idle interval (an interval ends at each reap).
const adaptive = new Kmem({ memory: 4 << 20, slab: "slab", adaptive: true });
const a = adaptive.createCache("msg", 64);
a?.free(a.alloc());
const limit = () =>
  adaptive
    .report("slabinfo")
    .split("\n")
    .find((l) => l.startsWith("msg "))
    ?.match(/tunables +(\d+)/)?.[1];
console.log(`adaptive: starts at ${limit()} objects per cpu`);
adaptive.reap();
adaptive.reap();
console.log(`after the interval it was used in and one idle interval: ${limit()}`);
mm.verify();
adaptive.verify();
