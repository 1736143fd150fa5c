/*
 * Reclaim and sleeping: the page allocator's slow path (__alloc_pages_slowpath) and what it
 * calls once the free lists cannot serve a request at the low watermark. Reclaimable memory
 * is the LRU of swappable vmalloc pages (shrink_lruvec: src/swap pages them out to zswap or
 * a swap area) and the shrinkers (shrink_slab); kswapd has no thread of its own.
 *
 *   allocPagesGeneral: get_page_from_freelist at low fails -> allocSlowpath
 *     wake kswapd (a zone below low); run it now if pending and the request may reclaim
 *     try at min, less the request's reserve tier; drain this cpu's per-cpu lists, try again
 *     drop the caches of pages above this layer (dropCaches), try again
 *     __GFP_MEMALLOC, or a shrinker's own request (PF_MEMALLOC): try with no watermark
 *     __GFP_DIRECT_RECLAIM, not in reclaim already:
 *       up to 16 rounds (1 with __GFP_NORETRY): shrinkers + per-cpu drain, then a try
 *       may sleep (other cpus online): sleepForMemory, rounds until served or waitMs
 *       no progress, a request that may wait (not costly, not NORETRY/RETRY_MAYFAIL):
 *         the OOM killer (src/swap/oom.ts) kills a victim, then a try; until none is left
 *       __GFP_NOFAIL: a last try with half the min reserve
 *
 * Shrinkers never run under a lock of this layer (the zone lock is taken and given back
 * inside each try). These are functions over the allocator `b`, not methods: the class
 * keeps the fast paths and the entry points, and none of this runs before the first try
 * has failed. Their state (shrinkers, inReclaim, canSleep, waitMs, noWait) is the class's.
 */

import { CpuRequest, CpuState, Hdr, Vm, Zone } from "../memory/index.js";
import { cpuState, waitAsyncOn, waitRound } from "../sync/index.js";
import type { BuddyAllocator } from "./buddy.js";
import { Gfp } from "./gfp.js";
import { Alloc } from "./watermarks.js";

/** Pages direct reclaim asks for per round (mm/vmscan.c). */
const SWAP_CLUSTER_MAX = 32;
/** Rounds of direct reclaim before giving up (mm/page_alloc.c). */
const MAX_RECLAIM_RETRIES = 16;
/** PAGE_ALLOC_COSTLY_ORDER: larger requests do not wait for memory unless told to. */
const COSTLY_ORDER = 3;

/**
 * A shrinker gives memory back under pressure (slab caches register one). It is asked to
 * free up to `nrToScan` pages and returns how many it freed.
 */
export type Shrinker = (nrToScan: number) => number;

/* ------------------------------------------------------------------ the slow path */

/**
 * __alloc_pages_slowpath, for a single context: kswapd, the request's reserve tier, the
 * per-cpu lists, memory reserves (__GFP_MEMALLOC, or reclaim's own allocations), direct
 * reclaim, and for __GFP_NOFAIL a last try with half the min reserve. Returns the pfn
 * taken (not yet prepared), 0 if none.
 */
