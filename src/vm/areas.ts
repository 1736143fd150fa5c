/*
 * The vmalloc space's area allocator (Linux's vmap_area bookkeeping, mm/vmalloc.c), in
 * records kept in managed memory.
 *
 * Records tile the space [0, nrPages) in address order: each is a busy area (vmalloc or
 * vmap, its last page the unmapped guard page) or a free range. A doubly linked list keeps
 * the address order, so a freed area finds its neighbours in O(1); two AVL trees index the
 * records, the busy ones by start (vfree finds its area) and the free ones by size, then
 * start (best fit: the smallest range that holds the request, the lowest such on ties).
 *
 *   address list:  [busy 0..4][free 5..9][busy 10..11][free 12..end]
 *   busy tree:     0, 10           free tree: (5 pages @5), (big @12)
 *
 * Allocation carves the request from the low end of the best-fitting free range (a new
 * record for the request unless it fits exactly); freeing merges the area with free
 * neighbours, so no two free ranges ever touch. Both are O(log n) in the records.
 *
 * Invariants (verify() reports them by id):
 *   VM-3  the records tile the space: the list starts at page 0, each record starts where
 *         the previous ends, the last ends at nrPages; prev links mirror next links; each
 *         record is exactly one of FREE, VMALLOC, VMAP, and a busy one has at least one page
 *         besides its guard page
 *   VM-4  no two free ranges are neighbours (freeing coalesces)
 *   VM-5  the busy tree holds exactly the busy records, ordered by start; the free tree
 *         exactly the free ones, ordered by (pages, start); both are AVL-balanced with
 *         correct heights; nrBusy and nrFree count them
 */

import { KmemError } from "../errors.js";
import type { PhysMem } from "../memory/index.js";
import { Gfp } from "../page/index.js";
import { Va, VaFlag, VmDesc } from "./layout.js";

/** What records are allocated from: kmalloc, or anything with its shape. */
export interface RecordAllocator {
  kmalloc(size: number, gfp: number): number;
  kfree(addr: number): void;
}

/** Deeper than any AVL tree of 32-bit counts (height < 1.44 log2(n + 2)). */
const MAX_TREE_DEPTH = 48;

/** A walk down a tree went deeper than any AVL tree: a cycle of damaged links. */
function tooDeep(): never {
  corrupt("VM-5", "a tree is cyclic (deeper than any balanced tree)");
}

function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}

export class VmapAreas {
  /** The memory's words: a record at address r has word Va.X at index (r >>> 2) + Va.X. */
  private readonly w: PhysMem;
  private readonly records: RecordAllocator;
  /** The vmalloc descriptor's words (roots and counts). */
  d: Int32Array;

  constructor(words: PhysMem, records: RecordAllocator, d: Int32Array) {
    this.w = words;
    this.records = records;
    this.d = d;
  }

  /** Sets up an empty space of `nrPages`: one free record. False when it cannot be had. */
  // Record addresses are kept as the i32 words linking them hold them (`| 0`: negative from
  // 2 GiB up), so that a record and a link read back compare equal.
  init(nrPages: number, gfp: number): boolean {
    const rec = this.records.kmalloc(Va.BYTES, gfp) | 0;
    if (rec === 0) return false;
    const i = rec >>> 2;
    for (let k = 0; k < Va.WORDS; k++) this.w.setWord(i + k, 0);
    this.w.setWord(i + Va.START, 0);
    this.w.setWord(i + Va.PAGES, nrPages);
    this.setFlags(rec, VaFlag.FREE);
    const d = this.d;
    d[VmDesc.HEAD] = rec;
    d[VmDesc.BUSY_ROOT] = 0;
    d[VmDesc.FREE_ROOT] = this.insert(0, rec, true);
    d[VmDesc.NR_BUSY] = 0;
    d[VmDesc.NR_FREE] = 1;
    return true;
  }

  /* ------------------------------------------------------------------ record fields */

  start(rec: number): number {
    return this.w.word((rec >>> 2) + Va.START);
  }

  pages(rec: number): number {
    return this.w.word((rec >>> 2) + Va.PAGES);
  }

