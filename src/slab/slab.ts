/*
 * Linux's SLAB (mm/slab.c, as of 6.7; removed in 6.8), the design descended from Bonwick's
 * 1994 slab allocator: every allocation and free goes through a per-cpu array cache, a LIFO
 * stack of free objects with a limit and a batchcount. An empty array refills batchcount
 * objects from its node's shared array, else from the node's slabs; a full one flushes
 * batchcount objects to the shared array if it has room, else back to their slabs. A free
 * of an object of another node's slab goes to an alien array for that node, which drains
 * into that node's shared array and slabs when full. cache_reap drains what was not used.
 *
 * Under the arrays, SLAB's own slab layer (slabs.ts): per node, a kmem_cache_node with
 * three lists (slabs_full, slabs_partial, slabs_free), free_objects, free_slabs and
 * free_limit = (1 + cpus) * batchcount + objects per slab. A refill takes from partial
 * slabs, then free ones, and grows a slab when both are empty (cache_grow_begin/end);
 * free_block files each slab by its new count and destroys free slabs beyond free_limit;
 * cache_reap and the reclaim path give back free slabs (drain_freelist). Each slab is
 * coloured: its first object starts colour_next * colour_off bytes in (colour_off the
 * cache line, or the alignment if larger; colour = left-over / colour_off; colour_next
 * advances per new slab per node), so that objects of successive slabs fall on different
 * cache lines. Each slab has a freelist index array (freelist_idx_t: one byte per object
 * for at most 256 objects, else two) placed as Linux places it: inside the last free
 * object (OBJFREELIST, for caches with no constructor, poison or init_on_free whose objects
 * hold the array), off slab in an object of a freelist cache ("slab-freelist-N", Linux's
 * kmalloc cache of that size, when the array does not fit the left-over and that cache's
 * objects are at most half this cache's), else on slab. Slots are laid out as SLUB's
 * (red zones, tracks); the cache registry, debug hooks and handles are src/slub's (as
 * Linux's SLAB and SLUB shared mm/slab_common.c).
 *
 * Where it departs from mm/slab.c:
 *   - every slab has an allocation bit per object (in the frame for at most 32 objects,
 *     else in words at the slab's end, after the index array), which Linux's SLAB had only
 *     with debugging: kmem's promise that double, invalid and wrong-cache frees are caught
 *     in O(1) before any state changes. An object in an array cache is free (its bit
 *     clear) but counted in its slab's `active`, as Linux counts it.
 *   - the on-slab index array sits at the slab's end (as 6.7, since 4.6), not after the
 *     colour; the bitmap follows it. Objects are in slot order (no
 *     CONFIG_SLAB_FREELIST_RANDOM). The index array's allocated part is stale, as Linux's.
 *   - free_limit counts every cpu (contexts pick their node: nr_cpus_node is not fixed).
 *   - alien arrays belong to a cpu (Linux: to a node pair, with a lock of their own), so
 *     that filling one takes no lock.
 *   - debug caches and instances made with percpu: false have no arrays: every object goes
 *     to and from its slab under list_lock, checked on the way (SLUB's debug caches have no
 *     sheaves either). Linux kept arrays for debug caches and checked at the array. A
 *     poisoned cache's slab padding (colour and left-over) is poisoned 0x5a, as SLUB's.
 *   - tuning to a larger limit than the arrays have room for makes a new block (the node
 *     records move with it), which needs every other cpu offline (Linux sends each cpu an
 *     IPI to swap its array).
 *
 * Files: this one (the fast paths: array push and pop), arrays.ts (refill, flush, alien
 * arrays, the block), slabs.ts (the slab layer), tune.ts (tunables, cache_reap, adaptive
 * magazines), verify.ts, layout.ts (block, node record, struct slab, slab geometry).
 *
 * Invariants (verify() reports them by id; SLUB's SLAB-1, -5, -6, -7, -8 and -9 hold as
 * well, with the arrays' objects counted in their slabs' active; "ASLAB" is the array
 * layer's prefix, "SLABL" the slab layer's):
 *   ASLAB-1  a cache's array block has its magic and cache id, and lies in memory
 *   ASLAB-2  each array: avail and limit within its slots; a per-cpu array has
 *            1 <= batchcount <= limit; the cache's tunables: 1 <= batchcount <= limit <= slots
 *            (avail may exceed a limit lowered by another cpu until the owner's next flush)
 *   ASLAB-3  each array entry is the start of an object of the cache, allocation bit clear,
 *            held once (in one array, not free in its slab's index array)
 *   ASLAB-4  an alien array for node n holds objects of node n's slabs only
 *   SLABL-1  a slab's active is at most its objects; its colour offset is k * colour_off
 *            with k < colour (0 without colours), its objects within the slab
 *   SLABL-2  a slab's index array is where its cache's placement says: at the slab's end
 *            (on slab); a live object of the freelist cache no other slab names (off slab);
 *            its last free object, holding its own index at entry objects-1, or none when
 *            the slab is full (OBJFREELIST)
 *   SLABL-3  the free part of the index array (entries active..objects-1) names distinct
 *            objects with their bits clear, in no array; active == allocated + in arrays
 *   SLABL-4  each node's full, partial and free lists hold exactly its slabs not set aside,
 *            each marked for its list and in its state (full: active == objects; free:
 *            active 0; partial: between), links and tails consistent; free_slabs is the
 *            free list's length; a slab set aside is on no list; a cache with slabs has
 *            node records
 *   SLABL-5  free_objects is the free objects of the node's partial and free slabs;
 *            free_limit == (1 + cpus) * batchcount + objects; colour_next < colour (or 0)
 *
 * Locks: SLUB's (see src/slub/slub.ts) and no more. A cpu's array cache and its alien
 * arrays are its own (touched by no other cpu while it is online: no lock). A node's shared
 * array, its kmem_cache_node (the three lists and counts) and every slab of the cache on
 * that node (frame words, index array) are guarded by that node's list_lock of the cache
 * (4 in the lock order), taken alone: a new slab is made with none held (its pages, its
 * off-slab index array, its constructors) and added under it; slabs past free_limit are
 * destroyed after it is dropped. colour_next is advanced without it (a benign race, as
 * Linux's). The block's tunables words are written under slab_mutex (2).
 */

