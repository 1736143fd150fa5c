// kvmalloc chooses kmalloc or vmalloc; vmap maps pages the caller holds; typed access and
// /proc/vmallocinfo.
import { __GFP_NOWARN, GFP_ATOMIC, Kmem } from "kmem";

const mm = new Kmem({ memory: 4 * 1024 * 1024, minFreeBytes: 0 });
const hex = (n: number) => `0x${n.toString(16)}`;
console.log(
  `physical memory 0..${hex(mm.totalPages * mm.pageSize)}, ` +
    `vmalloc space ${hex(mm.vmallocStart)}..${hex(mm.vmallocEnd)}`,
);

// kvmalloc: kmalloc while a contiguous block can be had, else vmalloc; kvfree frees either.
const before = mm.kvmalloc(64 * 1024);
console.log(`kvmalloc(64 KiB): ${mm.isVmallocAddr(before) ? "vmalloc" : "kmalloc"}`);
mm.kvfree(before);

// vmap: three pages, mapped in the order given at consecutive virtual pages.
const pages = [mm.allocPages(0), mm.allocPages(0), mm.allocPages(0)].reverse();
const v = mm.vmap(pages);
mm.setFloat64(v + 4096 - 4, Math.PI); // straddles two virtual pages, two frames apart
console.log(
  `vmap at ${hex(v)}: ${mm.getFloat64(v + 4096 - 4)}, ` +
    `its first page is ${hex(pages[0] as number)}: ${mm.virtToPhys(v) === pages[0]}`,
);
const buf = mm.vzalloc(40 * 1024);
console.log(mm.report("vmallocinfo").trimEnd());
console.log(
  mm
    .report("meminfo")
    .split("\n")
    .filter((l) => /^(Vmalloc|PageTables)/.test(l))
    .join("\n"),
);
mm.vfree(buf);
mm.vunmap(v); // the pages stay the caller's
for (const p of pages) mm.freePages(p, 0);

// Fragment memory (every other page taken): kvmalloc falls back to vmalloc.
const held: number[] = [];
for (let p; (p = mm.allocPages(0, GFP_ATOMIC | __GFP_NOWARN)) !== 0;) held.push(p);
held.sort((a, b) => a - b).forEach((p, i) => i % 2 === 0 && mm.freePages(p, 0));
mm.drainPages();
const after = mm.kvmalloc(64 * 1024);
console.log(`kvmalloc(64 KiB), fragmented: ${mm.isVmallocAddr(after) ? "vmalloc" : "kmalloc"}`);
mm.kvfree(after);
mm.verify();
