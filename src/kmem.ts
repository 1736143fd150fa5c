/*
 * The facade: the public class over every layer. It validates arguments at the public
 * boundary (so the layers below can trust theirs) and calls into the layer that owns the
 * work; it owns no lock and no state of its own. Wiring the layers is src/instance/wire.ts's
 * (one path for new, attach and reopen), option checks src/instance/options.ts's; each lock
 * belongs to the layer whose state it guards (lock order: the header of src/sync/lock.ts).
 *
 * Validation on the hot paths is a couple of integer compares; a failing check calls out to
 * a cold function that builds the message.
 *
 * read, write, view, virtToPhys and the typed accessors (getUint32, setFloat64, ...) are
 * MemAccess's own methods: Kmem extends it, so `mm.getUint32(a)` calls the accessor itself
 * (forwarders measured free too: 113-114 instructions per set+get pair either way).
 *
 * Each Kmem object is one context (the main thread or a worker) working as one cpu of the
 * instance in its buffer: `new Kmem` builds the instance and is cpu 0, `Kmem.attach` opens
 * it as the next free cpu, rebuilding its views and cache handles from the header and the
 * descriptors in memory.
 */

import {
  checkIntegerRange,
  checkKnownKeys,
  checkNodeArg,
  describe,
  hex,
  KmemError,
} from "./errors.js";
import { FaultAttr, type FaultOptions, type FaultState } from "./fault/index.js";
import {
  type Backing,
  CpuState,
  Hdr,
  NUMA_STAT_NAMES,
  type PhysMem,
  VM_EVENT_NAMES,
} from "./memory/index.js";
import { cpuState, type DeadCpuReport, setCpuState, waitRound } from "./sync/index.js";
import {
  type BuddyAllocator,
  checkGfp,
  extfragIndexMilli,
  Gfp,
  Mpol,
  type NodeInfo,
  type Shrinker,
  unusableIndexMilli,
  validGfp,
  type Watermarks,
  type GrowableMemory,
  growMemory,
  onlineMemory,
} from "./page/index.js";
import { badSize, type KmallocApi, ZERO_SIZE_PTR } from "./kmalloc/index.js";
import {
  buddyinfo,
  extfragIndexReport,
  type MemSnapshot,
  meminfo,
  numastat,
  type PageMap,
  pageMap,
  slabinfo,
  swaps,
  unusableIndexReport,
  type ZoneSnapshot,
  zoneinfo,
  vmallocinfo,
  vmstat,
} from "./report/index.js";
import { checkMinNr, checkNotReserved, Mempool, PoolContext } from "./mempool/index.js";
import {
  type ClassicAllocators,
  type ClassicName,
  type ClassicOptions,
  createClassicAllocator,
} from "./classic/index.js";
import {
  type CacheOptions,
  type Ctor,
  KmemCache,
  type ObjectAllocator,
  type SlabCacheInfo,
} from "./slab-common/index.js";
import { Caller, MemAccess } from "./vm/index.js";
import { SlabAllocator } from "./slab/index.js";
import { verifyZsmalloc, ZsContext, type ZsPool, type ZsPoolOptions } from "./zsmalloc/index.js";
import { type Zram, ZramContext, type ZramOptions } from "./zram/index.js";
import { hookClassic, installSanitizers, type Sanitizers } from "./sanitize/index.js";
import type { KmemleakLeak, KmemleakRange } from "./kmemleak/index.js";
import type { Kmalloc } from "./kmalloc/index.js";
import type { SlubAllocator } from "./slub/index.js";
import {
  checkZswapConfig,
  OomKiller,
  type OomVictim,
  type SwapAreaInfo,
  SwapContext,
  type SwaponOptions,
  type ZswapConfig,
  type ZswapStats,
} from "./swap/index.js";
import {
  type AttachOptions,
  drainDeadCpu,
  type KmemOptions,
  type Layers,
  layersFor,
  openInstance,
  type SlabKind,
} from "./instance/index.js";

export type { AttachOptions, KasanOptions, KfenceOptions, KmemOptions } from "./instance/index.js";
export type { KmemleakLeak, KmemleakRange } from "./kmemleak/index.js";

/** A memory policy (set_mempolicy): where this context's allocations go. */
export interface MemPolicy {
  /**
   * "local": this context's node, falling back by distance (default); "preferred": the
   * first of `nodes`, falling back; "bind": only `nodes`, the nearest first; "interleave":
   * `nodes` in turn, page by page.
   */
  mode: "local" | "preferred" | "bind" | "interleave";
  /** Node ids (not for "local"). */
  nodes?: number[];
}

/** Per-node line of {@link KmemStats.nodes}. */
export type NodeStats = NodeInfo;

const POLICY_MODES = ["local", "preferred", "bind", "interleave"] as const;

/** Names accepted by {@link Kmem.setFault}. */
export type FaultName = "fail_page_alloc" | "failslab";

/** Names accepted by {@link Kmem.report}. */
export type ReportName =
  | "buddyinfo"
  | "meminfo"
  | "vmstat"
  | "slabinfo"
  | "vmallocinfo"
  | "unusable_index"
  | "extfrag_index"
  | "numastat"
  | "swaps"
  | "dmesg"
  | "zoneinfo"
  | SanitizerReport;

/** The sanitizers' reports ({@link Kmem.report}): what each found in this context. */
export type SanitizerReport = "kasan" | "kfence" | "kmemleak";

const REPORT_NAMES: readonly ReportName[] = [
  "buddyinfo",
  "meminfo",
  "vmstat",
  "slabinfo",
  "vmallocinfo",
  "unusable_index",
  "extfrag_index",
  "numastat",
  "swaps",
  "dmesg",
  "zoneinfo",
  "kasan",
  "kfence",
  "kmemleak",
];

/** Per-cache line of {@link KmemStats.caches}. */
export type CacheStats = SlabCacheInfo;

/** A plain snapshot of the allocator's counters. */
export interface KmemStats {
  totalPages: number;
  managedPages: number;
  /** Pages holding the header and mem_map (frame 0 included). */
  reservedPages: number;
  /** Pages not allocated: on the buddy lists or the per-cpu lists. */
  freePages: number;
  /** Pages on the buddy lists (Linux NR_FREE_PAGES). */
  buddyFreePages: number;
  /** Free order-0 pages parked on per-cpu lists. */
  pcpPages: number;
  slabPages: number;
  vmallocPages: number;
  pageTablePages: number;
  /** Free blocks per order on the buddy lists (the numbers of /proc/buddyinfo). */
  freeByOrder: number[];
  watermarks: Watermarks;
  caches: CacheStats[];
  /** vmstat event counters by name. */
  events: Record<string, number>;
  /** Per NUMA node: its frames, free pages, watermarks and numastat counters. */
  nodes: NodeStats[];
  /**
   * Pages of freed large kmalloc allocations kept whole for reuse (the large-run cache,
   * src/kmalloc/large-cache.ts): allocated to the page allocator, free to kmalloc.
   */
  kmallocCachedPages: number;
}

export class Kmem extends MemAccess {
  declare readonly pageSize: number;
  readonly maxOrder: number;
  /** The slab debug letters in force ("" for none). */
  readonly debug: string;
  private readonly phys: PhysMem;
  private readonly buddy: BuddyAllocator;
  /** The object allocator: SLUB's, or SLOB's. */
  private readonly slab: ObjectAllocator;
  /** kmalloc: SLUB's size classes, or SLOB itself. */
  private readonly km: KmallocApi;
  /** Which object allocator serves kmalloc and createCache. */
  readonly slabAllocator: SlabKind;
  private readonly layers: Layers;
  private readonly initOnAlloc: boolean;
  /** The header's words (Hdr.POOLS: whether a free must look in mempool reserves). */
  private readonly hdr: Int32Array;
  /** What kfree frees through: km, or once pools exist a front that checks reserves. */
  private freer: { kfree(addr: number): void };
  /** Contexts the instance admits at once (the `cpus` option). */
  readonly cpus: number;
  /** NUMA nodes (1 without the `nodes` option). */
  readonly nrNodes: number;
  /** KASAN, KFENCE and kmemleak in this context, or null when none is on. */
  private readonly sanitizers: Sanitizers | null;