import { hex, KmemError } from "../errors.js";
import { Frame, type PhysMem } from "../memory/index.js";
import { type BuddyAllocator, Gfp } from "../page/index.js";
import { type CacheGeometry, type Ctor, type KmemCache, SlabFlag } from "../slab-common/index.js";
import {
  type CachedObject,
  CpuSlot,
  checkHandle,
  Desc,
  lockSlabMutex,
  postAlloc,
  preFree,
  SlubAllocator,
  type SlubOptions,
  unlockSlabMutex,
} from "../slub/index.js";
import * as arrays from "./arrays.js";
import {
  Ac,
  blockWord,
  COLOUR_UNIT,
  freelistCacheSize,
  Mgmt,
  type SlabShape,
  SlabPg,
  slabGeometry,
} from "./layout.js";
import * as slabs from "./slabs.js";
import * as tune from "./tune.js";
import { finishArrays, recoverSlabNode } from "./recover.js";
import { cachedObjects, verifySlab } from "./verify.js";

export interface SlabOptions extends SlubOptions {
  /** Per-cpu limits adapt to contention (Bonwick & Adams's magazine resizing). */
  adaptive: boolean;
}

/** One context's views of a cache's block: its arrays and its node records. */
export interface ArrayViews {
  /** The cache's serial when built (a new cache with the same id gets new views). */
  serial: number;
  /** The block's address. */
  block: number;
  /** The block's header and tunables. */
  hdr: Int32Array;
  /** This cpu's array cache (no slots when the cache has no arrays). */
  ac: Int32Array;
  /** Each node's shared array (empty array when the cache has none). */
  shared: Int32Array[];
  /** This cpu's alien arrays, by node (none with one node). */
  alien: Int32Array[];
  /** Each node's kmem_cache_node: the slab lists and their counts (layout.ts Node). */
  nodes: Int32Array[];
  /** How the cache's slabs are laid out (colours, index array). */
  shape: SlabShape;
  /** OFF_SLAB: the cache whose objects hold the index arrays. */
  fcache: KmemCache | null;
  /** The cache has array caches (not a debug cache, per-cpu caching on). */
  arrays: boolean;
}

