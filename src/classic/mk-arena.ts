/*
 * The kernel arena of the McKusick-Karels allocator: runs of whole pages, allocated first
 * fit and coalesced on free, as 4.3BSD's kmemmap resource map handed out the pages of the
 * kernel's malloc area (McKusick & Karels 1988 §5: "a first-fit algorithm to find space in
 * the kernel address arena ... coalesced with adjacent free pieces").
 *
 * 4.3BSD's arena was a fixed range of kernel addresses set aside at boot. kmem's is made of
 * chunks, blocks of 2^chunkOrder pages (or the order a large request needs) taken from the
 * page allocator when no free run fits; a chunk whose pages are all free again goes back at
 * once. Runs never cross a chunk's bounds (a chunk is a buddy block: what lies beyond it is
 * another block).
 *
 * Every page of a chunk has a kmemusage entry (the allocator's frame table, one i32 a page):
 *
 *   31                          13 12       8 7       3 2     0
 *   +----------------------------+----------+---------+-------+
 *   | count                      | chunk    | indx    | kind  |
 *   +----------------------------+----------+---------+-------+
 *
 *   kind   BUCKET: the first page of a bucket's pages (indx = the bucket, count = its free
 *                  pieces, 4.3BSD's ku_freecnt)
 *          LARGE:  the first page of a large allocation (count = its pages, ku_pagecnt)
 *          FREE:   the first or the last page of a free run (count = the run's pages)
 *          INTERIOR: any other page of a chunk
 *   chunk  on a chunk's first page: the chunk's order + 1; else 0
 *
 * The free runs form a list in address order, linked through the first page of each run
 * (free memory, as a kernel's free-page lists are):
 *
 *   run's first page   0           4           8
 *                      +-----------+-----------+----
 *                      | next pfn  | prev pfn  |        0 = none
 *                      +-----------+-----------+----
 *
 * Invariants (the allocator's verify() reports them):
 *  MK-1: the pages of every chunk are tiled by bucket pages, large allocations and free runs,
 *        each entry of the kind its place says
 *  MK-2: the free-run list ascends by address, holds every free run once, no two runs of a
 *        chunk touch (they would be one), no run is a whole chunk (it would be given back);
 *        the arena's counters match
 */

import { type ClassicBase, log2, orderOfPages } from "./control.js";
import type { FrameTable } from "./frame-table.js";

/** Fields of a kmemusage entry. */
export const enum Ku {
  KIND_MASK = 7,
  INDX_SHIFT = 3,
  INDX_MASK = 31,
  CHUNK_SHIFT = 8,
  CHUNK_MASK = 31,
  COUNT_SHIFT = 13,
  COUNT_ONE = 1 << 13,
  /** Count and kind and indx cleared, chunk kept. */
  KEEP_CHUNK = 31 << 8,
}

/** Kinds of page (Ku.KIND_MASK). */
export const enum Page {
  NONE = 0,
  BUCKET = 1,
  LARGE = 2,
  FREE = 3,
  INTERIOR = 4,
}

/** The arena's words in the control block. */
export const enum Arena {
  HEAD = 0,
  RUNS = 1,
  FREE_PAGES = 2,
  CHUNKS = 3,
  CHUNK_PAGES = 4,
  WORDS = 5,
}

/** Largest chunk order the entry's count field can describe (a run of 2^18 pages). */
export const MAX_CHUNK_ORDER = 18;

export function kuKind(e: number): number {
  return e & Ku.KIND_MASK;
}
export function kuCount(e: number): number {
  return e >>> Ku.COUNT_SHIFT;
}
export function kuIndx(e: number): number {
  return (e >>> Ku.INDX_SHIFT) & Ku.INDX_MASK;
}
export function kuChunk(e: number): number {
  return (e >>> Ku.CHUNK_SHIFT) & Ku.CHUNK_MASK;
}

export class KmemArena {
  /** Word index of the arena's fields in the control block. */
  declare readonly at: number;
  /** Default chunk order, and the largest the page allocator and the entries allow. */
  declare readonly chunkOrder: number;
  declare readonly maxOrder: number;
  declare private readonly o: ClassicBase;
  declare private readonly table: FrameTable;
  declare private readonly w: Int32Array;
  /** Words per page. */
  declare private readonly pw: number;
  declare private readonly total: number;

