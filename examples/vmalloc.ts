import { __GFP_NOWARN, GFP_ATOMIC, Kmem, KmemError } from "kmem";

const mm = new Kmem({ memory: 4 * 1024 * 1024, minFreeBytes: 0 }); // 4 MiB of 4 KiB pages
const hex = (n: number) => `0x${n.toString(16)}`;
console.log(`vmalloc space: ${hex(mm.vmallocStart)}..${hex(mm.vmallocEnd)}`);

// kvmalloc: kmalloc while a contiguous block can be had, else vmalloc; kvfree frees either.
const before = mm.kvmalloc(64 * 1024);
console.log(`kvmalloc(64 KiB): ${mm.isVmallocAddr(before) ? "vmalloc" : "kmalloc"}`);
mm.kvfree(before);

// Fragment memory: take every page, give back every other one.
const held: number[] = [];
for (let p; (p = mm.allocPages(0, GFP_ATOMIC | __GFP_NOWARN)) !== 0;) held.push(p);
held.sort((a, b) => a - b).forEach((p, i) => i % 2 === 0 && mm.freePages(p, 0));
mm.drainPages();
console.log(`${mm.stats().freePages} pages free, no two adjacent`);
console.log(`allocPages(8), 1 MiB contiguous: ${mm.allocPages(8, GFP_ATOMIC | __GFP_NOWARN)}`);

// vmalloc needs no contiguous block: 256 scattered pages, one virtual range.
const buf = mm.vmalloc(1024 * 1024);
console.log(
  `vmalloc(1 MiB): ${hex(buf)}, pages at ${hex(mm.virtToPhys(buf))}, ${hex(mm.virtToPhys(buf + 4096))}, ...`,
);
mm.write(buf, new TextEncoder().encode("hello, vmalloc"));
mm.setFloat64(buf + 4096 - 4, Math.PI); // straddles two pages, two frames apart
console.log(`${new TextDecoder().decode(mm.read(buf, 14))}, ${mm.getFloat64(buf + 4096 - 4)}`);
console.log(mm.report("vmallocinfo").trimEnd());

try {
  mm.getUint8(buf + 1024 * 1024); // one past the end: the guard page
} catch (err) {
  if (err instanceof KmemError) console.log(err.message);
}
mm.vfree(buf);

const after = mm.kvmalloc(64 * 1024);
console.log(`kvmalloc(64 KiB), fragmented: ${mm.isVmallocAddr(after) ? "vmalloc" : "kmalloc"}`);
mm.kvfree(after);
mm.verify();
