/*
 * Memory hotplug: bringing memory online in the page allocator, as Linux's online_pages
 * (mm/memory_hotplug.c) onlines a section once it was added. kmem's memory grows at its end
 * only (a WebAssembly.Memory grows so), into the room the mem_map keeps for it (header word
 * MAX_PAGES, frames TOTAL_PAGES..MAX_PAGES-1 zero and of no zone):
 *
 *   firstManagedPfn           old TOTAL_PAGES        new TOTAL_PAGES           MAX_PAGES
 *   +-------------------------+----------------------+-------------------------+
 *   | the last zone, as it was| brought online       | room (no frame present) |
 *   +-------------------------+----------------------+-------------------------+
 *
 * Under the last zone's lock (the zone locks come last in kmem's one lock order: the header
 * of buddy.ts; nothing else is taken under it):
 *   1. this context's views cover the new frames (physmem.ts, "Growth": renew)
 *   2. the frames are initialised (zero: nobody's), the zone's span (END_PFN) and managed
 *      pages grow, the header's TOTAL_PAGES and MANAGED_PAGES (totalram) with them
 *   3. the new range is freed to the buddy lists in the largest aligned blocks (up to
 *      max order), each merged with a free buddy below (the old top) as any free is
 *   4. the watermarks and the per-cpu lists' batch and high are computed again for the new
 *      size (init_per_zone_wmark_min, zone_pcp_update); a min_free_kbytes that was the
 *      default is recomputed, one given is kept
 *   5. MEM_GENERATION is bumped: every other context renews its views at its next zone or
 *      list lock before it can meet a new frame
 * Then the contexts sleeping for memory are woken. Concurrent allocations wait on the zone
 * lock; those of per-cpu lists and cpu slabs never see a new frame before their context
 * took it from a list under a lock.
 */

import { type Backing, Frame, Hdr, HdrOption, Zone, type ViewPlan } from "../memory/index.js";
import type { BuddyAllocator } from "./buddy.js";
import {
  computeWatermarks,
  defaultMinFreeKb,
  pcpBatch,
  pcpHigh,
  zoneWatermarks,
} from "./watermarks.js";

/**
 * online_pages: brings online the pages `buffer` (the memory's buffer now) holds beyond the
 * present ones, up to the mem_map's room. Returns the pages brought online (0: none new).
 */
export function onlinePages(b: BuddyAllocator, buffer: Backing): number {
  const mem = b.mem;
  const nid = b.nrNodes - 1;
  b.lockZone(nid);
  let added = 0;
  try {
    const h = b.h;
    const cur = h[Hdr.TOTAL_PAGES] as number;
    const avail = Math.min(
      Math.floor((buffer.byteLength - mem.offset) / mem.pageSize),
      mem.maxPages,
    );
    if (avail <= cur) return 0;
    added = avail - cur;
    const z = b.zones[nid] as Int32Array;
    const oldManaged = h[Hdr.MANAGED_PAGES] as number;
    // 1, 2: views, frames, spans.
    mem.renew(buffer, avail);
    b.f.fill(0, cur * Frame.WORDS, avail * Frame.WORDS);
    z[Zone.END_PFN] = avail;
    z[Zone.MANAGED] = (z[Zone.MANAGED] as number) + added;
    h[Hdr.TOTAL_PAGES] = avail;
    h[Hdr.MANAGED_PAGES] = oldManaged + added;
    // 3: the new range to the buddy lists.
    const top = b.maxOrder - 1;
    for (let pfn = cur; pfn < avail;) {
      let order = top;
      while (order > 0 && (pfn % 2 ** order !== 0 || pfn + 2 ** order > avail)) order--;
      b.freeOneBlock(z, pfn, order);
      pfn += 1 << order;
    }
    // 4: watermarks and per-cpu list sizes.
    setupWatermarks(b, oldManaged, oldManaged + added);
    // 5: the other contexts catch up.
    mem.generation = Atomics.add(h, Hdr.MEM_GENERATION, 1) + 1;
  } finally {
    b.unlockZone(nid);
  }
  if (b.smp) b.wakeWaiters();
  return added;
}