  constructor(options: KmemOptions) {
    const layers = layersFor(options);
    super(layers.phys, layers.vm);
    const phys = layers.phys;
    this.layers = layers;
    this.phys = phys;
    this.buddy = layers.buddy;
    this.slab = layers.slab;
    this.km = layers.km;
    this.slabAllocator = layers.slabKind;
    this.debug = layers.debug;
    this.initOnAlloc = layers.initOnAlloc;
    this.maxOrder = phys.maxOrder;
    // Memory hotplug renews the views this object and its layers keep (memory/remap.ts).
    phys.roots.push(this);
    this.cpus = phys.nrCpus;
    this.nrNodes = phys.nrNodes;
    this.hdr = phys.words;
    this.freer = layers.km;
    this.slab.reserved = (addr, fn) => checkNotReserved(this.pools(), addr, fn);
    if (this.hdr[Hdr.POOLS] !== 0) this.watchPools();
    else if (this.cpus > 1) this.watchPoolsLater();
    this.swapLayer = this.wireSwap();
    // Sanitizers: hooks installed on this context's objects only (src/sanitize/install.ts).
    this.sanitizers =
      layers.sanitizers === null
        ? null
        : installSanitizers(
            this,
            {
              phys,
              buddy: layers.buddy,
              slab: layers.slab as SlubAllocator,
              km: layers.km as Kmalloc,
              vm: layers.vm,
            },
            layers.sanitizers,
          );
  }

  /**
   * Opens the instance in `buffer` (built by `new Kmem({ memory: sab, cpus })` in another
   * context) as a cpu of this context's own; an instance with a buffer per node is opened
   * with all of them, in node order (`mm.buffers`). Throws an Error when the buffer holds no
   * kmem instance, one of another layout version, when the buffers do not match the
   * instance's, or when all its cpus are taken.
   */
  static attach(
    buffer: SharedArrayBuffer | ArrayBuffer | readonly (SharedArrayBuffer | ArrayBuffer)[],
    options: AttachOptions = {},
  ): Kmem {
    return new Kmem(openInstance("Kmem.attach", buffer, options, false));
  }

  /**
   * Reopens an instance none of whose contexts is running any more: a snapshot (a copy of
   * its buffer, or of each node's buffer, taken between calls), or a buffer whose workers
   * have all exited. This context becomes cpu 0 and keeps cpu 0's per-cpu pages and objects;
   * every other cpu that was online is drained back to the shared lists, as offlineCpu does.
   * Throws an Error as attach does, and when the snapshot was taken inside a call (a lock
   * held). Never use it on an instance another context is still using: use attach.
   */
  static reopen(
    buffer: SharedArrayBuffer | ArrayBuffer | readonly (SharedArrayBuffer | ArrayBuffer)[],
    options: AttachOptions = {},
  ): Kmem {
    return new Kmem(openInstance("Kmem.reopen", buffer, options, true));
  }

  /** The whole physical memory; `memory.buffer` is the buffer passed in, if one was. */
  get memory(): Uint8Array {
    return this.phys.bytes;
  }

  /** Frames of the memory present (header and mem_map included); hotplug adds to them. */
  get totalPages(): number {
    return this.phys.totalPages;
  }

  /** Pages the page allocator manages (totalram): totalPages less the reserved ones. */
  get managedPages(): number {
    return this.phys.managedPages;
  }

  /* ------------------------------------------------------------------ memory hotplug */

  /** Frames the mem_map has room for (the `maxMemory` option): the most totalPages grows to. */
  get maxPages(): number {
    return this.phys.maxPages;
  }

  /**
   * Grows the WebAssembly.Memory this instance manages (created with `maxMemory` beyond
   * its size: the mem_map's room) by `pages` of 64 KiB (`memory.grow`), and brings the new
   * pages online in the page allocator, as Linux's memory hotplug onlines a section: the
   * zone grows, the watermarks and per-cpu list sizes follow, the pages join the buddy
   * lists ({@link report} "meminfo", "zoneinfo" and "buddyinfo" show them). Every view of
   * this thread's contexts over the memory is renewed; other threads' catch up at their
   * next slow path. Returns the kmem pages brought online: 0 when the memory refuses to
   * grow (its maximum, or the engine), nothing changed.
   */
  growMemory(memory: GrowableMemory, pages: number): number {
    checkGrowable(memory);
    checkIntegerRange("pages", pages, 0, 65536);
    return growMemory(this.buddy, memory, pages);
  }

  /**
   * Brings online what the memory holds beyond the pages this instance has (another context
   * grew it, or the program did with `memory.grow`; a shared memory only: a non-shared
   * memory grown behind kmem's back has lost its views), and catches this context up with
   * memory others brought online. With a WebAssembly.Memory, this context also renews its
   * views by itself from then on (at its slow paths). Returns the pages this context sees
   * more than before.
   */
  onlineMemory(memory: GrowableMemory | Backing): number {
    const buffer = isBackingValue(memory) ? memory : (checkGrowable(memory), memory.buffer);
    return onlineMemory(this.buddy, isBackingValue(memory) ? null : memory, buffer);
  }

  /** This context's cpu id (0 for the context that built the instance). */
  get cpu(): number {
    return this.buddy.cpu;
  }

  /**
   * cpu hotplug: the context that was cpu `id` is gone (its worker exited, was terminated or
   * threw; call it from another context once it is). Every lock that cpu held is taken
   * over, what it guards repaired from the buffer's ground truth where kmem knows how, and
   * released (a lock is never left held: other contexts waiting for it go on); its per-cpu
   * pages, cpu slabs and sheaves go back to the shared lists; then the id is free for the
   * next attach. Returns what was done ({@link DeadCpuReport}): the locks recovered and
   * those released without a repair (verify() says whether their state is whole).
   */
  offlineCpu(id: number): DeadCpuReport {
    checkIntegerRange("cpu", id, 0, this.cpus - 1);
    if (id === this.cpu) {
      throw new RangeError(`offlineCpu(${id}): a context cannot take its own cpu offline`);
    }
    const h = this.phys.header;
    if (!setCpuState(h, id, CpuState.ONLINE, CpuState.DEAD)) {
      throw new RangeError(
        `offlineCpu(${id}): cpu ${id} is not online (state ${cpuStateName(cpuState(h, id))})`,
      );
    }
    return drainDeadCpu(this.layers, id, (addr) => this.virtToPhys(addr));
  }

  /** The cache named `name`, made in this context or any other; null if there is none. */
  findCache(name: string): KmemCache | null {
    if (typeof name !== "string") {
      throw new TypeError(`cache name must be a string, got ${describe(name)}`);
    }
    const c = this.slab.findByName(name);
    return c === null || c.dead ? null : c;
  }

  /**
   * Registers, for this context, the constructor of the cache named `name` (made with a
   * constructor in another context): slabs this context builds for it run `ctor`.
   */
  registerCtor(name: string, ctor: Ctor): void {
    if (typeof name !== "string") {
      throw new TypeError(`cache name must be a string, got ${describe(name)}`);
    }
    if (typeof ctor !== "function") {
      throw new TypeError(`ctor must be a function, got ${describe(ctor)}`);
    }
    this.slab.registerCtor(name, ctor);
  }

  /* ------------------------------------------------------------------ page allocator */

