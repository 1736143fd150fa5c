/*
 * The McKusick-Karels allocator of 4.3BSD (McKusick & Karels, "Design of a General Purpose
 * Memory Allocator for the 4.3BSD UNIX Kernel", USENIX 1988; kern_malloc.c of 4.3BSD-Reno;
 * Vahalia §12.5). Power-of-two buckets from 16 bytes to two pages, each carved from pages of
 * its own size, with no header: the size of a piece is found from its page, in kmemusage.
 * Larger requests take whole pages, first fit in the kernel arena (mk-arena.ts), and give
 * them back on free. Pages once given to a bucket stay with it.
 *
 *   malloc(size)  size <= 2 x page: pop bucket[BUCKETINDX(size)] (16 << k bytes), carving a
 *                 fresh page (or two, for the 2-page bucket) when it is empty
 *                 else: ceil(size / page) pages of the arena
 *   free(addr)    kmemusage[page of addr] says: a piece of bucket k (push it back), or the
 *                 first page of a large allocation (its pages go back to the arena)
 *
 * Per-type statistics and limits (kmemstats): every call names a type (4.3BSD's M_MBUF,
 * M_NAMEI, ...; here an index into the `types` option, 0 by default) whose memory in use is
 * counted against its limit. A caller that cannot wait (M_NOWAIT) gets 0 at the limit; a
 * caller that can (M_WAITOK) would sleep until a free of its type in 4.3BSD: one context cannot
 * sleep for itself, so it is served and ks_limblocks counts it. M_WAITOK asks the page
 * allocator with __GFP_NOFAIL (4.3BSD's waiting callers "always succeed"); M_NOWAIT with
 * GFP_NOWAIT. alloc(size), the interface every classic allocator has, is malloc of type 0
 * with GFP_KERNEL pages: it returns 0 where the page allocator refuses, as kmalloc does.
 *
 * Control block, after the shared header (i32 words):
 *
 *   MK.ARENA          the arena's fields (mk-arena.ts, Arena.WORDS)
 *   MK.NTYPES         number of types
 *   MK.BUCKETS + Kb.WORDS x (k - MINBUCKET), for bucket k = MINBUCKET .. log2(2 x page):
 *       0        4        8        12       16       20       24
 *       +--------+--------+--------+--------+--------+--------+--------+
 *       | next   | calls  | total  | totfree| elmpcl | highwat| couldfr|   (struct kmembuckets)
 *       +--------+--------+--------+--------+--------+--------+--------+
 *   then Ks.WORDS per type:
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
 *       | inuse  | calls  | memuse | limit  | limblk | mapblk | maxused| atlimit|   (kmemstats)
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
 *   then the directory of kmemusage (frame-table.ts; entries in mk-arena.ts)
 *
 * A free piece holds the address of the next free piece of its bucket in its first word.
 *
 * Invariants (verify() reports these ids):
 *  MK-1, MK-2: the arena's (mk-arena.ts)
 *  MK-3: bucket k's list holds exactly the free pieces of its pages, each at a multiple of
 *        its size in a page of bucket k, none twice; each page's count of free pieces is
 *        right; total = pieces of its pages, totalfree = the list's length
 *  MK-4: the types' in-use counts and bytes (kmemstats: MK keeps its live counts there, not
 *        in the shared header words) add up to the allocated pieces and large allocations,
 *        none below zero
 *  MK-5: pages held = control block + kmemusage pages + the arena's chunks
 *  TABLE-1 (frame-table.ts)
 *
 * What it cannot detect (nor could 4.3BSD's): a double free of a piece while other pieces of
 * its page are allocated (4.3BSD panicked "free: multiple frees" only when a page's free
 * count passed its pieces; kmem says DOUBLE_FREE in that case, before changing anything);
 * a double free of a large allocation whose pages were handed out again (it frees the new
 * owner's); a free given the wrong type (the per-type counts drift; verify() notices once a type's
 * count goes below zero); a
 * write past the end of a piece into its neighbour, or into a free piece (a damaged free
 * list is found by verify(), or when the bad address is handed out). kmem adds: an address
 * that is not the start of a piece or of a large allocation is refused (INVALID_FREE).
 */

import { hex } from "../errors.js";
import type { Kmem } from "../kmem.js";
import { Gfp } from "../page/index.js";
import { ClassicBase, type ClassicStats, Ctl, GFP_PAGES, Kind, log2 } from "./control.js";
import { FrameTable } from "./frame-table.js";
import { Arena, KmemArena, kuCount, kuIndx, kuKind, Ku, Page } from "./mk-arena.js";

