/*
 * Memory pools (Linux mm/mempool.c): a reserve of preallocated elements that guarantees
 * forward progress when the allocator below fails. An allocation tries the allocator first
 * (without reclaim, reserves or warnings), then takes an element from the reserve; a free
 * refills the reserve first, and only a full reserve lets elements go back below.
 *
 * The pool's state lives in managed memory: a descriptor and the element array, both from
 * kmalloc. Elements in the reserve stay allocated in the allocator below (kmalloc or the
 * cache): the reserve is theirs, not free memory.
 *
 *   descriptor (i32 words)
 *   +-------+-------+--------+----------+------+----------+----------+--------------+
 *   | magic | minNr | currNr | elements | size | capacity | cache id | cache serial |
 *   +-------+-------+--------+----------+------+----------+----------+--------------+
 *   | wait seq | waiters |      the wait queue (pool->wait): see src/sync/waitq.ts
 *   +----------+---------+
 *   elements (i32 words, `capacity` of them)
 *   +------+------+-----+-------------+----------+
 *   | el 0 | el 1 | ... | el currNr-1 | (unused) |
 *   +------+------+-----+-------------+----------+
 *             capacity >= minNr; size: element bytes (kmalloc pools) or 0 (cache pools);
 *             cache id -1 for kmalloc pools
 *
 *   | wait seq | waiters | next | prev | pending el | pending n |
 *                          (next/prev: the list of pools, Hdr.POOLS; pending: add()'s intent)
 *
 * The reserve is kept sorted by address (the element array in ascending order; an
 * allocation takes the last), so that "is this element in the reserve" is a binary search
 * and nothing is ever written into an element: a cache with a constructor gets its objects
 * back in their constructed state. Every pool is on one list (Hdr.POOLS, under the pools'
 * lock): krealloc and a cache's free look an address up in every reserve while that list
 * is not empty (one test of a header word when no pool exists), kfree once its context has
 * seen a pool (Kmem.watchPools), so an element freed to the pool and then to the allocator
 * below is DOUBLE_FREE, not an element with two owners.
 *
 * Invariants (checked where a free reads them; damage is CORRUPTION):
 *   POOL-1  the list of pools is a well-formed list of descriptors with their magic, and
 *           each reserve's count and element array lie inside its capacity and memory
 *
 * And: 0 <= currNr <= capacity; currNr <= minNr except right after a shrinking
 * resize, which frees the surplus at once (so currNr <= minNr always holds after a call);
 * every element in the reserve is a live allocation of the pool's allocator, none twice.
 *
 * Concurrency: a pool may be opened in other contexts (Kmem.openMempool). One lock for all
 * pools (Hdr.LOCK_POOL, as Linux's pool->lock; taken before the slab and zone locks, see
 * src/sync/lock.ts) guards the reserve: minNr, currNr, the element array. It is never held
 * across a call into the allocator, which may reclaim and run shrinkers that free to a
 * pool. The wait queue's two words change only by Atomics, outside the lock.
 *
 * A dead context (offlineCpu, src/sync/robust.ts) that held the pools' lock: recoverPools
 * puts right what its critical section left, from the list itself and one intent record:
 *   the list of pools   rebuilt from the next links (each prev set from them), and a
 *                       descriptor a destroy had unmarked (magic 0) unlinked: roll forward
 *   the reserve         add() writes its intent (the element, the count before) into the
 *                       descriptor before its first store to the array and clears it after
 *                       the count; an intent found set is rolled forward: the reserve
 *                       becomes the old elements (read back from the array, whichever of
 *                       add's stores were made) and the new one, sorted. remove() lowers the
 *                       count before it reads the element: a death between loses only that
 *                       element, which was the dead context's. A shrinking resize's surplus
 *                       and a grown array are the dead context's in the same way.
 *
 * Waiting (mempool_alloc): a request that may reclaim (__GFP_DIRECT_RECLAIM) and found
 * allocator and reserve dry sleeps on the pool's wait queue until a free wakes it, then
 * tries again, as Linux does; kmem bounds the wait as its other sleeping allocations
 * (allocWaitMs; __GFP_NOFAIL without bound) and does not wait where nobody could free (one
 * cpu, or no other cpu online). allocAsync waits the same way without blocking the thread.
 */

