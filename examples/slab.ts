// Slab caches and kmalloc: objects of one kind from a cache, any size from kmalloc.
import { Kmem, KmemError, SLAB_HWCACHE_ALIGN } from "kmem";

const mm = new Kmem({ memory: 16 * 1024 * 1024 });

// A cache of 3-float vectors, constructed once per object: a freed vector keeps its state.
const vec3 = mm.createCache("vec3", 12, {
  flags: SLAB_HWCACHE_ALIGN,
  ctor: (addr) => new Float32Array(mm.memory.buffer, addr, 3).fill(1),
});
if (vec3 === null) throw new Error("out of memory");
const v = vec3.alloc();
console.log(`vec3 at 0x${v.toString(16)}: ${new Float32Array(mm.memory.buffer, v, 3).join(",")}`);
console.log(`object ${vec3.objectSize} bytes, slot ${vec3.size} bytes`);
vec3.free(v);

// kmalloc: size classes 8..8192, larger from whole pages.
const small = mm.kmalloc(100); // from kmalloc-128
const grown = mm.krealloc(small, 180); // moves to kmalloc-192, contents copied
console.log(`ksize(kmalloc(100)): 128; after krealloc(180): ${mm.ksize(grown)}`);
const table = mm.kcalloc(1000, 8); // zeroed, 8000 bytes from kmalloc-8k
console.log(`kcalloc(1000, 8): ${mm.ksize(table)} usable bytes, zeroed`);
mm.kfree(grown);
mm.kfree(table);

// Misuse is caught before any state changes.
try {
  mm.kfree(grown);
} catch (err) {
  if (err instanceof KmemError) console.log(err.message); // "DOUBLE_FREE: kmalloc-192: ..."
}
mm.verify();
console.log(
  mm
    .report("slabinfo")
    .split("\n")
    .filter((l) => /^(# name|vec3|kmalloc-(128|192|8k) )/.test(l))
    .join("\n"),
);
