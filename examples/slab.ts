// Slab caches: objects of one kind, constructed once, from slabs of their own.
import { Kmem, KmemError, SLAB_HWCACHE_ALIGN } from "kmem";

const mm = new Kmem({ memory: 16 * 1024 * 1024 });

// 3-float vectors, constructed once per object: a freed vector keeps its state.
const vec3 = mm.createCache("vec3", 12, {
  flags: SLAB_HWCACHE_ALIGN,
  ctor: (addr) => new Float32Array(mm.memory.buffer, addr, 3).fill(1),
});
if (vec3 === null) throw new Error("out of memory");
console.log(`object ${vec3.objectSize} bytes, slot ${vec3.size} bytes`);
const vectors = Array.from({ length: 300 }, () => vec3.alloc());
const v = vectors[0] as number;
console.log(`vec3 at 0x${v.toString(16)}: ${new Float32Array(mm.memory.buffer, v, 3).join(",")}`);

// Caches without constructor or debugging share a compatible cache, as SLUB merges them.
const pair = mm.createCache("pair", 16);
const edge = mm.createCache("edge", 16);
if (pair === null || edge === null) throw new Error("out of memory");
const e = edge.alloc();
try {
  vec3.free(e); // an object of another cache: refused
} catch (err) {
  if (err instanceof KmemError) console.log(err.message);
}
edge.free(e);

try {
  vec3.destroy(); // objects are live: refused, the cache stays usable
} catch (err) {
  if (err instanceof KmemError) console.log(err.message);
}
for (const p of vectors) vec3.free(p);
console.log(`shrink: ${vec3.shrink()} pages back to the page allocator`);
mm.verify();
const lines = mm.report("slabinfo").split("\n");
console.log(lines.filter((l) => /^(# name|vec3|pair|edge|# alias)/.test(l)).join("\n"));