import { describe, hex, KmemError } from "../errors.js";
import { Hdr, type PhysMem } from "../memory/index.js";
import { Gfp } from "../page/index.js";
import type { KmemCache } from "../slab-common/index.js";
import { waitAsyncOn, waitRound, wakeUp } from "../sync/index.js";

const enum Pool {
  MAGIC = 0,
  MIN_NR = 1,
  CURR_NR = 2,
  ELEMENTS = 3,
  SIZE = 4,
  CAPACITY = 5,
  CACHE_ID = 6,
  CACHE_SERIAL = 7,
  WAIT_SEQ = 8,
  WAITERS = 9,
  /** The list of pools (Hdr.POOLS): the next older and the next newer descriptor, or 0. */
  NEXT = 10,
  PREV = 11,
  /**
   * The intent record of add(): the element joining the reserve (0: none) and the count
   * it joins, written before the element array changes (see "A dead context" above).
   */
  PENDING_EL = 12,
  PENDING_N = 13,
  WORDS = 14,
  MAGIC_VALUE = 0x6d706f6c, // "mpol"
}

/** Largest reserve a pool may keep. */
export const MEMPOOL_MAX_NR = 1 << 20;

/** What a pool needs from the instance: kmalloc, the cache calls, and the word view. */
export interface PoolBackend {
  /** The instance's memory, every node's window. */
  readonly mem: PhysMem;
  kmalloc(size: number, gfp: number): number;
  kfree(addr: number): void;
  ksize(addr: number): number;
  /** The pool's own memory (descriptor, element array): kmem's metadata, which kfree refuses. */
  kmallocOwn(size: number, gfp: number): number;
  kfreeOwn(addr: number): void;
  /** Throws as a free would unless `addr` is a live object of `cache`; changes nothing. */
  checkLive(cache: KmemCache, addr: number, fn: string): void;
  /** Takes and releases the pools' lock (no-ops with one cpu). */
  lock(): void;
  unlock(): void;
  /** This context's handle of cache `id`, or null. */
  cacheById(id: number): KmemCache | null;
  /** Whether this context may block now waiting for another to free (BuddyAllocator.mayBlock). */
  mayBlock(): boolean;
  /** Whether a wait without blocking could be woken (BuddyAllocator.othersCouldFree). */
  othersCouldFree(): boolean;
  /** allocWaitMs: how long a request without __GFP_NOFAIL waits. */
  waitMs(): number;
}

export class Mempool {
  /** The cache the elements come from, or null for a kmalloc pool. */
  readonly cache: KmemCache | null;
  /** Element size in bytes. */
  readonly size: number;
  private readonly mm: PoolBackend;
  private readonly desc: number;
  private dead = false;

  /** @internal Built by Kmem.createMempool. */
  constructor(mm: PoolBackend, desc: number, cache: KmemCache | null, size: number) {
    this.mm = mm;
    this.desc = desc;
    this.cache = cache;
    this.size = size;
  }

  /**
   * mempool_create: a pool of `minNr` elements allocated now. Returns null (leaving nothing
   * behind) when the reserve cannot be filled.
   */
  static create(
    mm: PoolBackend,
    minNr: number,
    cache: KmemCache | null,
    size: number,
  ): Mempool | null {
    const desc = mm.kmallocOwn(Pool.WORDS * 4, Gfp.KERNEL);
    if (desc === 0) return null;
    const elements = mm.kmallocOwn(Math.max(minNr, 1) * 4, Gfp.KERNEL);
    if (elements === 0) {
      mm.kfreeOwn(desc);
      return null;
    }
    const w = mm.mem;
    const d = desc >>> 2;
    w.setWord(d + Pool.MAGIC, Pool.MAGIC_VALUE);
    w.setWord(d + Pool.MIN_NR, minNr);
    w.setWord(d + Pool.CURR_NR, 0);
    w.setWord(d + Pool.ELEMENTS, elements);
    w.setWord(d + Pool.SIZE, cache === null ? size : 0);
    w.setWord(d + Pool.CAPACITY, Math.max(minNr, 1));
    w.setWord(d + Pool.CACHE_ID, cache === null ? -1 : cache.id);
    w.setWord(d + Pool.CACHE_SERIAL, cache === null ? 0 : cache.ownSerial);
    w.setWord(d + Pool.WAIT_SEQ, 0);
    w.setWord(d + Pool.WAITERS, 0);
    mm.lock();
    const first = w.words[Hdr.POOLS] as number;
    w.setWord(d + Pool.NEXT, first);
    w.setWord(d + Pool.PREV, 0);
    if (first !== 0) w.setWord((first >>> 2) + Pool.PREV, desc);
    w.words[Hdr.POOLS] = desc;
    mm.unlock();
    const pool = new Mempool(mm, desc, cache, size);
    while (pool.currNr < minNr) {
      const el = pool.allocElement(Gfp.KERNEL);
      if (el === 0) {
        pool.destroy();
        return null;
      }
      pool.add(el);
    }
    return pool;
  }

