/*
 * Installs the sanitizers (KASAN, KFENCE, kmemleak) on one context's instance: each hooked
 * entry point becomes an own property of the object that has it (the Kmem facade, SLUB,
 * kmalloc, vmalloc), a function that calls the sanitizers around the method it replaces.
 * An instance without sanitizers is never touched: its objects keep their prototypes'
 * methods and the shapes V8 compiled the fast paths for, so its instruction counts do not
 * move (Linux patches its KASAN/KFENCE hooks in with static keys for the same reason).
 *
 *   entry point                      hooks
 *   SLUB alloc, allocNode            KFENCE: a countdown; at 0 a sample -> KFENCE pool;
 *                                    else SLUB, then KASAN unpoison; kmemleak records it
 *   SLUB free (kmem_cache_free)      KFENCE object -> KFENCE free; else KASAN checks,
 *   SLUB freeInSlab (kfree)          poisons, quarantines (SLUB frees it later)
 *   SLUB destroy, shrink, shrinkAll  the quarantine is emptied first (of that cache)
 *   kmalloc, kmallocNode (large)     KASAN: requested bytes, the rest a page red zone
 *   kfree, ksize, krealloc,          KFENCE objects served by KFENCE; KASAN double free of
 *   resizeInPlace                    large blocks, use after free at krealloc/ksize
 *   allocPages, freePages            KASAN unpoison / poison the block
 *   vmalloc, vfree                   KASAN per page through the page tables; kmemleak
 *   swap-out, swap-in (src/swap)     KASAN: the page's shadow saved, restored in the new page
 *   the accessors                    KFENCE guard pages and freed objects, then KASAN
 *
 * A hook is installed only where one of the sanitizers on needs it: with KFENCE alone an
 * allocation costs a decrement of its countdown (Linux's kfence_allocation_gate), a kfree
 * a range compare, and kmalloc, allocNode and freeInSlab are not hooked at all.
 *
 * Lock order: the hooks take no lock; the methods they wrap take theirs as before.
 */

import { KmemError } from "../errors.js";
import { Frame, Hdr, type PhysMem } from "../memory/index.js";
import type { BuddyAllocator } from "../page/index.js";
import { type KmemCache, SlabFlag } from "../slab-common/index.js";
import type { SlubAllocator } from "../slub/index.js";
import { type Kmalloc, largePages } from "../kmalloc/index.js";
import { PgVm, type Vmalloc } from "../vm/index.js";
import { Kasan, slubObjectAt } from "../kasan/index.js";
import { Kfence } from "../kfence/index.js";
import { Kmemleak } from "../kmemleak/index.js";
import { SlobAllocator } from "../slob/index.js";
import { installSlobHooks, type SlobBlocks, slobObjectAt, slobRealFree } from "./slob.js";

/** The sanitizer settings an instance's layers carry (from its options or its header). */
export interface SanitizerSettings {
  kasan: { quarantine: number | undefined; stacks: boolean } | null;
  kfence: { sampleInterval: number; sampleMs: number } | null;
  kmemleak: boolean;
  /** A new instance (the shadow is initialised), not one opened. */
  fresh: boolean;
}

/** One context's sanitizers. */
export interface Sanitizers {
  readonly kasan: Kasan | null;
  readonly kfence: Kfence | null;
  readonly kmemleak: Kmemleak | null;
}

/** What the installer reaches. */
export interface SanitizerLayers {
  readonly phys: PhysMem;
  readonly buddy: BuddyAllocator;
  readonly slab: SlubAllocator;
  readonly km: Kmalloc;
  readonly vm: Vmalloc;
}

/** The facade's methods the hooks call (the accessors' originals come from its prototype). */
interface Facade {
  virtToPhys(addr: number): number;
}

type Fn = (...args: never[]) => unknown;

/** Sets `obj[name]` to `fn` as an own, non-enumerable property. */
function hook(obj: object, name: string, fn: Fn): void {
  Object.defineProperty(obj, name, { value: fn, writable: true, configurable: true });
}