  constructor(owner: ClassicBase, table: FrameTable, at: number, chunkPages: number) {
    this.o = owner;
    this.table = table;
    this.w = owner.w;
    this.at = at;
    this.maxOrder = Math.min(owner.mm.maxOrder - 1, MAX_CHUNK_ORDER);
    this.chunkOrder = Math.min(log2(chunkPages), this.maxOrder);
    this.pw = owner.pageSize >>> 2;
    this.total = owner.mm.totalPages;
  }

  /** Word index of `pfn`'s kmemusage entry, or 0 when it has none. */
  ku(pfn: number): number {
    return this.table.at(pfn) >>> 2;
  }

  /** Sets kind, indx and count of `pfn`'s entry, keeping its chunk field. */
  set(pfn: number, kind: number, indx: number, count: number): void {
    const k = this.table.at(pfn) >>> 2;
    const w = this.w;
    w[k] =
      ((w[k] as number) & Ku.KEEP_CHUNK) |
      kind |
      (indx << Ku.INDX_SHIFT) |
      (count << Ku.COUNT_SHIFT);
  }

  /**
   * `npg` pages, the low end of the first free run that holds them (a new chunk when none
   * does); returns the first pfn, or 0. The pages' entries are INTERIOR (the first one's the
   * caller sets).
   */
  alloc(npg: number, gfp: number): number {
    const w = this.w;
    for (let pfn = w[this.at + Arena.HEAD] as number; pfn !== 0; pfn = w[pfn * this.pw] as number) {
      const len = kuCount(w[this.ku(pfn)] as number);
      if (len >= npg) return this.take(pfn, len, npg);
    }
    const order = Math.max(this.chunkOrder, orderOfPages(npg));
    if (order > this.maxOrder) return 0;
    const run = this.grow(order, gfp);
    return run === 0 ? 0 : this.take(run, 1 << order, npg);
  }

  /** Takes the low `npg` pages of the free run [pfn, pfn + len). */
  private take(pfn: number, len: number, npg: number): number {
    const w = this.w;
    if (len === npg) {
      this.unlink(pfn);
      if (len > 1) this.set(pfn + len - 1, Page.INTERIOR, 0, 0);
      w[this.at + Arena.RUNS]!--;
    } else {
      const rest = pfn + npg;
      const next = w[pfn * this.pw] as number;
      const prev = w[pfn * this.pw + 1] as number;
      w[rest * this.pw] = next;
      w[rest * this.pw + 1] = prev;
      if (prev === 0) w[this.at + Arena.HEAD] = rest;
      else w[prev * this.pw] = rest;
      if (next !== 0) w[next * this.pw + 1] = rest;
      this.set(rest, Page.FREE, 0, len - npg);
      this.set(pfn + len - 1, Page.FREE, 0, len - npg);
    }
    this.set(pfn, Page.INTERIOR, 0, 0);
    w[this.at + Arena.FREE_PAGES]! -= npg;
    return pfn;
  }