export function allocSlowpath(
  b: BuddyAllocator,
  order: number,
  gfp: number,
  nid: number,
  mask: number,
): number {
  const allocFlags = slowAllocFlags(gfp);
  if ((gfp & Gfp.KSWAPD_RECLAIM) !== 0) wakeKswapd(b, nid);
  const canReclaim = (gfp & Gfp.DIRECT_RECLAIM) !== 0;
  // A context that may sleep could have yielded to kswapd: run its pending work now.
  if (canReclaim && !b.inReclaim && b.h[Hdr.KSWAPD_PENDING] !== 0) kswapd(b);
  let pfn = b.getPageFromFreelist(order, allocFlags, nid, mask);
  if (pfn === 0 && b.cpuPcpCount(b.cpu) > 0) {
    // Pages parked on this cpu's lists are free memory the buddy lists cannot see.
    b.pcpDrainCpu(b.cpu);
    pfn = b.getPageFromFreelist(order, allocFlags, nid, mask);
  }
  // Pages cached above this layer (kmalloc's freed large runs) are free memory held back:
  // they go back before any request fails for want of them, atomic ones too.
  if (pfn === 0 && b.dropCaches.length !== 0) {
    let dropped = 0;
    for (const drop of b.dropCaches) dropped += drop();
    if (dropped !== 0) {
      // Their order-0 pieces went to this cpu's lists.
      if (b.cpuPcpCount(b.cpu) > 0) b.pcpDrainCpu(b.cpu);
      pfn = b.getPageFromFreelist(order, allocFlags, nid, mask);
    }
  }
  // __gfp_pfmemalloc_flags: __GFP_MEMALLOC, or reclaim itself (PF_MEMALLOC), may take
  // everything, unless __GFP_NOMEMALLOC forbids it.
  if (pfn === 0 && (gfp & Gfp.NOMEMALLOC) === 0 && ((gfp & Gfp.MEMALLOC) !== 0 || b.inReclaim)) {
    pfn = b.getPageFromFreelist(order, Alloc.NO_WATERMARKS, nid, mask);
  }
  // Direct reclaim does not recurse (a shrinker's own allocation does not reclaim).
  if (pfn === 0 && canReclaim && !b.inReclaim) {
    // __perform_reclaim + should_reclaim_retry: reclaim in SWAP_CLUSTER_MAX batches while
    // it makes progress, at most MAX_RECLAIM_RETRIES times (once with __GFP_NORETRY).
    const tries = (gfp & Gfp.NORETRY) !== 0 ? 1 : MAX_RECLAIM_RETRIES;
    const batch = Math.max(SWAP_CLUSTER_MAX, 2 ** order);
    for (let t = 0; t < tries && pfn === 0; t++) {
      b.ev[Vm.ALLOCSTALL]!++;
      if (directReclaim(b, batch) === 0) break;
      pfn = b.getPageFromFreelist(order, allocFlags, nid, mask);
    }
    if (pfn === 0 && maySleep(b, order, gfp)) {
      pfn = sleepForMemory(b, order, gfp, allocFlags, nid, mask);
    }
    // __alloc_pages_may_oom: reclaim made no progress; kill, then try again (with reclaim:
    // the victim's pages may have gone to per-cpu lists or be reclaimable now).
    if (pfn === 0 && b.oomKiller !== null && mayOom(order, gfp)) {
      while (pfn === 0 && b.oomKiller(order, gfp)) {
        b.drainAll();
        pfn = b.getPageFromFreelist(order, allocFlags, nid, mask);
        if (pfn === 0 && directReclaim(b, batch) > 0) {
          pfn = b.getPageFromFreelist(order, allocFlags, nid, mask);
        }
      }
    }
    if (pfn === 0 && (gfp & Gfp.NOFAIL) !== 0) {
      // Linux loops here until memory comes free; in a single context nothing else can free
      // it, so this is the last try, with the NOFAIL share of the reserve
      // (__alloc_pages_cpuset_fallback with ALLOC_MIN_RESERVE).
      pfn = b.getPageFromFreelist(order, Alloc.WMARK_MIN | Alloc.MIN_RESERVE, nid, mask);
    }
  }
  return pfn;
}

/**
 * Whether a failed request may call the OOM killer (__alloc_pages_may_oom): it may reclaim
 * and retry, is not of a costly order (unless __GFP_NOFAIL), is not __GFP_THISNODE.
 */
function mayOom(order: number, gfp: number): boolean {
  if ((gfp & (Gfp.NORETRY | Gfp.RETRY_MAYFAIL | Gfp.THISNODE)) !== 0) return false;
  return order <= COSTLY_ORDER || (gfp & Gfp.NOFAIL) !== 0;
}

/** gfp_to_alloc_flags for the slow path. */
function slowAllocFlags(gfp: number): number {
  let flags: number = Alloc.WMARK_MIN;
  if ((gfp & Gfp.HIGH) !== 0) flags |= Alloc.MIN_RESERVE;
  if ((gfp & Gfp.DIRECT_RECLAIM) === 0) flags |= Alloc.NON_BLOCK;
  return flags;
}

/* ------------------------------------------------------------------ reclaim */

/** Registers a shrinker run by reclaim (slab caches give back empty slabs through it). */
export function registerShrinker(b: BuddyAllocator, shrinker: Shrinker): void {
  b.shrinkers.push(shrinker);
}

