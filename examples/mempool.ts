// A memory pool: a reserve of elements that keeps requests going when allocation fails.
import { GFP_ATOMIC, Kmem } from "kmem";

const mm = new Kmem({ memory: 4 * 1024 * 1024 });
const requests = mm.createCache("request", 256);
if (requests === null) throw new Error("out of memory");
const pool = mm.createMempool(8, requests); // 8 requests guaranteed
if (pool === null) throw new Error("out of memory");

// Make every slab allocation fail, as failslab does.
mm.setFault("failslab", { probability: 100, interval: 1, times: -1, ignoreGfpWait: false });
const got = Array.from({ length: 10 }, () => pool.alloc(GFP_ATOMIC));
console.log(
  `allocator failing: ${got.filter((a) => a !== 0).length} of 10 served, from the reserve`,
);
mm.setFault("failslab", null);

for (const a of got) if (a !== 0) pool.free(a); // refills the reserve first
console.log(`reserve after the frees: ${pool.currNr}/${pool.minNr}`);
pool.destroy();
mm.verify();