  /**
   * Allocates 2^order physically contiguous pages, aligned to their size. Returns the address
   * of the first page, or 0 if the request cannot be met.
   */
  allocPages(order: number, gfp: number = Gfp.KERNEL): number {
    if (typeof order !== "number" || order >>> 0 !== order || order >= this.maxOrder)
      this.badOrder(order);
    if (!validGfp(gfp)) checkGfp(gfp);
    return this.buddy.allocPages(order, this.initOnAlloc ? gfp | Gfp.ZERO : gfp);
  }

  /**
   * Allocates 2^order pages preferably on node `nid` (alloc_pages_node): the nearest other
   * node when it has none, never another with __GFP_THISNODE; the memory policy does not
   * apply. `nid` -1 (NUMA_NO_NODE) is {@link allocPages}.
   */
  allocPagesNode(nid: number, order: number, gfp: number = Gfp.KERNEL): number {
    checkNodeArg(nid, this.nrNodes);
    if (typeof order !== "number" || order >>> 0 !== order || order >= this.maxOrder)
      this.badOrder(order);
    if (!validGfp(gfp)) checkGfp(gfp);
    return this.buddy.allocPagesNode(nid, order, this.initOnAlloc ? gfp | Gfp.ZERO : gfp);
  }

  /** This context's node (numa_node_id). */
  get node(): number {
    return this.buddy.localNode;
  }

  /** The node whose memory holds `addr` (page_to_nid; a vmalloc address: its page's). */
  nodeOf(addr: number): number {
    const phys = this.virtToPhys(addr);
    return this.buddy.nodeOf(phys >>> this.phys.pageShift);
  }

  /** node_distance(a, b): 10 for a node to itself, larger the farther. */
  distance(a: number, b: number): number {
    checkIntegerRange("node", a, 0, this.nrNodes - 1);
    checkIntegerRange("node", b, 0, this.nrNodes - 1);
    return this.buddy.distance(a, b);
  }

  /**
   * set_mempolicy for this context: where its allocations without a node go (allocPages,
   * kmalloc's new slabs, vmalloc's pages). See {@link MemPolicy}.
   */
  setPolicy(policy: MemPolicy): void {
    if (typeof policy !== "object" || policy === null) {
      throw new TypeError(`policy must be an object { mode, nodes }, got ${describe(policy)}`);
    }
    checkKnownKeys("setPolicy", policy, ["mode", "nodes"]);
    const mode = POLICY_MODES.indexOf(policy.mode);
    if (mode < 0) {
      throw new RangeError(
        `policy mode must be one of ${POLICY_MODES.join(", ")}, got ${describe(policy.mode)}`,
      );
    }
    let mask = 0;
    if (policy.nodes !== undefined) {
      if (!Array.isArray(policy.nodes)) {
        throw new TypeError(
          `policy nodes must be an array of node ids, got ${describe(policy.nodes)}`,
        );
      }
      for (const nid of policy.nodes) {
        checkIntegerRange("policy node", nid, 0, this.nrNodes - 1);
        mask |= 1 << nid;
      }
    }
    if (mode === Mpol.LOCAL && mask !== 0) {
      throw new RangeError('policy mode "local" takes no nodes');
    }
    if (mode !== Mpol.LOCAL && mask === 0) {
      throw new RangeError(`policy mode ${JSON.stringify(policy.mode)} needs at least one node`);
    }
    this.buddy.setPolicy(mode, mask);
  }

  /** This context's memory policy. */
  getPolicy(): MemPolicy {
    const { mode, nodes } = this.buddy.getPolicy();
    const name = POLICY_MODES[mode] as MemPolicy["mode"];
    if (mode === Mpol.LOCAL) return { mode: name };
    const list: number[] = [];
    for (let n = 0; n < this.nrNodes; n++) if ((nodes & (1 << n)) !== 0) list.push(n);
    return { mode: name, nodes: list };
  }

  /** Frees a block from {@link allocPages}; the order must be the one it was allocated with. */
  freePages(addr: number, order: number): void {
    if (typeof addr !== "number" || addr >>> 0 !== addr) this.badAddress("freePages", addr);
    if (typeof order !== "number" || order >>> 0 !== order || order >= this.maxOrder)
      this.badOrder(order);
    if (addr === 0) return;
    // A page still mapped by vmap() is refused (vmalloc.ts checkNotMapped).
    if (this.hdr[Hdr.VMALLOC] !== 0) {
      this.vm.checkNotMapped(Math.floor(addr / this.pageSize), 1 << order, "freePages");
    }
    this.buddy.freePages(addr, order);
  }

  /**
   * allocPages that may wait for memory without blocking the thread (for a main thread):
   * when the request would sleep, it waits with Atomics.waitAsync for another context to free
   * memory, as long as allocWaitMs allows (__GFP_NOFAIL: until it succeeds, or nobody else
   * is online). Resolves to the address, or 0.
   */
  async allocPagesAsync(order: number, gfp: number = Gfp.KERNEL): Promise<number> {
    if (typeof order !== "number" || order >>> 0 !== order || order >= this.maxOrder)
      this.badOrder(order);
    if (!validGfp(gfp)) checkGfp(gfp);
    return this.waitingFor(order, gfp, () => this.allocPages(order, gfp));
  }

  /** kmalloc that may wait for memory without blocking the thread (see allocPagesAsync). */
  async kmallocAsync(size: number, gfp: number = Gfp.KERNEL): Promise<number> {
    if (typeof size !== "number" || size >>> 0 !== size) return this.oddSize("size", size);
    if (!validGfp(gfp)) checkGfp(gfp);
    const pages = Math.ceil(size / this.pageSize);
    const order = pages <= 1 ? 0 : 32 - Math.clz32(pages - 1);
    return this.waitingFor(order, gfp, () => this.kmalloc(size, gfp));
  }

  /** Tries `alloc` without sleeping; while it fails and the request may wait, waits async. */
  private async waitingFor(order: number, gfp: number, alloc: () => number): Promise<number> {
    const b = this.buddy;
    const attempt = (): number => {
      // The synchronous call must not sleep itself: this path waits without blocking.
      b.noWait++;
      try {
        return alloc();
      } finally {
        b.noWait--;
      }
    };
    let addr = attempt();
    if (addr !== 0 || !b.waitsFor(order, gfp) || !b.othersCouldFree()) return addr;
    const deadline = Date.now() + b.waitMs;
    const nofail = (gfp & Gfp.NOFAIL) !== 0;
    // A waiter from before the first look at the sequence: a free after it always wakes us.
    b.addWaiter(1);
    try {
      for (;;) {
        const seq = b.freeSeq();
        addr = attempt();
        if (addr !== 0) return addr;
        const ms = waitRound(deadline, nofail);
        if (ms === 0 || !(await b.waitForFree(seq, ms))) return 0;
      }
    } finally {
      b.addWaiter(-1);
    }
  }

  /* ------------------------------------------------------------------ slab caches, kmalloc */

  /**
   * Creates an object cache (kmem_cache_create). Returns null only when memory for its
   * descriptor cannot be had. A cache without constructor or debug flags may be merged into
   * a compatible existing one (SLUB aliasing); the handle behaves the same.
   */
  createCache(name: string, size: number, options?: CacheOptions): KmemCache | null {
    return this.slab.createCache(name, size, options);
  }

