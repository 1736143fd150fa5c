// The classic UNIX kernel allocators over kmem's pages, each doing what defines it.
import { Kmem, M_NOWAIT } from "kmem";

const mm = new Kmem({ memory: 4 * 1024 * 1024 });
const must = <T>(a: T | null): T => {
  if (a === null) throw new Error("out of memory");
  return a;
};

// p2 (4.2BSD): request + 8-byte header, rounded up to a power of two; never coalesced.
const p2 = must(mm.createAllocator("p2"));
const small = Array.from({ length: 256 }, () => p2.alloc(8)); // one page of 16-byte blocks
for (const p of small) p2.free(p);
p2.alloc(24); // a 32-byte block: the free 16-byte ones cannot make it
console.log(
  "p2:",
  p2
    .stats()
    .buckets.map((b) => `${b.size}B ${b.free}/${b.blocks} free`)
    .join(", "),
);

// McKusick-Karels (4.3BSD): no header, the size is in kmemusage, per page; per-type limits.
const types = [{ name: "temp" }, { name: "namei", limit: 1024 }];
const mk = must(mm.createAllocator("mckusick-karels", { types }));
const piece = mk.alloc(100);
const run = mk.alloc(5 * 4096 - 100);
console.log("mckusick-karels:", mk.pageInfo(piece), mk.pageInfo(run));
mk.malloc(1024, 1); // namei's whole limit
const nowait = mk.malloc(16, 1, M_NOWAIT);
const waitok = mk.malloc(16, 1);
console.log(
  `  namei at its limit: M_NOWAIT gets ${nowait}, M_WAITOK ${waitok !== 0 ? "is served" : 0}`,
);

// SVR4 lazy buddy: a free coalesces only when the slack D = A - L of its size runs out.
const lb = must(mm.createAllocator("lazy-buddy"));
const blocks = Array.from({ length: 5 }, () => lb.alloc(64));
for (const b of [0, 1, 4, 2, 3]) {
  const before = lb.stats().orders.find((o) => o.size === 64)?.state;
  lb.free(blocks[b] as number);
  const o = lb.stats().orders.find((x) => x.size === 64);
  console.log(
    `lazy-buddy: free in state ${before} -> A ${o?.allocated}, L ${o?.localFree}, G ${o?.globalFree}`,
  );
}

// Mach zones: zone_gc gives back exactly the pages whose elements are all free.
const mach = must(mm.createAllocator("mach-zone"));
const zone = mach.zinit(256, "vm_map_entry");
const els = Array.from({ length: 64 }, () => mach.zalloc(zone)); // 4 pages of 16
for (const [i, e] of els.entries()) if (i < 48 || i % 16 === 0) mach.zfree(zone, e);
console.log(`mach-zone: zone_gc freed ${mach.zoneGc()} pages;`, mach.zoneInfo(zone).pages, "left");

// Dynix: per-cpu lists; blocks freed on another cpu reach it through the global layer.
const dx = must(mm.createAllocator("dynix", { cpus: 2, target: 4 }));
const got = Array.from({ length: 12 }, () => dx.alloc(64)); // on cpu 0
dx.setCpu(1);
for (const g of got) dx.free(g);
const c = dx.stats().classes[0];
console.log(
  `dynix: on cpu 1's lists ${c?.perCpu}, global lists ${c?.globalLists}, coalesce layer ${c?.coalesce}`,
);

for (const a of [p2, mk, lb, mach, dx]) a.verify();
