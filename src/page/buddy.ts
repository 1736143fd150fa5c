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
 * NUMA (mm/mempolicy.c, the zonelists of mm/page_alloc.c): each node is a zone of its own
 * with its free lists, watermarks and lock; a block never spans two nodes (a buddy outside
 * the zone's frames is never merged). An allocation names a preferred node and a node mask
 * (from the context's memory policy, or allocPagesNode); the zones are tried in the
 * preferred node's zonelist order (by distance), skipping nodes outside the mask, the
 * watermark checked per zone. Each cpu keeps a per-cpu list per node; a freed order-0 page
 * goes on the list of its own node. numastat counters record where each allocation landed.
 *
 *   policy      preferred node                         nodes tried (zonelist order)
 *   local       this context's node                    all
 *   preferred   the policy's node                      all
 *   bind        this context's node if allowed,        the policy's nodes only
 *               else the nearest allowed
 *   interleave  the policy's nodes in turn             all
 *   __GFP_THISNODE: the preferred node only.
 *
 * Files of the page allocator:
 *   buddy.ts         this class: free lists, zone locks, per-cpu lists, allocation (the
 *                    order-0 fast path, memory policies, the zonelist walk), freeing and its
 *                    misuse checks, counters and reports
 *   reclaim.ts       the slow path once the free lists cannot serve a request: kswapd,
 *                    reserves, shrinkers, direct reclaim, sleeping for other cpus' frees,
 *                    __GFP_NOFAIL
 *   verify.ts        verify(): the invariants below
 *   watermarks.ts    min/low/high, per-cpu list sizes, the watermark check's alloc flags
 *   gfp.ts           GFP bits; fragmentation.ts: the extfrag and unusable indices
 *   hotplug.ts       memory hotplug: bringing grown memory online (online_pages)
 *
 * Invariants (verify() reports them by id):
 *   LAYOUT-1 the header carries Layout.MAGIC, Layout.VERSION and this instance's geometry
 *            (page shift, max order, pages, first managed pfn, cpus, nodes, mem_map offset,
 *            header words, the mem_map's room); memory/layout.ts gives the words; this
 *            context's views cover the pages online (page/hotplug.ts)
 *   LAYOUT-2 the reserved pages cover the header and the mem_map
 *   LAYOUT-3 per-cpu lists: batch >= 1 and high >= batch; each zone: 0 <= min <= low <= high
 *            <= its pages + 2 * low
 *   NODE-1   the zones tile the managed frames in node order, each as its node's geometry
 *            says (with a buffer per node, from the start of its window); no block crosses
 *            a zone's end
 *   MEMMAP-1 the managed frames are tiled by blocks: each frame is the head of a free block
 *            (PgFlag.BUDDY), of an allocated block (PgFlag.HEAD) or a per-cpu page
 *            (PgFlag.PCP, order 0), or is an all-zero tail of exactly one such block
 *   MEMMAP-2 the frames of the reserved part, those of the holes between node windows, and
 *            those of the mem_map's room not online yet (memory hotplug), are all zero
 *            (they belong to nobody)
 *   BUDDY-1  a block of order k (free, allocated or per-cpu) starts at a pfn divisible by
 *            2^k and ends inside memory
 *   BUDDY-2  free_area[k] is a consistent doubly linked list of PgFlag.BUDDY heads of order k
 *            inside its zone, and its length is nr_free[k]
 *   BUDDY-3  no free block's buddy is a free block of the same order (they would have merged)
 *   BUDDY-4  a zone's nrFree == sum_k nr_free[k] << k
 *   PCP-1    each per-cpu list is a consistent doubly linked list of PgFlag.PCP order-0 pages
 *            of the list's node whose length is its count, and the lists hold every frame
 *            marked PCP
 *
 * Locks (instances with more than one cpu; one context alone takes none):
 *   zone lock       (Zone.LOCK, one per node) the zone's free_area[] (lists and nr_free),
 *                   nrFree, the frames of its free blocks (BUDDY state and links), and the
 *                   zone's per-cpu lists of cpus that are offline. A block leaves the lock
 *                   already marked HEAD (or PCP): no other cpu ever sees a frame between
 *                   states.
 *   no lock         a cpu's own per-cpu lists, its numastat and event counters: only that cpu
 *                   touches them while it is online (the order-0 fast paths). Another cpu
 *                   that wants the pages posts CpuRequest.DRAIN_PAGES; the owner serves it at
 *                   its next free or slow-path allocation. offlineCpu() drains an offline
 *                   cpu's lists itself.
 *   Atomics         kswapdPending, the free wait queue (FREE_SEQ, FREE_WAITERS), cpu states
 *                   and requests.
 *   context-local   the memory policy and the interleave position (Linux: per task).
 * Lock order: the zone locks come last, after every other lock of the buffer (the whole
 * order is the list in the header of src/sync/lock.ts). Never two zone locks at once,
 * except verify(), which takes them all in node order. Nothing outside this layer runs
 * under one: shrinkers, log lines and fault injection run with none held. Memory hotplug
 * (hotplug.ts) onlines under the last zone's lock, and a context renews its views there
 * (physmem.ts, "Growth": plain JavaScript, no lock taken) when the header's
 * MEM_GENERATION changed.
 * Reads of nrFree and nr_free for the watermark checks take no lock (as Linux's do): a stale
 * value only sends a request down the slow path, which checks again under the lock.
 *
 * A context that dies (offlineCpu, sync/robust.ts) at any statement:
 *   holding the zone lock  recoverZone: the lock taken over, the dead cpu's per-cpu list
 *                          emptied, free_area[] and nrFree rebuilt from mem_map. The writes
 *                          under the lock keep every prefix tiling the zone: a block is
 *                          unmarked (all its frames 0) before it is split or merged, its
 *                          pieces marked BUDDY as they are listed, a taken block marked HEAD
 *                          or PCP last; a 0 frame outside every marked block is free.
 *   on its per-cpu list    recoverPcp walks the list (bounded by the zone's frames) and
 *                          gives back the frames marked PCP. No PCP frame is ever off a
 *                          list: pcpPop marks HEAD before it unlinks, pcpPush and pcpRefill
 *                          mark PCP after they link, pcpDrain unmarks before it unlinks. A
 *                          page on its way in or out stays allocated (the dead context's).
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
  NUMA_STAT_NAMES,
  NumaStat,
  nodePcpBase,
  numaBase,
  Pcp,
  Pg,
  PgFlag,
  type PhysMem,
  pcpBase,
  Vm,
  Zone,
  zoneBase,
} from "../memory/index.js";
import { canBlock, cpuState, lock, unlock, wakeUp } from "../sync/index.js";
import { Gfp, gfpString } from "./gfp.js";
import * as reclaim from "./reclaim.js";
import type { Shrinker } from "./reclaim.js";
import { verifyBuddy } from "./verify.js";
import {
  Alloc,
  computeWatermarks,
  pcpBatch,
  pcpHigh,
  type Watermarks,
  zoneWatermarks,
} from "./watermarks.js";

/** The fast path's zone when it must not be taken: free pages 0, not above a mark of 0. */
const NO_FAST_ZONE = new Int32Array(Zone.WORDS);

export type LogFn = (line: string) => void;

/** Memory policy modes (Linux MPOL_*): see the table in the header comment. */
export const enum Mpol {
  LOCAL = 0,
  PREFERRED = 1,
  BIND = 2,
  INTERLEAVE = 3,
}

/** A node's page counts, for stats and reports. */
export interface NodeInfo {
  node: number;
  /** First frame of the node's zone and one past its last. */
  startPfn: number;
  endPfn: number;
  managedPages: number;
  /** Pages on the node's buddy lists. */
  freePages: number;
  /** The node's free pages parked on per-cpu lists. */
  pcpPages: number;
  freeByOrder: number[];
  watermarks: Watermarks;
  /** numastat counters, NUMA_STAT_NAMES order, summed over cpus. */
  numa: number[];
}

/** Where a frame stands, as the free/misuse paths and verify() classify it. */
interface BlockOwner {
  head: number;
  order: number;
  flags: number;
}

/**
 * The page allocator of one context (cpu). The members tagged internal are state the
 * allocator's other files (reclaim.ts, verify.ts) work on; no other layer uses them, and the
 * published declarations leave them out.
 */
export class BuddyAllocator {
  /** @internal The header words. */
  readonly h: Int32Array;
  /** @internal mem_map: Frame.WORDS words per frame. */
  readonly f: Int32Array;
  readonly pageSize: number;
  readonly pageShift: number;
  readonly maxOrder: number;
  /** Frames present and managed (memory hotplug raises both: {@link resized}). */
  totalPages: number;
  readonly firstPfn: number;
  managedPages: number;
  /** The first address that can be handed out, and one past the last. */
  private readonly startAddr: number;
  private endAddr: number;
  private readonly pageMask: number;
  /** This context's cpu id: which per-cpu list and counters it uses. */
  readonly cpu: number;
  /** More than one cpu: take locks (one context alone takes none). */
  readonly smp: boolean;
  readonly nrNodes: number;
  /** This context's node (numa_node_id): its local zone and per-cpu list. */
  localNode = 0;
  /** @internal Each zone's words (Zone.X), by node. */
  readonly zones: Int32Array[] = [];
  /** Header index of each zone's lock. */
  private readonly zoneLocks: number[] = [];
  /** @internal One past each node's last frame, for nodeOf. */
  readonly nodeEnds: number[];
  /** @internal Each node's first frame (node 0's includes the reserve). */
  readonly nodeStarts: number[];
  /** With a buffer per node, pfn >>> nodeShift is the node (its window); else -1. */
  private readonly nodeShift: number;
  /** @internal The physical memory (its views, geometry and growth). */
  readonly mem: PhysMem;
  /** Per node, the nodes in the order allocations try them: by distance, then by id. */
  private readonly zonelists: number[][] = [];
  /** All nodes' bits. */
  readonly allNodes: number;
  /**
   * This cpu's per-cpu list of its local node, its own line (hotplug state, requests) and
   * its event counters as views of their own: constant indices into a small
   * view are cheaper than offsets into the header (no index arithmetic, bounds checks folded).
   */
  private pcp: Int32Array;
  private readonly line: Int32Array;
  /** This cpu's event counters (the slab layer counts into them too). */
  readonly ev: Int32Array;
  /** This cpu's numastat counters (NumaStat.WORDS per node), and the index of its node's. */
  private readonly numa: Int32Array;
  private numaLocal = 0;
  /** Every cpu's per-cpu lists, pcps[cpu * nrNodes + node], for draining and verify(). */
  private readonly pcps: Int32Array[] = [];
  /** @internal The cpus (contexts) the instance admits. */
  readonly nrCpus: number;
  /** The memory policy (context-local, as Linux's is per task) and its node mask. */
  private policy: number = Mpol.LOCAL;
  private policyNodes = 0;
  /** The last node the interleave policy chose (Linux il_prev). */
  private ilPrev = -1;
  /**
   * The zone the order-0 fast path checks: the local zone when the policy lets order-0
   * allocations take the local per-cpu list directly, else NO_FAST_ZONE (never above its mark).
   */
  private fastZone: Int32Array = NO_FAST_ZONE;
  /** fail_page_alloc, or null when off (the hot path tests only this). */
  faultPageAlloc: FaultAttr | null = null;
  log: LogFn | null = null;
  /** @internal The shrinkers reclaim runs, in the order registered. */
  readonly shrinkers: Shrinker[] = [];
  /**
   * @internal Caches of allocated pages above this layer that give them back at once (the
   * kmalloc large-run cache): run by the slow path, whatever the gfp, before it fails.
   */
  readonly dropCaches: (() => number)[] = [];
  /** @internal True while shrinkers run (PF_MEMALLOC). */
  inReclaim = false;
  /** Set by allocPagesIfFree around its call: the free lists only. */
  private freeListsOnly = false;
  /**
   * @internal The LRU's reclaim (src/swap: pages of swappable vmalloc areas swapped out),
   * run before the shrinkers; `kswapd` says who asks (pgscan_kswapd or pgscan_direct).
   */
  lruReclaim: ((nrToScan: number, kswapd: boolean) => number) | null = null;
  /**
   * @internal The OOM killer (src/swap/oom.ts): kills a victim and returns true, or false
   * when there is none to kill.
   */
  oomKiller: ((order: number, gfp: number) => boolean) | null = null;
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
  /**
   * @internal Whether this thread may block in Atomics.wait here (a shared buffer, more than
   * one cpu).
   */
  readonly canSleep: boolean;

  /**
   * `fresh`: set up a new instance (watermarks, free lists); otherwise open the one already
   * in the buffer as cpu `cpu`.
   */
  constructor(mem: PhysMem, minFreeBytes: number | undefined, cpu = 0, fresh = true) {
    this.h = mem.header;
    this.f = mem.frames;
    this.mem = mem;
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
    this.nrNodes = mem.nrNodes;
    this.nodeEnds = mem.nodeEnd.slice();
    this.nodeStarts = mem.nodeStart.slice();
    this.nodeShift = mem.split ? mem.winShift - mem.pageShift : -1;
    this.allNodes = (1 << mem.nrNodes) - 1;
    this.cpu = cpu;
    this.smp = mem.nrCpus > 1;
    this.canSleep = this.smp && canBlock && mem.buffer instanceof SharedArrayBuffer;
    const buffer = this.h.buffer;
    const at = (index: number, words: number): Int32Array =>
      new Int32Array(buffer, this.h.byteOffset + index * 4, words);
    for (let n = 0; n < mem.nrNodes; n++) {
      this.zones.push(at(zoneBase(mem.nrCpus, n), Zone.WORDS));
      this.zoneLocks.push(zoneBase(mem.nrCpus, n) + Zone.LOCK);
      const row = mem.distances[n] as readonly number[];
      const order = [...Array(mem.nrNodes).keys()];
      order.sort((a, b) => (row[a] as number) - (row[b] as number) || a - b);
      this.zonelists.push(order);
    }
    for (let c = 0; c < mem.nrCpus; c++) {
      for (let n = 0; n < mem.nrNodes; n++) {
        this.pcps.push(at(nodePcpBase(mem.nrCpus, mem.nrNodes, c, n), Pcp.WORDS));
      }
    }
    this.line = at(pcpBase(cpu), Pcp.WORDS);
    this.ev = at(eventBase(mem.nrCpus, cpu), Vm.NR_EVENTS);
    this.numa = at(numaBase(mem.nrCpus, mem.nrNodes, cpu), NumaStat.WORDS * mem.nrNodes);
    this.pcp = this.line;
    this.setLocalNode(cpu % mem.nrNodes);
    mem.resized.push(() => this.resized());
    if (!fresh) {
      // A cpu that comes online while others sleep for memory is asked at once, as those
      // already online were (its cpu id is claimed before this load): the pages it frees go
      // to the buddy lists, not to a pcp list that an idle worker would sit on.
      if (Atomics.load(this.h, Hdr.FREE_WAITERS) > 0) {
        Atomics.or(this.line, Pcp.REQUEST, CpuRequest.DRAIN_PAGES | CpuRequest.FLUSH_SLABS);
      }
      return;
    }

    const w = computeWatermarks(mem.managedPages, mem.pageSize, minFreeBytes);
    const h = this.h;
    h[Hdr.MIN_FREE_KB] = w.minFreeKb;
    // __setup_per_zone_wmarks: each zone's share of min in proportion to its pages.
    for (const z of this.zones) {
      const zw = zoneWatermarks(w.min, z[Zone.MANAGED] as number, mem.managedPages);
      z[Zone.WMARK_MIN] = zw.min;
      z[Zone.WMARK_LOW] = zw.low;
      z[Zone.WMARK_HIGH] = zw.high;
    }
    const batch = pcpBatch(mem.managedPages, mem.pageSize);
    const percpu = ((h[Hdr.OPTIONS] as number) & HdrOption.NO_PERCPU) === 0;
    // Without per-cpu caching every order-0 page goes to and comes from the buddy lists.
    h[Hdr.PCP_BATCH] = percpu ? batch : 1;
    h[Hdr.PCP_HIGH] = percpu ? pcpHigh(w.low, batch, mem.nrCpus) : 1;
    for (const z of this.zones) this.freeBootMemory(z);
  }

  /**
   * Makes `nid` this context's node (numa_node_id): the zone its fast path checks and the
   * per-cpu list it takes order-0 pages from.
   */
  setLocalNode(nid: number): void {
    this.localNode = nid;
    this.pcp = this.pcpList(this.cpu, nid);
    this.numaLocal = NumaStat.WORDS * nid;
    this.updateFastLocal();
  }

  /**
   * Sets this context's memory policy: `mode` (Mpol) over the nodes of bit mask `nodes`
   * (ignored for LOCAL). The caller has checked both.
   */
  setPolicy(mode: number, nodes: number): void {
    this.policy = mode;
    this.policyNodes = mode === Mpol.LOCAL ? 0 : nodes;
    this.ilPrev = -1;
    this.updateFastLocal();
  }

  /** The memory policy: its mode (Mpol) and node mask. */
  getPolicy(): { mode: number; nodes: number } {
    return { mode: this.policy, nodes: this.policyNodes };
  }

  private updateFastLocal(): void {
    const local = this.localNode;
    const fast =
      this.nrNodes === 1 ||
      this.policy === Mpol.LOCAL ||
      (this.policy === Mpol.PREFERRED && this.firstNode(this.policyNodes) === local) ||
      (this.policy === Mpol.BIND && (this.policyNodes & (1 << local)) !== 0);
    this.fastZone = fast ? (this.zones[local] as Int32Array) : NO_FAST_ZONE;
  }

  private firstNode(mask: number): number {
    return 31 - Math.clz32(mask & -mask);
  }

  /** Node `nid`, or this context's node for -1 (a caller's "any node"). */
  nodeOrLocal(nid: number): number {
    return nid < 0 ? this.localNode : nid;
  }

  /** The node frame `pfn` belongs to. */
  nodeOf(pfn: number): number {
    if (this.nrNodes === 1) return 0;
    if (this.nodeShift >= 0) return pfn >>> this.nodeShift;
    const ends = this.nodeEnds;
    let n = 0;
    while (n < ends.length - 1 && pfn >= (ends[n] as number)) n++;
    return n;
  }

  /** node_distance(a, b). */
  distance(a: number, b: number): number {
    return (this.zones[a] as Int32Array)[Zone.DISTANCE + b] as number;
  }

  /**
   * Hands a zone's frames to its free lists as the largest aligned blocks that fit
   * (memblock_free_all). Per-block work only: tails stay zero.
   */
  private freeBootMemory(z: Int32Array): void {
    let pfn = z[Zone.START_PFN] as number;
    const end = z[Zone.END_PFN] as number;
    const top = this.maxOrder - 1;
    while (pfn < end) {
      let order = top;
      while (order > 0 && (pfn % 2 ** order !== 0 || pfn + 2 ** order > end)) order--;
      this.addToFreeArea(z, pfn, order);
      z[Zone.NR_FREE]! += 1 << order;
      pfn += 1 << order;
    }
  }

  /* ------------------------------------------------------------------ free lists */

  private addToFreeArea(h: Int32Array, pfn: number, order: number): void {
    const f = this.f;
    const fa = Zone.FREE_AREA + FreeArea.WORDS * order;
    const i = pfn * Frame.WORDS;
    const head = h[fa + FreeArea.HEAD] as number;
    f[i + Pg.FLAGS] = PgFlag.BUDDY;
    f[i + Pg.ORDER] = order;
    f[i + Pg.NEXT] = head;
    f[i + Pg.PREV] = 0;
    if (head !== 0) f[head * Frame.WORDS + Pg.PREV] = pfn;
    h[fa + FreeArea.HEAD] = pfn;
    h[fa + FreeArea.NR_FREE]!++;
  }

  private delFromFreeArea(h: Int32Array, pfn: number, order: number): void {
    const f = this.f;
    const fa = Zone.FREE_AREA + FreeArea.WORDS * order;
    const i = pfn * Frame.WORDS;
    const next = f[i + Pg.NEXT] as number;
    const prev = f[i + Pg.PREV] as number;
    if (prev !== 0) f[prev * Frame.WORDS + Pg.NEXT] = next;
    else h[fa + FreeArea.HEAD] = next;
    if (next !== 0) f[next * Frame.WORDS + Pg.PREV] = prev;
    h[fa + FreeArea.NR_FREE]!--;
    f[i + Pg.FLAGS] = 0;
    f[i + Pg.ORDER] = 0;
    f[i + Pg.NEXT] = 0;
    f[i + Pg.PREV] = 0;
  }

  /**
   * __rmqueue_smallest: zone `h`'s smallest free block of order >= `order`, split down, its
   * head marked `flags` (HEAD or PCP). 0 if none. Zone lock held.
   */
  private rmqueueSmallest(h: Int32Array, order: number, flags: number): number {
    for (let o = order; o < this.maxOrder; o++) {
      const pfn = h[Zone.FREE_AREA + FreeArea.WORDS * o + FreeArea.HEAD] as number;
      if (pfn === 0) continue;
      this.delFromFreeArea(h, pfn, o);
      while (o > order) {
        o--;
        this.addToFreeArea(h, pfn + (1 << o), o);
      }
      h[Zone.NR_FREE]! -= 1 << order;
      const i = pfn * Frame.WORDS;
      this.f[i + Pg.FLAGS] = flags;
      this.f[i + Pg.ORDER] = order;
      return pfn;
    }
    return 0;
  }

  /* ------------------------------------------------------------------ the zone lock */

  /**
   * Takes node `nid`'s zone lock (when more than one cpu may run). Under it, this context
   * first catches up with memory another brought online (hotplug.ts): the zone's lists may
   * hold its frames now.
   */
  lockZone(nid: number): void {
    if (this.smp) {
      lock(
        this.h,
        this.zoneLocks[nid] as number,
        this.cpu,
        this.nrNodes === 1 ? "the zone lock" : `the zone lock of node ${nid}`,
      );
      if (Atomics.load(this.h, Hdr.MEM_GENERATION) !== this.mem.generation) this.syncLocked(nid);
    }
  }

  /** lockZone's catching up, the lock given back if this context cannot. */
  private syncLocked(nid: number): void {
    try {
      this.mem.sync();
    } catch (err) {
      this.unlockZone(nid);
      throw err;
    }
  }

  /** @internal After memory hotplug: the geometry of the memory now present. */
  resized(): void {
    const mem = this.mem;
    this.totalPages = mem.totalPages;
    this.managedPages = mem.managedPages;
    this.endAddr = mem.totalPages * mem.pageSize;
    this.nodeEnds[this.nrNodes - 1] = mem.nodeEnd[this.nrNodes - 1] as number;
  }

  unlockZone(nid: number): void {
    if (this.smp) unlock(this.h, this.zoneLocks[nid] as number, this.cpu);
  }

  /**
   * __free_one_page: merge with free buddies upward (inside the zone), then list. The head's
   * flags are clear. Zone lock held.
   */
  /** @internal */
  freeOneBlock(z: Int32Array, pfn: number, order: number): void {
    const f = this.f;
    const top = this.maxOrder - 1;
    const start = z[Zone.START_PFN] as number;
    const end = z[Zone.END_PFN] as number;
    z[Zone.NR_FREE]! += 1 << order;
    while (order < top) {
      const buddy = pfn ^ (1 << order);
      if (buddy >= end || buddy < start) break;
      const b = buddy * Frame.WORDS;
      if (((f[b + Pg.FLAGS] as number) & PgFlag.BUDDY) === 0 || f[b + Pg.ORDER] !== order) break;
      this.delFromFreeArea(z, buddy, order);
      pfn &= buddy;
      order++;
    }
    this.addToFreeArea(z, pfn, order);
  }

  /* ------------------------------------------------------------------ per-cpu lists */

  /** Moves a batch of node `nid`'s order-0 pages from its buddy lists to this cpu's list. */
  private pcpRefill(nid: number): number {
    const h = this.h;
    const f = this.f;
    const z = this.zones[nid] as Int32Array;
    const p = this.pcpList(this.cpu, nid);
    const batch = h[Hdr.PCP_BATCH] as number;
    let got = 0;
    this.lockZone(nid);
    for (; got < batch; got++) {
      // Taken unmarked, linked, then marked PCP: a context dying at any point here leaves
      // no PCP frame off its list (see recoverZone).
      const pfn = this.rmqueueSmallest(z, 0, 0);
      if (pfn === 0) break;
      const i = pfn * Frame.WORDS;
      const tail = p[Pcp.TAIL] as number;
      f[i + Pg.NEXT] = 0;
      f[i + Pg.PREV] = tail;
      if (tail !== 0) f[tail * Frame.WORDS + Pg.NEXT] = pfn;
      else p[Pcp.HEAD] = pfn;
      p[Pcp.TAIL] = pfn;
      f[i + Pg.FLAGS] = PgFlag.PCP;
    }
    this.unlockZone(nid);
    p[Pcp.COUNT]! += got;
    return got;
  }

  /**
   * Gives the `count` coldest pages of cpu `cpu`'s list for node `nid` back to the node's
   * buddy lists: this cpu's own list, or an offline cpu's.
   */
  private pcpDrain(cpu: number, nid: number, count: number): void {
    const f = this.f;
    const z = this.zones[nid] as Int32Array;
    const p = this.pcpList(cpu, nid);
    let n = 0;
    this.lockZone(nid);
    while (n < count) {
      const pfn = p[Pcp.TAIL] as number;
      if (pfn === 0) break;
      const i = pfn * Frame.WORDS;
      const prev = f[i + Pg.PREV] as number;
      // Unmarked before it is unlinked (no PCP frame is ever off its list).
      f[i + Pg.FLAGS] = 0;
      p[Pcp.TAIL] = prev;
      if (prev !== 0) f[prev * Frame.WORDS + Pg.NEXT] = 0;
      else p[Pcp.HEAD] = 0;
      f[i + Pg.NEXT] = 0;
      f[i + Pg.PREV] = 0;
      this.freeOneBlock(z, pfn, 0);
      n++;
    }
    this.unlockZone(nid);
    p[Pcp.COUNT]! -= n;
    if (n > 0) {
      this.ev[Vm.PCP_DRAIN]!++;
      if (this.smp) this.wakeWaiters();
    }
  }

  /**
   * @internal Cpu `cpu`'s per-cpu list for node `nid`. Node 0's is the cpu's own line, which
   * also holds its hotplug state and requests.
   */
  pcpList(cpu: number, nid: number): Int32Array {
    return this.pcps[cpu * this.nrNodes + nid] as Int32Array;
  }

  /** @internal Pages on cpu `cpu`'s lists, all nodes. */
  cpuPcpCount(cpu: number): number {
    let n = 0;
    for (let nid = 0; nid < this.nrNodes; nid++) {
      n += this.pcpList(cpu, nid)[Pcp.COUNT] as number;
    }
    return n;
  }

  /**
   * @internal Empties every per-cpu list of cpu `cpu` (this cpu's or an offline one's);
   * returns pages moved.
   */
  pcpDrainCpu(cpu: number): number {
    let moved = 0;
    for (let nid = 0; nid < this.nrNodes; nid++) {
      const count = this.pcpList(cpu, nid)[Pcp.COUNT] as number;
      if (count > 0) {
        this.pcpDrain(cpu, nid, count);
        moved += count;
      }
    }
    return moved;
  }

  /**
   * drain_all_pages: empties this cpu's per-cpu lists and those of offline cpus, and asks the
   * other online cpus to empty theirs (they do at their next free or slow-path allocation).
   * Returns the pages moved now.
   */
  drainAll(): number {
    let moved = 0;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      if (cpu !== this.cpu && cpuState(this.h, cpu) === CpuState.ONLINE) {
        if (this.cpuPcpCount(cpu) > 0) {
          Atomics.or(this.pcpList(cpu, 0), Pcp.REQUEST, CpuRequest.DRAIN_PAGES);
        }
        continue;
      }
      moved += this.pcpDrainCpu(cpu);
    }
    return moved;
  }

  /**
   * Empties the per-cpu lists of `cpu`, which is DEAD (its context is gone, maybe in the
   * middle of a list operation): offlineCpu(). Each node's list is walked under its zone
   * lock without trusting it (recoverPcp). Returns the pages moved.
   */
  drainOffline(cpu: number): number {
    let moved = 0;
    for (let nid = 0; nid < this.nrNodes; nid++) {
      this.lockZone(nid);
      try {
        moved += this.recoverPcp(nid, cpu, false);
      } finally {
        this.unlockZone(nid);
      }
    }
    Atomics.store(this.pcpList(cpu, 0), Pcp.REQUEST, 0);
    return moved;
  }

  /* ------------------------------------------------------------------ dead contexts */

  /**
   * The zone lock of node `nid` was taken over from cpu `dead`, which died holding it
   * (offlineCpu; the lock is held by this context now): the dead cpu's per-cpu list of
   * the node is emptied (recoverPcp), then the zone's free lists and nrFree are rebuilt
   * from mem_map, the ground truth. Returns a line saying what was found.
   *
   * Every write under the zone lock is ordered so that any prefix of it leaves frames that
   * tile the zone: a block is unmarked (all its frames zero) before it is taken apart or
   * merged, pieces are marked BUDDY as they are listed, a taken block is marked HEAD or PCP
   * last. So a frame that is 0 and not inside a marked block was on its way between two
   * states in the dead context's hands: it is free. Links, list heads and counts are not
   * trusted at all.
   */
  recoverZone(nid: number, dead: number): string {
    const f = this.f;
    const z = this.zones[nid] as Int32Array;
    const start = z[Zone.START_PFN] as number;
    const end = z[Zone.END_PFN] as number;
    const top = this.maxOrder;
    const pcp = this.recoverPcp(nid, dead, true);
    const before = z[Zone.NR_FREE] as number;
    const blocks: number[] = [];
    let pfn = start;
    while (pfn < end) {
      const i = pfn * Frame.WORDS;
      const flags = f[i + Pg.FLAGS] as number;
      let order = f[i + Pg.ORDER] as number;
      if (order < 0 || order >= top || pfn % 2 ** order !== 0 || pfn + 2 ** order > end) {
        order = 0;
      }
      if (flags === 0 || (flags & PgFlag.BUDDY) !== 0) {
        if (flags === 0) order = 0;
        blocks.push(pfn, order);
        f[i + Pg.FLAGS] = 0;
        f[i + Pg.ORDER] = 0;
        f[i + Pg.NEXT] = 0;
        f[i + Pg.PREV] = 0;
      }
      pfn += 2 ** order;
    }
    for (let o = 0; o < top; o++) {
      z[Zone.FREE_AREA + FreeArea.WORDS * o + FreeArea.HEAD] = 0;
      z[Zone.FREE_AREA + FreeArea.WORDS * o + FreeArea.NR_FREE] = 0;
    }
    z[Zone.NR_FREE] = 0;
    for (let k = 0; k < blocks.length; k += 2) {
      this.freeOneBlock(z, blocks[k] as number, blocks[k + 1] as number);
    }
    const after = z[Zone.NR_FREE] as number;
    if (this.smp) this.wakeWaiters();
    return `free lists rebuilt from mem_map (${pcp} per-cpu pages back, nr_free ${before} -> ${after})`;
  }

  /**
   * Empties cpu `cpu`'s per-cpu list of node `nid`, the cpu being DEAD (zone lock held):
   * the list is walked from its head, at most the zone's frames, and its frames still
   * marked PCP go back to the buddy lists (`rebuild` false) or are left 0 for
   * recoverZone's scan (`rebuild` true). A frame on the list marked otherwise was being
   * taken or given by the dying context (pcpPop marks HEAD before unlinking, pcpPush marks
   * PCP after linking, pcpRefill likewise, pcpDrain unmarks before unlinking): it is its
   * own, allocated, or 0 and found free by the scan. Returns the pages given back.
   */
  private recoverPcp(nid: number, cpu: number, rebuild: boolean): number {
    const f = this.f;
    const z = this.zones[nid] as Int32Array;
    const start = z[Zone.START_PFN] as number;
    const end = z[Zone.END_PFN] as number;
    const p = this.pcpList(cpu, nid);
    const pages: number[] = [];
    let pfn = p[Pcp.HEAD] as number;
    for (let n = end - start; n > 0 && pfn >= start && pfn < end; n--) {
      const i = pfn * Frame.WORDS;
      const next = f[i + Pg.NEXT] as number;
      if (f[i + Pg.FLAGS] === PgFlag.PCP) {
        pages.push(pfn);
        f[i + Pg.FLAGS] = 0;
        f[i + Pg.ORDER] = 0;
        f[i + Pg.NEXT] = 0;
        f[i + Pg.PREV] = 0;
      }
      pfn = next;
    }
    p[Pcp.HEAD] = 0;
    p[Pcp.TAIL] = 0;
    p[Pcp.COUNT] = 0;
    if (!rebuild) for (const pg of pages) this.freeOneBlock(z, pg, 0);
    if (pages.length > 0) {
      this.ev[Vm.PCP_DRAIN]!++;
      if (!rebuild && this.smp) this.wakeWaiters();
    }
    return pages.length;
  }

  /** @internal Word index of node `nid`'s zone lock in the header. */
  zoneLockAt(nid: number): number {
    return this.zoneLocks[nid] as number;
  }

  /** Requests other cpus posted to this one (CpuRequest bits), 0 if none. */
  pendingRequests(): number {
    return this.line[Pcp.REQUEST] as number;
  }

  /**
   * Serves a DRAIN_PAGES request of another cpu: this cpu's lists go back to the buddy
   * lists. (FLUSH_SLABS is the slab layer's to serve, where it holds no lock.)
   */
  serveRequests(): void {
    if (((this.line[Pcp.REQUEST] as number) & CpuRequest.DRAIN_PAGES) === 0) return;
    this.clearRequest(CpuRequest.DRAIN_PAGES);
    this.pcpDrainCpu(this.cpu);
  }

  /**
   * Clears request bits of this cpu once served; while some context waits for memory they
   * stay, so that every page this cpu frees meanwhile goes to the buddy lists at once (a
   * worker about to exit would otherwise keep it).
   */
  clearRequest(bits: number): void {
    if (Atomics.load(this.h, Hdr.FREE_WAITERS) === 0) Atomics.and(this.line, Pcp.REQUEST, ~bits);
  }

  /** Posts `request` (CpuRequest bits) to every other online cpu. */
  requestOthers(request: number): void {
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      if (cpu !== this.cpu && cpuState(this.h, cpu) === CpuState.ONLINE) {
        Atomics.or(this.pcpList(cpu, 0), Pcp.REQUEST, request);
      }
    }
  }

  /* ------------------------------------------------------------------ watermarks */

  /**
   * __zone_watermark_ok: after taking 2^order pages, the zone's free pages must stay above
   * the mark (less the reserve share the flags allow), and a block of order >= `order` must
   * exist in it.
   */
  private watermarkOk(z: Int32Array, order: number, allocFlags: number): boolean {
    if ((allocFlags & Alloc.NO_WATERMARKS) !== 0) return true;
    const free = (z[Zone.NR_FREE] as number) - ((1 << order) - 1);
    let min = z[Zone.WMARK_MIN + (allocFlags & Alloc.WMARK_MASK)] as number;
    if ((allocFlags & Alloc.MIN_RESERVE) !== 0) {
      min -= Math.floor(min / 2);
      if ((allocFlags & Alloc.NON_BLOCK) !== 0) min -= Math.floor(min / 4);
    }
    if (free <= min) return false;
    if (order === 0) return true;
    for (let o = order; o < this.maxOrder; o++) {
      if ((z[Zone.FREE_AREA + FreeArea.WORDS * o + FreeArea.NR_FREE] as number) > 0) return true;
    }
    return false;
  }

  /* ------------------------------------------------------------------ allocation */

  /**
   * Takes a block of node `nid` past the watermark check: from this cpu's list of that node
   * for order 0. 0 if none.
   */
  private rmqueue(nid: number, order: number): number {
    if (order !== 0) {
      this.lockZone(nid);
      const pfn = this.rmqueueSmallest(this.zones[nid] as Int32Array, order, PgFlag.HEAD);
      this.unlockZone(nid);
      return pfn;
    }
    const p = this.pcpList(this.cpu, nid);
    const pfn = this.pcpPop(p);
    if (pfn !== 0 || this.pcpRefill(nid) === 0) return pfn;
    return this.pcpPop(p);
  }

  /** Pops the hottest page off per-cpu list `p`; 0 if it is empty. */
  private pcpPop(p: Int32Array): number {
    const pfn = p[Pcp.HEAD] as number;
    if (pfn === 0) return 0;
    const f = this.f;
    const i = pfn * Frame.WORDS;
    // Marked allocated before it leaves the list (no PCP frame is ever off its list).
    f[i + Pg.FLAGS] = PgFlag.HEAD;
    const next = f[i + Pg.NEXT] as number;
    p[Pcp.HEAD] = next;
    if (next !== 0) f[next * Frame.WORDS + Pg.PREV] = 0;
    else p[Pcp.TAIL] = 0;
    p[Pcp.COUNT]!--;
    f[i + Pg.NEXT] = 0;
    return pfn;
  }

  /** Counts a taken block (pcpPop or rmqueueSmallest marked it HEAD) and returns its address. */
  private prepNewPage(pfn: number, order: number, gfp: number): number {
    this.ev[Vm.PGALLOC]! += 1 << order;
    const addr = pfn * this.pageSize;
    if ((gfp & Gfp.ZERO) !== 0) this.mem.fill(0, addr, addr + this.pageSize * 2 ** order);
    return addr;
  }

  /**
   * zone_statistics: counts an allocation that was to prefer node `preferred` and landed on
   * the node of `pfn`, in this cpu's numastat counters.
   */
  private countNuma(preferred: number, pfn: number): void {
    const n = this.numa;
    const nid = this.nodeOf(pfn);
    const at = NumaStat.WORDS * nid;
    if (nid === preferred) n[at + NumaStat.HIT]!++;
    else {
      n[at + NumaStat.MISS]!++;
      n[NumaStat.WORDS * preferred + NumaStat.FOREIGN]!++;
    }
    n[at + (nid === this.localNode ? NumaStat.LOCAL : NumaStat.OTHER)]!++;
  }

  /**
   * Allocates 2^order physically contiguous pages aligned to their size, where this
   * context's memory policy says. Returns the address of the first, or 0 when the request
   * cannot be met. `order` and `gfp` are trusted here: the facade validates them.
   */
  allocPages(order: number, gfp: number): number {
    // Fast path: an order-0 page off this cpu's list of its own node when the zone's free
    // memory is above the low watermark (zone_watermark_fast + rmqueue_pcplist): a handful
    // of typed-array loads and stores. Everything else goes through allocPagesGeneral.
    // When the policy sends order-0 pages elsewhere, fastZone is an all-zero dummy whose
    // check fails: no separate test on this path.
    if (order === 0 && this.faultPageAlloc === null) {
      const z = this.fastZone;
      if ((z[Zone.NR_FREE] as number) > (z[Zone.WMARK_LOW] as number)) {
        const pfn = this.pcpPop(this.pcp);
        if (pfn !== 0) {
          // numa_hit and local_node at once (numaStats adds FAST to both).
          this.numa[this.numaLocal + NumaStat.FAST]!++;
          return this.prepNewPage(pfn, 0, gfp);
        }
      }
    }
    return this.allocPolicy(order, gfp);
  }

  /** The policy's preferred node and mask for one allocation (policy_node, policy_nodemask). */
  private allocPolicy(order: number, gfp: number): number {
    const local = this.localNode;
    switch (this.policy) {
      case Mpol.PREFERRED:
        return this.allocPagesGeneral(order, gfp, this.firstNode(this.policyNodes), this.allNodes);
      case Mpol.BIND: {
        const mask = this.policyNodes;
        let nid = local;
        if ((mask & (1 << local)) === 0) {
          for (const n of this.zonelists[local] as number[]) {
            if ((mask & (1 << n)) !== 0) {
              nid = n;
              break;
            }
          }
        }
        return this.allocPagesGeneral(order, gfp, nid, mask);
      }
      case Mpol.INTERLEAVE: {
        // interleave_nodes: the next node of the mask after the last one used.
        const mask = this.policyNodes;
        let nid = this.ilPrev;
        do nid = (nid + 1) % this.nrNodes;
        while ((mask & (1 << nid)) === 0);
        this.ilPrev = nid;
        const addr = this.allocPagesGeneral(order, gfp, nid, this.allNodes);
        if (addr !== 0 && this.nodeOf(addr >>> this.pageShift) === nid) {
          this.numa[NumaStat.WORDS * nid + NumaStat.INTERLEAVE_HIT]!++;
        }
        return addr;
      }
      default:
        return this.allocPagesGeneral(order, gfp, local, this.allNodes);
    }
  }

  /**
   * __alloc_pages_node: 2^order pages preferably on node `nid` (falling back by distance;
   * only that node with __GFP_THISNODE), whatever the policy. nid -1 (NUMA_NO_NODE): as
   * {@link allocPages}. `nid` is trusted here.
   */
  allocPagesNode(nid: number, order: number, gfp: number): number {
    if (nid < 0) return this.allocPages(order, gfp);
    return this.allocPagesGeneral(order, gfp, nid, this.allNodes);
  }

  /**
   * allocPagesNode for a block its caller can do without (a larger slab of a SLUB cache
   * whose slabs grow: allocate_slab's oo before min): from the free lists only, above the
   * low watermark, by the same node and policy rules. No slow path (nothing drained from
   * the per-cpu lists, no cache dropped, no reclaim), no fault injection, no failure
   * counted or reported: 0 when no such block is at hand.
   */
  allocPagesIfFree(nid: number, order: number, gfp: number): number {
    this.freeListsOnly = true;
    try {
      return this.allocPagesNode(nid, order, gfp & ~(Gfp.HIGH | Gfp.MEMALLOC | Gfp.NOFAIL));
    } finally {
      this.freeListsOnly = false;
    }
  }

  private allocPagesGeneral(order: number, gfp: number, nid: number, mask: number): number {
    if (((this.line[Pcp.REQUEST] as number) & CpuRequest.DRAIN_PAGES) !== 0) this.serveRequests();
    if ((gfp & Gfp.THISNODE) !== 0) mask &= 1 << nid;
    if (this.faultPageAlloc !== null && !this.freeListsOnly && this.shouldFailAlloc(order, gfp)) {
      return this.allocFailed(order, gfp, false);
    }
    let pfn = this.getPageFromFreelist(order, Alloc.WMARK_LOW, nid, mask);
    if (pfn === 0 && this.freeListsOnly) return 0;
    if (pfn === 0) pfn = reclaim.allocSlowpath(this, order, gfp, nid, mask);
    if (pfn === 0) return this.allocFailed(order, gfp, true);
    this.countNuma(nid, pfn);
    return this.prepNewPage(pfn, order, gfp);
  }

  /**
   * @internal get_page_from_freelist: the zones of node `nid`'s zonelist that are in `mask`, in
   * order, the first whose watermark allows the request. 0 if none can serve it.
   */
  getPageFromFreelist(order: number, allocFlags: number, nid: number, mask: number): number {
    if (this.nrNodes === 1) {
      if (mask === 0 || !this.watermarkOk(this.zones[0] as Int32Array, order, allocFlags)) return 0;
      return this.rmqueue(0, order);
    }
    for (const n of this.zonelists[nid] as number[]) {
      if ((mask & (1 << n)) === 0) continue;
      if (!this.watermarkOk(this.zones[n] as Int32Array, order, allocFlags)) continue;
      const pfn = this.rmqueue(n, order);
      if (pfn !== 0) return pfn;
    }
    return 0;
  }

  /* ------------------------------------------------------------------ failure */

  /** should_fail_alloc_page: the scope filters, then should_fail_ex. */
  private shouldFailAlloc(order: number, gfp: number): boolean {
    const attr = this.faultPageAlloc;
    if (attr === null) return false;
    if (order < attr.minOrder) return false;
    if ((gfp & Gfp.NOFAIL) !== 0) return false;
    if (attr.ignoreGfpHighmem && (gfp & Gfp.HIGHMEM) !== 0) return false;
    if (attr.ignoreGfpWait && (gfp & Gfp.DIRECT_RECLAIM) !== 0) return false;
    if (!attr.shouldFail(2 ** order, (gfp & Gfp.NOWARN) === 0 ? this.log : null)) return false;
    this.ev[Vm.FAULT_INJECTED]!++;
    return true;
  }

  /**
   * Counts a failed allocation and returns 0; `warn` is warn_alloc (a real failure, unless
   * __GFP_NOWARN; an injected one has only fault injection's own message, as in Linux).
   */
  private allocFailed(order: number, gfp: number, warn: boolean): number {
    this.ev[Vm.PGALLOC_FAIL]!++;
    if (warn && (gfp & Gfp.NOWARN) === 0 && this.log !== null) {
      this.log(`kmem: page allocation failure: order:${order}, mode:${gfpString(gfp)}`);
      for (let nid = 0; nid < this.nrNodes; nid++) this.log(this.freeAreaLine(nid));
    }
    return 0;
  }

  /** show_free_areas' per-order line of a node: "Node 0 Normal: 4*4kB 2*8kB ... = 32kB". */
  freeAreaLine(nid: number): string {
    const z = this.zones[nid] as Int32Array;
    const parts: string[] = [];
    let totalKb = 0;
    for (let o = 0; o < this.maxOrder; o++) {
      const n = z[Zone.FREE_AREA + FreeArea.WORDS * o + FreeArea.NR_FREE] as number;
      const kb = (this.pageSize * 2 ** o) / 1024;
      parts.push(`${n}*${kb}kB`);
      totalKb += n * kb;
    }
    return `Node ${nid} Normal: ${parts.join(" ")} = ${totalKb}kB`;
  }

  /* ------------------------------------------------------------------ reclaim and sleeping */

  /* The entry points of reclaim.ts for the layers above; the work and its details are there. */

  /** Registers a shrinker run by reclaim (slab caches give back empty slabs through it). */
  registerShrinker(shrinker: Shrinker): void {
    reclaim.registerShrinker(this, shrinker);
  }

  unregisterShrinker(shrinker: Shrinker): void {
    reclaim.unregisterShrinker(this, shrinker);
  }

  /** kswapd's balance_pgdat, for every node: shrinks each zone to its high mark; pages freed. */
  kswapd(): number {
    return reclaim.kswapd(this);
  }

  /** Proactive reclaim (cgroup v2 memory.reclaim): the LRU and shrinkers, for `nrPages`. */
  reclaimPages(nrPages: number): number {
    return reclaim.proactiveReclaim(this, nrPages);
  }

  /** Whether a request of these flags waits for memory at all (sleeping or asynchronously). */
  waitsFor(order: number, gfp: number): boolean {
    return reclaim.waitsFor(this, order, gfp);
  }

  /** Whether this context may block now to wait for another cpu to free something. */
  mayBlock(): boolean {
    return reclaim.mayBlock(this);
  }

  /** Whether a wait without blocking could be woken: another cpu online over a shared buffer. */
  othersCouldFree(): boolean {
    return reclaim.othersCouldFree(this);
  }

  /** The free wait queue's sequence number, read before a try an asynchronous wait follows. */
  freeSeq(): number {
    return reclaim.freeSeq(this);
  }

  /** Counts a context in (+1) or out (-1) of the free wait queue's waiters. */
  addWaiter(d: number): void {
    reclaim.addWaiter(this, d);
  }

  /** Waits without blocking for a free after `seq` (or `ms`); false at once if nobody could free. */
  waitForFree(seq: number, ms: number): Promise<boolean> {
    return reclaim.waitForFree(this, seq, ms);
  }

  /* ------------------------------------------------------------------ freeing */

  /**
   * Frees the block of 2^order pages at `addr`. Every misuse is found before any state
   * changes: an address outside memory or not page-aligned, a reserved frame, a frame that
   * is not the head of an allocated block, a wrong order, a page already free.
   */
  freePages(addr: number, order: number): void {
    const pfn = this.checkFree(addr, order);
    this.ev[Vm.PGFREE]! += 1 << order;
    if (order === 0 && this.nrNodes === 1) this.pcpPush(pfn, this.pcp);
    else this.freeBlock(pfn, order);
  }

  /** Frees a block other than an order-0 page of a one-node instance (kept off the hot path). */
  private freeBlock(pfn: number, order: number): void {
    const nid = this.nodeOf(pfn);
    if (order === 0) {
      this.pcpPush(pfn, this.pcpList(this.cpu, nid));
      return;
    }
    const i = pfn * Frame.WORDS;
    this.lockZone(nid);
    this.f[i + Pg.FLAGS] = 0;
    this.f[i + Pg.ORDER] = 0;
    this.freeOneBlock(this.zones[nid] as Int32Array, pfn, order);
    this.unlockZone(nid);
    if (this.smp) this.wakeWaiters();
  }

  /**
   * @internal alloc_pages_exact's split: the allocated block of order `order` at `addr` keeps
   * its first `pages` pages, as the blocks of `pages`' binary decomposition (largest first,
   * each aligned to its size, each head frame marked `flags` with its order), and the rest
   * goes back to the buddy lists as the blocks that tile it:
   *
   *   pages = 5, order 3:   [0 1 2 3][4] kept (orders 2, 0)   [5][6 7] freed (orders 0, 1)
   *
   * Done under the zone lock in recoverZone's order (the block unmarked, the kept pieces
   * marked, the freed ones marked BUDDY as they are listed; a page of order 0 marked
   * allocated, then freed onto this cpu's list after the lock), so that a context dying at
   * any statement leaves frames that tile the zone: the pieces not yet marked are found
   * free, and the page of order 0 not yet on the list stays the dead context's.
   * The caller writes the kept pieces' owner words afterwards. Before anything changes: a
   * KmemError if `addr` is not the head of an allocated order-`order` block, a RangeError if
   * `pages` is not in 1..2^order or `flags` do not mark an allocated block.
   */
  trimBlock(addr: number, order: number, pages: number, flags: number): void {
    const pfn = this.checkFree(addr, order);
    if (!Number.isInteger(pages) || pages < 1 || pages > 2 ** order) {
      throw new RangeError(
        `trimBlock(${hex(addr)}, ${order}, ${pages}): pages must be an integer in 1..${2 ** order}`,
      );
    }
    if ((flags & PgFlag.HEAD) === 0 || (flags & (PgFlag.BUDDY | PgFlag.PCP)) !== 0) {
      throw new RangeError(
        `trimBlock(${hex(addr)}, ${order}, ${pages}): flags ${flags} do not mark an allocated block`,
      );
    }
    if (pages === 1 << order) {
      this.f[pfn * Frame.WORDS + Pg.FLAGS] = flags;
      return;
    }
    const f = this.f;
    const nid = this.nodeOf(pfn);
    const z = this.zones[nid] as Int32Array;
    this.lockZone(nid);
    f[pfn * Frame.WORDS + Pg.FLAGS] = 0;
    f[pfn * Frame.WORDS + Pg.ORDER] = 0;
    let at = 0;
    for (let k = order; k >= 0; k--) {
      if ((pages & (1 << k)) === 0) continue;
      const i = (pfn + at) * Frame.WORDS;
      f[i + Pg.ORDER] = k;
      f[i + Pg.FLAGS] = flags;
      at += 1 << k;
    }
    // The tail: each block aligned, of the lowest set bit of its offset. Its one page of
    // order 0 (when `pages` is odd: the first piece) is marked an allocated page here and
    // freed as freePages frees one, onto this cpu's list (free_pages_exact frees page by
    // page): merged into the zone instead, it left the next order-0 requests to split
    // larger blocks (git-log-patch: rmqueueSmallest 3 -> 38 instructions an op).
    const end = 1 << order;
    let single = -1;
    if ((at & 1) !== 0) {
      single = pfn + at;
      f[single * Frame.WORDS + Pg.ORDER] = 0;
      f[single * Frame.WORDS + Pg.FLAGS] = PgFlag.HEAD;
      at++;
    }
    this.ev[Vm.PGFREE]! += end - at;
    while (at < end) {
      const k = 31 - Math.clz32(at & -at);
      this.freeOneBlock(z, pfn + at, k);
      at += 1 << k;
    }
    this.unlockZone(nid);
    if (this.smp) this.wakeWaiters();
    if (single >= 0) this.freePages((single << this.pageShift) >>> 0, 0);
  }

  /** @internal After pages went back to the buddy lists: wakes the contexts waiting for memory. */
  wakeWaiters(): void {
    wakeUp(this.h, Hdr.FREE_SEQ, Hdr.FREE_WAITERS);
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

  /**
   * free_unref_page: a freed order-0 page goes on this cpu's list `p` of the page's node;
   * past pcpHigh, a batch leaves.
   */
  private pcpPush(pfn: number, p: Int32Array): void {
    const f = this.f;
    const i = pfn * Frame.WORDS;
    const head = p[Pcp.HEAD] as number;
    // Linked, then marked PCP (its order is 0 already): no PCP frame is ever off its list.
    f[i + Pg.NEXT] = head;
    f[i + Pg.PREV] = 0;
    if (head !== 0) f[head * Frame.WORDS + Pg.PREV] = pfn;
    else p[Pcp.TAIL] = pfn;
    p[Pcp.HEAD] = pfn;
    f[i + Pg.FLAGS] = PgFlag.PCP;
    // One branch for both rare cases: the list is over pcpHigh, or another cpu asked.
    if (++p[Pcp.COUNT]! >= (this.h[Hdr.PCP_HIGH] as number) || this.line[Pcp.REQUEST] !== 0) {
      this.pcpPushSlow(pfn, p);
    }
  }

  private pcpPushSlow(pfn: number, p: Int32Array): void {
    if ((p[Pcp.COUNT] as number) >= (this.h[Hdr.PCP_HIGH] as number)) {
      this.pcpDrain(this.cpu, this.nodeOf(pfn), this.h[Hdr.PCP_BATCH] as number);
    }
    if (((this.line[Pcp.REQUEST] as number) & CpuRequest.DRAIN_PAGES) !== 0) this.serveRequests();
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
    if (!this.mem.hasFrame(pfn)) {
      throw new KmemError(
        "INVALID_FREE",
        `address ${hex(addr)} is in no node (between node ${this.nodeOf(pfn)}'s end and the next node's window)`,
      );
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

  /** Pages on the buddy free lists of every node (NR_FREE_PAGES). */
  buddyFreePages(): number {
    let n = 0;
    for (const z of this.zones) n += z[Zone.NR_FREE] as number;
    return n;
  }

  /** Pages parked on all per-cpu lists. */
  pcpPages(): number {
    let n = 0;
    for (const p of this.pcps) n += p[Pcp.COUNT] as number;
    return n;
  }

  /** nr_free per order (free blocks on the buddy lists), of node `nid` or summed over nodes. */
  freeByOrder(nid = -1): number[] {
    const out = new Array<number>(this.maxOrder).fill(0);
    for (let n = 0; n < this.nrNodes; n++) {
      if (nid >= 0 && n !== nid) continue;
      const z = this.zones[n] as Int32Array;
      // Under the zone lock, so that a report never shows a block in the middle of a split.
      this.lockZone(n);
      for (let o = 0; o < this.maxOrder; o++) {
        out[o] =
          (out[o] as number) +
          (z[Zone.FREE_AREA + FreeArea.WORDS * o + FreeArea.NR_FREE] as number);
      }
      this.unlockZone(n);
    }
    return out;
  }

  /** The watermarks of node `nid`'s zone, or their sums over the zones. */
  watermarks(nid = -1): Watermarks {
    const w = { minFreeKb: this.h[Hdr.MIN_FREE_KB] as number, min: 0, low: 0, high: 0 };
    for (let n = 0; n < this.nrNodes; n++) {
      if (nid >= 0 && n !== nid) continue;
      const z = this.zones[n] as Int32Array;
      w.min += z[Zone.WMARK_MIN] as number;
      w.low += z[Zone.WMARK_LOW] as number;
      w.high += z[Zone.WMARK_HIGH] as number;
    }
    return w;
  }

  /** numastat counters of node `nid` (NUMA_STAT_NAMES order), summed over cpus. */
  numaStats(nid: number): number[] {
    const at = (cpu: number, k: number): number =>
      (this.h[numaBase(this.nrCpus, this.nrNodes, cpu) + NumaStat.WORDS * nid + k] as number) >>> 0;
    const out: number[] = [];
    for (let k = 0; k < NUMA_STAT_NAMES.length; k++) {
      let sum = 0;
      for (let cpu = 0; cpu < this.nrCpus; cpu++) {
        sum += at(cpu, k);
        if (k === NumaStat.HIT || k === NumaStat.LOCAL) sum += at(cpu, NumaStat.FAST);
      }
      out.push(sum);
    }
    return out;
  }

  /** A node's page counts. */
  nodeInfo(nid: number): NodeInfo {
    const z = this.zones[nid] as Int32Array;
    let pcp = 0;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      pcp += this.pcpList(cpu, nid)[Pcp.COUNT] as number;
    }
    return {
      node: nid,
      startPfn: z[Zone.START_PFN] as number,
      endPfn: z[Zone.END_PFN] as number,
      managedPages: z[Zone.MANAGED] as number,
      freePages: z[Zone.NR_FREE] as number,
      pcpPages: pcp,
      freeByOrder: this.freeByOrder(nid),
      watermarks: this.watermarks(nid),
      numa: this.numaStats(nid),
    };
  }

  /** The nodes allocations preferring `nid` try, in order (its zonelist). */
  zonelist(nid: number): readonly number[] {
    return this.zonelists[nid] as number[];
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
   * Checks every invariant of the header; throws CORRUPTION naming the first broken
   * (verify.ts).
   */
  verify(): void {
    verifyBuddy(this);
  }
}
