// The page allocator: allocate blocks of pages, use the bytes, watch the buddy lists.
import { __GFP_ZERO, GFP_ATOMIC, GFP_KERNEL, Kmem, KmemError } from "kmem";

const mm = new Kmem({ memory: 16 * 1024 * 1024 }); // 16 MiB of 4 KiB pages
console.log(`managed pages: ${mm.managedPages} of ${mm.totalPages}`);

// An order-2 block: 4 contiguous pages, aligned to 16 KiB.
const block = mm.allocPages(2, GFP_KERNEL | __GFP_ZERO);
mm.memory.set(new TextEncoder().encode("hello, pages"), block);
console.log(`order-2 block at 0x${block.toString(16)}, aligned: ${block % (4 * 4096) === 0}`);
const urgent = mm.allocPages(0, GFP_ATOMIC); // an interrupt's: no waiting, may use the reserve
console.log(mm.report("buddyinfo").trimEnd());
mm.freePages(urgent, 0);
mm.freePages(block, 2);

try {
  mm.freePages(block, 2); // misuse is caught before any state changes
} catch (err) {
  if (err instanceof KmemError) console.log(`${err.code}: caught`);
}
mm.verify(); // walks every free list and frame; throws CORRUPTION if anything is off
console.log(`unusable index for order 10: ${mm.unusableIndex(10)}`);
