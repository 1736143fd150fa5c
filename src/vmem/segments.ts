/*
 * The segment store under a vmem arena: boundary-tag records in two typed arrays, the arena
 * list that threads them in address order, the power-of-two freelists of free segments and
 * the hash of allocated ones (illumos's vmem_seg_t, vmem_populate, vmem_freelist_*,
 * vmem_hash_*). Record layout: layout.ts. VmemArena (arena.ts) extends it with spans,
 * allocation policies, import and release; nothing here knows of those.
 *
 *   segs/bounds   records 0 (the arena list's head, a SPAN so coalescing stops at it) and 1
 *                 (the next-fit rotor), then the rest; unused ones on the free-record list
 *                 (segFree, linked by knext)
 *   flHead[k]     freelist k: free segments of size 2^k .. 2^(k+1)-1 (knext/kprev);
 *                 freemapLo/Hi bit k set iff it is non-empty
 *   buckets       hash chains (knext) of allocated segments by start; grown 4x when the
 *                 allocated segments outnumber the buckets
 *
 * Hot code: instant-fit allocation and free go through the freelist and hash functions below
 * on every call. They are methods of the arena object itself (a base class, not a member
 * object), so that they cost no extra load and inline as before.
 */

import {
  FIXED_RECORDS,
  FREELISTS,
  NIL,
  ROTOR,
  SEG0,
  Seg,
  SegType,
  Bound,
  highbit,
  lowbit,
} from "./layout.js";

const INITIAL_RECORDS = 64;
const INITIAL_BUCKETS = 16;
/** Records one operation may need: a split into three (2) plus a new span (2). */
export const MINFREE = 4;

export abstract class SegmentStore {
  protected segs: Int32Array;
  protected bounds: Float64Array;
  protected segFree = NIL;
  protected nsegFree = 0;

  protected readonly flHead = new Int32Array(FREELISTS).fill(NIL);
  protected freemapLo = 0;
  protected freemapHi = 0;

  protected buckets: Int32Array;
  /** log2 and mask of the bucket count. */
  private hashBits: number;
  private hashMask: number;
  /** Allocated segments (all in the hash). */
  protected nalloc = 0;
  private hashBucket = 0;
  private hashPrev = NIL;
  /** Chain steps the last hashFind took (counted as lookups once a free succeeds). */
  protected hashSteps = 0;
  /** Units in allocated segments (mem_inuse): hashInsert adds a segment's, a free takes it off. */
  protected memInUse = 0;
  private readonly invQuantum: number;

  constructor(quantum: number) {
    this.invQuantum = 1 / quantum;
    this.segs = new Int32Array(0);
    this.bounds = new Float64Array(0);
    this.growRecords(INITIAL_RECORDS);
    // Records 0 (list head, a SPAN so that coalescing stops at it) and 1 (the rotor).
    const s = this.segs;
    this.segFree = FIXED_RECORDS;
    this.nsegFree -= FIXED_RECORDS;
    s[SEG0 * Seg.WORDS + Seg.TYPE] = SegType.SPAN;
    s[SEG0 * Seg.WORDS + Seg.ANEXT] = ROTOR;
    s[SEG0 * Seg.WORDS + Seg.APREV] = ROTOR;
    s[SEG0 * Seg.WORDS + Seg.KNEXT] = SEG0;
    s[SEG0 * Seg.WORDS + Seg.KPREV] = SEG0;
    s[ROTOR * Seg.WORDS + Seg.TYPE] = SegType.ROTOR;
    s[ROTOR * Seg.WORDS + Seg.ANEXT] = SEG0;
    s[ROTOR * Seg.WORDS + Seg.APREV] = SEG0;

    this.buckets = new Int32Array(INITIAL_BUCKETS).fill(NIL);
    this.hashBits = Math.log2(INITIAL_BUCKETS);
    this.hashMask = INITIAL_BUCKETS - 1;
  }