/** The method `name` of `obj`'s prototype chain, unbound. */
function orig<T extends Fn>(obj: object, name: string): T {
  return (Object.getPrototypeOf(obj) as Record<string, T>)[name] as T;
}

/** Typed accessors: name, size, write. */
const ACCESSORS: readonly [string, number, boolean][] = [
  ["getUint8", 1, false],
  ["getInt8", 1, false],
  ["getUint16", 2, false],
  ["getInt16", 2, false],
  ["getUint32", 4, false],
  ["getInt32", 4, false],
  ["getFloat32", 4, false],
  ["getFloat64", 8, false],
  ["getBigInt64", 8, false],
  ["getBigUint64", 8, false],
  ["setUint8", 1, true],
  ["setInt8", 1, true],
  ["setUint16", 2, true],
  ["setInt16", 2, true],
  ["setUint32", 4, true],
  ["setInt32", 4, true],
  ["setFloat32", 4, true],
  ["setFloat64", 8, true],
  ["setBigInt64", 8, true],
  ["setBigUint64", 8, true],
];

/** Builds this context's sanitizers and hooks them in. */
export function installSanitizers(
  mm: Facade,
  layers: SanitizerLayers,
  settings: SanitizerSettings,
): Sanitizers {
  const { phys, slab: s, km, vm, buddy } = layers;
  const h = phys.header;
  const translate = (a: number): number => {
    try {
      return mm.virtToPhys(a);
    } catch (err) {
      if (err instanceof KmemError) return -1;
      throw err;
    }
  };
  // SLOB serves kmalloc and the caches itself (slob.ts); SLUB and SLAB through kmalloc.
  const slob = (s as unknown) instanceof SlobAllocator ? (s as unknown as SlobAllocator) : null;
  const blocks: SlobBlocks = new Map();
  const sAlloc = orig<SlubAllocator["alloc"]>(s, "alloc");
  const sAllocNode = orig<SlubAllocator["allocNode"]>(s, "allocNode");
  const sFree = orig<SlubAllocator["free"]>(s, "free");
  const sFreeInSlab = orig<SlubAllocator["freeInSlab"]>(s, "freeInSlab");
  const realFree = (c: KmemCache, addr: number, viaKfree: boolean): void => {
    if (viaKfree) sFreeInSlab.call(s, s.slabOf(addr), addr);
    else sFree.call(s, c, addr);
  };

  let kasan: Kasan | null = null;
  if (settings.kasan !== null) {
    kasan = new Kasan(
      {
        phys,
        vstart: vm.start,
        vend: vm.end,
        translate,
        realFree:
          slob === null
            ? (c: KmemCache | null, addr: number, viaKfree: boolean) =>
                realFree(c as KmemCache, addr, viaKfree)
            : slobRealFree(slob, blocks),
        objectAt:
          slob === null
            ? (addr: number) => slubObjectAt(s, addr, phys.pageSize)
            : (addr: number) => slobObjectAt(phys, blocks, addr),
      },
      h[Hdr.KASAN_SHADOW] as number,
      h[Hdr.KASAN_SHADOW_BYTES] as number,
      settings.kasan.quarantine,
      settings.kasan.stacks,
      buddy.cpu,
    );
    if (settings.fresh) kasan.initShadow();
  }
  const kfence =
    settings.kfence === null
      ? null
      : new Kfence(phys, h[Hdr.KFENCE_POOL] as number, h[Hdr.KFENCE_OBJECTS] as number, {
          ...settings.kfence,
          cpu: buddy.cpu,
          fresh: settings.fresh,
        });
  const leak = settings.kmemleak ? new Kmemleak(phys, translate, buddy.cpu) : null;
  const san: Sanitizers = { kasan, kfence, kmemleak: leak };

  if (slob !== null) installSlobHooks(phys, slob, blocks, kasan, leak);
  else installSlubHooks();

  /** SLUB's (and SLAB's) hooks, and kmalloc's over them. */
  function installSlubHooks(): void {
    /* ---------------------------------------------------------------- SLUB */

    const allocated = (c: KmemCache, a: number, size: number): void => {
      const n = size < 0 ? c.objectSize : size;
      kasan?.objectAllocated(c, a, n);
      leak?.add(a, n, c.name);
    };
    /** KASAN or kmemleak: each allocation is unpoisoned or recorded after SLUB's. */
    const after = kasan !== null || leak !== null;
    if (kfence !== null) {
      // kfence_alloc: the countdown is the whole cost of an allocation that is not sampled;
      // only when it reaches 0 does KFENCE look at the allocation (rearm, then its pool).
      const sampled = (c: KmemCache, size: number): number => {
        // kmem's own caches (KMEM_OWN) are never sampled: a KFENCE object would escape their check.
        if (!kfence.rearm() || (c.flags & SlabFlag.KMEM_OWN) !== 0) return 0;
        const n = size < 0 ? c.objectSize : size;
        const a = kfence.alloc(c, n);
        if (a !== 0) {
          if (kasan !== null) kasan.resized(a, n, n, true);
          leak?.add(a, n, c.name);
        }
        return a;
      };
      if (after) {
        hook(s, "alloc", (c: KmemCache, gfp: number, size: number): number => {
          if (--kfence.left === 0) {
            const k = sampled(c, size);
            if (k !== 0) return k;
          }
          const a = sAlloc.call(s, c, gfp, size);
          if (a !== 0 && c !== s.boot) allocated(c, a >>> 0, size);
          return a;
        });
      } else {
        hook(s, "alloc", (c: KmemCache, gfp: number, size: number): number => {
          if (--kfence.left === 0) {
            const k = sampled(c, size);
            if (k !== 0) return k;
          }
          return sAlloc.call(s, c, gfp, size);
        });
      }
    } else {
      hook(s, "alloc", (c: KmemCache, gfp: number, size: number): number => {
        const a = sAlloc.call(s, c, gfp, size);
        if (a !== 0 && c !== s.boot) allocated(c, a >>> 0, size);
        return a;
      });
    }
    if (after) {
      hook(s, "allocNode", (c: KmemCache, gfp: number, size: number, nid: number): number => {
        const a = sAllocNode.call(s, c, gfp, size, nid);
        if (a !== 0 && c !== s.boot) allocated(c, a >>> 0, size);
        return a;
      });
    }
    const kfenceFree = (addr: number, c: KmemCache | null, fn: string): boolean => {
      if (kfence === null || !kfence.owns(addr)) return false;
      const size = kfence.free(addr, c, fn);
      if (kasan !== null) kasan.pagesFreed(addr & ~(phys.pageSize - 1), 0, size);
      leak?.remove(addr);
      return true;
    };
    hook(s, "free", (c: KmemCache, addr: number): void => {
      if (kfenceFree(addr, c, "kmem_cache_free")) return;
      if ((c.flags & SlabFlag.KMEM_OWN) !== 0) {
        // kmem's own metadata: freed at once (no quarantine), refused to a caller.
        sFree.call(s, c, addr);
      } else if (kasan !== null) {
        kasan.objectFree(c, addr, false, "kmem_cache_free", () =>
          s.checkLive(c, addr, "kmem_cache_free"),
        );
      } else {
        sFree.call(s, c, addr);
      }
      leak?.remove(addr);
    });
    // KFENCE's objects are in no slab: kfree never hands them to freeInSlab.
    if (after) {
      hook(s, "freeInSlab", (head: number, addr: number): void => {
        if (kasan !== null) {
          kasan.objectFree(s.slabCache(head), addr, true, "kfree", () => {
            s.liveObjectCache(head, addr);
          });
        } else {
          sFreeInSlab.call(s, head, addr);
        }
        leak?.remove(addr);
      });
    }
    if (kasan !== null) {
      const sDestroy = orig<SlubAllocator["destroy"]>(s, "destroy");
      const sShrink = orig<SlubAllocator["shrink"]>(s, "shrink");
      const sShrinkAll = orig<SlubAllocator["shrinkAll"]>(s, "shrinkAll");
      hook(s, "destroy", (c: KmemCache): void => {
        kasan.drain(c);
        sDestroy.call(s, c);
      });
      hook(s, "shrink", (c: KmemCache): number => {
        kasan.drain(c);
        return sShrink.call(s, c);
      });
      hook(s, "shrinkAll", (n: number): number => {
        kasan.drain();
        return sShrinkAll.call(s, n);
      });
    }

    /* ---------------------------------------------------------------- kmalloc */

    const kmKmalloc = orig<Kmalloc["kmalloc"]>(km, "kmalloc");
    const kmKmallocNode = orig<Kmalloc["kmallocNode"]>(km, "kmallocNode");
    const kmKfree = orig<Kmalloc["kfree"]>(km, "kfree");
    const kmKsize = orig<Kmalloc["ksize"]>(km, "ksize");
    const kmKrealloc = orig<Kmalloc["krealloc"]>(km, "krealloc");
    const kmResize = orig<Kmalloc["resizeInPlace"]>(km, "resizeInPlace");
    const f = phys.frames;
    /** The bytes of the kmalloc_large block at `addr` (its pages: not a power of two). */
    const largeBytes = (addr: number): number =>
      largePages(f, addr >>> phys.pageShift) << phys.pageShift;
    const large = (a: number, size: number): number => {
      if (a !== 0 && size > km.maxCacheSize) {
        kasan?.largeAllocated(a >>> 0, size, largeBytes(a >>> 0));
        leak?.add(a >>> 0, size, "kmalloc_large");
      }
      return a;
    };
    if (after) {
      hook(km, "kmalloc", (size: number, gfp: number): number =>
        large(kmKmalloc.call(km, size, gfp), size),
      );
      hook(km, "kmallocNode", (size: number, gfp: number, nid: number): number =>
        large(kmKmallocNode.call(km, size, gfp, nid), size),
      );
      hook(km, "kfree", (addr: number): void => {
        if (kfenceFree(addr, null, "kfree")) return;
        if (addr === 0 || s.slabOf(addr) !== 0 || addr < phys.firstManagedPfn * phys.pageSize) {
          kmKfree.call(km, addr);
          return;
        }
        kasan?.largeFreeing(addr, "kfree");
        const bytes = largeBytes(addr);
        kmKfree.call(km, addr);
        kasan?.blockFreed(addr, bytes, -1);
        leak?.remove(addr);
      });
    } else if (kfence !== null) {
      // KFENCE alone: a kfree costs one range compare (is_kfence_address) before kmalloc's.
      hook(km, "kfree", (addr: number): void => {
        if (kfence.owns(addr)) kfenceFree(addr, null, "kfree");
        else kmKfree.call(km, addr);
      });
    }
    hook(km, "ksize", (addr: number): number => {
      if (kfence !== null && kfence.owns(addr)) return kfence.ksize(addr, "ksize");
      kasan?.checkByte(addr, "ksize");
      return kmKsize.call(km, addr);
    });
    hook(km, "krealloc", (addr: number, size: number, gfp: number, init: boolean): number => {
      kasan?.checkByte(addr, "krealloc");
      return kmKrealloc.call(km, addr, size, gfp, init);
    });
    hook(km, "resizeInPlace", (addr: number, size: number, usable: number, zero: boolean): void => {
      if (kfence !== null && kfence.owns(addr)) {
        kfence.resize(addr, size, zero);
      } else {
        kmResize.call(km, addr, size, usable, zero);
      }
      kasan?.resized(addr, size, usable, s.slabOf(addr) !== 0 || kfence?.owns(addr) === true);
      leak?.resize(addr, size);
    });
  }

  /* ---------------------------------------------------------------- pages, vmalloc */

  if (kasan !== null) {
    const allocPages = orig<(order: number, gfp?: number) => number>(mm, "allocPages");
    const allocPagesNode = orig<(nid: number, order: number, gfp?: number) => number>(
      mm,
      "allocPagesNode",
    );
    const freePages = orig<(addr: number, order: number) => void>(mm, "freePages");
    hook(mm, "allocPages", function (this: Facade, order: number, gfp?: number): number {
      const a = allocPages.call(this, order, gfp);
      if (a !== 0) kasan.pagesAllocated(a, order);
      return a;
    });
    hook(
      mm,
      "allocPagesNode",
      function (this: Facade, nid: number, order: number, gfp?: number): number {
        const a = allocPagesNode.call(this, nid, order, gfp);
        if (a !== 0) kasan.pagesAllocated(a, order);
        return a;
      },
    );
    hook(mm, "freePages", function (this: Facade, addr: number, order: number): void {
      freePages.call(this, addr, order);
      if (addr !== 0) kasan.pagesFreed(addr, order);
    });
  }
  if (kasan !== null || leak !== null) {
    const vmVmalloc = orig<Vmalloc["vmalloc"]>(vm, "vmalloc");
    const vmVfree = orig<Vmalloc["vfree"]>(vm, "vfree");
    hook(vm, "vmalloc", (size: number, gfp: number, entry: never, swappable?: boolean): number => {
      const a = vmVmalloc.call(vm, size, gfp, entry, swappable);
      if (a !== 0) {
        kasan?.vmallocAllocated(a, size);
        leak?.add(a, size, "vmalloc");
      }
      return a;
    });
    hook(vm, "vfree", (addr: number): void => {
      const pages = kasan === null ? null : kasan.vmallocPages(addr);
      vmVfree.call(vm, addr);
      if (pages !== null) kasan?.vmallocFreed(addr, pages);
      leak?.remove(addr);
    });
  }

  /* ---------------------------------------------------------------- swap */

  // Swappable vmalloc memory: a page swapped out is freed (its shadow: free) and comes
  // back in another page, which gets the shadow the old one had.
  const sw = vm.swap;
  if (kasan !== null && sw !== null) {
    const swOut = orig<(pfn: number) => boolean>(sw, "swapOut");
    const swIn = orig<(page: number) => boolean>(sw, "swapIn");
    const ps = phys.pageSize;
    hook(sw, "swapOut", (pfn: number): boolean => {
      const vpage = phys.frames[pfn * Frame.WORDS + PgVm.VM_PAGE] as number;
      const bytes = kasan.accessibleBytes(pfn * ps);
      const ok = swOut.call(sw, pfn);
      if (ok) kasan.pageSwappedOut(vpage, pfn * ps, bytes);
      return ok;
    });
    hook(sw, "swapIn", (page: number): boolean => {
      const ok = swIn.call(sw, page);
      if (ok) {
        const p = translate(vm.start + page * ps);
        if (p >= 0) kasan.pageSwappedIn(page, p);
      }
      return ok;
    });
  }

  /* ---------------------------------------------------------------- accessors */

  if (kasan !== null || kfence !== null) {
    const check = (addr: number, size: number, write: boolean, fn: string): void => {
      kfence?.check(addr, size, write, fn);
      kasan?.check(addr, size, write, fn);
    };
    for (const [name, size, write] of ACCESSORS) {
      const method = orig<(addr: number, value?: unknown) => unknown>(mm, name);
      hook(mm, name, function (this: Facade, addr: number, value?: unknown): unknown {
        check(addr, size, write, name);
        return method.call(this, addr, value);
      });
    }
    const read = orig<(addr: number, length: number) => Uint8Array>(mm, "read");
    const write = orig<(addr: number, bytes: ArrayBufferView) => void>(mm, "write");
    const view = orig<(addr: number, length: number) => Uint8Array>(mm, "view");
    hook(mm, "read", function (this: Facade, addr: number, length: number): Uint8Array {
      if (typeof length === "number" && length >>> 0 === length) check(addr, length, false, "read");
      return read.call(this, addr, length);
    });
    hook(mm, "view", function (this: Facade, addr: number, length: number): Uint8Array {
      if (typeof length === "number" && length >>> 0 === length) check(addr, length, false, "view");
      return view.call(this, addr, length);
    });
    hook(mm, "write", function (this: Facade, addr: number, bytes: ArrayBufferView): void {
      if (ArrayBuffer.isView(bytes)) check(addr, bytes.byteLength, true, "write");
      write.call(this, addr, bytes);
    });
  }
  return san;
}