/** SLAB: slabs on three lists per node, with Linux SLAB's array caches above them. */
export class SlabAllocator extends SlubAllocator {
  /** This context's views of each cache's block, by cache id. */
  readonly views: (ArrayViews | undefined)[] = [];
  /** Instance-wide: caches adapt their per-cpu limits. */
  readonly adaptive: boolean;
  /** Per-cpu caching on (the `percpu` option): without it, no arrays. */
  readonly percpu: boolean;
  /** One object on its way to or from a slab without arrays. */
  readonly one = new Int32Array(1);
  /** A freelist cache is being made: its own index arrays stay on its slabs. */
  private makingFreelistCache = false;
  /** Descriptor word of the block's address. */
  readonly blockIdx: number;
  /** All of memory as words (what the one-cpu, one-buffer paths index; `generic` false). */
  private readonly mem: Int32Array;
  /** One cpu, one node, one buffer: the fast paths' own forms (compared `=== true`). */
  private readonly fast: boolean;

  constructor(
    phys: PhysMem,
    buddy: BuddyAllocator,
    options: SlabOptions,
    fresh = true,
    ctors: ReadonlyMap<string, Ctor> = new Map(),
    percpu = true,
  ) {
    super(phys, buddy, options, fresh, ctors);
    this.adaptive = options.adaptive;
    this.percpu = percpu;
    this.blockIdx = blockWord(this.nrCpus);
    this.mem = phys.words;
    this.fast = !this.generic && this.nrNodes === 1;
  }

  /* ------------------------------------------------------------------ caches */

  /**
   * SLAB's layout of a new cache (layout.ts slabGeometry). An off-slab cache's freelist
   * cache is made now, as Linux's __kmem_cache_create looks up its kmalloc cache.
   */
  override cacheGeometry(
    objectSize: number,
    align: number,
    flags: number,
    hasCtor: boolean,
    dual: boolean,
  ): CacheGeometry | null {
    const g = slabGeometry(
      objectSize,
      align,
      flags,
      hasCtor,
      this.pageSize,
      this.maxOrder,
      dual,
      this.initOnFree,
      this.phys.totalPages * this.pageSize,
      // Not for a freelist cache itself, nor for the boot cache (made before any other).
      this.makingFreelistCache !== true && this.boot !== undefined,
    );
    if (g === null || g.minPartial !== Mgmt.OFF_SLAB) return g;
    const bytes = freelistCacheSize(g.objects);
    const name = arrays.freelistCacheName(bytes);
    if (this.findByName(name) !== null) return g;
    this.makingFreelistCache = true;
    try {
      const fc = this.createCacheInternal(
        name,
        bytes,
        0,
        SlabFlag.KMALLOC | SlabFlag.NO_MERGE,
        null,
      );
      if (fc !== null) return g;
    } finally {
      this.makingFreelistCache = false;
    }
    // No memory for the freelist cache's descriptor: keep the index array on the slab.
    this.makingFreelistCache = true;
    try {
      return this.cacheGeometry(objectSize, align, flags, hasCtor, dual);
    } finally {
      this.makingFreelistCache = false;
    }
  }

  /* ------------------------------------------------------------------ allocation */

