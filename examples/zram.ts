// zram: a compressed RAM block device of page-sized sectors, over a zsmalloc pool.
import { Kmem } from "kmem";

const mm = new Kmem({ memory: 16 * 1024 * 1024 });
const zram = mm.createZram({ disksize: 4 * 1024 * 1024, memLimit: 1024 * 1024 });
if (zram === null) throw new Error("out of memory");
const page = new Uint8Array(mm.pageSize);

// 100 pages of JSON-like text, 20 zero pages, 3 pages that do not compress.
for (let i = 0; i < 100; i++) {
  const text = JSON.stringify({
    id: i,
    tags: ["kmem", "zram", "lz4"],
    body: "lorem ipsum ".repeat(300),
  });
  page.set(new TextEncoder().encode(text).subarray(0, page.length));
  zram.write(i, page);
}
page.fill(0);
for (let i = 100; i < 120; i++) zram.write(i, page);
let x = 1;
for (let i = 120; i < 123; i++) {
  for (let j = 0; j < page.length; j++) page[j] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  zram.write(i, page);
}
console.log(`sector 7 reads back: ${new TextDecoder().decode(zram.read(7).subarray(0, 24))}...`);
console.log(
  `${zram.name} ${zram.algorithm}, states: ${zram.slotState(0)}, ${zram.slotState(100)}, ${zram.slotState(120)}`,
);
console.log("mm_stat:", zram.report("mm_stat").trimEnd());

for (let i = 0; i < 100; i += 2) zram.discard(i);
console.log(`discarded 50 pages; compaction freed ${zram.compact()} pages`);
console.log("mm_stat:", zram.report("mm_stat").trimEnd());

// Pages written back to a store the caller gives (a Map here; a file works the same way).
const blocks = new Map<number, Uint8Array>();
zram.setBackingStore({
  pages: 256,
  read: (block, into) => into.set(blocks.get(block)!),
  write: (block, from) => void blocks.set(block, from.slice()),
});
console.log(`written back: ${zram.writeback("huge")} huge pages`);
zram.markIdle();
zram.read(1); // touched since: no longer idle
console.log(`written back: ${zram.writeback("idle")} idle pages`);
console.log(
  `sector 121 reads back from the store: ${zram.slotState(121)}, ${zram.read(121).length} bytes`,
);
console.log("mm_stat:", zram.report("mm_stat").trimEnd());
console.log("io_stat:", zram.report("io_stat").trimEnd());
console.log("bd_stat:", zram.report("bd_stat").trimEnd());
mm.verify();
