/*
 * The cache of freed large runs: kfree of a large allocation (large.ts) of n pages, n up to
 * MAX_PAGES, keeps the run whole in a bin for n instead of giving its pieces back to the
 * page allocator one by one, and kmalloc of n pages takes a cached run of exactly n before
 * it goes to the page allocator (the pieces and their frames stay as they were: a hit
 * clears a mark, a put sets it; init_on_free wipes a run as it goes in). Measured on program traces, a kmalloc + kfree pair of
 * 16-100 KiB through the page allocator (a buddy block cut back to n pages, n pieces given
 * back) costs some 4,400 instructions; through the cache, some 900 (BENCHMARKS.md,
 * "The cache of freed large runs").
 *
 * What it may hold: runs of at most MAX_PAGES pages, PER_BIN runs a bin, CAP_BYTES in all
 * (and at most a sixteenth of the node's pages); a free that finds its bin full or the cap
 * reached frees its pieces as before. So that it costs no footprint a program would see, it
 * gives way to growth: before kmalloc takes pages from the page allocator (a large
 * allocation that misses the cache, a chunk of the heap, a new slab of any cache: grow()),
 * the node's free pages after the request are compared with the lowest seen so far (LOW, a
 * hint kept without the lock); below it, cached runs are evicted first (the largest first:
 * the highest bin of the bitmap) until they cover the difference. The pages kmalloc holds
 * therefore pass their previous peak only when the cache is empty: caching never raises
 * the peak footprint (but for pages taken outside kmalloc: vmalloc, allocPages).
 *
 * The cache is dropped whole by shrink() (Kmem.shrinkSlabs), by the shrinker reclaim runs,
 * and by the page allocator's slow path before an allocation fails (BuddyAllocator's
 * dropCaches, run for every gfp: a cached run never causes an out-of-memory a plain free
 * would not). It exists with the kmalloc heap only (fine classes, no sanitizer: KASAN,
 * KFENCE and kmemleak see every large free and allocation as the page allocator's), on one
 * buffer.
 *
 * A cached run is still an allocated large allocation to the page allocator (its pieces
 * HEAD | KMALLOC with their orders): what marks it is its first piece's Large.HEAD_PFN word,
 * CACHED instead of 0. kfree of it is a DOUBLE_FREE, of an address inside it an INVALID_FREE
 * (its other pieces name its head as before), found in O(1) before anything changes. The
 * first piece's frame links the bin (LINK: the next run's pfn, 0 at the end):
 *
 *   descriptor of node n (LcDesc.WORDS i32, after the heaps' descriptors)
 *   +------+-------+------+-----+-----+-----+---------------------+---------------------+
 *   | lock | pages | runs | map | low | cap | heads [MAX_PAGES]   | counts [MAX_PAGES]  |
 *   | (own |       |      |     |     |     | first run's pfn of  | runs of bin n       |
 *   | line)|       |      |     |     |     | bin n (n - 1)       |                     |
 *   +------+-------+------+-----+-----+-----+---------------------+---------------------+
 *
 * Lock: the cache lock of each node (LcDesc.LOCK; src/sync/lock.ts gives the order), a
 * leaf: held only while runs are linked or unlinked, never across a call into the page
 * allocator (evicted runs are unlinked under it and freed after).
 *
 * Recovery (a context that died holding the lock): the frames are the ground truth. Setting
 * or clearing a run's mark is the one store that puts it in the cache or takes it out; the
 * bins and counters follow it. recover() walks the node's frames and rebuilds the bins, the
 * bitmap and the counters from the marked runs. A run a
 * dying context had taken out (mark cleared) and not yet freed or returned is a leak, as
 * any allocation of a context that died.
 *
 * Invariants (verify() reports them by id):
 *   LCACHE-1 every run on a bin is a marked large run of the bin's page count on the bin's
 *            node, each on exactly one bin; the bins' lists end (no cycle)
 *   LCACHE-2 each bin's count is its length (at most PER_BIN), the bitmap's bit is set
 *            exactly for the non-empty bins, the runs and pages counters are their sums
 *            (pages at most the cap)
 *   LCACHE-3 the marked frames of memory are exactly the runs on the bins
 */

