/*
 * kmalloc_large: requests beyond what the object allocator serves go straight to the page
 * allocator, shared by the SLUB and SLOB kmalloc front ends. A request of n pages takes the
 * block of 2^order pages that holds it and gives the tail back at once, as Linux's
 * alloc_pages_exact does: the n pages stay allocated as the blocks of n's binary
 * decomposition (largest first, each aligned to its size), the rest goes back to the buddy
 * lists as the blocks that tile it. A request wastes less than a page, never half its block.
 *
 *   n = 5, order 3:   [0 1 2 3][4] allocated (orders 2, 0)   [5][6 7] freed (orders 0, 1)
 *
 * Every piece's head frame is HEAD | KMALLOC with its order, so the page allocator and its
 * verify() see ordinary allocated blocks; the first piece's frame (the address kmalloc
 * returned) holds the page count in its first owner word, Large.PAGES, the others 0 there and
 * the head's pfn in Large.HEAD_PFN. kfree and ksize accept the first piece's address only:
 * an address inside a large allocation, a block from allocPages, a free block are refused
 * before anything changes. kmem's own metadata beyond the largest class (kmallocOwn) is such a block with
 * HEAD_PFN = OWN on its first piece: kfree and ksize refuse it, kfreeOwn frees it.
 *
 * With the kmalloc heap, a freed run of up to 32 pages may be kept whole for the next
 * request of its page count instead (large-cache.ts): HEAD_PFN = CACHED on its first piece,
 * so that kfree and ksize see it as freed.
 */

import { hex, KmemError } from "../errors.js";
import { Frame, Hdr, HdrOption, Pg, PgFlag, type PhysMem, Vm } from "../memory/index.js";
import { type BuddyAllocator, Gfp, Mpol } from "../page/index.js";
import { LC_MAX_PAGES, type LargeRunCache } from "./large-cache.js";

/** The owner words of a large kmalloc's head frames (large-cache.ts reads them too). */
export const enum Large {
  /** The first piece: the allocation's pages (> 0); other pieces: 0. */
  PAGES = Pg.OWNER + 0,
  /** Pieces after the first: the first piece's pfn; the first: OWN for kmem's metadata, or 0. */
  HEAD_PFN = Pg.OWNER + 1,
  /** HEAD_PFN of the first piece of kmem's own metadata (kmallocOwn): kfree refuses it. */
  OWN = -1,
  /** HEAD_PFN of the first piece of a run in the cache of freed runs (large-cache.ts). */
  CACHED = -2,
}

/**
 * The pages of the large allocation whose first piece starts at frame `pfn`, or 0 if that
 * frame does not start one (for the sanitizers, which poison and unpoison whole blocks).
 */
export function largePages(f: Int32Array, pfn: number): number {
  const i = pfn * Frame.WORDS;
  return f[i + Pg.FLAGS] === (PgFlag.HEAD | PgFlag.KMALLOC) ? (f[i + Large.PAGES] as number) : 0;
}

/**
 * Whether the head frame `pfn` of a large kmalloc's piece belongs to a run kept in the cache
 * of freed runs (large-cache.ts): its first piece's HEAD_PFN is CACHED (the page map's
 * KMALLOC_CACHED).
 */
export function largeRunCached(f: Int32Array, pfn: number): boolean {
  const i = pfn * Frame.WORDS;
  const at = f[i + Large.HEAD_PFN] as number;
  if (at === Large.CACHED) return true;
  return (
    (f[i + Large.PAGES] as number) === 0 &&
    at > 0 &&
    f[at * Frame.WORDS + Large.HEAD_PFN] === Large.CACHED
  );
}

export class LargeKmalloc {
  private readonly buddy: BuddyAllocator;
  private readonly f: Int32Array;
  private readonly pageSize: number;
  private readonly pageShift: number;
  private readonly maxOrder: number;
  private readonly firstAddr: number;
  /** One past the last byte present (memory hotplug raises it). */
  private endAddr: number;
  private readonly phys: PhysMem;
  /** init_on_alloc: every block is zeroed. */
  private readonly initOnAlloc: boolean;
  /** init_on_free: a run kept in the cache is zeroed when freed, as the heap's blocks are. */
  private readonly initOnFree: boolean;
  /**
   * The cache of freed runs (large-cache.ts), or null: kmalloc without its heap (Linux's
   * classes, the sanitizers). kmem's own metadata never goes through it.
   */
  private cache: LargeRunCache | null = null;

