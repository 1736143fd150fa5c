// zsmalloc: objects up to a page in size classes over chains of order-0 pages; handles, not addresses.
import { Kmem } from "kmem";

const mm = new Kmem({ memory: 16 * 1024 * 1024 });
const pool = mm.createZsPool("example");
if (pool === null) throw new Error("out of memory");
console.log(
  `huge_class_size ${pool.hugeClassSize}, a 1000-byte object goes to class ${pool.classIndex(1000)}`,
);

const handles: number[] = [];
for (let i = 0; i < 600; i++) {
  const h = pool.malloc(200 + (i % 3) * 800);
  const at = pool.map(h, "wo"); // an address in memory: the object, or this cpu's copy of it
  mm.memory.fill(i & 0xff, at, at + 200);
  pool.unmap(h); // copies back an object that spans two pages
  handles.push(h);
}
for (let i = 0; i < handles.length; i++) if (i % 4 !== 0) pool.free(handles[i]!);
console.log(
  `${pool.totalPages} pages hold ${pool.stats().objUsed} objects; compaction frees ${pool.compact()}`,
);
const at = pool.map(handles[8]!, "ro");
console.log(`object 8 still reads ${mm.memory[at]} after moving`);
pool.unmap(handles[8]!);
// debugfs zsmalloc/example/classes, the classes in use:
const [head, ...rows] = pool.report("classes").split("\n");
console.log(
  [
    head,
    ...rows.filter((l) => /^ +\d/.test(l) && Number(l.trim().split(/ +/)[13]) > 0),
    ...rows.slice(-2),
  ].join("\n"),
);
mm.verify();