  /**
   * Opens in this context the pool whose descriptor is at `address` (`pool.address` in the
   * context that made it). Throws TypeError if there is no pool there.
   */
  static open(mm: PoolBackend, address: number): Mempool {
    const w = mm.mem;
    const d = address >>> 2;
    if (
      address >>> 0 !== address ||
      (address & 3) !== 0 ||
      !w.hasFrame(address >>> w.pageShift) ||
      !w.hasFrame((address + Pool.WORDS * 4 - 1) >>> w.pageShift) ||
      w.word(d + Pool.MAGIC) !== Pool.MAGIC_VALUE
    ) {
      throw new TypeError(`openMempool: no memory pool at ${describe(address)}`);
    }
    const id = w.word(d + Pool.CACHE_ID);
    if (id < 0) return new Mempool(mm, address, null, w.word(d + Pool.SIZE));
    const cache = mm.cacheById(id);
    if (cache === null || cache.ownSerial !== w.word(d + Pool.CACHE_SERIAL)) {
      throw new KmemError(
        "DESTROYED",
        `openMempool: the cache of the pool at ${hex(address)} was destroyed`,
      );
    }
    return new Mempool(mm, address, cache, cache.objectSize);
  }

  /** The descriptor's address: what {@link Mempool.open} (Kmem.openMempool) takes elsewhere. */
  get address(): number {
    return this.desc;
  }

  /** Elements the pool guarantees (its reserve's target size). */
  get minNr(): number {
    return this.mm.mem.word((this.desc >>> 2) + Pool.MIN_NR);
  }

  /** Elements in the reserve now. */
  get currNr(): number {
    return this.mm.mem.word((this.desc >>> 2) + Pool.CURR_NR);
  }

  private allocElement(gfp: number): number {
    return this.cache === null ? this.mm.kmalloc(this.size, gfp) : this.cache.alloc(gfp);
  }

  private freeElement(el: number): void {
    if (this.cache === null) this.mm.kfree(el);
    else this.cache.free(el);
  }

  /** Puts `el` in the reserve, keeping the element array sorted by address (lock held). */
  private add(el: number): void {
    const w = this.mm.mem;
    const d = this.desc >>> 2;
    const n = w.word(d + Pool.CURR_NR);
    const a = w.wordsAt(w.word(d + Pool.ELEMENTS), n + 1);
    const at = reserveSlot(a, n, el);
    // The intent first (recoverPools), then the array, the count, and the intent cleared.
    w.setWord(d + Pool.PENDING_N, n);
    w.setWord(d + Pool.PENDING_EL, el);
    a.copyWithin(at + 1, at, n);
    a[at] = el;
    w.setWord(d + Pool.CURR_NR, n + 1);
    w.setWord(d + Pool.PENDING_EL, 0);
  }

  /** Takes the last element of the reserve (lock held). */
  private remove(): number {
    const w = this.mm.mem;
    const d = this.desc >>> 2;
    const n = w.word(d + Pool.CURR_NR) - 1;
    w.setWord(d + Pool.CURR_NR, n);
    return w.word((w.word(d + Pool.ELEMENTS) >>> 2) + n);
  }

  /**
   * mempool_alloc: the allocator first (no reclaim, no reserves, no warning), then the
   * reserve, then the allocator once more with the caller's full gfp. When all three fail
   * and the request may reclaim (GFP_KERNEL), it sleeps on the pool's wait queue until a
   * free refills the reserve, and tries again: up to allocWaitMs, or for as long as it
   * takes with __GFP_NOFAIL, while another cpu is online to free an element. Returns 0
   * when it gets nothing.
   */
  alloc(gfp: number = Gfp.KERNEL): number {
    this.live("alloc");
    checkPoolGfp(gfp);
    let el = this.tryAlloc(gfp);
    if (el === 0 && this.waits(gfp) && this.mm.mayBlock()) el = this.sleepFor(gfp);
    if (el !== 0 && (gfp & Gfp.ZERO) !== 0) this.zero(el);
    return el >>> 0;
  }