  /**
   * ____cache_alloc: the array's most recently freed object; an empty array (or views to
   * make) goes through allocRefill. The object's bit is set as it leaves the array.
   */
  override alloc(c: KmemCache, gfp: number, size: number): number {
    if (this.smp === true && c.dv[Desc.SERIAL] !== c.serial) checkHandle(this, c, "alloc");
    if (this.failslab !== null && this.shouldFailSlab(c, gfp)) return 0;
    const v = this.views[c.realId];
    // Another context may have replaced the block (tuneCache): only with several cpus.
    if (
      v === undefined ||
      v.serial !== c.serial ||
      (this.smp === true && v.block !== c.dv[this.blockIdx]) ||
      v.ac[Ac.AVAIL] === 0
    ) {
      return this.allocRefill(c, gfp, size);
    }
    const ac = v.ac;
    const n = (ac[Ac.AVAIL] as number) - 1;
    const obj = (ac[Ac.ENTRY + n] as number) >>> 0;
    // Marked allocated before it leaves the array: never counted in its slab and in
    // neither (a context dying between: recover.ts).
    if (this.fast === true) this.markAllocatedFast(c, obj, ac, n);
    else this.markAllocated(c, obj, ac, n);
    ac[Ac.AVAIL] = n;
    ac[Ac.TOUCHED] = 1;
    c.cpu[CpuSlot.ACTIVE]!++;
    if ((gfp & Gfp.ZERO) !== 0 || this.initOnAlloc) return postAlloc(this, c, obj, gfp, size);
    return obj;
  }

  /** alloc with views to make or refresh, an empty array to refill, or no arrays. */
  private allocRefill(c: KmemCache, gfp: number, size: number): number {
    let v = this.views[c.realId];
    if (v === undefined || v.serial !== c.serial || v.block !== c.dv[this.blockIdx]) {
      const opened = arrays.openArrays(this, c);
      if (opened === null) return 0;
      v = opened;
    }
    const ac = v.ac;
    let n = ac[Ac.AVAIL] as number;
    if (n === 0) {
      if (v.arrays === false) return this.allocDirect(c, v, gfp, size, -1);
      n = arrays.refill(this, c, v, gfp);
      if (n === 0) return 0;
    }
    n--;
    const obj = (ac[Ac.ENTRY + n] as number) >>> 0;
    this.markAllocated(c, obj, ac, n);
    ac[Ac.AVAIL] = n;
    ac[Ac.TOUCHED] = 1;
    c.cpu[CpuSlot.ACTIVE]!++;
    if ((gfp & Gfp.ZERO) !== 0 || this.initOnAlloc) return postAlloc(this, c, obj, gfp, size);
    return obj;
  }

  /**
   * kmem_cache_alloc_node: this cpu's node (or none) is served by the array; another node's
   * objects come from that node's slabs directly (____cache_alloc_node).
   */
  override allocNode(c: KmemCache, gfp: number, size: number, nid: number): number {
    if (nid < 0 || this.nrNodes === 1 || nid === this.buddy.localNode) {
      return this.alloc(c, gfp, size);
    }
    if (this.smp === true && c.dv[Desc.SERIAL] !== c.serial) checkHandle(this, c, "alloc");
    if (this.failslab !== null && this.shouldFailSlab(c, gfp)) return 0;
    const v = this.arraysOf(c);
    if (v === null) return 0;
    return this.allocDirect(c, v, gfp, size, nid);
  }

  /** One object straight from the slabs (debug caches, no arrays, another node). */
  private allocDirect(c: KmemCache, v: ArrayViews, gfp: number, size: number, nid: number): number {
    const obj = arrays.allocFromSlabs(this, c, v, gfp, nid);
    if (obj === 0) return 0;
    this.one[0] = obj;
    this.markAllocated(c, obj, this.one, 0);
    c.cpu[CpuSlot.ACTIVE]!++;
    if (c.debug !== 0 || (gfp & Gfp.ZERO) !== 0 || this.initOnAlloc) {
      try {
        return postAlloc(this, c, obj, gfp, size);
      } catch (err) {
        if (c.debug !== 0) slabs.setAside(this, c, v, obj);
        throw err;
      }
    }
    return obj;
  }

