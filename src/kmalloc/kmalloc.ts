/*
 * kmalloc: general-purpose allocation by size, over one slab cache per size class
 * (mm/slab_common.c); larger requests go straight to the page allocator (kmalloc_large),
 * flagged KMALLOC on their head frame. Two sets of classes, up to 2 * pageSize each:
 *
 *  - "fine" (the default): the multiples of 8 to 64, then four classes per power of two
 *    (p + p/4, p + p/2, p + 3p/4, 2p), 36 classes with 4 KiB pages, so that a request
 *    wastes at most 7 bytes up to 64 and a fifth of its class above (Bonwick's Solaris kmem
 *    had some 30 classes from 8 bytes to 9 KiB in 10-20% steps, for the same reason; the
 *    24-, 40- and 56-byte classes took jq's 17-24-byte blocks and Python's small objects
 *    out of kmalloc-32 and -64: BENCHMARKS.md, "Real programs");
 *
 *      size   1..8  9..16  17..24  25..32  33..40  41..48  49..56  57..64  65..80  81..96
 *      class    8    16     24      32      40      48      56      64      80      96
 *
 *  - "linux": Linux's, the powers of two from 8 plus 96 and 192 (8, 16, 32, 64, 96, 128, 192,
 *    256, 512, 1k, 2k, 4k, 8k with 4 KiB pages): a request may waste half its class.
 *
 * Power-of-two classes are naturally aligned (kmalloc(64) % 64 == 0), as Linux guarantees;
 * the others are 8-byte aligned (ARCH_KMALLOC_MINALIGN), and 16-byte aligned when their size
 * is a multiple of 16 (every class from 64 on). kmalloc's guarantee is Linux's: 8 bytes, and
 * a power of two's own size. A C malloc must give 16 bytes (max_align_t) to every request of
 * 16 bytes or more (C17 7.22.3: a 16-byte long double fits in it): a malloc over kmalloc
 * rounds such requests up to a multiple of 16 first (WasmHeap does), so that the 24-, 40-
 * and 56-byte classes serve it nothing.
 *
 * A size finds its class in one load, a byte table indexed by (size - 1) >> 3 (Linux's
 * size_index, over every class). kmalloc(0) returns ZERO_SIZE_PTR (16): not NULL, but no
 * byte may be touched, and kfree and ksize accept it.
 */

import { describe, KmemError } from "../errors.js";
import { Hdr, HdrOption, type PhysMem } from "../memory/index.js";
import { type BuddyAllocator, Gfp } from "../page/index.js";
import { HEAP_MIN, KmallocHeap, type HeapStats } from "./heap.js";
import { LargeKmalloc } from "./large.js";
import { LargeRunCache, LcDesc } from "./large-cache.js";
import { type KmallocBackend, type KmemCache, SlabFlag } from "../slab-common/index.js";

/** Linux's ZERO_SIZE_PTR: what kmalloc(0) returns. It lies in the reserved header page. */
export const ZERO_SIZE_PTR = 16;

/** kmalloc's sets of size classes: "fine" (the default) and Linux's. */
export type SizeClasses = "fine" | "linux";

/**
 * The size classes of a set for a page size, ascending, up to 2 * pageSize: "linux" 2^3 ..
 * 2^(pageShift+1) with 96 and 192; "fine" 8..64 in steps of 8, then four per power of two.
 */
export function kmallocSizes(pageSize: number, set: SizeClasses = "fine"): number[] {
  const sizes: number[] = [];
  if (set === "linux") {
    for (let s = 8; s <= pageSize * 2; s *= 2) {
      sizes.push(s);
      if (s === 64) sizes.push(96);
      if (s === 128) sizes.push(192);
    }
    return sizes;
  }
  for (let s = 8; s <= 64; s += 8) sizes.push(s);
  for (let p = 64; p < pageSize * 2; p *= 2) {
    for (let q = 1; q <= 4; q++) sizes.push(p + (p / 4) * q);
  }
  return sizes;
}

/**
 * A kmalloc front end: size classes over an object allocator's caches (Kmalloc), or SLOB,
 * which serves kmalloc itself. Sizes, gfp masks, nodes and addresses come checked (the
 * facade's entry points): a size is a non-negative integer, an address unsigned.
 */