  next(rec: number): number {
    return this.w.word((rec >>> 2) + Va.NEXT);
  }

  flags(rec: number): number {
    return (this.w.word((rec >>> 2) + Va.INFO) >>> Va.FLAGS_SHIFT) & VaFlag.KIND_MASK;
  }

  /** Whether a vmalloc area's pages may be swapped out (VaFlag.SWAPPABLE). */
  swappable(rec: number): boolean {
    return ((this.w.word((rec >>> 2) + Va.INFO) >>> Va.FLAGS_SHIFT) & VaFlag.SWAPPABLE) !== 0;
  }

  caller(rec: number): number {
    return this.w.word((rec >>> 2) + Va.CALLER);
  }

  private setFlags(rec: number, flags: number): void {
    const i = (rec >>> 2) + Va.INFO;
    this.w.setWord(i, (this.w.word(i) & Va.HEIGHT_MASK) | (flags << Va.FLAGS_SHIFT));
  }

  private left(rec: number): number {
    return this.w.word((rec >>> 2) + Va.LEFT);
  }

  private right(rec: number): number {
    return this.w.word((rec >>> 2) + Va.RIGHT);
  }

  private height(rec: number): number {
    return rec === 0 ? 0 : this.w.word((rec >>> 2) + Va.INFO) & Va.HEIGHT_MASK;
  }

  /* ------------------------------------------------------------------ allocation */

  /**
   * Reserves `pages` pages (guard page included) by best fit and marks them `flags`. Returns
   * the record, or 0 when no free range is large enough or a record cannot be had; nothing
   * changes then.
   */
  alloc(pages: number, flags: number, caller: number, gfp: number): number {
    const w = this.w;
    const d = this.d;
    let best = 0;
    let cur = d[VmDesc.FREE_ROOT] as number;
    for (let depth = 0; cur !== 0; depth++) {
      if (depth > MAX_TREE_DEPTH) tooDeep();
      if (this.pages(cur) >= pages) {
        best = cur;
        cur = this.left(cur);
      } else {
        cur = this.right(cur);
      }
    }
    if (best === 0) return 0;
    const b = best >>> 2;
    let rec: number;
    if (w.word(b + Va.PAGES) === pages) {
      // Exact fit: the free record itself becomes the area.
      d[VmDesc.FREE_ROOT] = this.remove(d[VmDesc.FREE_ROOT] as number, best, true);
      d[VmDesc.NR_FREE]!--;
      rec = best;
    } else {
      rec = this.records.kmalloc(Va.BYTES, gfp) | 0;
      if (rec === 0) return 0;
      // The free range keeps its upper part; its key changes, so it leaves the tree first.
      d[VmDesc.FREE_ROOT] = this.remove(d[VmDesc.FREE_ROOT] as number, best, true);
      const r = rec >>> 2;
      const prev = w.word(b + Va.PREV);
      w.setWord(r + Va.START, w.word(b + Va.START));
      w.setWord(r + Va.PAGES, pages);
      w.setWord(r + Va.NEXT, best);
      w.setWord(r + Va.PREV, prev);
      w.setWord(r + Va.INFO, 0);
      if (prev !== 0) w.setWord((prev >>> 2) + Va.NEXT, rec);
      else d[VmDesc.HEAD] = rec;
      w.setWord(b + Va.PREV, rec);
      w.setWord(b + Va.START, w.word(b + Va.START) + pages);
      w.setWord(b + Va.PAGES, w.word(b + Va.PAGES) - pages);
      d[VmDesc.FREE_ROOT] = this.insert(d[VmDesc.FREE_ROOT] as number, best, true);
    }
    this.setFlags(rec, flags);
    w.setWord((rec >>> 2) + Va.CALLER, caller);
    d[VmDesc.BUSY_ROOT] = this.insert(d[VmDesc.BUSY_ROOT] as number, rec, false);
    d[VmDesc.NR_BUSY]!++;
    return rec;
  }