import { hex, KmemError } from "../errors.js";
import { Frame, Pg, PgFlag, type PhysMem, Zone } from "../memory/index.js";
import type { BuddyAllocator } from "../page/index.js";
import { lockSynced, unlock } from "../sync/index.js";
import { Large } from "./large.js";

/** Runs of at most this many pages are cached (one bin per page count). */
export const LC_MAX_PAGES = 32;
/** Runs a bin holds at most. */
export const LC_PER_BIN = 4;
/** The cache's bytes at most, per node (less on a small memory: a sixteenth of its pages). */
export const LC_CAP_BYTES = 1 << 20;

/** Words of a node's cache descriptor (see the header's diagram). */
export const enum LcDesc {
  LOCK = 0,
  /** Pages of the cached runs. */
  PAGES = 16,
  RUNS = 17,
  /** Bit n - 1 set: bin n holds a run. */
  MAP = 18,
  /** The lowest free pages seen after a growth (a hint, kept without the lock). */
  LOW = 19,
  /** Pages the cache holds at most (set with the instance, the same for every context). */
  CAP = 21,
  HEADS = 32,
  NR = HEADS + 32,
  WORDS = NR + 32,
}

/** A cached run's first frame: large.ts's Large words, and the link of its bin. */
const enum Run {
  /** The next run of the bin (pfn, 0 at the end), while the run is cached. */
  LINK = Pg.OWNER + 2,
  FLAGS = PgFlag.HEAD | PgFlag.KMALLOC,
}

/**
 * Frees a run's pieces to the page allocator (large.ts: the pieces of n's binary
 * decomposition), the run no longer marked.
 */
export type FreeRun = (pfn: number, pages: number) => void;

export class LargeRunCache {
  private readonly phys: PhysMem;
  private readonly buddy: BuddyAllocator;
  private f: Int32Array;
  private d: Int32Array[] = [];
  private readonly h: Int32Array;
  private readonly smp: number;
  private readonly cpu: number;
  private readonly descAddr: number;
  /** Runs unlinked by an eviction, freed after the lock is given back. */
  private readonly out = new Int32Array(LC_MAX_PAGES * LC_PER_BIN);
  /** What frees a run's pieces (set by large.ts). */
  freeRun: FreeRun = () => {};

  /** `descAddr`: the descriptors' byte address in the header; `fresh`: zero them. */
  constructor(phys: PhysMem, buddy: BuddyAllocator, descAddr: number, fresh: boolean) {
    this.phys = phys;
    this.buddy = buddy;
    this.f = phys.frames;
    this.h = phys.header;
    this.smp = phys.nrCpus > 1 ? 1 : 0;
    this.cpu = buddy.cpu;
    this.descAddr = descAddr;
    this.views();
    if (fresh) {
      phys.fill(0, descAddr, descAddr + phys.nrNodes * LcDesc.WORDS * 4);
      const cap = Math.min(
        LC_CAP_BYTES >>> phys.pageShift,
        Math.floor(phys.managedPages / 16 / phys.nrNodes),
      );
      for (const d of this.d) {
        d[LcDesc.CAP] = cap;
        d[LcDesc.LOW] = 0x7fffffff;
      }
    }
    phys.resized.push(() => {
      this.f = phys.frames;
      this.views();
    });
    // Reclaim (kswapd, direct reclaim, proactive) and the slow path before a failure.
    buddy.registerShrinker(() => this.shrink());
    buddy.dropCaches.push(() => this.shrink());
  }

  private views(): void {
    const out: Int32Array[] = [];
    for (let n = 0; n < this.phys.nrNodes; n++) {
      out.push(this.phys.wordsAt(this.descAddr + n * LcDesc.WORDS * 4, LcDesc.WORDS));
    }
    this.d = out;
  }