  /** Allocates `size` bytes; returns the address, ZERO_SIZE_PTR (16) for 0 bytes, or 0. */
  kmalloc(size: number, gfp: number = Gfp.KERNEL): number {
    if (typeof size !== "number" || size >>> 0 !== size) return this.oddSize("size", size);
    // validGfp written out: an imported function's binding is checked on every call.
    if (typeof gfp !== "number" || (gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp)
      checkGfp(gfp);
    return this.km.kmalloc(size, gfp) >>> 0;
  }

  /**
   * kmalloc_node: `size` bytes from a slab (or pages) of node `nid`; without __GFP_THISNODE
   * another node serves when that one has nothing to spare. `nid` -1: as kmalloc.
   */
  kmallocNode(size: number, gfp: number, nid: number): number {
    if (typeof size !== "number" || size >>> 0 !== size) return this.oddSize("size", size);
    if (!validGfp(gfp)) checkGfp(gfp);
    checkNodeArg(nid, this.nrNodes);
    return this.km.kmallocNode(size, gfp, nid) >>> 0;
  }

  /** kmalloc, zeroed. */
  kzalloc(size: number, gfp: number = Gfp.KERNEL): number {
    if (typeof size !== "number" || size >>> 0 !== size) return this.oddSize("size", size);
    if (!validGfp(gfp)) checkGfp(gfp);
    return this.km.kmalloc(size, gfp | Gfp.ZERO) >>> 0;
  }

  /** A zeroed array of `n` elements of `size` bytes; 0 if n * size overflows. */
  kcalloc(n: number, size: number, gfp: number = Gfp.KERNEL): number {
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) badSize("n", n);
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) badSize("size", size);
    if (!validGfp(gfp)) checkGfp(gfp);
    const bytes = n * size;
    if (bytes > 0xffffffff) return 0;
    return this.km.kmalloc(bytes, gfp | Gfp.ZERO) >>> 0;
  }

  /**
   * Resizes an allocation: in place while its usable size holds `size`, else a new one with
   * the contents copied (the old is freed). On failure returns 0 and the old is untouched.
   * `krealloc(0, n)` is kmalloc; `krealloc(p, 0)` frees and returns ZERO_SIZE_PTR.
   */
  krealloc(addr: number, size: number, gfp: number = Gfp.KERNEL): number {
    if (typeof addr !== "number" || addr >>> 0 !== addr) this.badObjectAddress("krealloc", addr);
    if (typeof size !== "number" || size >>> 0 !== size) {
      this.oddSize("size", size);
      this.km.ksize(addr);
      return 0;
    }
    if (!validGfp(gfp)) checkGfp(gfp);
    if (this.hdr[Hdr.POOLS] !== 0) checkNotReserved(this.pools(), addr, "krealloc");
    return this.km.krealloc(addr, size, gfp, this.initOnAlloc) >>> 0;
  }

  /** Frees what kmalloc returned; `kfree(0)` and `kfree(ZERO_SIZE_PTR)` do nothing. */
  kfree(addr: number): void {
    if (typeof addr !== "number" || addr >>> 0 !== addr) this.badObjectAddress("kfree", addr);
    this.freer.kfree(addr);
  }

  /**
   * From the first mempool this context sees on (made or opened here, or present when it
   * attached), kfree looks in the pools' reserves first: `freer` becomes a front of km
   * that does (kfree itself keeps the size it had without pools, and its speed).
   */
  private watchPools(): void {
    if (this.freer !== this.km) return;
    const km = this.km;
    const pools = this.pools();
    this.freer = {
      kfree(addr: number): void {
        checkNotReserved(pools, addr, "kfree");
        km.kfree(addr);
      },
    };
  }

  /**
   * With several cpus and no pool yet, another context may make the first one at any time:
   * kfree looks at the header's list of pools first (one word), and in the reserves once it
   * is not empty. One context alone sees every pool made, so keeps kfree as it is.
   */
  private watchPoolsLater(): void {
    const km = this.km;
    const hdr = this.hdr;
    const pools = () => this.pools();
    this.freer = {
      kfree(addr: number): void {
        if (hdr[Hdr.POOLS] !== 0) checkNotReserved(pools(), addr, "kfree");
        km.kfree(addr);
      },
    };
  }

  /** The usable size of a kmalloc allocation (its size class, or its pages). */
  ksize(addr: number): number {
    if (typeof addr !== "number" || addr >>> 0 !== addr) this.badObjectAddress("ksize", addr);
    return this.km.ksize(addr);
  }

  /* ------------------------------------------------------------------ memory pools */

  /**
   * mempool_create: a pool that keeps `minNr` elements in reserve, from a cache of this
   * instance or kmalloc blocks of `cacheOrSize` bytes. Returns null (taking nothing) when
   * the reserve cannot be filled now.
   */
  createMempool(minNr: number, cacheOrSize: KmemCache | number): Mempool | null {
    checkMinNr(minNr);
    if (typeof cacheOrSize === "number") {
      const max = this.pageSize << (this.maxOrder - 1);
      checkIntegerRange("size", cacheOrSize, 1, max);
      this.watchPools();
      return Mempool.create(this.pools(), minNr, null, cacheOrSize);
    }
    if (!(cacheOrSize instanceof KmemCache) || cacheOrSize.slab !== this.slab) {
      throw new TypeError(
        `cacheOrSize must be a cache of this instance or a size in bytes, got ${describe(cacheOrSize)}`,
      );
    }
    if (cacheOrSize.dead)
      throw new KmemError(
        "DESTROYED",
        `createMempool: cache ${JSON.stringify(cacheOrSize.name)} was destroyed`,
      );
    this.watchPools();
    return Mempool.create(this.pools(), minNr, cacheOrSize, cacheOrSize.objectSize);
  }

  /**
   * Opens in this context the pool made (in any context) with {@link createMempool}, by its
   * `address`. Throws TypeError when there is no pool there.
   */
  openMempool(address: number): Mempool {
    this.watchPools();
    return Mempool.open(this.pools(), address);
  }

  /* ------------------------------------------------------------------ classic allocators */

  /**
   * One of the classic UNIX kernel allocators over this instance's pages (docs/classic.md):
   * "p2", "mckusick-karels", "lazy-buddy", "mach-zone" or "dynix". Returns null when its
   * control block cannot be had.
   */
  createAllocator<N extends ClassicName>(
    name: N,
    options?: ClassicOptions[N],
  ): ClassicAllocators[N] | null {
    const a = createClassicAllocator(this, name, options);
    /* Sanitizers: KASAN over the allocator's blocks (src/sanitize/classic.ts). */
    const kasan = this.sanitizers?.kasan ?? null;
    if (a !== null && kasan !== null) hookClassic(a, kasan, name);
    return a;
  }

  private poolContext: PoolContext | null = null;

  /** What this context's pools call (made at the first pool). */
  private pools(): PoolContext {
    if (this.poolContext === null) {
      this.poolContext = new PoolContext(this.phys, this.km, this.slab, this.buddy);
    }
    return this.poolContext;
  }

  /** A size that is not an unsigned 32-bit integer: an error, or 0 when merely too large. */
  private oddSize(name: string, size: unknown): number {
    if (typeof size === "number" && Number.isInteger(size) && size > 0) return 0;
    return badSize(name, size);
  }

  private badObjectAddress(fn: string, addr: unknown): never {
    if (typeof addr !== "number" || !Number.isInteger(addr)) {
      throw new TypeError(`${fn}: address must be an integer, got ${describe(addr)}`);
    }
    throw new KmemError("INVALID_FREE", `${fn}: address ${addr} is outside physical memory`);
  }

  /**
   * Shrinks every slab cache, kmalloc's included (what `slabinfo -s` does): cpu slabs are
   * flushed and every empty slab goes back to the page allocator, and so do the kmalloc
   * heap's empty chunks. Returns the pages freed.
   */
  shrinkSlabs(): number {
    return this.slab.shrinkAll(Number.POSITIVE_INFINITY) + (this.km.shrinkHeap?.() ?? 0);
  }

  /* ---------------------------------------------------------- SLAB (slab: "slab") */

  /**
   * SLAB's tunables: what `echo "name limit batchcount shared" > /proc/slabinfo` does.
   * Refused (RangeError, nothing changed) unless limit >= 1, 1 <= batchcount <= limit and
   * shared >= 0, as Linux refuses it; SLUB and SLOB have no tunables (Linux: EIO).
   */
  tuneCache(name: string, tunables: { limit: number; batchcount: number; shared: number }): void {
    if (typeof name !== "string")
      throw new TypeError(`tuneCache: name must be a string, got ${describe(name)}`);
    if (typeof tunables !== "object" || tunables === null) {
      throw new TypeError(`tuneCache: tunables must be an object, got ${describe(tunables)}`);
    }
    checkKnownKeys("tuneCache", tunables, ["limit", "batchcount", "shared"]);
    if (!(this.slab instanceof SlabAllocator)) {
      throw new RangeError(
        `tuneCache: the ${this.slabAllocator} allocator has no tunables (slab: "slab" has)`,
      );
    }
    const c = this.slab.findByName(name);
    if (c === null) throw new RangeError(`tuneCache: no cache named ${JSON.stringify(name)}`);
    this.slab.tuneCache(c, tunables.limit, tunables.batchcount, tunables.shared);
  }

  /**
   * SLAB's cache_reap on this context's cpu, every cache: idle per-cpu arrays give back a
   * fifth of their limit, idle shared arrays likewise, alien arrays drain, and a few empty
   * slabs go back to the page allocator; with `adaptive` the round also resizes the arrays.
   * Linux runs it every 2 s; kmem runs it when called (the reclaim path drains the arrays
   * whole), or on a timer only when asked (reapEvery). 0s for SLUB and SLOB.
   */
  reap(): { objects: number; pages: number } {
    if (!(this.slab instanceof SlabAllocator)) return { objects: 0, pages: 0 };
    return this.slab.reap();
  }

  /**
   * Runs reap() every `ms` milliseconds on this context until the returned function is
   * called. The timer does not keep the process alive (it is unref'd where timers can be).
   */
  reapEvery(ms: number): () => void {
    checkIntegerRange("ms", ms, 1, 2 ** 31 - 1);
    const t = setInterval(() => this.reap(), ms);
    (t as { unref?: () => void }).unref?.();
    return () => clearInterval(t);
  }

  /** slabinfo's lines: SLAB's real tunables and sharedavail, zeros for SLUB. */
  private slabinfoCaches() {
    const slab = this.slab;
    return slab.realCaches().map((c) => {
      const info = slab.info(c);
      if (!(slab instanceof SlabAllocator)) return info;
      const [limit, batchcount, shared, sharedAvail] = slab.tunables(c);
      return { ...info, tunables: { limit, batchcount, shared, sharedAvail } };
    });
  }

  /** Empties the per-cpu page lists into the buddy lists (Linux drain_all_pages). */
  drainPages(): number {
    return this.buddy.drainAll();
  }

  /**
   * Registers a shrinker: under memory pressure (direct reclaim of a GFP_KERNEL request, or
   * background reclaim below the low watermark) it is asked to free up to `nrToScan` pages
   * and returns how many it freed. Its own allocations meanwhile skip reclaim and may use
   * the reserves (Linux PF_MEMALLOC).
   */
  registerShrinker(shrinker: Shrinker): void {
    if (typeof shrinker !== "function") {
      throw new TypeError(`shrinker must be a function, got ${describe(shrinker)}`);
    }
    this.buddy.registerShrinker(shrinker);
  }

  unregisterShrinker(shrinker: Shrinker): void {
    if (typeof shrinker !== "function") {
      throw new TypeError(`shrinker must be a function, got ${describe(shrinker)}`);
    }
    this.buddy.unregisterShrinker(shrinker);
  }

  /**
   * Runs background reclaim (kswapd) now: shrinkers until free memory reaches the high
   * watermark. Returns the pages freed. Otherwise it runs when an allocation that may sleep
   * finds it was woken.
   */
  kswapd(): number {
    return this.buddy.kswapd();
  }

  /**
   * Proactive reclaim (Linux's memory.reclaim): swaps out up to `nrPages` pages of
   * swappable memory (the LRU's coldest first) and runs the shrinkers, whatever the free
   * memory. Returns the pages freed.
   */
  reclaim(nrPages: number): number {
    checkIntegerRange("nrPages", nrPages, 0, 2 ** 31 - 1);
    return this.buddy.reclaimPages(nrPages);
  }

  /** The zone watermarks, in pages. */
  get watermarks(): Watermarks {
    return this.buddy.watermarks();
  }

  private badOrder(order: unknown): never {
    if (typeof order !== "number" || !Number.isInteger(order)) {
      throw new TypeError(`order must be an integer, got ${describe(order)}`);
    }
    throw new RangeError(`order must be in 0..${this.maxOrder - 1}, got ${order}`);
  }

  private badAddress(fn: string, addr: unknown): never {
    if (typeof addr !== "number" || !Number.isInteger(addr)) {
      throw new TypeError(`${fn}: address must be an integer, got ${describe(addr)}`);
    }
    throw new KmemError(
      "INVALID_FREE",
      `${fn}: address ${addr < 0 ? addr : hex(addr)} is outside physical memory`,
    );
  }

  /* ------------------------------------------------------------------ virtual memory */

  /** First address of the vmalloc space (VMALLOC_START): above physical memory and a hole. */
  get vmallocStart(): number {
    return this.vm.start;
  }

  /** One past the last address of the vmalloc space (VMALLOC_END). */
  get vmallocEnd(): number {
    return this.vm.end;
  }

  /**
   * Allocates `size` bytes of virtually contiguous memory from pages that need not be
   * contiguous, followed by an unmapped guard page. Returns the virtual address, or 0 (also
   * for 0 bytes, as Linux). Use read/write or the typed accessors on it.
   */
  vmalloc(size: number, gfp: number = Gfp.KERNEL): number {
    // Beyond 4 GiB is not an error: it fails below as exceeding memory, with the warning.
    if (typeof size !== "number" || size >>> 0 !== size) this.oddSize("size", size);
    if (!validGfp(gfp)) checkGfp(gfp);
    const g = this.initOnAlloc ? gfp | Gfp.ZERO : gfp;
    return this.vm.vmalloc(size, g, Caller.VMALLOC);
  }

  /** vmalloc, zeroed. */
  vzalloc(size: number, gfp: number = Gfp.KERNEL): number {
    if (typeof size !== "number" || size >>> 0 !== size) this.oddSize("size", size);
    if (!validGfp(gfp)) checkGfp(gfp);
    return this.vm.vmalloc(size, gfp | Gfp.ZERO, Caller.VZALLOC);
  }

  /** Frees what vmalloc returned: unmaps it and gives its pages back. `vfree(0)` does nothing. */
  vfree(addr: number): void {
    if (addr === 0) return;
    this.checkVirtual("vfree", addr);
    this.vm.vfree(addr);
  }

  /**
   * Maps pages the caller holds (the addresses of allocated pages, in any order) at
   * consecutive virtual pages, followed by a guard page. Returns the virtual address, or 0.
   * The pages stay the caller's: vunmap before freeing them.
   */
  vmap(pages: ArrayLike<number>): number {
    if (!Array.isArray(pages) && !(ArrayBuffer.isView(pages) && !(pages instanceof DataView))) {
      throw new TypeError(`pages must be an array of page addresses, got ${describe(pages)}`);
    }
    return this.vm.vmap(pages);
  }

  /** Undoes a vmap; the pages are not freed. `vunmap(0)` does nothing. */
  vunmap(addr: number): void {
    if (addr === 0) return;
    this.checkVirtual("vunmap", addr);
    this.vm.vunmap(addr);
  }

  /**
   * kmalloc first, vmalloc when that fails (Linux kvmalloc_node): for more than a page,
   * kmalloc is tried with __GFP_NOWARN | __GFP_NORETRY (unless __GFP_RETRY_MAYFAIL) and
   * without __GFP_NOFAIL. Flags that are not a superset of GFP_KERNEL get kmalloc only.
   * Free with kvfree.
   */
  kvmalloc(size: number, gfp: number = Gfp.KERNEL): number {
    return this.kvmallocNode(size, gfp, Caller.KVMALLOC);
  }

  /** kvmalloc, zeroed. */
  kvzalloc(size: number, gfp: number = Gfp.KERNEL): number {
    if (!validGfp(gfp)) checkGfp(gfp);
    return this.kvmallocNode(size, gfp | Gfp.ZERO, Caller.KVZALLOC);
  }

  private kvmallocNode(size: number, gfp: number, caller: Caller): number {
    if (typeof size !== "number" || size >>> 0 !== size) return this.oddSize("size", size);
    if (!validGfp(gfp)) checkGfp(gfp);
    if ((gfp & Gfp.KERNEL) !== Gfp.KERNEL) return this.kmalloc(size, gfp);
    let kgfp = gfp;
    if (size > this.pageSize) {
      kgfp |= Gfp.NOWARN;
      if ((kgfp & Gfp.RETRY_MAYFAIL) === 0) kgfp |= Gfp.NORETRY;
      kgfp &= ~Gfp.NOFAIL;
    }
    const addr = this.kmalloc(size, kgfp);
    if (addr !== 0 || size <= this.pageSize) return addr;
    if (size > 0x7fffffff) return 0;
    const g = this.initOnAlloc ? gfp | Gfp.ZERO : gfp;
    return this.vm.vmalloc(size, g, caller);
  }

  /** Frees what kvmalloc returned, whichever allocator served it. `kvfree(0)` does nothing. */
  kvfree(addr: number): void {
    if (typeof addr === "number" && this.isVmallocAddr(addr)) {
      this.checkVirtual("kvfree", addr);
      this.vm.vfree(addr);
    } else {
      this.kfree(addr);
    }
  }

  /** Whether `addr` lies in the vmalloc space (Linux is_vmalloc_addr). */
  isVmallocAddr(addr: number): boolean {
    return addr >= this.vm.start && addr < this.vm.end;
  }

  /** vfree/vunmap's address check: an integer inside the vmalloc space. */
  private checkVirtual(fn: string, addr: unknown): void {
    if (typeof addr !== "number" || !Number.isInteger(addr)) {
      throw new TypeError(`${fn}: address must be an integer, got ${describe(addr)}`);
    }
    if (addr < this.vm.start || addr >= this.vm.end) {
      throw new KmemError(
        "INVALID_FREE",
        `${fn}(${addr < 0 ? addr : hex(addr)}): not a vmalloc address (the vmalloc space is ${hex(this.vm.start)}..${hex(this.vm.end)})`,
      );
    }
  }

  /* ------------------------------------------------------------------ compressed memory */

  /**
   * zs_create_pool: a zsmalloc pool named `name` (unique in the instance), its compaction
   * registered as a shrinker. Returns null when memory for it cannot be had.
   */
  createZsPool(name: string, options?: ZsPoolOptions): ZsPool | null {
    return this.compression().createPool(name, options);
  }

  /** The zsmalloc pool named `name`, made in this context or any other; null if none. */
  findZsPool(name: string): ZsPool | null {
    return this.compression().findPool(name);
  }

  /**
   * A zram device: a compressed RAM block device of `disksize` bytes in page-sized
   * sectors over a zsmalloc pool of its name (zram0, zram1, ... unless named). Returns
   * null when memory for it cannot be had.
   */
  createZram(options: ZramOptions): Zram | null {
    return this.zramDevices().createZram(options);
  }

  /** The zram device named `name`, made in this context or any other; null if none. */
  findZram(name: string): Zram | null {
    return this.zramDevices().findZram(name);
  }

  private zsContext: ZsContext | null = null;
  private zramContext: ZramContext | null = null;

  private zramDevices(): ZramContext {
    if (this.zramContext === null) {
      this.zramContext = new ZramContext(this.compression(), {
        vzalloc: (size) => this.vm.vmalloc(size, Gfp.KERNEL | Gfp.ZERO, Caller.VZALLOC),
        vfree: (addr) => this.vm.vfree(addr),
        virtToPhys: (addr) => this.virtToPhys(addr),
        swapAreaOn: (addr) => this.swapLayer.areaOn(addr),
      });
    }
    return this.zramContext;
  }

  /** What this context's zsmalloc pools and zram devices call (made at first use). */
  private compression(): ZsContext {
    if (this.zsContext === null) {
      this.zsContext = new ZsContext({
        phys: this.phys,
        cpu: this.buddy.cpu,
        allocPages: (order, gfp) => this.buddy.allocPages(order, gfp),
        freePages: (addr, order) => this.buddy.freePages(addr, order),
        kmalloc: (size, gfp) => this.km.kmallocOwn(size, gfp),
        kfree: (addr) => this.km.kfreeOwn(addr),
        isKmallocObject: (addr) => this.isKmallocObject(addr),
        registerShrinker: (s) => this.registerShrinker(s),
        unregisterShrinker: (s) => this.unregisterShrinker(s),
      });
    }
    return this.zsContext;
  }

  /* ------------------------------------------------------------------ swap, zswap, OOM */

  private readonly swapLayer: SwapContext;
  private oomKiller: OomKiller | null = null;

  /** The swap layer of this context, hooked into vmalloc, the tables and reclaim. */
  private wireSwap(): SwapContext {
    const swap = new SwapContext({
      phys: this.phys,
      buddy: this.buddy,
      vm: this.vm,
      kmalloc: (size, gfp) => this.km.kmallocOwn(size, gfp),
      kfree: (addr) => this.km.kfreeOwn(addr),
      isKmallocObject: (addr) => this.isKmallocObject(addr),
      vzalloc: (size) => this.vm.vmalloc(size, Gfp.KERNEL | Gfp.ZERO, Caller.VZALLOC),
      vfree: (addr) => this.vm.vfree(addr),
      virtToPhys: (addr) => this.virtToPhys(addr),
      zs: () => this.compression(),
      zramAt: (addr) => this.zramDevices().openAt(addr),
    });
    this.vm.swap = swap;
    this.vm.pageTables.swapHooks = swap;
    this.buddy.lruReclaim = (nr, kswapd) => swap.reclaim(nr, kswapd);
    return swap;
  }

  /**
   * vmalloc of swappable memory: as {@link vmalloc}, its pages on the LRU lists, so that
   * reclaim may compress them into zswap or write them to a swap area, and an access
   * through the accessors brings them back (a fault). Kernel memory (kmalloc, pages, plain
   * vmalloc) is never swapped, as in Linux, where only user pages are. Free with vfree.
   */
  vmallocSwappable(size: number, gfp: number = Gfp.KERNEL): number {
    if (size >>> 0 !== size) this.oddSize("size", size);
    if (!validGfp(gfp)) checkGfp(gfp);
    if (!this.swapLayer.ensure()) return 0;
    const g = this.initOnAlloc ? gfp | Gfp.ZERO : gfp;
    return this.vm.vmalloc(size, g, Caller.VMALLOC, true);
  }

  /**
   * swapon: a zram device as a swap area, or `{ pages }` for an area no device backs (only
   * zswap can hold its pages: what zswap rejects stays in memory). Returns the area's type
   * (the swap entries' type field), or -1 when memory for its slot table cannot be had.
   */
  swapon(device: Zram | { pages: number }, options: SwaponOptions = {}): number {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `swapon options must be an object { priority? }, got ${describe(options)}`,
      );
    }
    checkKnownKeys("swapon", options, ["priority"]);
    if (options.priority !== undefined) {
      checkIntegerRange("priority", options.priority, -32768, 32767);
    }
    let zram: Zram | null = null;
    let slots: number;
    if (typeof device === "object" && device !== null && "disksize" in device && "pool" in device) {
      zram = device as Zram;
      if (!zram.alive()) throw new RangeError(`swapon: ${zram.name} was destroyed`);
      slots = Math.min(zram.nrPages, 2 ** 27);
    } else if (typeof device === "object" && device !== null && "pages" in device) {
      checkKnownKeys("swapon", device, ["pages"]);
      checkIntegerRange("pages", device.pages, 1, 2 ** 27 - 1);
      slots = device.pages + 1;
    } else {
      throw new TypeError(`swapon takes a zram device or { pages }, got ${describe(device)}`);
    }
    if (slots < 2) throw new RangeError("swapon: the device has no page besides the header slot");
    return this.swapLayer.swapon(zram, slots, options.priority);
  }

  /**
   * swapoff: brings every page of swap area `type` back into memory and removes the area.
   * False when memory for them cannot be had (the pages brought back stay; the area too).
   */
  swapoff(type: number): boolean {
    checkIntegerRange("type", type, 0, 7);
    return this.swapLayer.swapoff(type);
  }

  /** The swap areas, as /proc/swaps lists them. */
  swapAreas(): SwapAreaInfo[] {
    return this.swapLayer.areas();
  }

  /** zswap's parameters (/sys/module/zswap/parameters). */
  get zswap(): ZswapConfig {
    return this.swapLayer.zswapConfig;
  }

  /** Sets zswap's parameters (any of enabled, compressor, maxPoolPercent, acceptThresholdPercent). */
  setZswap(options: Partial<ZswapConfig>): void {
    checkZswapConfig(options);
    if (!this.swapLayer.setZswap(options)) {
      throw new KmemError("FAULT", "setZswap: no memory for the swap descriptor");
    }
  }

  /** zswap's debugfs counters, its pool's pages and what it stores. */
  zswapStats(): ZswapStats {
    return this.swapLayer.zswapStats();
  }

  /**
   * Registers a victim for the OOM killer of this context: when reclaim cannot make
   * progress for a request that may wait, the one of highest badness (its pages() plus
   * oomScoreAdj thousandths of memory and swap; -1000: never) is killed and the request
   * tried again. Returns its pid (for unregisterOomVictim and the log).
   */
  registerOomVictim(victim: OomVictim): number {
    return this.oom().register(victim);
  }

  /** Forgets an OOM victim; false if `pid` names none. */
  unregisterOomVictim(pid: number): boolean {
    return this.oom().unregister(pid);
  }

  private oom(): OomKiller {
    if (this.oomKiller === null) {
      const killer = new OomKiller(
        this.pageSize,
        () => this.managedPages + this.swapLayer.totals()[0],
        () => this.buddy.log,
        () => this.vm.locked,
        () => this.swapLayer.countOomKill(),
      );
      this.oomKiller = killer;
      this.buddy.oomKiller = (order, gfp) => killer.kill(order, gfp);
    }
    return this.oomKiller;
  }

  /* ------------------------------------------------------------------ fault injection */

  /**
   * Turns on fault injection point `name` with Linux's knobs, or off with `null`.
   * Setting it again starts from fresh counters.
   */
  setFault(name: FaultName, options: FaultOptions | null): void {
    if (name !== "fail_page_alloc" && name !== "failslab") {
      throw new TypeError(
        `fault name must be "fail_page_alloc" or "failslab", got ${describe(name)}`,
      );
    }
    const attr = options === null ? null : new FaultAttr(name, options, this.maxOrder);
    if (name === "fail_page_alloc") this.buddy.faultPageAlloc = attr;
    else this.slab.failslab = attr;
  }

  /** A copy of a fault point's knobs and counters (what was injected), or null when off. */
  getFault(name: FaultName): FaultState | null {
    if (name === "fail_page_alloc") return this.buddy.faultPageAlloc?.snapshot() ?? null;
    if (name === "failslab") return this.slab.failslab?.snapshot() ?? null;
    throw new TypeError(
      `fault name must be "fail_page_alloc" or "failslab", got ${describe(name)}`,
    );
  }

  /* ------------------------------------------------------------------ introspection */

  /** Walks every structure; throws KmemError CORRUPTION naming the first inconsistency. */
  verify(): void {
    this.vm.refresh();
    // Memory another context brought online: this context's views first (page/hotplug.ts).
    this.phys.sync();
    this.buddy.verify();
    this.slab.verify();
    this.km.verifyHeap?.();
    this.vm.verify((addr) => this.isKmallocObject(addr));
    verifyZsmalloc(this.compression());
    this.zramDevices().verify();
  }

  /**
   * Whether `addr` is a live block of kmem's own metadata (kmallocOwn): vmalloc's records
   * and descriptor, zsmalloc's, zram's and swap's descriptors are.
   */
  private isKmallocObject(addr: number): boolean {
    try {
      return this.km.ksizeOwn(addr) > 0;
    } catch {
      return false;
    }
  }

  /**
   * Pages allocated now (managed pages less the free ones, per-cpu lists counted as free):
   * cheap enough to read after every operation.
   */
  get usedPages(): number {
    return this.managedPages - this.buddy.buddyFreePages() - this.buddy.pcpPages();
  }

  stats(): KmemStats {
    this.vm.refresh();
    const buddyFree = this.buddy.buddyFreePages();
    const pcp = this.buddy.pcpPages();
    const [reclaimable, unreclaimable] = this.slab.slabPages();
    const events: Record<string, number> = {};
    VM_EVENT_NAMES.forEach((name, i) => {
      events[name] = this.buddy.event(i);
    });
    for (const [name, value] of this.vm.events()) events[name] = value;
    return {
      totalPages: this.totalPages,
      managedPages: this.managedPages,
      reservedPages: this.totalPages - this.managedPages,
      freePages: buddyFree + pcp,
      buddyFreePages: buddyFree,
      pcpPages: pcp,
      slabPages: reclaimable + unreclaimable,
      vmallocPages: this.vm.vmallocPages(),
      pageTablePages: this.vm.pageTablePages(),
      freeByOrder: this.buddy.freeByOrder(),
      watermarks: this.buddy.watermarks(),
      caches: this.slab.realCaches().map((c) => this.slab.info(c)),
      events,
      nodes: Array.from({ length: this.nrNodes }, (_, nid) => this.buddy.nodeInfo(nid)),
      kmallocCachedPages: this.km.heapStats?.()?.largeCachedPages ?? 0,
    };
  }

  /**
   * What holds every page frame, read from mem_map (src/report/pagemap.ts): a kind per frame
   * (free by order, slab of a cache with its fill, a kmalloc heap chunk with its, large
   * kmalloc, a freed large run cached for reuse, vmalloc, page table, the header and
   * mem_map), for pictures of memory. No lock but each heap chunk's while its blocks are
   * summed: exact while no other context allocates.
   */
  pageMap(): PageMap {
    const km = this.km;
    return pageMap(
      this.phys,
      (id) => {
        const c = this.slab.cacheById(id);
        return c === null
          ? null
          : {
              id,
              name: c.name,
              objectSize: c.objectSize,
              objectsPerSlab: c.objects,
              slabOrder: c.order,
              slotSize: c.size,
            };
      },
      (addr) => km.heapChunkUsed?.(addr) ?? -1,
    );
  }

  /** Text in the format of the Linux /proc (or debugfs) file `name`. */
  report(name: ReportName): string {
    this.vm.refresh();
    if (typeof name !== "string") {
      throw new TypeError(`report name must be a string, got ${describe(name)}`);
    }
    const snap = this.snapshot();
    switch (name) {
      case "buddyinfo":
        return buddyinfo(snap);
      case "meminfo":
        return meminfo(snap);
      case "vmstat":
        return vmstat(snap);
      case "slabinfo":
        return slabinfo(this.slabinfoCaches());
      case "vmallocinfo":
        return vmallocinfo(this.vm.info(), Math.max(8, (this.vm.end - 1).toString(16).length));
      case "unusable_index":
        return unusableIndexReport(snap);
      case "extfrag_index":
        return extfragIndexReport(snap);
      case "numastat":
        return numastat(snap, NUMA_STAT_NAMES);
      case "swaps":
        return swaps(this.swapLayer.areas(), this.pageSize);
      case "dmesg":
        return this.oomKiller?.dmesg() ?? "";
      case "zoneinfo":
        return zoneinfo(snap);
      case "kasan":
      case "kfence":
      case "kmemleak":
        return this.sanitizerReport(name);
      default:
        throw new RangeError(
          `report name must be one of ${REPORT_NAMES.join(", ")}, got ${describe(name)}`,
        );
    }
  }

  /* ------------------------------------------------------------------ sanitizers */

  /**
   * kmemleak's scan (echo scan > /sys/kernel/debug/kmemleak): the objects this context
   * allocated that nothing reaches from `roots` (values held outside memory, such as the
   * addresses a program keeps in variables, and ranges of memory to read) or from objects
   * marked not-a-leak, oldest first, each with its report text. Needs `kmemleak: true`.
   */
  kmemleakScan(roots: readonly (number | KmemleakRange)[] = []): KmemleakLeak[] {
    return this.leakTracker("kmemleakScan").scan(checkRoots(roots));
  }

  /** kmemleak_not_leak: the object at `addr` is never reported (and is scanned as a root). */
  kmemleakNotLeak(addr: number): void {
    if (addr >>> 0 !== addr) this.badAddress("kmemleakNotLeak", addr);
    if (!this.leakTracker("kmemleakNotLeak").notLeak(addr)) {
      throw new KmemError(
        "INVALID_FREE",
        `kmemleakNotLeak: ${hex(addr)} is not an object kmemleak tracks in this context`,
      );
    }
  }

  /** echo clear: the objects unreferenced now (from `roots`) are not reported again. */
  kmemleakClear(roots: readonly (number | KmemleakRange)[] = []): void {
    this.leakTracker("kmemleakClear").clear(checkRoots(roots));
  }

  private leakTracker(fn: string): NonNullable<Sanitizers["kmemleak"]> {
    const leak = this.sanitizers?.kmemleak ?? null;
    if (leak === null) throw new TypeError(`${fn}: kmemleak is off (new Kmem({ kmemleak: true }))`);
    return leak;
  }

  /** The text of report("kasan" | "kfence" | "kmemleak"). */
  private sanitizerReport(name: SanitizerReport): string {
    const san = this.sanitizers;
    if (name === "kasan") {
      const k = san?.kasan ?? null;
      if (k === null) return "kasan: off\n";
      return k.log.text() + k.summary();
    }
    if (name === "kfence") {
      const f = san?.kfence ?? null;
      return f === null ? "kfence: off\n" : f.log.text() + f.stats();
    }
    const l = san?.kmemleak ?? null;
    return l === null ? "kmemleak: off\n" : l.log.text() + l.summary();
  }

  /**
   * Unusable free space index for `order` (0..1): the share of free memory that cannot serve
   * a request of that order (Linux debugfs extfrag/unusable_index).
   */
  unusableIndex(order: number): number {
    checkIntegerRange("order", order, 0, this.maxOrder - 1);
    return unusableIndexMilli(this.buddy.freeByOrder(), order) / 1000;
  }

  /**
   * Fragmentation index for `order`: -1 when a request of that order would succeed; else
   * towards 0 a failure is for lack of memory, towards 1 for fragmentation
   * (Linux debugfs extfrag/extfrag_index).
   */
  extfragIndex(order: number): number {
    checkIntegerRange("order", order, 0, this.maxOrder - 1);
    return extfragIndexMilli(this.buddy.freeByOrder(), order) / 1000;
  }

  private snapshot(): MemSnapshot {
    const b = this.buddy;
    const [reclaimable, unreclaimable] = this.slab.slabPages();
    const watermarks = b.watermarks();
    const counters: [string, number][] = [
      ["nr_free_pages", b.buddyFreePages()],
      ["nr_free_pcp", b.pcpPages()],
      ["nr_slab_reclaimable", reclaimable],
      ["nr_slab_unreclaimable", unreclaimable],
      ["nr_vmalloc", this.vm.vmallocPages()],
      ["nr_page_table_pages", this.vm.pageTablePages()],
    ];
    VM_EVENT_NAMES.forEach((name, i) => {
      counters.push([name, b.event(i)]);
    });
    counters.push(...this.vm.events());
    counters.push(...this.swapLayer.vmstat());
    const [swapTotal, swapFree] = this.swapLayer.totals();
    const [active, inactive] = this.swapLayer.lruSizes();
    const zswap = this.swapLayer.zswapStats();
    return {
      activePages: active,
      inactivePages: inactive,
      swapTotalPages: swapTotal,
      swapFreePages: swapFree,
      zswapPages: zswap.poolPages,
      zswappedPages: zswap.storedPages,
      pageSize: this.pageSize,
      nodes: Array.from({ length: this.nrNodes }, (_, nid) => ({
        freeByOrder: b.freeByOrder(nid),
        numa: b.numaStats(nid),
        zone: zoneOf(b.nodeInfo(nid)),
      })),
      managedPages: this.managedPages,
      buddyFreePages: b.buddyFreePages(),
      pcpPages: b.pcpPages(),
      wmarkLow: watermarks.low,
      wmarkHigh: watermarks.high,
      slabReclaimablePages: reclaimable,
      slabUnreclaimablePages: unreclaimable,
      pageTablePages: this.vm.pageTablePages(),
      vmallocTotalBytes: this.vm.size,
      vmallocUsedPages: this.vm.vmallocPages(),
      counters,
      kheap: this.km.heapStats?.() ?? null,
    };
  }

  /**
   * The buffer kmem manages (the one passed in, or the one it created); node 0's when each
   * node has a buffer of its own.
   */
  get buffer(): Backing {
    return this.phys.buffer;
  }

  /**
   * Every buffer of the instance in node order: one, or one per node when the nodes were
   * given without `memory`. Pass them to {@link Kmem.attach} to open the instance elsewhere.
   */
  get buffers(): readonly Backing[] {
    return this.phys.buffers;
  }
}

