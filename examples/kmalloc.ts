// kmalloc: memory of any size from size classes or pages, and misuse caught before it does harm.
import { Kmem, KmemError } from "kmem";

const mm = new Kmem({ memory: 16 * 1024 * 1024 });

const name = mm.kmalloc(100); // from kmalloc-128
mm.write(name, new TextEncoder().encode("kmem"));
const grown = mm.krealloc(name, 180); // moves to kmalloc-192, contents copied
console.log(`ksize ${mm.ksize(grown)}: "${new TextDecoder().decode(mm.read(grown, 4))}"`);
const table = mm.kcalloc(1000, 8); // zeroed, 8000 bytes: a block of the heap above 1 KiB
console.log(`kcalloc(1000, 8): ${mm.ksize(table)} usable bytes`);
mm.kfree(grown);
mm.kfree(table);

try {
  mm.kfree(grown); // a second free: refused, nothing changed
} catch (err) {
  if (err instanceof KmemError) console.log(err.message);
}
mm.verify();
