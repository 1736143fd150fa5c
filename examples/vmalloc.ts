// vmalloc: a large buffer from scattered pages, when no contiguous block is left.
import { __GFP_NOWARN, GFP_ATOMIC, Kmem, KmemError } from "kmem";

const mm = new Kmem({ memory: 4 * 1024 * 1024, minFreeBytes: 0 }); // 4 MiB of 4 KiB pages
const hex = (n: number) => `0x${n.toString(16)}`;

// Fragment memory: take every page, give back every other one.
const held: number[] = [];
for (let p; (p = mm.allocPages(0, GFP_ATOMIC | __GFP_NOWARN)) !== 0;) held.push(p);
held.sort((a, b) => a - b).forEach((p, i) => i % 2 === 0 && mm.freePages(p, 0));
mm.drainPages();
console.log(`${mm.stats().freePages} pages free, no two adjacent`);
console.log(`allocPages(8), 1 MiB contiguous: ${mm.allocPages(8, GFP_ATOMIC | __GFP_NOWARN)}`);

// vmalloc needs no contiguous block: 256 scattered pages, one virtual range.
const buf = mm.vmalloc(1024 * 1024);
const pages = [mm.virtToPhys(buf), mm.virtToPhys(buf + 4096)].map(hex).join(", ");
console.log(`vmalloc(1 MiB): ${hex(buf)}, its pages at ${pages}, ...`);
mm.write(buf, new TextEncoder().encode("hello, vmalloc"));
console.log(new TextDecoder().decode(mm.read(buf, 14)));

try {
  mm.getUint8(buf + 1024 * 1024); // one past the end: the guard page
} catch (err) {
  if (err instanceof KmemError) console.log(err.message);
}
mm.vfree(buf);
mm.verify();