export interface KmallocApi {
  kmalloc(size: number, gfp: number): number;
  /** kmalloc_node: from node `nid` (-1: no node). */
  kmallocNode(size: number, gfp: number, nid: number): number;
  /** kfree: `kfree(0)` and `kfree(ZERO_SIZE_PTR)` do nothing. */
  kfree(addr: number): void;
  /** ksize: the usable size of the allocation at `addr`; KmemError if it is not one. */
  ksize(addr: number): number;
  /** krealloc: the shared krealloc() below, over this front end. */
  krealloc(addr: number, size: number, gfp: number, initOnAlloc: boolean): number;
  /**
   * krealloc's resize in place, `size` within `usable` (ksize): the bytes from `size` on
   * zeroed when `zero`, and whatever else the allocator keeps about the requested size.
   */
  resizeInPlace(addr: number, size: number, usable: number, zero: boolean): void;
  /**
   * kmem's own metadata (the descriptors and records of vmalloc, mempools, zsmalloc, zram
   * and swap): blocks kfree, ksize and krealloc refuse, freed by kfreeOwn only. SLUB and
   * SLAB serve them from caches of their own (kmem_meta-N, flagged KMEM_OWN), SLOB tags
   * them with an id of their own; beyond those, pages flagged so.
   */
  kmallocOwn(size: number, gfp: number): number;
  /** Frees what kmallocOwn returned. */
  kfreeOwn(addr: number): void;
  /** The usable size of what kmallocOwn returned; KmemError if `addr` is not one. */
  ksizeOwn(addr: number): number;
  /** The invariants of kmalloc's own structures beyond the slab caches (its heap). */
  verifyHeap?(): void;
  /** Gives the heap's spare chunks back to the page allocator; returns their pages. */
  shrinkHeap?(): number;
  /** The heap's chunks and blocks, or null without one. */
  heapStats?(): HeapStats | null;
  /** Bytes of the allocated blocks of the heap chunk at `addr`, or -1 (no chunk there). */
  heapChunkUsed?(addr: number): number;
}

/**
 * krealloc over any front end: in place while the allocation's usable size holds `size`,
 * else a new allocation with the contents copied and the old one freed; on failure 0, the
 * old untouched. `krealloc(0, n)` is kmalloc, `krealloc(p, 0)` frees and returns
 * ZERO_SIZE_PTR. `zero` (__GFP_ZERO or init_on_alloc) zeroes what lies past `size`.
 */
export function krealloc(
  km: KmallocApi,
  mem: PhysMem,
  addr: number,
  size: number,
  gfp: number,
  initOnAlloc: boolean,
): number {
  if (addr === 0 || addr === ZERO_SIZE_PTR) return km.kmalloc(size, gfp);
  const ks = km.ksize(addr);
  if (size === 0) {
    km.kfree(addr);
    return ZERO_SIZE_PTR;
  }
  if (size <= ks) {
    km.resizeInPlace(addr, size, ks, (gfp & Gfp.ZERO) !== 0 || initOnAlloc);
    return addr;
  }
  const moved = km.kmalloc(size, gfp);
  if (moved === 0) return 0;
  mem.copy(moved, addr, ks);
  try {
    km.kfree(addr);
  } catch (err) {
    // The old allocation was found damaged (REDZONE): give the new one back too.
    km.kfree(moved);
    throw err;
  }
  return moved;
}

/** "kmalloc-64", "kmalloc-1k". */
function className(size: number): string {
  return size >= 1024 && size % 1024 === 0 ? `kmalloc-${size / 1024}k` : `kmalloc-${size}`;
}

export class Kmalloc implements KmallocApi {
  private readonly slab: KmallocBackend;
  private readonly large: LargeKmalloc;
  private readonly mem: PhysMem;
  /** The caches, by class index. */
  readonly caches: KmemCache[] = [];
  /** Class index of every size 1..maxCacheSize, by (size - 1) >> 3 (Linux size_index). */
  private readonly sizeIndex: Uint8Array;
  /** Largest size served by a cache (KMALLOC_MAX_CACHE_SIZE). */
  readonly maxCacheSize: number;
  /** The set of size classes. */
  readonly sizeClasses: SizeClasses;
  /** kmem_meta-16, -32, then every fourth power of two up to 2 * pageSize (kmallocOwn). */
  private readonly ownCaches: KmemCache[] = [];
  /** The largest of them: beyond it kmallocOwn takes pages. */
  private readonly ownMax: number;
  /**
   * The heap for the sizes above the classes' route (heap.ts), or null: Linux's classes,
   * the sanitizers, or a memory whose largest block is too small for a chunk.
   */
  readonly heap: KmallocHeap | null;
  /** The cache of freed large runs (large-cache.ts): with the heap only. */
  readonly largeCache: LargeRunCache | null;
  /** The largest size the size classes serve: HEAP_MIN with a heap, else maxCacheSize. */
  private readonly classMax: number;
  /** The largest size the heap serves (0 without one); beyond it, whole pages. */
  private readonly heapMax: number;
  /** pageSize - 1: a request of whole pages takes pages, not a heap block. */
  private readonly pageMask: number;