  private lockCache(d: Int32Array): void {
    if (this.smp !== 0)
      lockSynced(d, LcDesc.LOCK, this.cpu, "the kmalloc large-run cache lock", this.h, this.phys);
  }

  private unlockCache(d: Int32Array): void {
    if (this.smp !== 0) unlock(d, LcDesc.LOCK, this.cpu);
  }

  /**
   * A cached run of exactly `pages` pages of node `nid`: its first pfn, taken out of the
   * cache (no longer marked), or 0 if the bin is empty.
   */
  take(nid: number, pages: number): number {
    const d = this.d[nid] as Int32Array;
    const b = pages - 1;
    if (d[LcDesc.NR + b] === 0) return 0;
    this.lockCache(d);
    const pfn = d[LcDesc.HEADS + b] as number;
    if (pfn === 0) {
      this.unlockCache(d);
      return 0;
    }
    this.unlinkHead(d, b, pfn);
    this.unlockCache(d);
    return pfn;
  }

  /**
   * Takes run `pfn`, the head of bin `b` (runs of b + 1 pages), out of node `d`'s cache, its
   * mark cleared first (the cache's lock held).
   */
  private unlinkHead(d: Int32Array, b: number, pfn: number): void {
    const f = this.f;
    const i = pfn * Frame.WORDS;
    f[i + Large.HEAD_PFN] = 0;
    d[LcDesc.HEADS + b] = f[i + Run.LINK] as number;
    f[i + Run.LINK] = 0;
    const nr = (d[LcDesc.NR + b] as number) - 1;
    d[LcDesc.NR + b] = nr;
    if (nr === 0) d[LcDesc.MAP] = (d[LcDesc.MAP] as number) & ~(1 << b);
    d[LcDesc.PAGES] = (d[LcDesc.PAGES] as number) - (b + 1);
    d[LcDesc.RUNS] = (d[LcDesc.RUNS] as number) - 1;
  }

  /** Free pages of node `nid` (every node's on one node: per-cpu lists counted). */
  private freePages(nid: number): number {
    const b = this.buddy;
    if (this.phys.nrNodes === 1) return b.buddyFreePages() + b.pcpPages();
    return (b.zones[nid] as Int32Array)[Zone.NR_FREE] as number;
  }

  /**
   * kmalloc is about to take `pages` of node `nid` (-1: this context's) from the page
   * allocator: if the free pages would go below the lowest seen, cached runs go back first.
   */
  grow(nid: number, pages: number): void {
    const n = this.buddy.nodeOrLocal(nid);
    const d = this.d[n] as Int32Array;
    let free = this.freePages(n) - pages;
    const low = d[LcDesc.LOW] as number;
    if (free >= low) return;
    if ((d[LcDesc.PAGES] as number) !== 0) free += this.evict(d, low - free);
    if (free < low) d[LcDesc.LOW] = free;
  }

  /**
   * kfree of the run at `pfn` (checked: a large run of `pages`, not cached): kept in its
   * bin if there is room (true), else false (the caller frees its pieces).
   */
  put(pfn: number, pages: number): boolean {
    const nid = this.buddy.nodeOf(pfn);
    const d = this.d[nid] as Int32Array;
    if (pages > LC_MAX_PAGES) return false;
    const b = pages - 1;
    const limit = (d[LcDesc.CAP] as number) - pages;
    if ((d[LcDesc.PAGES] as number) > limit || (d[LcDesc.NR + b] as number) >= LC_PER_BIN) {
      return false;
    }
    this.lockCache(d);
    const f = this.f;
    const i = pfn * Frame.WORDS;
    if (f[i + Large.HEAD_PFN] === Large.CACHED) {
      // Two frees of one run at once: the other won.
      this.unlockCache(d);
      throw new KmemError(
        "DOUBLE_FREE",
        `kfree(${hex((pfn << this.phys.pageShift) >>> 0)}): the memory is already free`,
      );
    }
    if ((d[LcDesc.PAGES] as number) > limit || (d[LcDesc.NR + b] as number) >= LC_PER_BIN) {
      this.unlockCache(d);
      return false;
    }
    this.linkHead(d, b, pfn);
    this.unlockCache(d);
    return true;
  }

