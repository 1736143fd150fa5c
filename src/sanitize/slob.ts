/*
 * The sanitizers' hooks on SLOB (slab: "slob"), which serves kmalloc and the caches itself:
 * KASAN and kmemleak at its alloc and free boundaries, as install.ts does for SLUB and
 * kmalloc. SLOB has no slots and no red zones: a block is handed out for the size asked,
 * the rest of its units (the slack) poisoned as a slab red zone; the 4-byte block header
 * before it and the free units between blocks keep what they had (free pages' shadow, or
 * an earlier block's). A freed block waits in KASAN's quarantine before SLOB gets it back.
 *
 *   entry point                      hooks
 *   kmalloc, kmallocNode             KASAN unpoisons the block (kmalloc_large: as SLUB's),
 *   alloc, allocNode (caches)        kmemleak records it, the block remembered for reports
 *   kfree, free (kmem_cache_free)    KASAN checks (double and invalid frees), poisons,
 *                                    quarantines; kmalloc_large as SLUB's
 *   ksize, krealloc, resizeInPlace   use after free; the boundary moved
 *   destroy, shrinkAll               the quarantine emptied first (of that cache)
 *
 * Not here: KFENCE (it samples slab caches' allocations; SLOB's kmalloc has none).
 */

import { Frame, Pg, PgFlag, type PhysMem } from "../memory/index.js";
import type { Kasan, SlabObject } from "../kasan/index.js";
import { largePages, ZERO_SIZE_PTR } from "../kmalloc/index.js";
import type { KmemCache } from "../slab-common/index.js";
import type { SlobAllocator } from "../slob/index.js";
import type { Kmemleak } from "../kmemleak/index.js";

type Fn = (...args: never[]) => unknown;

function hook(obj: object, name: string, fn: Fn): void {
  Object.defineProperty(obj, name, { value: fn, writable: true, configurable: true });
}

function orig<T extends Fn>(obj: object, name: string): T {
  return (Object.getPrototypeOf(obj) as Record<string, T>)[name] as T;
}

/** SLOB's blocks of this context (live or quarantined): usable bytes and cache, by address. */
export type SlobBlocks = Map<number, [number, string]>;

/** Whether `addr` lies in a SLOB page (a small block page or a cache's whole pages). */
function slobPage(phys: PhysMem, addr: number): boolean {
  const pfn = addr >>> phys.pageShift;
  if (addr < 0 || pfn >= phys.totalPages) return false;
  return ((phys.frames[pfn * Frame.WORDS + Pg.FLAGS] as number) & PgFlag.SLAB) !== 0;
}

/**
 * KASAN's objectAt over SLOB: the nearest block this context knows at or below `addr` in
 * its page; a SLOB page with none known is described as a page (`obj` -1).
 */
export function slobObjectAt(phys: PhysMem, blocks: SlobBlocks, addr: number): SlabObject | null {
  if (!slobPage(phys, addr)) return null;
  const page = addr - (addr % phys.pageSize);
  for (let a = addr - (addr & 7); a >= page; a -= 8) {
    const b = blocks.get(a);
    if (b !== undefined) return { obj: a, cache: b[1], size: b[0] };
  }
  return { obj: -1, cache: "", size: 0 };
}

/** KASAN's real free over SLOB (a block leaving the quarantine). */
export function slobRealFree(
  slob: SlobAllocator,
  blocks: SlobBlocks,
): (c: KmemCache | null, addr: number, viaKfree: boolean) => void {
  const kfree = orig<SlobAllocator["kfree"]>(slob, "kfree");
  const free = orig<SlobAllocator["free"]>(slob, "free");
  return (c, addr, viaKfree) => {
    blocks.delete(addr);
    if (viaKfree || c === null) kfree.call(slob, addr);
    else free.call(slob, c, addr);
  };
}

