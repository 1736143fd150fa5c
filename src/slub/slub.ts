/*
 * SLUB (Linux mm/slub.c): object caches over slabs of pages, each cpu allocating from a slab
 * of its own without a lock. Every other slab is on its node's partial list or, full, on no
 * list; a free that is not to the cpu's own slab goes through a per-cpu sheaf (with one
 * cpu, a full sheaf sends it onto that slab's freelist at once instead of being flushed).
 *
 * Each cache has, per cpu, a cpu slab whose free objects form the cpu freelist: allocating
 * pops it and freeing an object of that slab pushes it, touching nothing else (the fast
 * paths, this file). When the cpu freelist runs dry the allocator takes, in order, objects
 * freed to the cpu slab meanwhile, a partial slab, or a new slab from the page allocator
 * (slow.ts). An empty slab goes to its node's reserve of empty slabs while the reserve is
 * below its bound (layout.ts reserveBound: min_partial's rule, or a sixteenth of the node's
 * slabs, at most 128), else back to the page allocator at once; a slab the partial
 * list cannot give comes from the reserve before the page allocator; shrink() and the
 * shrinker give back the reserve and every other empty slab. Caches are made, merged, adopted from other contexts and destroyed
 * by registry.ts; debug checks and zeroing around the fast paths are hooks.ts's; verify()
 * is verify.ts; the descriptor, slot and frame layouts are layout.ts's.
 *
 * Always on, O(1), before any state changes: the allocation bitmap catches double frees and
 * frees of addresses that are not live objects; the slab's cache id catches frees to the
 * wrong cache; decoded free pointers must land inside the slab (hardened freelists).
 *
 * Invariants (verify() reports them by id):
 *   SLAB-1  a slab's head frame has HEAD | SLAB and the id of a live cache; its order is
 *           between the cache's order and topOrder
 *   SLAB-2  inuse == objects - |slab freelist|; every object on a freelist (the slab's, or
 *           the cpu freelist of a frozen slab) is a slot start inside the slab with its bitmap
 *           bit clear, and no object is on a freelist twice
 *   SLAB-3  allocated objects (bitmap bits) + free objects == objects, for slabs not set aside
 *   SLAB-4  the partial list holds exactly the slabs with PARTIAL set, none frozen or full,
 *           and its length is nr_partial; a frozen slab is some cpu's slab
 *   SLAB-5  per cache: active + set-aside objects == bitmap bits over its slabs; each node's
 *           nr_slabs is the number of its slabs on that node
 *   SLAB-6  (debug) free objects are poisoned and red-zoned 0xbb, allocated ones red-zoned
 *           0xcc, slab padding is 0x5a
 *   SLAB-7  the slab_caches list holds every live cache descriptor once, magic and id intact;
 *           its flags are the ones it was made with and agree with its slot layout (red
 *           zone, poison or constructor, user tracking)
 *   SLAB-8  a cache's reference count is the caches merged into it, plus 1 while its own name
 *           was not destroyed
 *   SLAB-9  a cpu slot is empty, or names a frozen slab of its cache, with its first object,
 *           bitmap and span
 *   SLAB-10 a cpu sheaf holds at most its capacity of distinct free objects of its cache, on
 *           no freelist
 *   SLAB-11 a node's reserve holds exactly the slabs with EMPTY set, each empty, neither
 *           frozen, partial nor set aside; its length is nr_empty, at most RESERVE_MAX
 *
 * Locks (instances with more than one cpu), SLUB's two in kmem's one lock order (the
 * numbered list in the header of src/sync/lock.ts):
 *
 *   slab_mutex (Hdr.LOCK_SLAB; re-entrant within one context): the slab_caches list,
 *      cache ids, names, reference counts, aliases and nameDead, the object size a merge
 *      raises, the serial counter. It keeps a cache alive while held (createCache, destroy,
 *      shrinkAll, verify, drainCpu, looking a cache up by id or name); no allocation sleeps
 *      while it is held.
 *   a cache's node list_lock (kmem_cache_node.list_lock: Desc.LOCK for node 0,
 *      NodeRec.LOCK for the others): the node's partial list, nr_partial and nr_slabs, its
 *      reserve of empty slabs and nr_empty, and
 *      of every slab of the cache on that node its frame freelist, inuse, state bits
 *      (FROZEN, PARTIAL, QUARANTINED, EMPTY) and list links. Never two at once, except
 *      destroy() and verify(), which take every node's of a cache in node order (verify()
 *      cache after cache). A slow path takes the lock of the node it works on: the cpu
 *      slab's to refill or file it, the local node's and then the nearest others' to find a
 *      partial slab (reading their nr_partial without the lock first, as get_any_partial),
 *      a slab's own to free to it; a sheaf flush takes each object's node lock in turn. The
 *      quarantine count, one per cache, changes under a node's lock with Atomics.add. A new
 *      slab is allocated with no list_lock held.
 *
 *   No lock: a cpu's slot (cpu slab, cpu freelist, sheaf, active count) is touched only by
 *     its cpu while online: the fast paths. Allocation bitmaps are shared by every cpu
 *     (objects of one slab are freed from anywhere). A slab of more than 32 objects has
 *     two (layout.ts): its cpu slab owner flips its own bits with plain stores, others flip
 *     the remote bits with Atomics.xor, whose result (with the own bit) says whether the
 *     object was in the state expected (else the xor is undone: DOUBLE_FREE); a slab of
 *     at most 32 objects has one frame word, flipped with Atomics.or / Atomics.and, whose
 *     result is the double-free check. Two frees of one object at the same instant on two
 *     cpus are refused at the free when they meet in one word; when one is the owner's
 *     plain store, the object's state comes out wrong and its next allocation finds it (a
 *     corrupt cpu freelist or sheaf: the slab set aside), not the free itself.
 *
 * A free of an object of another cpu's slab is a remote free: the object goes into the
 * freeing cpu's sheaf, and a full sheaf goes back to the objects' slabs under their
 * list_lock, onto the frame freelist of a slab another cpu has frozen too (SLUB's
 * __slab_free); that cpu takes those objects when its cpu freelist runs dry. Another cpu's
 * slot is touched only when that cpu is offline (offlineCpu), or by destroy() (no context
 * may use a cache being destroyed, as in Linux); otherwise a FLUSH_SLABS request asks the
 * owner to give its cpu slabs and sheaves back at its next slow path.
 *
 * A context that dies at any statement of a fast path leaves a slot offlineCpu can read
 * back (slow.ts flushDeadSlot): an object is marked allocated before it leaves the cpu
 * freelist or the sheaf, and pushed on the cpu freelist before it is marked free, so an
 * object of the dead slot marked allocated was in the dead context's hands (it stays so)
 * and every other one is free. The dead cpu's active count is then set from the bitmaps.
 * A remote free puts the object in the sheaf (or on its slab's freelist, under the
 * list_lock) before it clears the object's bit: a death between leaves it allocated, the
 * dead context's, never free on no list. A dead cpu's list_lock is taken over and what it
 * guards rebuilt (recover.ts, whose header has how); its slab_mutex is taken over and the
 * registry change it left half done rolled back or forward from slab_mutex's intent
 * record (registry.ts, whose header has how).
 */