  /**
   * Gives back the `npg` pages from `pfn` (their first entry may be anything; the rest are
   * INTERIOR): they join the free runs beside them in their chunk, and a chunk that is all
   * free goes back to the page allocator.
   */
  free(pfn: number, npg: number): void {
    const w = this.w;
    let start = pfn;
    let len = npg;
    const head = w[this.ku(pfn)] as number;
    this.set(pfn, Page.INTERIOR, 0, 0);
    if (npg > 1) this.set(pfn + npg - 1, Page.INTERIOR, 0, 0);
    // The run after, if it is in this chunk (the page after a chunk is another block's).
    const r = pfn + npg;
    const kr = r < this.total ? this.ku(r) : 0;
    const right = kr === 0 ? 0 : (w[kr] as number);
    const mergeRight = kuKind(right) === Page.FREE && kuChunk(right) === 0;
    // The run before, unless this page starts its chunk.
    const kl = kuChunk(head) === 0 ? this.ku(pfn - 1) : 0;
    const left = kl === 0 ? 0 : (w[kl] as number);
    const mergeLeft = kuKind(left) === Page.FREE;
    if (mergeRight) {
      const rl = kuCount(right);
      if (!mergeLeft) {
        // This run takes the right one's place in the list (nothing lies between them).
        const next = w[r * this.pw] as number;
        const prev = w[r * this.pw + 1] as number;
        w[pfn * this.pw] = next;
        w[pfn * this.pw + 1] = prev;
        if (prev === 0) w[this.at + Arena.HEAD] = pfn;
        else w[prev * this.pw] = pfn;
        if (next !== 0) w[next * this.pw + 1] = pfn;
      } else {
        this.unlink(r);
        w[this.at + Arena.RUNS]!--;
      }
      this.set(r, Page.INTERIOR, 0, 0);
      len += rl;
    }
    if (mergeLeft) {
      const ll = kuCount(left);
      this.set(pfn - 1, Page.INTERIOR, 0, 0);
      start = pfn - ll;
      len += ll;
    }
    if (!mergeLeft && !mergeRight) {
      this.insert(pfn);
      w[this.at + Arena.RUNS]!++;
    }
    this.set(start, Page.FREE, 0, len);
    this.set(start + len - 1, Page.FREE, 0, len);
    w[this.at + Arena.FREE_PAGES]! += npg;
    const c = kuChunk(w[this.ku(start)] as number);
    if (c !== 0 && len === 1 << (c - 1)) this.shrink(start, c - 1);
  }

  /** A new chunk of 2^order pages as one free run; returns its first pfn, or 0. */
  private grow(order: number, gfp: number): number {
    const addr = this.o.takePages(order, gfp);
    if (addr === 0) return 0;
    const pfn = Math.floor(addr / this.o.pageSize);
    const n = 1 << order;
    const w = this.w;
    for (let i = 0; i < n; i++) {
      const e = this.table.claim(pfn + i, gfp);
      if (e === 0) {
        for (let j = 0; j < i; j++) this.table.release(pfn + j);
        this.o.givePages(addr, order);
        return 0;
      }
      w[e >>> 2] = Page.INTERIOR;
    }
    w[this.ku(pfn)] = (order + 1) << Ku.CHUNK_SHIFT;
    this.set(pfn, Page.FREE, 0, n);
    this.set(pfn + n - 1, Page.FREE, 0, n);
    this.insert(pfn);
    w[this.at + Arena.RUNS]!++;
    w[this.at + Arena.FREE_PAGES]! += n;
    w[this.at + Arena.CHUNKS]!++;
    w[this.at + Arena.CHUNK_PAGES]! += n;
    return pfn;
  }

  /** Gives the wholly free chunk at `pfn` back to the page allocator. */
  private shrink(pfn: number, order: number): void {
    const w = this.w;
    const n = 1 << order;
    this.unlink(pfn);
    w[this.at + Arena.RUNS]!--;
    w[this.at + Arena.FREE_PAGES]! -= n;
    w[this.at + Arena.CHUNKS]!--;
    w[this.at + Arena.CHUNK_PAGES]! -= n;
    for (let i = 0; i < n; i++) this.table.release(pfn + i);
    this.o.givePages(pfn * this.o.pageSize, order);
  }

  /** Puts the run at `pfn` into the list, in address order. */
  private insert(pfn: number): void {
    const w = this.w;
    let prev = 0;
    let next = w[this.at + Arena.HEAD] as number;
    while (next !== 0 && next < pfn) {
      prev = next;
      next = w[next * this.pw] as number;
    }
    w[pfn * this.pw] = next;
    w[pfn * this.pw + 1] = prev;
    if (prev === 0) w[this.at + Arena.HEAD] = pfn;
    else w[prev * this.pw] = pfn;
    if (next !== 0) w[next * this.pw + 1] = pfn;
  }

  private unlink(pfn: number): void {
    const w = this.w;
    const next = w[pfn * this.pw] as number;
    const prev = w[pfn * this.pw + 1] as number;
    if (prev === 0) w[this.at + Arena.HEAD] = next;
    else w[prev * this.pw] = next;
    if (next !== 0) w[next * this.pw + 1] = prev;
  }

