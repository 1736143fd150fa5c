// vmem arenas: process ids, device addresses with constraints, and a heap importing from them.
import { KmemError, VmemArena } from "kmem";

const hex = (n: number) => `0x${n.toString(16)}`;

// Ids: 0 is a valid id and -1 means none left. Next fit cycles through them, as pids do.
const pids = new VmemArena({ name: "pids", base: 0, size: 32768, quantum: 1, policy: "nextfit" });
const first = [pids.alloc(1), pids.alloc(1), pids.alloc(1)];
pids.free(first[1] as number, 1);
console.log(`pids ${first.join(", ")}; ${first[1]} freed, the next pid is ${pids.alloc(1)}`);

// Device addresses in 4 KiB pages: a 64 KiB-aligned buffer that must not cross a 1 MiB line
// and must lie below 16 MiB (vmem_xalloc's constraints).
const dma = new VmemArena({ name: "dma", base: 0, size: 64 << 20, quantum: 4096 });
const ring = dma.alloc(900 << 10);
const buf = dma.xalloc(192 << 10, { align: 64 << 10, nocross: 1 << 20, maxaddr: 16 << 20 });
console.log(`ring at ${hex(ring)}, buffer at ${hex(buf)} (${hex(0xf0000)} would cross 1 MiB)`);

// A byte heap importing 64 KiB spans from the page arena, small sizes from quantum caches.
const heap = new VmemArena({
  name: "heap",
  base: 0,
  size: 0,
  quantum: 16,
  source: dma,
  minImport: 64 << 10,
  qcacheMax: 256,
});
const objs = [heap.alloc(24), heap.alloc(24), heap.alloc(1000)];
console.log(`heap objects at ${objs.map(hex).join(", ")}; imported ${heap.stats().imported} bytes`);
heap.free(objs[0] as number, 24);
try {
  heap.free(objs[0] as number, 24); // misuse is caught before anything changes
} catch (err) {
  if (err instanceof KmemError) console.log(err.message);
}
heap.free(objs[1] as number, 24);
heap.free(objs[2] as number, 1000);
const kept = heap.stats().imported;
heap.reap(); // the caches give their empty slab back; the span is all free and goes home
const dmaKiB = dma.stats().inUse >> 10;
console.log(
  `imported ${kept} before reap, ${heap.stats().imported} after; dma in use ${dmaKiB} KiB`,
);
heap.verify();
dma.verify();
