/*
 * The facade: the one file that knows every layer. It validates arguments at the public
 * boundary (so the layers below can trust theirs), wires the page allocator over physical
 * memory, and gathers state for reports and stats.
 *
 * Validation on the hot paths is a couple of integer compares; a failing check calls out to
 * a cold function that builds the message.
 *
 * Each Kmem object is one context (the main thread or a worker) working as one cpu of the
 * instance in its buffer: `new Kmem` builds the instance and is cpu 0, `Kmem.attach` opens
 * it as the next free cpu, rebuilding its views and cache handles from the header and the
 * descriptors in memory. Locks and their order: ARCHITECTURE.md.
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
  HdrOption,
  NUMA_STAT_NAMES,
  PhysMem,
  VM_EVENT_NAMES,
  Zone,
  zoneBase,
} from "./memory/index.js";
import {
  claimCpu,
  cpuState,
  forceCpuState,
  lock,
  setCpuState,
  unlock,
  waitRound,
} from "./sync/index.js";
import {
  BuddyAllocator,
  checkGfp,
  extfragIndexMilli,
  Gfp,
  type LogFn,
  Mpol,
  type NodeInfo,
  type Shrinker,
  unusableIndexMilli,
  type Watermarks,
} from "./page/index.js";
import { badSize, Kmalloc, type KmallocApi, ZERO_SIZE_PTR } from "./kmalloc/index.js";
import {
  buddyinfo,
  extfragIndexReport,
  type MemSnapshot,
  meminfo,
  numastat,
  slabinfo,
  unusableIndexReport,
  vmallocinfo,
  vmstat,
} from "./report/index.js";
import { checkMinNr, Mempool, type PoolBackend } from "./mempool/index.js";
import { SlobAllocator } from "./slob/index.js";
import {
  type CacheOptions,
  checkCtor,
  type Ctor,
  KmemCache,
  type ObjectAllocator,
  type SlabCacheInfo,
  SlabFlag,
} from "./slab-common/index.js";
import { descriptorWords, SlubAllocator } from "./slub/index.js";
import { Caller, MemAccess, Vmalloc } from "./vm/index.js";

/** Options of {@link Kmem}. */
export interface KmemOptions {
  /**
   * Bytes of physical memory to create, or a buffer to manage (its contents are taken over).
   * May be left out with `nodes`: the memory is then the nodes' sum.
   */
  memory?: number | ArrayBuffer | SharedArrayBuffer;
  /**
   * NUMA nodes, node 0 first (it holds the header and mem_map); each has its own free
   * lists, watermarks and zone lock. Without `memory`, one buffer per node: a byte count
   * (whole pages; a buffer is created) or a buffer to take over, each node at its own
   * address window (see ARCHITECTURE.md). With `memory`, byte counts that split it at
   * consecutive addresses and add up to its whole pages. Default: one node.
   */
  nodes?: (number | ArrayBuffer | SharedArrayBuffer)[];
  /**
   * node_distance table, nodes x nodes (SLIT): 10 on the diagonal, 11..255 elsewhere;
   * allocations fall back to the nearest node first. Default: 10 local, 20 remote.
   */
  distances?: number[][];
  /** This context's node (numa_node_id), 0..nodes-1. Default 0. */
  node?: number;
  /** Page size in bytes: a power of two, 1 KiB..64 KiB. Default 4096. */
  pageSize?: number;
  /** Orders 0..maxOrder-1 exist (Linux: 11 orders, 4 MiB blocks with 4 KiB pages). Default 11. */
  maxOrder?: number;
  /**
   * The min watermark in bytes (vm.min_free_kbytes). Default: derived from memory size as
   * Linux does. 0 disables the reserve.
   */
  minFreeBytes?: number;
  /** slub_debug-style letters for the slab layer: F, Z, P, U, T, A, O, or "-" for none. */
  debug?: string;
  /** Receives allocation-failure reports and fault-injection messages. Default: silent. */
  log?: LogFn;
  /** Zero every object and page block on allocation (the kernel's init_on_alloc). Default false. */
  initOnAlloc?: boolean;
  /** Zero every object on free (init_on_free). Default false. */
  initOnFree?: boolean;
  /**
   * The object allocator behind kmalloc and createCache: "slub" (default) or "slob", the
   * simple list of blocks for tiny memories (no debugging, as in Linux).
   */
  slab?: "slub" | "slob";
  /**
   * Contexts (main thread and workers) that may use the instance at once, 1..64. Default 1.
   * With more than one, `memory` should be a SharedArrayBuffer (a byte count creates one)
   * and other contexts open it with {@link Kmem.attach}.
   */
  cpus?: number;
  /**
   * Per-cpu caching (default true). false is for measuring what it buys: per-cpu page lists
   * hold no page and caches keep no sheaves (cpu slabs remain: SLUB has no path without).
   */
  percpu?: boolean;
  /**
   * How long an allocation that may sleep (GFP_KERNEL) waits for another context to free
   * memory before it returns 0, in ms (default 100); __GFP_NOFAIL waits until it succeeds.
   * Waiting needs another cpu online; this context's own setting.
   */
  allocWaitMs?: number;
}