  /**
   * MK-1 and MK-2 from the bytes: walks every chunk; calls `piece(kind, pfn, entry)` for
   * each bucket page and large allocation. Returns a message for the first inconsistency,
   * or null.
   */
  check(piece: (kind: number, pfn: number, entry: number) => void): string | null {
    const w = this.w;
    const chunkHeads: number[] = [];
    this.table.forEach((pfn, e) => {
      if (kuChunk(w[e >>> 2] as number) !== 0) chunkHeads.push(pfn);
    });
    const runs = new Set<number>();
    let freePages = 0;
    let chunkPages = 0;
    let claimed = 0;
    this.table.forEach(() => claimed++);
    for (const head of chunkHeads) {
      const order = kuChunk(w[this.ku(head)] as number) - 1;
      const n = 1 << order;
      if (head % n !== 0) return `MK-1: chunk at frame ${head} is not aligned to its ${n} pages`;
      chunkPages += n;
      let prevFree = false;
      for (let p = head; p < head + n;) {
        const k = this.ku(p);
        const e = k === 0 ? 0 : (w[k] as number);
        const kind = kuKind(e);
        let span: number;
        if (kind === Page.BUCKET) {
          span = Math.max(1, (1 << kuIndx(e)) / this.o.pageSize);
          piece(kind, p, e);
          prevFree = false;
        } else if (kind === Page.LARGE) {
          span = kuCount(e);
          piece(kind, p, e);
          prevFree = false;
        } else if (kind === Page.FREE) {
          span = kuCount(e);
          if (prevFree) return `MK-2: free runs touch at frame ${p} (not coalesced)`;
          if (span === n) return `MK-2: chunk at frame ${head} is all free but held`;
          const tail = w[this.ku(p + span - 1)] as number;
          if (kuKind(tail) !== Page.FREE || kuCount(tail) !== span) {
            return `MK-1: free run at frame ${p} of ${span} pages: its last page's entry does not say so`;
          }
          runs.add(p);
          freePages += span;
          prevFree = true;
        } else {
          return `MK-1: frame ${p} of the chunk at ${head}: entry ${e >>> 0} starts nothing`;
        }
        if (span < 1 || p + span > head + n) {
          return `MK-1: frame ${p}: a piece of ${span} pages runs past its chunk at ${head}`;
        }
        for (let i = 1; i < span; i++) {
          const ie = w[this.ku(p + i)] as number;
          const last = kind === Page.FREE && i === span - 1;
          if (!last && kuKind(ie) !== Page.INTERIOR) {
            return `MK-1: frame ${p + i}, inside the piece at ${p}, has kind ${kuKind(ie)}`;
          }
          if (kuChunk(ie) !== 0) return `MK-1: frame ${p + i}: a chunk head inside a chunk`;
        }
        p += span;
      }
    }
    if (claimed !== chunkPages)
      return `MK-1: ${claimed} frames in the table, ${chunkPages} in chunks`;
    let count = 0;
    let prev = 0;
    for (let pfn = w[this.at + Arena.HEAD] as number; pfn !== 0; pfn = w[pfn * this.pw] as number) {
      if (!runs.has(pfn))
        return `MK-2: the free-run list holds frame ${pfn}, not a free run (or twice)`;
      if (pfn <= prev) return `MK-2: the free-run list is out of address order at frame ${pfn}`;
      if ((w[pfn * this.pw + 1] as number) !== prev) return `MK-2: frame ${pfn}: back link broken`;
      runs.delete(pfn);
      prev = pfn;
      if (++count > chunkPages) break;
    }
    if (runs.size !== 0) return `MK-2: ${runs.size} free runs not on the list`;
    const a = this.at;
    if (w[a + Arena.RUNS] !== count || w[a + Arena.FREE_PAGES] !== freePages) {
      return `MK-2: ${w[a + Arena.RUNS]} runs of ${w[a + Arena.FREE_PAGES]} pages counted, ${count} of ${freePages} found`;
    }
    if (w[a + Arena.CHUNKS] !== chunkHeads.length || w[a + Arena.CHUNK_PAGES] !== chunkPages) {
      return `MK-2: ${w[a + Arena.CHUNKS]} chunks counted, ${chunkHeads.length} found`;
    }
    return null;
  }
}