  /**
   * Puts run `pfn` (b + 1 pages) at the head of bin `b` of node `d`'s cache: linked, then
   * marked (the store that makes it cached), then counted (the cache's lock held).
   */
  private linkHead(d: Int32Array, b: number, pfn: number): void {
    const f = this.f;
    const i = pfn * Frame.WORDS;
    f[i + Run.LINK] = d[LcDesc.HEADS + b] as number;
    f[i + Large.HEAD_PFN] = Large.CACHED;
    d[LcDesc.HEADS + b] = pfn;
    d[LcDesc.NR + b] = (d[LcDesc.NR + b] as number) + 1;
    d[LcDesc.MAP] = (d[LcDesc.MAP] as number) | (1 << b);
    d[LcDesc.PAGES] = (d[LcDesc.PAGES] as number) + (b + 1);
    d[LcDesc.RUNS] = (d[LcDesc.RUNS] as number) + 1;
  }

  /**
   * Evicts at least `want` pages of node `d`'s cache (all of it if it holds less), the
   * largest runs first; returns the pages freed.
   */
  private evict(d: Int32Array, want: number): number {
    const f = this.f;
    const out = this.out;
    let n = 0;
    let freed = 0;
    this.lockCache(d);
    while (freed < want) {
      const map = d[LcDesc.MAP] as number;
      if (map === 0) break;
      const b = 31 - Math.clz32(map);
      const pfn = d[LcDesc.HEADS + b] as number;
      this.unlinkHead(d, b, pfn);
      out[n++] = pfn;
      freed += b + 1;
    }
    this.unlockCache(d);
    for (let k = 0; k < n; k++) {
      const pfn = out[k] as number;
      this.freeRun(pfn, f[pfn * Frame.WORDS + Large.PAGES] as number);
    }
    return freed;
  }

  /** Drops every node's cache; returns the pages freed. */
  shrink(): number {
    let pages = 0;
    for (const d of this.d) {
      if ((d[LcDesc.PAGES] as number) !== 0) pages += this.evict(d, Number.MAX_SAFE_INTEGER);
    }
    return pages;
  }

  /** Pages a node's cache holds at most. */
  get cap(): number {
    return (this.d[0] as Int32Array)[LcDesc.CAP] as number;
  }

  /** Pages the cache holds, every node's. */
  pages(): number {
    let pages = 0;
    for (const d of this.d) pages += d[LcDesc.PAGES] as number;
    return pages;
  }