import { describe, hex, KmemError } from "../errors.js";
import type { FaultAttr } from "../fault/index.js";
import { CpuRequest, Frame, Hdr, Pg, PgFlag, type PhysMem, Vm } from "../memory/index.js";
import { type BuddyAllocator, checkGfp, Gfp, type LogFn } from "../page/index.js";
import { lock, unlock } from "../sync/index.js";
import {
  type CacheGeometry,
  type Ctor,
  debugFlags,
  failslabHits,
  type KmallocBackend,
  KmemCache,
  type SlabCacheInfo,
  SlabFlag,
} from "../slab-common/index.js";
import { CallSites } from "./debug.js";
import {
  bswap32,
  CpuSlot,
  calculateGeometry,
  Desc,
  Grow,
  NodeRec,
  nodeRecIndex,
  objectsAtOrder,
  SlabState,
  SlubPg,
} from "./layout.js";
import * as hooks from "./hooks.js";
import * as registry from "./registry.js";
import * as slow from "./slow.js";
import { corrupt, verifySlub } from "./verify.js";

/**
 * bswap32 for the fast paths (the hardened free pointer's key): a function of this module,
 * not the import, whose binding V8 checks at every call (about five instructions a pair).
 */
function swab(x: number): number {
  return (x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

export interface SlubOptions {
  /** slub_debug letters applied to every cache. */
  debug: string;
  initOnAlloc: boolean;
  initOnFree: boolean;
  log: LogFn | null;
}

/** A free object that sits in a cache of free objects (SLAB's arrays), for verify(). */
export interface CachedObject {
  c: KmemCache;
  obj: number;
  /** Where it is, for messages ("the array cache of cpu 1"). */
  where: string;
  /** The invariant id verify() reports a bad entry under. */
  id: string;
}

/** Marks an object set aside (xored with the cache secret and its address). */
const QUARANTINE_MAGIC = 0x51554152; // "QUAR"

/**
 * The allocator: its state, its locks and the fast paths. The other files of this folder are
 * functions over it, reaching its fields directly (so few of them are private).
 */
export class SlubAllocator implements KmallocBackend {
  /** KmallocBackend.onGrow: called by newSlab (slow.ts) and SLAB's grow (slab/slabs.ts). */
  onGrow: ((nid: number, pages: number) => void) | null = null;
  readonly buddy: BuddyAllocator;
  readonly phys: PhysMem;
  readonly f: Int32Array;
  /**
   * Several cpus or a buffer per node: the fast paths take their …Smp forms, which reach
   * memory through phys.word()/wordView() and flip bitmap bits with Atomics when there are
   * several cpus. The one-cpu, one-buffer forms index `words` directly (what fits V8's
   * inlining budget: a window lookup in them cost 15% of a kmalloc pair).
   *
   * `generic` and `smp` are compared with `=== true` / `=== false`: V8's optimised code
   * tests a bare `if (this.smp)` as it would any value (false, "", undetectable, number,
   * bigint: some ten instructions when it is true), an explicit compare is one (5% of the
   * kmalloc pair with two cpus).
   */
  readonly generic: boolean;
  /** All of memory with one buffer (what the one-cpu fast paths index); else node 0's. */
  private readonly words: Int32Array;
  /**
   * Memory's bytes through its windows (physmem.ts): the byte at address a is
   * bv[a >>> bs][a & bm]. Words go through phys.word() and its kin.
   */
  private readonly bv: readonly Uint8Array[];
  private readonly bs: number;
  readonly bm: number;
  readonly h: Int32Array;
  reserved: ((addr: number, fn: string) => void) | null = null;
  readonly ev: Int32Array;
  readonly pageSize: number;
  readonly pageShift: number;
  readonly firstPfn: number;
  /** Frames present (memory hotplug raises it). */
  totalPages: number;
  readonly maxOrder: number;
  readonly cpuId: number;
  readonly nrCpus: number;
  readonly nrNodes: number;
  /** Descriptor word of each node's partial list head (its nr_partial follows). */
  readonly partialAt: number[] = [];
  /** Descriptor word of each node's list_lock. */
  readonly lockAt: number[] = [];
  /** Descriptor word of each node's nr_slabs. */
  readonly slabsAt: number[] = [];
  /** Per node: the descriptor word of its reserve's head (nr_empty follows). */
  readonly emptyAt: number[] = [];
  /** More than one cpu: locks and atomic bitmaps (one context alone needs neither). */
  readonly smp: boolean;
  /**
   * This context's handles by cache id; null or stale (another context destroyed the cache)
   * entries are rebuilt from the descriptors in memory on use.
   */
  readonly caches: (KmemCache | null)[] = [];
  /** The boot cache, "kmem_cache", whose objects are the other caches' descriptors. */
  readonly boot: KmemCache;
  /** failslab, or null when off. */
  failslab: FaultAttr | null = null;
  log: LogFn | null;
  /** Debug flags from the `debug` option, applied to every cache. */
  readonly globalFlags: number;
  /** slub_debug O: no metadata debugging for a cache it would move to a higher order. */
  readonly debugOrderOff: boolean;
  readonly initOnAlloc: boolean;
  readonly initOnFree: boolean;
  readonly sites = new CallSites();
  /** Index in `words` of the mem_map's first word. */
  private readonly memmapWord: number;
  /** Constructors registered in this context, by cache name. */
  readonly ctors = new Map<string, Ctor>();
  /** Set while kmem itself frees or sizes an object of its own caches (freeOwn, ksizeOwn). */
  ownAccess = false;
  /** How deep this context holds slab_mutex (it is re-entrant within a context). */
  slabMutexDepth = 0;
  /** Constructors running in this context (a cache cannot be destroyed meanwhile). */
  ctorDepth = 0;
  /** Pages of the slabs this context gave back to the page allocator (shrink's count). */
  pagesDiscarded = 0;

  /**
   * `fresh`: set up the boot cache of a new instance; otherwise open the caches another
   * context made (`ctors`: constructors by cache name for this context).
   */
  constructor(
    phys: PhysMem,
    buddy: BuddyAllocator,
    options: SlubOptions,
    fresh = true,
    ctors: ReadonlyMap<string, Ctor> = new Map(),
  ) {
    this.phys = phys;
    this.buddy = buddy;
    this.f = phys.frames;
    this.generic = phys.nrCpus > 1 || phys.split;
    this.words = phys.words;
    this.bv = phys.byteViews;
    this.bs = phys.winShift;
    this.bm = phys.winMask;
    this.memmapWord = phys.memmapOffset >>> 2;
    this.h = phys.header;
    this.ev = buddy.ev;
    this.pageSize = phys.pageSize;
    this.pageShift = phys.pageShift;
    this.firstPfn = phys.firstManagedPfn;
    this.totalPages = phys.totalPages;
    phys.resized.push(() => {
      this.totalPages = phys.totalPages;
    });
    this.maxOrder = phys.maxOrder;
    this.cpuId = buddy.cpu;
    this.nrCpus = phys.nrCpus;
    this.nrNodes = phys.nrNodes;
    for (let n = 0; n < phys.nrNodes; n++) {
      this.partialAt.push(nodeRecIndex(phys.nrCpus, n, NodeRec.PARTIAL_HEAD));
      this.lockAt.push(nodeRecIndex(phys.nrCpus, n, NodeRec.LOCK));
      this.slabsAt.push(nodeRecIndex(phys.nrCpus, n, NodeRec.NR_SLABS));
      this.emptyAt.push(nodeRecIndex(phys.nrCpus, n, NodeRec.EMPTY_HEAD));
    }
    this.smp = buddy.smp;
    this.log = options.log;
    this.initOnAlloc = options.initOnAlloc;
    this.initOnFree = options.initOnFree;
    for (const [name, fn] of ctors) this.ctors.set(name, fn);

    // The debug letters, O included, live in the header for the contexts that attach.
    if (fresh) this.h[Hdr.SLAB_FLAGS] = debugFlags(options.debug);
    const all = this.h[Hdr.SLAB_FLAGS] as number;
    this.globalFlags = all & ~SlabFlag.ORDER_OFF;
    this.debugOrderOff = (all & SlabFlag.ORDER_OFF) !== 0;
    this.boot = registry.bootCache(this, fresh);
    buddy.registerShrinker((nrToScan) => this.shrinkAll(nrToScan));
  }

  /* ------------------------------------------------------------------ caches (registry.ts) */

  cacheById(id: number): KmemCache | null {
    return registry.lookupCache(this, id);
  }

  findByName(name: string): KmemCache | null {
    return registry.findCacheByName(this, name);
  }

  registerCtor(name: string, ctor: Ctor): void {
    registry.registerCacheCtor(this, name, ctor);
  }

  createCache(name: unknown, size: unknown, options: unknown): KmemCache | null {
    return registry.kmemCacheCreate(this, name, size, options);
  }

  /**
   * calculate_sizes and the slab order of a new cache (layout.ts); `dual`: two bitmaps per
   * slab of more than 32 objects. SLAB (src/slab) lays out its slabs its own way.
   */
  cacheGeometry(
    objectSize: number,
    align: number,
    flags: number,
    hasCtor: boolean,
    dual: boolean,
  ): CacheGeometry | null {
    return calculateGeometry(objectSize, align, flags, hasCtor, this.pageSize, this.maxOrder, dual);
  }

  createCacheInternal(
    name: string,
    size: number,
    align: number,
    flags: number,
    ctor: Ctor | null,
  ): KmemCache | null {
    return registry.kmemCacheCreateInternal(this, name, size, align, flags, ctor);
  }

  destroy(c: KmemCache): void {
    registry.kmemCacheDestroy(this, c);
  }

  shrink(c: KmemCache): number {
    return registry.kmemCacheShrink(this, c);
  }

  shrinkAll(nrToScan: number): number {
    return registry.shrinkAllCaches(this, nrToScan);
  }

  drainCpu(cpu: number): number {
    return registry.drainCpuCaches(this, cpu);
  }

  realCaches(): KmemCache[] {
    return registry.listRealCaches(this);
  }

  info(c: KmemCache): SlabCacheInfo {
    return registry.cacheInfo(this, c);
  }

  slabPages(): [number, number] {
    return registry.slabPageCounts(this);
  }

  verify(): void {
    verifySlub(this);
  }

  resizeInPlace(addr: number, size: number, zero: boolean): void {
    hooks.resizeObject(this, addr, size, zero);
  }

  /** @internal Every cache's node list_lock words, for offlineCpu (sync/robust.ts). */
  listLocks(): registry.ListLockWord[] {
    return registry.listLockWords(this);
  }

  /* ------------------------------------------------------------------ locks */

  /** Takes node `n`'s list_lock of cache `c` (kmem_cache_node.list_lock). */
  lockNode(c: KmemCache, n: number): void {
    if (this.smp === true) {
      lock(c.dv, this.lockAt[n] as number, this.cpuId, c.nodeLockNames[n] as string, this.h);
      // A partial slab may lie in memory another context brought online (page/hotplug.ts).
      if (Atomics.load(this.h, Hdr.MEM_GENERATION) !== this.phys.generation) this.syncLocked(c, n);
    }
  }

  /** lockNode's catching up with memory hotplug, the lock given back if it cannot. */
  private syncLocked(c: KmemCache, n: number): void {
    try {
      this.phys.sync();
    } catch (err) {
      this.unlockNode(c, n);
      throw err;
    }
  }

  unlockNode(c: KmemCache, n: number): void {
    if (this.smp === true) unlock(c.dv, this.lockAt[n] as number, this.cpuId);
  }

  /**
   * Objects of slab `pfn` of `c`: its head frame's order says (slabs may grow: growOrder);
   * a slab larger than the cache's first holds as many as its bytes do (topOrderOf).
   */
  slabObjects(c: KmemCache, pfn: number): number {
    const order = this.f[pfn * Frame.WORDS + Pg.ORDER] as number;
    return order === c.topOrder
      ? c.topObjects
      : objectsAtOrder(c.objects, c.order, order, this.pageSize, c.size);
  }

  /**
   * Whether `addr` in slab `head` of `c` is past its last object: in the tail of a slab
   * smaller than topOrder whose objects do not tile it, where the cache's slot table (of
   * its largest slab) finds a slot that this slab does not have.
   */
  pastLastObject(c: KmemCache, head: number, addr: number): boolean {
    return addr - (head * this.pageSize + c.redLeft) >= this.slabSpan(c, head);
  }

  /** Bytes from slab `pfn`'s first object to the end of its last slot (the cpu slot's span). */
  slabSpan(c: KmemCache, pfn: number): number {
    return this.slabObjects(c, pfn) * c.size;
  }

  /** The node of slab `pfn`: whose list_lock guards it. */
  slabNode(pfn: number): number {
    return this.nrNodes === 1 ? 0 : this.buddy.nodeOf(pfn);
  }

  /* ------------------------------------------------------------------ allocation */

  /**
   * slab_alloc: failslab, then the cpu freelist's first object or the slow path. `size` is
   * what kmalloc was asked for (recorded by kmalloc caches with U), else -1.
   */
  alloc(c: KmemCache, gfp: number, size: number): number {
    if (this.generic === true) return this.allocSmp(c, gfp, size);
    if (this.failslab !== null && this.shouldFailSlab(c, gfp)) return 0;
    return this.slabAlloc(c, gfp, size);
  }

  /**
   * slab_alloc_node: an object of a slab on node `nid` (-1: no node, as alloc). The cpu's
   * sheaf serves it when `nid` is this cpu's node (a sheaf holds only objects of its own
   * node), the cpu slab when it is on `nid`; otherwise one object is taken from a slab of
   * that node under list_lock (a partial slab, or a new slab there), leaving the cpu slab
   * as it is, as SLUB's alloc_single_from_partial does. Without __GFP_THISNODE a node with
   * no slab to spare falls back as Linux's get_partial and the page allocator do.
   */
  allocNode(c: KmemCache, gfp: number, size: number, nid: number): number {
    if (nid < 0 || this.nrNodes === 1) return this.alloc(c, gfp, size);
    if (this.smp === true && c.dv[Desc.SERIAL] !== c.serial) this.checkHandle(c, "alloc");
    if (this.failslab !== null && this.shouldFailSlab(c, gfp)) return 0;
    const cpu = c.cpu;
    const local = nid === this.buddy.localNode;
    if (local && (cpu[CpuSlot.SHEAF_COUNT] as number) !== 0) return this.sheafAlloc(c, gfp, size);
    const cur = cpu[CpuSlot.SLAB] as number;
    if (
      cur !== 0 &&
      cpu[CpuSlot.FREELIST] !== 0 &&
      (local || cpu[CpuSlot.SHEAF_COUNT] === 0) &&
      this.buddy.nodeOf(cur) === nid
    ) {
      return this.generic === true ? this.slabAllocSmp(c, gfp, size) : this.slabAlloc(c, gfp, size);
    }
    const obj = this.allocSingle(c, gfp, nid);
    if (obj !== 0 && (c.debug !== 0 || (gfp & Gfp.ZERO) !== 0 || this.initOnAlloc)) {
      return this.postAlloc(c, obj, gfp, size);
    }
    return obj;
  }

  private allocSmp(c: KmemCache, gfp: number, size: number): number {
    if (c.dv[Desc.SERIAL] !== c.serial) this.checkHandle(c, "alloc");
    if (this.failslab !== null && this.shouldFailSlab(c, gfp)) return 0;
    return this.slabAllocSmp(c, gfp, size);
  }

  /**
   * slab_alloc without fault injection: the cpu freelist's first object, or the slow path.
   * About fifteen typed-array operations on the fast path: the hardened-pointer decode and
   * its range check, the slot check, the bitmap bit, the active count (some 500 machine
   * instructions per kmalloc+kfree pair, by callgrind).
   *
   * The fast paths exist twice, for one cpu and for several (…Smp): the same steps, but
   * with several cpus the allocation state lives in two bitmap words or one word that other
   * cpus flip too (see slabAllocSmp). One function with a branch per step measured 15% slower for one cpu:
   * the larger body no longer inlines.
   */
  // obj, next and start stay as the i32 words hold them (negative from 2 GiB up): the
  // arithmetic on them is modulo 2^32, and the callers return addresses unsigned.
  slabAlloc(c: KmemCache, gfp: number, size: number): number {
    const cpu = c.cpu;
    if ((cpu[CpuSlot.SHEAF_COUNT] as number) !== 0) return this.sheafAllocOne(c, gfp, size);
    const obj = cpu[CpuSlot.FREELIST] as number;
    if (obj !== 0) {
      const fp = obj + c.offset;
      const next = (this.words[fp >>> 2] as number) ^ c.secret ^ swab(fp);
      const start = cpu[CpuSlot.START] as number;
      const span = cpu[CpuSlot.SPAN] as number;
      // The object must be a slot start of the cpu slab (a forged free pointer may land
      // inside one), and the next pointer must stay inside the slab.
      const off = obj - start;
      const idx =
        (off >>> 0 < span && (off & 7) === 0 ? (c.slotIndex[off >>> 3] as number) : 0) - 1;
      if (idx >= 0 && (next === 0 || (next - start) >>> 0 < span)) {
        const wi = (cpu[CpuSlot.BITMAP] as number) + (idx >>> 5);
        const w = this.words[wi] as number;
        const m = 1 << (idx & 31);
        if ((w & m) === 0) {
          this.words[wi] = w | m;
          cpu[CpuSlot.FREELIST] = next;
          cpu[CpuSlot.ACTIVE]!++;
          if (c.debug !== 0 || (gfp & Gfp.ZERO) !== 0 || this.initOnAlloc) {
            return this.postAlloc(c, obj, gfp, size);
          }
          return obj;
        }
      }
      this.corruptCpuFreelist(c, obj);
    }
    return this.allocSlow(c, gfp, size);
  }

  /**
   * slabAlloc with several cpus or with a buffer per node (every word through its window).
   * With several cpus the object's own bit flips with a plain store when its slab has two
   * bitmaps (this cpu owns its cpu slab's own bitmap), with Atomics.or when it has one word.
   */
  slabAllocSmp(c: KmemCache, gfp: number, size: number): number {
    const cpu = c.cpu;
    if ((cpu[CpuSlot.SHEAF_COUNT] as number) !== 0) return this.sheafAlloc(c, gfp, size);
    const obj = cpu[CpuSlot.FREELIST] as number;
    if (obj !== 0) {
      const fp = obj + c.offset;
      const next = this.phys.word(fp >>> 2) ^ c.secret ^ swab(fp);
      const start = cpu[CpuSlot.START] as number;
      const span = cpu[CpuSlot.SPAN] as number;
      const off = obj - start;
      const idx =
        (off >>> 0 < span && (off & 7) === 0 ? (c.slotIndex[off >>> 3] as number) : 0) - 1;
      if (idx >= 0 && (next === 0 || (next - start) >>> 0 < span)) {
        const wi = (cpu[CpuSlot.BITMAP] as number) + (idx >>> 5);
        const m = 1 << (idx & 31);
        const rd = c.remote;
        const w = this.phys.word(wi);
        // Objects on this cpu's freelist are this cpu's alone: no other cpu flips their bits.
        // With two bitmaps the own one is this cpu's alone too: a plain store flips it.
        if (((rd === 0 ? w : w ^ this.phys.word(wi + rd)) & m) === 0) {
          if (this.smp === false || rd !== 0) this.phys.setWord(wi, w ^ m);
          else this.setBitShared(wi, 0, m);
          cpu[CpuSlot.FREELIST] = next;
          cpu[CpuSlot.ACTIVE]!++;
          if (c.debug !== 0 || (gfp & Gfp.ZERO) !== 0 || this.initOnAlloc) {
            return this.postAlloc(c, obj, gfp, size);
          }
          return obj;
        }
      }
      this.corruptCpuFreelist(c, obj);
    }
    return this.allocSlow(c, gfp, size);
  }

  /**
   * The object index of `addr` in slab `head` (0: no slab) of cache `c`, or -1 where no
   * object of it starts (a sheaf entry's check; objectIndex throws instead).
   */
  private slotOf(c: KmemCache, head: number, addr: number): number {
    const off = addr - (head * this.pageSize + c.redLeft);
    return (
      (head !== 0 && off >>> 0 < c.span && (off & 7) === 0
        ? (c.slotIndex[off >>> 3] as number)
        : 0) - 1
    );
  }

  /**
   * alloc_from_pcs: the most recently freed object of the cpu's sheaf. Objects in a sheaf are
   * free (their allocation state clear) but on no freelist; their slabs count them as in use.
   */
  private sheafAlloc(c: KmemCache, gfp: number, size: number): number {
    const cpu = c.cpu;
    const n = (cpu[CpuSlot.SHEAF_COUNT] as number) - 1;
    const obj = (cpu[CpuSlot.SHEAF + n] as number) >>> 0;
    const head = this.slabOf(obj);
    const idx = this.slotOf(c, head, obj);
    const wi = idx < 0 ? -1 : this.bitmapWord(c, head) + (idx >>> 5);
    const m = 1 << (idx & 31);
    const rd = c.remote;
    const w = wi < 0 ? m : this.phys.word(wi);
    const state = wi < 0 || rd === 0 ? w : w ^ this.phys.word(wi + rd);
    if ((state & m) !== 0 || this.f[head * Frame.WORDS + SlubPg.CACHE] !== c.realId) {
      this.badSheafObject(c, obj, n);
    }
    // This cpu's own bitmap for its cpu slab (or the one bitmap of one cpu): a plain flip.
    if (this.smp === false || (rd !== 0 && head === cpu[CpuSlot.SLAB]))
      this.phys.setWord(wi, w ^ m);
    else if (!this.setBitShared(wi, rd, m)) this.badSheafObject(c, obj, n);
    // Marked allocated, then taken off the sheaf: a context dying between leaves an
    // allocated object in its sheaf (offlineCpu skips it), never a free one in none.
    cpu[CpuSlot.SHEAF_COUNT] = n;
    cpu[CpuSlot.ACTIVE]!++;
    if ((gfp & Gfp.ZERO) !== 0 || this.initOnAlloc) return this.postAlloc(c, obj, gfp, size);
    return obj;
  }

  /**
   * sheafAlloc with one cpu and one buffer (slabAlloc's): the same checks and steps over the
   * buffer's one word view, with no other cpu's bits to mind (one bitmap, a plain store).
   */
  private sheafAllocOne(c: KmemCache, gfp: number, size: number): number {
    const cpu = c.cpu;
    const n = (cpu[CpuSlot.SHEAF_COUNT] as number) - 1;
    const obj = (cpu[CpuSlot.SHEAF + n] as number) >>> 0;
    const head = this.slabOf(obj);
    const idx = this.slotOf(c, head, obj);
    if (idx < 0 || this.f[head * Frame.WORDS + SlubPg.CACHE] !== c.realId) {
      this.badSheafObject(c, obj, n);
    }
    const wi = this.bitmapWord(c, head) + (idx >>> 5);
    const m = 1 << (idx & 31);
    const w = this.words[wi] as number;
    if ((w & m) !== 0) this.badSheafObject(c, obj, n);
    this.words[wi] = w | m;
    cpu[CpuSlot.SHEAF_COUNT] = n;
    cpu[CpuSlot.ACTIVE]!++;
    if ((gfp & Gfp.ZERO) !== 0 || this.initOnAlloc) return this.postAlloc(c, obj, gfp, size);
    return obj;
  }

  /** should_failslab: scope filters, then should_fail_ex with the object size. */
  protected shouldFailSlab(c: KmemCache, gfp: number): boolean {
    const attr = this.failslab;
    if (attr === null || c === this.boot) return false;
    if (!failslabHits(attr, gfp, c.coreObjectSize, c.flags, this.log)) return false;
    this.ev[Vm.FAULT_INJECTED]!++;
    return true;
  }

  /* ------------------------------------------------------------------ freeing */

  /**
   * The slab head frame of a slab object at `addr`, or 0 if `addr` is in no slab. A slab is
   * a buddy block, aligned to its size: its head is `pfn` rounded down to the slab order.
   * The free path's rare cases (here slabs of order > 0) are functions of their own, so that
   * the common one stays within what V8 inlines (ARCHITECTURE.md, "Speed in a JS engine").
   */
  slabOf(addr: number): number {
    const pfn = addr >>> this.pageShift;
    if (pfn < this.firstPfn || pfn >= this.totalPages) return this.slabOfOutside(addr, pfn);
    if (((this.f[pfn * Frame.WORDS + Pg.FLAGS] as number) & PgFlag.SLAB) !== 0) return pfn;
    return this.slabOfTail(pfn);
  }

  /**
   * slabOf beyond the frames this context sees: once more if another context brought memory
   * online since (page/hotplug.ts), else 0.
   */
  private slabOfOutside(addr: number, pfn: number): number {
    return pfn >= this.firstPfn && this.phys.sync() ? this.slabOf(addr) : 0;
  }

  /**
   * slabOf for a page that is not a slab's head: the head of a slab of order 1 to
   * Grow.MAX_ORDER, or 0.
   */
  private slabOfTail(pfn: number): number {
    const f = this.f;
    for (let o = 1; o <= Grow.MAX_ORDER; o++) {
      const head = pfn & ~((1 << o) - 1);
      const flags = f[head * Frame.WORDS + Pg.FLAGS] as number;
      if (flags === 0) continue;
      if ((flags & PgFlag.SLAB) !== 0 && (f[head * Frame.WORDS + Pg.ORDER] as number) >= o)
        return head;
      return 0;
    }
    return 0;
  }

  /** kmem_cache_free: `c` is the cache the caller named. */
  free(c: KmemCache, addr: number): void {
    if (this.smp === true && c.dv[Desc.SERIAL] !== c.serial) this.checkHandle(c, "free");
    if (addr >>> 0 !== addr) this.badAddress(addr, c.name);
    const head = this.slabOf(addr);
    if (head === 0) this.notSlabObject(c, addr);
    const id = this.f[head * Frame.WORDS + SlubPg.CACHE] as number;
    if (id !== c.realId) this.wrongCache(c, addr, id);
    if (this.generic === true) this.freeObjectSmp(c, head, addr);
    else this.freeObject(c, head, addr);
  }

  /** kfree of a slab object: its cache comes from the slab. */
  freeInSlab(head: number, addr: number): void {
    if (this.generic === true) {
      this.freeObjectSmp(this.slabCache(head), head, addr);
      return;
    }
    const c = this.caches[this.f[head * Frame.WORDS + SlubPg.CACHE] as number] as KmemCache;
    this.freeObject(c, head, addr);
  }

  /**
   * kmem's free of an object of its own caches (KMEM_OWN: a cache descriptor, kmem_meta-N),
   * which kfree, ksize and kmem_cache_free refuse to a caller.
   */
  freeOwn(addr: number): void {
    const head = this.slabOf(addr);
    const c = head === 0 ? null : this.slabCache(head);
    if (c === null || (c.flags & SlabFlag.KMEM_OWN) === 0) {
      throw new KmemError("INVALID_FREE", `${hex(addr)} is not an object of kmem's own caches`);
    }
    this.ownAccess = true;
    try {
      this.free(c, addr);
    } finally {
      this.ownAccess = false;
    }
  }

  /** ksize of an object of kmem's own caches: its cache's object size. */
  ksizeOwn(head: number, addr: number): number {
    this.ownAccess = true;
    try {
      const c = registry.liveObjectCache(this, head, addr);
      if ((c.flags & SlabFlag.KMEM_OWN) === 0) {
        throw new KmemError("INVALID_FREE", `${hex(addr)} is not an object of kmem's own caches`);
      }
      return c.coreObjectSize;
    } finally {
      this.ownAccess = false;
    }
  }

  /** The cache of kmem's own metadata named `name` (kmem_meta-N), made on first use. */
  ownCache(name: string, size: number, align: number): KmemCache | null {
    return registry.ownCache(this, name, size, align);
  }

  /** The cache of the slab at `head` (the real one). */
  slabCache(head: number): KmemCache {
    const id = this.f[head * Frame.WORDS + SlubPg.CACHE] as number;
    const c = this.caches[id];
    if (c !== undefined && c !== null && (this.smp === false || c.dv[Desc.SERIAL] === c.serial))
      return c;
    return this.slabCacheById(head, id);
  }

  /** slabCache when this context's handle for cache `id` is missing or stale. */
  private slabCacheById(head: number, id: number): KmemCache {
    const found = this.cacheById(id);
    if (found === null) {
      throw new KmemError(
        "CORRUPTION",
        `SLAB-1: slab at frame ${head} names cache id ${id}, which does not exist`,
      );
    }
    return found;
  }

  /** The real cache of a slab object, for ksize. Throws as a free would if it is not live. */
  liveObjectCache(head: number, addr: number): KmemCache {
    return registry.liveObjectCache(this, head, addr);
  }

  /**
   * Checks that `addr` is a live object of cache `c` without changing anything (what a free
   * would check): INVALID_FREE, DOUBLE_FREE or WRONG_CACHE otherwise.
   */
  checkLive(c: KmemCache, addr: number, fn: string): void {
    registry.checkLive(this, c, addr, fn);
  }

  /** Index of the object starting at `addr` in slab `head`; INVALID_FREE if none starts there. */
  objectIndex(c: KmemCache, head: number, addr: number): number {
    const off = addr - (head * this.pageSize + c.redLeft);
    // One unsigned compare for the range, one lookup for "an object starts here".
    const idx =
      (off >>> 0 < c.span && (off & 7) === 0 ? (c.slotIndex[off >>> 3] as number) : 0) - 1;
    if (idx < 0) this.notObjectStart(c, head, addr);
    return idx;
  }

  /** @internal INVALID_FREE: no object of `c` starts at `addr` in slab `head`. */
  notObjectStart(c: KmemCache, head: number, addr: number): never {
    throw new KmemError(
      "INVALID_FREE",
      `${c.name}: ${hex(addr)} is not the start of an object (slab at ${hex(head * this.pageSize)}, objects of ${c.size} bytes)`,
    );
  }

  private freeObject(c: KmemCache, head: number, addr: number): void {
    const idx = this.objectIndex(c, head, addr);
    const cpu = c.cpu;
    if (head !== cpu[CpuSlot.SLAB]) {
      this.freeToOtherSlab(c, head, addr, idx);
      return;
    }
    // The cpu slab: its bitmap word is at hand in the cpu slot, and it is never set aside.
    const wi = (cpu[CpuSlot.BITMAP] as number) + (idx >>> 5);
    const m = 1 << (idx & 31);
    let w = this.words[wi] as number;
    if ((w & m) === 0) this.alreadyFree(c, addr, 0);
    if (c.freeChecks !== 0 || this.initOnFree) {
      this.preFree(c, head, addr);
      // A log function called by preFree may have allocated from this slab meanwhile.
      w = this.words[wi] as number;
    }
    this.words[wi] = w & ~m;
    cpu[CpuSlot.ACTIVE]!--;
    const fp = addr + c.offset;
    this.words[fp >>> 2] = (cpu[CpuSlot.FREELIST] as number) ^ c.secret ^ swab(fp);
    cpu[CpuSlot.FREELIST] = addr;
  }

  /**
   * freeObject of an object of another slab than the cpu slab (object `idx` of slab `head`)
   * with one cpu: its bit cleared, then into the cpu's sheaf while it has room, else onto
   * its slab's freelist at once, the slab filed by its fill (slow.ts slabFree; one cpu
   * takes no lock). A full sheaf is not flushed: with no other cpu to contend with for the
   * slab, the object costs less on its slab's freelist now than in a flush later, and the
   * sheaf keeps serving the next allocations (BENCHMARKS.md, "One cpu: a full sheaf frees
   * to the slab"). A method of its own, so that the cpu slab's case stays small enough to
   * inline into every kfree; bitmapWord's sum and isSetAside's first test written out, not
   * calls: V8 compiles this while frees are few and would keep a call it had not yet seen
   * made.
   */
  private freeToOtherSlab(c: KmemCache, head: number, addr: number, idx: number): void {
    const wi =
      (c.bitmap < 0
        ? this.memmapWord + head * Frame.WORDS + SlubPg.BITMAP
        : (head * this.pageSize + c.bitmap) >>> 2) +
      (idx >>> 5);
    const m = 1 << (idx & 31);
    let w = this.words[wi] as number;
    if (
      (w & m) === 0 ||
      (((this.f[head * Frame.WORDS + SlubPg.COUNTERS] as number) & SlabState.QUARANTINED) !== 0 &&
        this.isSetAside(c, head, addr))
    )
      this.alreadyFree(c, addr, w & m);
    if (c.freeChecks !== 0 || this.initOnFree) {
      this.preFree(c, head, addr);
      w = this.words[wi] as number;
    }
    this.words[wi] = w & ~m;
    const cpu = c.cpu;
    cpu[CpuSlot.ACTIVE]!--;
    // Room in the sheaf, and a slab of this cpu's node (a sheaf holds no other).
    const n = cpu[CpuSlot.SHEAF_COUNT] as number;
    if (
      n < c.sheafCap &&
      (this.nrNodes === 1 || this.buddy.nodeOf(head) === this.buddy.localNode)
    ) {
      cpu[CpuSlot.SHEAF + n] = addr;
      cpu[CpuSlot.SHEAF_COUNT] = n + 1;
      return;
    }
    // slow.ts slabFree written out over the one word view: pushed on the slab's freelist
    // (slabPush), then filed by its fill (place) for its two common cases here, a partial
    // slab that stays partial and a full one that becomes partial (addPartial); the rest
    // (emptied, frozen, set aside) by place itself. Each call into slow.ts cost a check of
    // its binding, and phys.setWord a check of the buffer's split. The body is also larger
    // than V8 inlines (460 bytes of bytecode): inlined into freeObject's own optimized
    // code, it made every kfree leave freeObject a call (V8 charges a callee's inlined
    // bytecode to its caller's budget; BENCHMARKS.md, "One cpu: a full sheaf frees to the
    // slab").
    this.ev[Vm.SLAB_FREE_SLOW]!++;
    const f = this.f;
    const i = head * Frame.WORDS;
    const fp = addr + c.offset;
    this.words[fp >>> 2] = (f[i + SlubPg.FREELIST] as number) ^ c.secret ^ swab(fp);
    f[i + SlubPg.FREELIST] = addr;
    const counters = (f[i + SlubPg.COUNTERS] as number) - 1;
    f[i + SlubPg.COUNTERS] = counters;
    const state =
      counters & (SlabState.PARTIAL | SlabState.FROZEN | SlabState.QUARANTINED | SlabState.EMPTY);
    if ((counters & SlabState.INUSE_MASK) === 0 || (state !== 0 && state !== SlabState.PARTIAL)) {
      slow.placeSlab(this, c, head);
      return;
    }
    if (state === SlabState.PARTIAL) return;
    // A full slab's first free: at the head of its node's partial list.
    const dv = c.dv;
    const at =
      this.nrNodes === 1 ? Desc.PARTIAL_HEAD : (this.partialAt[this.buddy.nodeOf(head)] as number);
    const first = dv[at] as number;
    f[i + Pg.NEXT] = first;
    f[i + Pg.PREV] = 0;
    if (first !== 0) f[first * Frame.WORDS + Pg.PREV] = head;
    dv[at] = head;
    dv[at + 1]!++;
    f[i + SlubPg.COUNTERS] = counters | SlabState.PARTIAL;
  }

  /**
   * freeObject with several cpus: the object of this cpu's slab flips its own bit with a
   * plain store (two bitmaps); any other flips with Atomics (clearShared), whose result is
   * the check against a free of the same object in another cpu at the same moment. With
   * one cpu and a buffer per node, a plain store through the word's window.
   */
  private freeObjectSmp(c: KmemCache, head: number, addr: number): void {
    const idx = this.objectIndex(c, head, addr);
    const cpu = c.cpu;
    const onCpu = head === cpu[CpuSlot.SLAB];
    // bitmapWord and isSetAside's first test written out, as in freeToOtherSlab.
    const wi =
      (onCpu
        ? (cpu[CpuSlot.BITMAP] as number)
        : c.bitmap < 0
          ? this.memmapWord + head * Frame.WORDS + SlubPg.BITMAP
          : (head * this.pageSize + c.bitmap) >>> 2) +
      (idx >>> 5);
    const m = 1 << (idx & 31);
    const rd = c.remote;
    let w = this.phys.word(wi);
    const state = rd === 0 ? w : w ^ this.phys.word(wi + rd);
    if (
      (state & m) === 0 ||
      (!onCpu &&
        ((this.f[head * Frame.WORDS + SlubPg.COUNTERS] as number) & SlabState.QUARANTINED) !== 0 &&
        this.isSetAside(c, head, addr))
    )
      this.alreadyFree(c, addr, state & m);
    if (c.freeChecks !== 0 || this.initOnFree) {
      this.preFree(c, head, addr);
      // A log function called by preFree may have allocated from this slab meanwhile.
      w = this.phys.word(wi);
    }
    if (onCpu) {
      // Pushed on the cpu freelist, then marked free: a context dying between leaves an
      // allocated object on its freelist (offlineCpu skips it), never a free one on none.
      const fp = addr + c.offset;
      this.phys.setWord(fp >>> 2, (cpu[CpuSlot.FREELIST] as number) ^ c.secret ^ swab(fp));
      cpu[CpuSlot.FREELIST] = addr;
      // The own bitmap of this cpu's slab is this cpu's (a plain flip); a one-word bitmap is
      // shared with every cpu (Atomics.and, whose result is the double-free check).
      if (this.smp === false || rd !== 0) this.phys.setWord(wi, w ^ m);
      else this.clearOwnShared(c, wi, m, addr);
      cpu[CpuSlot.ACTIVE]!--;
      return;
    }
    if (this.smp === true) {
      this.freeRemoteSmp(c, head, addr, wi, m);
      return;
    }
    this.phys.setWord(wi, w ^ m);
    cpu[CpuSlot.ACTIVE]!--;
    this.freeRemote(c, head, addr);
  }

  /**
   * A remote free with several cpus: the object goes into this cpu's sheaf, or onto its
   * slab's freelist under the list_lock, before its bit is cleared. A context dying at any
   * statement leaves it allocated in its sheaf (offlineCpu skips it: the dead context's) or
   * on a freelist with its bit set (which the list_lock's recovery clears: recover.ts),
   * never free on no list and in no sheaf.
   */
  private freeRemoteSmp(c: KmemCache, head: number, addr: number, wi: number, m: number): void {
    const cpu = c.cpu;
    const cap = c.sheafCap;
    const rd = c.remote;
    if (cap !== 0 && (this.nrNodes === 1 || this.buddy.nodeOf(head) === this.buddy.localNode)) {
      let n = cpu[CpuSlot.SHEAF_COUNT] as number;
      if (n === cap) {
        if ((this.buddy.pendingRequests() & CpuRequest.FLUSH_SLABS) !== 0) this.serveFlush();
        n = cpu[CpuSlot.SHEAF_COUNT] as number;
        if (n === cap) {
          this.flushSheaf(c, cpu, n >>> 1);
          n = cpu[CpuSlot.SHEAF_COUNT] as number;
        }
      }
      cpu[CpuSlot.SHEAF + n] = addr;
      cpu[CpuSlot.SHEAF_COUNT] = n + 1;
      if (!this.clearBit(wi, rd, m)) {
        cpu[CpuSlot.SHEAF_COUNT] = n;
        this.alreadyFree(c, addr, 0);
      }
      cpu[CpuSlot.ACTIVE]!--;
      return;
    }
    const node = this.slabNode(head);
    this.lockNode(c, node);
    try {
      slow.slabPush(this, c, head, addr);
      if (!this.clearBit(wi, rd, m)) {
        slow.slabUnpush(this, c, head, addr);
        this.alreadyFree(c, addr, 0);
      }
      slow.placeSlab(this, c, head);
    } finally {
      this.unlockNode(c, node);
    }
    cpu[CpuSlot.ACTIVE]!--;
  }

  /**
   * Clears object bit `m` (own word `wi`) of another cpu's slab with Atomics: false,
   * changing nothing, if the object was free already (freed by another cpu meanwhile).
   */
  private clearBit(wi: number, rd: number, m: number): boolean {
    const ri = wi + rd;
    const view = this.phys.wordView(ri);
    const i = this.phys.wordIndex(ri);
    if (rd === 0) return (Atomics.and(view, i, ~m) & m) !== 0;
    if (((Atomics.xor(view, i, m) ^ this.phys.word(wi)) & m) !== 0) return true;
    Atomics.xor(view, i, m);
    return false;
  }

  /**
   * Clears bit `m` of a one-word bitmap (word `wi`) for an object just pushed on this cpu's
   * freelist: DOUBLE_FREE, the push undone, if another cpu freed it at the same moment.
   */
  private clearOwnShared(c: KmemCache, wi: number, m: number, addr: number): void {
    if ((Atomics.and(this.phys.wordView(wi), this.phys.wordIndex(wi), ~m) & m) === 0) {
      const fp = addr + c.offset;
      c.cpu[CpuSlot.FREELIST] = this.phys.word(fp >>> 2) ^ c.secret ^ bswap32(fp);
      this.alreadyFree(c, addr, 0);
    }
  }

  /**
   * Clears object bit `m` (own word `wi`, holding `w`) where other cpus flip bits of the
   * same word: Atomics.and on a one-word bitmap (rd 0), Atomics.xor on the remote one.
   * DOUBLE_FREE if the object was free already: of two cpus freeing it at once, the second
   * sees the first's flip in what the Atomics call returns (and undoes its xor).
   */
  protected clearShared(
    c: KmemCache,
    wi: number,
    rd: number,
    w: number,
    m: number,
    addr: number,
  ): void {
    const ri = wi + rd;
    const view = this.phys.wordView(ri);
    const i = this.phys.wordIndex(ri);
    if (rd === 0) {
      if ((Atomics.and(view, i, ~m) & m) === 0) this.alreadyFree(c, addr, 0);
    } else if (((Atomics.xor(view, i, m) ^ w) & m) === 0) {
      Atomics.xor(view, i, m);
      this.alreadyFree(c, addr, 0);
    }
  }

  /**
   * A free of an object of another slab than the cpu slab with one cpu and a buffer per node
   * (freeObjectSmp): into the cpu's sheaf while it has room, else onto that slab's own
   * freelist at once, the slab filed by its fill: freeToOtherSlab's rule over one buffer,
   * through the windows here. The bitmap bit is clear already.
   */
  private freeRemote(c: KmemCache, head: number, addr: number): void {
    const cpu = c.cpu;
    const n = cpu[CpuSlot.SHEAF_COUNT] as number;
    // A sheaf holds objects of this cpu's node only (free_to_pcs checks slab_nid).
    if (
      n < c.sheafCap &&
      (this.nrNodes === 1 || this.buddy.nodeOf(head) === this.buddy.localNode)
    ) {
      cpu[CpuSlot.SHEAF + n] = addr;
      cpu[CpuSlot.SHEAF_COUNT] = n + 1;
      return;
    }
    const node = this.slabNode(head);
    this.lockNode(c, node);
    try {
      this.slabFree(c, head, addr);
    } finally {
      this.unlockNode(c, node);
    }
  }

  /** kmem_cache_free of an address in no slab: INVALID_FREE (cold: the free paths stay small). */
  protected notSlabObject(c: KmemCache, addr: number): never {
    throw new KmemError(
      "INVALID_FREE",
      `${c.name}: ${hex(addr)} is not a slab object (no slab holds it: never returned by this cache, or freed and its slab given back)`,
    );
  }

  /** kmem_cache_free of an object of the slab of cache `id`, not of `c`: WRONG_CACHE. */
  protected wrongCache(c: KmemCache, addr: number, id: number): never {
    const owner = this.cacheById(id);
    throw new KmemError(
      "WRONG_CACHE",
      `object ${hex(addr)} belongs to cache ${owner === null ? "?" : JSON.stringify(owner.name)}, not ${JSON.stringify(c.name)}`,
    );
  }

  /**
   * A free of an object that is not allocated (`bit` 0) or was set aside; or of an address
   * past the last object of a slab smaller than the cache's largest, whose slot table finds
   * a slot there (its bit, never set, reads free): INVALID_FREE.
   */
  protected alreadyFree(c: KmemCache, addr: number, bit: number): never {
    const head = this.slabOf(addr);
    if (bit === 0 && head !== 0 && this.pastLastObject(c, head, addr)) {
      this.notObjectStart(c, head, addr);
    }
    throw new KmemError(
      "DOUBLE_FREE",
      `${c.name}: object ${hex(addr)} is already ${bit === 0 ? "free" : "set aside as corrupt"}${this.owners(c, addr)}`,
    );
  }

  protected badAddress(addr: unknown, what: string): never {
    if (typeof addr !== "number" || !Number.isInteger(addr)) {
      throw new TypeError(`${what}: address must be an integer, got ${describe(addr)}`);
    }
    throw new KmemError("INVALID_FREE", `${what}: address ${addr} is outside physical memory`);
  }

  /** NUMA nodes of the instance (for node arguments). */
  nodeCount(): number {
    return this.buddy.nrNodes;
  }

  badGfp(gfp: unknown): never {
    checkGfp(gfp);
    throw new TypeError(`gfp must be an integer mask of GFP flags, got ${String(gfp)}`);
  }

  /* ------------------------------------------------------------------ memory */

  /** The bytes of the window holding `addr`; index them with addr & bm. */
  win(addr: number): Uint8Array {
    return this.bv[addr >>> this.bs] as Uint8Array;
  }

  /* ------------------------------------------------------------------ bitmap */

  /**
   * Index in `words` of the first word of slab `pfn`'s bitmap: its frame's SlubPg.BITMAP word,
   * or the words at the slab's end. One array for both, so the callers have one path.
   */
  bitmapWord(c: KmemCache, pfn: number): number {
    return c.bitmap < 0
      ? this.memmapWord + pfn * Frame.WORDS + SlubPg.BITMAP
      : (pfn * this.pageSize + c.bitmap) >>> 2;
  }

  /** Whether object `idx` of slab `pfn` is allocated (its own and remote bits differ). */
  testBit(c: KmemCache, pfn: number, idx: number): boolean {
    const wi = this.bitmapWord(c, pfn) + (idx >>> 5);
    const w =
      c.remote === 0 ? this.phys.word(wi) : this.phys.word(wi) ^ this.phys.word(wi + c.remote);
    return ((w >>> (idx & 31)) & 1) !== 0;
  }

  /**
   * Marks object bit `m` (own bitmap word `wi`) allocated where other cpus flip bits of the
   * same word: Atomics.or on a one-word bitmap (rd 0), Atomics.xor on the remote bitmap `rd`
   * words on. False, changing nothing, if the object was allocated already (an xor that
   * found so is undone).
   */
  setBitShared(wi: number, rd: number, m: number): boolean {
    const ri = wi + rd;
    const view = this.phys.wordView(ri);
    const i = this.phys.wordIndex(ri);
    if (rd === 0) return (Atomics.or(view, i, m) & m) === 0;
    // The own word is read plainly: only the cpu slab's owner writes it, and never this
    // object's bit while another cpu allocates or frees the object.
    if (((Atomics.xor(view, i, m) ^ this.phys.word(wi)) & m) === 0) return true;
    Atomics.xor(view, i, m);
    return false;
  }

  /** A sheaf entry that is not a free object of the cache: put it back, report SLAB-10. */
  private badSheafObject(c: KmemCache, obj: number, n: number): never {
    c.cpu[CpuSlot.SHEAF_COUNT] = n + 1;
    corrupt("SLAB-10", `the cpu sheaf of ${c.name} holds ${hex(obj)}, not a free object of it`);
  }

  /**
   * The word an object set aside carries where its free pointer goes: a later free of it
   * (a stale pointer) is then told apart from a free of a live object of the same slab.
   */
  quarantineTag(c: KmemCache, obj: number): number {
    const fp = obj + c.offset;
    return QUARANTINE_MAGIC ^ c.secret ^ bswap32(fp);
  }

  isSetAside(c: KmemCache, head: number, obj: number): boolean {
    const counters = this.f[head * Frame.WORDS + SlubPg.COUNTERS] as number;
    return (
      (counters & SlabState.QUARANTINED) !== 0 &&
      this.phys.word((obj + c.offset) >>> 2) === this.quarantineTag(c, obj)
    );
  }

  /* ------------------------------------------------------------------ for SLAB (src/slab) */

  /**
   * Free objects held outside the slabs' freelists and the sheaves, by cache: none for SLUB.
   * Linux's SLAB (src/slab), built on these slabs, returns its array caches' objects, which
   * verify() then counts as it counts sheaf objects.
   */
  cachedObjects(): CachedObject[] {
    return [];
  }

  /**
   * Before destroy() discards every slab of `c` (every node's list_lock held): what holds
   * objects of it besides the slabs goes. Nothing for SLUB; SLAB's array caches.
   */
  releaseCached(_c: KmemCache): void {}

  /**
   * After destroy() discarded the slabs of `c` and dropped its list_locks (and when a
   * destroy is rolled forward): nothing for SLUB; SLAB's off-slab slabs and array block.
   */
  afterRelease(_c: KmemCache): void {}

  /** destroy(), every node's list_lock held, after releaseCached: every slab of `c` goes. */
  discardSlabs(c: KmemCache): void {
    slow.discardAll(this, c);
  }

  /** Where slab `pfn`'s first slot starts (SLAB: after its colour). */
  objectBase(pfn: number): number {
    return pfn * this.pageSize;
  }

  /* ------------------------------------------------------------------ rare paths */

  // What the fast paths call when they cannot finish: methods over the functions of slow.ts,
  // hooks.ts and registry.ts, so that each fast path calls them as `this.x(...)`, as it did
  // when they were methods here. A call of an imported function takes more bytecode, and
  // the fast paths sit at V8's inlining limits (freeObject 271 bytes of bytecode, and the
  // budget that kmalloc(64)+kfree inlines into its caller whole).

  private allocSlow(c: KmemCache, gfp: number, size: number): number {
    return slow.allocSlow(this, c, gfp, size);
  }

  private allocSingle(c: KmemCache, gfp: number, nid: number): number {
    return slow.allocSingle(this, c, gfp, nid);
  }

  private corruptCpuFreelist(c: KmemCache, obj: number): void {
    slow.corruptCpuFreelist(this, c, obj);
  }

  private flushSheaf(c: KmemCache, slot: Int32Array, k: number): void {
    slow.flushSheaf(this, c, slot, k);
  }

  private slabFree(c: KmemCache, head: number, addr: number): void {
    slow.slabFree(this, c, head, addr);
  }

  private serveFlush(): void {
    slow.serveFlush(this);
  }

  private postAlloc(c: KmemCache, obj: number, gfp: number, size: number): number {
    return hooks.postAlloc(this, c, obj, gfp, size);
  }

  private preFree(c: KmemCache, head: number, addr: number): void {
    hooks.preFree(this, c, head, addr);
  }

  private owners(c: KmemCache, obj: number): string {
    return hooks.owners(this, c, obj);
  }

  private checkHandle(c: KmemCache, op: string): void {
    registry.checkHandle(this, c, op);
  }
}