  /** Ensures MINFREE spare records (vmem_populate); may replace the typed arrays. */
  protected populate(): void {
    if (this.nsegFree < MINFREE) this.growRecords(this.segs.length / Seg.WORDS);
  }

  private growRecords(more: number): void {
    const old = this.segs.length / Seg.WORDS;
    const records = old + more;
    const segs = new Int32Array(records * Seg.WORDS);
    segs.set(this.segs);
    const bounds = new Float64Array(records * Bound.WORDS);
    bounds.set(this.bounds);
    for (let r = records - 1; r >= old; r--) {
      segs[r * Seg.WORDS + Seg.KNEXT] = this.segFree;
      this.segFree = r;
    }
    this.nsegFree += more;
    this.segs = segs;
    this.bounds = bounds;
  }

  /** A new segment [start, end) after `prev` in the arena list (vmem_seg_create). */
  protected segCreate(prev: number, start: number, end: number): number {
    const s = this.segs;
    const seg = this.segFree;
    this.segFree = s[seg * Seg.WORDS + Seg.KNEXT] as number;
    this.nsegFree--;
    this.bounds[seg * Bound.WORDS + Bound.START] = start;
    this.bounds[seg * Bound.WORDS + Bound.END] = end;
    s[seg * Seg.WORDS + Seg.SLAB] = NIL;
    this.listInsert(prev, seg);
    return seg;
  }

  protected segDestroy(seg: number): void {
    const s = this.segs;
    this.listDelete(seg);
    s[seg * Seg.WORDS + Seg.TYPE] = SegType.NONE;
    s[seg * Seg.WORDS + Seg.KNEXT] = this.segFree;
    this.segFree = seg;
    this.nsegFree++;
  }

  protected listInsert(prev: number, seg: number): void {
    const s = this.segs;
    const next = s[prev * Seg.WORDS + Seg.ANEXT] as number;
    s[seg * Seg.WORDS + Seg.ANEXT] = next;
    s[seg * Seg.WORDS + Seg.APREV] = prev;
    s[prev * Seg.WORDS + Seg.ANEXT] = seg;
    s[next * Seg.WORDS + Seg.APREV] = seg;
  }

  protected listDelete(seg: number): void {
    const s = this.segs;
    const prev = s[seg * Seg.WORDS + Seg.APREV] as number;
    const next = s[seg * Seg.WORDS + Seg.ANEXT] as number;
    s[prev * Seg.WORDS + Seg.ANEXT] = next;
    s[next * Seg.WORDS + Seg.APREV] = prev;
  }

  /** Lowest non-empty freelist >= k, or -1. */
  protected firstList(k: number): number {
    if (k < 32) {
      const m = this.freemapLo & (-1 << k);
      if (m !== 0) return lowbit(m);
      k = 32;
    }
    if (k < FREELISTS) {
      const m = this.freemapHi & (-1 << (k - 32));
      if (m !== 0) return 32 + lowbit(m);
    }
    return -1;
  }

  /** Puts seg at the head of its freelist (vmem_freelist_insert). */
  protected freelistInsert(seg: number): void {
    const s = this.segs;
    const b = this.bounds;
    const k =
      highbit(
        (b[seg * Bound.WORDS + Bound.END] as number) -
          (b[seg * Bound.WORDS + Bound.START] as number),
      ) - 1;
    const head = this.flHead[k] as number;
    s[seg * Seg.WORDS + Seg.TYPE] = SegType.FREE;
    s[seg * Seg.WORDS + Seg.KNEXT] = head;
    s[seg * Seg.WORDS + Seg.KPREV] = NIL;
    if (head !== NIL) s[head * Seg.WORDS + Seg.KPREV] = seg;
    else if (k < 32) this.freemapLo |= 1 << k;
    else this.freemapHi |= 1 << (k - 32);
    this.flHead[k] = seg;
  }

