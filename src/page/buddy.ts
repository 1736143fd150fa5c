/*
 * The page allocator: a binary buddy system over the managed frames, with Linux's watermarks,
 * GFP semantics and per-cpu lists of order-0 pages (mm/page_alloc.c).
 *
 * A free block of order k is 2^k frames starting at a pfn divisible by 2^k; its buddy is the
 * block at pfn ^ 2^k. Allocation takes the smallest free block of order >= k and splits it,
 * putting each upper half back on the free list one order down. Freeing merges a block with
 * its buddy while the buddy is free and of the same order, then lists the result.
 *
 *   order 3  [0 1 2 3 4 5 6 7]               alloc order 0 from one free order-3 block:
 *   split    [0 1 2 3][4 5 6 7]  -> 4..7 free (order 2)
 *   split    [0 1][2 3]          -> 2..3 free (order 1)
 *   split    [0][1]              -> 1 free (order 0), 0 allocated
 *
 * Order-0 pages freed go to a per-cpu list first (Linux's pcp lists): an alloc+free pair
 * then touches no buddy list at all. The list holds at most pcpHigh pages; past that,
 * pcpBatch of its coldest pages go back to the buddy lists. An empty list refills with
 * pcpBatch pages. Pages on it are not counted in nrFree (NR_FREE_PAGES), as in Linux.
 *
 * Invariants (verify() reports them by id):
 *   BUDDY-1  a free block of order k starts at a pfn divisible by 2^k, inside the managed frames
 *   BUDDY-2  free_area[k] is a consistent doubly linked list of PG_BUDDY heads of order k,
 *            and its length is nr_free[k]
 *   BUDDY-3  no free block's buddy is a free block of the same order (they would have merged)
 *   BUDDY-4  header[H_NR_FREE] == sum_k nr_free[k] << k
 *   MEMMAP-1 the managed frames are tiled by blocks: each frame is the head of a free block
 *            (PG_BUDDY), of an allocated block (PG_HEAD) or a per-cpu page (PG_PCP), or is an
 *            all-zero tail of exactly one such block
 *   PCP-1    each per-cpu list is a consistent doubly linked list of PG_PCP order-0 pages whose
 *            length is its count
 */

import { hex, KmemError } from "../errors.js";
import type { FaultAttr } from "../fault/index.js";
import {
  eventBase,
  FA_HEAD,
  FA_NR_FREE,
  FRAME_WORDS,
  FREE_AREA_WORDS,
  H_FIRST_PFN,
  H_FREE_AREA,
  H_MAGIC,
  H_MAX_ORDER,
  H_MIN_FREE_KB,
  H_NR_FREE,
  H_PAGE_SHIFT,
  H_PCP_BATCH,
  H_PCP_HIGH,
  H_TOTAL_PAGES,
  H_VERSION,
  H_WMARK_HIGH,
  H_WMARK_LOW,
  H_WMARK_MIN,
  KMEM_MAGIC,
  LAYOUT_VERSION,
  NR_VM_EVENTS,
  PCP_COUNT,
  PCP_HEAD,
  PCP_TAIL,
  PG_BUDDY,
  PG_FLAGS,
  PG_HEAD,
  PG_NEXT,
  PG_ORDER,
  PG_PCP,
  PG_PREV,
  PG_STATE_MASK,
  type PhysMem,
  pcpBase,
  VM_ALLOCSTALL,
  VM_FAULT_INJECTED,
  VM_PAGEOUTRUN,
  VM_PCP_DRAIN,
  VM_PGALLOC,
  VM_PGALLOC_FAIL,
  VM_PGFREE,
} from "../memory/index.js";
import {
  __GFP_DIRECT_RECLAIM,
  __GFP_HIGH,
  __GFP_HIGHMEM,
  __GFP_KSWAPD_RECLAIM,
  __GFP_NOFAIL,
  __GFP_NOWARN,
  __GFP_ZERO,
  gfpString,
} from "./gfp.js";
import { computeWatermarks, pcpBatch, pcpHigh, type Watermarks } from "./watermarks.js";

/* alloc_flags of the watermark check (mm/internal.h). */
const ALLOC_WMARK_MIN = 0;
const ALLOC_WMARK_LOW = 1;
const ALLOC_WMARK_MASK = 3;
const ALLOC_NO_WATERMARKS = 4;
const ALLOC_MIN_RESERVE = 8; // __GFP_HIGH: min -= min / 2
const ALLOC_NON_BLOCK = 16; // cannot reclaim: with MIN_RESERVE, min -= min / 4 more