/** 2^MINBUCKET is the smallest piece: 16 bytes. */
const MINBUCKET = 4;
const MINALLOCSIZE = 1 << MINBUCKET;

/** malloc() flags: the caller may sleep (and always succeeds) ... */
export const M_WAITOK = 0;
/** ... or may not (it gets 0 when memory or its type's limit is short). */
export const M_NOWAIT = 1;

/** struct kmembuckets. */
const enum Kb {
  NEXT = 0,
  CALLS = 1,
  TOTAL = 2,
  TOTALFREE = 3,
  ELMPERCL = 4,
  HIGHWAT = 5,
  COULDFREE = 6,
  WORDS = 7,
}

/** struct kmemstats. */
const enum Ks {
  INUSE = 0,
  CALLS = 1,
  MEMUSE = 2,
  LIMIT = 3,
  LIMBLOCKS = 4,
  MAPBLOCKS = 5,
  MAXUSED = 6,
  ATLIMIT = 7,
  WORDS = 8,
}

const enum MK {
  ARENA = Ctl.WORDS,
  NTYPES = ARENA + Arena.WORDS,
  BUCKETS = NTYPES + 1,
}

/** A type of memory (4.3BSD's M_* constants) and its limit. */
export interface MalloctType {
  /** Its name in stats(). */
  name: string;
  /** Bytes it may have in use (default: 80% of managed memory, 4.3BSD's default). */
  limit?: number;
}

/** Options of the McKusick-Karels allocator. */
export interface McKusickKarelsOptions {
  /** The types callers name (default one, "temp"); at most 64. */
  types?: MalloctType[];
  /** Pages of each chunk the arena takes from the page allocator, a power of two (default 16). */
  arenaChunkPages?: number;
}

/** One bucket of {@link McKusickKarelsStats} (struct kmembuckets). */
export interface MkBucket {
  size: number;
  calls: number;
  /** Pieces carved, free ones, and frees that left a page all free above the high water mark. */
  total: number;
  free: number;
  couldFree: number;
}

/** One type of {@link McKusickKarelsStats} (struct kmemstats). */
export interface MkType {
  name: string;
  inUse: number;
  calls: number;
  memUse: number;
  limit: number;
  /** Waiting callers that found the type at its limit, and that found no pages. */
  limBlocks: number;
  mapBlocks: number;
  maxUsed: number;
  /** Non-waiting callers refused at the limit. */
  atLimit: number;
}

/** stats() of {@link McKusickKarelsAllocator}. */
export interface McKusickKarelsStats extends ClassicStats {
  buckets: MkBucket[];
  types: MkType[];
  arena: { chunks: number; chunkPages: number; freeRuns: number; freePages: number };
  /** Bytes of kmemusage held, and per MiB of arena (4.3BSD: 4 KiB per MiB of 1 KiB pages). */
  kmemusageBytes: number;
  kmemusageBytesPerMiB: number;
}

/** What kmemusage says of an address (pageInfo). */
export interface MkPageInfo {
  kind: "bucket" | "large" | "free" | "interior" | "none";
  /** bucket: the piece size; large: the allocation's bytes; free: the run's bytes. */
  size: number;
  /** bucket: free pieces of the page. */
  free: number;
  /** Pages the bucket element, allocation or run spans. */
  pages: number;
}

export class McKusickKarelsAllocator extends ClassicBase {
  readonly name = "mckusick-karels";
  /** MAXALLOCSAVE: the largest bucket, two pages. */
  declare readonly maxSave: number;
  declare readonly typeNames: readonly string[];
  declare readonly arena: KmemArena;
  declare private readonly table: FrameTable;
  declare private readonly kb0: number;
  declare private readonly types: number;
  declare private readonly ntypes: number;
  /** Piece alignment mask per bucket index (pieces of two pages: a page). */
  declare private readonly masks: Int32Array;
  declare private readonly pageMask: number;