/** Options of {@link Kmem.attach}: what belongs to the attaching context alone. */
export interface AttachOptions {
  /** Receives this context's allocation-failure reports. Default: silent. */
  log?: LogFn;
  /** As {@link KmemOptions.allocWaitMs}, for this context. */
  allocWaitMs?: number;
  /**
   * Constructors of caches made with one, by cache name: functions cannot cross threads,
   * so each context registers its own (or later, with {@link Kmem.registerCtor}).
   */
  ctors?: Record<string, Ctor>;
  /** This context's node (numa_node_id). Default: the cpu id modulo the number of nodes. */
  node?: number;
}

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

const OPTION_KEYS = [
  "memory",
  "pageSize",
  "maxOrder",
  "minFreeBytes",
  "debug",
  "log",
  "initOnAlloc",
  "initOnFree",
  "slab",
  "cpus",
  "percpu",
  "allocWaitMs",
  "nodes",
  "distances",
  "node",
] as const;
const ATTACH_KEYS = ["log", "ctors", "allocWaitMs", "node"] as const;
const MAX_WAIT_MS = 2 ** 31 - 1;

/** Set by Kmem.attach for the constructor it calls (a constructor cannot take it openly). */
let attaching: {
  buffer: Backing | readonly Backing[];
  options: AttachOptions;
  /** Kmem.reopen: take cpu 0 over and drain every other cpu (their contexts are gone). */
  reopen: boolean;
} | null = null;
const DEBUG_LETTERS = "FZPUTAO-";

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
  | "numastat";

const REPORT_NAMES: readonly ReportName[] = [
  "buddyinfo",
  "meminfo",
  "vmstat",
  "slabinfo",
  "vmallocinfo",
  "unusable_index",
  "extfrag_index",
  "numastat",
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
}

export class Kmem {
  /** The whole physical memory; `memory.buffer` is the buffer passed in, if one was. */
  readonly memory: Uint8Array;
  readonly pageSize: number;
  readonly maxOrder: number;
  readonly totalPages: number;
  readonly managedPages: number;
  /** The slab debug letters in force ("" for none). */
  readonly debug: string;
  private readonly phys: PhysMem;
  private readonly buddy: BuddyAllocator;
  /** The object allocator: SLUB's, or SLOB's. */
  private readonly slab: ObjectAllocator;
  /** kmalloc: SLUB's size classes, or SLOB itself. */
  private readonly km: KmallocApi;
  /** Which object allocator serves kmalloc and createCache. */
  readonly slabAllocator: "slub" | "slob";
  private readonly vm: Vmalloc;
  private readonly access: MemAccess;
  private readonly initOnAlloc: boolean;
  /** Contexts the instance admits at once (the `cpus` option). */
  readonly cpus: number;
  /** NUMA nodes (1 without the `nodes` option). */
  readonly nrNodes: number;