/** Hooks KASAN (and kmemleak) into SLOB. */
export function installSlobHooks(
  phys: PhysMem,
  slob: SlobAllocator,
  blocks: SlobBlocks,
  kasan: Kasan | null,
  leak: Kmemleak | null,
): void {
  const kmalloc = orig<SlobAllocator["kmalloc"]>(slob, "kmalloc");
  const kmallocNode = orig<SlobAllocator["kmallocNode"]>(slob, "kmallocNode");
  const alloc = orig<SlobAllocator["alloc"]>(slob, "alloc");
  const allocNode = orig<SlobAllocator["allocNode"]>(slob, "allocNode");
  const kfree = orig<SlobAllocator["kfree"]>(slob, "kfree");
  const free = orig<SlobAllocator["free"]>(slob, "free");
  const ksize = orig<SlobAllocator["ksize"]>(slob, "ksize");
  const krealloc = orig<SlobAllocator["krealloc"]>(slob, "krealloc");
  const resize = orig<SlobAllocator["resizeInPlace"]>(slob, "resizeInPlace");
  const destroy = orig<SlobAllocator["destroy"]>(slob, "destroy");
  const shrinkAll = orig<SlobAllocator["shrinkAll"]>(slob, "shrinkAll");
  const f = phys.frames;
  const largeBytes = (addr: number): number =>
    largePages(f, addr >>> phys.pageShift) << phys.pageShift;

  /** A kmalloc block of SLOB (or kmalloc_large) handed out for `size` bytes. */
  const kmallocated = (a: number, size: number): number => {
    if (a === 0 || a === ZERO_SIZE_PTR) return a;
    if (slobPage(phys, a)) {
      const usable = ksize.call(slob, a);
      blocks.set(a, [usable, "kmalloc"]);
      kasan?.blockAllocated(a, size, usable);
      leak?.add(a, size, "kmalloc");
    } else {
      kasan?.largeAllocated(a, size, largeBytes(a));
      leak?.add(a, size, "kmalloc_large");
    }
    return a;
  };
  const allocated = (c: KmemCache, a: number): number => {
    if (a === 0) return a;
    blocks.set(a, [c.objectSize, c.name]);
    kasan?.blockAllocated(a, c.objectSize, c.objectSize);
    leak?.add(a, c.objectSize, c.name);
    return a;
  };
  hook(slob, "kmalloc", (size: number, gfp: number): number =>
    kmallocated(kmalloc.call(slob, size, gfp), size),
  );
  hook(slob, "kmallocNode", (size: number, gfp: number, nid: number): number =>
    kmallocated(kmallocNode.call(slob, size, gfp, nid), size),
  );
  hook(slob, "alloc", (c: KmemCache, gfp: number, size: number): number =>
    allocated(c, alloc.call(slob, c, gfp, size)),
  );
  hook(slob, "allocNode", (c: KmemCache, gfp: number, size: number, nid: number): number =>
    allocated(c, allocNode.call(slob, c, gfp, size, nid)),
  );
  hook(slob, "kfree", (addr: number): void => {
    if (addr === 0 || addr === ZERO_SIZE_PTR) return;
    if (kasan === null) {
      kfree.call(slob, addr);
      blocks.delete(addr);
      leak?.remove(addr);
      return;
    }
    if (slobPage(phys, addr)) {
      let usable = 0;
      kasan.checkFree(addr, "kfree", () => {
        usable = ksize.call(slob, addr);
      });
      const b = blocks.get(addr);
      kasan.quarantine(null, addr, b === undefined ? usable : b[0], true);
    } else {
      kasan.largeFreeing(addr, "kfree");
      const bytes = largeBytes(addr);
      kfree.call(slob, addr);
      kasan.blockFreed(addr, bytes, -1);
    }
    leak?.remove(addr);
  });
  hook(slob, "free", (c: KmemCache, addr: number): void => {
    if (kasan === null) {
      free.call(slob, c, addr);
    } else {
      kasan.checkFree(addr, "kmem_cache_free", () => {
        slob.checkLive(c, addr, "kmem_cache_free");
      });
      // Remembered until it leaves the quarantine (slobRealFree), for use-after-free reports.
      kasan.quarantine(c, addr, c.objectSize, false);
    }
    if (kasan === null) blocks.delete(addr);
    leak?.remove(addr);
  });
  if (kasan === null) return;
  hook(slob, "ksize", (addr: number): number => {
    kasan.checkByte(addr, "ksize");
    return ksize.call(slob, addr);
  });
  hook(slob, "krealloc", (addr: number, size: number, gfp: number, init: boolean): number => {
    kasan.checkByte(addr, "krealloc");
    return krealloc.call(slob, addr, size, gfp, init);
  });
  hook(slob, "resizeInPlace", (addr: number, size: number, usable: number, zero: boolean): void => {
    resize.call(slob, addr, size, usable, zero);
    kasan.resized(addr, size, usable, slobPage(phys, addr));
    leak?.resize(addr, size);
  });
  hook(slob, "destroy", (c: KmemCache): void => {
    kasan.drain(c);
    destroy.call(slob, c);
  });
  hook(slob, "shrinkAll", (n: number): number => {
    kasan.drain();
    return shrinkAll.call(slob, n);
  });
}