  /** Gives a busy area's pages back to the free space, merging with free neighbours. */
  release(rec: number): void {
    const w = this.w;
    const d = this.d;
    d[VmDesc.BUSY_ROOT] = this.remove(d[VmDesc.BUSY_ROOT] as number, rec, false);
    d[VmDesc.NR_BUSY]!--;
    const r = rec >>> 2;
    w.setWord(r + Va.CALLER, 0);
    const prev = w.word(r + Va.PREV);
    const next = w.word(r + Va.NEXT);
    const mergePrev = prev !== 0 && this.flags(prev) === VaFlag.FREE;
    const mergeNext = next !== 0 && this.flags(next) === VaFlag.FREE;
    if (mergePrev) {
      d[VmDesc.FREE_ROOT] = this.remove(d[VmDesc.FREE_ROOT] as number, prev, true);
      let pages = w.word(r + Va.PAGES);
      if (mergeNext) {
        d[VmDesc.FREE_ROOT] = this.remove(d[VmDesc.FREE_ROOT] as number, next, true);
        pages += w.word((next >>> 2) + Va.PAGES);
        this.unlink(next);
        d[VmDesc.NR_FREE]!--;
        this.records.kfree(next);
      }
      w.setWord((prev >>> 2) + Va.PAGES, w.word((prev >>> 2) + Va.PAGES) + pages);
      this.unlink(rec);
      this.records.kfree(rec);
      d[VmDesc.FREE_ROOT] = this.insert(d[VmDesc.FREE_ROOT] as number, prev, true);
    } else if (mergeNext) {
      d[VmDesc.FREE_ROOT] = this.remove(d[VmDesc.FREE_ROOT] as number, next, true);
      const n = next >>> 2;
      w.setWord(n + Va.START, w.word(r + Va.START));
      w.setWord(n + Va.PAGES, w.word(n + Va.PAGES) + w.word(r + Va.PAGES));
      this.unlink(rec);
      this.records.kfree(rec);
      d[VmDesc.FREE_ROOT] = this.insert(d[VmDesc.FREE_ROOT] as number, next, true);
    } else {
      this.setFlags(rec, VaFlag.FREE);
      d[VmDesc.FREE_ROOT] = this.insert(d[VmDesc.FREE_ROOT] as number, rec, true);
      d[VmDesc.NR_FREE]!++;
    }
  }

  /**
   * offlineCpu (vmalloc.ts recover): the records laid out anew around `busy` (busy records,
   * in address order, not overlapping): the free ranges between them take records of
   * `spare` (a new one if short; the rest are freed), the address list and both trees are
   * rebuilt, and the counts. Throws when a record cannot be had.
   */
  rebuild(nrPages: number, busy: readonly number[], spare: number[]): void {
    const w = this.w;
    const d = this.d;
    const seq: number[] = [];
    const free: number[] = [];
    const gap = (from: number, to: number): void => {
      const rec = spare.pop() ?? this.records.kmalloc(Va.BYTES, Gfp.ATOMIC) | 0;
      if (rec === 0) throw new Error("no memory for a free range's record");
      const r = rec >>> 2;
      w.setWord(r + Va.START, from);
      w.setWord(r + Va.PAGES, to - from);
      w.setWord(r + Va.INFO, VaFlag.FREE << Va.FLAGS_SHIFT);
      w.setWord(r + Va.CALLER, 0);
      seq.push(rec);
      free.push(rec);
    };
    let at = 0;
    for (const rec of busy) {
      const s = this.start(rec);
      if (s > at) gap(at, s);
      seq.push(rec);
      at = s + this.pages(rec);
    }
    if (at < nrPages) gap(at, nrPages);
    for (const rec of spare) this.records.kfree(rec);
    spare.length = 0;
    for (let k = 0; k < seq.length; k++) {
      const r = (seq[k] as number) >>> 2;
      w.setWord(r + Va.PREV, k === 0 ? 0 : (seq[k - 1] as number));
      w.setWord(r + Va.NEXT, seq[k + 1] ?? 0);
    }
    d[VmDesc.HEAD] = seq[0] ?? 0;
    d[VmDesc.BUSY_ROOT] = 0;
    d[VmDesc.FREE_ROOT] = 0;
    for (const rec of busy) {
      d[VmDesc.BUSY_ROOT] = this.insert(d[VmDesc.BUSY_ROOT] as number, rec, false);
    }
    for (const rec of free) {
      d[VmDesc.FREE_ROOT] = this.insert(d[VmDesc.FREE_ROOT] as number, rec, true);
    }
    d[VmDesc.NR_BUSY] = busy.length;
    d[VmDesc.NR_FREE] = free.length;
  }