  /** `fresh`: create the size classes' caches; otherwise find those another context made. */
  constructor(
    phys: PhysMem,
    buddy: BuddyAllocator,
    slab: KmallocBackend,
    fresh = true,
    sizeClasses: SizeClasses = "fine",
  ) {
    this.slab = slab;
    this.large = new LargeKmalloc(phys, buddy);
    this.mem = phys;
    this.sizeClasses = sizeClasses;
    const sizes = kmallocSizes(phys.pageSize, sizeClasses);
    this.maxCacheSize = sizes[sizes.length - 1] as number;
    for (const size of sizes) {
      const pow2 = (size & (size - 1)) === 0;
      const align = pow2 ? Math.min(size, phys.pageSize) : 8;
      // Not mergeable (as with Linux's hardened usercopy): a cache merged into kmalloc-N would
      // share its objects, and WRONG_CACHE and BUSY could no longer tell them apart.
      // The fine classes' slabs are sized for footprint; Linux's keep Linux's orders.
      const flags =
        SlabFlag.KMALLOC | SlabFlag.NO_MERGE | (sizeClasses === "fine" ? SlabFlag.FOOTPRINT : 0);
      const c = fresh
        ? slab.createCacheInternal(className(size), size, align, flags, null)
        : slab.findByName(className(size));
      if (c === null && !fresh) {
        // Opened: the cache was made with the instance, so its descriptor is damaged.
        throw new KmemError(
          "CORRUPTION",
          `SLAB-7: the kmalloc cache ${className(size)} is missing`,
        );
      }
      if (c === null)
        throw new RangeError("memory is too small for the kmalloc caches' descriptors");
      this.caches.push(c);
    }
    // kmem's own metadata: kmem_meta-16 and -32 (zsmalloc's handles, vmalloc's records),
    // then powers of four (few descriptors: an instance of 1 MiB keeps its pages), made with
    // the instance (no context takes slab_mutex for them later, in an operation).
    let top = 0;
    for (let bytes = 16; bytes <= this.maxCacheSize; bytes *= bytes < 32 ? 2 : 4) {
      top = bytes;
      const name = `kmem_meta-${bytes}`;
      const c = fresh
        ? slab.ownCache(name, bytes, Math.min(bytes, phys.pageSize))
        : slab.findByName(name);
      if (c === null && !fresh)
        throw new KmemError("CORRUPTION", `SLAB-7: the cache ${name} is missing`);
      if (c === null)
        throw new RangeError("memory is too small for kmem's own caches' descriptors");
      this.ownCaches.push(c);
    }
    this.ownMax = top;
    // Every class is a multiple of 8: the sizes 8i+1..8i+8 share one.
    this.sizeIndex = new Uint8Array(this.maxCacheSize >> 3);
    for (let i = 0, c = 0; i < this.sizeIndex.length; i++) {
      while ((sizes[c] as number) < (i + 1) * 8) c++;
      this.sizeIndex[i] = c;
    }
    // The heap, when the instance was made with one (its descriptors in the header).
    const opts = phys.header[Hdr.OPTIONS] as number;
    this.heap =
      (phys.header[Hdr.KHEAP] as number) !== 0
        ? new KmallocHeap(
            phys,
            buddy,
            fresh,
            (opts & HdrOption.INIT_ON_ALLOC) !== 0,
            (opts & HdrOption.INIT_ON_FREE) !== 0,
          )
        : null;
    const heap = this.heap;
    // The large-run caches' descriptors after the heaps', where the header has room for them.
    const lcAt = heap === null ? 0 : heap.largeCacheAddress();
    this.largeCache =
      heap === null || lcAt + phys.nrNodes * LcDesc.WORDS * 4 > phys.headerWords * 4
        ? null
        : new LargeRunCache(phys, buddy, lcAt, fresh);
    if (heap !== null && this.largeCache !== null) {
      const lc = this.largeCache;
      this.large.setCache(lc);
      const grow = (nid: number, pages: number): void => lc.grow(nid, pages);
      heap.onGrow = grow;
      slab.onGrow = grow;
    }
    this.classMax = this.heap === null ? this.maxCacheSize : Math.min(HEAP_MIN, this.maxCacheSize);
    this.heapMax = this.heap === null ? 0 : this.heap.maxSize;
    this.pageMask = phys.pageSize - 1;
  }

