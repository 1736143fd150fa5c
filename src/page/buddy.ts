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
 * Invariants (verify() reports them by id):
 *   BUDDY-1  a free block of order k starts at a pfn divisible by 2^k, inside its zone
 *   BUDDY-2  free_area[k] is a consistent doubly linked list of PgFlag.BUDDY heads of order k,
 *            and its length is nr_free[k]
 *   BUDDY-3  no free block's buddy is a free block of the same order (they would have merged)
 *   BUDDY-4  a zone's nrFree == sum_k nr_free[k] << k
 *   NODE-1   the zones tile the managed frames in node order, no block crosses a zone's end
 *   MEMMAP-1 the managed frames are tiled by blocks: each frame is the head of a free block
 *            (PgFlag.BUDDY), of an allocated block (PgFlag.HEAD) or a per-cpu page (PgFlag.PCP), or is an
 *            all-zero tail of exactly one such block
 *   PCP-1    each per-cpu list is a consistent doubly linked list of PgFlag.PCP order-0 pages whose
 *            length is its count, all of the list's node
 *
 * Concurrency (instances with more than one cpu; the lock order is in ARCHITECTURE.md):
 *   zone lock       (one per node) the zone's free_area[] (lists and nr_free), nrFree, the
 *                   frames of its free blocks (BUDDY state and links), and the zone's per-cpu
 *                   lists of cpus that are offline. Never two at once (verify: node order).
 *                   A block leaves the lock already marked HEAD (or PCP): no other cpu ever
 *                   sees a frame between states.
 *   no lock         a cpu's own per-cpu list and event counters: only that cpu touches them
 *                   while it is online (the order-0 fast paths). Another cpu that wants the
 *                   pages posts CpuRequest.DRAIN_PAGES; the owner serves it at its next free
 *                   or slow-path allocation. offlineCpu() drains an offline cpu's list itself.
 *   Atomics         kswapdPending, cpu states and requests.
 *   context-local   the memory policy and the interleave position (Linux: per task).
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
import { canBlock, cpuState, lock, unlock, waitRound, waitAsyncOn, wakeUp } from "../sync/index.js";
import { Gfp, gfpString } from "./gfp.js";
import {
  computeWatermarks,
  pcpBatch,
  pcpHigh,
  type Watermarks,
  zoneWatermarks,
} from "./watermarks.js";

/** The fast path's zone when it must not be taken: free pages 0, not above a mark of 0. */
const NO_FAST_ZONE = new Int32Array(Zone.WORDS);

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

/**
 * A shrinker gives memory back under pressure (slab caches register one). It is asked to
 * free up to `nrToScan` pages and returns how many it freed.
 */
export type Shrinker = (nrToScan: number) => number;

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