  /**
   * The records of the address list, bounded (each visited once, at most `max`); null if
   * the list leaves memory or loops.
   */
  listed(max: number): number[] | null {
    const out: number[] = [];
    const seen = new Set<number>();
    for (let rec = this.d[VmDesc.HEAD] as number; rec !== 0; rec = this.next(rec)) {
      if (seen.has(rec) || out.length >= max || (rec & 3) !== 0 || !this.w.hasByte(rec >>> 0))
        return null;
      seen.add(rec);
      out.push(rec);
    }
    return out;
  }

  private unlink(rec: number): void {
    const w = this.w;
    const r = rec >>> 2;
    const prev = w.word(r + Va.PREV);
    const next = w.word(r + Va.NEXT);
    if (prev !== 0) w.setWord((prev >>> 2) + Va.NEXT, next);
    else this.d[VmDesc.HEAD] = next;
    if (next !== 0) w.setWord((next >>> 2) + Va.PREV, prev);
  }

  /* ------------------------------------------------------------------ lookup */

  /** The busy area starting at page `start`, or 0. */
  findBusy(start: number): number {
    let cur = this.d[VmDesc.BUSY_ROOT] as number;
    for (let depth = 0; cur !== 0; depth++) {
      if (depth > MAX_TREE_DEPTH) tooDeep();
      const s = this.start(cur);
      if (start === s) return cur;
      cur = start < s ? this.left(cur) : this.right(cur);
    }
    return 0;
  }

  /** The record (busy or free) containing page `page`, or 0 outside the space. */
  containing(page: number): number {
    // The busy area with the largest start <= page; if page is past it, the free range
    // after it (or the first record) holds the page.
    let cur = this.d[VmDesc.BUSY_ROOT] as number;
    let floor = 0;
    for (let depth = 0; cur !== 0; depth++) {
      if (depth > MAX_TREE_DEPTH) tooDeep();
      if (this.start(cur) <= page) {
        floor = cur;
        cur = this.right(cur);
      } else {
        cur = this.left(cur);
      }
    }
    let rec = floor === 0 ? (this.d[VmDesc.HEAD] as number) : floor;
    // Every record holds a page at least: the list is no longer than the space.
    for (let n = 0; rec !== 0 && this.start(rec) + this.pages(rec) <= page; n++) {
      if (n > (this.d[VmDesc.NR_PAGES] as number)) corrupt("VM-3", "the address list is cyclic");
      rec = this.next(rec);
    }
    return rec !== 0 && this.start(rec) <= page ? rec : 0;
  }

  /* ------------------------------------------------------------------ AVL trees */

  /** a before b: by start in the busy tree, by (pages, start) in the free tree. */
  private before(a: number, b: number, bySize: boolean): boolean {
    const w = this.w;
    const ai = a >>> 2;
    const bi = b >>> 2;
    if (bySize && w.word(ai + Va.PAGES) !== w.word(bi + Va.PAGES)) {
      return w.word(ai + Va.PAGES) < w.word(bi + Va.PAGES);
    }
    return w.word(ai + Va.START) < w.word(bi + Va.START);
  }

  private insert(node: number, rec: number, bySize: boolean, depth = 0): number {
    const w = this.w;
    if (depth > MAX_TREE_DEPTH) tooDeep();
    if (node === 0) {
      const r = rec >>> 2;
      w.setWord(r + Va.LEFT, 0);
      w.setWord(r + Va.RIGHT, 0);
      w.setWord(r + Va.INFO, (w.word(r + Va.INFO) & ~Va.HEIGHT_MASK) | 1);
      return rec;
    }
    const n = node >>> 2;
    if (this.before(rec, node, bySize)) {
      w.setWord(n + Va.LEFT, this.insert(w.word(n + Va.LEFT), rec, bySize, depth + 1));
    } else {
      w.setWord(n + Va.RIGHT, this.insert(w.word(n + Va.RIGHT), rec, bySize, depth + 1));
    }
    return this.rebalance(node);
  }

