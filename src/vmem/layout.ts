/*
 * Record layouts of the vmem arena and its quantum caches, and the bit arithmetic they use.
 *
 * Records live in typed arrays indexed by record number; links are record numbers, -1 = none.
 * Resources are safe integers (up to 2^53), so addresses and sizes are f64 and everything
 * else i32.
 */

/** No record. */
export const NIL = -1;

// Segment record (boundary tag) r: Seg.WORDS i32 at r * Seg.WORDS in `segs`, and
// Bound.WORDS f64 at r * Bound.WORDS in `bounds`.
//
//  segs   0        4        8        12       16       20       24
//         +--------+--------+--------+--------+--------+--------+
//         | type   | anext  | aprev  | knext  | kprev  | slab   |
//         +--------+--------+--------+--------+--------+--------+
//  bounds 0                 8                 16
//         +-----------------+-----------------+
//         | start           | end             |   the segment is [start, end)
//         +-----------------+-----------------+
//
// anext/aprev: the arena list, every span marker followed by the segments tiling its span,
// spans in address order, and the rotor somewhere among them; record 0 is its head.
// knext/kprev ("next of kin"), by type: FREE - the segment's freelist; ALLOC - the hash
// chain (knext only); SPAN - the list of span markers, headed by record 0.
// slab: for an ALLOC segment that is a quantum-cache slab, the slab record; else NIL.
export const enum Seg {
  TYPE = 0,
  ANEXT = 1,
  APREV = 2,
  KNEXT = 3,
  KPREV = 4,
  SLAB = 5,
  WORDS = 6,
}

export const enum Bound {
  START = 0,
  END = 1,
  WORDS = 2,
}

/** Segment types (Seg.TYPE); IMPORTED is a flag on a SPAN. */
export const enum SegType {
  /** On the free-record list. */
  NONE = 0,
  FREE = 1,
  ALLOC = 2,
  /** A span marker, and record 0 (the head of the arena and span lists). */
  SPAN = 4,
  /** The next-fit rotor: a marker between segments. */
  ROTOR = 8,
  IMPORTED = 16,
}

/** Record 0: head of the arena list and of the span list (type SPAN, empty bounds). */
export const SEG0 = 0;
/** Record 1: the next-fit rotor. */
export const ROTOR = 1;
/** Records reserved at the start of the table. */
export const FIXED_RECORDS = 2;

/** Freelists: list k holds free segments of size in [2^k, 2^(k+1)). */
export const FREELISTS = 64;

// Quantum-cache slab record s: Slab.WORDS i32 at s * Slab.WORDS in `slabs`, and its start in
// `slabStart[s]`.
//
//  slabs  0        4        8        12       16       20       24
//         +--------+--------+--------+--------+--------+--------+
//         | cache  | nfree  | next   | prev   | bitmap 0..31    | bitmap 32..63
//         +--------+--------+--------+--------+--------+--------+
//
// cache: the cache's index (object size = (cache + 1) x quantum), -1 when the record is
// free. bitmap: bit i set = object i allocated; bits from the object count up are always set,
// so the first clear bit is the first free object. next/prev: the cache's partial list.
export const enum Slab {
  CACHE = 0,
  NFREE = 1,
  NEXT = 2,
  PREV = 3,
  BITMAP = 4,
  WORDS = 6,
}

/** A slab holds at most this many objects (see QuantumCaches: slabSize / quantum <= 64). */
export const SLAB_MAX_OBJECTS = 64;

const TWO_32 = 4294967296;
const INV_TWO_32 = 1 / TWO_32;

/** 1 + index of the highest set bit of x (x a safe integer >= 1): illumos's highbit(). */
export function highbit(x: number): number {
  return x < TWO_32 ? 32 - Math.clz32(x) : 64 - Math.clz32(x * INV_TWO_32);
}

/** 2^k for k in 0..63, exact as f64. */
export const POW2 = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);

/** Index of the lowest set bit of a non-zero i32. */
export function lowbit(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** i32 with every bit from n up set (n may be <= 0 or >= 32). */
export function bitsFrom(n: number): number {
  if (n <= 0) return -1;
  if (n >= 32) return 0;
  return -1 << n;
}

/** Smallest t >= x with t mod align = phase (align > 0, 0 <= phase < align): P2PHASEUP. */
export function phaseUp(x: number, align: number, phase: number): number {
  const d = (phase - x) % align;
  return x + (d < 0 ? d + align : d);
}

/** Whether [t, t + size) crosses a multiple of nocross: P2BOUNDARY. */
export function crosses(t: number, size: number, nocross: number): boolean {
  return t - (t % nocross) + nocross < t + size;
}

/** x rounded up to a multiple of align (both safe integers, align > 0). */
export function roundUp(x: number, align: number): number {
  const r = x % align;
  return r === 0 ? x : x + (align - r);
}
