/*
 * kmalloc: general-purpose allocation by size, over one slab cache per size class
 * (mm/slab_common.c). Classes are the powers of two from 8 to 2 * pageSize, plus 96 and 192
 * (8, 16, 32, 64, 96, 128, 192, 256, 512, 1k, 2k, 4k, 8k with 4 KiB pages); larger requests
 * go straight to the page allocator (kmalloc_large), flagged KMALLOC on their head frame.
 *
 *   size      1..8  9..16  17..32  33..64  65..96  97..128  129..192  193..256  ...
 *   class       8    16     32      64      96      128      192       256     powers of 2
 *
 * Power-of-two classes are naturally aligned (kmalloc(64) % 64 == 0), as Linux guarantees.
 * kmalloc(0) returns ZERO_SIZE_PTR (16): not NULL, but no byte may be touched, and kfree and
 * ksize accept it.
 */

import { describe, KmemError } from "../errors.js";
import type { PhysMem } from "../memory/index.js";
import { type BuddyAllocator, Gfp } from "../page/index.js";
import { LargeKmalloc } from "./large.js";
import { type KmallocBackend, type KmemCache, SlabFlag } from "../slab-common/index.js";

/** Linux's ZERO_SIZE_PTR: what kmalloc(0) returns. It lies in the reserved header page. */
export const ZERO_SIZE_PTR = 16;

/** Size classes for a page size: 2^3 .. 2^(pageShift+1), with 96 and 192 among them. */
export function kmallocSizes(pageSize: number): number[] {
  const sizes: number[] = [];
  for (let s = 8; s <= pageSize * 2; s *= 2) {
    sizes.push(s);
    if (s === 64) sizes.push(96);
    if (s === 128) sizes.push(192);
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
  private readonly pageSize: number;
  /** The caches, by class index. */
  readonly caches: KmemCache[] = [];
  /** Class index for sizes 1..192, by (size - 1) >> 3 (Linux size_index). */
  private readonly smallIndex = new Int8Array(24);
  /** Largest size served by a cache (KMALLOC_MAX_CACHE_SIZE). */
  readonly maxCacheSize: number;

  /** `fresh`: create the size classes' caches; otherwise find those another context made. */
  constructor(phys: PhysMem, buddy: BuddyAllocator, slab: KmallocBackend, fresh = true) {
    this.slab = slab;
    this.large = new LargeKmalloc(phys, buddy);
    this.mem = phys;
    this.pageSize = phys.pageSize;
    const sizes = kmallocSizes(phys.pageSize);
    this.maxCacheSize = sizes[sizes.length - 1] as number;
    for (const size of sizes) {
      const pow2 = (size & (size - 1)) === 0;
      const align = pow2 ? Math.min(size, phys.pageSize) : 8;
      // Not mergeable (as with Linux's hardened usercopy): a cache merged into kmalloc-N would
      // share its objects, and WRONG_CACHE and BUSY could no longer tell them apart.
      const flags = SlabFlag.KMALLOC | SlabFlag.NO_MERGE;
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
    for (let i = 0; i < 24; i++) {
      const size = (i + 1) * 8;
      this.smallIndex[i] = sizes.findIndex((s) => s >= size);
    }
  }

  /** The class index for a size in 1..maxCacheSize. */
  private index(size: number): number {
    if (size <= 192) return this.smallIndex[(size - 1) >> 3] as number;
    // Powers of two from 256: class 256 is index 7 (after 8..128, 96, 192).
    return 31 - Math.clz32(size - 1) + 1 - 8 + 7;
  }

  /** kmalloc: `size` is a trusted non-negative integer here. */
  kmalloc(size: number, gfp: number): number {
    if (size <= this.maxCacheSize) {
      if (size === 0) return ZERO_SIZE_PTR;
      return this.slab.alloc(this.caches[this.index(size)] as KmemCache, gfp, size);
    }
    return this.large.alloc(size, gfp);
  }

  /** kmalloc_node: as kmalloc, from node `nid` (-1: no node). `nid` is trusted here. */
  kmallocNode(size: number, gfp: number, nid: number): number {
    if (size <= this.maxCacheSize) {
      if (size === 0) return ZERO_SIZE_PTR;
      return this.slab.allocNode(this.caches[this.index(size)] as KmemCache, gfp, size, nid);
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
    if (addr === 0 || addr === ZERO_SIZE_PTR) return;
    this.large.free(addr, "kfree");
  }

  /** ksize: the usable size of the allocation at `addr`. */
  ksize(addr: number): number {
    if (addr === 0 || addr === ZERO_SIZE_PTR) return 0;
    const head = this.slab.slabOf(addr);
    if (head !== 0) return this.slab.liveObjectCache(head, addr).coreObjectSize;
    return this.pageSize << this.large.order(addr, "ksize");
  }

  krealloc(addr: number, size: number, gfp: number, initOnAlloc: boolean): number {
    return krealloc(this, this.mem, addr, size, gfp, initOnAlloc);
  }

  /** A slab object: its allocator moves the kmalloc red zone; pages: zeroed past `size`. */
  resizeInPlace(addr: number, size: number, usable: number, zero: boolean): void {
    if (this.slab.slabOf(addr) !== 0) this.slab.resizeInPlace(addr, size, zero);
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