  constructor(phys: PhysMem, buddy: BuddyAllocator) {
    this.buddy = buddy;
    this.f = phys.frames;
    this.pageSize = phys.pageSize;
    this.pageShift = phys.pageShift;
    this.maxOrder = phys.maxOrder;
    this.firstAddr = phys.firstManagedPfn * phys.pageSize;
    this.endAddr = phys.totalPages * phys.pageSize;
    this.phys = phys;
    phys.resized.push(() => {
      this.endAddr = phys.totalPages * phys.pageSize;
    });
    this.initOnAlloc = ((phys.header[Hdr.OPTIONS] as number) & HdrOption.INIT_ON_ALLOC) !== 0;
    this.initOnFree = ((phys.header[Hdr.OPTIONS] as number) & HdrOption.INIT_ON_FREE) !== 0;
  }

  /** Serves and keeps runs through `cache` from now on (kmalloc with its heap). */
  setCache(cache: LargeRunCache): void {
    this.cache = cache;
    cache.freeRun = (pfn, pages) => this.freePieces(pfn, pages);
  }

  /**
   * The node whose cache may serve a request for node `nid` (-1: the memory policy's), or
   * -1 when the policy may place it elsewhere (interleave, bind, preferred: the page
   * allocator decides).
   */
  private cacheNode(nid: number): number {
    if (nid >= 0) return nid;
    if (this.phys.nrNodes === 1) return 0;
    return this.buddy.getPolicy().mode === Mpol.LOCAL ? this.buddy.localNode : -1;
  }

  /** Whether `addr`, beyond this context's memory, was brought online by another since. */
  private onlineSince(addr: number): boolean {
    return this.phys.sync() && addr < this.endAddr;
  }

  /**
   * Whole pages for `size` bytes, on node `nid` (-1: where the memory policy says); 0 when
   * the block that holds them would exceed the largest order or memory is short. Zeroed with
   * init_on_alloc, as every allocation is.
   */
  alloc(size: number, gfp: number, nid = -1, own = false): number {
    const pages = Math.ceil(size / this.pageSize);
    const order = pages <= 1 ? 0 : 32 - Math.clz32(pages - 1);
    if (order >= this.maxOrder) return 0;
    const cache = own ? null : this.cache;
    if (cache !== null) {
      const cnid = this.cacheNode(nid);
      if (cnid >= 0 && pages <= LC_MAX_PAGES) {
        const hit = cache.take(cnid, pages);
        if (hit !== 0) {
          const at = (hit << this.pageShift) >>> 0;
          if (this.initOnAlloc || (gfp & Gfp.ZERO) !== 0) {
            this.phys.fill(0, at, at + pages * this.pageSize);
          }
          this.buddy.ev[Vm.KMALLOC_LARGE]!++;
          return at;
        }
      }
      cache.grow(cnid, pages);
    }
    const addr = this.buddy.allocPagesNode(nid, order, this.initOnAlloc ? gfp | Gfp.ZERO : gfp);
    if (addr === 0) return 0;
    // The pieces that stay: n's binary decomposition from the top, each aligned to its size;
    // the tail goes back (under the zone lock, in an order a dead context cannot tear).
    this.buddy.trimBlock(addr, order, pages, PgFlag.HEAD | PgFlag.KMALLOC);
    const f = this.f;
    const pfn = addr >>> this.pageShift;
    for (let rest = pages, at = 0; rest !== 0;) {
      const k = 31 - Math.clz32(rest);
      rest ^= 1 << k;
      const i = (pfn + at) * Frame.WORDS;
      f[i + Large.PAGES] = at === 0 ? pages : 0;
      f[i + Large.HEAD_PFN] = at !== 0 ? pfn : own ? Large.OWN : 0;
      at += 1 << k;
    }
    this.buddy.ev[Vm.KMALLOC_LARGE]!++;
    return addr;
  }

