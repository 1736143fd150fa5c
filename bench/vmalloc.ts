/*
 * Virtual-memory benchmarks: vmalloc+vfree of 16 pages (against the same pages from the
 * buddy allocator as one block, and kvmalloc); read and write of 1 MiB through a vmalloc
 * area against the same on physical memory; typed accessors per operation, physical and
 * virtual, against a bare DataView on the buffer (the floor).
 */

import { Kmem } from "../src/index.js";
import { add, do_not_optimize } from "./harness.js";

const MiB = 2 ** 20;
const PAIRS = 1000;
/** Accesses per measured call, spread over a 64 KiB window so the walk is not one entry. */
const ACCESSES = 4096;

export function registerVmallocBenchmarks(): void {
  const mm = new Kmem({ memory: 64 * MiB });
  const bytes16 = 16 * mm.pageSize;

  add("vmalloc+vfree, 16 pages", "allocPages(4)+freePages (one contiguous block)", PAIRS, () => {
    for (let i = 0; i < PAIRS; i++) mm.freePages(mm.allocPages(4), 4);
  });
  const one = new Float64Array(16);
  add("vmalloc+vfree, 16 pages", "16 x allocPages(0), then 16 x freePages", PAIRS, () => {
    for (let i = 0; i < PAIRS; i++) {
      for (let k = 0; k < 16; k++) one[k] = mm.allocPages(0);
      for (let k = 15; k >= 0; k--) mm.freePages(one[k] as number, 0);
    }
  });
  add("vmalloc+vfree, 16 pages", "vmalloc(64 KiB)+vfree", PAIRS, () => {
    for (let i = 0; i < PAIRS; i++) mm.vfree(mm.vmalloc(bytes16));
  });
  add("vmalloc+vfree, 16 pages", "kvmalloc(64 KiB)+kvfree (served by kmalloc)", PAIRS, () => {
    for (let i = 0; i < PAIRS; i++) mm.kvfree(mm.kvmalloc(bytes16));
  });
  // A space with many live areas: best fit searches a tree of free ranges.
  const busy: number[] = [];
  for (let i = 0; i < 500; i++) busy.push(mm.vmalloc(((i % 7) + 1) * mm.pageSize));
  for (let i = 0; i < busy.length; i += 2) mm.vfree(busy[i] as number);
  add(
    "vmalloc+vfree, 16 pages",
    "vmalloc(64 KiB)+vfree, 250 live areas and 250 holes",
    PAIRS,
    () => {
      for (let i = 0; i < PAIRS; i++) mm.vfree(mm.vmalloc(bytes16));
    },
  );

  // A fresh instance: vmalloc gets its pages as the per-cpu list refills them, in order.
  const mm2 = new Kmem({ memory: 64 * MiB });
  const phys = mm2.allocPages(8); // 1 MiB contiguous
  const virt = mm2.vmalloc(MiB);
  if (phys === 0 || virt === 0) throw new Error("benchmark setup failed");
  const scattered = scatteredArea(mm2);
  const runs = physicalRuns(mm2, virt);
  const src = new Uint8Array(MiB).fill(7);
  add("vmalloc: read 1 MiB", "memory.slice (floor)", 1, () => {
    do_not_optimize(mm2.memory.slice(phys, phys + MiB));
  });
  add("vmalloc: read 1 MiB", "read(), physical address", 1, () => {
    do_not_optimize(mm2.read(phys, MiB));
  });
  add(
    "vmalloc: read 1 MiB",
    `read(), vmalloc address (${runs} physically contiguous runs)`,
    1,
    () => {
      do_not_optimize(mm2.read(virt, MiB));
    },
  );
  add("vmalloc: read 1 MiB", "read(), vmalloc address, no two pages physically adjacent", 1, () => {
    do_not_optimize(mm2.read(scattered, MiB));
  });
  add("vmalloc: write 1 MiB", "memory.set (floor)", 1, () => {
    mm2.memory.set(src, phys);
  });
  add("vmalloc: write 1 MiB", "write(), physical address", 1, () => {
    mm2.write(phys, src);
  });
  add(
    "vmalloc: write 1 MiB",
    `write(), vmalloc address (${runs} physically contiguous runs)`,
    1,
    () => {
      mm2.write(virt, src);
    },
  );

  add(
    "vmalloc: write 1 MiB",
    "write(), vmalloc address, no two pages physically adjacent",
    1,
    () => {
      mm2.write(scattered, src);
    },
  );

  const dv = new DataView(mm2.memory.buffer);
  const span = 64 * 1024;
  add("vmalloc: getUint32 per op", "DataView.getUint32 on the buffer (floor)", ACCESSES, () => {
    let sum = 0;
    for (let i = 0; i < ACCESSES; i++) sum += dv.getUint32(phys + ((i * 68) & (span - 4)), true);
    do_not_optimize(sum);
  });
  add("vmalloc: getUint32 per op", "getUint32, physical address", ACCESSES, () => {
    let sum = 0;
    for (let i = 0; i < ACCESSES; i++) sum += mm2.getUint32(phys + ((i * 68) & (span - 4)));
    do_not_optimize(sum);
  });
  add("vmalloc: getUint32 per op", "getUint32, vmalloc address", ACCESSES, () => {
    let sum = 0;
    for (let i = 0; i < ACCESSES; i++) sum += mm2.getUint32(virt + ((i * 68) & (span - 4)));
    do_not_optimize(sum);
  });
  add(
    "vmalloc: getUint32 per op",
    "getUint32, vmalloc address, a new page every access",
    ACCESSES,
    () => {
      let sum = 0;
      for (let i = 0; i < ACCESSES; i++) sum += mm2.getUint32(virt + ((i * 4100) & (span - 4)));
      do_not_optimize(sum);
    },
  );
  add("vmalloc: setUint32 per op", "DataView.setUint32 on the buffer (floor)", ACCESSES, () => {
    for (let i = 0; i < ACCESSES; i++) dv.setUint32(phys + ((i * 68) & (span - 4)), i, true);
  });
  add("vmalloc: setUint32 per op", "setUint32, physical address", ACCESSES, () => {
    for (let i = 0; i < ACCESSES; i++) mm2.setUint32(phys + ((i * 68) & (span - 4)), i);
  });
  add("vmalloc: setUint32 per op", "setUint32, vmalloc address", ACCESSES, () => {
    for (let i = 0; i < ACCESSES; i++) mm2.setUint32(virt + ((i * 68) & (span - 4)), i);
  });
  add("vmalloc: getFloat64 per op", "getFloat64, physical address", ACCESSES, () => {
    let sum = 0;
    for (let i = 0; i < ACCESSES; i++) sum += mm2.getFloat64(phys + ((i * 72) & (span - 8)));
    do_not_optimize(sum);
  });
  add("vmalloc: getFloat64 per op", "getFloat64, vmalloc address", ACCESSES, () => {
    let sum = 0;
    for (let i = 0; i < ACCESSES; i++) sum += mm2.getFloat64(virt + ((i * 72) & (span - 8)));
    do_not_optimize(sum);
  });
}