  constructor(mm: Kmem, options: McKusickKarelsOptions = {}) {
    const types = options.types ?? [{ name: "temp" }];
    if (!Array.isArray(types) || types.length < 1 || types.length > 64) {
      throw new TypeError("mckusick-karels: types must be an array of 1..64 { name, limit? }");
    }
    const chunkPages = options.arenaChunkPages ?? 16;
    if (!Number.isInteger(chunkPages) || chunkPages < 1 || (chunkPages & (chunkPages - 1)) !== 0) {
      throw new RangeError(
        `mckusick-karels: arenaChunkPages must be a power of two >= 1, got ${String(chunkPages)}`,
      );
    }
    const pageShift = log2(mm.pageSize);
    const nbk = pageShift + 1 - MINBUCKET + 1;
    const own = MK.BUCKETS + nbk * Kb.WORDS + types.length * Ks.WORDS;
    super(mm, Kind.MCKUSICK_KARELS, own + FrameTable.dirWords(4, mm.pageSize, mm.totalPages));
    const w = this.w;
    this.maxSave = 2 * mm.pageSize;
    this.pageMask = mm.pageSize - 1;
    this.table = new FrameTable(this, this.ctl + own, 4);
    this.arena = new KmemArena(this, this.table, this.ctl + MK.ARENA, chunkPages);
    this.kb0 = this.ctl + MK.BUCKETS;
    this.types = this.kb0 + nbk * Kb.WORDS;
    this.ntypes = types.length;
    w[this.ctl + MK.NTYPES] = types.length;
    this.masks = new Int32Array(32);
    for (let k = MINBUCKET; k < MINBUCKET + nbk; k++) {
      this.masks[k] = Math.min(1 << k, mm.pageSize) - 1;
      const kb = this.kb0 + (k - MINBUCKET) * Kb.WORDS;
      const elm = 1 << k >= mm.pageSize ? 1 : mm.pageSize >>> k;
      w[kb + Kb.ELMPERCL] = elm;
      w[kb + Kb.HIGHWAT] = 5 * elm;
    }
    const defaultLimit = Math.min(2 ** 31 - 1, Math.floor(mm.managedPages * mm.pageSize * 0.8));
    this.typeNames = types.map((t, i) => {
      if (typeof t !== "object" || t === null || typeof t.name !== "string") {
        throw new TypeError(`mckusick-karels: types[${i}] must be { name: string, limit? }`);
      }
      const limit = t.limit ?? defaultLimit;
      if (!Number.isInteger(limit) || limit < 0 || limit > 2 ** 31 - 1) {
        throw new RangeError(
          `mckusick-karels: types[${i}].limit must be an integer in 0..${2 ** 31 - 1}, got ${String(limit)}`,
        );
      }
      w[this.types + i * Ks.WORDS + Ks.LIMIT] = limit;
      return t.name;
    });
  }

  /** malloc(size, M_TEMP-like type 0) with GFP_KERNEL pages; the address, or 0. */
  alloc(size: number): number {
    if (size >>> 0 !== size) return this.oddSize(size);
    if (size > this.maxSave) return this.large(size, 0, GFP_PAGES);
    return this.small(size <= MINALLOCSIZE ? MINBUCKET : 32 - Math.clz32(size - 1), 0, GFP_PAGES);
  }

  /**
   * 4.3BSD's malloc(size, type, flags): `type` an index into the types option, `flags`
   * M_WAITOK (the default: always served while the page allocator can, with __GFP_NOFAIL)
   * or M_NOWAIT (0 when the type is at its limit or pages are short).
   */
  malloc(size: number, type = 0, flags: number = M_WAITOK): number {
    this.checkType(type);
    if (flags !== M_WAITOK && flags !== M_NOWAIT) {
      throw new RangeError(
        `mckusick-karels: flags must be M_WAITOK (0) or M_NOWAIT (1), got ${String(flags)}`,
      );
    }
    if (size >>> 0 !== size) return this.oddSize(size);
    const gfp = flags === M_NOWAIT ? Gfp.NOWAIT : Gfp.KERNEL | Gfp.NOFAIL;
    if (size > this.maxSave) return this.large(size, type, gfp);
    return this.small(size <= MINALLOCSIZE ? MINBUCKET : 32 - Math.clz32(size - 1), type, gfp);
  }