  /** Frees a large allocation; `fn` names the caller in errors; `own`: kmem's metadata. */
  free(addr: number, fn: string, own = false): void {
    const pages = this.pages(addr, fn, own);
    const f = this.f;
    const pfn = addr >>> this.pageShift;
    // Every piece is checked before the first goes back (or the run is cached): the
    // pieces, largest first, are the set bits of `pages` from the top.
    for (let rest = pages, at = 0; rest !== 0;) {
      const k = 31 - Math.clz32(rest);
      rest ^= 1 << k;
      const i = (pfn + at) * Frame.WORDS;
      if (
        f[i + Pg.FLAGS] !== (PgFlag.HEAD | PgFlag.KMALLOC) ||
        f[i + Pg.ORDER] !== k ||
        (at !== 0 && (f[i + Large.PAGES] !== 0 || f[i + Large.HEAD_PFN] !== pfn))
      ) {
        throw new KmemError(
          "CORRUPTION",
          `${fn}(${hex(addr)}): the frame of page ${pfn + at}, piece ${at} of the ${pages} pages, does not belong to it`,
        );
      }
      at += 1 << k;
    }
    // init_on_free: a kmalloc block is wiped as it is freed, whether cached or not.
    if (!own && this.initOnFree) this.phys.fill(0, addr, addr + pages * this.pageSize);
    if (!own && this.cache !== null && this.cache.put(pfn, pages)) return;
    this.freePieces(pfn, pages);
  }

  /** Gives the pieces of the checked run of `pages` at `pfn` back to the page allocator. */
  private freePieces(pfn: number, pages: number): void {
    const f = this.f;
    // The pieces, largest first: the set bits of `pages` from the top.
    for (let rest = pages, at = 0; rest !== 0;) {
      const k = 31 - Math.clz32(rest);
      rest ^= 1 << k;
      const i = (pfn + at) * Frame.WORDS;
      f[i + Pg.FLAGS] = PgFlag.HEAD;
      f[i + Large.PAGES] = 0;
      f[i + Large.HEAD_PFN] = 0;
      this.buddy.freePages((pfn + at) << this.pageShift, k);
      at += 1 << k;
    }
  }

  /** The usable bytes of the large allocation at `addr`; a KmemError if it is not one. */
  usable(addr: number, fn: string, own = false): number {
    return this.pages(addr, fn, own) * this.pageSize;
  }

  /**
   * The pages of the large allocation at `addr`; a KmemError if it is not one, or if it is
   * kmem's own metadata and `own` is not set (or the other way round).
   */
  private pages(addr: number, fn: string, own = false): number {
    if (addr < this.firstAddr || (addr >= this.endAddr && !this.onlineSince(addr))) {
      throw new KmemError(
        "INVALID_FREE",
        `${fn}(${hex(addr)}): the address is outside managed memory`,
      );
    }
    const pfn = addr >>> this.pageShift;
    const i = pfn * Frame.WORDS;
    const flags = this.f[i + Pg.FLAGS] as number;
    const pages = this.f[i + Large.PAGES] as number;
    if ((addr & (this.pageSize - 1)) === 0 && flags === (PgFlag.HEAD | PgFlag.KMALLOC)) {
      if (pages > 0) {
        const head = this.f[i + Large.HEAD_PFN] as number;
        if (head === Large.CACHED) {
          // In the cache of freed runs: freed already.
          throw new KmemError("DOUBLE_FREE", `${fn}(${hex(addr)}): the memory is already free`);
        }
        if ((head === Large.OWN) === own) return pages;
        throw new KmemError(
          "INVALID_FREE",
          own
            ? `${fn}(${hex(addr)}): not kmem's own metadata`
            : `${fn}(${hex(addr)}): kmem's own metadata (pages of a vmalloc, mempool, zsmalloc, zram or swap descriptor); only kmem frees it`,
        );
      }
      throw new KmemError(
        "INVALID_FREE",
        `${fn}(${hex(addr)}): inside the large allocation at ${hex((this.f[i + Large.HEAD_PFN] as number) << this.pageShift)}, not its start`,
      );
    }
    // Memory that is free (an object whose slab page went back, too): as kfree of a freed object.
    if ((flags & (PgFlag.BUDDY | PgFlag.PCP)) !== 0) {
      throw new KmemError("DOUBLE_FREE", `${fn}(${hex(addr)}): the memory is already free`);
    }
    if (flags === PgFlag.HEAD) {
      throw new KmemError(
        "INVALID_FREE",
        `${fn}(${hex(addr)}): these pages came from allocPages, not kmalloc (free them with freePages)`,
      );
    }
    throw new KmemError("INVALID_FREE", `${fn}(${hex(addr)}): not an address kmalloc returned`);
  }
}