  /**
   * alloc that waits without blocking the thread (for a main thread): where alloc would
   * sleep, it waits with Atomics.waitAsync on the pool's wait queue. Resolves to the
   * element, or 0.
   */
  async allocAsync(gfp: number = Gfp.KERNEL): Promise<number> {
    this.live("allocAsync");
    checkPoolGfp(gfp);
    const mm = this.mm;
    let el = this.tryAlloc(gfp);
    if (el === 0 && this.waits(gfp) && mm.othersCouldFree() && this.enqueue()) {
      const { view, seq, waiters } = this.waitQueue();
      const deadline = Date.now() + mm.waitMs();
      const nofail = (gfp & Gfp.NOFAIL) !== 0;
      try {
        for (;;) {
          const before = Atomics.load(view, seq);
          el = this.tryAlloc(gfp);
          if (el !== 0) break;
          const ms = waitRound(deadline, nofail);
          if (ms === 0 || !mm.othersCouldFree()) break;
          await waitAsyncOn(view, seq, before, ms);
        }
      } finally {
        Atomics.sub(view, waiters, 1);
      }
    }
    if (el !== 0 && (gfp & Gfp.ZERO) !== 0) this.zero(el);
    return el >>> 0;
  }

  /**
   * prepare_to_wait: counts this context among the pool's waiters, under the pool lock so
   * that destroy (which refuses while there are waiters) cannot have freed the descriptor
   * or free it until the count is dropped again. False if the pool was destroyed meanwhile.
   */
  private enqueue(): boolean {
    const { view, waiters } = this.waitQueue();
    this.mm.lock();
    const alive = this.mm.mem.word((this.desc >>> 2) + Pool.MAGIC) === Pool.MAGIC_VALUE;
    if (alive) Atomics.add(view, waiters, 1);
    this.mm.unlock();
    return alive;
  }

  /** The three tries of mempool_alloc, without waiting. */
  private tryAlloc(gfp: number): number {
    const full = (gfp | Gfp.NOMEMALLOC | Gfp.NORETRY | Gfp.NOWARN) & ~Gfp.ZERO;
    const light = full & ~(Gfp.DIRECT_RECLAIM | Gfp.IO);
    let el = this.allocElement(light);
    if (el === 0) {
      this.mm.lock();
      if (this.currNr > 0) el = this.remove();
      this.mm.unlock();
      if (el === 0 && (gfp & Gfp.DIRECT_RECLAIM) !== 0) el = this.allocElement(full);
    }
    return el;
  }

  /** Whether a request of these flags waits for an element at all. */
  private waits(gfp: number): boolean {
    if ((gfp & Gfp.DIRECT_RECLAIM) === 0) return false;
    return (gfp & Gfp.NOFAIL) !== 0 || this.mm.waitMs() > 0;
  }

  /** The pool's wait queue: the view holding its two words, and their indices there. */
  private waitQueue(): { view: Int32Array; seq: number; waiters: number } {
    const w = this.mm.mem;
    const i = (this.desc >>> 2) + Pool.WAIT_SEQ;
    // Both words lie in the descriptor, one kmalloc object: the same page, the same view.
    return { view: w.wordView(i), seq: w.wordIndex(i), waiters: w.wordIndex(i + 1) };
  }

  /**
   * mempool_alloc's sleep (prepare_to_wait on pool->wait, io_schedule_timeout): rounds of
   * Atomics.wait on the wait sequence, trying again after each, until an element comes,
   * the bound passes or every other cpu has gone offline. Counted a waiter (enqueue) from
   * before its first look at the sequence to its return: a free in between always wakes
   * it, and destroy refuses meanwhile.
   */
  private sleepFor(gfp: number): number {
    const mm = this.mm;
    if (!this.enqueue()) return 0;
    const { view, seq, waiters } = this.waitQueue();
    const deadline = Date.now() + mm.waitMs();
    const nofail = (gfp & Gfp.NOFAIL) !== 0;
    try {
      for (;;) {
        const before = Atomics.load(view, seq);
        const el = this.tryAlloc(gfp);
        if (el !== 0) return el;
        const ms = waitRound(deadline, nofail);
        if (ms === 0 || !mm.mayBlock()) return 0;
        Atomics.wait(view, seq, before, ms);
      }
    } finally {
      Atomics.sub(view, waiters, 1);
    }
  }