  constructor(options: KmemOptions) {
    const attach = attaching;
    attaching = null;
    if (attach !== null) {
      // Kmem.attach: open the instance another context built, as a cpu of its own.
      const phys = PhysMem.attach(attach.buffer, attach.reopen ? "Kmem.reopen" : "Kmem.attach");
      const h = phys.header;
      if (attach.options.node !== undefined) {
        checkIntegerRange("node", attach.options.node, 0, phys.nrNodes - 1);
      }
      if (attach.reopen) checkAtRest(h, phys);
      const cpu = attach.reopen ? 0 : claimCpu(h, phys.nrCpus);
      if (cpu < 0) {
        throw new Error(
          `Kmem.attach: all ${phys.nrCpus} cpus of the instance are in use (offline one with offlineCpu when its worker exits, or create the instance with more cpus)`,
        );
      }
      try {
        const opts = h[Hdr.OPTIONS] as number;
        const log = attach.options.log ?? null;
        const ctors = new Map(Object.entries(attach.options.ctors ?? {}));
        this.phys = phys;
        this.buddy = new BuddyAllocator(phys, undefined, cpu, false);
        this.buddy.log = log;
        if (attach.options.node !== undefined) this.buddy.setLocalNode(attach.options.node);
        if (attach.options.allocWaitMs !== undefined) {
          this.buddy.waitMs = attach.options.allocWaitMs;
        }
        this.initOnAlloc = (opts & HdrOption.INIT_ON_ALLOC) !== 0;
        const initOnFree = (opts & HdrOption.INIT_ON_FREE) !== 0;
        this.slabAllocator = (opts & HdrOption.SLOB) !== 0 ? "slob" : "slub";
        this.debug = debugLetters(h[Hdr.SLAB_FLAGS] as number);
        if (this.slabAllocator === "slob") {
          const slob = new SlobAllocator(
            phys,
            this.buddy,
            { initOnAlloc: this.initOnAlloc, initOnFree, log },
            false,
            ctors,
          );
          this.slab = slob;
          this.km = slob;
        } else {
          const slub = new SlubAllocator(
            phys,
            this.buddy,
            { debug: this.debug, initOnAlloc: this.initOnAlloc, initOnFree, log },
            false,
            ctors,
          );
          this.slab = slub;
          this.km = new Kmalloc(phys, this.buddy, slub, false);
        }
        // Reopened: the per-cpu pages and objects of the cpus whose contexts are gone go
        // back to the shared lists, as offlineCpu does; no cache's list_lock may be held.
        const held =
          attach.reopen && this.slab instanceof SlubAllocator ? this.slab.heldListLock() : null;
        if (held !== null) {
          throw new Error(
            `Kmem.reopen: ${held} is held: the snapshot was taken inside a call, not between calls`,
          );
        }
        const gone = attach.reopen ? takeOver(h, phys.nrCpus) : [];
        for (const id of gone) this.drainDead(id);
      } catch (err) {
        if (!attach.reopen) setCpuState(h, cpu, CpuState.ONLINE, CpuState.OFFLINE);
        throw err;
      }
      this.vm = new Vmalloc(phys, this.buddy, this.km, this.debug.includes("U"));
      this.access = new MemAccess(phys, this.vm);
      this.memory = phys.bytes;
      this.pageSize = phys.pageSize;
      this.maxOrder = phys.maxOrder;
      this.totalPages = phys.totalPages;
      this.managedPages = phys.managedPages;
      this.cpus = phys.nrCpus;
      this.nrNodes = phys.nrNodes;
      return;
    }
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Kmem options must be an object, got ${describe(options)}`);
    }
    checkKnownKeys("Kmem", options, OPTION_KEYS);
    const pageSize = options.pageSize === undefined ? 4096 : options.pageSize;
    const maxOrder = options.maxOrder === undefined ? 11 : options.maxOrder;
    const cpus = options.cpus === undefined ? 1 : options.cpus;
    const nrNodes = Array.isArray(options.nodes) ? options.nodes.length : 1;
    this.phys = new PhysMem({
      memory: options.memory,
      pageSize,
      maxOrder,
      nrCpus: cpus,
      bootWords: descriptorWords(cpus, nrNodes),
      shared: cpus > 1,
      ...(options.nodes === undefined ? {} : { nodes: options.nodes }),
      ...(options.distances === undefined ? {} : { distances: options.distances }),
    });
    this.cpus = cpus;
    this.nrNodes = this.phys.nrNodes;
    if (options.node !== undefined) checkIntegerRange("node", options.node, 0, this.nrNodes - 1);
    const managedBytes = this.phys.managedPages * pageSize;
    if (options.minFreeBytes !== undefined) {
      checkIntegerRange("minFreeBytes", options.minFreeBytes, 0, managedBytes);
    }
    this.debug = parseDebug(options.debug);
    const kind = options.slab ?? "slub";
    if (kind !== "slub" && kind !== "slob") {
      throw new RangeError(`slab must be "slub" or "slob", got ${describe(kind)}`);
    }
    if (kind === "slob" && this.debug !== "") {
      throw new RangeError(
        `debug ${JSON.stringify(options.debug)} needs slab: "slub" (SLOB has no debugging, as in Linux)`,
      );
    }
    this.slabAllocator = kind;
    if (options.log !== undefined && typeof options.log !== "function") {
      throw new TypeError(`log must be a function, got ${describe(options.log)}`);
    }
    this.initOnAlloc = checkBoolean("initOnAlloc", options.initOnAlloc);
    const initOnFree = checkBoolean("initOnFree", options.initOnFree);
    if (options.percpu !== undefined) checkBoolean("percpu", options.percpu);
    if (options.allocWaitMs !== undefined) {
      checkIntegerRange("allocWaitMs", options.allocWaitMs, 0, MAX_WAIT_MS);
    }
    // Every option is valid: only now is the buffer written to.
    this.phys.init();
    const h = this.phys.header;
    h[Hdr.OPTIONS] =
      (this.initOnAlloc ? HdrOption.INIT_ON_ALLOC : 0) |
      (initOnFree ? HdrOption.INIT_ON_FREE : 0) |
      (kind === "slob" ? HdrOption.SLOB : 0) |
      (options.percpu === false ? HdrOption.NO_PERCPU : 0);
    claimCpu(h, cpus);
    this.buddy = new BuddyAllocator(this.phys, options.minFreeBytes);
    this.buddy.setLocalNode(options.node ?? 0);
    this.buddy.log = options.log ?? null;
    if (options.allocWaitMs !== undefined) this.buddy.waitMs = options.allocWaitMs;
    if (kind === "slob") {
      const slob = new SlobAllocator(this.phys, this.buddy, {
        initOnAlloc: this.initOnAlloc,
        initOnFree,
        log: options.log ?? null,
      });
      this.slab = slob;
      this.km = slob;
    } else {
      const slub = new SlubAllocator(this.phys, this.buddy, {
        debug: this.debug,
        initOnAlloc: this.initOnAlloc,
        initOnFree,
        log: options.log ?? null,
      });
      this.slab = slub;
      this.km = new Kmalloc(this.phys, this.buddy, slub);
    }
    this.vm = new Vmalloc(this.phys, this.buddy, this.km, this.debug.includes("U"));
    this.access = new MemAccess(this.phys, this.vm);
    this.phys.seal();

    this.memory = this.phys.bytes;
    this.pageSize = pageSize;
    this.maxOrder = maxOrder;
    this.totalPages = this.phys.totalPages;
    this.managedPages = this.phys.managedPages;
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
    return open("Kmem.attach", buffer, options, false);
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
    return open("Kmem.reopen", buffer, options, true);
  }

  /** This context's cpu id (0 for the context that built the instance). */
  /** This context's cpu id (0 for the context that built the instance). */
  get cpu(): number {
    return this.buddy.cpu;
  }

  /**
   * cpu hotplug: gives the per-cpu pages, cpu slabs and sheaves of cpu `id` back to the
   * shared lists and frees the id for the next attach. Call it from another context when
   * the worker that was cpu `id` has exited. A lock that cpu still held is reported with a
   * KmemError DEADLOCK naming it (the cpu then stays unusable).
   */
  offlineCpu(id: number): void {
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
    this.drainDead(id);
  }

  /** Gives a DEAD cpu's per-cpu objects and pages back to the shared lists; it is OFFLINE then. */
  private drainDead(id: number): void {
    this.slab.drainCpu(id);
    this.buddy.drainOffline(id);
    setCpuState(this.phys.header, id, CpuState.DEAD, CpuState.OFFLINE);
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
    if (order >>> 0 !== order || order >= this.maxOrder) this.badOrder(order);
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
    return this.buddy.allocPages(order, this.initOnAlloc ? gfp | Gfp.ZERO : gfp);
  }

  /**
   * Allocates 2^order pages preferably on node `nid` (alloc_pages_node): the nearest other
   * node when it has none, never another with __GFP_THISNODE; the memory policy does not
   * apply. `nid` -1 (NUMA_NO_NODE) is {@link allocPages}.
   */
  allocPagesNode(nid: number, order: number, gfp: number = Gfp.KERNEL): number {
    checkNodeArg(nid, this.nrNodes);
    if (order >>> 0 !== order || order >= this.maxOrder) this.badOrder(order);
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
    return this.buddy.allocPagesNode(nid, order, this.initOnAlloc ? gfp | Gfp.ZERO : gfp);
  }

  /** This context's node (numa_node_id). */
  get node(): number {
    return this.buddy.localNode;
  }

  /** The node whose memory holds `addr` (page_to_nid; a vmalloc address: its page's). */
  nodeOf(addr: number): number {
    const phys = this.access.virtToPhys(addr);
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
    if (addr >>> 0 !== addr) this.badAddress("freePages", addr);
    if (order >>> 0 !== order || order >= this.maxOrder) this.badOrder(order);
    if (addr !== 0) this.buddy.freePages(addr, order);
  }

  /**
   * allocPages that may wait for memory without blocking the thread (for a main thread):
   * when the request would sleep, it waits with Atomics.waitAsync for another context to free
   * memory, as long as allocWaitMs allows (__GFP_NOFAIL: until it succeeds, or nobody else
   * is online). Resolves to the address, or 0.
   */
  async allocPagesAsync(order: number, gfp: number = Gfp.KERNEL): Promise<number> {
    if (order >>> 0 !== order || order >= this.maxOrder) this.badOrder(order);
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
    return this.waitingFor(order, gfp, () => this.allocPages(order, gfp));
  }

  /** kmalloc that may wait for memory without blocking the thread (see allocPagesAsync). */
  async kmallocAsync(size: number, gfp: number = Gfp.KERNEL): Promise<number> {
    if (size >>> 0 !== size) return this.oddSize("size", size);
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
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
    if (size >>> 0 !== size) return this.oddSize("size", size);
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
    return this.km.kmalloc(size, gfp) >>> 0;
  }

  /**
   * kmalloc_node: `size` bytes from a slab (or pages) of node `nid`; without __GFP_THISNODE
   * another node serves when that one has nothing to spare. `nid` -1: as kmalloc.
   */
  kmallocNode(size: number, gfp: number, nid: number): number {
    if (size >>> 0 !== size) return this.oddSize("size", size);
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
    checkNodeArg(nid, this.nrNodes);
    return this.km.kmallocNode(size, gfp, nid) >>> 0;
  }

  /** kmalloc, zeroed. */
  kzalloc(size: number, gfp: number = Gfp.KERNEL): number {
    if (size >>> 0 !== size) return this.oddSize("size", size);
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
    return this.km.kmalloc(size, gfp | Gfp.ZERO) >>> 0;
  }

  /** A zeroed array of `n` elements of `size` bytes; 0 if n * size overflows. */
  kcalloc(n: number, size: number, gfp: number = Gfp.KERNEL): number {
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) badSize("n", n);
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) badSize("size", size);
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
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
    if (addr >>> 0 !== addr) this.badObjectAddress("krealloc", addr);
    if (size >>> 0 !== size) {
      this.oddSize("size", size);
      this.km.ksize(addr);
      return 0;
    }
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
    return this.km.krealloc(addr, size, gfp, this.initOnAlloc) >>> 0;
  }

  /** Frees what kmalloc returned; `kfree(0)` and `kfree(ZERO_SIZE_PTR)` do nothing. */
  kfree(addr: number): void {
    if (addr >>> 0 !== addr) this.badObjectAddress("kfree", addr);
    this.km.kfree(addr);
  }

  /** The usable size of a kmalloc allocation (its size class, or its pages). */
  ksize(addr: number): number {
    if (addr >>> 0 !== addr) this.badObjectAddress("ksize", addr);
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
      return Mempool.create(this.pools(), minNr, null, cacheOrSize);
    }
    if (!(cacheOrSize instanceof KmemCache) || cacheOrSize.slab !== this.slab) {
      throw new TypeError(
        `cacheOrSize must be a cache of this instance or a size in bytes, got ${describe(cacheOrSize)}`,
      );
    }
    if (cacheOrSize.dead)
      throw new TypeError(`cache ${JSON.stringify(cacheOrSize.name)} was destroyed`);
    return Mempool.create(this.pools(), minNr, cacheOrSize, cacheOrSize.objectSize);
  }

  /**
   * Opens in this context the pool made (in any context) with {@link createMempool}, by its
   * `address`. Throws TypeError when there is no pool there.
   */
  openMempool(address: number): Mempool {
    return Mempool.open(this.pools(), address);
  }

  private poolBackend: PoolBackend | null = null;

  private pools(): PoolBackend {
    if (this.poolBackend === null) {
      const km = this.km;
      const slab = this.slab;
      const buddy = this.buddy;
      const smp = this.cpus > 1;
      const words = this.phys.words;
      const cpu = this.cpu;
      this.poolBackend = {
        mem: this.phys,
        kmalloc: (size, gfp) => km.kmalloc(size, gfp) >>> 0,
        kfree: (addr) => km.kfree(addr),
        ksize: (addr) => km.ksize(addr),
        checkLive: (cache, addr, fn) => slab.checkLive(cache, addr, fn),
        lock: () => {
          if (smp) lock(words, Hdr.LOCK_POOL, cpu, "the mempool lock");
        },
        unlock: () => {
          if (smp) unlock(words, Hdr.LOCK_POOL, cpu);
        },
        cacheById: (id) => slab.cacheById(id),
        mayBlock: () => buddy.mayBlock(),
        othersCouldFree: () => buddy.othersCouldFree(),
        waitMs: () => buddy.waitMs,
      };
    }
    return this.poolBackend;
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
   * flushed and every empty slab goes back to the page allocator. Returns the pages freed.
   */
  shrinkSlabs(): number {
    return this.slab.shrinkAll(Number.POSITIVE_INFINITY);
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
    if (size >>> 0 !== size) this.oddSize("size", size);
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
    const g = this.initOnAlloc ? gfp | Gfp.ZERO : gfp;
    return this.vmallocLocked(size, g, Caller.VMALLOC);
  }

  /** vmalloc, zeroed. */
  vzalloc(size: number, gfp: number = Gfp.KERNEL): number {
    if (size >>> 0 !== size) this.oddSize("size", size);
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
    return this.vmallocLocked(size, gfp | Gfp.ZERO, Caller.VZALLOC);
  }

  /**
   * The vmalloc layer under its lock when contexts share the instance (it is taken before the
   * slab and zone locks: vmalloc allocates records and pages while holding it).
   */
  private vmLock(): void {
    if (this.cpus > 1) lock(this.phys.words, Hdr.LOCK_VMALLOC, this.cpu, "the vmalloc lock");
    this.vm.refresh();
  }

  private vmUnlock(): void {
    if (this.cpus > 1) unlock(this.phys.words, Hdr.LOCK_VMALLOC, this.cpu);
  }

  private vmallocLocked(size: number, gfp: number, caller: Caller): number {
    const site = this.vm.caller(caller);
    this.vmLock();
    try {
      return this.vm.vmalloc(size, gfp, site);
    } finally {
      this.vmUnlock();
    }
  }

  private vfreeLocked(addr: number): void {
    this.vmLock();
    try {
      this.vm.vfree(addr);
    } finally {
      this.vmUnlock();
    }
  }

  /** Frees what vmalloc returned: unmaps it and gives its pages back. `vfree(0)` does nothing. */
  vfree(addr: number): void {
    if (addr === 0) return;
    this.checkVirtual("vfree", addr);
    this.vfreeLocked(addr);
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
    const site = this.vm.caller(Caller.VMAP);
    this.vmLock();
    try {
      return this.vm.vmap(pages, site);
    } finally {
      this.vmUnlock();
    }
  }

  /** Undoes a vmap; the pages are not freed. `vunmap(0)` does nothing. */
  vunmap(addr: number): void {
    if (addr === 0) return;
    this.checkVirtual("vunmap", addr);
    this.vmLock();
    try {
      this.vm.vunmap(addr);
    } finally {
      this.vmUnlock();
    }
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
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
    return this.kvmallocNode(size, gfp | Gfp.ZERO, Caller.KVZALLOC);
  }

  private kvmallocNode(size: number, gfp: number, caller: Caller): number {
    if (size >>> 0 !== size) return this.oddSize("size", size);
    if ((gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) checkGfp(gfp);
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
    return this.vmallocLocked(size, g, caller);
  }

  /** Frees what kvmalloc returned, whichever allocator served it. `kvfree(0)` does nothing. */
  kvfree(addr: number): void {
    if (typeof addr === "number" && this.isVmallocAddr(addr)) {
      this.checkVirtual("kvfree", addr);
      this.vfreeLocked(addr);
    } else {
      this.kfree(addr);
    }
  }

  /** Whether `addr` lies in the vmalloc space (Linux is_vmalloc_addr). */
  isVmallocAddr(addr: number): boolean {
    return addr >= this.vm.start && addr < this.vm.end;
  }

  /**
   * The physical address behind `addr`: itself for physical memory, through the page
   * tables for a virtual one. An address that may not be accessed throws FAULT.
   */
  virtToPhys(addr: number): number {
    return this.access.virtToPhys(addr);
  }

  /**
   * A copy of `length` bytes at `addr`, physical or virtual, across page boundaries. A range
   * touching an unmapped page (a guard page, the NULL page, the reserved header) is FAULT.
   */
  read(addr: number, length: number): Uint8Array {
    return this.access.read(addr, length);
  }

  /**
   * A live Uint8Array over the `length` bytes of physical memory at `addr` (in the buffer
   * of the node holding them): no copy, writes go straight to memory. The range must lie in
   * one node's managed memory (any block kmem hands out does); else FAULT.
   */
  view(addr: number, length: number): Uint8Array {
    return this.access.view(addr, length);
  }

  /** Writes `bytes` at `addr`, physical or virtual; on FAULT nothing is written. */
  write(addr: number, bytes: ArrayBufferView): void {
    if (!(bytes instanceof Uint8Array)) {
      if (!ArrayBuffer.isView(bytes)) {
        throw new TypeError(
          `bytes must be a Uint8Array or another ArrayBufferView, got ${describe(bytes)}`,
        );
      }
      bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    this.access.write(addr, bytes as Uint8Array);
  }

  /* Typed access (little-endian) at a physical or virtual address; FAULT where unmapped. */

  getUint8(addr: number): number {
    return this.access.getUint8(addr);
  }
  getInt8(addr: number): number {
    return this.access.getInt8(addr);
  }
  getUint16(addr: number): number {
    return this.access.getUint16(addr);
  }
  getInt16(addr: number): number {
    return this.access.getInt16(addr);
  }
  getUint32(addr: number): number {
    return this.access.getUint32(addr);
  }
  getInt32(addr: number): number {
    return this.access.getInt32(addr);
  }
  getFloat32(addr: number): number {
    return this.access.getFloat32(addr);
  }
  getFloat64(addr: number): number {
    return this.access.getFloat64(addr);
  }
  getBigInt64(addr: number): bigint {
    return this.access.getBigInt64(addr);
  }
  getBigUint64(addr: number): bigint {
    return this.access.getBigUint64(addr);
  }
  setUint8(addr: number, value: number): void {
    this.access.setUint8(addr, value);
  }
  setInt8(addr: number, value: number): void {
    this.access.setInt8(addr, value);
  }
  setUint16(addr: number, value: number): void {
    this.access.setUint16(addr, value);
  }
  setInt16(addr: number, value: number): void {
    this.access.setInt16(addr, value);
  }
  setUint32(addr: number, value: number): void {
    this.access.setUint32(addr, value);
  }
  setInt32(addr: number, value: number): void {
    this.access.setInt32(addr, value);
  }
  setFloat32(addr: number, value: number): void {
    this.access.setFloat32(addr, value);
  }
  setFloat64(addr: number, value: number): void {
    this.access.setFloat64(addr, value);
  }
  setBigInt64(addr: number, value: bigint): void {
    this.access.setBigInt64(addr, value);
  }
  setBigUint64(addr: number, value: bigint): void {
    this.access.setBigUint64(addr, value);
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
    this.buddy.verify();
    this.slab.verify();
    this.vm.verify((addr) => this.isKmallocObject(addr));
  }

  /** Whether `addr` is a live kmalloc object (vmalloc's records and descriptor are). */
  private isKmallocObject(addr: number): boolean {
    try {
      return this.km.ksize(addr) > 0;
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
    };
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
        return slabinfo(this.slab.realCaches().map((c) => this.slab.info(c)));
      case "vmallocinfo":
        return vmallocinfo(this.vm.info(), Math.max(8, (this.vm.end - 1).toString(16).length));
      case "unusable_index":
        return unusableIndexReport(snap);
      case "extfrag_index":
        return extfragIndexReport(snap);
      case "numastat":
        return numastat(snap, NUMA_STAT_NAMES);
      default:
        throw new RangeError(
          `report name must be one of ${REPORT_NAMES.join(", ")}, got ${describe(name)}`,
        );
    }
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
    return {
      pageSize: this.pageSize,
      nodes: Array.from({ length: this.nrNodes }, (_, nid) => ({
        freeByOrder: b.freeByOrder(nid),
        numa: b.numaStats(nid),
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

/** Kmem.attach and Kmem.reopen: the options checked, then the constructor's attach path. */
function open(
  fn: string,
  buffer: Backing | readonly Backing[],
  options: AttachOptions,
  reopen: boolean,
): Kmem {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${fn} options must be an object, got ${describe(options)}`);
  }
  checkKnownKeys(fn, options, ATTACH_KEYS);
  if (options.log !== undefined && typeof options.log !== "function") {
    throw new TypeError(`log must be a function, got ${describe(options.log)}`);
  }
  if (options.allocWaitMs !== undefined) {
    checkIntegerRange("allocWaitMs", options.allocWaitMs, 0, MAX_WAIT_MS);
  }
  if (options.ctors !== undefined) {
    if (typeof options.ctors !== "object" || options.ctors === null) {
      throw new TypeError(`ctors must be an object of functions, got ${describe(options.ctors)}`);
    }
    for (const ctor of Object.values(options.ctors)) checkCtor(ctor);
  }
  attaching = { buffer, options, reopen };
  try {
    return new Kmem({ memory: 0 });
  } finally {
    attaching = null;
  }
}