/** Watermarks and per-cpu list sizes for `managed` pages (were `oldManaged`). Zone lock held. */
function setupWatermarks(b: BuddyAllocator, oldManaged: number, managed: number): void {
  const h = b.h;
  const pageSize = b.pageSize;
  let minFreeKb = h[Hdr.MIN_FREE_KB] as number;
  // A min_free_kbytes that was derived is derived again; one given is kept (Linux's
  // user_min_free_kbytes).
  if (minFreeKb === defaultMinFreeKb(oldManaged, pageSize)) {
    minFreeKb = defaultMinFreeKb(managed, pageSize);
  }
  const w = computeWatermarks(managed, pageSize, minFreeKb * 1024);
  h[Hdr.MIN_FREE_KB] = minFreeKb;
  for (const z of b.zones) {
    const zw = zoneWatermarks(w.min, z[Zone.MANAGED] as number, managed);
    z[Zone.WMARK_MIN] = zw.min;
    z[Zone.WMARK_LOW] = zw.low;
    z[Zone.WMARK_HIGH] = zw.high;
  }
  if (((h[Hdr.OPTIONS] as number) & HdrOption.NO_PERCPU) === 0) {
    const batch = pcpBatch(managed, pageSize);
    h[Hdr.PCP_BATCH] = batch;
    h[Hdr.PCP_HIGH] = pcpHigh(w.low, batch, b.nrCpus);
  }
}

/** A WebAssembly.Memory, as far as growth needs one. */
export interface GrowableMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(delta: number): number;
}

function sameMemory(b: BuddyAllocator, memory: GrowableMemory): void {
  const mem = b.mem;
  const now = memory.buffer;
  const shared = typeof SharedArrayBuffer !== "undefined" && now instanceof SharedArrayBuffer;
  // A shared memory's buffer is a new object after any grow; a non-shared one's is the
  // instance's own until kmem grows it.
  if (shared ? !(mem.buffer instanceof SharedArrayBuffer) : now !== mem.buffer) {
    throw new Error(
      "kmem: the memory given is not the one this instance manages (its buffer differs; a non-shared memory grown by someone else has lost kmem's views)",
    );
  }
}

/**
 * Grows `memory` by `delta` 64 KiB pages and brings the new pages online (Kmem.growMemory).
 * The views of every context of this thread over the memory are renewed: for a non-shared
 * memory collected before the grow detaches them. 0 when the memory refuses to grow.
 */
export function growMemory(b: BuddyAllocator, memory: GrowableMemory, delta: number): number {
  sameMemory(b, memory);
  const mem = b.mem;
  mem.source = () => memory.buffer;
  if (mem.totalPages >= mem.maxPages) return 0;
  const peers = mem.peers();
  const detaching = !(
    typeof SharedArrayBuffer !== "undefined" && mem.buffer instanceof SharedArrayBuffer
  );
  const plans = detaching ? peers.map((p) => p.collectViews()) : null;
  try {
    memory.grow(delta);
  } catch {
    return 0; // past its maximum, or the engine has no memory: nothing changed
  }
  const buffer = memory.buffer;
  if (plans !== null)
    peers.forEach((p, i) => p.applyViews(plans[i] as ViewPlan, buffer, p.totalPages));
  const before = mem.totalPages;
  onlinePages(b, buffer);
  for (const p of peers) {
    if (p === mem) continue;
    p.source ??= mem.source;
    p.sync();
  }
  return mem.totalPages - before;
}

/**
 * Kmem.onlineMemory: catches this context up with memory others brought online, then
 * brings online what `buffer` holds beyond it. Returns the pages this context gained.
 */
export function onlineMemory(
  b: BuddyAllocator,
  memory: GrowableMemory | null,
  buffer: Backing,
): number {
  const mem = b.mem;
  if (memory !== null) {
    sameMemory(b, memory);
    mem.source = () => memory.buffer;
  } else if (buffer !== mem.buffer) {
    const now = buffer;
    mem.source ??= () => now;
  }
  const before = mem.totalPages;
  mem.sync();
  onlinePages(b, buffer);
  return mem.totalPages - before;
}
