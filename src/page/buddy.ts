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
 *   BUDDY-2  free_area[k] is a consistent doubly linked list of PgFlag.BUDDY heads of order k,
 *            and its length is nr_free[k]
 *   BUDDY-3  no free block's buddy is a free block of the same order (they would have merged)
 *   BUDDY-4  header[Hdr.NR_FREE] == sum_k nr_free[k] << k
 *   MEMMAP-1 the managed frames are tiled by blocks: each frame is the head of a free block
 *            (PgFlag.BUDDY), of an allocated block (PgFlag.HEAD) or a per-cpu page (PgFlag.PCP), or is an
 *            all-zero tail of exactly one such block
 *   PCP-1    each per-cpu list is a consistent doubly linked list of PgFlag.PCP order-0 pages whose
 *            length is its count
 *
 * Concurrency (instances with more than one cpu; the lock order is in ARCHITECTURE.md):
 *   zone lock       free_area[] (lists and nr_free), nrFree, the frames of free blocks
 *                   (BUDDY state and links), and the per-cpu lists of cpus that are offline.
 *                   A block leaves the lock already marked HEAD (or PCP): no other cpu ever
 *                   sees a frame between states.
 *   no lock         a cpu's own per-cpu list and event counters: only that cpu touches them
 *                   while it is online (the order-0 fast paths). Another cpu that wants the
 *                   pages posts CpuRequest.DRAIN_PAGES; the owner serves it at its next free
 *                   or slow-path allocation. offlineCpu() drains an offline cpu's list itself.
 *   Atomics         kswapdPending, cpu states and requests.
 * Reads of nrFree and nr_free for the watermark checks take no lock (as Linux's do): a stale
 * value only sends a request down the slow path, which checks again under the lock.
 */

import { hex, KmemError } from "../errors.js";
import type { FaultAttr } from "../fault/index.js";
import {
  CpuRequest,
  CpuState,
  eventBase,
  Frame,
  FreeArea,
  Hdr,
  HdrOption,
  Layout,
  Pcp,
  Pg,
  PgFlag,
  type PhysMem,
  pcpBase,
  Vm,
} from "../memory/index.js";
import { canBlock, cpuState, lock, unlock } from "../sync/index.js";
import { Gfp, gfpString } from "./gfp.js";
import { computeWatermarks, pcpBatch, pcpHigh, type Watermarks } from "./watermarks.js";

/* alloc_flags of the watermark check (mm/internal.h). */
const ALLOC_WMARK_MIN = 0;
const ALLOC_WMARK_LOW = 1;
const ALLOC_WMARK_MASK = 3;
const ALLOC_NO_WATERMARKS = 4;
const ALLOC_MIN_RESERVE = 8; // __GFP_HIGH: min -= min / 2
const ALLOC_NON_BLOCK = 16; // cannot reclaim: with MIN_RESERVE, min -= min / 4 more

/** Pages direct reclaim asks for per round (mm/vmscan.c). */
const SWAP_CLUSTER_MAX = 32;
/** Rounds of direct reclaim before giving up (mm/page_alloc.c). */
const MAX_RECLAIM_RETRIES = 16;
/** PAGE_ALLOC_COSTLY_ORDER: larger requests do not wait for memory unless told to. */
const COSTLY_ORDER = 3;
/** Longest single Atomics.wait of a sleeping allocation: then it asks and tries again. */
const WAIT_ROUND_MS = 20;

/**
 * A shrinker gives memory back under pressure (slab caches register one). It is asked to
 * free up to `nrToScan` pages and returns how many it freed.
 */
export type Shrinker = (nrToScan: number) => number;

export type LogFn = (line: string) => void;

/** Atomics.waitAsync (ES2024; Node 16+), typed here for the ES2022 library. */
type WaitAsync = (
  a: Int32Array,
  i: number,
  value: number,
  ms: number,
) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync?.bind(Atomics);

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
  /** The first address that can be handed out, and one past the last. */
  private readonly startAddr: number;
  private readonly endAddr: number;
  private readonly pageMask: number;
  /** This context's cpu id: which per-cpu list and counters it uses. */
  readonly cpu: number;
  /** More than one cpu: take locks (one context alone takes none). */
  readonly smp: boolean;
  /**
   * This cpu's per-cpu list words and event counters as views of their own: constant
   * indices into a small view are cheaper than offsets into the header (no index arithmetic,
   * bounds checks folded).
   */
  private readonly pcp: Int32Array;
  /** This cpu's event counters (the slab layer counts into them too). */
  readonly ev: Int32Array;
  /** Every cpu's per-cpu list view, for draining and verify(). */
  private readonly pcps: Int32Array[] = [];
  private readonly nrCpus: number;
  /** fail_page_alloc, or null when off (the hot path tests only this). */
  faultPageAlloc: FaultAttr | null = null;
  log: LogFn | null = null;
  private readonly shrinkers: Shrinker[] = [];
  /** True while shrinkers run (PF_MEMALLOC). */
  private inReclaim = false;
  /**
   * How long a sleeping allocation (GFP_KERNEL, with other cpus online) waits for memory
   * before it fails, in ms; __GFP_NOFAIL waits for as long as it takes.
   */
  waitMs = 100;
  /**
   * Non-zero while this context holds a lock an allocation must not sleep under (slab_mutex,
   * slob_lock): others may need it to free memory. Such requests fail instead of waiting.
   */
  noWait = 0;
  /** Whether this thread may block in Atomics.wait here (a shared buffer, more than one cpu). */
  private readonly canSleep: boolean;

  /**
   * `fresh`: set up a new instance (watermarks, free lists); otherwise open the one already
   * in the buffer as cpu `cpu`.
   */
  constructor(mem: PhysMem, minFreeBytes: number | undefined, cpu = 0, fresh = true) {
    this.h = mem.header;
    this.f = mem.frames;
    this.bytes = mem.bytes;
    this.pageSize = mem.pageSize;
    this.pageShift = mem.pageShift;
    this.maxOrder = mem.maxOrder;
    this.totalPages = mem.totalPages;
    this.firstPfn = mem.firstManagedPfn;
    this.managedPages = mem.managedPages;
    this.startAddr = mem.firstManagedPfn * mem.pageSize;
    this.endAddr = mem.totalPages * mem.pageSize;
    this.pageMask = mem.pageSize - 1;
    this.nrCpus = mem.nrCpus;
    this.cpu = cpu;
    this.smp = mem.nrCpus > 1;
    this.canSleep = this.smp && canBlock && mem.buffer instanceof SharedArrayBuffer;
    const buffer = this.h.buffer;
    for (let c = 0; c < mem.nrCpus; c++) {
      this.pcps.push(new Int32Array(buffer, this.h.byteOffset + pcpBase(c) * 4, Pcp.WORDS));
    }
    this.pcp = this.pcps[cpu] as Int32Array;
    this.ev = new Int32Array(
      buffer,
      this.h.byteOffset + eventBase(mem.nrCpus, cpu) * 4,
      Vm.NR_EVENTS,
    );
    if (!fresh) return;

    const w = computeWatermarks(mem.managedPages, mem.pageSize, minFreeBytes);
    const h = this.h;
    h[Hdr.MIN_FREE_KB] = w.minFreeKb;
    h[Hdr.WMARK_MIN] = w.min;
    h[Hdr.WMARK_LOW] = w.low;
    h[Hdr.WMARK_HIGH] = w.high;
    const batch = pcpBatch(mem.managedPages, mem.pageSize);
    const percpu = ((h[Hdr.OPTIONS] as number) & HdrOption.NO_PERCPU) === 0;
    // Without per-cpu caching every order-0 page goes to and comes from the buddy lists.
    h[Hdr.PCP_BATCH] = percpu ? batch : 1;
    h[Hdr.PCP_HIGH] = percpu ? pcpHigh(w.low, batch, mem.nrCpus) : 1;
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
      this.h[Hdr.NR_FREE] += 1 << order;
      pfn += 1 << order;
    }
  }

  /* ------------------------------------------------------------------ free lists */

  private addToFreeArea(pfn: number, order: number): void {
    const f = this.f;
    const h = this.h;
    const fa = Hdr.FREE_AREA + FreeArea.WORDS * order;
    const i = pfn * Frame.WORDS;
    const head = h[fa + FreeArea.HEAD] as number;
    f[i + Pg.FLAGS] = PgFlag.BUDDY;
    f[i + Pg.ORDER] = order;
    f[i + Pg.NEXT] = head;
    f[i + Pg.PREV] = 0;
    if (head !== 0) f[head * Frame.WORDS + Pg.PREV] = pfn;
    h[fa + FreeArea.HEAD] = pfn;
    h[fa + FreeArea.NR_FREE]++;
  }

  private delFromFreeArea(pfn: number, order: number): void {
    const f = this.f;
    const h = this.h;
    const fa = Hdr.FREE_AREA + FreeArea.WORDS * order;
    const i = pfn * Frame.WORDS;
    const next = f[i + Pg.NEXT] as number;
    const prev = f[i + Pg.PREV] as number;
    if (prev !== 0) f[prev * Frame.WORDS + Pg.NEXT] = next;
    else h[fa + FreeArea.HEAD] = next;
    if (next !== 0) f[next * Frame.WORDS + Pg.PREV] = prev;
    h[fa + FreeArea.NR_FREE]--;
    f[i + Pg.FLAGS] = 0;
    f[i + Pg.ORDER] = 0;
    f[i + Pg.NEXT] = 0;
    f[i + Pg.PREV] = 0;
  }

  /**
   * __rmqueue_smallest: the smallest free block of order >= `order`, split down, its head
   * marked `flags` (HEAD or PCP). 0 if none. Zone lock held.
   */
  private rmqueueSmallest(order: number, flags: number): number {
    const h = this.h;
    for (let o = order; o < this.maxOrder; o++) {
      const pfn = h[Hdr.FREE_AREA + FreeArea.WORDS * o + FreeArea.HEAD] as number;
      if (pfn === 0) continue;
      this.delFromFreeArea(pfn, o);
      while (o > order) {
        o--;
        this.addToFreeArea(pfn + (1 << o), o);
      }
      h[Hdr.NR_FREE] -= 1 << order;
      const i = pfn * Frame.WORDS;
      this.f[i + Pg.FLAGS] = flags;
      this.f[i + Pg.ORDER] = order;
      return pfn;
    }
    return 0;
  }

  /* ------------------------------------------------------------------ the zone lock */

  /** Takes the zone lock (when more than one cpu may run). */
  lockZone(): void {
    if (this.smp) lock(this.h, Hdr.LOCK_ZONE, this.cpu, "the zone lock");
  }

  unlockZone(): void {
    if (this.smp) unlock(this.h, Hdr.LOCK_ZONE, this.cpu);
  }

  /**
   * __free_one_page: merge with free buddies upward, then list. The head's flags are clear.
   * Zone lock held.
   */
  private freeOneBlock(pfn: number, order: number): void {
    const f = this.f;
    const top = this.maxOrder - 1;
    const total = this.totalPages;
    this.h[Hdr.NR_FREE] += 1 << order;
    while (order < top) {
      const buddy = pfn ^ (1 << order);
      if (buddy >= total) break;
      const b = buddy * Frame.WORDS;
      if (((f[b + Pg.FLAGS] as number) & PgFlag.BUDDY) === 0 || f[b + Pg.ORDER] !== order) break;
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
    const batch = h[Hdr.PCP_BATCH] as number;
    let got = 0;
    this.lockZone();
    for (; got < batch; got++) {
      const pfn = this.rmqueueSmallest(0, PgFlag.PCP);
      if (pfn === 0) break;
      const i = pfn * Frame.WORDS;
      const tail = p[Pcp.TAIL] as number;
      f[i + Pg.NEXT] = 0;
      f[i + Pg.PREV] = tail;
      if (tail !== 0) f[tail * Frame.WORDS + Pg.NEXT] = pfn;
      else p[Pcp.HEAD] = pfn;
      p[Pcp.TAIL] = pfn;
    }
    this.unlockZone();
    p[Pcp.COUNT] += got;
    return got;
  }

  /**
   * Gives the `count` coldest pages of cpu `cpu`'s list back to the buddy lists: this cpu's
   * own list, or an offline cpu's.
   */
  private pcpDrain(cpu: number, count: number): void {
    const f = this.f;
    const p = this.pcps[cpu] as Int32Array;
    let n = 0;
    this.lockZone();
    while (n < count) {
      const pfn = p[Pcp.TAIL] as number;
      if (pfn === 0) break;
      const i = pfn * Frame.WORDS;
      const prev = f[i + Pg.PREV] as number;
      p[Pcp.TAIL] = prev;
      if (prev !== 0) f[prev * Frame.WORDS + Pg.NEXT] = 0;
      else p[Pcp.HEAD] = 0;
      f[i + Pg.FLAGS] = 0;
      f[i + Pg.NEXT] = 0;
      f[i + Pg.PREV] = 0;
      this.freeOneBlock(pfn, 0);
      n++;
    }
    this.unlockZone();
    p[Pcp.COUNT] -= n;
    if (n > 0) {
      this.ev[Vm.PCP_DRAIN]++;
      if (this.smp) this.wakeWaiters();
    }
  }

  /**
   * drain_all_pages: empties this cpu's per-cpu list and those of offline cpus, and asks the
   * other online cpus to empty theirs (they do at their next free or slow-path allocation).
   * Returns the pages moved now.
   */
  drainAll(): number {
    let moved = 0;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      const p = this.pcps[cpu] as Int32Array;
      if (cpu !== this.cpu && cpuState(this.h, cpu) === CpuState.ONLINE) {
        if ((p[Pcp.COUNT] as number) > 0) Atomics.or(p, Pcp.REQUEST, CpuRequest.DRAIN_PAGES);
        continue;
      }
      const count = p[Pcp.COUNT] as number;
      if (count > 0) {
        this.pcpDrain(cpu, count);
        moved += count;
      }
    }
    return moved;
  }

  /**
   * Empties the per-cpu list of `cpu`, which is offline (its context is gone): offlineCpu().
   * Returns the pages moved.
   */
  drainOffline(cpu: number): number {
    const p = this.pcps[cpu] as Int32Array;
    const count = p[Pcp.COUNT] as number;
    if (count > 0) this.pcpDrain(cpu, count);
    Atomics.store(p, Pcp.REQUEST, 0);
    return count;
  }

  /** Requests other cpus posted to this one (CpuRequest bits), 0 if none. */
  pendingRequests(): number {
    return this.pcp[Pcp.REQUEST] as number;
  }

  /**
   * Serves a DRAIN_PAGES request of another cpu: this cpu's list goes back to the buddy
   * lists. (FLUSH_SLABS is the slab layer's to serve, where it holds no lock.)
   */
  serveRequests(): void {
    if (((this.pcp[Pcp.REQUEST] as number) & CpuRequest.DRAIN_PAGES) === 0) return;
    this.clearRequest(CpuRequest.DRAIN_PAGES);
    const count = this.pcp[Pcp.COUNT] as number;
    if (count > 0) this.pcpDrain(this.cpu, count);
  }

  /**
   * Clears request bits of this cpu once served; while some context waits for memory they
   * stay, so that every page this cpu frees meanwhile goes to the buddy lists at once (a
   * worker about to exit would otherwise keep it).
   */
  clearRequest(bits: number): void {
    if (Atomics.load(this.h, Hdr.FREE_WAITERS) === 0) Atomics.and(this.pcp, Pcp.REQUEST, ~bits);
  }

  /** Posts `request` (CpuRequest bits) to every other online cpu. */
  requestOthers(request: number): void {
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      if (cpu !== this.cpu && cpuState(this.h, cpu) === CpuState.ONLINE) {
        Atomics.or(this.pcps[cpu] as Int32Array, Pcp.REQUEST, request);
      }
    }
  }

  /* ------------------------------------------------------------------ watermarks */

  /**
   * __zone_watermark_ok: after taking 2^order pages, free pages must stay above the mark
   * (less the reserve share the flags allow), and a block of order >= `order` must exist.
   */
  private watermarkOk(order: number, allocFlags: number): boolean {
    const h = this.h;
    if ((allocFlags & ALLOC_NO_WATERMARKS) !== 0) return true;
    const free = (h[Hdr.NR_FREE] as number) - ((1 << order) - 1);
    let min = h[Hdr.WMARK_MIN + (allocFlags & ALLOC_WMARK_MASK)] as number;
    if ((allocFlags & ALLOC_MIN_RESERVE) !== 0) {
      min -= Math.floor(min / 2);
      if ((allocFlags & ALLOC_NON_BLOCK) !== 0) min -= Math.floor(min / 4);
    }
    if (free <= min) return false;
    if (order === 0) return true;
    for (let o = order; o < this.maxOrder; o++) {
      if ((h[Hdr.FREE_AREA + FreeArea.WORDS * o + FreeArea.NR_FREE] as number) > 0) return true;
    }
    return false;
  }

  /** gfp_to_alloc_flags for the slow path. */
  private slowAllocFlags(gfp: number): number {
    let flags = ALLOC_WMARK_MIN;
    if ((gfp & Gfp.HIGH) !== 0) flags |= ALLOC_MIN_RESERVE;
    if ((gfp & Gfp.DIRECT_RECLAIM) === 0) flags |= ALLOC_NON_BLOCK;
    return flags;
  }

  /* ------------------------------------------------------------------ allocation */

  /** Takes a block past the watermark check: from the per-cpu list for order 0. 0 if none. */
  private rmqueue(order: number): number {
    if (order !== 0) {
      this.lockZone();
      const pfn = this.rmqueueSmallest(order, PgFlag.HEAD);
      this.unlockZone();
      return pfn;
    }
    const pfn = this.pcpPop();
    if (pfn !== 0 || this.pcpRefill() === 0) return pfn;
    return this.pcpPop();
  }

  /** Pops the hottest page off this cpu's list; 0 if it is empty. */
  private pcpPop(): number {
    const p = this.pcp;
    const pfn = p[Pcp.HEAD] as number;
    if (pfn === 0) return 0;
    const f = this.f;
    const i = pfn * Frame.WORDS;
    const next = f[i + Pg.NEXT] as number;
    p[Pcp.HEAD] = next;
    if (next !== 0) f[next * Frame.WORDS + Pg.PREV] = 0;
    else p[Pcp.TAIL] = 0;
    p[Pcp.COUNT]--;
    f[i + Pg.NEXT] = 0;
    return pfn;
  }

  /** Marks a taken block allocated and returns its address. */
  private prepNewPage(pfn: number, order: number, gfp: number): number {
    const i = pfn * Frame.WORDS;
    this.f[i + Pg.FLAGS] = PgFlag.HEAD;
    this.f[i + Pg.ORDER] = order;
    this.ev[Vm.PGALLOC] += 1 << order;
    const addr = pfn * this.pageSize;
    if ((gfp & Gfp.ZERO) !== 0) this.bytes.fill(0, addr, addr + this.pageSize * 2 ** order);
    return addr;
  }

  /**
   * Allocates 2^order physically contiguous pages aligned to their size. Returns the address
   * of the first, or 0 when the request cannot be met. `order` and `gfp` are trusted here:
   * the facade validates them.
   */
  allocPages(order: number, gfp: number): number {
    // Fast path: an order-0 page off this cpu's list when free memory is above the low
    // watermark (zone_watermark_fast + rmqueue_pcplist): a handful of typed-array loads and
    // stores. Everything else goes through allocPagesGeneral.
    if (
      order === 0 &&
      this.faultPageAlloc === null &&
      (this.h[Hdr.NR_FREE] as number) > (this.h[Hdr.WMARK_LOW] as number)
    ) {
      const pfn = this.pcpPop();
      if (pfn !== 0) return this.prepNewPage(pfn, 0, gfp);
    }
    return this.allocPagesGeneral(order, gfp);
  }

  private allocPagesGeneral(order: number, gfp: number): number {
    if (((this.pcp[Pcp.REQUEST] as number) & CpuRequest.DRAIN_PAGES) !== 0) this.serveRequests();
    if (this.faultPageAlloc !== null && this.shouldFailAlloc(order, gfp)) {
      return this.allocFailed(order, gfp, false);
    }
    if (this.watermarkOk(order, ALLOC_WMARK_LOW)) {
      const pfn = this.rmqueue(order);
      if (pfn !== 0) return this.prepNewPage(pfn, order, gfp);
    }
    return this.allocSlowpath(order, gfp);
  }

  /**
   * __alloc_pages_slowpath, for a single context: kswapd, the request's reserve tier, the
   * per-cpu list, memory reserves (__GFP_MEMALLOC, or reclaim's own allocations), direct
   * reclaim, and for __GFP_NOFAIL a last try with half the min reserve.
   */
  private allocSlowpath(order: number, gfp: number): number {
    const allocFlags = this.slowAllocFlags(gfp);
    if ((gfp & Gfp.KSWAPD_RECLAIM) !== 0) this.wakeKswapd();
    const canReclaim = (gfp & Gfp.DIRECT_RECLAIM) !== 0;
    // A context that may sleep could have yielded to kswapd: run its pending work now.
    if (canReclaim && !this.inReclaim && this.h[Hdr.KSWAPD_PENDING] !== 0) this.kswapd();
    let pfn = this.tryAlloc(order, allocFlags);
    const p = this.pcp;
    if (pfn === 0 && (p[Pcp.COUNT] as number) > 0) {
      // Pages parked on this cpu's list are free memory the buddy lists cannot see.
      this.pcpDrain(this.cpu, p[Pcp.COUNT] as number);
      pfn = this.tryAlloc(order, allocFlags);
    }
    // __gfp_pfmemalloc_flags: __GFP_MEMALLOC, or reclaim itself (PF_MEMALLOC), may take
    // everything, unless __GFP_NOMEMALLOC forbids it.
    if (
      pfn === 0 &&
      (gfp & Gfp.NOMEMALLOC) === 0 &&
      ((gfp & Gfp.MEMALLOC) !== 0 || this.inReclaim)
    ) {
      pfn = this.tryAlloc(order, ALLOC_NO_WATERMARKS);
    }
    // Direct reclaim does not recurse (a shrinker's own allocation does not reclaim).
    if (pfn === 0 && canReclaim && !this.inReclaim) {
      // __perform_reclaim + should_reclaim_retry: reclaim in SWAP_CLUSTER_MAX batches while
      // it makes progress, at most MAX_RECLAIM_RETRIES times (once with __GFP_NORETRY).
      const tries = (gfp & Gfp.NORETRY) !== 0 ? 1 : MAX_RECLAIM_RETRIES;
      const batch = Math.max(SWAP_CLUSTER_MAX, 2 ** order);
      for (let t = 0; t < tries && pfn === 0; t++) {
        this.ev[Vm.ALLOCSTALL]++;
        if (this.directReclaim(batch) === 0) break;
        pfn = this.tryAlloc(order, allocFlags);
      }
      if (pfn === 0 && this.maySleep(order, gfp)) pfn = this.sleepForMemory(order, gfp, allocFlags);
      if (pfn === 0 && (gfp & Gfp.NOFAIL) !== 0) {
        // Linux loops here until memory comes free; in a single context nothing else can free
        // it, so this is the last try, with the NOFAIL share of the reserve
        // (__alloc_pages_cpuset_fallback with ALLOC_MIN_RESERVE).
        pfn = this.tryAlloc(order, ALLOC_WMARK_MIN | ALLOC_MIN_RESERVE);
      }
    }
    if (pfn !== 0) return this.prepNewPage(pfn, order, gfp);
    return this.allocFailed(order, gfp, true);
  }

  /* ------------------------------------------------------------------ sleeping */

  /**
   * Whether a request that reclaim could not serve may wait for another cpu to free memory:
   * it may reclaim and retry (not __GFP_NORETRY; a costly order only with
   * __GFP_RETRY_MAYFAIL or __GFP_NOFAIL), this context may block and holds no lock others
   * need to free, and another cpu is online to free something.
   */
  private maySleep(order: number, gfp: number): boolean {
    return this.canSleep && this.noWait === 0 && this.waitsFor(order, gfp) && this.othersOnline();
  }

  /** Whether a request of these flags waits for memory at all (sleeping or asynchronously). */
  waitsFor(order: number, gfp: number): boolean {
    if ((gfp & Gfp.DIRECT_RECLAIM) === 0 || (gfp & Gfp.NORETRY) !== 0) return false;
    if (order > COSTLY_ORDER && (gfp & (Gfp.RETRY_MAYFAIL | Gfp.NOFAIL)) === 0) return false;
    return (gfp & Gfp.NOFAIL) !== 0 || this.waitMs > 0;
  }

  /** Some other cpu is online (and could free memory). */
  othersOnline(): boolean {
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      if (cpu !== this.cpu && cpuState(this.h, cpu) === CpuState.ONLINE) return true;
    }
    return false;
  }

  /**
   * The sleeping part of the slow path: ask every other cpu for its cached pages and objects
   * (DRAIN_PAGES, FLUSH_SLABS), reclaim what this cpu can, and wait on the free wait queue
   * (Atomics.wait on Hdr.FREE_SEQ, which frees bump while someone waits), in rounds, until
   * the request can be served or `waitMs` has passed (__GFP_NOFAIL: until it can be served).
   */
  private sleepForMemory(order: number, gfp: number, allocFlags: number): number {
    const h = this.h;
    const nofail = (gfp & Gfp.NOFAIL) !== 0;
    const deadline = Date.now() + this.waitMs;
    Atomics.add(h, Hdr.FREE_WAITERS, 1);
    try {
      for (;;) {
        const seq = Atomics.load(h, Hdr.FREE_SEQ);
        this.requestOthers(CpuRequest.DRAIN_PAGES | CpuRequest.FLUSH_SLABS);
        this.ev[Vm.ALLOCSTALL]++;
        this.directReclaim(Math.max(SWAP_CLUSTER_MAX, 2 ** order));
        const pfn = this.tryAlloc(order, nofail ? ALLOC_WMARK_MIN | ALLOC_MIN_RESERVE : allocFlags);
        if (pfn !== 0) return pfn;
        const left = deadline - Date.now();
        if (!nofail && left <= 0) return 0;
        Atomics.wait(h, Hdr.FREE_SEQ, seq, nofail ? WAIT_ROUND_MS : Math.min(left, WAIT_ROUND_MS));
      }
    } finally {
      Atomics.sub(h, Hdr.FREE_WAITERS, 1);
    }
  }

  /** After pages went back to the buddy lists: wakes the contexts waiting for memory. */
  private wakeWaiters(): void {
    if (Atomics.load(this.h, Hdr.FREE_WAITERS) === 0) return;
    Atomics.add(this.h, Hdr.FREE_SEQ, 1);
    Atomics.notify(this.h, Hdr.FREE_SEQ);
  }

  /**
   * The wait queue's sequence number, for an asynchronous wait (the Promise variants): read
   * it before trying, then wait on it if the try failed.
   */
  freeSeq(): number {
    return Atomics.load(this.h, Hdr.FREE_SEQ);
  }

  /**
   * Waits without blocking for a free after `seq` (or `ms`): Atomics.waitAsync on the free
   * wait queue, as a waiter, having asked the other cpus for their cached memory. Resolves
   * false at once where nobody could free anything (one cpu, or no other cpu online).
   */
  async waitForFree(seq: number, ms: number): Promise<boolean> {
    if (!this.smp || !(this.h.buffer instanceof SharedArrayBuffer) || !this.othersOnline()) {
      return false;
    }
    const h = this.h;
    Atomics.add(h, Hdr.FREE_WAITERS, 1);
    try {
      this.requestOthers(CpuRequest.DRAIN_PAGES | CpuRequest.FLUSH_SLABS);
      this.ev[Vm.ALLOCSTALL]++;
      if (waitAsync === undefined) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(ms, WAIT_ROUND_MS)));
      } else {
        const r = waitAsync(h, Hdr.FREE_SEQ, seq, ms);
        if (r.async) await r.value;
      }
      return true;
    } finally {
      Atomics.sub(h, Hdr.FREE_WAITERS, 1);
    }
  }

  private tryAlloc(order: number, allocFlags: number): number {
    return this.watermarkOk(order, allocFlags) ? this.rmqueue(order) : 0;
  }

  /** should_fail_alloc_page: the scope filters, then should_fail_ex. */
  private shouldFailAlloc(order: number, gfp: number): boolean {
    const attr = this.faultPageAlloc;
    if (attr === null) return false;
    if (order < attr.minOrder) return false;
    if ((gfp & Gfp.NOFAIL) !== 0) return false;
    if (attr.ignoreGfpHighmem && (gfp & Gfp.HIGHMEM) !== 0) return false;
    if (attr.ignoreGfpWait && (gfp & Gfp.DIRECT_RECLAIM) !== 0) return false;
    if (!attr.shouldFail(2 ** order, (gfp & Gfp.NOWARN) === 0 ? this.log : null)) return false;
    this.ev[Vm.FAULT_INJECTED]++;
    return true;
  }

  /**
   * Counts a failed allocation and returns 0; `warn` is warn_alloc (a real failure, unless
   * __GFP_NOWARN; an injected one has only fault injection's own message, as in Linux).
   */
  private allocFailed(order: number, gfp: number, warn: boolean): number {
    this.ev[Vm.PGALLOC_FAIL]++;
    if (warn && (gfp & Gfp.NOWARN) === 0 && this.log !== null) {
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
      const n = this.h[Hdr.FREE_AREA + FreeArea.WORDS * o + FreeArea.NR_FREE] as number;
      const kb = (this.pageSize * 2 ** o) / 1024;
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

  /**
   * Runs the shrinkers, asking for `nrPages` in all; returns the pages freed. While they run
   * the context is in reclaim (Linux PF_MEMALLOC): its own allocations do not recurse into
   * reclaim and may use every reserve.
   */
  private shrinkAll(nrPages: number): number {
    if (this.inReclaim || this.shrinkers.length === 0) return 0;
    let freed = 0;
    this.inReclaim = true;
    try {
      for (const shrinker of this.shrinkers) {
        const n = shrinker(Math.max(nrPages - freed, 1));
        if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
          throw new TypeError(
            `a shrinker must return the pages it freed (an integer >= 0), got ${String(n)}`,
          );
        }
        freed += n;
        if (freed >= nrPages) break;
      }
    } finally {
      this.inReclaim = false;
    }
    return freed;
  }

  /**
   * wakeup_kswapd: below the low watermark, background reclaim is due. Linux runs it in its
   * own thread; here it runs when a context that may sleep next allocates (or when
   * {@link kswapd} is called), never inside the atomic request that woke it.
   */
  private wakeKswapd(): void {
    const h = this.h;
    if (h[Hdr.KSWAPD_PENDING] !== 0 || (h[Hdr.NR_FREE] as number) > (h[Hdr.WMARK_LOW] as number)) {
      return;
    }
    if (Atomics.exchange(h, Hdr.KSWAPD_PENDING, 1) === 0) this.ev[Vm.KSWAPD_WAKE]++;
  }

  /**
   * kswapd's balance_pgdat: shrinks until free memory reaches the high watermark. Returns
   * the pages freed.
   */
  kswapd(): number {
    const h = this.h;
    Atomics.store(h, Hdr.KSWAPD_PENDING, 0);
    const free = h[Hdr.NR_FREE] as number;
    const high = h[Hdr.WMARK_HIGH] as number;
    if (free >= high) return 0;
    this.ev[Vm.PAGEOUTRUN]++;
    const freed = this.shrinkAll(high - free);
    // What the shrinkers freed may sit on per-cpu lists, where the watermarks cannot see it.
    if (freed > 0) this.drainAll();
    return freed;
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
    this.ev[Vm.PGFREE] += 1 << order;
    if (order === 0) {
      this.pcpPush(pfn);
    } else {
      const i = pfn * Frame.WORDS;
      this.lockZone();
      this.f[i + Pg.FLAGS] = 0;
      this.f[i + Pg.ORDER] = 0;
      this.freeOneBlock(pfn, order);
      this.unlockZone();
      if (this.smp) this.wakeWaiters();
    }
  }

  /** Returns the pfn behind `addr` if it is the head of an allocated order-`order` block. */
  checkFree(addr: number, order: number): number {
    // addr < 2^32 here (the facade checks), so `& pageMask` sees its low bits exactly.
    if (addr < this.startAddr || addr >= this.endAddr || (addr & this.pageMask) !== 0) {
      this.badAddress(addr);
    }
    const pfn = addr >>> this.pageShift;
    const i = pfn * Frame.WORDS;
    if (this.f[i + Pg.FLAGS] !== PgFlag.HEAD) this.notAllocated(addr, pfn);
    const have = this.f[i + Pg.ORDER] as number;
    if (have !== order) {
      throw new KmemError(
        "INVALID_FREE",
        `freePages(${hex(addr)}, ${order}): the block at ${hex(addr)} was allocated with order ${have}`,
      );
    }
    return pfn;
  }

  /** free_unref_page: a freed order-0 page goes on this cpu's list; past pcpHigh, a batch leaves. */
  private pcpPush(pfn: number): void {
    const f = this.f;
    const p = this.pcp;
    const i = pfn * Frame.WORDS;
    const head = p[Pcp.HEAD] as number;
    f[i + Pg.FLAGS] = PgFlag.PCP;
    f[i + Pg.ORDER] = 0;
    f[i + Pg.NEXT] = head;
    f[i + Pg.PREV] = 0;
    if (head !== 0) f[head * Frame.WORDS + Pg.PREV] = pfn;
    else p[Pcp.TAIL] = pfn;
    p[Pcp.HEAD] = pfn;
    // One branch for both rare cases: the list is over pcpHigh, or another cpu asked.
    if (++p[Pcp.COUNT] >= (this.h[Hdr.PCP_HIGH] as number) || p[Pcp.REQUEST] !== 0) {
      this.pcpPushSlow();
    }
  }

  private pcpPushSlow(): void {
    const p = this.pcp;
    if ((p[Pcp.COUNT] as number) >= (this.h[Hdr.PCP_HIGH] as number)) {
      this.pcpDrain(this.cpu, this.h[Hdr.PCP_BATCH] as number);
    }
    if (((p[Pcp.REQUEST] as number) & CpuRequest.DRAIN_PAGES) !== 0) this.serveRequests();
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

  /**
   * Explains why `pfn` is not the head of a block the page allocator handed out and nobody
   * else owns: free already, inside another block, or owned by an upper layer.
   */
  private notAllocated(addr: number, pfn: number): never {
    const flags = this.f[pfn * Frame.WORDS + Pg.FLAGS] as number;
    if ((flags & PgFlag.HEAD) !== 0) {
      const owner =
        (flags & PgFlag.SLAB) !== 0
          ? "a slab (free its objects with kfree or the cache's free)"
          : (flags & PgFlag.KMALLOC) !== 0
            ? "kmalloc (free it with kfree)"
            : (flags & PgFlag.VMALLOC) !== 0
              ? "vmalloc"
              : "another layer";
      throw new KmemError("INVALID_FREE", `page ${hex(addr)} belongs to ${owner}`);
    }
    const owner = this.ownerOf(pfn);
    if (owner === null) {
      throw new KmemError("CORRUPTION", `frame ${pfn} (${hex(addr)}) belongs to no block`);
    }
    const free = (owner.flags & (PgFlag.BUDDY | PgFlag.PCP)) !== 0;
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
      const flags = f[head * Frame.WORDS + Pg.FLAGS] as number;
      if ((flags & PgFlag.STATE_MASK) === 0) continue;
      const order = f[head * Frame.WORDS + Pg.ORDER] as number;
      if (head + 2 ** order > pfn) return { head, order, flags };
      return null;
    }
    return null;
  }

  /* ------------------------------------------------------------------ introspection */

  /** Pages on the buddy free lists (NR_FREE_PAGES). */
  buddyFreePages(): number {
    return this.h[Hdr.NR_FREE] as number;
  }

  /** Pages parked on all per-cpu lists. */
  pcpPages(): number {
    let n = 0;
    for (const p of this.pcps) n += p[Pcp.COUNT] as number;
    return n;
  }

  /** nr_free per order (free blocks on each buddy list). */
  freeByOrder(): number[] {
    const out: number[] = [];
    // Under the zone lock, so that a report never shows a block in the middle of a split.
    this.lockZone();
    for (let o = 0; o < this.maxOrder; o++) {
      out.push(this.h[Hdr.FREE_AREA + FreeArea.WORDS * o + FreeArea.NR_FREE] as number);
    }
    this.unlockZone();
    return out;
  }

  watermarks(): Watermarks {
    const h = this.h;
    return {
      minFreeKb: h[Hdr.MIN_FREE_KB] as number,
      min: h[Hdr.WMARK_MIN] as number,
      low: h[Hdr.WMARK_LOW] as number,
      high: h[Hdr.WMARK_HIGH] as number,
    };
  }

  /**
   * A counter summed over all cpus. Event counters are 32-bit and read unsigned (they wrap
   * at 2^32, as Linux's do on 32-bit machines); gauges (NR_SLAB_*) are signed per cpu.
   */
  event(index: number): number {
    let sum = 0;
    const gauge = index >= Vm.NR_SLAB_RECLAIMABLE;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      const v = this.h[eventBase(this.nrCpus, cpu) + index] as number;
      sum += gauge ? v : v >>> 0;
    }
    return sum;
  }

  /** All event counters summed over cpus. */
  events(): number[] {
    const out: number[] = [];
    for (let e = 0; e < Vm.NR_EVENTS; e++) out.push(this.event(e));
    return out;
  }

  /**
   * Checks every invariant in the header comment; throws CORRUPTION naming the first broken.
   * Runs under the zone lock; the per-cpu lists of other online cpus are exact only while
   * those cpus are quiescent.
   */
  verify(): void {
    this.lockZone();
    try {
      this.verifyLocked();
    } finally {
      this.unlockZone();
    }
  }

  private verifyLocked(): void {
    const h = this.h;
    const f = this.f;
    const corrupt = (id: string, what: string): never => {
      throw new KmemError("CORRUPTION", `${id}: ${what}`);
    };
    if (h[Hdr.MAGIC] !== Layout.MAGIC || h[Hdr.VERSION] !== Layout.VERSION) {
      corrupt(
        "LAYOUT-1",
        `header magic/version is ${hex(h[Hdr.MAGIC] as number)}/${h[Hdr.VERSION]}`,
      );
    }
    if (
      h[Hdr.PAGE_SHIFT] !== this.pageShift ||
      h[Hdr.MAX_ORDER] !== this.maxOrder ||
      h[Hdr.TOTAL_PAGES] !== this.totalPages ||
      h[Hdr.FIRST_PFN] !== this.firstPfn
    ) {
      corrupt("LAYOUT-1", "header geometry words do not match the instance");
    }

    if (
      h[Hdr.MANAGED_PAGES] !== this.managedPages ||
      h[Hdr.NR_CPUS] !== this.nrCpus ||
      h[Hdr.MEMMAP_OFFSET] !== f.byteOffset - h.byteOffset ||
      h[Hdr.HEADER_WORDS] !== h.length
    ) {
      corrupt("LAYOUT-1", "header geometry words do not match the instance");
    }
    if (this.firstPfn * this.pageSize < f.byteOffset - h.byteOffset + f.byteLength) {
      corrupt("LAYOUT-2", "the reserved pages do not cover the header and mem_map");
    }
    const wmin = h[Hdr.WMARK_MIN] as number;
    const wlow = h[Hdr.WMARK_LOW] as number;
    const whigh = h[Hdr.WMARK_HIGH] as number;
    const batch = h[Hdr.PCP_BATCH] as number;
    const high = h[Hdr.PCP_HIGH] as number;
    if (!(wmin >= 0 && wmin <= wlow && wlow <= whigh && whigh <= this.managedPages + 2 * wlow)) {
      corrupt("LAYOUT-3", `watermarks min ${wmin}, low ${wlow}, high ${whigh} are out of order`);
    }
    if (!(batch >= 1 && high >= batch)) {
      corrupt("LAYOUT-3", `per-cpu list batch ${batch} and high ${high} are out of range`);
    }
    // MEMMAP-2: the reserved frames belong to nobody.
    for (let i = 0; i < this.firstPfn * Frame.WORDS; i++) {
      if (f[i] !== 0)
        corrupt("MEMMAP-2", `reserved frame ${Math.floor(i / Frame.WORDS)} has non-zero metadata`);
    }

    // MEMMAP-1: walk the frames block by block.
    const blocksByOrder = new Array<number>(this.maxOrder).fill(0);
    let pcpSeen = 0;
    let pfn = this.firstPfn;
    while (pfn < this.totalPages) {
      const i = pfn * Frame.WORDS;
      const flags = f[i + Pg.FLAGS] as number;
      const state = flags & PgFlag.STATE_MASK;
      if (state !== PgFlag.BUDDY && state !== PgFlag.HEAD && state !== PgFlag.PCP) {
        corrupt(
          "MEMMAP-1",
          `frame ${pfn} is neither a block head nor inside a block (flags ${hex(flags)})`,
        );
      }
      const order = f[i + Pg.ORDER] as number;
      if (order < 0 || order >= this.maxOrder || (state === PgFlag.PCP && order !== 0)) {
        corrupt("MEMMAP-1", `frame ${pfn} has order ${order}`);
      }
      if (pfn % 2 ** order !== 0 || pfn + 2 ** order > this.totalPages) {
        corrupt(
          "BUDDY-1",
          `block at frame ${pfn} of order ${order} is misaligned or runs past memory`,
        );
      }
      for (let t = pfn + 1; t < pfn + 2 ** order; t++) {
        if (f[t * Frame.WORDS + Pg.FLAGS] !== 0 || f[t * Frame.WORDS + Pg.ORDER] !== 0) {
          corrupt(
            "MEMMAP-1",
            `frame ${t} is inside the order-${order} block at frame ${pfn} but is not a zero tail`,
          );
        }
      }
      if (state === PgFlag.BUDDY) {
        blocksByOrder[order] = (blocksByOrder[order] as number) + 1;
        const buddy = pfn ^ (1 << order);
        if (
          order < this.maxOrder - 1 &&
          buddy < this.totalPages &&
          ((f[buddy * Frame.WORDS + Pg.FLAGS] as number) & PgFlag.BUDDY) !== 0 &&
          f[buddy * Frame.WORDS + Pg.ORDER] === order
        ) {
          corrupt(
            "BUDDY-3",
            `free blocks at frames ${pfn} and ${buddy} (order ${order}) are unmerged buddies`,
          );
        }
      }
      if (state === PgFlag.PCP) pcpSeen++;
      pfn += 2 ** order;
    }

    // BUDDY-2 and BUDDY-4: the lists agree with the walk.
    let freePages = 0;
    for (let o = 0; o < this.maxOrder; o++) {
      const fa = Hdr.FREE_AREA + FreeArea.WORDS * o;
      const nr = h[fa + FreeArea.NR_FREE] as number;
      if (nr !== blocksByOrder[o]) {
        corrupt(
          "BUDDY-2",
          `nr_free[${o}] is ${nr} but ${blocksByOrder[o]} free blocks of order ${o} exist`,
        );
      }
      let prev = 0;
      let cur = h[fa + FreeArea.HEAD] as number;
      let len = 0;
      while (cur !== 0) {
        if (cur < this.firstPfn || cur >= this.totalPages) {
          corrupt("BUDDY-2", `free_area[${o}] links to frame ${cur}, outside managed memory`);
        }
        const i = cur * Frame.WORDS;
        if (
          ((f[i + Pg.FLAGS] as number) & PgFlag.STATE_MASK) !== PgFlag.BUDDY ||
          f[i + Pg.ORDER] !== o
        ) {
          corrupt(
            "BUDDY-2",
            `free_area[${o}] holds frame ${cur}, which is not a free block of order ${o}`,
          );
        }
        if (f[i + Pg.PREV] !== prev) {
          corrupt(
            "BUDDY-2",
            `free_area[${o}]: frame ${cur} has prev ${f[i + Pg.PREV]}, expected ${prev}`,
          );
        }
        if (++len > nr)
          corrupt("BUDDY-2", `free_area[${o}] is longer than nr_free (${nr}) or cyclic`);
        prev = cur;
        cur = f[i + Pg.NEXT] as number;
      }
      if (len !== nr) corrupt("BUDDY-2", `free_area[${o}] has ${len} blocks, nr_free says ${nr}`);
      freePages += nr * 2 ** o;
    }
    if (h[Hdr.NR_FREE] !== freePages) {
      corrupt("BUDDY-4", `nr_free_pages is ${h[Hdr.NR_FREE]} but the free lists hold ${freePages}`);
    }

    // PCP-1.
    let pcpListed = 0;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      const p = this.pcps[cpu] as Int32Array;
      const count = p[Pcp.COUNT] as number;
      let prev = 0;
      let cur = p[Pcp.HEAD] as number;
      let len = 0;
      while (cur !== 0) {
        if (cur < this.firstPfn || cur >= this.totalPages) {
          corrupt("PCP-1", `pcp list of cpu ${cpu} links to frame ${cur}, outside managed memory`);
        }
        const i = cur * Frame.WORDS;
        if (((f[i + Pg.FLAGS] as number) & PgFlag.STATE_MASK) !== PgFlag.PCP) {
          corrupt(
            "PCP-1",
            `pcp list of cpu ${cpu} holds frame ${cur}, which is not a per-cpu page`,
          );
        }
        if (f[i + Pg.PREV] !== prev) {
          corrupt(
            "PCP-1",
            `pcp list of cpu ${cpu}: frame ${cur} has prev ${f[i + Pg.PREV]}, expected ${prev}`,
          );
        }
        if (++len > count)
          corrupt("PCP-1", `pcp list of cpu ${cpu} is longer than its count (${count}) or cyclic`);
        prev = cur;
        cur = f[i + Pg.NEXT] as number;
      }
      if (len !== count || p[Pcp.TAIL] !== prev) {
        corrupt(
          "PCP-1",
          `pcp list of cpu ${cpu}: ${len} pages listed, count ${count}, tail ${p[Pcp.TAIL]}`,
        );
      }
      pcpListed += len;
    }
    if (pcpListed !== pcpSeen) {
      corrupt("PCP-1", `${pcpSeen} frames are marked per-cpu but the lists hold ${pcpListed}`);
    }
  }
}