/** Kmem.reopen: the instance must be at rest (no header or zone lock held, as between calls). */
function checkAtRest(h: Int32Array, phys: PhysMem): void {
  const locks: [number, string][] = [
    [Hdr.LOCK_SLAB, "slab_mutex"],
    [Hdr.LOCK_SLOB, "the SLOB lock"],
    [Hdr.LOCK_POOL, "the mempool lock"],
    [Hdr.LOCK_VMALLOC, "the vmalloc lock"],
  ];
  for (let n = 0; n < phys.nrNodes; n++)
    locks.push([zoneBase(phys.nrCpus, n) + Zone.LOCK, `the zone lock of node ${n}`]);
  for (const [i, name] of locks) {
    if (h[i] !== 0) {
      throw new Error(
        `Kmem.reopen: ${name} is held (by cpu ${((h[i] as number) & 0xffff) - 1}): the snapshot was taken inside a call, not between calls`,
      );
    }
  }
}

/**
 * Kmem.reopen, once the checks passed: cpu 0 becomes this context's, every other cpu
 * that was online is marked DEAD for draining (returned), and nobody waits for memory.
 */
function takeOver(h: Int32Array, nrCpus: number): number[] {
  const gone: number[] = [];
  for (let id = 1; id < nrCpus; id++) {
    if (cpuState(h, id) !== CpuState.OFFLINE) {
      forceCpuState(h, id, CpuState.DEAD);
      gone.push(id);
    }
  }
  forceCpuState(h, 0, CpuState.ONLINE);
  h[Hdr.FREE_WAITERS] = 0;
  return gone;
}