  private small(indx: number, type: number, gfp: number): number {
    const w = this.w;
    const ks = this.types + type * Ks.WORDS;
    if (
      (w[ks + Ks.MEMUSE] as number) >>> 0 >= (w[ks + Ks.LIMIT] as number) &&
      !this.atLimit(ks, gfp)
    ) {
      return this.failed();
    }
    const kb = this.kb0 + (indx - MINBUCKET) * Kb.WORDS;
    let va = (w[kb + Kb.NEXT] as number) >>> 0;
    if (va === 0) {
      va = this.refill(indx, kb, gfp);
      if (va === 0) return this.noPages(ks, gfp);
    }
    w[kb + Kb.NEXT] = w[va >>> 2] as number;
    w[this.table.at(va >>> this.pageShift) >>> 2]! -= Ku.COUNT_ONE;
    w[kb + Kb.TOTALFREE]!--;
    w[kb + Kb.CALLS]!++;
    const bytes = 1 << indx;
    const use = (w[ks + Ks.MEMUSE] = (w[ks + Ks.MEMUSE] as number) + bytes);
    w[ks + Ks.INUSE]!++;
    w[ks + Ks.CALLS]!++;
    if (use >>> 0 > (w[ks + Ks.MAXUSED] as number) >>> 0) w[ks + Ks.MAXUSED] = use;
    return va;
  }

  /** ceil(size / page) pages of the arena; the address or 0. */
  private large(size: number, type: number, gfp: number): number {
    const w = this.w;
    const ks = this.types + type * Ks.WORDS;
    if (
      (w[ks + Ks.MEMUSE] as number) >>> 0 >= (w[ks + Ks.LIMIT] as number) &&
      !this.atLimit(ks, gfp)
    ) {
      return this.failed();
    }
    const npg = Math.ceil(size / this.pageSize);
    if (npg > 1 << this.arena.maxOrder) return this.failed();
    const pfn = this.arena.alloc(npg, gfp);
    if (pfn === 0) return this.noPages(ks, gfp);
    this.arena.set(pfn, Page.LARGE, 0, npg);
    const bytes = npg * this.pageSize;
    const use = (w[ks + Ks.MEMUSE] = (w[ks + Ks.MEMUSE] as number) + bytes);
    w[ks + Ks.INUSE]!++;
    w[ks + Ks.CALLS]!++;
    if (use >>> 0 > (w[ks + Ks.MAXUSED] as number) >>> 0) w[ks + Ks.MAXUSED] = use;
    w[this.ctl + Ctl.BIG_PAGES]! += npg;
    return pfn * this.pageSize;
  }

  /** A type at its limit: a waiting caller goes on (counted), another gets 0 (counted). */
  private atLimit(ks: number, gfp: number): boolean {
    if ((gfp & Gfp.DIRECT_RECLAIM) === 0) {
      this.w[ks + Ks.ATLIMIT]!++;
      return false;
    }
    this.w[ks + Ks.LIMBLOCKS]!++;
    return true;
  }

  /** No pages for a request: counted against its type when it could have waited. */
  private noPages(ks: number, gfp: number): number {
    if ((gfp & Gfp.NOFAIL) !== 0) this.w[ks + Ks.MAPBLOCKS]!++;
    return this.failed();
  }

  /** Carves fresh pieces of bucket `indx` onto its empty list; returns the first, or 0. */
  private refill(indx: number, kb: number, gfp: number): number {
    const w = this.w;
    const allocsize = 1 << indx;
    const npg = allocsize > this.pageSize ? allocsize / this.pageSize : 1;
    const pfn = this.arena.alloc(npg, gfp);
    if (pfn === 0) return 0;
    const elm = w[kb + Kb.ELMPERCL] as number;
    this.arena.set(pfn, Page.BUCKET, indx, elm);
    const va = pfn * this.pageSize;
    for (let k = 0; k < elm; k++) {
      const at = va + k * allocsize;
      w[at >>> 2] = k + 1 < elm ? at + allocsize : 0;
    }
    w[kb + Kb.NEXT] = va;
    w[kb + Kb.TOTAL]! += elm;
    w[kb + Kb.TOTALFREE]! += elm;
    return va;
  }

