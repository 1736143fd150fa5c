// Slab debugging (slub_debug=ZPU): red zones, poisoning and owner tracking catch what C
// programs get wrong, and say so in the same words.
import { Kmem, KmemError } from "kmem";

const mm = new Kmem({ memory: 1024 * 1024, debug: "ZPU" });
// Owner tracking names the places as file:line:column of the running (compiled) script;
// printed here as the file's name alone.
const report = (err: unknown) => {
  if (err instanceof KmemError)
    console.log(err.message.replace(/file:\S+\/([^/]+):\d+:\d+/g, "$1"));
};

const p = mm.kmalloc(18);
mm.memory[p + 18] = 0; // one byte past the 18 asked for (the class is 32)
try {
  mm.kfree(p);
} catch (err) {
  report(err);
}

const q = mm.kmalloc(64);
mm.kfree(q);
mm.memory[q + 8] = 1; // a write after free
try {
  mm.kmalloc(64);
} catch (err) {
  report(err);
}
mm.verify(); // both objects are set aside: never handed out again
console.log(`set aside: ${mm.stats().caches.reduce((n, c) => n + c.quarantined, 0)}`);