  /**
   * Sets the allocation bit of `obj`, which left array `ac` (entry `n`). An entry that is
   * not a free object of the cache is put back and reported (ASLAB-3).
   */
  private markAllocated(c: KmemCache, obj: number, ac: Int32Array, n: number): void {
    const head = this.slabOf(obj);
    const i = head * Frame.WORDS;
    const off =
      obj -
      (head * this.pageSize +
        ((this.f[i + SlabPg.COUNTERS] as number) >>> SlabPg.COLOUR_SHIFT) * COLOUR_UNIT +
        c.redLeft);
    const idx =
      (head !== 0 && off >>> 0 < c.span && (off & 7) === 0
        ? (c.slotIndex[off >>> 3] as number)
        : 0) - 1;
    if (idx < 0 || this.f[i + SlabPg.CACHE] !== c.realId) this.badEntry(c, obj, ac, n);
    const wi = this.bitmapWord(c, head) + (idx >>> 5);
    const m = 1 << (idx & 31);
    if (this.smp === false) {
      const w = this.phys.word(wi);
      if ((w & m) !== 0) this.badEntry(c, obj, ac, n);
      this.phys.setWord(wi, w | m);
    } else if (!this.setBitShared(wi, c.remote, m)) this.badEntry(c, obj, ac, n);
  }

  /** markAllocated with one cpu, one node and one buffer: the word indexed directly. */
  private markAllocatedFast(c: KmemCache, obj: number, ac: Int32Array, n: number): void {
    const head = this.slabOf(obj);
    const i = head * Frame.WORDS;
    const off =
      obj -
      (head * this.pageSize +
        ((this.f[i + SlabPg.COUNTERS] as number) >>> SlabPg.COLOUR_SHIFT) * COLOUR_UNIT +
        c.redLeft);
    const idx =
      (head !== 0 && off >>> 0 < c.span && (off & 7) === 0
        ? (c.slotIndex[off >>> 3] as number)
        : 0) - 1;
    const wi = this.bitmapWord(c, head) + (idx >>> 5);
    const m = 1 << (idx & 31);
    const w = this.mem[wi] as number;
    if (idx < 0 || this.f[i + SlabPg.CACHE] !== c.realId || (w & m) !== 0) {
      this.badEntry(c, obj, ac, n);
    }
    this.mem[wi] = w | m;
  }

  private badEntry(c: KmemCache, obj: number, ac: Int32Array, n: number): never {
    ac[Ac.AVAIL] = n + 1;
    throw new KmemError(
      "CORRUPTION",
      `ASLAB-3: the array cache of ${c.name} holds ${hex(obj)}, not a free object of it`,
    );
  }

  /* ------------------------------------------------------------------ freeing */

  /** kmem_cache_free: checks as SLUB's, then the object goes to the array. */
  override free(c: KmemCache, addr: number): void {
    if (this.smp === true && c.dv[Desc.SERIAL] !== c.serial) checkHandle(this, c, "free");
    if (addr >>> 0 !== addr) this.badAddress(addr, c.name);
    const head = this.slabOf(addr);
    if (head === 0) this.notSlabObject(c, addr);
    const id = this.f[head * Frame.WORDS + SlabPg.CACHE] as number;
    if (id !== c.realId) this.wrongCache(c, addr, id);
    this.freeToArray(c, head, addr);
  }

  override freeInSlab(head: number, addr: number): void {
    this.freeToArray(this.slabCache(head), head, addr);
  }

