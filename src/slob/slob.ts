/*
 * SLOB, the "simple list of blocks" allocator (Linux mm/slob.c, removed in 6.4): the object
 * allocator for tiny memories. It serves kmalloc and the object caches from order-0 pages
 * shared by everyone, first fit over three page lists by request size, in 2-byte units.
 * Requests that do not fit in a page go to the page allocator (kmalloc_large, or a block of
 * pages per object for caches of big objects).
 *
 * Page lists (heads in the SLOB descriptor, circular, linked through the frames' next/prev):
 *
 *   small   blocks < 256 B     a page with free units is on the list of the size of the
 *   medium  blocks < 1024 B    request that first made it partly free; a full page is on
 *   large   the rest           no list; a page whose every unit is free goes back at once
 *
 * A search walks its list from the head and takes the first page that can hold the block
 * (first fit, the page's own free list in address order); on success the list is rotated
 * so the next search starts at that page (Knuth vol. 1, 2.5).
 *
 * One SLOB page, in 2-byte units (offsets from the page start):
 *
 *   0    2        hdr+obj                                                      pageUnits
 *   +----+--------+---------------+----+-------------+--------+-------------+
 *   |frag| units  | object ...    |free| units tag   | obj... | free        |
 *   |    | tag    |               |    |             |        |             |
 *   +----+--------+---------------+----+-------------+--------+-------------+
 *    ^ alignment fragments stay free   ^ frame: UNITS = free units, FREELIST = first free
 *
 * Free block (a u16 pair at its first unit; next is the offset of the next free block,
 * 0 for "none": no free block follows at offset 0):
 *   units >= 2:  [units - 1][next]
 *   units == 1:  [0x8000 | next]
 *
 * Live block: a 4-byte header before the object (Linux keeps an 8-byte size header before
 * kmalloc blocks and none before cache objects; kmem keeps 4 bytes before every block):
 *   [units][tag]   tag = (cache id ^ hash(object address) ^ secret) & 0xffff,
 *                  cache id 0 for kmalloc, 1 for the cache descriptors ("kmem_cache"),
 *                  0xffff for kmem's own metadata (kmallocOwn: vmalloc's descriptor and
 *                  records, mempools', zsmalloc's, zram's and swap's), which only kmem frees
 * The tag makes a free O(1)-checkable: a free of an address that is not a live object, or
 * to the wrong cache, is caught before anything is written (an address inside a live
 * object passes with probability 2^-16 per free). A double free is found for certain: the
 * free walks the page's free list to its insertion point anyway, and a block overlapping
 * a free one is refused.
 *
 * Invariants (verify()):
 *   SLOB-1  the descriptor's magic; every list is a well-formed circular list of order-0
 *           SLOB pages with free units, each tagged with that list
 *   SLOB-2  a page's free list is in address order, inside the page, without overlaps or
 *           touching neighbours, and its units add up to the frame's UNITS
 *   SLOB-3  free and live blocks tile each small page exactly; every live tag decodes to
 *           a live cache id
 *   SLOB-4  live objects per cache (and for kmalloc) match the descriptors' counts, and
 *           the pages found match the slab page gauge
 *   SLOB-5  the list of cache descriptors is a well-formed list (inside memory, back links,
 *           no cycle), each with an id in 2..0xfffe and an alignment a power of two
 *           8..pageSize
 *
 * Concurrency: SLOB is one list of blocks shared by everyone, and Linux guarded it with one
 * lock (slob_lock); so does kmem (Hdr.LOCK_SLOB): every entry point takes it. It has its
 * place in kmem's lock order (the list in src/sync/lock.ts's header) in place of SLUB's
 * slab_mutex and list_locks, taken before the zone lock, and it protects all of SLOB: its
 * page lists, every SLOB page's units and free list, its cache list and counts.
 * Constructors run after it is released. Under it a new page is taken without direct
 * reclaim (a shrinker may free to SLOB, other cpus need the lock to free): when that fails,
 * the page is allocated outside the lock with the caller's gfp (which may reclaim and
 * sleep) and the allocation tried again with it.
 *
 * A context that dies holding the lock (offlineCpu, Kmem.reopen: src/sync/robust.ts): with
 * several cpus every store under the lock to SLOB's metadata (frame words, free-block and
 * block headers, the descriptor's lists and counts, cache descriptors' links and counts,
 * the slab page gauge) is preceded by an undo record of the word it replaces, in the
 * journal at the end of the SLOB descriptor (SlobDesc.JOURNAL, 64 entries; a critical
 * section makes at most about 40 stores); a page taken for SLOB under the lock is
 * recorded before it is marked. The journal is emptied when the lock is released, and
 * before a page goes back to the page allocator (SLOB's part is final then). recover()
 * (undoJournal) restores every word, newest first: the alloc, free, cache creation or
 * destroy under way is undone as if never begun (an object being freed stays allocated,
 * the dead context's), and the pages it had taken are freed by the next holder of the lock
 * (drainCpu takes it at once). A journal found when the lock is taken is settled the same
 * way. The journal's contents are the ground truth of the repair, not the pages: a
 * half-split free block reads back as no tiling at all. Object contents and a new cache
 * descriptor's fields are not journaled: the undone block is free again. With one cpu
 * (no other context to recover) nothing is journaled.
 */

import { describe, hex, KmemError } from "../errors.js";
import type { FaultAttr } from "../fault/index.js";
import { type KmallocApi, krealloc, LargeKmalloc, ZERO_SIZE_PTR } from "../kmalloc/index.js";
import { bootCacheBase, Frame, Hdr, Pg, PgFlag, type PhysMem, Vm } from "../memory/index.js";
import { type BuddyAllocator, Gfp, type LogFn } from "../page/index.js";
import {
  type CacheGeometry,
  CacheName,
  calculateAlignment,
  type Ctor,
  failslabHits,
  KmemCache,
  type ObjectAllocator,
  parseCacheArgs,
  type SlabCacheInfo,
} from "../slab-common/index.js";
import { lock, unlock } from "../sync/index.js";
import { verifySlob } from "./verify.js";

export const enum Slob {
  /** Bytes per unit. */
  UNIT = 2,
  /** Live block header: units (u16) and tag (u16). */
  HDR = 4,
  HDR_UNITS = 2,
  /** Blocks below this many bytes use the small list (SLOB_BREAK1). */
  BREAK1 = 256,
  /** ... below this the medium list (SLOB_BREAK2); the rest the large list. */
  BREAK2 = 1024,
  /** Alignment of every object (ARCH_KMALLOC_MINALIGN). */
  MIN_ALIGN = 8,
  /** Free-block word flag: a block of one unit. */
  ONE_UNIT = 0x8000,
  NEXT_MASK = 0x7fff,
  /** Cache ids: 0 is kmalloc, 1 the descriptors' own cache, 2..MAX_ID caches. */
  KMALLOC_ID = 0,
  BOOT_ID = 1,
  MAX_ID = 0xfffe,
  /** kmem's own metadata (kmallocOwn): blocks kfree, ksize and krealloc refuse. */
  OWN_ID = 0xffff,
}

/** Owner words of a SLOB page's head frame. */
export const enum SlobPg {
  /** Free units on the page (sp->units). */
  UNITS = Pg.OWNER + 0,
  /** Offset in units of the first free block; pageUnits when none. */
  FREELIST = Pg.OWNER + 1,
  /** The SlobList the page is on. */
  LIST = Pg.OWNER + 2,
  /** Big pages: the id of the cache whose object the block is. */
  CACHE = Pg.OWNER + 3,
}

export const enum SlobList {
  NONE = 0,
  SMALL = 1,
  MEDIUM = 2,
  LARGE = 3,
  /** Not a list: a block of pages holding one object of a cache of big objects. */
  BIG = 4,
}

/** The SLOB descriptor, in the header's boot area, at Hdr.SLOB. */
export const enum SlobDesc {
  MAGIC = 0,
  /** Head pfns of the small, medium and large lists (LIST_HEADS + list - 1). */
  LIST_HEADS = 1,
  /** Address of the newest cache descriptor, 0 if none. */
  CACHES = 4,
  SECRET = 5,
  /** Live kmalloc objects (excluding kmalloc_large). */
  KMALLOC_ACTIVE = 6,
  /** SLOB pages held (small pages and big-object blocks, in pages). */
  PAGES = 7,
  /**
   * The undo journal of the critical section under way (several cpus only; see the
   * header): entries written, then each entry's code (index * 4 + JournalKind) and old value.
   */
  JOURNAL_COUNT = 8,
  JOURNAL = 9,
  JOURNAL_ENTRIES = 64,
  WORDS = JOURNAL + 2 * JOURNAL_ENTRIES,
  MAGIC_VALUE = 0x736c6f62, // "slob"
}