/**
 * A 1 MiB vmalloc area whose pages are all physically apart: every other page of a 2 MiB
 * stretch is held while it is made, so each copy is a page long.
 */
function scatteredArea(mm: Kmem): number {
  const pages = (2 * MiB) / mm.pageSize;
  const held: number[] = [];
  for (let i = 0; i < pages; i++) held.push(mm.allocPages(0));
  mm.drainPages();
  for (let i = 0; i < pages; i += 2) mm.freePages(held[i] as number, 0);
  mm.drainPages();
  const addr = mm.vmalloc(MiB);
  let adjacent = 0;
  for (let off = mm.pageSize; off < MiB; off += mm.pageSize) {
    if (mm.virtToPhys(addr + off) === mm.virtToPhys(addr + off - mm.pageSize) + mm.pageSize)
      adjacent++;
  }
  for (let i = 1; i < pages; i += 2) mm.freePages(held[i] as number, 0);
  if (addr === 0 || adjacent > 0)
    throw new Error(`scattered area setup failed (${adjacent} adjacent)`);
  return addr;
}

/** How many physically contiguous runs the pages of a 1 MiB area make. */
function physicalRuns(mm: Kmem, addr: number): number {
  let runs = 1;
  for (let off = mm.pageSize; off < MiB; off += mm.pageSize) {
    if (mm.virtToPhys(addr + off) !== mm.virtToPhys(addr + off - mm.pageSize) + mm.pageSize) runs++;
  }
  return runs;
}