  /** Takes seg off its freelist (vmem_freelist_delete). */
  protected freelistDelete(seg: number): void {
    const s = this.segs;
    const next = s[seg * Seg.WORDS + Seg.KNEXT] as number;
    const prev = s[seg * Seg.WORDS + Seg.KPREV] as number;
    if (next !== NIL) s[next * Seg.WORDS + Seg.KPREV] = prev;
    if (prev !== NIL) {
      s[prev * Seg.WORDS + Seg.KNEXT] = next;
      return;
    }
    const b = this.bounds;
    const k =
      highbit(
        (b[seg * Bound.WORDS + Bound.END] as number) -
          (b[seg * Bound.WORDS + Bound.START] as number),
      ) - 1;
    this.flHead[k] = next;
    if (next === NIL) {
      if (k < 32) this.freemapLo &= ~(1 << k);
      else this.freemapHi &= ~(1 << (k - 32));
    }
  }

  /**
   * Hash bucket of a start: its quantum number with the higher bits folded onto the low
   * ones (illumos's VMEM_HASH_INDEX), so neighbouring segments sit in neighbouring buckets
   * (a multiplicative hash scattering them cost a cache miss per operation, 2-3x the time).
   */
  protected bucketOf(addr: number): number {
    const x = addr * this.invQuantum;
    const lo = x >>> 0;
    const hi = (x * 2.3283064365386963e-10) >>> 0;
    const s = this.hashBits;
    return (lo + (lo >>> s) + (lo >>> (s << 1)) + hi) & this.hashMask;
  }

  /** Marks seg allocated and puts it in the hash (vmem_hash_insert). */
  protected hashInsert(seg: number): void {
    const s = this.segs;
    const b = this.bounds;
    const start = b[seg * Bound.WORDS + Bound.START] as number;
    s[seg * Seg.WORDS + Seg.TYPE] = SegType.ALLOC;
    const k = this.bucketOf(start);
    s[seg * Seg.WORDS + Seg.KNEXT] = this.buckets[k] as number;
    this.buckets[k] = seg;
    this.memInUse += (b[seg * Bound.WORDS + Bound.END] as number) - start;
    if (++this.nalloc > this.buckets.length) this.rehash(this.buckets.length * 4);
  }

  /** The allocated segment starting at addr, or NIL; remembers where it was for hashUnlink. */
  protected hashFind(addr: number): number {
    const s = this.segs;
    const b = this.bounds;
    const k = this.bucketOf(addr);
    let prev = NIL;
    let seg = this.buckets[k] as number;
    let steps = 0;
    while (seg !== NIL && (b[seg * Bound.WORDS + Bound.START] as number) !== addr) {
      steps++;
      prev = seg;
      seg = s[seg * Seg.WORDS + Seg.KNEXT] as number;
    }
    this.hashBucket = k;
    this.hashPrev = prev;
    this.hashSteps = steps;
    return seg;
  }

  /** Unlinks the segment the last hashFind found. */
  protected hashUnlink(seg: number): void {
    const s = this.segs;
    const next = s[seg * Seg.WORDS + Seg.KNEXT] as number;
    if (this.hashPrev === NIL) this.buckets[this.hashBucket] = next;
    else s[this.hashPrev * Seg.WORDS + Seg.KNEXT] = next;
    this.nalloc--;
  }

  private rehash(nbuckets: number): void {
    const s = this.segs;
    const b = this.bounds;
    const old = this.buckets;
    this.buckets = new Int32Array(nbuckets).fill(NIL);
    this.hashBits = Math.log2(nbuckets);
    this.hashMask = nbuckets - 1;
    for (let k = 0; k < old.length; k++) {
      let seg = old[k] as number;
      while (seg !== NIL) {
        const next = s[seg * Seg.WORDS + Seg.KNEXT] as number;
        const j = this.bucketOf(b[seg * Bound.WORDS + Bound.START] as number);
        s[seg * Seg.WORDS + Seg.KNEXT] = this.buckets[j] as number;
        this.buckets[j] = seg;
        seg = next;
      }
    }
  }
}