  private zero(el: number): void {
    this.mm.mem.fill(0, el, el + (this.cache === null ? this.size : this.cache.objectSize));
  }

  /**
   * mempool_free: refills the reserve while it is below minNr, else frees. A free of what
   * is not a live element (or already in the reserve) throws KmemError and changes nothing.
   */
  free(addr: number): void {
    this.live("free");
    if (typeof addr !== "number" || addr >>> 0 !== addr) {
      throw new TypeError(`free: address must be an unsigned integer, got ${describe(addr)}`);
    }
    if (addr === 0) return;
    this.checkElement(addr);
    let kept = false;
    this.mm.lock();
    try {
      this.checkReserve(addr);
      if (this.currNr < this.minNr) {
        this.add(addr);
        kept = true;
      }
    } finally {
      this.mm.unlock();
    }
    if (!kept) this.freeElement(addr);
    // wake_up(&pool->wait). A free that went to the allocator wakes sleepers too: their
    // next try of the allocator may now succeed.
    this.wake();
  }

  /** wake_up(&pool->wait): the sleepers, if any, try again. */
  private wake(): void {
    const w = this.mm.mem;
    const i = (this.desc >>> 2) + Pool.WAIT_SEQ;
    wakeUp(w.wordView(i), w.wordIndex(i), w.wordIndex(i + 1));
  }

  private checkElement(addr: number): void {
    if (this.cache !== null) {
      this.mm.checkLive(this.cache, addr, "mempool free");
    } else if (this.mm.ksize(addr) < this.size) {
      throw new KmemError(
        "INVALID_FREE",
        `mempool free(${hex(addr)}): a kmalloc block too small to be an element of ${this.size} bytes`,
      );
    }
  }

  /** DOUBLE_FREE if `addr` is in the reserve already (lock held). */
  private checkReserve(addr: number): void {
    if (inReserve(this.mm.mem, this.desc, addr)) {
      throw new KmemError(
        "DOUBLE_FREE",
        `mempool free(${hex(addr)}): the element is already in the reserve`,
      );
    }
  }

  /**
   * mempool_resize: shrinking frees the surplus now; growing enlarges the element array and
   * fills the reserve as far as memory allows (the rest refills through frees). Returns
   * false, changing nothing, when the larger element array cannot be had.
   */
  resize(minNr: number): boolean {
    this.live("resize");
    checkMinNr(minNr);
    const w = this.mm.mem;
    const d = this.desc >>> 2;
    const mm = this.mm;
    if (minNr <= this.minNr) {
      mm.lock();
      w.setWord(d + Pool.MIN_NR, minNr);
      const surplus: number[] = [];
      while (this.currNr > minNr) surplus.push(this.remove());
      mm.unlock();
      for (const el of surplus) this.freeElement(el);
      return true;
    }
    if (minNr > w.word(d + Pool.CAPACITY)) {
      const grown = mm.kmallocOwn(minNr * 4, Gfp.KERNEL);
      if (grown === 0) return false;
      mm.lock();
      let unused = grown;
      if (minNr > w.word(d + Pool.CAPACITY)) {
        const old = w.word(d + Pool.ELEMENTS);
        for (let i = 0; i < this.currNr; i++) w.setWord((grown >>> 2) + i, w.word((old >>> 2) + i));
        w.setWord(d + Pool.ELEMENTS, grown);
        w.setWord(d + Pool.CAPACITY, minNr);
        unused = old;
      }
      mm.unlock();
      mm.kfreeOwn(unused);
    }
    mm.lock();
    w.setWord(d + Pool.MIN_NR, minNr);
    mm.unlock();
    while (this.currNr < minNr) {
      const el = this.allocElement(Gfp.KERNEL);
      if (el === 0) break;
      mm.lock();
      const keep = this.currNr < this.minNr;
      if (keep) this.add(el);
      mm.unlock();
      if (!keep) this.freeElement(el);
      else this.wake();
    }
    return true;
  }