/** A cache descriptor: a SLOB block of the boot cache. */
export const enum CacheDesc {
  ID = 0,
  OBJECT_SIZE = 1,
  ALIGN = 2,
  FLAGS = 3,
  ACTIVE = 4,
  NEXT = 5,
  PREV = 6,
  /** Big caches: the order of their page blocks, else -1. */
  ORDER = 7,
  NAME = 8,
  NAME_BYTES = CacheName.BYTES,
  /** Header[Hdr.CACHE_SERIAL] when the descriptor was written (a handle's identity). */
  SERIAL = NAME + NAME_BYTES / 4,
  WORDS = SERIAL + 1,
}

/** What a journal entry undoes: a mem_map word, a memory word, or a page taken for SLOB. */
export const enum JournalKind {
  FRAME = 0,
  WORD = 1,
  PAGE = 2,
}

const NO_SLOTS = new Uint16Array(0);

/** Damage found while reading SLOB's metadata: KmemError CORRUPTION naming the invariant. */
function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}

export interface SlobOptions {
  initOnAlloc: boolean;
  initOnFree: boolean;
  log: LogFn | null;
}

/** Words of the header's boot area SLOB needs. */
export const SLOB_DESCRIPTOR_WORDS: number = SlobDesc.WORDS;

export class SlobAllocator implements ObjectAllocator, KmallocApi {
  private readonly buddy: BuddyAllocator;
  private readonly phys: PhysMem;
  private readonly large: LargeKmalloc;
  /** @internal */
  readonly f: Int32Array;
  /** Memory through its windows (physmem.ts): u16, byte and word views of each. */
  private readonly u16v: readonly Uint16Array[];
  /** u16 index i is u16v[i >>> hs][i & hm]. */
  private readonly hs: number;
  private readonly hm: number;
  private readonly ev: Int32Array;
  /** @internal The descriptor's words. */
  readonly d: Int32Array;
  /** Memory word indices of the descriptor's word 0 and of this cpu's event counters. */
  private readonly dWord: number;
  private readonly evWord: number;
  private readonly pageSize: number;
  /** @internal */
  readonly pageShift: number;
  /** @internal */
  readonly pageUnits: number;
  /** @internal */
  readonly firstPfn: number;
  /** @internal Frames present (memory hotplug raises it). */
  totalPages: number;
  private readonly maxOrder: number;
  private readonly secret: number;
  private readonly initOnAlloc: boolean;
  private readonly initOnFree: boolean;
  /** @internal Handles by cache id (0 and 1 are kmalloc and the boot cache: null). */
  readonly caches: (KmemCache | null)[] = [null, null];
  /** Set by pageAlloc when the page it allocated from left its list. */
  private removed = false;
  /** A page allocated outside the lock for the next new SLOB page (0: none). */
  private spare = 0;
  failslab: FaultAttr | null = null;
  log: LogFn | null;
  private readonly smp: boolean;
  private readonly cpu: number;
  readonly h: Int32Array;
  reserved: ((addr: number, fn: string) => void) | null = null;
  /** Constructors running in this context (a cache cannot be destroyed meanwhile). */
  private ctorDepth = 0;
  /** Constructors registered in this context, by cache name. */
  private readonly ctors = new Map<string, Ctor>();

  /**
   * `fresh`: set up SLOB in a new instance; otherwise open the one another context made
   * (`ctors`: constructors by cache name for this context).
   */
  constructor(
    phys: PhysMem,
    buddy: BuddyAllocator,
    options: SlobOptions,
    fresh = true,
    ctors: ReadonlyMap<string, Ctor> = new Map(),
  ) {
    this.phys = phys;
    this.buddy = buddy;
    this.large = new LargeKmalloc(phys, buddy);
    this.f = phys.frames;
    this.u16v = phys.byteViews.map((v) => new Uint16Array(v.buffer, v.byteOffset, v.length >>> 1));
    this.hs = phys.winShift - 1;
    this.hm = phys.winMask >>> 1;
    this.ev = buddy.ev;
    this.pageSize = phys.pageSize;
    this.pageShift = phys.pageShift;
    this.pageUnits = phys.pageSize / Slob.UNIT;
    this.firstPfn = phys.firstManagedPfn;
    this.totalPages = phys.totalPages;
    phys.resized.push(() => {
      this.totalPages = phys.totalPages;
    });
    this.maxOrder = phys.maxOrder;
    this.initOnAlloc = options.initOnAlloc;
    this.initOnFree = options.initOnFree;
    this.log = options.log;
    this.smp = buddy.smp;
    this.cpu = buddy.cpu;
    this.h = phys.header;
    for (const [name, fn] of ctors) this.ctors.set(name, fn);
    const desc = bootCacheBase(phys.nrCpus, phys.nrNodes) * 4;
    this.d = phys.wordsAt(desc, SlobDesc.WORDS);
    this.dWord = desc >>> 2;
    this.evWord = (this.ev.byteOffset - phys.header.byteOffset) >>> 2;
    if (!fresh) {
      if (this.d[SlobDesc.MAGIC] !== SlobDesc.MAGIC_VALUE || phys.header[Hdr.SLOB] !== desc) {
        corrupt("SLOB-1", "the options say SLOB, but the SLOB descriptor is missing or damaged");
      }
      this.secret = this.d[SlobDesc.SECRET] as number;
      // Under the lock: another context may be linking a cache meanwhile.
      this.lock();
      try {
        this.syncCaches();
      } finally {
        this.unlock();
      }
      return;
    }
    this.d.fill(0);
    this.d[SlobDesc.MAGIC] = SlobDesc.MAGIC_VALUE;
    const rnd = new Uint16Array(1);
    crypto.getRandomValues(rnd);
    this.secret = rnd[0] as number;
    this.d[SlobDesc.SECRET] = this.secret;
    phys.header[Hdr.SLOB] = desc;
  }

  /**
   * Whether frame `pfn`, beyond those this context sees, was brought online by another
   * context since (page/hotplug.ts): then this context sees it now.
   */
  private onlineSince(pfn: number): boolean {
    return pfn >= this.totalPages && this.phys.sync() && pfn < this.totalPages;
  }

  /* ------------------------------------------------------------------ the lock */

  private lock(): void {
    if (this.smp) {
      lock(this.h, Hdr.LOCK_SLOB, this.cpu, "slob_lock");
      // Its pages may lie in memory another context brought online (page/hotplug.ts).
      if (Atomics.load(this.h, Hdr.MEM_GENERATION) !== this.phys.generation) this.syncLocked();
      // A journal left behind: a holder died (its pages to free after recover()), or its
      // lock was released without a repair.
      if (this.d[SlobDesc.JOURNAL_COUNT] !== 0) this.settle();
    }
  }

  /** lock's catching up with memory hotplug, the lock given back if it cannot. */
  private syncLocked(): void {
    try {
      this.phys.sync();
    } catch (err) {
      this.unlock();
      throw err;
    }
  }

  private unlock(): void {
    if (this.smp) {
      this.d[SlobDesc.JOURNAL_COUNT] = 0;
      unlock(this.h, Hdr.LOCK_SLOB, this.cpu);
    }
  }

  /* ------------------------------------------------------------------ the undo journal */

  /** Records, before a store under the lock, the value it replaces (several cpus only). */
  private note(code: number, old: number): void {
    const d = this.d;
    const n = d[SlobDesc.JOURNAL_COUNT] as number;
    if (n >= SlobDesc.JOURNAL_ENTRIES) throw new Error("SLOB's undo journal is full");
    d[SlobDesc.JOURNAL + 2 * n] = code;
    d[SlobDesc.JOURNAL + 2 * n + 1] = old;
    d[SlobDesc.JOURNAL_COUNT] = n + 1;
  }

  /** The critical section's stores are final (before it hands a page to the page allocator). */
  private commit(): void {
    this.d[SlobDesc.JOURNAL_COUNT] = 0;
  }

  /** A journal found at lock time: undone, and the pages it names freed. Lock held. */
  private settle(): void {
    undoJournal(this.phys, this.d);
    const n = this.d[SlobDesc.JOURNAL_COUNT] as number;
    for (let k = 0; k < n; k++) {
      const pfn = Math.floor(((this.d[SlobDesc.JOURNAL + 2 * k] as number) >>> 0) / 4);
      const order = this.d[SlobDesc.JOURNAL + 2 * k + 1] as number;
      // Entry by entry: a death in between frees no page twice.
      this.d[SlobDesc.JOURNAL + 2 * k] = 0;
      if (pfn !== 0) this.buddy.freePages(pfn * this.pageSize, order);
    }
    this.d[SlobDesc.JOURNAL_COUNT] = 0;
    this.syncCaches();
  }

  /**
   * slob_lock's recovery after its holder died (offlineCpu), the lock held: the critical
   * section under way undone from the journal; the pages it had taken are freed when the
   * lock is next taken (drainCpu, right after), the zone lock free by then.
   */
  recover(): string {
    const r = undoJournal(this.phys, this.d);
    this.syncCaches();
    return r;
  }

  /* ------------------------------------------------------------------ handles */