function checkBoolean(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean")
    throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  return value;
}

export { ZERO_SIZE_PTR };

/** The debug letters of slab flags, in slub_debug's order. */
function debugLetters(flags: number): string {
  let out = "";
  if ((flags & SlabFlag.CONSISTENCY_CHECKS) !== 0) out += "F";
  if ((flags & SlabFlag.RED_ZONE) !== 0) out += "Z";
  if ((flags & SlabFlag.POISON) !== 0) out += "P";
  if ((flags & SlabFlag.STORE_USER) !== 0) out += "U";
  if ((flags & SlabFlag.TRACE) !== 0) out += "T";
  if ((flags & SlabFlag.FAILSLAB) !== 0) out += "A";
  return out;
}

function cpuStateName(state: number): string {
  return state === CpuState.OFFLINE ? "offline" : state === CpuState.ONLINE ? "online" : "dead";
}

function parseDebug(debug: unknown): string {
  if (debug === undefined) return "";
  if (typeof debug !== "string") {
    throw new TypeError(`debug must be a string of slub_debug letters, got ${describe(debug)}`);
  }
  for (const ch of debug) {
    if (!DEBUG_LETTERS.includes(ch.toUpperCase())) {
      throw new RangeError(
        `debug has unknown letter ${JSON.stringify(ch)} (known: ${DEBUG_LETTERS.split("").join(" ")})`,
      );
    }
  }
  return debug.toUpperCase().replace(/-/g, "");
}