  /** The invariants LCACHE-1..3 (see the header); a KmemError names the first one broken. */
  verify(): void {
    const f = this.f;
    const p = this.phys;
    const bad = (id: string, msg: string): never => {
      throw new KmemError("CORRUPTION", `${id}: ${msg}`);
    };
    let onBins = 0;
    const seen = new Set<number>();
    for (let n = 0; n < this.d.length; n++) {
      const d = this.d[n] as Int32Array;
      let pages = 0;
      let runs = 0;
      let map = 0;
      for (let b = 0; b < LC_MAX_PAGES; b++) {
        let len = 0;
        for (let pfn = d[LcDesc.HEADS + b] as number; pfn !== 0;) {
          const i = pfn * Frame.WORDS;
          if (
            pfn < p.firstManagedPfn ||
            pfn >= p.totalPages ||
            f[i + Pg.FLAGS] !== Run.FLAGS ||
            f[i + Large.HEAD_PFN] !== Large.CACHED ||
            f[i + Large.PAGES] !== b + 1 ||
            this.buddy.nodeOf(pfn) !== n
          ) {
            bad(
              "LCACHE-1",
              `node ${n}'s bin ${b + 1} holds pfn ${pfn}, not a cached run of ${b + 1} pages of the node`,
            );
          }
          if (seen.has(pfn)) bad("LCACHE-1", `the run at pfn ${pfn} is on a bin twice`);
          seen.add(pfn);
          len++;
          pfn = f[i + Run.LINK] as number;
        }
        if (d[LcDesc.NR + b] !== len || len > LC_PER_BIN) {
          bad("LCACHE-2", `node ${n}'s bin ${b + 1} counts ${d[LcDesc.NR + b]} runs, holds ${len}`);
        }
        if (len > 0) map |= 1 << b;
        pages += len * (b + 1);
        runs += len;
      }
      if (d[LcDesc.MAP] !== map) {
        bad(
          "LCACHE-2",
          `node ${n}'s bin bitmap is ${hex(d[LcDesc.MAP] as number)}, its bins say ${hex(map)}`,
        );
      }
      if (
        d[LcDesc.PAGES] !== pages ||
        d[LcDesc.RUNS] !== runs ||
        pages > (d[LcDesc.CAP] as number)
      ) {
        bad(
          "LCACHE-2",
          `node ${n}'s cache counts ${d[LcDesc.RUNS]} runs of ${d[LcDesc.PAGES]} pages, holds ${runs} of ${pages} (cap ${d[LcDesc.CAP]})`,
        );
      }
      onBins += runs;
    }
    let marked = 0;
    for (let pfn = p.firstManagedPfn; pfn < p.totalPages; pfn++) {
      const i = pfn * Frame.WORDS;
      if (f[i + Pg.FLAGS] !== Run.FLAGS || f[i + Large.HEAD_PFN] !== Large.CACHED) continue;
      marked++;
      if (!seen.has(pfn)) bad("LCACHE-3", `the run at pfn ${pfn} is marked cached but on no bin`);
    }
    if (marked !== onBins)
      bad("LCACHE-3", `${marked} runs are marked cached, ${onBins} on the bins`);
  }

  /**
   * Rebuilds node `n`'s cache from the marked runs of its frames, the lock held by the caller
   * (its owner died inside a call): see the header. Returns what was done.
   */
  recover(n: number): string {
    const d = this.d[n] as Int32Array;
    const f = this.f;
    const p = this.phys;
    for (let k = LcDesc.PAGES; k < LcDesc.WORDS; k++) {
      if (k !== LcDesc.LOW && k !== LcDesc.CAP) d[k] = 0;
    }
    let runs = 0;
    for (let pfn = p.firstManagedPfn; pfn < p.totalPages; pfn++) {
      const i = pfn * Frame.WORDS;
      if (f[i + Pg.FLAGS] !== Run.FLAGS || this.buddy.nodeOf(pfn) !== n) continue;
      const pages = f[i + Large.PAGES] as number;
      if (pages <= 0) continue;
      if (f[i + Large.HEAD_PFN] !== Large.CACHED) continue;
      const b = pages - 1;
      if (
        b >= LC_MAX_PAGES ||
        (d[LcDesc.NR + b] as number) >= LC_PER_BIN ||
        (d[LcDesc.PAGES] as number) + pages > (d[LcDesc.CAP] as number)
      ) {
        // Not the cache's to hold (never seen so): an allocated run, leaked as a dead one's.
        f[i + Large.HEAD_PFN] = 0;
        f[i + Run.LINK] = 0;
        continue;
      }
      this.linkHead(d, b, pfn);
      runs++;
    }
    return `the kmalloc large-run cache of node ${n}: ${runs} cached runs found, bins rebuilt`;
  }

  /** The cache lock words, node by node (for the robust lock list). */
  lockWords(): { w: Int32Array; i: number; n: number }[] {
    return this.d.map((w, n) => ({ w, i: LcDesc.LOCK as number, n }));
  }
}