  /**
   * Index of the object starting at `addr` in slab `head`: from s_mem, the slab's coloured
   * start; INVALID_FREE if none starts there.
   */
  override objectIndex(c: KmemCache, head: number, addr: number): number {
    const off =
      addr -
      (head * this.pageSize +
        ((this.f[head * Frame.WORDS + SlabPg.COUNTERS] as number) >>> SlabPg.COLOUR_SHIFT) *
          COLOUR_UNIT +
        c.redLeft);
    const idx =
      (off >>> 0 < c.span && (off & 7) === 0 ? (c.slotIndex[off >>> 3] as number) : 0) - 1;
    if (idx < 0) this.notObjectAt(c, head, addr);
    return idx;
  }

  private notObjectAt(c: KmemCache, head: number, addr: number): never {
    throw new KmemError(
      "INVALID_FREE",
      `${c.name}: ${hex(addr)} is not the start of an object (slab at ${hex(head * this.pageSize)}, objects of ${c.size} bytes from ${hex(slabs.slabStart(this, head) + c.redLeft)})`,
    );
  }

  /**
   * __cache_free with one cpu, one node and one buffer, the common case inline: a live
   * object of a cache with arrays goes on the array. Anything else (several cpus, no views
   * yet, no arrays, debug or init_on_free, a bit already clear, a slab set aside) goes to
   * freeGeneric before anything changes.
   */
  private freeToArray(c: KmemCache, head: number, addr: number): void {
    const v = this.views[c.realId];
    if (
      this.fast === false ||
      v === undefined ||
      v.serial !== c.serial ||
      v.arrays === false ||
      c.freeChecks !== 0 ||
      this.initOnFree
    ) {
      this.freeGeneric(c, head, addr);
      return;
    }
    const counters = this.f[head * Frame.WORDS + SlabPg.COUNTERS] as number;
    const off =
      addr - (head * this.pageSize + (counters >>> SlabPg.COLOUR_SHIFT) * COLOUR_UNIT + c.redLeft);
    const idx =
      (off >>> 0 < c.span && (off & 7) === 0 ? (c.slotIndex[off >>> 3] as number) : 0) - 1;
    if (idx < 0) this.notObjectAt(c, head, addr);
    const wi = this.bitmapWord(c, head) + (idx >>> 5);
    const m = 1 << (idx & 31);
    const w = this.mem[wi] as number;
    if ((w & m) === 0 || (counters & SlabPg.QUARANTINED) !== 0) {
      this.freeGeneric(c, head, addr);
      return;
    }
    c.cpu[CpuSlot.ACTIVE]!--;
    const ac = v.ac;
    let n = ac[Ac.AVAIL] as number;
    if (n >= (ac[Ac.LIMIT] as number)) n = arrays.flushArray(this, c, v);
    // In the array before it is marked free (recover.ts); flushArray leaves its bits be.
    ac[Ac.ENTRY + n] = addr;
    ac[Ac.AVAIL] = n + 1;
    this.mem[wi] = w & ~m;
  }