  /**
   * This context's handle for cache `id`, rebuilt from its descriptor when another context
   * made the cache (or replaced it); null if no cache has that id. Lock held.
   */
  private cacheOf(id: number): KmemCache | null {
    const c = this.caches[id];
    if (c !== undefined && c !== null && (!this.smp || c.dv[CacheDesc.SERIAL] === c.serial)) {
      return c;
    }
    if (!this.smp) return null;
    this.syncCaches();
    return this.caches[id] ?? null;
  }

  /**
   * The cache descriptors on the list in memory, newest first: the one walk of that list.
   * Bounded by the descriptors memory can hold and checked link by link (inside memory,
   * aligned, back link, id, alignment), so a damaged or cyclic list is CORRUPTION (SLOB-5),
   * never a hang or an unbounded array. Lock held.
   */
  private cacheDescs(): number[] {
    const out: number[] = [];
    const bytes = CacheDesc.WORDS * 4;
    const max = Math.floor((this.totalPages * this.pageSize) / (bytes + Slob.HDR));
    let prev = 0;
    for (let d = (this.d[SlobDesc.CACHES] as number) >>> 0; d !== 0;) {
      if ((d & 3) !== 0 || !this.phys.hasByte(d) || !this.phys.hasByte(d + bytes - 1)) {
        corrupt("SLOB-5", `the cache list links to ${hex(d)}`);
      }
      const w = d >>> 2;
      if (this.phys.word(w + CacheDesc.PREV) >>> 0 !== prev) {
        corrupt("SLOB-5", `cache descriptor at ${hex(d)} has a wrong back link`);
      }
      const id = this.phys.word(w + CacheDesc.ID);
      if (id <= Slob.BOOT_ID || id > Slob.MAX_ID) {
        corrupt("SLOB-5", `cache descriptor at ${hex(d)} has id ${id}`);
      }
      const align = this.phys.word(w + CacheDesc.ALIGN);
      this.checkAlign(align, d);
      const size = this.phys.word(w + CacheDesc.OBJECT_SIZE);
      const order = this.phys.word(w + CacheDesc.ORDER);
      const big = size >= 1 && !this.fitsPage(size + Slob.HDR, align);
      if (
        size < 1 ||
        size > this.pageSize * 2 ** (this.maxOrder - 1) ||
        (big
          ? order < 0 || order >= this.maxOrder || this.pageSize * 2 ** order < size
          : order !== -1)
      ) {
        corrupt("SLOB-5", `cache descriptor at ${hex(d)} has size ${size} and order ${order}`);
      }
      if (out.length >= max) corrupt("SLOB-5", "the cache list is cyclic");
      out.push(d);
      prev = d;
      d = this.phys.word(w + CacheDesc.NEXT) >>> 0;
    }
    return out;
  }

  /** A cache's alignment read from memory: a power of two, 8..pageSize, else CORRUPTION. */
  private checkAlign(align: number, desc: number): void {
    if (align < Slob.MIN_ALIGN || align > this.pageSize || (align & (align - 1)) !== 0) {
      corrupt("SLOB-5", `cache descriptor at ${hex(desc)} has alignment ${align}`);
    }
  }

  /** Rebuilds this context's handles from the list of descriptors in memory. Lock held. */
  private syncCaches(): void {
    const seen = new Set<number>();
    for (const d of this.cacheDescs()) {
      const id = this.phys.word((d >>> 2) + CacheDesc.ID);
      seen.add(id);
      const known = this.caches[id];
      const serial = this.phys.word((d >>> 2) + CacheDesc.SERIAL);
      if (known !== undefined && known !== null && known.desc === d && known.serial === serial) {
        continue;
      }
      if (known !== undefined && known !== null) known.dead = true;
      while (this.caches.length <= id) this.caches.push(null);
      this.caches[id] = this.handle(d);
    }
    for (let id = Slob.BOOT_ID + 1; id < this.caches.length; id++) {
      const c = this.caches[id];
      if (c !== null && c !== undefined && !seen.has(id)) {
        c.dead = true;
        this.caches[id] = null;
      }
    }
  }

  /** A handle for the descriptor at `desc`. */
  private handle(desc: number): KmemCache {
    const dv = this.phys.wordsAt(desc, CacheDesc.WORDS);
    const span = this.phys.span(desc + CacheDesc.NAME * 4, CacheDesc.NAME_BYTES);
    const end = span.indexOf(0);
    const name = new TextDecoder().decode(span.slice(0, end < 0 ? CacheDesc.NAME_BYTES : end));
    return this.makeHandle(desc, dv, name, this.ctors.get(name) ?? null);
  }

  private makeHandle(desc: number, dv: Int32Array, name: string, ctor: Ctor | null): KmemCache {
    const size = dv[CacheDesc.OBJECT_SIZE] as number;
    const order = dv[CacheDesc.ORDER] as number;
    const big = order >= 0;
    const blockBytes = big ? this.pageSize << order : ((size + Slob.HDR + 1) & ~1) - Slob.HDR;
    const geometry: CacheGeometry = {
      objectSize: size,
      size: blockBytes,
      align: dv[CacheDesc.ALIGN] as number,
      offset: 0,
      redLeft: 0,
      inuse: size,
      track: 0,
      order: big ? order : 0,
      topOrder: big ? order : 0,
      objects: 0,
      topObjects: 0,
      bitmap: -1,
      remote: 0,
      minPartial: 0,
    };
    const id = dv[CacheDesc.ID] as number;
    return new KmemCache({
      slab: this,
      name,
      objectSize: size,
      desc,
      id,
      realId: id,
      geometry,
      secret: 0,
      flags: dv[CacheDesc.FLAGS] as number,
      ctor,
      hasCtor: false,
      dv,
      cpu: dv,
      slotIndex: NO_SLOTS,
      sheafCap: 0,
      serial: dv[CacheDesc.SERIAL] as number,
      ownSerial: dv[CacheDesc.SERIAL] as number,
      nodeLockNames: ["slob_lock"],
    });
  }

  /** This context's handle of cache `id` (made in any context), or null. */
  cacheById(id: number): KmemCache | null {
    this.lock();
    try {
      return this.cacheOf(id);
    } finally {
      this.unlock();
    }
  }

  /** A handle whose cache another context destroyed is dead here too. */
  private checkHandle(c: KmemCache, op: string): void {
    if (this.smp && (c.dead || c.dv[CacheDesc.SERIAL] !== c.serial)) {
      c.dead = true;
      throw new KmemError("DESTROYED", `${op}: cache ${JSON.stringify(c.name)} was destroyed`);
    }
  }

  /** Registers the constructor of cache `name` for this context (SLOB runs it at each alloc). */
  registerCtor(name: string, ctor: Ctor): void {
    this.ctors.set(name, ctor);
    for (const c of this.caches) if (c !== null && c.name === name) c.ctor = ctor;
  }

  /* ------------------------------------------------------------------ free blocks */

  /** @internal Units of the free block at unit offset `o` of the page at unit index `base`. */
  unitsAt(base: number, o: number): number {
    const v = this.h16(base + o);
    return (v & Slob.ONE_UNIT) !== 0 ? 1 : v + 1;
  }

  /** @internal Offset of the free block after the one at `o`; pageUnits for none. */
  nextAt(base: number, o: number): number {
    const v = this.h16(base + o);
    const n = (v & Slob.ONE_UNIT) !== 0 ? v & Slob.NEXT_MASK : this.h16(base + o + 1);
    return n === 0 ? this.pageUnits : n;
  }

  /** set_slob: writes a free block of `units` at `o` whose successor is `next`. */
  private setFree(base: number, o: number, units: number, next: number): void {
    const n = next === this.pageUnits ? 0 : next;
    if (units === 1) {
      this.setH16(base + o, Slob.ONE_UNIT | n);
    } else {
      this.setH16(base + o, units - 1);
      this.setH16(base + o + 1, n);
    }
  }

  /* ------------------------------------------------------------------ page lists */

  /** @internal The u16 at u16 index `i` (address 2 * i), in whichever window (node) it is. */
  h16(i: number): number {
    return (this.u16v[i >>> this.hs] as Uint16Array)[i & this.hm] as number;
  }

  private setH16(i: number, value: number): void {
    if (this.smp) this.note((i >>> 1) * 4 + JournalKind.WORD, this.phys.word(i >>> 1));
    (this.u16v[i >>> this.hs] as Uint16Array)[i & this.hm] = value;
  }

  private listOf(bytes: number): number {
    return bytes < Slob.BREAK1
      ? SlobList.SMALL
      : bytes < Slob.BREAK2
        ? SlobList.MEDIUM
        : SlobList.LARGE;
  }