export { ZERO_SIZE_PTR };

/** A node's zone as zoneinfo prints it (memory hotplug grows the last one's span). */
function zoneOf(n: NodeInfo): ZoneSnapshot {
  const spanned = n.endPfn - n.startPfn;
  return {
    free: n.freePages,
    min: n.watermarks.min,
    low: n.watermarks.low,
    high: n.watermarks.high,
    startPfn: n.startPfn,
    spanned,
    present: spanned,
    managed: n.managedPages,
  };
}

function isBackingValue(value: unknown): value is Backing {
  return (
    value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer)
  );
}

function checkGrowable(memory: unknown): asserts memory is GrowableMemory {
  const m = memory as Partial<GrowableMemory> | null;
  if (
    typeof m !== "object" ||
    m === null ||
    typeof m.grow !== "function" ||
    !isBackingValue(m.buffer)
  ) {
    throw new TypeError(
      `memory must be a WebAssembly.Memory (a buffer and grow), got ${describe(memory)}`,
    );
  }
}

/** kmemleakScan's roots: numbers (values) and { addr, size } ranges. */
function checkRoots(roots: unknown): readonly (number | KmemleakRange)[] {
  if (!Array.isArray(roots)) {
    throw new TypeError(
      `roots must be an array of addresses and { addr, size } ranges, got ${describe(roots)}`,
    );
  }
  for (const r of roots as unknown[]) {
    if (typeof r === "number" && Number.isInteger(r)) continue;
    if (typeof r === "object" && r !== null) {
      const { addr, size } = r as Partial<KmemleakRange>;
      if (Number.isInteger(addr) && Number.isInteger(size) && (size as number) >= 0) continue;
    }
    throw new TypeError(
      `roots must hold integer addresses and { addr, size } ranges, got ${describe(r)}`,
    );
  }
  return roots as readonly (number | KmemleakRange)[];
}

function cpuStateName(state: number): string {
  return state === CpuState.OFFLINE ? "offline" : state === CpuState.ONLINE ? "online" : "dead";
}