  /** 4.3BSD's free(addr, type): the size comes from kmemusage, not from the caller. */
  free(addr: number, type = 0): void {
    if (addr >>> 0 !== addr || addr >= this.memEnd) return this.badAddress("free", addr);
    if (type !== 0) this.checkType(type);
    const w = this.w;
    const pfn = addr >>> this.pageShift;
    const e = this.table.at(pfn) >>> 2;
    const ent = e === 0 ? 0 : (w[e] as number);
    const kind = ent & Ku.KIND_MASK;
    if (kind !== Page.BUCKET) return this.freeOther(addr, pfn, ent, type);
    const indx = (ent >>> Ku.INDX_SHIFT) & Ku.INDX_MASK;
    if ((addr & (this.masks[indx] as number)) !== 0) return this.badAddress("free", addr);
    const kb = this.kb0 + (indx - MINBUCKET) * Kb.WORDS;
    const elm = w[kb + Kb.ELMPERCL] as number;
    const freecnt = ent >>> Ku.COUNT_SHIFT;
    if (freecnt >= elm) this.multipleFrees(addr, indx);
    w[e] = ent + Ku.COUNT_ONE;
    if (freecnt + 1 === elm && (w[kb + Kb.TOTALFREE] as number) > (w[kb + Kb.HIGHWAT] as number)) {
      w[kb + Kb.COULDFREE]!++;
    }
    w[kb + Kb.TOTALFREE]!++;
    w[addr >>> 2] = w[kb + Kb.NEXT] as number;
    w[kb + Kb.NEXT] = addr;
    const bytes = 1 << indx;
    const ks = this.types + type * Ks.WORDS;
    w[ks + Ks.MEMUSE]! -= bytes;
    w[ks + Ks.INUSE]!--;
  }

  /** free() of what is not a bucket piece: a large allocation, or misuse. */
  private freeOther(addr: number, pfn: number, ent: number, type: number): void {
    const kind = kuKind(ent);
    if ((addr & this.pageMask) === 0 && kind === Page.LARGE) {
      const w = this.w;
      const npg = kuCount(ent);
      this.arena.free(pfn, npg);
      const bytes = npg * this.pageSize;
      const ks = this.types + type * Ks.WORDS;
      w[ks + Ks.MEMUSE]! -= bytes;
      w[ks + Ks.INUSE]!--;
      w[this.ctl + Ctl.BIG_PAGES]! -= npg;
      return;
    }
    if ((addr & this.pageMask) === 0 && kind === Page.FREE && this.isRunHead(pfn, ent)) {
      return this.misuse("DOUBLE_FREE", `free(${hex(addr)}): its pages are already free`);
    }
    return this.badAddress("free", addr);
  }

  /** Whether the FREE entry at `pfn` is a run's first page (not only its last). */
  private isRunHead(pfn: number, ent: number): boolean {
    const n = kuCount(ent);
    if (n === 1) return true;
    const k = this.arena.ku(pfn + n - 1);
    const tail = k === 0 ? 0 : (this.w[k] as number);
    return kuKind(tail) === Page.FREE && kuCount(tail) === n;
  }

  private multipleFrees(addr: number, indx: number): never {
    return this.misuse(
      "DOUBLE_FREE",
      `free(${hex(addr)}): every ${1 << indx}-byte piece of its page is free already (4.3BSD: "free: multiple frees")`,
    );
  }

  private checkType(type: number): void {
    if (type >>> 0 !== type || type >= this.ntypes) {
      throw new RangeError(
        `mckusick-karels: type must be an integer in 0..${this.ntypes - 1}, got ${String(type)}`,
      );
    }
  }

  /**
   * The allocated piece or large allocation at `addr`: [usable bytes, bucket index or 0].
   * Throws as free() would, changing nothing.
   */
  private lookup(addr: number, fn: string): number {
    if (addr >>> 0 !== addr || addr >= this.memEnd) return this.badAddress(fn, addr);
    const pfn = addr >>> this.pageShift;
    const e = this.table.at(pfn) >>> 2;
    const ent = e === 0 ? 0 : (this.w[e] as number);
    const kind = kuKind(ent);
    if (kind === Page.BUCKET) {
      const indx = kuIndx(ent);
      if ((addr & (this.masks[indx] as number)) === 0) return 1 << indx;
    } else if (kind === Page.LARGE && (addr & this.pageMask) === 0) {
      return kuCount(ent) * this.pageSize;
    } else if (kind === Page.FREE && (addr & this.pageMask) === 0 && this.isRunHead(pfn, ent)) {
      this.misuse("DOUBLE_FREE", `${fn}(${hex(addr)}): its pages are free`);
    }
    return this.badAddress(fn, addr);
  }

  /** Usable bytes at `addr`: its bucket's size, or its pages. */
  usableSize(addr: number): number {
    return this.lookup(addr, "usableSize");
  }