  /** set_slob_page_free: adds the page at the front of `list`. */
  private listAdd(pfn: number, list: number): void {
    const f = this.f;
    const i = pfn * Frame.WORDS;
    const head = this.d[SlobDesc.LIST_HEADS + list - 1] as number;
    if (head === 0) {
      {
        if (this.smp)
          this.note((i + Pg.NEXT) * 4 + JournalKind.FRAME, this.f[i + Pg.NEXT] as number);
        this.f[i + Pg.NEXT] = pfn;
      }
      {
        if (this.smp)
          this.note((i + Pg.PREV) * 4 + JournalKind.FRAME, this.f[i + Pg.PREV] as number);
        this.f[i + Pg.PREV] = pfn;
      }
    } else {
      const tail = f[head * Frame.WORDS + Pg.PREV] as number;
      {
        if (this.smp)
          this.note((i + Pg.NEXT) * 4 + JournalKind.FRAME, this.f[i + Pg.NEXT] as number);
        this.f[i + Pg.NEXT] = head;
      }
      {
        if (this.smp)
          this.note((i + Pg.PREV) * 4 + JournalKind.FRAME, this.f[i + Pg.PREV] as number);
        this.f[i + Pg.PREV] = tail;
      }
      {
        if (this.smp)
          this.note(
            (tail * Frame.WORDS + Pg.NEXT) * 4 + JournalKind.FRAME,
            this.f[tail * Frame.WORDS + Pg.NEXT] as number,
          );
        this.f[tail * Frame.WORDS + Pg.NEXT] = pfn;
      }
      {
        if (this.smp)
          this.note(
            (head * Frame.WORDS + Pg.PREV) * 4 + JournalKind.FRAME,
            this.f[head * Frame.WORDS + Pg.PREV] as number,
          );
        this.f[head * Frame.WORDS + Pg.PREV] = pfn;
      }
    }
    {
      if (this.smp)
        this.note(
          (this.dWord + SlobDesc.LIST_HEADS + list - 1) * 4 + JournalKind.WORD,
          this.d[SlobDesc.LIST_HEADS + list - 1] as number,
        );
      this.d[SlobDesc.LIST_HEADS + list - 1] = pfn;
    }
    {
      if (this.smp)
        this.note((i + SlobPg.LIST) * 4 + JournalKind.FRAME, this.f[i + SlobPg.LIST] as number);
      this.f[i + SlobPg.LIST] = list;
    }
  }

  /** clear_slob_page_free. */
  private listDel(pfn: number): void {
    const f = this.f;
    const i = pfn * Frame.WORDS;
    const list = f[i + SlobPg.LIST] as number;
    const next = f[i + Pg.NEXT] as number;
    const prev = f[i + Pg.PREV] as number;
    const h = SlobDesc.LIST_HEADS + list - 1;
    if (next === pfn) {
      {
        if (this.smp) this.note((this.dWord + h) * 4 + JournalKind.WORD, this.d[h] as number);
        this.d[h] = 0;
      }
    } else {
      {
        if (this.smp)
          this.note(
            (prev * Frame.WORDS + Pg.NEXT) * 4 + JournalKind.FRAME,
            this.f[prev * Frame.WORDS + Pg.NEXT] as number,
          );
        this.f[prev * Frame.WORDS + Pg.NEXT] = next;
      }
      {
        if (this.smp)
          this.note(
            (next * Frame.WORDS + Pg.PREV) * 4 + JournalKind.FRAME,
            this.f[next * Frame.WORDS + Pg.PREV] as number,
          );
        this.f[next * Frame.WORDS + Pg.PREV] = prev;
      }
      if (this.d[h] === pfn) {
        if (this.smp) this.note((this.dWord + h) * 4 + JournalKind.WORD, this.d[h] as number);
        this.d[h] = next;
      }
    }
    {
      if (this.smp) this.note((i + Pg.NEXT) * 4 + JournalKind.FRAME, this.f[i + Pg.NEXT] as number);
      this.f[i + Pg.NEXT] = 0;
    }
    {
      if (this.smp) this.note((i + Pg.PREV) * 4 + JournalKind.FRAME, this.f[i + Pg.PREV] as number);
      this.f[i + Pg.PREV] = 0;
    }
    {
      if (this.smp)
        this.note((i + SlobPg.LIST) * 4 + JournalKind.FRAME, this.f[i + SlobPg.LIST] as number);
      this.f[i + SlobPg.LIST] = SlobList.NONE;
    }
  }

  /* ------------------------------------------------------------------ slob_alloc / slob_free */

  /**
   * slob_page_alloc: first fit on one page for `units` whose object (HDR bytes in) is
   * aligned to `align`. Returns the block's unit offset, or -1.
   */
  private pageAlloc(pfn: number, units: number, align: number): number {
    const f = this.f;
    const i = pfn * Frame.WORDS;
    const base = pfn << (this.pageShift - 1);
    const end = this.pageUnits;
    let prev = -1;
    let cur = f[i + SlobPg.FREELIST] as number;
    for (;;) {
      let avail = this.unitsAt(base, cur);
      const curAddr = (base + cur) * Slob.UNIT;
      const aligned = ((curAddr + Slob.HDR + align - 1) & -align) - Slob.HDR;
      const delta = (aligned - curAddr) >>> 1;
      if (avail >= units + delta) {
        if (delta !== 0) {
          // Fragment the head so that the object is aligned.
          const next = this.nextAt(base, cur);
          this.setFree(base, cur + delta, avail - delta, next);
          this.setFree(base, cur, delta, cur + delta);
          prev = cur;
          cur += delta;
          avail -= delta;
        }
        const next = this.nextAt(base, cur);
        if (avail === units) {
          if (prev >= 0) this.setFree(base, prev, this.unitsAt(base, prev), next);
          else {
            if (this.smp)
              this.note(
                (i + SlobPg.FREELIST) * 4 + JournalKind.FRAME,
                this.f[i + SlobPg.FREELIST] as number,
              );
            this.f[i + SlobPg.FREELIST] = next;
          }
        } else {
          if (prev >= 0) this.setFree(base, prev, this.unitsAt(base, prev), cur + units);
          else {
            if (this.smp)
              this.note(
                (i + SlobPg.FREELIST) * 4 + JournalKind.FRAME,
                this.f[i + SlobPg.FREELIST] as number,
              );
            this.f[i + SlobPg.FREELIST] = cur + units;
          }
          this.setFree(base, cur + units, avail - units, next);
        }
        const left = (f[i + SlobPg.UNITS] as number) - units;
        {
          if (this.smp)
            this.note(
              (i + SlobPg.UNITS) * 4 + JournalKind.FRAME,
              this.f[i + SlobPg.UNITS] as number,
            );
          this.f[i + SlobPg.UNITS] = left;
        }
        if (left === 0) {
          this.listDel(pfn);
          this.removed = true;
        }
        return cur;
      }
      const next = this.nextAt(base, cur);
      if (next === end) return -1;
      prev = cur;
      cur = next;
    }
  }

  /**
   * slob_alloc: a block of `bytes` (header included) whose object is aligned to `align`,
   * tagged for cache `id`, on a page of node `nid` (-1: any page; a new one where the
   * memory policy says). Returns the object's address, or 0.
   */
  private slobAlloc(bytes: number, gfp: number, align: number, id: number, nid: number): number {
    const units = (bytes + 1) >>> 1;
    const list = this.listOf(bytes);
    const h = SlobDesc.LIST_HEADS + list - 1;
    const f = this.f;
    const head = this.d[h] as number;
    let block = -1;
    let pfn = head;
    if (head !== 0) {
      do {
        const next = f[pfn * Frame.WORDS + Pg.NEXT] as number;
        if (
          (f[pfn * Frame.WORDS + SlobPg.UNITS] as number) >= units &&
          (nid < 0 || this.buddy.nodeOf(pfn) === nid)
        ) {
          this.removed = false;
          block = this.pageAlloc(pfn, units, align);
          if (block >= 0) {
            // Start the next search here: fragments spread, searches shorten.
            if (!this.removed) {
              if (this.smp) this.note((this.dWord + h) * 4 + JournalKind.WORD, this.d[h] as number);
              this.d[h] = pfn;
            }
            break;
          }
        }
        pfn = next;
      } while (pfn !== head);
    }
    if (block < 0) {
      let addr = this.spare;
      if (addr !== 0 && (nid < 0 || this.buddy.nodeOf(addr >>> this.pageShift) === nid)) {
        this.spare = 0;
      } else {
        const pageGfp = (this.smp ? gfp & ~Gfp.DIRECT_RECLAIM : gfp) & ~Gfp.ZERO;
        addr = this.buddy.allocPagesNode(nid, 0, pageGfp);
      }
      if (addr === 0) return 0;
      pfn = addr >>> this.pageShift;
      const i = pfn * Frame.WORDS;
      // Undone, the page goes back to the page allocator.
      if (this.smp) this.note(pfn * 4 + JournalKind.PAGE, 0);
      {
        if (this.smp)
          this.note((i + Pg.FLAGS) * 4 + JournalKind.FRAME, this.f[i + Pg.FLAGS] as number);
        this.f[i + Pg.FLAGS] = PgFlag.HEAD | PgFlag.SLAB;
      }
      {
        if (this.smp)
          this.note((i + SlobPg.UNITS) * 4 + JournalKind.FRAME, this.f[i + SlobPg.UNITS] as number);
        this.f[i + SlobPg.UNITS] = this.pageUnits;
      }
      {
        if (this.smp)
          this.note(
            (i + SlobPg.FREELIST) * 4 + JournalKind.FRAME,
            this.f[i + SlobPg.FREELIST] as number,
          );
        this.f[i + SlobPg.FREELIST] = 0;
      }
      {
        if (this.smp)
          this.note((i + SlobPg.CACHE) * 4 + JournalKind.FRAME, this.f[i + SlobPg.CACHE] as number);
        this.f[i + SlobPg.CACHE] = 0;
      }
      this.setFree(pfn << (this.pageShift - 1), 0, this.pageUnits, this.pageUnits);
      this.listAdd(pfn, list);
      this.pageGauge(1);
      block = this.pageAlloc(pfn, units, align);
    }
    const at = (pfn << (this.pageShift - 1)) + block;
    const obj = at * Slob.UNIT + Slob.HDR;
    this.setH16(at, units);
    this.setH16(at + 1, this.tag(id, obj));
    if ((gfp & Gfp.ZERO) !== 0 || this.initOnAlloc) {
      this.phys.fill(0, obj, at * Slob.UNIT + units * Slob.UNIT);
    }
    return obj;
  }