  /** The class index for a size in 1..maxCacheSize. */
  private index(size: number): number {
    return this.sizeIndex[(size - 1) >> 3] as number;
  }

  /** kmalloc: `size` is a trusted non-negative integer here. */
  kmalloc(size: number, gfp: number): number {
    // One compare for 1..classMax: size 0 wraps to 2^32 - 1. Everything else is a call of
    // its own, so that this body stays small enough for V8 to inline whole into its callers.
    if ((size - 1) >>> 0 < this.classMax) {
      return this.slab.alloc(this.caches[this.index(size)] as KmemCache, gfp, size);
    }
    return this.kmallocBeyondClasses(size, gfp, -1);
  }

  /** kmalloc_node: as kmalloc, from node `nid` (-1: no node). `nid` is trusted here. */
  kmallocNode(size: number, gfp: number, nid: number): number {
    if ((size - 1) >>> 0 < this.classMax) {
      return this.slab.allocNode(this.caches[this.index(size)] as KmemCache, gfp, size, nid);
    }
    return this.kmallocBeyondClasses(size, gfp, nid);
  }

  /**
   * A request of 0 bytes or above classMax: the heap, a power of two's class above the
   * heap's threshold, or whole pages. Powers of two stay in their classes (naturally aligned,
   * as Linux guarantees), whole pages take pages (page-aligned, as kmalloc_large's are), and
   * so does a heap request when the heap cannot grow.
   */
  private kmallocBeyondClasses(size: number, gfp: number, nid: number): number {
    if (size === 0) return ZERO_SIZE_PTR;
    if (size <= this.heapMax && (size & (size - 1)) !== 0 && (size & this.pageMask) !== 0) {
      const p = (this.heap as KmallocHeap).alloc(size, gfp, nid);
      // No chunk to be had (no free block of CHUNK_BYTES): whole pages, a smaller block.
      if (p !== 0) return p;
      return this.large.alloc(size, gfp, nid);
    }
    if (size <= this.maxCacheSize) {
      const c = this.caches[this.index(size)] as KmemCache;
      return nid < 0 ? this.slab.alloc(c, gfp, size) : this.slab.allocNode(c, gfp, size, nid);
    }
    return this.large.alloc(size, gfp, nid);
  }

  /** kfree: `addr` is an unsigned 32-bit integer here. */
  kfree(addr: number): void {
    const head = this.slab.slabOf(addr);
    if (head !== 0) {
      this.slab.freeInSlab(head, addr);
      return;
    }
    this.kfreeBeyondSlabs(addr);
  }

  /** kfree of what no slab holds: nothing (0, ZERO_SIZE_PTR), a heap block or whole pages. */
  private kfreeBeyondSlabs(addr: number): void {
    if (addr === 0 || addr === ZERO_SIZE_PTR) return;
    if (this.heap !== null && this.heap.kfree(addr)) return;
    this.large.free(addr, "kfree");
  }

  /** ksize: the usable size of the allocation at `addr`. */
  ksize(addr: number): number {
    if (addr === 0 || addr === ZERO_SIZE_PTR) return 0;
    const head = this.slab.slabOf(addr);
    if (head !== 0) return this.slab.liveObjectCache(head, addr).coreObjectSize;
    if (this.heap !== null) {
      const c = this.heap.chunkOf(addr);
      if (c !== 0) return this.heap.usable(c, addr, "ksize");
    }
    return this.large.usable(addr, "ksize");
  }

  /**
   * krealloc: a heap block is resized in place when it can be (shrunk by splitting, grown
   * into a free next block), else moved; the rest as the shared krealloc() does.
   */
  krealloc(addr: number, size: number, gfp: number, initOnAlloc: boolean): number {
    const heap = this.heap;
    if (heap !== null && size !== 0 && addr !== ZERO_SIZE_PTR && addr !== 0) {
      const head = this.slab.slabOf(addr);
      if (head !== 0) return this.kreallocObject(head, addr, size, gfp, initOnAlloc);
      const c = heap.chunkOf(addr);
      if (c !== 0) {
        const zero = (gfp & Gfp.ZERO) !== 0 || initOnAlloc;
        if (size <= heap.chunkBytes && heap.resize(c, addr, size, zero) >= 0) return addr;
        const ks = heap.usable(c, addr, "krealloc");
        const moved = this.kmalloc(size, gfp);
        if (moved === 0) return 0;
        this.mem.copy(moved, addr, ks < size ? ks : size);
        heap.free(c, addr);
        return moved;
      }
    }
    return krealloc(this, this.mem, addr, size, gfp, initOnAlloc);
  }