/**
 * A shrinker gives memory back under pressure (slab caches register one). It is asked to
 * free up to `nrToScan` pages and returns how many it freed.
 */
export type Shrinker = (nrToScan: number) => number;

export type LogFn = (line: string) => void;

/** Where a frame stands, as the free/misuse paths and verify() classify it. */
interface BlockOwner {
  head: number;
  order: number;
  flags: number;
}

export class BuddyAllocator {
  private readonly h: Int32Array;
  private readonly f: Int32Array;
  private readonly bytes: Uint8Array;
  readonly pageSize: number;
  readonly pageShift: number;
  readonly maxOrder: number;
  readonly totalPages: number;
  readonly firstPfn: number;
  readonly managedPages: number;
  /** One past the last address that can be handed out. */
  private readonly endAddr: number;
  /** This context's cpu id: which per-cpu list and counters it uses. */
  readonly cpu: number;
  private readonly pcp: number;
  private readonly ev: number;
  private readonly nrCpus: number;
  /** fail_page_alloc, or null when off (the hot path tests only this). */
  faultPageAlloc: FaultAttr | null = null;
  log: LogFn | null = null;
  private readonly shrinkers: Shrinker[] = [];

  constructor(mem: PhysMem, minFreeBytes: number | undefined, cpu = 0) {
    this.h = mem.header;
    this.f = mem.frames;
    this.bytes = mem.bytes;
    this.pageSize = mem.pageSize;
    this.pageShift = mem.pageShift;
    this.maxOrder = mem.maxOrder;
    this.totalPages = mem.totalPages;
    this.firstPfn = mem.firstManagedPfn;
    this.managedPages = mem.managedPages;
    this.endAddr = mem.totalPages * mem.pageSize;
    this.nrCpus = mem.nrCpus;
    this.cpu = cpu;
    this.pcp = pcpBase(cpu);
    this.ev = eventBase(mem.nrCpus, cpu);

    const w = computeWatermarks(mem.managedPages, mem.pageSize, minFreeBytes);
    const h = this.h;
    h[H_MIN_FREE_KB] = w.minFreeKb;
    h[H_WMARK_MIN] = w.min;
    h[H_WMARK_LOW] = w.low;
    h[H_WMARK_HIGH] = w.high;
    const batch = pcpBatch(mem.managedPages, mem.pageSize);
    h[H_PCP_BATCH] = batch;
    h[H_PCP_HIGH] = pcpHigh(w.low, batch, mem.nrCpus);
    this.freeBootMemory();
  }

  /**
   * Hands the managed frames to the free lists as the largest aligned blocks that fit
   * (memblock_free_all). Per-block work only: tails stay zero.
   */
  private freeBootMemory(): void {
    let pfn = this.firstPfn;
    const end = this.totalPages;
    const top = this.maxOrder - 1;
    while (pfn < end) {
      let order = top;
      while (order > 0 && (pfn % 2 ** order !== 0 || pfn + 2 ** order > end)) order--;
      this.addToFreeArea(pfn, order);
      this.h[H_NR_FREE] += 1 << order;
      pfn += 1 << order;
    }
  }

  /* ------------------------------------------------------------------ free lists */

  private addToFreeArea(pfn: number, order: number): void {
    const f = this.f;
    const h = this.h;
    const fa = H_FREE_AREA + FREE_AREA_WORDS * order;
    const i = pfn * FRAME_WORDS;
    const head = h[fa + FA_HEAD] as number;
    f[i + PG_FLAGS] = PG_BUDDY;
    f[i + PG_ORDER] = order;
    f[i + PG_NEXT] = head;
    f[i + PG_PREV] = 0;
    if (head !== 0) f[head * FRAME_WORDS + PG_PREV] = pfn;
    h[fa + FA_HEAD] = pfn;
    h[fa + FA_NR_FREE]++;
  }