  /** @internal The tag of a block of cache `id` whose object is at `obj`. */
  tag(id: number, obj: number): number {
    return (id ^ (Math.imul(obj, 0x9e3779b1) >>> 16) ^ this.secret) & 0xffff;
  }

  private pageGauge(pages: number): void {
    const ev = this.evWord + Vm.NR_SLAB_UNRECLAIMABLE;
    {
      if (this.smp) this.note(ev * 4 + JournalKind.WORD, this.phys.word(ev));
      this.phys.setWord(ev, (this.ev[Vm.NR_SLAB_UNRECLAIMABLE] as number) + pages);
    }
    {
      if (this.smp)
        this.note(
          (this.dWord + SlobDesc.PAGES) * 4 + JournalKind.WORD,
          this.d[SlobDesc.PAGES] as number,
        );
      this.d[SlobDesc.PAGES] = (this.d[SlobDesc.PAGES] as number) + pages;
    }
  }

  /**
   * Where the block at unit offset `b` of `units` would go on its page's free list: the
   * free block before it (-1 if it would be first). Throws DOUBLE_FREE, writing nothing,
   * if the block overlaps a free one.
   */
  private insertionPoint(pfn: number, b: number, units: number, fn: string, obj: number): number {
    const base = pfn << (this.pageShift - 1);
    const end = this.pageUnits;
    let prev = -1;
    let cur = this.f[pfn * Frame.WORDS + SlobPg.FREELIST] as number;
    while (cur !== end && cur < b + units) {
      if (cur + this.unitsAt(base, cur) > b) this.alreadyFree(fn, obj);
      prev = cur;
      cur = this.nextAt(base, cur);
    }
    return prev;
  }

  private alreadyFree(fn: string, obj: number): never {
    throw new KmemError("DOUBLE_FREE", `${fn}(${hex(obj)}): the object is already free`);
  }

  /** slob_free: gives a checked block back to its page (and the page back when all free). */
  private slobFree(pfn: number, b: number, units: number, prev: number): void {
    const f = this.f;
    const i = pfn * Frame.WORDS;
    const base = pfn << (this.pageShift - 1);
    const end = this.pageUnits;
    const free = f[i + SlobPg.UNITS] as number;
    if (free + units === end) {
      // Every unit free: straight back to the page allocator.
      if (f[i + SlobPg.LIST] !== SlobList.NONE) this.listDel(pfn);
      {
        if (this.smp)
          this.note((i + Pg.FLAGS) * 4 + JournalKind.FRAME, this.f[i + Pg.FLAGS] as number);
        this.f[i + Pg.FLAGS] = PgFlag.HEAD;
      }
      {
        if (this.smp)
          this.note((i + SlobPg.UNITS) * 4 + JournalKind.FRAME, this.f[i + SlobPg.UNITS] as number);
        this.f[i + SlobPg.UNITS] = 0;
      }
      {
        if (this.smp)
          this.note(
            (i + SlobPg.FREELIST) * 4 + JournalKind.FRAME,
            this.f[i + SlobPg.FREELIST] as number,
          );
        this.f[i + SlobPg.FREELIST] = 0;
      }
      this.pageGauge(-1);
      // SLOB's part is done (nothing to undo): the page is the page allocator's business.
      this.commit();
      this.buddy.freePages(pfn * this.pageSize, 0);
      return;
    }
    {
      if (this.smp)
        this.note((i + SlobPg.UNITS) * 4 + JournalKind.FRAME, this.f[i + SlobPg.UNITS] as number);
      this.f[i + SlobPg.UNITS] = free + units;
    }
    if (f[i + SlobPg.LIST] === SlobList.NONE) {
      // A full page becomes partly free: this block is its only free one.
      {
        if (this.smp)
          this.note(
            (i + SlobPg.FREELIST) * 4 + JournalKind.FRAME,
            this.f[i + SlobPg.FREELIST] as number,
          );
        this.f[i + SlobPg.FREELIST] = b;
      }
      this.setFree(base, b, units, end);
      this.listAdd(pfn, this.listOf(units * Slob.UNIT));
      return;
    }
    if (prev < 0) {
      let next = f[i + SlobPg.FREELIST] as number;
      let n = units;
      if (b + n === next) {
        n += this.unitsAt(base, next);
        next = this.nextAt(base, next);
      }
      this.setFree(base, b, n, next);
      {
        if (this.smp)
          this.note(
            (i + SlobPg.FREELIST) * 4 + JournalKind.FRAME,
            this.f[i + SlobPg.FREELIST] as number,
          );
        this.f[i + SlobPg.FREELIST] = b;
      }
      return;
    }
    const next = this.nextAt(base, prev);
    if (next !== end && b + units === next) {
      this.setFree(base, b, units + this.unitsAt(base, next), this.nextAt(base, next));
    } else {
      this.setFree(base, b, units, next);
    }
    const prevUnits = this.unitsAt(base, prev);
    if (prev + prevUnits === b) {
      this.setFree(base, prev, prevUnits + this.unitsAt(base, b), this.nextAt(base, b));
    } else {
      this.setFree(base, prev, prevUnits, b);
    }
  }

  /* ------------------------------------------------------------------ checks */

  /**
   * The cache id of the live object at `obj`, checked; `want` is the cache the caller named
   * (-1: any, as kfree). Reads only. For a small page `this.units` is set to its units.
   */
  private owner(obj: number, want: number, fn: string): number {
    const pfn = obj >>> this.pageShift;
    if ((pfn < this.firstPfn || pfn >= this.totalPages) && !this.onlineSince(pfn))
      this.notObject(obj, fn, "outside managed memory");
    const i = pfn * Frame.WORDS;
    const flags = this.f[i + Pg.FLAGS] as number;
    if (flags !== (PgFlag.HEAD | PgFlag.SLAB)) this.notSlob(obj, pfn, flags, fn);
    let id: number;
    if (this.f[i + SlobPg.LIST] === SlobList.BIG) {
      if ((obj & (this.pageSize - 1)) !== 0) this.notObject(obj, fn, "not the start of an object");
      id = this.f[i + SlobPg.CACHE] as number;
    } else {
      const off = obj & (this.pageSize - 1);
      if (off < Slob.HDR || (obj & (Slob.MIN_ALIGN - 1)) !== 0) this.badBlock(obj, fn);
      const at = (obj - Slob.HDR) >>> 1;
      const units = this.h16(at);
      id = (this.h16(at + 1) ^ (Math.imul(obj, 0x9e3779b1) >>> 16) ^ this.secret) & 0xffff;
      if (
        units <= Slob.HDR_UNITS ||
        off - Slob.HDR + units * Slob.UNIT > this.pageSize ||
        (id !== Slob.KMALLOC_ID &&
          id !== Slob.BOOT_ID &&
          id !== Slob.OWN_ID &&
          this.cacheOf(id) === null)
      ) {
        this.badBlock(obj, fn);
      }
    }
    if (id === Slob.BOOT_ID) this.notObject(obj, fn, "a cache descriptor, not an object");
    if ((id === Slob.OWN_ID) !== (want === Slob.OWN_ID)) {
      this.notObject(
        obj,
        fn,
        id === Slob.OWN_ID
          ? "kmem's own metadata (a vmalloc, mempool, zsmalloc, zram or swap descriptor); only kmem frees it"
          : "not kmem's own metadata",
      );
    }
    if (want >= 0 && id !== want) {
      const owner =
        id === Slob.KMALLOC_ID ? "kmalloc" : JSON.stringify(this.cacheOf(id)?.name ?? "kmem_cache");
      const named = this.cacheOf(want)?.name ?? "?";
      throw new KmemError(
        "WRONG_CACHE",
        `object ${hex(obj)} belongs to ${owner}, not cache ${JSON.stringify(named)}`,
      );
    }
    return id;
  }

