/*
 * Linux's SLAB (mm/slab.c, as of 6.7; removed in 6.8), the design descended from Bonwick's
 * 1994 slab allocator: every allocation and free goes through a per-cpu array cache, a LIFO
 * stack of free objects with a limit and a batchcount. An empty array refills batchcount
 * objects from its node's shared array, else from the node's slabs; a full one flushes
 * batchcount objects to the shared array if it has room, else back to their slabs. A free
 * of an object of another node's slab goes to an alien array for that node, which drains
 * into that node's shared array and slabs when full. cache_reap drains what was not used.
 *
 * kmem's SLAB keeps SLUB's slabs: the slab pages, their allocation bitmaps (misuse caught
 * in O(1) before any state changes), freelists, partial lists, descriptors, cache registry,
 * debug hooks and verify() are src/slub's, and SLAB is the object layer above them (as
 * Linux's SLAB and SLUB shared mm/slab_common.c). Where it departs from mm/slab.c:
 *   - a node's slabs are SLUB's partial list (empty slabs kept up to min_partial) rather
 *     than the three lists full/partial/free with free_limit; reap gives back at most
 *     (free_limit + 5 * num - 1) / (5 * num) empty slabs per node per round, as
 *     drain_freelist did. No slab colouring; the bitmap in place of the freelist index array.
 *   - alien arrays belong to a cpu (Linux: to a node pair, with a lock of their own), so
 *     that filling one takes no lock.
 *   - debug caches and instances made with percpu: false have no arrays: every object goes
 *     to and from its slab under list_lock, checked on the way (SLUB's debug caches have no
 *     sheaves either). Linux kept arrays for debug caches and checked at the array.
 *   - tuning to a larger limit than the arrays have room for makes a new array block, which
 *     needs every other cpu offline (Linux sends each cpu an IPI to swap its array).
 *
 * Files: this one (the fast paths: array push and pop), arrays.ts (refill, flush, alien
 * arrays, the block), tune.ts (tunables, cache_reap, adaptive magazines), verify.ts, layout.ts.
 *
 * Invariants (verify() reports them by id; SLUB's SLAB-1..10 hold as well, with the
 * arrays' objects counted where the sheaves' are; "ASLAB" is the array layer's prefix):
 *   ASLAB-1  a cache's array block has its magic and cache id, and lies in memory
 *   ASLAB-2  each array: avail and limit within its slots; a per-cpu array has
 *            1 <= batchcount <= limit; the cache's tunables: 1 <= batchcount <= limit <= slots
 *            (avail may exceed a limit lowered by another cpu until the owner's next flush)
 *   ASLAB-3  each array entry is the start of an object of the cache, allocation bit clear,
 *            held once (in one array, not on a freelist or a sheaf)
 *   ASLAB-4  an alien array for node n holds objects of node n's slabs only
 *
 * Locks: SLUB's (see src/slub/slub.ts) and no more. A cpu's array cache and its alien
 * arrays are its own (touched by no other cpu while it is online: no lock). A node's shared
 * array is guarded by that node's list_lock of the cache (4 in the lock order), taken
 * alone; the array block's tunables words are written under slab_mutex (2).
 */

import { hex, KmemError } from "../errors.js";
import { Frame, type PhysMem } from "../memory/index.js";
import { type BuddyAllocator, Gfp } from "../page/index.js";
import type { Ctor, KmemCache } from "../slab-common/index.js";
import {
  type CachedObject,
  CpuSlot,
  checkHandle,
  Desc,
  postAlloc,
  preFree,
  SlubAllocator,
  type SlubOptions,
  SlubPg,
} from "../slub/index.js";
import * as arrays from "./arrays.js";
import { Ac } from "./layout.js";
import * as tune from "./tune.js";
import { cachedObjects } from "./verify.js";

export interface SlabOptions extends SlubOptions {
  /** Per-cpu limits adapt to contention (Bonwick & Adams's magazine resizing). */
  adaptive: boolean;
}

/** One context's views of a cache's array block. */
export interface ArrayViews {
  /** The cache's serial when built (a new cache with the same id gets new views). */
  serial: number;
  /** The block's address. */
  block: number;
  /** The block's header and tunables. */
  hdr: Int32Array;
  /** This cpu's array cache. */
  ac: Int32Array;
  /** Each node's shared array (empty array when the cache has none). */
  shared: Int32Array[];
  /** This cpu's alien arrays, by node (none with one node). */
  alien: Int32Array[];
}