export class BuddyAllocator {
  private readonly h: Int32Array;
  private readonly f: Int32Array;
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
  readonly nrNodes: number;
  /** This context's node (numa_node_id): its local zone and per-cpu list. */
  localNode = 0;
  /** Each zone's words (Zone.X), by node. */
  private readonly zones: Int32Array[] = [];
  /** Header index of each zone's lock. */
  private readonly zoneLocks: number[] = [];
  /** One past each node's last frame, for nodeOf. */
  private readonly nodeEnds: number[];
  /** Each node's first frame (node 0's includes the reserve). */
  private readonly nodeStarts: number[];
  /** With a buffer per node, pfn >>> nodeShift is the node (its window); else -1. */
  private readonly nodeShift: number;
  private readonly mem: PhysMem;
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
  private readonly nrCpus: number;
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
      z[Zone.NR_FREE] += 1 << order;
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
    h[fa + FreeArea.NR_FREE]++;
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
    h[fa + FreeArea.NR_FREE]--;
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
      h[Zone.NR_FREE] -= 1 << order;
      const i = pfn * Frame.WORDS;
      this.f[i + Pg.FLAGS] = flags;
      this.f[i + Pg.ORDER] = order;
      return pfn;
    }
    return 0;
  }

  /* ------------------------------------------------------------------ the zone lock */

  /** Takes node `nid`'s zone lock (when more than one cpu may run). */
  lockZone(nid: number): void {
    if (this.smp) {
      lock(
        this.h,
        this.zoneLocks[nid] as number,
        this.cpu,
        this.nrNodes === 1 ? "the zone lock" : `the zone lock of node ${nid}`,
      );
    }
  }

  unlockZone(nid: number): void {
    if (this.smp) unlock(this.h, this.zoneLocks[nid] as number, this.cpu);
  }

  /**
   * __free_one_page: merge with free buddies upward (inside the zone), then list. The head's
   * flags are clear. Zone lock held.
   */
  private freeOneBlock(z: Int32Array, pfn: number, order: number): void {
    const f = this.f;
    const top = this.maxOrder - 1;
    const start = z[Zone.START_PFN] as number;
    const end = z[Zone.END_PFN] as number;
    z[Zone.NR_FREE] += 1 << order;
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
      const pfn = this.rmqueueSmallest(z, 0, PgFlag.PCP);
      if (pfn === 0) break;
      const i = pfn * Frame.WORDS;
      const tail = p[Pcp.TAIL] as number;
      f[i + Pg.NEXT] = 0;
      f[i + Pg.PREV] = tail;
      if (tail !== 0) f[tail * Frame.WORDS + Pg.NEXT] = pfn;
      else p[Pcp.HEAD] = pfn;
      p[Pcp.TAIL] = pfn;
    }
    this.unlockZone(nid);
    p[Pcp.COUNT] += got;
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
      p[Pcp.TAIL] = prev;
      if (prev !== 0) f[prev * Frame.WORDS + Pg.NEXT] = 0;
      else p[Pcp.HEAD] = 0;
      f[i + Pg.FLAGS] = 0;
      f[i + Pg.NEXT] = 0;
      f[i + Pg.PREV] = 0;
      this.freeOneBlock(z, pfn, 0);
      n++;
    }
    this.unlockZone(nid);
    p[Pcp.COUNT] -= n;
    if (n > 0) {
      this.ev[Vm.PCP_DRAIN]++;
      if (this.smp) this.wakeWaiters();
    }
  }

  /**
   * Cpu `cpu`'s per-cpu list for node `nid`. Node 0's is the cpu's own line, which also
   * holds its hotplug state and requests.
   */
  private pcpList(cpu: number, nid: number): Int32Array {
    return this.pcps[cpu * this.nrNodes + nid] as Int32Array;
  }

  /** Pages on cpu `cpu`'s lists, all nodes. */
  private cpuPcpCount(cpu: number): number {
    let n = 0;
    for (let nid = 0; nid < this.nrNodes; nid++) {
      n += this.pcpList(cpu, nid)[Pcp.COUNT] as number;
    }
    return n;
  }

  /** Empties every per-cpu list of cpu `cpu` (this cpu's or an offline one's); returns pages moved. */
  private pcpDrainCpu(cpu: number): number {
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
   * Empties the per-cpu lists of `cpu`, which is offline (its context is gone): offlineCpu().
   * Returns the pages moved.
   */
  drainOffline(cpu: number): number {
    const moved = this.pcpDrainCpu(cpu);
    Atomics.store(this.pcpList(cpu, 0), Pcp.REQUEST, 0);
    return moved;
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
    if ((allocFlags & ALLOC_NO_WATERMARKS) !== 0) return true;
    const free = (z[Zone.NR_FREE] as number) - ((1 << order) - 1);
    let min = z[Zone.WMARK_MIN + (allocFlags & ALLOC_WMARK_MASK)] as number;
    if ((allocFlags & ALLOC_MIN_RESERVE) !== 0) {
      min -= Math.floor(min / 2);
      if ((allocFlags & ALLOC_NON_BLOCK) !== 0) min -= Math.floor(min / 4);
    }
    if (free <= min) return false;
    if (order === 0) return true;
    for (let o = order; o < this.maxOrder; o++) {
      if ((z[Zone.FREE_AREA + FreeArea.WORDS * o + FreeArea.NR_FREE] as number) > 0) return true;
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
    if (nid === preferred) n[at + NumaStat.HIT]++;
    else {
      n[at + NumaStat.MISS]++;
      n[NumaStat.WORDS * preferred + NumaStat.FOREIGN]++;
    }
    n[at + (nid === this.localNode ? NumaStat.LOCAL : NumaStat.OTHER)]++;
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
          this.numa[this.numaLocal + NumaStat.FAST]++;
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
          this.numa[NumaStat.WORDS * nid + NumaStat.INTERLEAVE_HIT]++;
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

  private allocPagesGeneral(order: number, gfp: number, nid: number, mask: number): number {
    if (((this.line[Pcp.REQUEST] as number) & CpuRequest.DRAIN_PAGES) !== 0) this.serveRequests();
    if ((gfp & Gfp.THISNODE) !== 0) mask &= 1 << nid;
    if (this.faultPageAlloc !== null && this.shouldFailAlloc(order, gfp)) {
      return this.allocFailed(order, gfp, false);
    }
    let pfn = this.getPageFromFreelist(order, ALLOC_WMARK_LOW, nid, mask);
    if (pfn === 0) pfn = this.allocSlowpath(order, gfp, nid, mask);
    if (pfn === 0) return this.allocFailed(order, gfp, true);
    this.countNuma(nid, pfn);
    return this.prepNewPage(pfn, order, gfp);
  }

  /**
   * get_page_from_freelist: the zones of node `nid`'s zonelist that are in `mask`, in
   * order, the first whose watermark allows the request. 0 if none can serve it.
   */
  private getPageFromFreelist(
    order: number,
    allocFlags: number,
    nid: number,
    mask: number,
  ): number {
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

  /**
   * __alloc_pages_slowpath, for a single context: kswapd, the request's reserve tier, the
   * per-cpu lists, memory reserves (__GFP_MEMALLOC, or reclaim's own allocations), direct
   * reclaim, and for __GFP_NOFAIL a last try with half the min reserve. Returns the pfn
   * taken (not yet prepared), 0 if none.
   */
  private allocSlowpath(order: number, gfp: number, nid: number, mask: number): number {
    const allocFlags = this.slowAllocFlags(gfp);
    if ((gfp & Gfp.KSWAPD_RECLAIM) !== 0) this.wakeKswapd(nid);
    const canReclaim = (gfp & Gfp.DIRECT_RECLAIM) !== 0;
    // A context that may sleep could have yielded to kswapd: run its pending work now.
    if (canReclaim && !this.inReclaim && this.h[Hdr.KSWAPD_PENDING] !== 0) this.kswapd();
    let pfn = this.getPageFromFreelist(order, allocFlags, nid, mask);
    if (pfn === 0 && this.cpuPcpCount(this.cpu) > 0) {
      // Pages parked on this cpu's lists are free memory the buddy lists cannot see.
      this.pcpDrainCpu(this.cpu);
      pfn = this.getPageFromFreelist(order, allocFlags, nid, mask);
    }
    // __gfp_pfmemalloc_flags: __GFP_MEMALLOC, or reclaim itself (PF_MEMALLOC), may take
    // everything, unless __GFP_NOMEMALLOC forbids it.
    if (
      pfn === 0 &&
      (gfp & Gfp.NOMEMALLOC) === 0 &&
      ((gfp & Gfp.MEMALLOC) !== 0 || this.inReclaim)
    ) {
      pfn = this.getPageFromFreelist(order, ALLOC_NO_WATERMARKS, nid, mask);
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
        pfn = this.getPageFromFreelist(order, allocFlags, nid, mask);
      }
      if (pfn === 0 && this.maySleep(order, gfp)) {
        pfn = this.sleepForMemory(order, gfp, allocFlags, nid, mask);
      }
      if (pfn === 0 && (gfp & Gfp.NOFAIL) !== 0) {
        // Linux loops here until memory comes free; in a single context nothing else can free
        // it, so this is the last try, with the NOFAIL share of the reserve
        // (__alloc_pages_cpuset_fallback with ALLOC_MIN_RESERVE).
        pfn = this.getPageFromFreelist(order, ALLOC_WMARK_MIN | ALLOC_MIN_RESERVE, nid, mask);
      }
    }
    return pfn;
  }

  /* ------------------------------------------------------------------ sleeping */

  /**
   * Whether a request that reclaim could not serve may wait for another cpu to free memory:
   * it may reclaim and retry (not __GFP_NORETRY; a costly order only with
   * __GFP_RETRY_MAYFAIL or __GFP_NOFAIL), this context may block and holds no lock others
   * need to free, and another cpu is online to free something.
   */
  private maySleep(order: number, gfp: number): boolean {
    return this.waitsFor(order, gfp) && this.mayBlock();
  }

  /**
   * Whether this context may block now to wait for another cpu to free something: it may
   * wait at all (Atomics.wait allowed, a shared buffer, several cpus), holds no lock others
   * need to free, and another cpu is online.
   */
  mayBlock(): boolean {
    return this.canSleep && this.noWait === 0 && this.othersOnline();
  }

  /** Whether a wait without blocking could be woken: another cpu online over a shared buffer. */
  othersCouldFree(): boolean {
    return this.smp && this.h.buffer instanceof SharedArrayBuffer && this.othersOnline();
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
  private sleepForMemory(
    order: number,
    gfp: number,
    allocFlags: number,
    nid: number,
    mask: number,
  ): number {
    const h = this.h;
    const nofail = (gfp & Gfp.NOFAIL) !== 0;
    const deadline = Date.now() + this.waitMs;
    // Asked before counted in: whoever sees this context among the waiters also finds every
    // online cpu asked, so a page freed from then on goes to the buddy lists, not a pcp list.
    this.requestOthers(CpuRequest.DRAIN_PAGES | CpuRequest.FLUSH_SLABS);
    Atomics.add(h, Hdr.FREE_WAITERS, 1);
    try {
      for (;;) {
        const seq = Atomics.load(h, Hdr.FREE_SEQ);
        this.requestOthers(CpuRequest.DRAIN_PAGES | CpuRequest.FLUSH_SLABS);
        this.ev[Vm.ALLOCSTALL]++;
        this.directReclaim(Math.max(SWAP_CLUSTER_MAX, 2 ** order));
        const flags = nofail ? ALLOC_WMARK_MIN | ALLOC_MIN_RESERVE : allocFlags;
        const pfn = this.getPageFromFreelist(order, flags, nid, mask);
        if (pfn !== 0) return pfn;
        const ms = waitRound(deadline, nofail);
        if (ms === 0) return 0;
        Atomics.wait(h, Hdr.FREE_SEQ, seq, ms);
      }
    } finally {
      Atomics.sub(h, Hdr.FREE_WAITERS, 1);
    }
  }

  /** After pages went back to the buddy lists: wakes the contexts waiting for memory. */
  private wakeWaiters(): void {
    wakeUp(this.h, Hdr.FREE_SEQ, Hdr.FREE_WAITERS);
  }

  /**
   * The wait queue's sequence number, for an asynchronous wait (the Promise variants): read
   * it before trying, then wait on it if the try failed.
   */
  freeSeq(): number {
    return Atomics.load(this.h, Hdr.FREE_SEQ);
  }

  /** Counts a context in (+1) or out (-1) of the free wait queue's waiters. */
  addWaiter(d: number): void {
    Atomics.add(this.h, Hdr.FREE_WAITERS, d);
  }

  /**
   * Waits without blocking for a free after `seq` (or `ms`): Atomics.waitAsync on the free
   * wait queue, having asked the other cpus for their cached memory. The caller is counted
   * a waiter (addWaiter) from before it read `seq`. Resolves false at once where nobody
   * could free anything (one cpu, or no other cpu online).
   */
  async waitForFree(seq: number, ms: number): Promise<boolean> {
    if (!this.othersCouldFree()) return false;
    this.requestOthers(CpuRequest.DRAIN_PAGES | CpuRequest.FLUSH_SLABS);
    this.ev[Vm.ALLOCSTALL]++;
    await waitAsyncOn(this.h, Hdr.FREE_SEQ, seq, ms);
    return true;
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
  private wakeKswapd(nid: number): void {
    const h = this.h;
    const z = this.zones[nid] as Int32Array;
    if (
      h[Hdr.KSWAPD_PENDING] !== 0 ||
      (z[Zone.NR_FREE] as number) > (z[Zone.WMARK_LOW] as number)
    ) {
      return;
    }
    if (Atomics.exchange(h, Hdr.KSWAPD_PENDING, 1) === 0) this.ev[Vm.KSWAPD_WAKE]++;
  }

  /**
   * kswapd's balance_pgdat, for every node: shrinks until each zone's free memory reaches its
   * high watermark. Returns the pages freed.
   */
  kswapd(): number {
    Atomics.store(this.h, Hdr.KSWAPD_PENDING, 0);
    let want = 0;
    for (const z of this.zones) {
      want += Math.max(0, (z[Zone.WMARK_HIGH] as number) - (z[Zone.NR_FREE] as number));
    }
    if (want === 0) return 0;
    this.ev[Vm.PAGEOUTRUN]++;
    const freed = this.shrinkAll(want);
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
    f[i + Pg.FLAGS] = PgFlag.PCP;
    f[i + Pg.ORDER] = 0;
    f[i + Pg.NEXT] = head;
    f[i + Pg.PREV] = 0;
    if (head !== 0) f[head * Frame.WORDS + Pg.PREV] = pfn;
    else p[Pcp.TAIL] = pfn;
    p[Pcp.HEAD] = pfn;
    // One branch for both rare cases: the list is over pcpHigh, or another cpu asked.
    if (++p[Pcp.COUNT] >= (this.h[Hdr.PCP_HIGH] as number) || this.line[Pcp.REQUEST] !== 0) {
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
   * Checks every invariant in the header comment; throws CORRUPTION naming the first broken.
   * Runs under the zone locks (in node order); the per-cpu lists of other online cpus are
   * exact only while those cpus are quiescent.
   */
  verify(): void {
    let held = 0;
    try {
      for (; held < this.nrNodes; held++) this.lockZone(held);
      this.verifyLocked();
    } finally {
      while (held > 0) this.unlockZone(--held);
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
      h[Hdr.FIRST_PFN] !== this.firstPfn ||
      h[Hdr.MANAGED_PAGES] !== this.managedPages ||
      h[Hdr.NR_CPUS] !== this.nrCpus ||
      h[Hdr.NR_NODES] !== this.nrNodes ||
      h[Hdr.MEMMAP_OFFSET] !== f.byteOffset - h.byteOffset ||
      h[Hdr.HEADER_WORDS] !== h.length
    ) {
      corrupt("LAYOUT-1", "header geometry words do not match the instance");
    }
    if (this.firstPfn * this.pageSize < f.byteOffset - h.byteOffset + f.byteLength) {
      corrupt("LAYOUT-2", "the reserved pages do not cover the header and mem_map");
    }
    const batch = h[Hdr.PCP_BATCH] as number;
    const high = h[Hdr.PCP_HIGH] as number;
    if (!(batch >= 1 && high >= batch)) {
      corrupt("LAYOUT-3", `per-cpu list batch ${batch} and high ${high} are out of range`);
    }
    // NODE-1: the zones tile the managed frames in node order (with a buffer per node, each
    // from the start of its window).
    let expect = this.firstPfn;
    let managed = 0;
    for (let nid = 0; nid < this.nrNodes; nid++) {
      const z = this.zones[nid] as Int32Array;
      const start = z[Zone.START_PFN] as number;
      const end = z[Zone.END_PFN] as number;
      if (nid > 0) expect = this.nodeStarts[nid] as number;
      if (
        start !== expect ||
        end <= start ||
        end !== this.nodeEnds[nid] ||
        z[Zone.MANAGED] !== end - start
      ) {
        corrupt(
          "NODE-1",
          `zone of node ${nid} spans frames ${start}..${end - 1}, expected to start at ${expect} and end at ${(this.nodeEnds[nid] as number) - 1}`,
        );
      }
      expect = end;
      managed += end - start;
      const wmin = z[Zone.WMARK_MIN] as number;
      const wlow = z[Zone.WMARK_LOW] as number;
      const whigh = z[Zone.WMARK_HIGH] as number;
      if (!(wmin >= 0 && wmin <= wlow && wlow <= whigh && whigh <= end - start + 2 * wlow)) {
        corrupt(
          "LAYOUT-3",
          `node ${nid}: watermarks min ${wmin}, low ${wlow}, high ${whigh} are out of order`,
        );
      }
    }
    if (expect !== this.totalPages || managed !== this.managedPages) {
      corrupt(
        "NODE-1",
        `the zones cover ${managed} frames up to ${expect}, memory has ${this.managedPages} up to ${this.totalPages}`,
      );
    }
    // MEMMAP-2: the reserved frames, and those of the holes between node windows, belong
    // to nobody.
    for (let i = 0; i < this.firstPfn * Frame.WORDS; i++) {
      if (f[i] !== 0)
        corrupt("MEMMAP-2", `reserved frame ${Math.floor(i / Frame.WORDS)} has non-zero metadata`);
    }
    for (let nid = 0; nid < this.nrNodes - 1; nid++) {
      const from = (this.nodeEnds[nid] as number) * Frame.WORDS;
      const to = (this.nodeStarts[nid + 1] as number) * Frame.WORDS;
      for (let i = from; i < to; i++) {
        if (f[i] !== 0) {
          corrupt(
            "MEMMAP-2",
            `frame ${Math.floor(i / Frame.WORDS)} of no node has non-zero metadata`,
          );
        }
      }
    }

    // MEMMAP-1: walk each zone's frames block by block.
    const pcpSeen = new Array<number>(this.nrNodes).fill(0);
    const blocks: number[][] = [];
    for (let nid = 0; nid < this.nrNodes; nid++) {
      const z = this.zones[nid] as Int32Array;
      const zstart = z[Zone.START_PFN] as number;
      const zend = z[Zone.END_PFN] as number;
      const blocksByOrder = new Array<number>(this.maxOrder).fill(0);
      blocks.push(blocksByOrder);
      let pfn = zstart;
      while (pfn < zend) {
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
        if (pfn + 2 ** order > zend) {
          corrupt(
            "NODE-1",
            `block at frame ${pfn} of order ${order} runs past the end of node ${nid}`,
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
            buddy >= zstart &&
            buddy < zend &&
            ((f[buddy * Frame.WORDS + Pg.FLAGS] as number) & PgFlag.BUDDY) !== 0 &&
            f[buddy * Frame.WORDS + Pg.ORDER] === order
          ) {
            corrupt(
              "BUDDY-3",
              `free blocks at frames ${pfn} and ${buddy} (order ${order}) are unmerged buddies`,
            );
          }
        }
        if (state === PgFlag.PCP) pcpSeen[nid] = (pcpSeen[nid] as number) + 1;
        pfn += 2 ** order;
      }
    }

    // BUDDY-2 and BUDDY-4: each zone's lists agree with the walk.
    for (let nid = 0; nid < this.nrNodes; nid++) {
      const z = this.zones[nid] as Int32Array;
      const zstart = z[Zone.START_PFN] as number;
      const zend = z[Zone.END_PFN] as number;
      const blocksByOrder = blocks[nid] as number[];
      const where = this.nrNodes === 1 ? "" : ` of node ${nid}`;
      let freePages = 0;
      for (let o = 0; o < this.maxOrder; o++) {
        const fa = Zone.FREE_AREA + FreeArea.WORDS * o;
        const nr = z[fa + FreeArea.NR_FREE] as number;
        if (nr !== blocksByOrder[o]) {
          corrupt(
            "BUDDY-2",
            `nr_free[${o}]${where} is ${nr} but ${blocksByOrder[o]} free blocks of order ${o} exist`,
          );
        }
        let prev = 0;
        let cur = z[fa + FreeArea.HEAD] as number;
        let len = 0;
        while (cur !== 0) {
          if (cur < zstart || cur >= zend) {
            corrupt("BUDDY-2", `free_area[${o}]${where} links to frame ${cur}, outside its zone`);
          }
          const i = cur * Frame.WORDS;
          if (
            ((f[i + Pg.FLAGS] as number) & PgFlag.STATE_MASK) !== PgFlag.BUDDY ||
            f[i + Pg.ORDER] !== o
          ) {
            corrupt(
              "BUDDY-2",
              `free_area[${o}]${where} holds frame ${cur}, which is not a free block of order ${o}`,
            );
          }
          if (f[i + Pg.PREV] !== prev) {
            corrupt(
              "BUDDY-2",
              `free_area[${o}]${where}: frame ${cur} has prev ${f[i + Pg.PREV]}, expected ${prev}`,
            );
          }
          if (++len > nr)
            corrupt("BUDDY-2", `free_area[${o}]${where} is longer than nr_free (${nr}) or cyclic`);
          prev = cur;
          cur = f[i + Pg.NEXT] as number;
        }
        if (len !== nr)
          corrupt("BUDDY-2", `free_area[${o}]${where} has ${len} blocks, nr_free says ${nr}`);
        freePages += nr * 2 ** o;
      }
      if (z[Zone.NR_FREE] !== freePages) {
        corrupt(
          "BUDDY-4",
          `nr_free_pages${where} is ${z[Zone.NR_FREE]} but the free lists hold ${freePages}`,
        );
      }
    }

    // PCP-1.
    for (let nid = 0; nid < this.nrNodes; nid++) {
      const z = this.zones[nid] as Int32Array;
      const zstart = z[Zone.START_PFN] as number;
      const zend = z[Zone.END_PFN] as number;
      let pcpListed = 0;
      for (let cpu = 0; cpu < this.nrCpus; cpu++) {
        const p = this.pcpList(cpu, nid);
        const name = this.nrNodes === 1 ? `cpu ${cpu}` : `cpu ${cpu}, node ${nid}`;
        const count = p[Pcp.COUNT] as number;
        let prev = 0;
        let cur = p[Pcp.HEAD] as number;
        let len = 0;
        while (cur !== 0) {
          if (cur < zstart || cur >= zend) {
            corrupt("PCP-1", `pcp list of ${name} links to frame ${cur}, outside its zone`);
          }
          const i = cur * Frame.WORDS;
          if (((f[i + Pg.FLAGS] as number) & PgFlag.STATE_MASK) !== PgFlag.PCP) {
            corrupt("PCP-1", `pcp list of ${name} holds frame ${cur}, which is not a per-cpu page`);
          }
          if (f[i + Pg.PREV] !== prev) {
            corrupt(
              "PCP-1",
              `pcp list of ${name}: frame ${cur} has prev ${f[i + Pg.PREV]}, expected ${prev}`,
            );
          }
          if (++len > count)
            corrupt("PCP-1", `pcp list of ${name} is longer than its count (${count}) or cyclic`);
          prev = cur;
          cur = f[i + Pg.NEXT] as number;
        }
        if (len !== count || p[Pcp.TAIL] !== prev) {
          corrupt(
            "PCP-1",
            `pcp list of ${name}: ${len} pages listed, count ${count}, tail ${p[Pcp.TAIL]}`,
          );
        }
        pcpListed += len;
      }
      if (pcpListed !== pcpSeen[nid]) {
        corrupt(
          "PCP-1",
          `${pcpSeen[nid]} frames of node ${nid} are marked per-cpu but the lists hold ${pcpListed}`,
        );
      }
    }
  }
}