  /** A header that does not decode: already free, or never an object. */
  private badBlock(obj: number, fn: string): never {
    const pfn = obj >>> this.pageShift;
    const base = pfn << (this.pageShift - 1);
    const b = ((obj - Slob.HDR) >>> 1) - base;
    const end = this.pageUnits;
    for (let cur = this.f[pfn * Frame.WORDS + SlobPg.FREELIST] as number; cur !== end;) {
      if (cur <= b + 1 && b < cur + this.unitsAt(base, cur)) this.alreadyFree(fn, obj);
      if (cur > b + 1) break;
      cur = this.nextAt(base, cur);
    }
    this.notObject(obj, fn, "not the start of a live object");
  }

  private notSlob(obj: number, pfn: number, flags: number, fn: string): never {
    if ((flags & (PgFlag.BUDDY | PgFlag.PCP)) !== 0) this.alreadyFree(fn, obj);
    if (flags === 0) {
      // A tail frame: inside a block of pages.
      this.notObject(obj, fn, "inside a block of pages, not the start of an object");
    }
    void pfn;
    this.notObject(obj, fn, "not an object (the page does not belong to the object allocator)");
  }

  private notObject(obj: number, fn: string, why: string): never {
    throw new KmemError("INVALID_FREE", `${fn}(${hex(obj)}): ${why}`);
  }

  /** Frees a checked object of cache `id` (units from the header for small pages). */
  private release(obj: number, id: number, fn: string): void {
    const pfn = obj >>> this.pageShift;
    const i = pfn * Frame.WORDS;
    if (this.f[i + SlobPg.LIST] === SlobList.BIG) {
      const order = this.f[i + Pg.ORDER] as number;
      if (this.initOnFree) this.phys.fill(0, obj, obj + (this.pageSize << order));
      {
        if (this.smp)
          this.note((i + Pg.FLAGS) * 4 + JournalKind.FRAME, this.f[i + Pg.FLAGS] as number);
        this.f[i + Pg.FLAGS] = PgFlag.HEAD;
      }
      {
        if (this.smp)
          this.note((i + SlobPg.LIST) * 4 + JournalKind.FRAME, this.f[i + SlobPg.LIST] as number);
        this.f[i + SlobPg.LIST] = SlobList.NONE;
      }
      {
        if (this.smp)
          this.note((i + SlobPg.CACHE) * 4 + JournalKind.FRAME, this.f[i + SlobPg.CACHE] as number);
        this.f[i + SlobPg.CACHE] = 0;
      }
      this.pageGauge(-(1 << order));
      this.countFree(id);
      this.commit();
      this.buddy.freePages(obj, order);
      return;
    }
    const at = (obj - Slob.HDR) >>> 1;
    const units = this.h16(at);
    const b = at - (pfn << (this.pageShift - 1));
    const prev = this.insertionPoint(pfn, b, units, fn, obj);
    if (this.initOnFree) this.phys.fill(0, obj, at * Slob.UNIT + units * Slob.UNIT);
    this.countFree(id);
    this.slobFree(pfn, b, units, prev);
  }

  private countFree(id: number): void {
    if (id === Slob.KMALLOC_ID) {
      {
        if (this.smp)
          this.note(
            (this.dWord + SlobDesc.KMALLOC_ACTIVE) * 4 + JournalKind.WORD,
            this.d[SlobDesc.KMALLOC_ACTIVE] as number,
          );
        this.d[SlobDesc.KMALLOC_ACTIVE] = (this.d[SlobDesc.KMALLOC_ACTIVE] as number) - 1;
      }
    } else if (id !== Slob.BOOT_ID && id !== Slob.OWN_ID) {
      const c = this.cacheOf(id) as KmemCache;
      {
        if (this.smp)
          this.note(
            ((c.desc >>> 2) + CacheDesc.ACTIVE) * 4 + JournalKind.WORD,
            this.phys.word((c.desc >>> 2) + CacheDesc.ACTIVE),
          );
        this.phys.setWord(
          (c.desc >>> 2) + CacheDesc.ACTIVE,
          (c.dv[CacheDesc.ACTIVE] as number) - 1,
        );
      }
    }
  }

  /* ------------------------------------------------------------------ kmalloc */

  /** Whether a block of `bytes` (header included) with this alignment fits a fresh page. */
  private fitsPage(bytes: number, align: number): boolean {
    // The first compare keeps the bit arithmetic from wrapping at 2 GiB.
    return bytes <= this.pageSize && align - Slob.HDR + ((bytes + 1) & ~1) <= this.pageSize;
  }

  private shouldFail(gfp: number, size: number, flags: number): boolean {
    const attr = this.failslab;
    if (attr === null || !failslabHits(attr, gfp, size, flags, this.log)) return false;
    this.ev[Vm.FAULT_INJECTED] = (this.ev[Vm.FAULT_INJECTED] as number) + 1;
    return true;
  }

  /** kmalloc: `size` is a trusted non-negative integer. */
  kmalloc(size: number, gfp: number): number {
    return this.kmallocNode(size, gfp, -1);
  }

  /** kmalloc_node: on a page of node `nid` (-1: any). `size` and `nid` are trusted. */
  kmallocNode(size: number, gfp: number, nid: number): number {
    return this.kmallocAs(size, gfp, nid, Slob.KMALLOC_ID);
  }

  /** kmem's own metadata: a block tagged OWN_ID, or pages flagged so. */
  kmallocOwn(size: number, gfp: number): number {
    return this.kmallocAs(size, gfp, -1, Slob.OWN_ID);
  }

  /** Frees what kmallocOwn returned. */
  kfreeOwn(address: number): void {
    // Addresses read back from descriptor words are i32: unsigned from 2 GiB up.
    const addr = address >>> 0;
    if (this.isSlobPage(addr)) {
      this.lock();
      try {
        this.release(addr, this.owner(addr, Slob.OWN_ID, "kfree"), "kfree");
      } finally {
        this.unlock();
      }
      return;
    }
    this.large.free(addr, "kfree", true);
  }

  /** The usable size of what kmallocOwn returned. */
  ksizeOwn(address: number): number {
    const addr = address >>> 0;
    if (!this.isSlobPage(addr)) return this.large.usable(addr, "ksize", true);
    this.lock();
    try {
      return this.ksizeLocked(addr, Slob.OWN_ID);
    } finally {
      this.unlock();
    }
  }

  /** kmalloc_node for cache id `id`: kmalloc's (0), or kmem's own metadata. */
  private kmallocAs(size: number, gfp: number, nid: number, id: number): number {
    if (size === 0) return ZERO_SIZE_PTR;
    const align = (size & (size - 1)) === 0 && size > Slob.MIN_ALIGN ? size : Slob.MIN_ALIGN;
    if (!this.fitsPage(size + Slob.HDR, align))
      return this.large.alloc(size, gfp, nid, id === Slob.OWN_ID);
    if (this.failslab !== null && this.shouldFail(gfp, size, 0)) return 0;
    for (let retried = false; ; retried = true) {
      let obj = 0;
      this.lock();
      try {
        obj = this.slobAlloc(size + Slob.HDR, gfp, align, id, nid);
        if (obj !== 0 && id === Slob.KMALLOC_ID) {
          if (this.smp)
            this.note(
              (this.dWord + SlobDesc.KMALLOC_ACTIVE) * 4 + JournalKind.WORD,
              this.d[SlobDesc.KMALLOC_ACTIVE] as number,
            );
          this.d[SlobDesc.KMALLOC_ACTIVE] = (this.d[SlobDesc.KMALLOC_ACTIVE] as number) + 1;
        }
      } finally {
        this.unlock();
      }
      if (obj !== 0 || retried || !this.takeSpare(gfp, nid)) {
        this.dropSpare();
        return obj;
      }
    }
  }

  /**
   * With several cpus, after an allocation under the lock found no page: allocates one
   * outside it with the caller's gfp (reclaim, sleeping) for the retry. True if it got one.
   */
  private takeSpare(gfp: number, nid: number): boolean {
    if (!this.smp || (gfp & Gfp.DIRECT_RECLAIM) === 0) return false;
    this.spare = this.buddy.allocPagesNode(nid, 0, gfp & ~Gfp.ZERO);
    return this.spare !== 0;
  }

  /** Gives back a spare page the retry did not need. */
  private dropSpare(): void {
    if (this.spare === 0) return;
    const addr = this.spare;
    this.spare = 0;
    this.buddy.freePages(addr, 0);
  }