/** SLAB: SLUB's slabs with Linux SLAB's array caches above them. */
export class SlabAllocator extends SlubAllocator {
  /** This context's views of each cache's arrays, by cache id. */
  readonly views: (ArrayViews | undefined)[] = [];
  /** Instance-wide: caches adapt their per-cpu limits. */
  readonly adaptive: boolean;
  /** Per-cpu caching on (the `percpu` option): without it, no arrays. */
  readonly percpu: boolean;

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
  }

  /* ------------------------------------------------------------------ allocation */

  /** ____cache_alloc: the array's most recently freed object, or a refill first. */
  override alloc(c: KmemCache, gfp: number, size: number): number {
    if (this.smp === true && c.dv[Desc.SERIAL] !== c.serial) checkHandle(this, c, "alloc");
    if (this.failslab !== null && this.shouldFailSlab(c, gfp)) return 0;
    const v = c.debug === 0 ? this.arraysOf(c) : null;
    if (v === null) return this.allocDirect(c, gfp, size, -1);
    const ac = v.ac;
    let n = ac[Ac.AVAIL] as number;
    if (n === 0) {
      n = arrays.refill(this, c, v, gfp);
      if (n === 0) return 0;
    }
    n--;
    const obj = (ac[Ac.ENTRY + n] as number) >>> 0;
    ac[Ac.AVAIL] = n;
    ac[Ac.TOUCHED] = 1;
    this.markAllocated(c, obj, ac, n);
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
    return this.allocDirect(c, gfp, size, nid);
  }

  /** One object straight from the slabs (debug caches, no arrays, another node). */
  private allocDirect(c: KmemCache, gfp: number, size: number, nid: number): number {
    const obj = arrays.allocFromSlabs(this, c, gfp, nid);
    if (obj !== 0 && (c.debug !== 0 || (gfp & Gfp.ZERO) !== 0 || this.initOnAlloc)) {
      return postAlloc(this, c, obj, gfp, size);
    }
    return obj;
  }

  /**
   * Sets the allocation bit of `obj`, which left this cpu's array (entry `n`). An entry that
   * is not a free object of the cache is put back and reported (ASLAB-3).
   */
  private markAllocated(c: KmemCache, obj: number, ac: Int32Array, n: number): void {
    const head = this.slabOf(obj);
    const off = obj - (head * this.pageSize + c.redLeft);
    const idx =
      (head !== 0 && off >>> 0 < c.span && (off & 7) === 0
        ? (c.slotIndex[off >>> 3] as number)
        : 0) - 1;
    if (idx < 0 || this.f[head * Frame.WORDS + SlubPg.CACHE] !== c.realId) {
      this.badEntry(c, obj, ac, n);
    }
    const wi = this.bitmapWord(c, head) + (idx >>> 5);
    const m = 1 << (idx & 31);
    if (this.smp === false) {
      const w = this.phys.word(wi);
      if ((w & m) !== 0) this.badEntry(c, obj, ac, n);
      this.phys.setWord(wi, w | m);
    } else if (!this.setBitShared(wi, c.remote, m)) this.badEntry(c, obj, ac, n);
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
    if (head === 0) {
      throw new KmemError(
        "INVALID_FREE",
        `${c.name}: ${hex(addr)} is not a slab object (it was never returned by this cache)`,
      );
    }
    const id = this.f[head * Frame.WORDS + SlubPg.CACHE] as number;
    if (id !== c.realId) {
      const owner = this.cacheById(id);
      throw new KmemError(
        "WRONG_CACHE",
        `object ${hex(addr)} belongs to cache ${owner === null ? "?" : JSON.stringify(owner.name)}, not ${JSON.stringify(c.name)}`,
      );
    }
    this.freeToArray(c, head, addr);
  }

  override freeInSlab(head: number, addr: number): void {
    this.freeToArray(this.slabCache(head), head, addr);
  }

  /**
   * __cache_free: the allocation bit must be set (else DOUBLE_FREE, nothing changed); debug
   * checks; then the array (full: cache_flusharray first), an alien array for another
   * node's object, or, without arrays, the slab itself.
   */
  private freeToArray(c: KmemCache, head: number, addr: number): void {
    const idx = this.objectIndex(c, head, addr);
    const wi = this.bitmapWord(c, head) + (idx >>> 5);
    const m = 1 << (idx & 31);
    const rd = c.remote;
    let w = this.phys.word(wi);
    const state = rd === 0 ? w : w ^ this.phys.word(wi + rd);
    if ((state & m) === 0 || this.isSetAside(c, head, addr)) this.alreadyFree(c, addr, state & m);
    if (c.freeChecks !== 0 || this.initOnFree) {
      preFree(this, c, head, addr);
      w = this.phys.word(wi);
    }
    if (this.smp === false) this.phys.setWord(wi, w & ~m);
    else this.clearShared(c, wi, rd, w, m, addr);
    c.cpu[CpuSlot.ACTIVE]!--;
    const v = c.debug === 0 ? this.arraysOf(c) : null;
    if (v === null) {
      arrays.freeToSlab(this, c, head, addr);
      return;
    }
    if (this.nrNodes > 1) {
      const node = this.buddy.nodeOf(head);
      if (node !== this.buddy.localNode) {
        arrays.freeAlien(this, c, v, node, addr);
        return;
      }
    }
    const ac = v.ac;
    let n = ac[Ac.AVAIL] as number;
    if (n >= (ac[Ac.LIMIT] as number)) n = arrays.flushArray(this, c, v);
    ac[Ac.ENTRY + n] = addr;
    ac[Ac.AVAIL] = n + 1;
  }

  /* ------------------------------------------------------------------ arrays */

  /** This context's views of `c`'s arrays, made on first use; null: `c` has none. */
  arraysOf(c: KmemCache): ArrayViews | null {
    const v = this.views[c.realId];
    if (v !== undefined && v.serial === c.serial && v.block === c.dv[arrays.blockAt(this)]) {
      return v;
    }
    return arrays.openArrays(this, c);
  }

  /* ------------------------------------------------------------------ what SLUB asks */

  override cachedObjects(): CachedObject[] {
    return cachedObjects(this);
  }

  override releaseCached(c: KmemCache): void {
    arrays.releaseBlock(this, c);
  }

  override shrink(c: KmemCache): number {
    tune.drainAll(this, c);
    return super.shrink(c);
  }

  override shrinkAll(nrToScan: number): number {
    tune.drainEveryCache(this);
    return super.shrinkAll(nrToScan);
  }

  override drainCpu(cpu: number): number {
    return tune.drainDeadCpu(this, cpu) + super.drainCpu(cpu);
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