  /**
   * mempool_destroy: the reserve goes back to the allocator, then the pool's own memory.
   * Elements still out stay valid allocations of the allocator below (free them there).
   * KmemError BUSY, changing nothing, while another context waits in alloc on this pool.
   */
  destroy(): void {
    this.live("destroy");
    const w = this.mm.mem;
    const d = this.desc >>> 2;
    this.mm.lock();
    if (w.word(d + Pool.WAITERS) !== 0) {
      this.mm.unlock();
      throw new KmemError(
        "BUSY",
        `mempool destroy: ${w.word(d + Pool.WAITERS)} context(s) wait for an element of this pool`,
      );
    }
    w.setWord(d + Pool.MAGIC, 0);
    const next = w.word(d + Pool.NEXT);
    const prev = w.word(d + Pool.PREV);
    if (prev !== 0) w.setWord((prev >>> 2) + Pool.NEXT, next);
    else w.words[Hdr.POOLS] = next;
    if (next !== 0) w.setWord((next >>> 2) + Pool.PREV, prev);
    const reserve: number[] = [];
    while (this.currNr > 0) reserve.push(this.remove());
    this.mm.unlock();
    for (const el of reserve) this.freeElement(el);
    this.mm.kfreeOwn(w.word(d + Pool.ELEMENTS));
    this.mm.kfreeOwn(this.desc);
    this.dead = true;
  }

  /** A pool destroyed here, or in another context (its magic is gone). */
  private live(op: string): void {
    if (this.dead || this.mm.mem.word((this.desc >>> 2) + Pool.MAGIC) !== Pool.MAGIC_VALUE) {
      this.dead = true;
      throw new KmemError("DESTROYED", `${op}: the mempool was destroyed`);
    }
  }

  toString(): string {
    const what = this.cache === null ? `kmalloc ${this.size} bytes` : this.cache.name;
    return `Mempool(${what}, ${this.currNr}/${this.minNr})`;
  }
}

/**
 * Where `el` goes in the sorted reserve `a` of `n` elements (addresses compared unsigned):
 * the index of the first element above it.
 */