  /** kfree: any object (kmalloc or a cache's), or a large kmalloc. */
  kfree(addr: number): void {
    if (addr === 0 || addr === ZERO_SIZE_PTR) return;
    if (this.isSlobPage(addr)) {
      this.lock();
      try {
        this.release(addr, this.owner(addr, -1, "kfree"), "kfree");
      } finally {
        this.unlock();
      }
      return;
    }
    this.large.free(addr, "kfree");
  }

  /** ksize: the bytes usable at `addr`. */
  ksize(addr: number): number {
    if (addr === 0 || addr === ZERO_SIZE_PTR) return 0;
    if (!this.isSlobPage(addr)) return this.large.usable(addr, "ksize");
    this.lock();
    try {
      return this.ksizeLocked(addr);
    } finally {
      this.unlock();
    }
  }

  private ksizeLocked(addr: number, want = -1): number {
    const id = this.owner(addr, want, "ksize");
    const pfn = addr >>> this.pageShift;
    if (this.f[pfn * Frame.WORDS + SlobPg.LIST] === SlobList.BIG) {
      return this.pageSize << (this.f[pfn * Frame.WORDS + Pg.ORDER] as number);
    }
    const at = (addr - Slob.HDR) >>> 1;
    const units = this.h16(at);
    // A free block is never taken for a live one: the walk finds it.
    this.insertionPoint(pfn, at - (pfn << (this.pageShift - 1)), units, "ksize", addr);
    return id === Slob.KMALLOC_ID || id === Slob.OWN_ID
      ? units * Slob.UNIT - Slob.HDR
      : (this.cacheOf(id) as KmemCache).objectSize;
  }

  krealloc(addr: number, size: number, gfp: number, initOnAlloc: boolean): number {
    return krealloc(this, this.phys, addr, size, gfp, initOnAlloc);
  }

  /** SLOB keeps no requested size: only the zeroing past `size`. */
  resizeInPlace(addr: number, size: number, usable: number, zero: boolean): void {
    if (zero) this.phys.fill(0, addr + size, addr + usable);
  }

  private isSlobPage(addr: number): boolean {
    const pfn = addr >>> this.pageShift;
    if ((pfn < this.firstPfn || pfn >= this.totalPages) && !this.onlineSince(pfn)) return false;
    return ((this.f[pfn * Frame.WORDS + Pg.FLAGS] as number) & PgFlag.SLAB) !== 0;
  }

  /* ------------------------------------------------------------------ caches */

  /** kmem_cache_create under SLOB: validated as SLUB does; SLOB never merges caches. */
  createCache(name: unknown, size: unknown, options: unknown): KmemCache | null {
    const args = parseCacheArgs(
      name,
      size,
      options,
      this.pageSize,
      this.pageSize << (this.maxOrder - 1),
    );
    const { nameBytes, flags, ctor } = args;
    const objectSize = args.size;
    let align = args.align;
    this.lock();
    try {
      if (this.findLocked(name as string) !== null) {
        throw new RangeError(`a cache named ${JSON.stringify(name)} exists already`);
      }
      align = calculateAlignment(flags, align, objectSize);
      const id = this.newId();
      if (id < 0) throw new RangeError(`SLOB has room for ${Slob.MAX_ID - 1} caches`);
      const descBytes = CacheDesc.WORDS * 4;
      const desc = this.slobAlloc(
        descBytes + Slob.HDR,
        Gfp.KERNEL,
        Slob.MIN_ALIGN,
        Slob.BOOT_ID,
        -1,
      );
      if (desc === 0) return null;
      const big = !this.fitsPage(objectSize + Slob.HDR, align);
      const pages = Math.ceil(objectSize / this.pageSize);
      const order = big ? (pages <= 1 ? 0 : 32 - Math.clz32(pages - 1)) : -1;
      const dv = this.phys.wordsAt(desc, CacheDesc.WORDS);
      dv.fill(0);
      dv[CacheDesc.ID] = id;
      dv[CacheDesc.OBJECT_SIZE] = objectSize;
      dv[CacheDesc.ALIGN] = align;
      dv[CacheDesc.FLAGS] = flags;
      dv[CacheDesc.ORDER] = order;
      dv[CacheDesc.SERIAL] = ++this.h[Hdr.CACHE_SERIAL]!;
      this.phys.span(desc + CacheDesc.NAME * 4, nameBytes.length).set(nameBytes);
      // Link as the newest cache.
      const first = (this.d[SlobDesc.CACHES] as number) >>> 0;
      dv[CacheDesc.NEXT] = first;
      if (first !== 0) {
        if (this.smp)
          this.note(
            ((first >>> 2) + CacheDesc.PREV) * 4 + JournalKind.WORD,
            this.phys.word((first >>> 2) + CacheDesc.PREV),
          );
        this.phys.setWord((first >>> 2) + CacheDesc.PREV, desc);
      }
      {
        if (this.smp)
          this.note(
            (this.dWord + SlobDesc.CACHES) * 4 + JournalKind.WORD,
            this.d[SlobDesc.CACHES] as number,
          );
        this.d[SlobDesc.CACHES] = desc;
      }
      if (ctor !== null) this.ctors.set(name as string, ctor);
      const c = this.makeHandle(desc, dv, name as string, ctor);
      while (this.caches.length <= id) this.caches.push(null);
      this.caches[id] = c;
      return c;
    } finally {
      this.unlock();
    }
  }

  /** The smallest cache id no descriptor in memory uses; -1 when all are taken. Lock held. */
  private newId(): number {
    const used = new Set<number>();
    for (const d of this.cacheDescs()) used.add(this.phys.word((d >>> 2) + CacheDesc.ID));
    for (let id = Slob.BOOT_ID + 1; id <= Slob.MAX_ID; id++) if (!used.has(id)) return id;
    return -1;
  }

  /** The cache named `name`, made in any context; null if none. */
  findByName(name: string): KmemCache | null {
    this.lock();
    try {
      return this.findLocked(name);
    } finally {
      this.unlock();
    }
  }

  private findLocked(name: string): KmemCache | null {
    if (this.smp) this.syncCaches();
    for (const c of this.caches) if (c !== null && c.name === name) return c;
    return null;
  }

  /** kmem_cache_alloc: SLOB runs the constructor at every allocation (after the lock). */
  alloc(c: KmemCache, gfp: number, size: number): number {
    return this.allocNode(c, gfp, size, -1);
  }

  /** kmem_cache_alloc_node: an object on a page of node `nid` (-1: any). */
  allocNode(c: KmemCache, gfp: number, _size: number, nid: number): number {
    this.checkHandle(c, "alloc");
    if (this.failslab !== null && this.shouldFail(gfp, c.objectSize, c.flags)) return 0;
    let obj: number;
    if ((c.dv[CacheDesc.ORDER] as number) >= 0) {
      obj = this.buddy.allocPagesNode(nid, c.order, gfp & ~Gfp.ZERO);
      if (obj === 0) return 0;
      const i = (obj >>> this.pageShift) * Frame.WORDS;
      if ((gfp & Gfp.ZERO) !== 0 || this.initOnAlloc) this.phys.fill(0, obj, obj + c.size);
      this.lock();
      if (this.smp) this.note((obj >>> this.pageShift) * 4 + JournalKind.PAGE, c.order);
      {
        if (this.smp)
          this.note((i + SlobPg.LIST) * 4 + JournalKind.FRAME, this.f[i + SlobPg.LIST] as number);
        this.f[i + SlobPg.LIST] = SlobList.BIG;
      }
      {
        if (this.smp)
          this.note((i + SlobPg.CACHE) * 4 + JournalKind.FRAME, this.f[i + SlobPg.CACHE] as number);
        this.f[i + SlobPg.CACHE] = c.id;
      }
      {
        if (this.smp)
          this.note((i + Pg.FLAGS) * 4 + JournalKind.FRAME, this.f[i + Pg.FLAGS] as number);
        this.f[i + Pg.FLAGS] = PgFlag.HEAD | PgFlag.SLAB;
      }
      this.pageGauge(1 << c.order);
      {
        if (this.smp)
          this.note(
            ((c.desc >>> 2) + CacheDesc.ACTIVE) * 4 + JournalKind.WORD,
            this.phys.word((c.desc >>> 2) + CacheDesc.ACTIVE),
          );
        this.phys.setWord(
          (c.desc >>> 2) + CacheDesc.ACTIVE,
          (c.dv[CacheDesc.ACTIVE] as number) + 1,
        );
      }
      this.unlock();
    } else {
      for (let retried = false; ; retried = true) {
        obj = 0;
        this.lock();
        try {
          const align = c.dv[CacheDesc.ALIGN] as number;
          // Read from memory: checked before it shapes a block (a damaged one would overlap).
          if (align < Slob.MIN_ALIGN || align > this.pageSize || (align & (align - 1)) !== 0)
            this.checkAlign(align, c.desc);
          obj = this.slobAlloc(c.objectSize + Slob.HDR, gfp, align, c.id, nid);
          if (obj !== 0) {
            if (this.smp)
              this.note(
                ((c.desc >>> 2) + CacheDesc.ACTIVE) * 4 + JournalKind.WORD,
                this.phys.word((c.desc >>> 2) + CacheDesc.ACTIVE),
              );
            this.phys.setWord(
              (c.desc >>> 2) + CacheDesc.ACTIVE,
              (c.dv[CacheDesc.ACTIVE] as number) + 1,
            );
          }
        } finally {
          this.unlock();
        }
        if (obj !== 0 || retried || !this.takeSpare(gfp, nid)) break;
      }
      this.dropSpare();
      if (obj === 0) return 0;
    }
    if (c.ctor !== null) {
      // While a constructor runs, no cache may be destroyed (destroy checks).
      this.ctorDepth++;
      try {
        c.ctor(obj);
      } finally {
        this.ctorDepth--;
      }
    }
    return obj;
  }