  /** Removes `rec` (found by its key, which must not have changed since it was inserted). */
  private remove(node: number, rec: number, bySize: boolean, depth = 0): number {
    if (node === 0) corrupt("VM-5", `record at ${rec} is missing from its tree`);
    if (depth > MAX_TREE_DEPTH) tooDeep();
    const w = this.w;
    const n = node >>> 2;
    if (node === rec) {
      const l = w.word(n + Va.LEFT);
      const r = w.word(n + Va.RIGHT);
      w.setWord(n + Va.LEFT, 0);
      w.setWord(n + Va.RIGHT, 0);
      if (l === 0) return r;
      if (r === 0) return l;
      let m = r;
      for (let k = depth; this.left(m) !== 0; k++) {
        if (k > MAX_TREE_DEPTH) tooDeep();
        m = this.left(m);
      }
      const m2 = m >>> 2;
      w.setWord(m2 + Va.RIGHT, this.removeMin(r));
      w.setWord(m2 + Va.LEFT, l);
      return this.rebalance(m);
    }
    if (this.before(rec, node, bySize)) {
      w.setWord(n + Va.LEFT, this.remove(w.word(n + Va.LEFT), rec, bySize, depth + 1));
    } else {
      w.setWord(n + Va.RIGHT, this.remove(w.word(n + Va.RIGHT), rec, bySize, depth + 1));
    }
    return this.rebalance(node);
  }

  private removeMin(node: number): number {
    const w = this.w;
    const n = node >>> 2;
    const l = w.word(n + Va.LEFT);
    if (l === 0) return w.word(n + Va.RIGHT);
    w.setWord(n + Va.LEFT, this.removeMin(l));
    return this.rebalance(node);
  }

  private fixHeight(node: number): void {
    const i = (node >>> 2) + Va.INFO;
    const h = Math.max(this.height(this.left(node)), this.height(this.right(node))) + 1;
    this.w.setWord(i, (this.w.word(i) & ~Va.HEIGHT_MASK) | h);
  }

  private rotateRight(node: number): number {
    const w = this.w;
    const l = this.left(node);
    w.setWord((node >>> 2) + Va.LEFT, this.right(l));
    w.setWord((l >>> 2) + Va.RIGHT, node);
    this.fixHeight(node);
    this.fixHeight(l);
    return l;
  }

  private rotateLeft(node: number): number {
    const w = this.w;
    const r = this.right(node);
    w.setWord((node >>> 2) + Va.RIGHT, this.left(r));
    w.setWord((r >>> 2) + Va.LEFT, node);
    this.fixHeight(node);
    this.fixHeight(r);
    return r;
  }

  private rebalance(node: number): number {
    this.fixHeight(node);
    const l = this.left(node);
    const r = this.right(node);
    const balance = this.height(l) - this.height(r);
    if (balance > 1) {
      if (this.height(this.left(l)) < this.height(this.right(l))) {
        this.w.setWord((node >>> 2) + Va.LEFT, this.rotateLeft(l));
      }
      return this.rotateRight(node);
    }
    if (balance < -1) {
      if (this.height(this.right(r)) < this.height(this.left(r))) {
        this.w.setWord((node >>> 2) + Va.RIGHT, this.rotateRight(r));
      }
      return this.rotateLeft(node);
    }
    return node;
  }

  /* ------------------------------------------------------------------ introspection */

  /** Busy records in address order. */
  busy(): number[] {
    const out: number[] = [];
    let n = 0;
    for (let rec = this.d[VmDesc.HEAD] as number; rec !== 0; rec = this.next(rec)) {
      if (++n > (this.d[VmDesc.NR_PAGES] as number) + 1)
        corrupt("VM-3", "the address list is cyclic");
      if (this.flags(rec) !== VaFlag.FREE) out.push(rec);
    }
    return out;
  }