  /**
   * __cache_free: the allocation bit must be set (else DOUBLE_FREE, nothing changed); debug
   * checks; then the array (full: cache_flusharray first), an alien array for another
   * node's object, or, without arrays, the slab itself.
   */
  private freeGeneric(c: KmemCache, head: number, addr: number): void {
    // objectIndex, with the slab's counters read once (colour, and the quarantine bit).
    const counters = this.f[head * Frame.WORDS + SlabPg.COUNTERS] as number;
    const off =
      addr - (head * this.pageSize + (counters >>> SlabPg.COLOUR_SHIFT) * COLOUR_UNIT + c.redLeft);
    const idx =
      (off >>> 0 < c.span && (off & 7) === 0 ? (c.slotIndex[off >>> 3] as number) : 0) - 1;
    if (idx < 0) this.notObjectAt(c, head, addr);
    const wi = this.bitmapWord(c, head) + (idx >>> 5);
    const m = 1 << (idx & 31);
    const rd = c.remote;
    let w = this.phys.word(wi);
    const state = rd === 0 ? w : w ^ this.phys.word(wi + rd);
    if (
      (state & m) === 0 ||
      ((counters & SlabPg.QUARANTINED) !== 0 && this.isSetAside(c, head, addr))
    ) {
      this.alreadyFree(c, addr, state & m);
    }
    if (c.freeChecks !== 0 || this.initOnFree) {
      this.preFreeChecked(c, head, addr);
      w = this.phys.word(wi);
    }
    let v = this.views[c.realId];
    if (
      v === undefined ||
      v.serial !== c.serial ||
      (this.smp === true && v.block !== c.dv[this.blockIdx])
    ) {
      v = this.arraysOf(c) as ArrayViews;
    }
    if (v.arrays === false) {
      if (this.smp === false) this.phys.setWord(wi, w & ~m);
      else this.clearShared(c, wi, rd, w, m, addr);
      c.cpu[CpuSlot.ACTIVE]!--;
      arrays.freeToSlab(this, c, addr);
      return;
    }
    if (this.nrNodes > 1 && this.buddy.nodeOf(head) !== this.buddy.localNode) {
      // Into the alien array, then marked free, as into the cpu's array below: a context
      // dying between leaves it allocated, in no array once its own are given back.
      const al = arrays.freeAlien(this, c, v, this.buddy.nodeOf(head), addr);
      const k = (al[Ac.AVAIL] as number) - 1;
      if (this.smp === false) this.phys.setWord(wi, w & ~m);
      else if (!this.flipFree(wi, rd, w, m)) {
        al[Ac.AVAIL] = k;
        this.alreadyFree(c, addr, 0);
      }
      c.cpu[CpuSlot.ACTIVE]!--;
      return;
    }
    // Into the array, then marked free: a context dying between leaves it allocated, never
    // counted in its slab and in no array (recover.ts). Of two cpus freeing it at once, the
    // second's flip finds it free and takes it back out of its array.
    const ac = v.ac;
    let n = ac[Ac.AVAIL] as number;
    if (n >= (ac[Ac.LIMIT] as number)) n = arrays.flushArray(this, c, v);
    ac[Ac.ENTRY + n] = addr;
    ac[Ac.AVAIL] = n + 1;
    if (this.smp === false) this.phys.setWord(wi, w & ~m);
    else if (!this.flipFree(wi, rd, w, m)) {
      ac[Ac.AVAIL] = n;
      this.alreadyFree(c, addr, 0);
    }
    c.cpu[CpuSlot.ACTIVE]!--;
  }

  /** clearShared's flip, reporting instead of throwing: false when it was free already. */
  private flipFree(wi: number, rd: number, w: number, m: number): boolean {
    const ri = wi + rd;
    const view = this.phys.wordView(ri);
    const i = this.phys.wordIndex(ri);
    if (rd === 0) return (Atomics.and(view, i, ~m) & m) !== 0;
    if (((Atomics.xor(view, i, m) ^ w) & m) !== 0) return true;
    Atomics.xor(view, i, m);
    return false;
  }

  /** preFree; damage it finds sets the object aside, and its slab leaves the lists. */
  private preFreeChecked(c: KmemCache, head: number, addr: number): void {
    try {
      preFree(this, c, head, addr);
    } catch (err) {
      const v = this.arraysOf(c);
      if (c.debug !== 0 && v !== null) slabs.setAside(this, c, v, addr);
      throw err;
    }
  }

  /* ------------------------------------------------------------------ arrays */

  /** This context's views of `c`'s block, made on first use; null: no memory for it. */
  arraysOf(c: KmemCache): ArrayViews | null {
    const v = this.views[c.realId];
    if (v !== undefined && v.serial === c.serial && v.block === c.dv[this.blockIdx]) {
      return v;
    }
    return arrays.openArrays(this, c);
  }

  /* ------------------------------------------------------------------ what SLUB asks */

  override cachedObjects(): CachedObject[] {
    return cachedObjects(this);
  }