  /**
   * krealloc of the object at `addr` in the slab at `head`, with a heap (so no sanitizer's
   * hooks on ksize, resizeInPlace and kfree): the shared krealloc()'s steps with the slab
   * found once. ksize's check (a live object, not one of kmem's own) comes first; in place,
   * the object is left as it is unless it is to be zeroed or its cache keeps the requested
   * size (debug); moved, the old object is freed as kfree frees it.
   */
  private kreallocObject(
    head: number,
    addr: number,
    size: number,
    gfp: number,
    initOnAlloc: boolean,
  ): number {
    const slab = this.slab;
    const c = slab.liveObjectCache(head, addr);
    const ks = c.coreObjectSize;
    if (size <= ks) {
      const zero = (gfp & Gfp.ZERO) !== 0 || initOnAlloc;
      if (zero || c.debug !== 0) slab.resizeInPlace(addr, size, zero);
      return addr;
    }
    const moved = this.kmalloc(size, gfp);
    if (moved === 0) return 0;
    this.mem.copy(moved, addr, ks);
    try {
      slab.freeInSlab(head, addr);
    } catch (err) {
      // The old object was found damaged (REDZONE): give the new one back too.
      this.kfree(moved);
      throw err;
    }
    return moved;
  }

  /** The heap's invariants (HEAP-1..6) and its large-run cache's (LCACHE-1..3). */
  verifyHeap(): void {
    this.heap?.verify();
    this.largeCache?.verify();
  }

  /** The heap's spare chunks and the large-run cache go back; returns their pages. */
  shrinkHeap(): number {
    if (this.heap === null) return 0;
    return this.heap.shrink() + (this.largeCache?.shrink() ?? 0);
  }

  /** The heap's chunks and blocks (and the large-run cache's pages), or null without one. */
  heapStats(): HeapStats | null {
    if (this.heap === null) return null;
    const s = this.heap.stats();
    s.largeCachedPages = this.largeCache?.pages() ?? 0;
    return s;
  }

  heapChunkUsed(addr: number): number {
    return this.heap === null ? -1 : this.heap.chunkUsed(addr);
  }

  kmallocOwn(size: number, gfp: number): number {
    if (size > this.ownMax) return this.large.alloc(size, gfp, -1, true);
    // 16, 32, then 2^(2i + 3): i = (ceil(log2 size) - 2) / 2.
    const i = size <= 16 ? 0 : size <= 32 ? 1 : (30 - Math.clz32(size - 1)) >> 1;
    return this.slab.alloc(this.ownCaches[i] as KmemCache, gfp, size);
  }

  kfreeOwn(address: number): void {
    // Addresses read back from descriptor words are i32: unsigned from 2 GiB up.
    const addr = address >>> 0;
    if (this.slab.slabOf(addr) !== 0) this.slab.freeOwn(addr);
    else this.large.free(addr, "kfree", true);
  }

  ksizeOwn(address: number): number {
    const addr = address >>> 0;
    const head = this.slab.slabOf(addr);
    if (head !== 0) return this.slab.ksizeOwn(head, addr);
    return this.large.usable(addr, "ksize", true);
  }

  /** A slab object: its allocator moves the kmalloc red zone; pages: zeroed past `size`. */
  resizeInPlace(addr: number, size: number, usable: number, zero: boolean): void {
    const c = this.heap === null ? 0 : this.heap.chunkOf(addr);
    if (this.slab.slabOf(addr) !== 0) this.slab.resizeInPlace(addr, size, zero);
    else if (c !== 0) (this.heap as KmallocHeap).resize(c, addr, size, zero);
    else if (zero) this.mem.fill(0, addr + size, addr + usable);
  }
}

/** Checks a size argument: a non-negative integer (beyond memory is fine: the call returns 0). */
export function badSize(name: string, size: unknown): never {
  if (typeof size !== "number" || !Number.isInteger(size)) {
    throw new TypeError(`${name} must be a non-negative integer, got ${describe(size)}`);
  }
  throw new RangeError(`${name} must be a non-negative integer, got ${size}`);
}
