// SLOB for a tiny memory: first fit in 2-byte units, no size classes to round up to.
import { Kmem } from "kmem";

const sizes = Array.from({ length: 1000 }, (_, i) => 20 + (i % 50));

// 256 KiB managed by SLOB, a 4-byte header per block.
const slob = new Kmem({ memory: 256 * 1024, slab: "slob" });
const blocks = sizes.map((n) => slob.kmalloc(n));
const usable = blocks.reduce((sum, b) => sum + slob.ksize(b), 0);
console.log(`SLOB: 1000 blocks, ${usable} usable bytes in ${slob.stats().slabPages} pages`);

// The same blocks under SLUB take more pages: each rounds up to its size class.
const slub = new Kmem({ memory: 256 * 1024 });
for (const n of sizes) slub.kmalloc(n);
console.log(`SLUB: the same 1000 blocks in ${slub.stats().slabPages} pages`);

for (const b of blocks) slob.kfree(b); // an empty page goes back at once
console.log(`SLOB after the frees: ${slob.stats().slabPages} pages`);
slob.verify();