  /**
   * destroy(), every node's list_lock held: every slab goes but those holding an off-slab
   * index array (slabs.ts releaseAll; recover.ts).
   */
  override releaseCached(c: KmemCache): void {
    const b = (c.dv[arrays.blockAt(this)] as number) >>> 0;
    if (b !== 0) slabs.releaseAll(this, c, arrays.viewsOf(this, c, b), true);
  }

  /** Its slabs go with releaseCached and afterRelease (none is on SLUB's lists). */
  override discardSlabs(_c: KmemCache): void {}

  /** destroy(), no lock of `c` held: the slabs left and their index arrays, then the block. */
  override afterRelease(c: KmemCache): void {
    const b = (c.dv[arrays.blockAt(this)] as number) >>> 0;
    if (b !== 0) slabs.releaseAll(this, c, arrays.viewsOf(this, c, b), false);
    arrays.releaseBlock(this, c);
  }

  /** Where slab `pfn`'s first slot starts: its colour offset in (s_mem). */
  override objectBase(pfn: number): number {
    return slabs.slabStart(this, pfn);
  }

  /** kmem_cache_shrink: every array drained, every free slab destroyed. Returns pages. */
  override shrink(c: KmemCache): number {
    checkHandle(this, c, "shrink");
    const real = this.cacheById(c.realId) as KmemCache;
    tune.drainAll(this, real);
    return tune.drainFreeSlabs(this, real);
  }

  override shrinkAll(nrToScan: number): number {
    return tune.shrinkEveryCache(this, nrToScan);
  }

  override drainCpu(cpu: number): number {
    const n = tune.drainDeadCpu(this, cpu) + super.drainCpu(cpu);
    // A block slab_mutex's recovery left to free (recover.ts).
    lockSlabMutex(this);
    try {
      finishArrays(this);
    } finally {
      unlockSlabMutex(this);
    }
    return n;
  }

  /**
   * @internal Every cache's node list_lock words for offlineCpu, each recovered as SLAB's
   * (recover.ts: the shared array and the three lists), not as SLUB's.
   */
  override listLocks(): ReturnType<SlubAllocator["listLocks"]> {
    return super.listLocks().map((l) => ({
      ...l,
      recover: (dead: number) => {
        const c = this.cacheById(l.cacheId);
        if (c === null || c.desc !== l.desc) return l.recover(dead);
        return recoverSlabNode(this, c, l.node, dead);
      },
    }));
  }

  /**
   * @internal Whether `obj` is an object start of a slab of `c` on node `n`, not set aside,
   * its allocation bit clear (recover.ts; cold).
   */
  isFreeObjectOf(c: KmemCache, obj: number, n: number): boolean {
    const pfn = obj >>> 0 === obj ? this.slabOf(obj) : 0;
    if (pfn === 0 || this.slabNode(pfn) !== n) return false;
    const i = pfn * Frame.WORDS;
    const counters = this.f[i + SlabPg.COUNTERS] as number;
    if (this.f[i + SlabPg.CACHE] !== c.realId || (counters & SlabPg.QUARANTINED) !== 0) {
      return false;
    }
    const off = obj - slabs.slabStart(this, pfn) - c.redLeft;
    if (off < 0 || off % c.size !== 0 || off / c.size >= c.objects) return false;
    return !this.testBit(c, pfn, off / c.size);
  }

  override verify(): void {
    verifySlab(this);
  }

  /* ------------------------------------------------------------------ tunables */

  /** The `echo "name limit batchcount shared" > /proc/slabinfo` write. */
  tuneCache(c: KmemCache, limit: number, batch: number, shared: number): void {
    tune.tuneCache(this, c, limit, batch, shared);
  }

  /** cache_reap on this cpu, every cache; returns objects and pages given back. */
  reap(): { objects: number; pages: number } {
    return tune.reapAll(this);
  }

  /** slabinfo's tunables and sharedavail of `c`: [limit, batchcount, shared, sharedavail]. */
  tunables(c: KmemCache): [number, number, number, number] {
    return tune.tunablesOf(this, c);
  }
}