  /**
   * Checks VM-3..VM-5 against the records of the address list, whose addresses must be
   * kmalloc objects (`isRecord`). Returns the busy records in address order.
   */
  verify(nrPages: number, isRecord: (addr: number) => boolean): number[] {
    const d = this.d;
    const busy: number[] = [];
    const free = new Set<number>();
    const seen = new Set<number>();
    let prev = 0;
    let end = 0;
    const limit = nrPages + 1;
    for (let rec = d[VmDesc.HEAD] as number; rec !== 0; rec = this.next(rec)) {
      if (!isRecord(rec)) corrupt("VM-3", `record ${rec} is not a live kmalloc object`);
      if (seen.has(rec) || seen.size > limit) corrupt("VM-3", "the address list is cyclic");
      seen.add(rec);
      const r = rec >>> 2;
      if (this.w.word(r + Va.PREV) !== prev) {
        corrupt("VM-3", `record at page ${this.start(rec)} has a wrong prev link`);
      }
      if (this.start(rec) !== end) {
        corrupt(
          "VM-3",
          `record at page ${this.start(rec)} does not start where the previous ends (${end})`,
        );
      }
      const pages = this.pages(rec);
      const flags = this.flags(rec);
      if (pages < 1 || end + pages > nrPages) {
        corrupt("VM-3", `record at page ${end} has ${pages} pages`);
      }
      if (flags === VaFlag.FREE) {
        if (prev !== 0 && this.flags(prev) === VaFlag.FREE) {
          corrupt("VM-4", `free ranges at pages ${this.start(prev)} and ${end} are not merged`);
        }
        free.add(rec);
      } else if (flags === VaFlag.VMALLOC || flags === VaFlag.VMAP) {
        if (pages < 2) corrupt("VM-3", `area at page ${end} has no page besides its guard page`);
        busy.push(rec);
      } else {
        corrupt("VM-3", `record at page ${end} has flags ${flags}`);
      }
      end += pages;
      prev = rec;
    }
    if (end !== nrPages) corrupt("VM-3", `the records end at page ${end}, not ${nrPages}`);
    if (d[VmDesc.NR_BUSY] !== busy.length || d[VmDesc.NR_FREE] !== free.size) {
      corrupt(
        "VM-5",
        `counts say ${d[VmDesc.NR_BUSY]} busy and ${d[VmDesc.NR_FREE]} free, the list has ${busy.length} and ${free.size}`,
      );
    }
    const inBusy: number[] = [];
    this.walkTree(d[VmDesc.BUSY_ROOT] as number, inBusy, seen.size);
    if (inBusy.length !== busy.length || inBusy.some((rec, i) => rec !== busy[i])) {
      corrupt("VM-5", "the busy tree does not hold exactly the busy areas in address order");
    }
    const inFree: number[] = [];
    this.walkTree(d[VmDesc.FREE_ROOT] as number, inFree, seen.size);
    if (inFree.length !== free.size || inFree.some((rec) => !free.has(rec))) {
      corrupt("VM-5", "the free tree does not hold exactly the free ranges");
    }
    for (let i = 1; i < inFree.length; i++) {
      if (!this.before(inFree[i - 1] as number, inFree[i] as number, true)) {
        corrupt("VM-5", "the free tree is not ordered by size, then start");
      }
    }
    return busy;
  }

  /** In-order walk checking AVL heights and balance; returns the height. */
  private walkTree(node: number, out: number[], limit: number, depth = 0): number {
    if (node === 0) return 0;
    // A cycle through left links pushes nothing before it recurses again: the depth bounds
    // it (an AVL tree of 2^32 nodes is less than 47 deep).
    if (out.length > limit || depth > MAX_TREE_DEPTH) corrupt("VM-5", "a tree is cyclic");
    const lh = this.walkTree(this.left(node), out, limit, depth + 1);
    out.push(node);
    const rh = this.walkTree(this.right(node), out, limit, depth + 1);
    const h = Math.max(lh, rh) + 1;
    if (this.height(node) !== h || Math.abs(lh - rh) > 1) {
      corrupt("VM-5", `tree node at page ${this.start(node)} has a wrong height or balance`);
    }
    return h;
  }
}