  /**
   * Resizes: in place while the new size rounds to the same bucket (or the same number of
   * pages), else a new allocation with the contents copied. The address, or 0 with the old
   * one untouched; realloc(0, n) is alloc(n).
   */
  realloc(addr: number, size: number): number {
    if (addr === 0) return this.alloc(size);
    const usable = this.lookup(addr, "realloc");
    if (size >>> 0 !== size) return this.oddSize(size);
    if (size <= usable) {
      const want =
        size > this.maxSave
          ? Math.ceil(size / this.pageSize) * this.pageSize
          : size <= MINALLOCSIZE
            ? MINALLOCSIZE
            : 2 ** (32 - Math.clz32(size - 1));
      if (want === usable) return addr;
    }
    const moved = this.alloc(size);
    if (moved === 0) return 0;
    this.mem.copyWithin(moved, addr, addr + Math.min(usable, size));
    this.free(addr);
    return moved;
  }

  /** What kmemusage records for the page of `addr` (how free() finds a size). */
  pageInfo(addr: number): MkPageInfo {
    if (addr >>> 0 !== addr || addr >= this.memEnd) return this.badAddress("pageInfo", addr);
    const k = this.table.at(addr >>> this.pageShift) >>> 2;
    const e = k === 0 ? 0 : (this.w[k] as number);
    switch (kuKind(e)) {
      case Page.BUCKET: {
        const size = 1 << kuIndx(e);
        return { kind: "bucket", size, free: kuCount(e), pages: Math.max(1, size / this.pageSize) };
      }
      case Page.LARGE:
        return { kind: "large", size: kuCount(e) * this.pageSize, free: 0, pages: kuCount(e) };
      case Page.FREE:
        return { kind: "free", size: kuCount(e) * this.pageSize, free: 0, pages: kuCount(e) };
      case Page.INTERIOR:
        return { kind: "interior", size: 0, free: 0, pages: 0 };
      default:
        return { kind: "none", size: 0, free: 0, pages: 0 };
    }
  }

  verify(): void {
    const w = this.w;
    const nbk = this.pageShift + 1 - MINBUCKET + 1;
    const pagesOf = new Map<number, number>(); // bucket page pfn -> expected free count
    const bucketPages = new Array<number>(nbk).fill(0);
    let live = 0;
    let liveBytes = 0;
    let big = 0;
    const arenaBad = this.arena.check((kind, pfn, e) => {
      if (kind === Page.BUCKET) {
        const indx = kuIndx(e);
        if (indx < MINBUCKET || indx >= MINBUCKET + nbk) return;
        bucketPages[indx - MINBUCKET]!++;
        pagesOf.set(pfn, 0);
        const elm = w[this.kb0 + (indx - MINBUCKET) * Kb.WORDS + Kb.ELMPERCL] as number;
        live += elm - kuCount(e);
        liveBytes += (elm - kuCount(e)) << indx;
      } else {
        live++;
        liveBytes += kuCount(e) * this.pageSize;
        big += kuCount(e);
      }
    });
    if (arenaBad !== null) this.corrupt(arenaBad.slice(0, 4), arenaBad.slice(6));
    for (let i = 0; i < nbk; i++) {
      const indx = i + MINBUCKET;
      const kb = this.kb0 + i * Kb.WORDS;
      const elm = w[kb + Kb.ELMPERCL] as number;
      let n = 0;
      const limit = bucketPages[i]! * elm;
      for (
        let va = (w[kb + Kb.NEXT] as number) >>> 0;
        va !== 0;
        va = (w[va >>> 2] as number) >>> 0
      ) {
        const pfn = Math.floor(va / this.pageSize);
        const k = va < this.memEnd ? this.table.at(pfn) >>> 2 : 0;
        const e = k === 0 ? 0 : (w[k] as number);
        if (
          kuKind(e) !== Page.BUCKET ||
          kuIndx(e) !== indx ||
          (va & (this.masks[indx] as number)) !== 0
        ) {
          this.corrupt(
            "MK-3",
            `bucket ${1 << indx}'s free list holds ${hex(va)}, not a piece of the bucket`,
          );
        }
        pagesOf.set(pfn, (pagesOf.get(pfn) ?? 0) + 1);
        if (++n > limit) break;
      }
      if (n > limit)
        this.corrupt(
          "MK-3",
          `bucket ${1 << indx}: its free list is longer than its pieces (a loop, or a piece twice)`,
        );
      if (w[kb + Kb.TOTALFREE] !== n) {
        this.corrupt(
          "MK-3",
          `bucket ${1 << indx}: ${w[kb + Kb.TOTALFREE]} free counted, ${n} on its list`,
        );
      }
      if (w[kb + Kb.TOTAL] !== limit) {
        this.corrupt(
          "MK-3",
          `bucket ${1 << indx}: ${w[kb + Kb.TOTAL]} pieces counted, ${limit} in its pages`,
        );
      }
    }
    for (const [pfn, n] of pagesOf) {
      const e = w[this.table.at(pfn) >>> 2] as number;
      if (kuCount(e) !== n) {
        this.corrupt(
          "MK-3",
          `page ${hex(pfn * this.pageSize)}: free count ${kuCount(e)}, ${n} of its pieces on the list`,
        );
      }
    }
    const c = this.ctl;
    let inuse = 0;
    let memuse = 0;
    for (let t = 0; t < this.ntypes; t++) {
      const tin = w[this.types + t * Ks.WORDS + Ks.INUSE] as number;
      const tuse = w[this.types + t * Ks.WORDS + Ks.MEMUSE] as number;
      if (tin < 0 || tuse < 0) {
        this.corrupt(
          "MK-4",
          `type ${this.typeNames[t]}: ${tin} allocations of ${tuse} bytes in use (a free given the wrong type?)`,
        );
      }
      inuse += tin;
      memuse += tuse;
    }
    if (inuse !== live || memuse !== liveBytes) {
      this.corrupt(
        "MK-4",
        `the types count ${inuse} allocations of ${memuse} bytes, ${live} of ${liveBytes} are live (a free given the wrong type?)`,
      );
    }
    if (w[c + Ctl.BIG_PAGES] !== big)
      this.corrupt("MK-4", `${w[c + Ctl.BIG_PAGES]} large pages counted, ${big} found`);
    this.checkHeld("MK-5", w[this.arena.at + Arena.CHUNK_PAGES] as number);
    this.checkTable(this.table, (pfn) => this.arena.ku(pfn) !== 0 && w[this.arena.ku(pfn)] !== 0);
  }

