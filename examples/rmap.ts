// A resource map hands out ranges of integers, first fit: here, the blocks of a small disk.
import { KmemError, ResourceMap } from "kmem";

const disk = new ResourceMap({ base: 0, size: 1000 });
const journal = disk.alloc(100);
const a = disk.alloc(10);
const b = disk.alloc(20);
console.log(`journal at ${journal}, a at ${a}, b at ${b}`);

disk.free(a, 10);
console.log(`first fit: alloc(5) takes ${disk.alloc(5)}, the hole a left`);
console.log(
  `free segments: ${disk
    .segments()
    .map((s) => `[${s.base}, ${s.base + s.size})`)
    .join(" ")}`,
);

disk.free(20, 10); // part of the journal: touches no free segment, a new one
disk.free(100, 5); // merges with [105, 110) after it
disk.free(b, 20); // merges with the segments on both sides
const shown = disk.segments().map((s) => `[${s.base}, ${s.base + s.size})`);
console.log(`after three frees: ${shown.join(" ")}`);
console.log(`allocAt(500, 50): ${disk.allocAt(500, 50)}; alloc(2000): ${disk.alloc(2000)}`);

// Misuse is caught before anything changes.
try {
  disk.free(b, 20);
} catch (err) {
  if (err instanceof KmemError) console.log(err.message);
}
disk.verify();
const { available, inUse, segments, largest } = disk.stats();
console.log(
  `available ${available}, in use ${inUse}, ${segments} free segments, largest ${largest}`,
);
