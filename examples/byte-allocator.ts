// One interface over every allocator: the same requests through kmalloc (SLUB, SLOB), whole
// pages, a memory pool, a resource map and a vmem arena, and what each holds for them.
import {
  type ByteAllocator,
  buddyAllocator,
  Kmem,
  kmallocAllocator,
  mempoolAllocator,
  rmapAllocator,
  vmemAllocator,
} from "kmem";

const MiB = 1024 * 1024;
const allocators: ByteAllocator[] = [
  kmallocAllocator(new Kmem({ memory: 4 * MiB }), "slub"),
  kmallocAllocator(new Kmem({ memory: 4 * MiB, slab: "slob" }), "slob"),
  buddyAllocator(new Kmem({ memory: 4 * MiB })),
  mempoolAllocator(new Kmem({ memory: 4 * MiB }), 1024, 16), // 1 KiB elements
  rmapAllocator(4 * MiB), // byte offsets, 16-byte units, no memory behind them
  vmemAllocator(4 * MiB),
];
const sizes = Array.from({ length: 200 }, (_, i) => 24 + ((i * 37) % 1000)); // 24..1023 bytes
const payload = sizes.reduce((a, b) => a + b, 0);

for (const a of allocators) {
  const base = a.footprint(); // what the allocator holds before the requests
  const handles = sizes.map((n) => a.alloc(n)); // -1 on failure
  const held = a.footprint() - base;
  console.log(
    `${a.name.padEnd(7)} footprint +${held} bytes for ${payload} asked ` +
      `(${(payload / held).toFixed(2)}), ${handles.filter((h) => h === -1).length} failed`,
  );
  handles.forEach((h, i) => h !== -1 && a.free(h, sizes[i] as number));
  a.verify?.();
}