  private delFromFreeArea(pfn: number, order: number): void {
    const f = this.f;
    const h = this.h;
    const fa = H_FREE_AREA + FREE_AREA_WORDS * order;
    const i = pfn * FRAME_WORDS;
    const next = f[i + PG_NEXT] as number;
    const prev = f[i + PG_PREV] as number;
    if (prev !== 0) f[prev * FRAME_WORDS + PG_NEXT] = next;
    else h[fa + FA_HEAD] = next;
    if (next !== 0) f[next * FRAME_WORDS + PG_PREV] = prev;
    h[fa + FA_NR_FREE]--;
    f[i + PG_FLAGS] = 0;
    f[i + PG_ORDER] = 0;
    f[i + PG_NEXT] = 0;
    f[i + PG_PREV] = 0;
  }

  /** __rmqueue_smallest: the smallest free block of order >= `order`, split down. 0 if none. */
  private rmqueueSmallest(order: number): number {
    const h = this.h;
    for (let o = order; o < this.maxOrder; o++) {
      const pfn = h[H_FREE_AREA + FREE_AREA_WORDS * o + FA_HEAD] as number;
      if (pfn === 0) continue;
      this.delFromFreeArea(pfn, o);
      while (o > order) {
        o--;
        this.addToFreeArea(pfn + (1 << o), o);
      }
      h[H_NR_FREE] -= 1 << order;
      return pfn;
    }
    return 0;
  }

  /** __free_one_page: merge with free buddies upward, then list. The head's flags are clear. */
  private freeOneBlock(pfn: number, order: number): void {
    const f = this.f;
    const top = this.maxOrder - 1;
    const total = this.totalPages;
    this.h[H_NR_FREE] += 1 << order;
    while (order < top) {
      const buddy = pfn ^ (1 << order);
      if (buddy >= total) break;
      const b = buddy * FRAME_WORDS;
      if (((f[b + PG_FLAGS] as number) & PG_BUDDY) === 0 || f[b + PG_ORDER] !== order) break;
      this.delFromFreeArea(buddy, order);
      pfn &= buddy;
      order++;
    }
    this.addToFreeArea(pfn, order);
  }

  /* ------------------------------------------------------------------ per-cpu lists */

  /** Moves `batch` order-0 pages from the buddy lists to this cpu's list. */
  private pcpRefill(): number {
    const h = this.h;
    const f = this.f;
    const p = this.pcp;
    const batch = h[H_PCP_BATCH] as number;
    let got = 0;
    for (; got < batch; got++) {
      const pfn = this.rmqueueSmallest(0);
      if (pfn === 0) break;
      const i = pfn * FRAME_WORDS;
      const tail = h[p + PCP_TAIL] as number;
      f[i + PG_FLAGS] = PG_PCP;
      f[i + PG_ORDER] = 0;
      f[i + PG_NEXT] = 0;
      f[i + PG_PREV] = tail;
      if (tail !== 0) f[tail * FRAME_WORDS + PG_NEXT] = pfn;
      else h[p + PCP_HEAD] = pfn;
      h[p + PCP_TAIL] = pfn;
    }
    h[p + PCP_COUNT] += got;
    return got;
  }

  /** Gives the `count` coldest pages of cpu `cpu`'s list back to the buddy lists. */
  private pcpDrain(cpu: number, count: number): void {
    const h = this.h;
    const f = this.f;
    const p = pcpBase(cpu);
    let n = 0;
    while (n < count) {
      const pfn = h[p + PCP_TAIL] as number;
      if (pfn === 0) break;
      const i = pfn * FRAME_WORDS;
      const prev = f[i + PG_PREV] as number;
      h[p + PCP_TAIL] = prev;
      if (prev !== 0) f[prev * FRAME_WORDS + PG_NEXT] = 0;
      else h[p + PCP_HEAD] = 0;
      f[i + PG_FLAGS] = 0;
      f[i + PG_NEXT] = 0;
      f[i + PG_PREV] = 0;
      this.freeOneBlock(pfn, 0);
      n++;
    }
    h[p + PCP_COUNT] -= n;
    if (n > 0) this.h[this.ev + VM_PCP_DRAIN]++;
  }

