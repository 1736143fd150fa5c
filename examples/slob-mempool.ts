// SLOB for a tiny memory, and a memory pool that keeps working when allocation fails.
import { GFP_ATOMIC, Kmem, type KmemCache } from "kmem";

// 256 KiB managed by SLOB: first fit in 2-byte units, 4 bytes of header per block.
const tiny = new Kmem({ memory: 256 * 1024, slab: "slob" });
const blocks: number[] = [];
for (let i = 0; i < 1000; i++) blocks.push(tiny.kmalloc(20 + (i % 50)));
const payload = blocks.reduce((sum, b) => sum + tiny.ksize(b), 0);
const pages = tiny.stats().slabPages;
console.log(`SLOB: 1000 blocks, ${payload} usable bytes in ${pages} pages`);

// The same blocks under SLUB take more pages (size classes round up).
const slub = new Kmem({ memory: 256 * 1024 });
for (let i = 0; i < 1000; i++) slub.kmalloc(20 + (i % 50));
console.log(`SLUB: the same 1000 blocks in ${slub.stats().slabPages} pages`);

// A mempool over a cache: 8 requests guaranteed even when the allocator fails.
const mm = new Kmem({ memory: 4 * 1024 * 1024 });
const requests = mm.createCache("request", 256) as KmemCache;
const pool = mm.createMempool(8, requests);
if (pool === null) throw new Error("out of memory");
mm.setFault("failslab", { probability: 100, interval: 1, times: -1, ignoreGfpWait: false });
const got: number[] = [];
for (let i = 0; i < 10; i++) got.push(pool.alloc(GFP_ATOMIC));
console.log(
  `allocator failing: ${got.filter((a) => a !== 0).length} of 10 served, from the reserve`,
);
mm.setFault("failslab", null);
for (const a of got) if (a !== 0) pool.free(a); // refills the reserve first
console.log(`reserve after the frees: ${pool.currNr}/${pool.minNr}`);
pool.destroy();
mm.verify();
