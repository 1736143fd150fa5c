/*
 * The kmem layers as ByteAllocators: kmalloc (served by SLUB or SLOB, whichever the instance
 * was built with), the buddy page allocator alone, and a memory pool of fixed-size elements.
 *
 * Footprint of a layer = pages it has taken x (pageSize + its mem_map entry). Free pages parked
 * on per-cpu lists count as free. The fixed header is not counted: it does not grow with use.
 */

import { Frame } from "../memory/index.js";
import type { Kmem } from "../kmem.js";
import { Gfp } from "../page/index.js";
import type { ByteAllocator } from "./allocator.js";

/**
 * A memory pool of `elementSize`-byte kmalloc elements keeping `minNr` in reserve: requests
 * up to the element size get an element, larger ones fail (-1). Throws RangeError when the
 * reserve cannot be filled at creation.
 */
export function mempoolAllocator(mm: Kmem, elementSize: number, minNr: number): ByteAllocator {
  const pool = mm.createMempool(minNr, elementSize);
  if (pool === null) {
    throw new RangeError(`no memory for a reserve of ${minNr} elements of ${elementSize} bytes`);
  }
  const perPage = mm.pageSize + Frame.BYTES;
  return {
    name: "mempool",
    alloc(size: number): number {
      if (size > elementSize) return -1;
      const addr = pool.alloc(Gfp.KERNEL);
      return addr === 0 ? -1 : addr;
    },
    free(addr: number): void {
      pool.free(addr);
    },
    footprint(): number {
      return mm.usedPages * perPage;
    },
    usableSize(): number {
      return elementSize;
    },
    verify(): void {
      mm.verify();
    },
  };
}

/** kmalloc/kfree/krealloc of `mm` (SLUB or SLOB per its `slab` option). */
export function kmallocAllocator(mm: Kmem, name = "slub"): ByteAllocator {
  const perPage = mm.pageSize + Frame.BYTES;
  return {
    name,
    alloc(size: number): number {
      const addr = mm.kmalloc(size, Gfp.KERNEL);
      return addr === 0 ? -1 : addr;
    },
    free(addr: number): void {
      mm.kfree(addr);
    },
    realloc(addr: number, _oldSize: number, newSize: number): number {
      const moved = mm.krealloc(addr, newSize, Gfp.KERNEL);
      return moved === 0 ? -1 : moved;
    },
    footprint(): number {
      return mm.usedPages * perPage;
    },
    usableSize(addr: number): number {
      return mm.ksize(addr);
    },
    verify(): void {
      mm.verify();
    },
  };
}

/** Whole page blocks from the buddy allocator: each request rounded up to 2^order pages. */
export function buddyAllocator(mm: Kmem): ByteAllocator {
  const perPage = mm.pageSize + Frame.BYTES;
  const pageShift = Math.log2(mm.pageSize);
  const orderOf = (size: number): number => {
    const pages = Math.ceil(size / mm.pageSize);
    return pages <= 1 ? 0 : 32 - Math.clz32(pages - 1);
  };
  return {
    name: "buddy",
    alloc(size: number): number {
      const order = orderOf(size);
      if (order >= mm.maxOrder) return -1;
      const addr = mm.allocPages(order, Gfp.KERNEL);
      return addr === 0 ? -1 : addr;
    },
    free(addr: number, size: number): void {
      mm.freePages(addr, orderOf(size));
    },
    footprint(): number {
      return mm.usedPages * perPage;
    },
    usableSize(_addr: number, size: number): number {
      return 2 ** (orderOf(size) + pageShift);
    },
    verify(): void {
      mm.verify();
    },
  };
}