  /** drain_all_pages: empties every per-cpu list. Returns the pages moved. */
  drainAll(): number {
    let moved = 0;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      const count = this.h[pcpBase(cpu) + PCP_COUNT] as number;
      if (count > 0) {
        this.pcpDrain(cpu, count);
        moved += count;
      }
    }
    return moved;
  }

  /* ------------------------------------------------------------------ watermarks */

  /**
   * __zone_watermark_ok: after taking 2^order pages, free pages must stay above the mark
   * (less the reserve share the flags allow), and a block of order >= `order` must exist.
   */
  private watermarkOk(order: number, allocFlags: number): boolean {
    const h = this.h;
    if ((allocFlags & ALLOC_NO_WATERMARKS) !== 0) return true;
    const free = (h[H_NR_FREE] as number) - ((1 << order) - 1);
    let min = h[H_WMARK_MIN + (allocFlags & ALLOC_WMARK_MASK)] as number;
    if ((allocFlags & ALLOC_MIN_RESERVE) !== 0) {
      min -= Math.floor(min / 2);
      if ((allocFlags & ALLOC_NON_BLOCK) !== 0) min -= Math.floor(min / 4);
    }
    if (free <= min) return false;
    if (order === 0) return true;
    for (let o = order; o < this.maxOrder; o++) {
      if ((h[H_FREE_AREA + FREE_AREA_WORDS * o + FA_NR_FREE] as number) > 0) return true;
    }
    return false;
  }

  /** gfp_to_alloc_flags for the slow path. */
  private slowAllocFlags(gfp: number): number {
    let flags = ALLOC_WMARK_MIN;
    if ((gfp & __GFP_HIGH) !== 0) flags |= ALLOC_MIN_RESERVE;
    if ((gfp & __GFP_DIRECT_RECLAIM) === 0) flags |= ALLOC_NON_BLOCK;
    return flags;
  }

  /* ------------------------------------------------------------------ allocation */

  /** Takes a block past the watermark check: from the per-cpu list for order 0. 0 if none. */
  private rmqueue(order: number): number {
    if (order !== 0) return this.rmqueueSmallest(order);
    const h = this.h;
    const p = this.pcp;
    let pfn = h[p + PCP_HEAD] as number;
    if (pfn === 0) {
      if (this.pcpRefill() === 0) return 0;
      pfn = h[p + PCP_HEAD] as number;
    }
    const f = this.f;
    const next = f[pfn * FRAME_WORDS + PG_NEXT] as number;
    h[p + PCP_HEAD] = next;
    if (next !== 0) f[next * FRAME_WORDS + PG_PREV] = 0;
    else h[p + PCP_TAIL] = 0;
    h[p + PCP_COUNT]--;
    f[pfn * FRAME_WORDS + PG_NEXT] = 0;
    return pfn;
  }

  /** Marks a taken block allocated and returns its address. */
  private prepNewPage(pfn: number, order: number, gfp: number): number {
    const i = pfn * FRAME_WORDS;
    this.f[i + PG_FLAGS] = PG_HEAD;
    this.f[i + PG_ORDER] = order;
    this.h[this.ev + VM_PGALLOC] += 1 << order;
    const addr = pfn * this.pageSize;
    if ((gfp & __GFP_ZERO) !== 0) this.bytes.fill(0, addr, addr + (this.pageSize << order));
    return addr;
  }

  /**
   * Allocates 2^order physically contiguous pages aligned to their size. Returns the address
   * of the first, or 0 when the request cannot be met. `order` and `gfp` are trusted here:
   * the facade validates them.
   */
  allocPages(order: number, gfp: number): number {
    if (this.faultPageAlloc !== null && this.shouldFailAlloc(order, gfp)) {
      return this.allocFailed(order, gfp);
    }
    if (this.watermarkOk(order, ALLOC_WMARK_LOW)) {
      const pfn = this.rmqueue(order);
      if (pfn !== 0) return this.prepNewPage(pfn, order, gfp);
    }
    return this.allocSlowpath(order, gfp);
  }

  /** __alloc_pages_slowpath, for a single context: kswapd, reserves, direct reclaim. */
  private allocSlowpath(order: number, gfp: number): number {
    const allocFlags = this.slowAllocFlags(gfp);
    if ((gfp & __GFP_KSWAPD_RECLAIM) !== 0) this.kswapd();
    let pfn = this.tryAlloc(order, allocFlags);
    if (pfn === 0 && this.pcpPages() > 0) {
      // Pages parked on the per-cpu lists are free memory the buddy lists cannot see.
      this.drainAll();
      pfn = this.tryAlloc(order, allocFlags);
    }
    if (pfn === 0 && (gfp & __GFP_DIRECT_RECLAIM) !== 0) {
      this.h[this.ev + VM_ALLOCSTALL]++;
      if (this.directReclaim(1 << order) > 0) pfn = this.tryAlloc(order, allocFlags);
    }
    if (pfn === 0 && (gfp & __GFP_NOFAIL) !== 0) {
      // No other context can free memory here, so waiting would never end: take what the
      // reserves hold instead.
      pfn = this.tryAlloc(order, ALLOC_NO_WATERMARKS);
    }
    if (pfn !== 0) return this.prepNewPage(pfn, order, gfp);
    return this.allocFailed(order, gfp);
  }

  private tryAlloc(order: number, allocFlags: number): number {
    return this.watermarkOk(order, allocFlags) ? this.rmqueue(order) : 0;
  }

  /** should_fail_alloc_page: the scope filters, then should_fail_ex. */
  private shouldFailAlloc(order: number, gfp: number): boolean {
    const attr = this.faultPageAlloc;
    if (attr === null) return false;
    if (order < attr.minOrder) return false;
    if ((gfp & __GFP_NOFAIL) !== 0) return false;
    if (attr.ignoreGfpHighmem && (gfp & __GFP_HIGHMEM) !== 0) return false;
    if (attr.ignoreGfpWait && (gfp & __GFP_DIRECT_RECLAIM) !== 0) return false;
    if (!attr.shouldFail(1 << order)) return false;
    this.h[this.ev + VM_FAULT_INJECTED]++;
    if (attr.verbose > 0 && (gfp & __GFP_NOWARN) === 0 && this.log !== null) {
      this.log(attr.message());
    }
    return true;
  }

  /** warn_alloc: reports the failure (unless __GFP_NOWARN) and returns 0. */
  private allocFailed(order: number, gfp: number): number {
    this.h[this.ev + VM_PGALLOC_FAIL]++;
    if ((gfp & __GFP_NOWARN) === 0 && this.log !== null) {
      this.log(`kmem: page allocation failure: order:${order}, mode:${gfpString(gfp)}`);
      this.log(this.freeAreaLine());
    }
    return 0;
  }

  /** show_free_areas' per-order line: "Normal: 4*4kB 2*8kB ... = 32kB". */
  freeAreaLine(): string {
    const parts: string[] = [];
    let totalKb = 0;
    for (let o = 0; o < this.maxOrder; o++) {
      const n = this.h[H_FREE_AREA + FREE_AREA_WORDS * o + FA_NR_FREE] as number;
      const kb = (this.pageSize << o) / 1024;
      parts.push(`${n}*${kb}kB`);
      totalKb += n * kb;
    }
    return `Node 0 Normal: ${parts.join(" ")} = ${totalKb}kB`;
  }

  /* ------------------------------------------------------------------ reclaim */

  /** Registers a shrinker run by reclaim (slab caches give back empty slabs through it). */
  registerShrinker(shrinker: Shrinker): void {
    this.shrinkers.push(shrinker);
  }

  unregisterShrinker(shrinker: Shrinker): void {
    const i = this.shrinkers.indexOf(shrinker);
    if (i >= 0) this.shrinkers.splice(i, 1);
  }

  /** Runs every shrinker asking for `nrPages` in all; returns the pages freed. */
  private shrinkAll(nrPages: number): number {
    let freed = 0;
    for (const shrinker of this.shrinkers) {
      freed += shrinker(Math.max(nrPages - freed, 1));
      if (freed >= nrPages) break;
    }
    return freed;
  }

  /**
   * Background reclaim (kswapd's balance_pgdat, run inline: a single context has no other
   * thread to wake). Below the low watermark it shrinks until free memory reaches high.
   */
  private kswapd(): void {
    const h = this.h;
    const free = h[H_NR_FREE] as number;
    if (free > (h[H_WMARK_LOW] as number) || this.shrinkers.length === 0) return;
    h[this.ev + VM_PAGEOUTRUN]++;
    this.shrinkAll((h[H_WMARK_HIGH] as number) - free);
  }

  /** Direct reclaim: shrinkers, then the per-cpu lists. Returns pages made free. */
  private directReclaim(nrPages: number): number {
    return this.shrinkAll(nrPages) + this.drainAll();
  }

  /* ------------------------------------------------------------------ freeing */

  /**
   * Frees the block of 2^order pages at `addr`. Every misuse is found before any state
   * changes: an address outside memory or not page-aligned, a reserved frame, a frame that
   * is not the head of an allocated block, a wrong order, a page already free.
   */
  freePages(addr: number, order: number): void {
    const pfn = this.checkFree(addr, order);
    this.h[this.ev + VM_PGFREE] += 1 << order;
    this.releaseBlock(pfn, order);
  }

  /** Returns the pfn behind `addr` if it is the head of an allocated order-`order` block. */
  checkFree(addr: number, order: number): number {
    if (
      addr < this.firstPfn * this.pageSize ||
      addr >= this.endAddr ||
      addr % this.pageSize !== 0
    ) {
      this.badAddress(addr);
    }
    const pfn = addr >>> this.pageShift;
    const i = pfn * FRAME_WORDS;
    if (((this.f[i + PG_FLAGS] as number) & PG_HEAD) === 0) this.notAllocated(addr, pfn);
    const have = this.f[i + PG_ORDER] as number;
    if (have !== order) {
      throw new KmemError(
        "INVALID_FREE",
        `freePages(${hex(addr)}, ${order}): the block at ${hex(addr)} was allocated with order ${have}`,
      );
    }
    return pfn;
  }

  /** Puts an allocated block back: order 0 on this cpu's list, larger blocks merged. */
  releaseBlock(pfn: number, order: number): void {
    const f = this.f;
    const i = pfn * FRAME_WORDS;
    if (order !== 0) {
      f[i + PG_FLAGS] = 0;
      f[i + PG_ORDER] = 0;
      this.freeOneBlock(pfn, order);
      return;
    }
    const h = this.h;
    const p = this.pcp;
    const head = h[p + PCP_HEAD] as number;
    f[i + PG_FLAGS] = PG_PCP;
    f[i + PG_ORDER] = 0;
    f[i + PG_NEXT] = head;
    f[i + PG_PREV] = 0;
    if (head !== 0) f[head * FRAME_WORDS + PG_PREV] = pfn;
    else h[p + PCP_TAIL] = pfn;
    h[p + PCP_HEAD] = pfn;
    const count = ++h[p + PCP_COUNT];
    if (count > (h[H_PCP_HIGH] as number)) this.pcpDrain(this.cpu, h[H_PCP_BATCH] as number);
  }

  private badAddress(addr: number): never {
    if (addr < 0 || addr >= this.endAddr) {
      throw new KmemError(
        "INVALID_FREE",
        `address ${hex(addr)} is outside physical memory (0..${hex(this.endAddr)})`,
      );
    }
    if (addr % this.pageSize !== 0) {
      throw new KmemError(
        "INVALID_FREE",
        `address ${hex(addr)} is not aligned to the page size (${this.pageSize})`,
      );
    }
    throw new KmemError(
      "INVALID_FREE",
      `address ${hex(addr)} is in the reserved region (header and mem_map, below ${hex(this.firstPfn * this.pageSize)})`,
    );
  }

  /** Explains why `pfn` is not an allocated head: free already, or inside another block. */
  private notAllocated(addr: number, pfn: number): never {
    const owner = this.ownerOf(pfn);
    if (owner === null) {
      throw new KmemError("CORRUPTION", `frame ${pfn} (${hex(addr)}) belongs to no block`);
    }
    const free = (owner.flags & (PG_BUDDY | PG_PCP)) !== 0;
    if (free) {
      throw new KmemError(
        "DOUBLE_FREE",
        owner.head === pfn
          ? `page ${hex(addr)} is already free`
          : `page ${hex(addr)} is already free (inside the free order-${owner.order} block at ${hex(owner.head * this.pageSize)})`,
      );
    }
    throw new KmemError(
      "INVALID_FREE",
      `page ${hex(addr)} is not the head of an allocation: it is inside the order-${owner.order} block at ${hex(owner.head * this.pageSize)}`,
    );
  }

  /**
   * The block containing `pfn`: the head frame at or below it, at most maxOrder candidate
   * heads (pfn rounded down to each order), so O(maxOrder).
   */
  ownerOf(pfn: number): BlockOwner | null {
    const f = this.f;
    for (let o = 0; o < this.maxOrder; o++) {
      const head = pfn - (pfn % 2 ** o);
      if (head < this.firstPfn) break;
      const flags = f[head * FRAME_WORDS + PG_FLAGS] as number;
      if ((flags & PG_STATE_MASK) === 0) continue;
      const order = f[head * FRAME_WORDS + PG_ORDER] as number;
      if (head + 2 ** order > pfn) return { head, order, flags };
      return null;
    }
    return null;
  }

  /* ------------------------------------------------------------------ introspection */

  /** Pages on the buddy free lists (NR_FREE_PAGES). */
  buddyFreePages(): number {
    return this.h[H_NR_FREE] as number;
  }

  /** Pages parked on all per-cpu lists. */
  pcpPages(): number {
    let n = 0;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) n += this.h[pcpBase(cpu) + PCP_COUNT] as number;
    return n;
  }

  /** nr_free per order (free blocks on each buddy list). */
  freeByOrder(): number[] {
    const out: number[] = [];
    for (let o = 0; o < this.maxOrder; o++) {
      out.push(this.h[H_FREE_AREA + FREE_AREA_WORDS * o + FA_NR_FREE] as number);
    }
    return out;
  }

  watermarks(): Watermarks {
    const h = this.h;
    return {
      minFreeKb: h[H_MIN_FREE_KB] as number,
      min: h[H_WMARK_MIN] as number,
      low: h[H_WMARK_LOW] as number,
      high: h[H_WMARK_HIGH] as number,
    };
  }

  pcpLimits(): { batch: number; high: number } {
    return { batch: this.h[H_PCP_BATCH] as number, high: this.h[H_PCP_HIGH] as number };
  }

  /** An event counter summed over all cpus. */
  event(index: number): number {
    let sum = 0;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      sum += this.h[eventBase(this.nrCpus, cpu) + index] as number;
    }
    return sum;
  }

  /** All event counters summed over cpus. */
  events(): number[] {
    const out: number[] = [];
    for (let e = 0; e < NR_VM_EVENTS; e++) out.push(this.event(e));
    return out;
  }

  /** Checks every invariant in the header comment; throws CORRUPTION naming the first broken. */
  verify(): void {
    const h = this.h;
    const f = this.f;
    const corrupt = (id: string, what: string): never => {
      throw new KmemError("CORRUPTION", `${id}: ${what}`);
    };
    if (h[H_MAGIC] !== KMEM_MAGIC || h[H_VERSION] !== LAYOUT_VERSION) {
      corrupt("LAYOUT-1", `header magic/version is ${hex(h[H_MAGIC] as number)}/${h[H_VERSION]}`);
    }
    if (
      h[H_PAGE_SHIFT] !== this.pageShift ||
      h[H_MAX_ORDER] !== this.maxOrder ||
      h[H_TOTAL_PAGES] !== this.totalPages ||
      h[H_FIRST_PFN] !== this.firstPfn
    ) {
      corrupt("LAYOUT-1", "header geometry words do not match the instance");
    }

    // MEMMAP-1: walk the frames block by block.
    const blocksByOrder = new Array<number>(this.maxOrder).fill(0);
    let pcpSeen = 0;
    let pfn = this.firstPfn;
    while (pfn < this.totalPages) {
      const i = pfn * FRAME_WORDS;
      const flags = f[i + PG_FLAGS] as number;
      const state = flags & PG_STATE_MASK;
      if (state !== PG_BUDDY && state !== PG_HEAD && state !== PG_PCP) {
        corrupt(
          "MEMMAP-1",
          `frame ${pfn} is neither a block head nor inside a block (flags ${hex(flags)})`,
        );
      }
      const order = f[i + PG_ORDER] as number;
      if (order < 0 || order >= this.maxOrder || (state === PG_PCP && order !== 0)) {
        corrupt("MEMMAP-1", `frame ${pfn} has order ${order}`);
      }
      if (pfn % 2 ** order !== 0 || pfn + 2 ** order > this.totalPages) {
        corrupt(
          "BUDDY-1",
          `block at frame ${pfn} of order ${order} is misaligned or runs past memory`,
        );
      }
      for (let t = pfn + 1; t < pfn + 2 ** order; t++) {
        if (f[t * FRAME_WORDS + PG_FLAGS] !== 0 || f[t * FRAME_WORDS + PG_ORDER] !== 0) {
          corrupt(
            "MEMMAP-1",
            `frame ${t} is inside the order-${order} block at frame ${pfn} but is not a zero tail`,
          );
        }
      }
      if (state === PG_BUDDY) {
        blocksByOrder[order] = (blocksByOrder[order] as number) + 1;
        const buddy = pfn ^ (1 << order);
        if (
          order < this.maxOrder - 1 &&
          buddy < this.totalPages &&
          ((f[buddy * FRAME_WORDS + PG_FLAGS] as number) & PG_BUDDY) !== 0 &&
          f[buddy * FRAME_WORDS + PG_ORDER] === order
        ) {
          corrupt(
            "BUDDY-3",
            `free blocks at frames ${pfn} and ${buddy} (order ${order}) are unmerged buddies`,
          );
        }
      }
      if (state === PG_PCP) pcpSeen++;
      pfn += 2 ** order;
    }

    // BUDDY-2 and BUDDY-4: the lists agree with the walk.
    let freePages = 0;
    for (let o = 0; o < this.maxOrder; o++) {
      const fa = H_FREE_AREA + FREE_AREA_WORDS * o;
      const nr = h[fa + FA_NR_FREE] as number;
      if (nr !== blocksByOrder[o]) {
        corrupt(
          "BUDDY-2",
          `nr_free[${o}] is ${nr} but ${blocksByOrder[o]} free blocks of order ${o} exist`,
        );
      }
      let prev = 0;
      let cur = h[fa + FA_HEAD] as number;
      let len = 0;
      while (cur !== 0) {
        if (cur < this.firstPfn || cur >= this.totalPages) {
          corrupt("BUDDY-2", `free_area[${o}] links to frame ${cur}, outside managed memory`);
        }
        const i = cur * FRAME_WORDS;
        if (((f[i + PG_FLAGS] as number) & PG_STATE_MASK) !== PG_BUDDY || f[i + PG_ORDER] !== o) {
          corrupt(
            "BUDDY-2",
            `free_area[${o}] holds frame ${cur}, which is not a free block of order ${o}`,
          );
        }
        if (f[i + PG_PREV] !== prev) {
          corrupt(
            "BUDDY-2",
            `free_area[${o}]: frame ${cur} has prev ${f[i + PG_PREV]}, expected ${prev}`,
          );
        }
        if (++len > nr)
          corrupt("BUDDY-2", `free_area[${o}] is longer than nr_free (${nr}) or cyclic`);
        prev = cur;
        cur = f[i + PG_NEXT] as number;
      }
      if (len !== nr) corrupt("BUDDY-2", `free_area[${o}] has ${len} blocks, nr_free says ${nr}`);
      freePages += nr * 2 ** o;
    }
    if (h[H_NR_FREE] !== freePages) {
      corrupt("BUDDY-4", `nr_free_pages is ${h[H_NR_FREE]} but the free lists hold ${freePages}`);
    }

    // PCP-1.
    let pcpListed = 0;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      const p = pcpBase(cpu);
      const count = h[p + PCP_COUNT] as number;
      let prev = 0;
      let cur = h[p + PCP_HEAD] as number;
      let len = 0;
      while (cur !== 0) {
        if (cur < this.firstPfn || cur >= this.totalPages) {
          corrupt("PCP-1", `pcp list of cpu ${cpu} links to frame ${cur}, outside managed memory`);
        }
        const i = cur * FRAME_WORDS;
        if (((f[i + PG_FLAGS] as number) & PG_STATE_MASK) !== PG_PCP) {
          corrupt(
            "PCP-1",
            `pcp list of cpu ${cpu} holds frame ${cur}, which is not a per-cpu page`,
          );
        }
        if (f[i + PG_PREV] !== prev) {
          corrupt(
            "PCP-1",
            `pcp list of cpu ${cpu}: frame ${cur} has prev ${f[i + PG_PREV]}, expected ${prev}`,
          );
        }
        if (++len > count)
          corrupt("PCP-1", `pcp list of cpu ${cpu} is longer than its count (${count}) or cyclic`);
        prev = cur;
        cur = f[i + PG_NEXT] as number;
      }
      if (len !== count || h[p + PCP_TAIL] !== prev) {
        corrupt(
          "PCP-1",
          `pcp list of cpu ${cpu}: ${len} pages listed, count ${count}, tail ${h[p + PCP_TAIL]}`,
        );
      }
      pcpListed += len;
    }
    if (pcpListed !== pcpSeen) {
      corrupt("PCP-1", `${pcpSeen} frames are marked per-cpu but the lists hold ${pcpListed}`);
    }
  }
}