function reserveSlot(a: Int32Array, n: number, el: number): number {
  let lo = 0;
  let hi = n;
  const key = el >>> 0;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) >>> 0 <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether `addr` is in the reserve of the pool at `desc` (pools' lock held). */
function inReserve(w: PhysMem, desc: number, addr: number): boolean {
  const d = desc >>> 2;
  const n = w.word(d + Pool.CURR_NR);
  const cap = w.word(d + Pool.CAPACITY);
  if (n < 0 || n > cap || cap > MEMPOOL_MAX_NR) {
    throw new KmemError("CORRUPTION", `POOL-1: the mempool at ${hex(desc)} holds ${n} of ${cap}`);
  }
  if (n === 0) return false;
  const el = w.word(d + Pool.ELEMENTS) >>> 0;
  if (
    (el & 3) !== 0 ||
    !w.hasByte(el) ||
    !w.hasByte(el + cap * 4 - 1) ||
    el >>> w.winShift !== (el + cap * 4 - 1) >>> w.winShift
  ) {
    throw new KmemError(
      "CORRUPTION",
      `POOL-1: the mempool at ${hex(desc)} has its elements at ${hex(el)}`,
    );
  }
  const a = w.wordsAt(el, n);
  const at = reserveSlot(a, n, addr);
  return at > 0 && a[at - 1] === (addr | 0);
}

/**
 * Throws DOUBLE_FREE if `addr` is held in the reserve of any pool: what kfree, krealloc,
 * kvfree and a cache's free check (the caller has seen Hdr.POOLS non-zero). The walk of
 * the list is bounded and checked: damage is CORRUPTION.
 */
export function checkNotReserved(mm: PoolBackend, addr: number, fn: string): void {
  const w = mm.mem;
  const max = Math.floor((w.totalPages * w.pageSize) / (Pool.WORDS * 4));
  mm.lock();
  try {
    let n = 0;
    for (let p = (w.words[Hdr.POOLS] as number) >>> 0; p !== 0;) {
      if ((p & 3) !== 0 || !w.hasByte(p) || !w.hasByte(p + Pool.WORDS * 4 - 1)) {
        throw new KmemError("CORRUPTION", `POOL-1: the list of mempools links to ${hex(p)}`);
      }
      if (w.word((p >>> 2) + Pool.MAGIC) !== Pool.MAGIC_VALUE || ++n > max) {
        throw new KmemError("CORRUPTION", `POOL-1: the list of mempools is damaged at ${hex(p)}`);
      }
      if (inReserve(w, p, addr)) {
        throw new KmemError(
          "DOUBLE_FREE",
          `${fn}(${hex(addr)}): the object is held in the reserve of the mempool at ${hex(p)}`,
        );
      }
      p = w.word((p >>> 2) + Pool.NEXT) >>> 0;
    }
  } finally {
    mm.unlock();
  }
}

/**
 * offlineCpu: the pools' lock was held by a context that died (held now by this one). The
 * list of pools and each pool's reserve are put right (the header's "A dead context").
 * Returns what was done; throws on damage no death explains.
 */
export function recoverPools(w: PhysMem): string {
  const max = Math.floor((w.totalPages * w.pageSize) / (Pool.WORDS * 4));
  const ok = (p: number): boolean =>
    (p & 3) === 0 && w.hasByte(p) && w.hasByte(p + Pool.WORDS * 4 - 1);
  let pools = 0;
  let unlinked = 0;
  let redone = 0;
  let prev = 0;
  for (let p = (w.words[Hdr.POOLS] as number) >>> 0; p !== 0;) {
    if (!ok(p) || ++pools > max) throw new Error(`the list of mempools is damaged at ${hex(p)}`);
    const d = p >>> 2;
    const next = w.word(d + Pool.NEXT) >>> 0;
    if (w.word(d + Pool.MAGIC) !== Pool.MAGIC_VALUE) {
      // A destroy that had unmarked it: unlinked (its descriptor is the dead context's).
      if (prev === 0) w.words[Hdr.POOLS] = next;
      else w.setWord((prev >>> 2) + Pool.NEXT, next);
      unlinked++;
      p = next;
      continue;
    }
    w.setWord(d + Pool.PREV, prev);
    const el = w.word(d + Pool.PENDING_EL) >>> 0;
    if (el !== 0) {
      redone++;
      const n = w.word(d + Pool.PENDING_N);
      const cap = w.word(d + Pool.CAPACITY);
      if (w.word(d + Pool.CURR_NR) !== n + 1) {
        if (n < 0 || n + 1 > cap || cap > MEMPOOL_MAX_NR) {
          throw new Error(`the mempool at ${hex(p)} records ${n} of ${cap} elements`);
        }
        const a = w.wordsAt(w.word(d + Pool.ELEMENTS) >>> 0, n + 1);
        const seen = Array.from(a, (x) => x >>> 0);
        // Before the shift a[n] is stale; after it one element is in it twice; after the
        // store the new element is in it: the old elements are a[0..n) in the first case,
        // the others less the copy or the new element.
        const sorted = seen.every((x, k) => k === 0 || x > (seen[k - 1] as number));
        const dup = seen.findIndex((x, k) => k > 0 && x === seen[k - 1]);
        let old: number[];
        if (sorted && seen.includes(el)) old = seen.filter((x) => x !== el);
        else if (dup > 0) old = seen.filter((_, k) => k !== dup);
        else old = seen.slice(0, n);
        const all = [...old, el].sort((x, y) => x - y);
        for (let k = 0; k <= n; k++) a[k] = all[k] as number;
        w.setWord(d + Pool.CURR_NR, n + 1);
      }
      w.setWord(d + Pool.PENDING_EL, 0);
    }
    prev = p;
    p = next;
  }
  return `${pools - unlinked} pools${unlinked > 0 ? `, ${unlinked} half-destroyed unlinked` : ""}${redone > 0 ? `, ${redone} element${redone > 1 ? "s" : ""} put in a reserve` : ""}`;
}

/** Checks a gfp argument of a pool call. */
function checkPoolGfp(gfp: number): void {
  if (typeof gfp !== "number" || (gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp) {
    throw new TypeError(`gfp must be a combination of GFP flags, got ${describe(gfp)}`);
  }
}

/** Checks a minNr argument. */
export function checkMinNr(minNr: unknown): asserts minNr is number {
  if (typeof minNr !== "number" || !Number.isInteger(minNr)) {
    throw new TypeError(`minNr must be an integer, got ${describe(minNr)}`);
  }
  if (minNr < 0 || minNr > MEMPOOL_MAX_NR) {
    throw new RangeError(`minNr must be in 0..${MEMPOOL_MAX_NR}, got ${minNr}`);
  }
}