  /** kmem_cache_free. */
  free(c: KmemCache, addr: number): void {
    this.checkHandle(c, "free");
    if (addr >>> 0 !== addr) {
      throw new TypeError(`${c.name}: address must be an unsigned integer, got ${describe(addr)}`);
    }
    this.lock();
    try {
      this.release(addr, this.owner(addr, c.id, c.name + ".free"), c.name + ".free");
    } finally {
      this.unlock();
    }
  }

  /** Checks that `addr` is a live object of cache `c` (what a free would check); reads only. */
  checkLive(c: KmemCache, addr: number, fn: string): void {
    this.lock();
    try {
      this.owner(addr, c.id, fn);
      const pfn = addr >>> this.pageShift;
      if (this.f[pfn * Frame.WORDS + SlobPg.LIST] === SlobList.BIG) return;
      const at = (addr - Slob.HDR) >>> 1;
      this.insertionPoint(pfn, at - (pfn << (this.pageShift - 1)), this.h16(at), fn, addr);
    } finally {
      this.unlock();
    }
  }

  /**
   * kmem_cache_shrink: the pages given back. A page goes back the moment its last block is
   * freed (slobFree), so SLOB never holds one a shrink could free: 0, as Linux's SLOB.
   */
  shrink(_c: KmemCache): number {
    return 0;
  }

  /** Reclaim's shrink of every cache: 0 pages, for the same reason as shrink. */
  shrinkAll(_nrToScan: number): number {
    return 0;
  }

  /**
   * cpu hotplug: SLOB keeps nothing per cpu (no cpu slab, no sheaf), so a dead cpu left 0.
   * The lock is taken once: pages a dead holder had taken (its journal) go back.
   */
  drainCpu(_cpu: number): number {
    if (this.smp) {
      this.lock();
      this.unlock();
    }
    return 0;
  }

  destroy(c: KmemCache): void {
    if (this.ctorDepth !== 0) {
      throw new KmemError(
        "BUSY",
        `cache ${JSON.stringify(c.name)}: destroy() from a constructor, while an object is being built`,
      );
    }
    this.lock();
    try {
      this.checkHandle(c, "destroy");
      const active = c.dv[CacheDesc.ACTIVE] as number;
      if (active > 0) {
        throw new KmemError(
          "BUSY",
          `cache ${JSON.stringify(c.name)} still has ${active} live object(s); free them before destroy()`,
        );
      }
      const desc = c.desc;
      const next = c.dv[CacheDesc.NEXT] as number;
      const prev = c.dv[CacheDesc.PREV] as number;
      if (prev !== 0) {
        if (this.smp)
          this.note(
            ((prev >>> 2) + CacheDesc.NEXT) * 4 + JournalKind.WORD,
            this.phys.word((prev >>> 2) + CacheDesc.NEXT),
          );
        this.phys.setWord((prev >>> 2) + CacheDesc.NEXT, next);
      } else {
        if (this.smp)
          this.note(
            (this.dWord + SlobDesc.CACHES) * 4 + JournalKind.WORD,
            this.d[SlobDesc.CACHES] as number,
          );
        this.d[SlobDesc.CACHES] = next;
      }
      if (next !== 0) {
        if (this.smp)
          this.note(
            ((next >>> 2) + CacheDesc.PREV) * 4 + JournalKind.WORD,
            this.phys.word((next >>> 2) + CacheDesc.PREV),
          );
        this.phys.setWord((next >>> 2) + CacheDesc.PREV, prev);
      }
      {
        if (this.smp)
          this.note(
            ((desc >>> 2) + CacheDesc.SERIAL) * 4 + JournalKind.WORD,
            this.phys.word((desc >>> 2) + CacheDesc.SERIAL),
          );
        this.phys.setWord((desc >>> 2) + CacheDesc.SERIAL, 0);
      }
      this.caches[c.id] = null;
      c.dead = true;
      this.release(desc, Slob.BOOT_ID, "destroy");
    } finally {
      this.unlock();
    }
  }

  /** NUMA nodes of the instance (for node arguments). */
  nodeCount(): number {
    return this.buddy.nrNodes;
  }

  badGfp(gfp: unknown): never {
    throw new TypeError(`gfp must be a combination of GFP flags, got ${describe(gfp)}`);
  }

  /* ------------------------------------------------------------------ introspection */

  /** Caches, newest first. */
  realCaches(): KmemCache[] {
    this.lock();
    try {
      if (this.smp) this.syncCaches();
      const out: KmemCache[] = [];
      for (const d of this.cacheDescs()) {
        const c = this.caches[this.phys.word((d >>> 2) + CacheDesc.ID)];
        if (c !== null && c !== undefined) out.push(c);
      }
      return out;
    } finally {
      this.unlock();
    }
  }

  info(c: KmemCache): SlabCacheInfo {
    const active = c.dv[CacheDesc.ACTIVE] as number;
    const big = (c.dv[CacheDesc.ORDER] as number) >= 0;
    return {
      name: c.name,
      objectSize: c.objectSize,
      size: c.size,
      activeObjects: active,
      totalObjects: active,
      slabs: big ? active : 0,
      objectsPerSlab: big ? 1 : 0,
      pagesPerSlab: big ? 1 << c.order : 0,
      quarantined: 0,
      aliases: [],
    };
  }

  /** Pages held, [reclaimable, unreclaimable]: SLOB accounts all as unreclaimable. */
  slabPages(): [number, number] {
    return [0, this.d[SlobDesc.PAGES] as number];
  }

  /** Live kmalloc objects served by SLOB (large ones not included). */
  kmallocActive(): number {
    return this.d[SlobDesc.KMALLOC_ACTIVE] as number;
  }

  /** Checks SLOB-1..5 under the lock (SLOB has no per-cpu state). */
  verify(): void {
    this.lock();
    try {
      if (this.smp) this.syncCaches();
      this.cacheDescs();
      verifySlob(this);
    } finally {
      this.unlock();
    }
  }
}

/**
 * Undoes the journal of a critical section whose holder died (slob_lock held, or the
 * instance being reopened): every store restored, newest first, and the journal left
 * holding only the pages the section had taken (for the next holder of the lock to free).
 * Needs only the memory. Entries are range-checked: damage is CORRUPTION (SLOB-1).
 */
export function undoJournal(phys: PhysMem, d: Int32Array): string {
  const n = d[SlobDesc.JOURNAL_COUNT] as number;
  if (n < 0 || n > SlobDesc.JOURNAL_ENTRIES) corrupt("SLOB-1", `the journal holds ${n} entries`);
  const pages: [number, number][] = [];
  let undone = 0;
  for (let k = n - 1; k >= 0; k--) {
    const code = (d[SlobDesc.JOURNAL + 2 * k] as number) >>> 0;
    // 0: a page entry already dealt with (settle).
    if (code === 0) continue;
    const old = d[SlobDesc.JOURNAL + 2 * k + 1] as number;
    const kind = code % 4;
    const at = (code - kind) / 4;
    if (kind === JournalKind.FRAME && at < phys.frames.length) phys.frames[at] = old;
    else if (kind === JournalKind.WORD && phys.hasByte(at * 4 + 3)) phys.setWord(at, old);
    else if (kind === JournalKind.PAGE && at > 0 && at < phys.totalPages) pages.push([at, old]);
    else corrupt("SLOB-1", `journal entry ${k} is ${code}`);
    if (kind !== JournalKind.PAGE) undone++;
  }
  pages.forEach(([pfn, order], k) => {
    d[SlobDesc.JOURNAL + 2 * k] = pfn * 4 + JournalKind.PAGE;
    d[SlobDesc.JOURNAL + 2 * k + 1] = order;
  });
  d[SlobDesc.JOURNAL_COUNT] = pages.length;
  if (undone === 0 && pages.length === 0) return "no operation was under way";
  return `the operation under way undone (${undone} stores)${pages.length > 0 ? `; ${pages.length} page${pages.length > 1 ? "s" : ""} it had taken to be freed` : ""}`;
}