export function unregisterShrinker(b: BuddyAllocator, shrinker: Shrinker): void {
  const i = b.shrinkers.indexOf(shrinker);
  if (i >= 0) b.shrinkers.splice(i, 1);
}

/**
 * Runs the shrinkers, asking for `nrPages` in all; returns the pages freed. While they run
 * the context is in reclaim (Linux PF_MEMALLOC): its own allocations do not recurse into
 * reclaim and may use every reserve.
 */
function shrinkAll(b: BuddyAllocator, nrPages: number, kswapd = false): number {
  if (b.inReclaim || (b.shrinkers.length === 0 && b.lruReclaim === null)) return 0;
  let freed = 0;
  b.inReclaim = true;
  try {
    // shrink_node: the LRU first, then the slab shrinkers.
    if (b.lruReclaim !== null) freed += b.lruReclaim(nrPages, kswapd);
    for (const shrinker of b.shrinkers) {
      if (freed >= nrPages) break;
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
    b.inReclaim = false;
  }
  return freed;
}

/**
 * wakeup_kswapd: below the low watermark, background reclaim is due. Linux runs it in its
 * own thread; here it runs when a context that may sleep next allocates (or when
 * {@link kswapd} is called), never inside the atomic request that woke it.
 */
function wakeKswapd(b: BuddyAllocator, nid: number): void {
  const h = b.h;
  const z = b.zones[nid] as Int32Array;
  if (h[Hdr.KSWAPD_PENDING] !== 0 || (z[Zone.NR_FREE] as number) > (z[Zone.WMARK_LOW] as number)) {
    return;
  }
  if (Atomics.exchange(h, Hdr.KSWAPD_PENDING, 1) === 0) b.ev[Vm.KSWAPD_WAKE]!++;
}

/**
 * kswapd's balance_pgdat, for every node: shrinks until each zone's free memory reaches its
 * high watermark. Returns the pages freed.
 */
export function kswapd(b: BuddyAllocator): number {
  Atomics.store(b.h, Hdr.KSWAPD_PENDING, 0);
  let want = 0;
  for (const z of b.zones) {
    want += Math.max(0, (z[Zone.WMARK_HIGH] as number) - (z[Zone.NR_FREE] as number));
  }
  if (want === 0) return 0;
  b.ev[Vm.PAGEOUTRUN]!++;
  const freed = shrinkAll(b, want, true);
  // What the shrinkers freed may sit on per-cpu lists, where the watermarks cannot see it.
  if (freed > 0) b.drainAll();
  return freed;
}

/**
 * Proactive reclaim (cgroup v2's memory.reclaim): the LRU, then the shrinkers, asked for
 * `nrPages`, whatever the watermarks; then the per-cpu lists. Returns the pages reclaimed.
 */
export function proactiveReclaim(b: BuddyAllocator, nrPages: number): number {
  const freed = shrinkAll(b, nrPages);
  if (freed > 0) b.drainAll();
  return freed;
}

/** Direct reclaim: shrinkers, then the per-cpu lists. Returns pages made free. */
function directReclaim(b: BuddyAllocator, nrPages: number): number {
  return shrinkAll(b, nrPages) + b.drainAll();
}

/* ------------------------------------------------------------------ sleeping */

/** Whether a request of these flags waits for memory at all (sleeping or asynchronously). */
export function waitsFor(b: BuddyAllocator, order: number, gfp: number): boolean {
  if ((gfp & Gfp.DIRECT_RECLAIM) === 0 || (gfp & Gfp.NORETRY) !== 0) return false;
  if (order > COSTLY_ORDER && (gfp & (Gfp.RETRY_MAYFAIL | Gfp.NOFAIL)) === 0) return false;
  return (gfp & Gfp.NOFAIL) !== 0 || b.waitMs > 0;
}

/**
 * Whether a request that reclaim could not serve may wait for another cpu to free memory:
 * it may reclaim and retry (not __GFP_NORETRY; a costly order only with
 * __GFP_RETRY_MAYFAIL or __GFP_NOFAIL), this context may block and holds no lock others
 * need to free, and another cpu is online to free something.
 */
function maySleep(b: BuddyAllocator, order: number, gfp: number): boolean {
  return waitsFor(b, order, gfp) && mayBlock(b);
}

/**
 * Whether this context may block now to wait for another cpu to free something: it may
 * wait at all (Atomics.wait allowed, a shared buffer, several cpus), holds no lock others
 * need to free, and another cpu is online.
 */
export function mayBlock(b: BuddyAllocator): boolean {
  return b.canSleep && b.noWait === 0 && othersOnline(b);
}

/** Whether a wait without blocking could be woken: another cpu online over a shared buffer. */
export function othersCouldFree(b: BuddyAllocator): boolean {
  return b.smp && b.h.buffer instanceof SharedArrayBuffer && othersOnline(b);
}

/** Some other cpu is online (and could free memory). */
function othersOnline(b: BuddyAllocator): boolean {
  for (let cpu = 0; cpu < b.nrCpus; cpu++) {
    if (cpu !== b.cpu && cpuState(b.h, cpu) === CpuState.ONLINE) return true;
  }
  return false;
}

/**
 * The sleeping part of the slow path: ask every other cpu for its cached pages and objects
 * (DRAIN_PAGES, FLUSH_SLABS), reclaim what this cpu can, and wait on the free wait queue
 * (Atomics.wait on Hdr.FREE_SEQ, which frees bump while someone waits), in rounds, until
 * the request can be served or `waitMs` has passed (__GFP_NOFAIL: until it can be served).
 */
function sleepForMemory(
  b: BuddyAllocator,
  order: number,
  gfp: number,
  allocFlags: number,
  nid: number,
  mask: number,
): number {
  const h = b.h;
  const nofail = (gfp & Gfp.NOFAIL) !== 0;
  const deadline = Date.now() + b.waitMs;
  // Asked before counted in: whoever sees this context among the waiters also finds every
  // online cpu asked, so a page freed from then on goes to the buddy lists, not a pcp list.
  b.requestOthers(CpuRequest.DRAIN_PAGES | CpuRequest.FLUSH_SLABS);
  Atomics.add(h, Hdr.FREE_WAITERS, 1);
  try {
    for (;;) {
      const seq = Atomics.load(h, Hdr.FREE_SEQ);
      b.requestOthers(CpuRequest.DRAIN_PAGES | CpuRequest.FLUSH_SLABS);
      b.ev[Vm.ALLOCSTALL]!++;
      directReclaim(b, Math.max(SWAP_CLUSTER_MAX, 2 ** order));
      const flags = nofail ? Alloc.WMARK_MIN | Alloc.MIN_RESERVE : allocFlags;
      const pfn = b.getPageFromFreelist(order, flags, nid, mask);
      if (pfn !== 0) return pfn;
      const ms = waitRound(deadline, nofail);
      if (ms === 0) return 0;
      Atomics.wait(h, Hdr.FREE_SEQ, seq, ms);
    }
  } finally {
    Atomics.sub(h, Hdr.FREE_WAITERS, 1);
  }
}

/**
 * The wait queue's sequence number, for an asynchronous wait (the Promise variants): read
 * it before trying, then wait on it if the try failed.
 */
export function freeSeq(b: BuddyAllocator): number {
  return Atomics.load(b.h, Hdr.FREE_SEQ);
}

/** Counts a context in (+1) or out (-1) of the free wait queue's waiters. */
export function addWaiter(b: BuddyAllocator, d: number): void {
  Atomics.add(b.h, Hdr.FREE_WAITERS, d);
}

/**
 * Waits without blocking for a free after `seq` (or `ms`): Atomics.waitAsync on the free
 * wait queue, having asked the other cpus for their cached memory. The caller is counted
 * a waiter (addWaiter) from before it read `seq`. Resolves false at once where nobody
 * could free anything (one cpu, or no other cpu online).
 */
export async function waitForFree(b: BuddyAllocator, seq: number, ms: number): Promise<boolean> {
  if (!othersCouldFree(b)) return false;
  b.requestOthers(CpuRequest.DRAIN_PAGES | CpuRequest.FLUSH_SLABS);
  b.ev[Vm.ALLOCSTALL]!++;
  await waitAsyncOn(b.h, Hdr.FREE_SEQ, seq, ms);
  return true;
}