  stats(): McKusickKarelsStats {
    const w = this.w;
    const nbk = this.pageShift + 1 - MINBUCKET + 1;
    const buckets: MkBucket[] = [];
    for (let i = 0; i < nbk; i++) {
      const kb = this.kb0 + i * Kb.WORDS;
      const total = w[kb + Kb.TOTAL] as number;
      if (total === 0 && w[kb + Kb.CALLS] === 0) continue;
      buckets.push({
        size: 1 << (i + MINBUCKET),
        calls: (w[kb + Kb.CALLS] as number) >>> 0,
        total,
        free: w[kb + Kb.TOTALFREE] as number,
        couldFree: w[kb + Kb.COULDFREE] as number,
      });
    }
    const types = this.typeNames.map((name, t) => {
      const ks = this.types + t * Ks.WORDS;
      return {
        name,
        inUse: w[ks + Ks.INUSE] as number,
        calls: (w[ks + Ks.CALLS] as number) >>> 0,
        memUse: (w[ks + Ks.MEMUSE] as number) >>> 0,
        limit: w[ks + Ks.LIMIT] as number,
        limBlocks: w[ks + Ks.LIMBLOCKS] as number,
        mapBlocks: w[ks + Ks.MAPBLOCKS] as number,
        maxUsed: (w[ks + Ks.MAXUSED] as number) >>> 0,
        atLimit: w[ks + Ks.ATLIMIT] as number,
      };
    });
    let allocs = 0;
    let live = 0;
    let liveBytes = 0;
    for (const t of types) {
      allocs += t.calls;
      live += t.inUse;
      liveBytes += t.memUse;
    }
    const a = this.arena.at;
    const chunkPages = w[a + Arena.CHUNK_PAGES] as number;
    const kmemusageBytes = (w[this.ctl + Ctl.TABLE_PAGES] as number) * this.pageSize;
    return {
      ...this.baseStats(),
      // kmemstats are its counters (the shared words would count every call twice over).
      allocs,
      frees: allocs - live,
      live,
      liveBytes,
      buckets,
      types,
      arena: {
        chunks: w[a + Arena.CHUNKS] as number,
        chunkPages,
        freeRuns: w[a + Arena.RUNS] as number,
        freePages: w[a + Arena.FREE_PAGES] as number,
      },
      kmemusageBytes,
      // Four bytes of kmemusage per page of the arena (4.3BSD's entry was two shorts too).
      kmemusageBytesPerMiB: (4 * 2 ** 20) / this.pageSize,
    };
  }
}
