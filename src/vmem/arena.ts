/*
 * The vmem resource allocator of Bonwick & Adams, "Magazines and Vmem" (USENIX 2001), after
 * illumos `uts/common/os/vmem.c`: an arena is a set of integers (addresses, ids, offsets)
 * made of spans, each span tiled by free and allocated segments (boundary tags), with
 * power-of-two freelists that make "instant fit" allocation constant time, a hash of
 * allocated segments that makes free constant time, constrained allocation (`xalloc`),
 * import of spans from a source arena, and quantum caches for small sizes.
 *
 *   arena list (anext ->), addresses ascending within and across spans
 *
 *   SEG0 <-> SPAN [0,64) <-> ALLOC [0,16) <-> FREE [16,64) <-> SPAN [128,256) <-> ... -> SEG0
 *                                              |
 *   freelist[5] (sizes 32..63) ------------->  +  (knext/kprev)
 *   hash[bucket(0)] -> ALLOC [0,16) -> ...        (knext chain)
 *
 * - Instant fit: a request of r units takes the head of the first non-empty freelist whose
 *   segments are all >= r (list highbit(r), or log2(r) when r is a power of two): one bitmap
 *   lookup, no search. Best fit searches the first list that may hold a fit for the smallest;
 *   next fit walks the arena list from a rotor (a marker segment) and leaves it after the
 *   allocation, cycling through the resources (ids are not reused soon).
 * - Allocating splits a free segment into at most three; freeing coalesces with free
 *   neighbours in the same span. A span whose segments are all free again, if it was
 *   imported, goes back to its source.
 * - Misuse (a free of something not allocated, of the wrong size, twice) is found through
 *   the hash in O(1) on the good path and classified by a walk on the bad one; it throws
 *   KmemError before any state changes.
 *
 * Deviations from illumos, each for a single-threaded library rather than a kernel:
 * - Failure is -1 (0 is a valid resource), never a sleep; no VM_SLEEP/VM_NOSLEEP.
 * - free() checks the size rounded up to the quantum (illumos panics on any mismatch of the
 *   exact size); free() also accepts what xalloc() returned.
 * - A constrained instant-fit xalloc that finds nothing in the lists that surely fit also
 *   searches the list below before it imports or fails, so it fails only when no free
 *   segment can hold the request.
 * - Spans are kept in address order (illumos appends them); the hash grows as it fills
 *   instead of being rescaled by a timer.
 *
 * Files:
 *   arena.ts     VmemArena: options, the public entry points, the allocation policies,
 *                freeing, spans, import and release
 *   segments.ts  the segment store it extends: records, the arena list, freelists, hash
 *   qcache.ts    the quantum caches (their invariants, QCACHE-1..2, are in its header)
 *   verify.ts    verify(): the invariants below, then the quantum caches'
 *   layout.ts    record layouts and the bit arithmetic
 *
 * Invariants (verify() reports these ids, and QCACHE-1..2 of qcache.ts):
 *  VMEM-1: the arena list is a consistent doubly linked ring through record 0 holding each
 *          record in use once (span markers, segments, the rotor); the others are on the
 *          free-record list
 *  VMEM-2: span markers ascend without overlap; the segments after a marker tile its span
 *          exactly; every bound is a multiple of the quantum and every segment non-empty
 *  VMEM-3: no two free segments are neighbours in the arena list (they are coalesced)
 *  VMEM-4: each free segment is on freelist highbit(size) - 1 exactly once; the freelists
 *          are consistent; freemap bit k is set iff freelist k is not empty
 *  VMEM-5: each allocated segment is in the hash chain of its start's bucket exactly once,
 *          and the hash holds nothing else
 *  VMEM-6: total = Σ span sizes, imported = Σ imported span sizes, inUse = Σ allocated sizes
 *  VMEM-7: the span list (knext from record 0) holds exactly the span markers, in order
 *  VMEM-8: with a release function, no imported span is a single free segment, unless the
 *          rotor sits beside it (it is released when the rotor moves on)
 */

import { KmemError, describe, hex } from "../errors.js";
import {
  Bound,
  FREELISTS,
  NIL,
  POW2,
  ROTOR,
  SEG0,
  Seg,
  SegType,
  Slab,
  crosses,
  highbit,
  phaseUp,
  roundUp,
} from "./layout.js";
import { type QcacheStats, QuantumCaches } from "./qcache.js";
import { MINFREE, SegmentStore } from "./segments.js";
import { verifyArena } from "./verify.js";

/** Allocation policies, as illumos's VM_INSTANTFIT (default), VM_BESTFIT, VM_NEXTFIT. */
export type VmemPolicy = "instantfit" | "bestfit" | "nextfit";

const enum Policy {
  INSTANT = 0,
  BEST = 1,
  NEXT = 2,
}

/** Options of {@link VmemArena}, as vmem_create's arguments. */
export interface VmemOptions {
  /** Name, for messages and stats. */
  name: string;
  /** Start of the initial span (a multiple of the quantum, >= 0). */
  base: number;
  /** Size of the initial span (a multiple of the quantum); 0 = no initial span. */
  size: number;
  /** Unit of allocation, a power of two in 1..2^30: every result and size is a multiple. */
  quantum: number;
  /** Default policy of alloc(); "instantfit" unless given. */
  policy?: VmemPolicy;
  /**
   * Largest size served by the quantum caches (rounded down to a multiple of the quantum;
   * at most 16 quanta and 2^28 are cached). Default 0: no caches.
   */
  qcacheMax?: number;
  /** Arena to import spans from (default import: source.alloc, release: source.free). */
  source?: VmemArena;
  /** Imports a span of `size` units: its start, or -1. Overrides the source's alloc. */
  importFn?: (size: number) => number;
  /** Gives back an imported span when all of it is free. Overrides the source's free. */
  releaseFn?: (start: number, size: number) => void;
  /** Smallest span to import (vm_min_import); default 0. */
  minImport?: number;
}

/** Constraints of {@link VmemArena.xalloc}, exactly vmem_xalloc's. */
export interface XallocOptions {
  /** The result is `phase` mod `align`; a power of two, multiple of the quantum (default: quantum). */
  align?: number;
  /** Offset from the alignment, a multiple of the quantum below align (default 0). */
  phase?: number;
  /** The result must not straddle a multiple of nocross (a power of two; 0 = no limit). */
  nocross?: number;
  /** The result lies in [minaddr, maxaddr): lowest start (default 0). */
  minaddr?: number;
  /** One past the highest unit the result may use (default: no limit). */
  maxaddr?: number;
  /** "instantfit" (default) or "bestfit"; "nextfit" means instant fit here, as in illumos. */
  policy?: VmemPolicy;
}

/** One record of {@link VmemArena.segments}. */
export interface VmemSegment {
  base: number;
  size: number;
  /** "span": a span marker (the segments after it tile it); "slab": held by a quantum cache. */
  type: "span" | "free" | "alloc" | "slab";
  /** For a span: whether it was imported from the source. */
  imported?: boolean;
}

/** Totals and counters of a {@link VmemArena} (illumos's vmem kstats). */
export interface VmemStats {
  name: string;
  quantum: number;
  /** Units in all spans (mem_total). */
  total: number;
  /** Units in allocated segments, quantum-cache slabs included (mem_inuse). */
  inUse: number;
  /** total - inUse. */
  free: number;
  /** Units in spans imported from the source (mem_import). */
  imported: number;
  spans: number;
  freeSegments: number;
  allocatedSegments: number;
  /** Largest free segment. */
  largestFree: number;
  /** Segment allocations and frees at the arena (quantum-cache objects count in qcaches). */
  allocs: number;
  frees: number;
  /** Requests the arena could not serve. */
  fails: number;
  /** Free segments examined by searches (the instant-fit fast path examines none). */
  searches: number;
  /** Extra hash-chain steps taken by frees to find their segments. */
  lookups: number;
  /** Spans imported from and released to the source. */
  imports: number;
  releases: number;
  /** One entry per quantum cache. */
  qcaches: QcacheStats[];
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_QUANTUM = 2 ** 30;
const MAX_QCACHE = 2 ** 28;
const NQCACHE_MAX = 16;

const POLICIES: readonly VmemPolicy[] = ["instantfit", "bestfit", "nextfit"];
const OPTION_KEYS = [
  "name",
  "base",
  "size",
  "quantum",
  "policy",
  "qcacheMax",
  "source",
  "importFn",
  "releaseFn",
  "minImport",
];
const XALLOC_KEYS = ["align", "phase", "nocross", "minaddr", "maxaddr", "policy"];
const NO_CONSTRAINTS: XallocOptions = Object.freeze({});

function badInteger(name: string, value: unknown, min: number, max: number): never {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
  throw new RangeError(`${name} must be in ${min}..${max}, got ${value}`);
}

function policyCode(name: string, value: unknown): Policy {
  const i = POLICIES.indexOf(value as VmemPolicy);
  if (i < 0) {
    throw new (typeof value === "string" ? RangeError : TypeError)(
      `${name} must be one of ${POLICIES.map((p) => JSON.stringify(p)).join(", ")}, got ${describe(value)}`,
    );
  }
  return i as Policy;
}

function isPowerOfTwo(x: number): boolean {
  return x >= 1 && POW2[highbit(x) - 1] === x;
}

/** A vmem arena: a set of integer resources allocated in segments. */
export class VmemArena extends SegmentStore {
  readonly name: string;
  readonly quantum: number;
  /** Default policy of alloc(). */
  readonly policy: VmemPolicy;
  /** Largest size the quantum caches serve (0: none). */
  readonly qcacheMax: number;
  /** The arena spans are imported from, if any. */
  readonly source: VmemArena | null;

  private readonly policyDefault: Policy;
  private readonly importFn: ((size: number) => number) | null;
  private readonly releaseFn: ((start: number, size: number) => void) | null;
  private readonly importQuantum: number;
  private readonly minImport: number;
  private readonly qc: QuantumCaches | null;

  private memTotal = 0;
  private memImport = 0;
  private nAllocs = 0;
  private nFrees = 0;
  private nFails = 0;
  private nSearches = 0;
  private nLookups = 0;
  private nImports = 0;
  private nReleases = 0;
  /** Start chosen by the last search. */
  private foundAddr = 0;
  /** Segment made by the last segAlloc. */
  private lastSeg = NIL;

  constructor(options: VmemOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`VmemArena options must be an object, got ${describe(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.includes(key)) {
        throw new TypeError(
          `VmemArena: unknown option ${JSON.stringify(key)} (known: ${OPTION_KEYS.join(", ")})`,
        );
      }
    }
    const { name, base, size, quantum } = options;
    if (typeof name !== "string")
      throw new TypeError(`name must be a string, got ${describe(name)}`);
    if (!(Number.isInteger(quantum) && isPowerOfTwo(quantum) && quantum <= MAX_QUANTUM)) {
      if (!Number.isInteger(quantum)) badInteger("quantum", quantum, 1, MAX_QUANTUM);
      throw new RangeError(`quantum must be a power of two in 1..${MAX_QUANTUM}, got ${quantum}`);
    }
    if (!Number.isSafeInteger(base) || base < 0) badInteger("base", base, 0, MAX_SAFE);
    if (!Number.isSafeInteger(size) || size < 0 || base + size > MAX_SAFE) {
      badInteger("size", size, 0, MAX_SAFE - base);
    }
    if (base % quantum !== 0 || size % quantum !== 0) {
      throw new RangeError(
        `base and size must be multiples of the quantum ${quantum}, got base ${base}, size ${size}`,
      );
    }
    super(quantum);
    this.name = name;
    this.quantum = quantum;
    this.policyDefault =
      options.policy === undefined ? Policy.INSTANT : policyCode("policy", options.policy);
    this.policy = POLICIES[this.policyDefault] as VmemPolicy;

    const { source, importFn, releaseFn } = options;
    if (source !== undefined && !(source instanceof VmemArena)) {
      throw new TypeError(`source must be a VmemArena, got ${describe(source)}`);
    }
    if (importFn !== undefined && typeof importFn !== "function") {
      throw new TypeError(`importFn must be a function, got ${describe(importFn)}`);
    }
    if (releaseFn !== undefined && typeof releaseFn !== "function") {
      throw new TypeError(`releaseFn must be a function, got ${describe(releaseFn)}`);
    }
    this.source = source ?? null;
    this.importFn = importFn ?? (source ? (n: number) => source.alloc(n) : null);
    this.releaseFn = releaseFn ?? (source ? (a: number, n: number) => source.free(a, n) : null);
    this.importQuantum = Math.max(quantum, source?.quantum ?? 1);
    const minImport = options.minImport ?? 0;
    if (!Number.isSafeInteger(minImport) || minImport < 0)
      badInteger("minImport", minImport, 0, MAX_SAFE);
    this.minImport = minImport;

    const qcacheMax = options.qcacheMax ?? 0;
    if (!Number.isSafeInteger(qcacheMax) || qcacheMax < 0 || qcacheMax > MAX_QCACHE) {
      badInteger("qcacheMax", qcacheMax, 0, MAX_QCACHE);
    }
    const nq = Math.min(Math.floor(qcacheMax / quantum), NQCACHE_MAX);
    this.qc = nq > 0 ? new QuantumCaches(this, quantum, nq) : null;
    this.qcacheMax = nq * quantum;

    if (size > 0) this.add(base, size);
  }

  // ---------------------------------------------------------------------------------------
  // Public entry points

  /**
   * Allocates `size` units (rounded up to the quantum) with `policy` (default: the arena's).
   * Sizes up to qcacheMax come from the quantum caches. Returns the start, or -1.
   */
  alloc(size: number, policy?: VmemPolicy): number {
    if (!(size >= 1 && size <= MAX_SAFE && Number.isInteger(size)))
      badInteger("size", size, 1, MAX_SAFE);
    const p = policy === undefined ? this.policyDefault : policyCode("policy", policy);
    const qc = this.qc;
    if (qc !== null && size <= this.qcacheMax) return qc.alloc(size);
    const r = this.roundSize(size);
    if (r < 0) return this.fail();
    if (p === Policy.INSTANT) return this.instantAlloc(r);
    if (p === Policy.NEXT) return this.nextfitAlloc(r);
    return this.xallocCore(r, this.quantum, 0, 0, 0, Infinity, true);
  }

  /**
   * Constrained allocation, vmem_xalloc: `size` units starting at `phase` mod `align`, not
   * straddling a multiple of `nocross`, inside [minaddr, maxaddr). Bypasses the quantum
   * caches. Imports from the source only when unconstrained by nocross, minaddr, maxaddr.
   * Returns the start, or -1. Inconsistent constraints throw RangeError.
   */
  xalloc(size: number, options?: XallocOptions): number {
    if (!(size >= 1 && size <= MAX_SAFE && Number.isInteger(size)))
      badInteger("size", size, 1, MAX_SAFE);
    const o = options === undefined ? NO_CONSTRAINTS : options;
    if (typeof o !== "object" || o === null) {
      throw new TypeError(`xalloc options must be an object, got ${describe(o)}`);
    }
    for (const key in o) {
      if (!XALLOC_KEYS.includes(key)) {
        throw new TypeError(
          `xalloc: unknown option ${JSON.stringify(key)} (known: ${XALLOC_KEYS.join(", ")})`,
        );
      }
    }
    const q = this.quantum;
    const align = o.align === undefined || o.align === 0 ? q : o.align;
    const phase = o.phase ?? 0;
    const nocross = o.nocross ?? 0;
    const minaddr = o.minaddr ?? 0;
    const maxaddr = o.maxaddr ?? Infinity;
    if (!Number.isSafeInteger(align) || !isPowerOfTwo(align) || align % q !== 0) {
      if (!Number.isInteger(align)) badInteger("align", align, q, MAX_SAFE);
      throw new RangeError(
        `align must be a power of two and a multiple of the quantum ${q}, got ${align}`,
      );
    }
    if (!Number.isSafeInteger(phase) || phase < 0 || phase >= align || phase % q !== 0) {
      if (!Number.isInteger(phase)) badInteger("phase", phase, 0, align - q);
      throw new RangeError(
        `phase must be a multiple of the quantum ${q} below align ${align}, got ${phase}`,
      );
    }
    if (
      !Number.isSafeInteger(nocross) ||
      (nocross !== 0 && (!isPowerOfTwo(nocross) || nocross % q !== 0))
    ) {
      if (!Number.isInteger(nocross)) badInteger("nocross", nocross, 0, MAX_SAFE);
      throw new RangeError(
        `nocross must be 0 or a power of two, multiple of the quantum ${q}, got ${nocross}`,
      );
    }
    if (!Number.isSafeInteger(minaddr) || minaddr < 0) badInteger("minaddr", minaddr, 0, MAX_SAFE);
    if (maxaddr !== Infinity && (!Number.isSafeInteger(maxaddr) || maxaddr <= minaddr)) {
      badInteger("maxaddr", maxaddr, minaddr + 1, MAX_SAFE);
    }
    const best = o.policy === undefined ? false : policyCode("policy", o.policy) === Policy.BEST;
    const r = this.roundSize(size);
    if (r < 0) return this.fail();
    if (nocross !== 0 && (align > nocross || roundUp(phase + r, align) > nocross)) {
      throw new RangeError(
        `xalloc: overconstrained: size ${size} at phase ${phase} of align ${align} cannot fit within nocross ${nocross}`,
      );
    }
    return this.xallocCore(r, align, phase, nocross, minaddr, maxaddr, best);
  }

  /**
   * Frees `size` units at `addr`: what alloc() or xalloc() returned, with the size asked for
   * (compared after rounding up to the quantum). Throws KmemError, changing nothing, for
   * anything else: DOUBLE_FREE when it is free already, INVALID_FREE otherwise.
   */
  free(addr: number, size: number): void {
    if (!Number.isSafeInteger(addr)) badInteger("addr", addr, 0, MAX_SAFE);
    if (!(size >= 1 && size <= MAX_SAFE && Number.isInteger(size)))
      badInteger("size", size, 1, MAX_SAFE);
    const qc = this.qc;
    if (qc !== null && size <= this.qcacheMax && qc.free(addr, size)) return;
    this.xfreeCore(addr, size);
  }

  /** Frees what xalloc() returned (vmem_xfree): bypasses the quantum caches. */
  xfree(addr: number, size: number): void {
    if (!Number.isSafeInteger(addr)) badInteger("addr", addr, 0, MAX_SAFE);
    if (!(size >= 1 && size <= MAX_SAFE && Number.isInteger(size)))
      badInteger("size", size, 1, MAX_SAFE);
    this.xfreeCore(addr, size);
  }

  /**
   * Adds the span [base, base + size) (vmem_add). Returns base. A span overlapping one the
   * arena has, or not aligned to the quantum, throws RangeError.
   */
  add(base: number, size: number): number {
    if (!Number.isSafeInteger(base) || base < 0) badInteger("base", base, 0, MAX_SAFE);
    if (!Number.isSafeInteger(size) || size < 1 || base + size > MAX_SAFE) {
      badInteger("size", size, 1, MAX_SAFE - base);
    }
    const q = this.quantum;
    if (base % q !== 0 || size % q !== 0) {
      throw new RangeError(
        `add: base ${base} and size ${size} must be multiples of the quantum ${q}`,
      );
    }
    this.checkNoOverlap("add", base, size);
    this.populate();
    this.spanCreate(base, base + size, false);
    return base;
  }

  /** Whether [addr, addr + size) lies inside one span (vmem_contains). */
  contains(addr: number, size = 1): boolean {
    if (!Number.isSafeInteger(addr)) badInteger("addr", addr, 0, MAX_SAFE);
    if (!Number.isSafeInteger(size) || size < 1) badInteger("size", size, 1, MAX_SAFE);
    const s = this.segs;
    const b = this.bounds;
    for (
      let sp = s[SEG0 * Seg.WORDS + Seg.KNEXT] as number;
      sp !== SEG0;
      sp = s[sp * Seg.WORDS + Seg.KNEXT] as number
    ) {
      if (
        addr >= (b[sp * Bound.WORDS + Bound.START] as number) &&
        addr + size <= (b[sp * Bound.WORDS + Bound.END] as number)
      ) {
        return true;
      }
    }
    return false;
  }

  /** Gives the quantum caches' empty slabs back to the arena; returns how many. */
  reap(): number {
    return this.qc === null ? 0 : this.qc.reap();
  }

  /**
   * Empties the arena (vmem_destroy, but the arena stays usable): reaps the quantum caches
   * and returns imported spans to the source; every span is removed. Throws KmemError BUSY,
   * changing nothing, while anything is allocated.
   */
  destroy(): void {
    const qcUnits = this.qc === null ? 0 : this.qc.inUseUnits();
    if (
      qcUnits > 0 ||
      this.memInUse - (this.qc === null ? 0 : this.qc.slabCount() * this.qc.slabSize) > 0
    ) {
      throw new KmemError(
        "BUSY",
        `vmem ${this.name}: destroy with ${this.memInUse} units allocated`,
      );
    }
    this.reap();
    // Park the rotor before every span: each span is then one free segment (and an imported
    // one the rotor kept from being released goes back now).
    if (this.segs[ROTOR * Seg.WORDS + Seg.APREV] !== SEG0) this.advance(ROTOR, SEG0);
    const s = this.segs;
    let sp = s[SEG0 * Seg.WORDS + Seg.KNEXT] as number;
    while (sp !== SEG0) {
      const nextSpan = s[sp * Seg.WORDS + Seg.KNEXT] as number;
      this.spanRelease(s[sp * Seg.WORDS + Seg.ANEXT] as number);
      sp = nextSpan;
    }
  }

  /** The arena list: span markers and segments in address order (a copy). */
  segments(): VmemSegment[] {
    const out: VmemSegment[] = [];
    const s = this.segs;
    const b = this.bounds;
    for (
      let r = s[SEG0 * Seg.WORDS + Seg.ANEXT] as number;
      r !== SEG0;
      r = s[r * Seg.WORDS + Seg.ANEXT] as number
    ) {
      const t = s[r * Seg.WORDS + Seg.TYPE] as number;
      if (t === SegType.ROTOR) continue;
      const base = b[r * Bound.WORDS + Bound.START] as number;
      const size = (b[r * Bound.WORDS + Bound.END] as number) - base;
      if ((t & SegType.SPAN) !== 0)
        out.push({ base, size, type: "span", imported: (t & SegType.IMPORTED) !== 0 });
      else if (t === SegType.FREE) out.push({ base, size, type: "free" });
      else out.push({ base, size, type: s[r * Seg.WORDS + Seg.SLAB] === NIL ? "alloc" : "slab" });
    }
    return out;
  }

  /** Totals and counters. */
  stats(): VmemStats {
    let spans = 0;
    let freeSegs = 0;
    let largest = 0;
    const s = this.segs;
    const b = this.bounds;
    for (
      let r = s[SEG0 * Seg.WORDS + Seg.ANEXT] as number;
      r !== SEG0;
      r = s[r * Seg.WORDS + Seg.ANEXT] as number
    ) {
      const t = s[r * Seg.WORDS + Seg.TYPE] as number;
      if ((t & SegType.SPAN) !== 0) spans++;
      else if (t === SegType.FREE) {
        freeSegs++;
        largest = Math.max(
          largest,
          (b[r * Bound.WORDS + Bound.END] as number) - (b[r * Bound.WORDS + Bound.START] as number),
        );
      }
    }
    return {
      name: this.name,
      quantum: this.quantum,
      total: this.memTotal,
      inUse: this.memInUse,
      free: this.memTotal - this.memInUse,
      imported: this.memImport,
      spans,
      freeSegments: freeSegs,
      allocatedSegments: this.nalloc,
      largestFree: largest,
      allocs: this.nAllocs,
      frees: this.nFrees,
      fails: this.nFails,
      searches: this.nSearches,
      lookups: this.nLookups,
      imports: this.nImports,
      releases: this.nReleases,
      qcaches: this.qc === null ? [] : this.qc.stats(),
    };
  }

  /**
   * One past the highest allocated unit, or the lowest span start when nothing is
   * allocated (0 for an arena without spans): the extent to back when the arena maps memory.
   */
  allocatedEnd(): number {
    const s = this.segs;
    const b = this.bounds;
    let lowest = -1;
    for (
      let r = s[SEG0 * Seg.WORDS + Seg.APREV] as number;
      r !== SEG0;
      r = s[r * Seg.WORDS + Seg.APREV] as number
    ) {
      const t = s[r * Seg.WORDS + Seg.TYPE] as number;
      if (t === SegType.ALLOC) return b[r * Bound.WORDS + Bound.END] as number;
      if ((t & SegType.SPAN) !== 0) lowest = b[r * Bound.WORDS + Bound.START] as number;
    }
    return lowest < 0 ? 0 : lowest;
  }

  /**
   * Bytes of metadata in use: 40 per segment record in use (6 i32 + 2 f64), 4 per hash
   * bucket and 32 per quantum-cache slab record in use (6 i32 + 1 f64), plus the freelist
   * heads.
   */
  metadataBytes(): number {
    const records = this.segs.length / Seg.WORDS - this.nsegFree;
    const slabs = this.qc === null ? 0 : this.qc.slabCount();
    return (
      records * (Seg.WORDS * 4 + Bound.WORDS * 8) +
      this.buckets.length * 4 +
      slabs * (Slab.WORDS * 4 + 8) +
      FREELISTS * 4
    );
  }

  /**
   * Checks VMEM-1..8 (the header) and QCACHE-1..2 (qcache.ts); throws KmemError CORRUPTION
   * naming the first broken (verify.ts).
   */
  verify(): void {
    verifyArena({
      name: this.name,
      quantum: this.quantum,
      segs: this.segs,
      bounds: this.bounds,
      segFree: this.segFree,
      nsegFree: this.nsegFree,
      flHead: this.flHead,
      freemapLo: this.freemapLo,
      freemapHi: this.freemapHi,
      buckets: this.buckets,
      nalloc: this.nalloc,
      bucketOf: (addr) => this.bucketOf(addr),
      memTotal: this.memTotal,
      memImport: this.memImport,
      memInUse: this.memInUse,
      releases: this.releaseFn !== null,
      qc: this.qc,
    });
  }

  // ---------------------------------------------------------------------------------------
  // SlabArena: what the quantum caches use (internal: checked where the arena hands itself
  // to its QuantumCaches, not declared with `implements`, whose .d.ts would name them).

  /** @internal */
  slabAlloc(size: number, slab: number): number {
    const addr = this.xallocCore(size, size, 0, 0, 0, Infinity, false);
    if (addr !== -1) this.segs[this.lastSeg * Seg.WORDS + Seg.SLAB] = slab;
    return addr;
  }

  /** @internal */
  slabFree(start: number): void {
    const seg = this.hashFind(start);
    this.segs[seg * Seg.WORDS + Seg.SLAB] = NIL;
    this.hashUnlink(seg);
    this.freeSeg(seg);
  }

  /** @internal */
  slabAt(start: number): number {
    const seg = this.hashFind(start);
    return seg === NIL ? NIL : (this.segs[seg * Seg.WORDS + Seg.SLAB] as number);
  }

  /** @internal */
  arenaAlloc(size: number): number {
    return this.instantAlloc(this.roundSize(size));
  }

  // ---------------------------------------------------------------------------------------
  // Allocation

  /** Instant fit: the head of the first freelist whose every segment holds r. O(1). */
  private instantAlloc(r: number): number {
    if (this.nsegFree < MINFREE) this.populate();
    const hb = highbit(r);
    const list = this.firstList(POW2[hb - 1] === r ? hb - 1 : hb);
    if (list < 0) return this.xallocCore(r, this.quantum, 0, 0, 0, Infinity, false);
    const seg = this.flHead[list] as number;
    const addr = this.bounds[seg * Bound.WORDS + Bound.START] as number;
    this.segAlloc(seg, addr, r);
    this.nAllocs++;
    return addr;
  }

  /**
   * Next fit (vmem_nextfit_alloc): the first free segment at or after the rotor that holds
   * r; the rotor then moves past the new segment.
   */
  private nextfitAlloc(r: number): number {
    if (this.nsegFree < MINFREE) this.populate();
    const s = this.segs;
    const b = this.bounds;
    let vsp = s[ROTOR * Seg.WORDS + Seg.ANEXT] as number;
    // Common case: the segment after the rotor is free and stays on its freelist when r
    // is taken from its front; the new segment goes behind the rotor, which is as good as
    // moving the rotor past it.
    if (s[vsp * Seg.WORDS + Seg.TYPE] === SegType.FREE) {
      const vsStart = b[vsp * Bound.WORDS + Bound.START] as number;
      const vsSize = (b[vsp * Bound.WORDS + Bound.END] as number) - vsStart;
      if (vsSize > r && highbit(vsSize) === highbit(vsSize - r)) {
        b[vsp * Bound.WORDS + Bound.START] = vsStart + r;
        const seg = this.segCreate(
          s[ROTOR * Seg.WORDS + Seg.APREV] as number,
          vsStart,
          vsStart + r,
        );
        this.hashInsert(seg);
        this.nAllocs++;
        return vsStart;
      }
    }
    for (;;) {
      this.nSearches++;
      if (
        s[vsp * Seg.WORDS + Seg.TYPE] === SegType.FREE &&
        (b[vsp * Bound.WORDS + Bound.END] as number) -
          (b[vsp * Bound.WORDS + Bound.START] as number) >=
          r
      ) {
        break;
      }
      vsp = s[vsp * Seg.WORDS + Seg.ANEXT] as number;
      if (vsp === ROTOR) {
        // Full circle. The rotor may itself keep two free neighbours apart: move it on one
        // and look at what it leaves behind; else import or fail as xalloc does.
        this.advance(ROTOR, this.segs[ROTOR * Seg.WORDS + Seg.ANEXT] as number);
        vsp = this.segs[ROTOR * Seg.WORDS + Seg.APREV] as number;
        const t = this.segs;
        const u = this.bounds;
        if (
          t[vsp * Seg.WORDS + Seg.TYPE] === SegType.FREE &&
          (u[vsp * Bound.WORDS + Bound.END] as number) -
            (u[vsp * Bound.WORDS + Bound.START] as number) >=
            r
        ) {
          break;
        }
        return this.xallocCore(r, this.quantum, 0, 0, 0, Infinity, false);
      }
    }
    const addr = this.bounds[vsp * Bound.WORDS + Bound.START] as number;
    const seg = this.segAlloc(vsp, addr, r);
    this.advance(ROTOR, seg);
    this.nAllocs++;
    return addr;
  }

  /**
   * The general allocator (vmem_xalloc): search the freelists for a segment that can hold
   * r at the constraints; failing that, reap the quantum caches, then import from the
   * source. Returns the start or -1; the segment made is `lastSeg`.
   */
  private xallocCore(
    r: number,
    align: number,
    phase: number,
    nocross: number,
    minaddr: number,
    maxaddr: number,
    best: boolean,
  ): number {
    if (this.nsegFree < MINFREE) this.populate();
    let seg = this.search(r, align, phase, nocross, minaddr, maxaddr, best);
    if (seg === NIL && this.qc !== null && this.qc.reapable) {
      this.qc.reap();
      seg = this.search(r, align, phase, nocross, minaddr, maxaddr, best);
    }
    if (
      seg === NIL &&
      this.importFn !== null &&
      nocross === 0 &&
      minaddr === 0 &&
      maxaddr === Infinity
    ) {
      seg = this.importSpan(r, align, phase);
    }
    if (seg === NIL) return this.fail();
    const addr = this.foundAddr;
    this.lastSeg = this.segAlloc(seg, addr, r);
    this.nAllocs++;
    return addr;
  }

  /**
   * The search of vmem_xalloc. Instant fit starts at the first list whose segments surely
   * hold r (first fit from there on: constraints may reject a segment); best fit starts at
   * the list that may hold r and takes the smallest fit of the first list with any. Returns
   * the segment (start of the result in `foundAddr`) or NIL.
   */
  private search(
    r: number,
    align: number,
    phase: number,
    nocross: number,
    minaddr: number,
    maxaddr: number,
    best: boolean,
  ): number {
    const s = this.segs;
    const b = this.bounds;
    const hb = highbit(r);
    const exact = POW2[hb - 1] === r;
    const first = exact || best || this.firstList(hb) < 0 ? hb - 1 : hb;
    let vbest = NIL;
    let vbestSize = Infinity;
    let addr = 0;
    for (
      let list = this.firstList(first);
      list >= 0;
      list = list + 1 < FREELISTS ? this.firstList(list + 1) : -1
    ) {
      for (
        let seg = this.flHead[list] as number;
        seg !== NIL;
        seg = s[seg * Seg.WORDS + Seg.KNEXT] as number
      ) {
        this.nSearches++;
        const segStart = b[seg * Bound.WORDS + Bound.START] as number;
        const segEnd = b[seg * Bound.WORDS + Bound.END] as number;
        if (segEnd <= minaddr || segStart >= maxaddr) continue;
        const lo = segStart > minaddr ? segStart : minaddr;
        const hi = segEnd < maxaddr ? segEnd : maxaddr;
        let taddr =
          lo === segStart && phase === 0 && align === this.quantum ? lo : phaseUp(lo, align, phase);
        if (nocross !== 0 && crosses(taddr, r, nocross)) {
          taddr += roundUp(nocross - (taddr % nocross), align);
        }
        if (taddr + r > hi || segEnd - segStart >= vbestSize) continue;
        vbest = seg;
        vbestSize = segEnd - segStart;
        addr = taddr;
        if (!best || vbestSize === r) break;
      }
      if (vbest !== NIL) break;
    }
    if (vbest === NIL && first === hb) {
      // Nothing in the lists that surely fit: the list below may still hold a fit.
      for (
        let seg = this.flHead[hb - 1] as number;
        seg !== NIL;
        seg = s[seg * Seg.WORDS + Seg.KNEXT] as number
      ) {
        this.nSearches++;
        const segStart = b[seg * Bound.WORDS + Bound.START] as number;
        const segEnd = b[seg * Bound.WORDS + Bound.END] as number;
        if (segEnd <= minaddr || segStart >= maxaddr) continue;
        const lo = segStart > minaddr ? segStart : minaddr;
        const hi = segEnd < maxaddr ? segEnd : maxaddr;
        let taddr = phaseUp(lo, align, phase);
        if (nocross !== 0 && crosses(taddr, r, nocross)) {
          taddr += roundUp(nocross - (taddr % nocross), align);
        }
        if (taddr + r > hi) continue;
        vbest = seg;
        addr = taddr;
        break;
      }
    }
    this.foundAddr = addr;
    return vbest;
  }

  /** Imports a span large enough for r at align/phase; its free segment, or NIL. */
  private importSpan(r: number, align: number, phase: number): number {
    const importFn = this.importFn as (size: number) => number;
    const aquantum = this.importQuantum;
    let aphase = phase;
    if (align > aquantum) aphase = phase % aquantum !== 0 ? align - this.quantum : align - aquantum;
    const asize = roundUp(Math.max(r + aphase, this.minImport), aquantum);
    if (asize > MAX_SAFE) return NIL;
    const vaddr = importFn(asize);
    if (vaddr === -1) return NIL;
    if (
      !Number.isSafeInteger(vaddr) ||
      vaddr < 0 ||
      vaddr % aquantum !== 0 ||
      vaddr + asize > MAX_SAFE
    ) {
      throw new RangeError(
        `vmem ${this.name}: import of ${asize} returned ${describe(vaddr)}, not -1 or a start aligned to ${aquantum}`,
      );
    }
    this.checkNoOverlap("import", vaddr, asize);
    this.populate();
    const seg = this.spanCreate(vaddr, vaddr + asize, true);
    this.nImports++;
    this.foundAddr = phaseUp(vaddr, align, phase);
    return seg;
  }

  /**
   * Takes [addr, addr + r) out of the free segment vsp (vmem_seg_alloc); what is left on
   * either side goes back on the freelists. Returns the allocated segment.
   */
  private segAlloc(vsp: number, addr: number, r: number): number {
    const b = this.bounds;
    const vsStart = b[vsp * Bound.WORDS + Bound.START] as number;
    const vsEnd = b[vsp * Bound.WORDS + Bound.END] as number;
    const vsSize = vsEnd - vsStart;
    const addrEnd = addr + r;
    // From the front, with the rest on the same freelist: only the start moves.
    if (addr === vsStart && vsSize > r && highbit(vsSize) === highbit(vsSize - r)) {
      b[vsp * Bound.WORDS + Bound.START] = addrEnd;
      const seg = this.segCreate(this.segs[vsp * Seg.WORDS + Seg.APREV] as number, addr, addrEnd);
      this.hashInsert(seg);
      return seg;
    }
    this.freelistDelete(vsp);
    if (vsEnd !== addrEnd) this.freelistInsert(this.segCreate(vsp, addrEnd, vsEnd));
    if (vsStart !== addr)
      this.freelistInsert(
        this.segCreate(this.segs[vsp * Seg.WORDS + Seg.APREV] as number, vsStart, addr),
      );
    b[vsp * Bound.WORDS + Bound.START] = addr;
    b[vsp * Bound.WORDS + Bound.END] = addrEnd;
    this.hashInsert(vsp);
    return vsp;
  }

  private fail(): number {
    this.nFails++;
    return -1;
  }

  /** size rounded up to the quantum, or -1 when that exceeds any possible span. */
  private roundSize(size: number): number {
    const q = this.quantum;
    if (size <= 0x3fffffff) return (size + q - 1) & ~(q - 1);
    if (size > MAX_SAFE - q + 1) return -1;
    return roundUp(size, q);
  }

  // ---------------------------------------------------------------------------------------
  // Freeing

  /** vmem_xfree: find the segment through the hash, check it, coalesce, maybe release. */
  private xfreeCore(addr: number, size: number): void {
    const seg = this.hashFind(addr);
    const r = this.roundSize(size);
    if (
      seg === NIL ||
      (this.bounds[seg * Bound.WORDS + Bound.END] as number) - addr !== r ||
      this.segs[seg * Seg.WORDS + Seg.SLAB] !== NIL
    ) {
      this.badFree(addr, size, seg);
    }
    this.nLookups += this.hashSteps;
    this.hashUnlink(seg);
    this.freeSeg(seg);
  }

  /**
   * Makes the allocated segment `seg` (already out of the hash) free, coalescing with free
   * neighbours (vmem_xfree). The merged segment keeps the record of a free neighbour, and
   * stays on that neighbour's freelist when its size class does not change (the free-side
   * twin of segAlloc's fast path). An imported span left all free goes back to the source.
   */
  private freeSeg(seg: number): void {
    const s = this.segs;
    const b = this.bounds;
    const start = b[seg * Bound.WORDS + Bound.START] as number;
    const end = b[seg * Bound.WORDS + Bound.END] as number;
    this.memInUse -= end - start;
    this.nFrees++;
    const vnext = s[seg * Seg.WORDS + Seg.ANEXT] as number;
    const vprev = s[seg * Seg.WORDS + Seg.APREV] as number;
    const nextFree = s[vnext * Seg.WORDS + Seg.TYPE] === SegType.FREE;
    let vsp: number;
    if (s[vprev * Seg.WORDS + Seg.TYPE] === SegType.FREE) {
      vsp = vprev;
      const oldStart = b[vprev * Bound.WORDS + Bound.START] as number;
      const oldSize = start - oldStart;
      let newEnd = end;
      if (nextFree) {
        newEnd = b[vnext * Bound.WORDS + Bound.END] as number;
        this.freelistDelete(vnext);
        this.segDestroy(vnext);
      }
      this.segDestroy(seg);
      if (highbit(oldSize) === highbit(newEnd - oldStart)) {
        b[vprev * Bound.WORDS + Bound.END] = newEnd;
      } else {
        this.freelistDelete(vprev);
        b[vprev * Bound.WORDS + Bound.END] = newEnd;
        this.freelistInsert(vprev);
      }
    } else if (nextFree) {
      vsp = vnext;
      const oldEnd = b[vnext * Bound.WORDS + Bound.END] as number;
      this.segDestroy(seg);
      if (highbit(oldEnd - end) === highbit(oldEnd - start)) {
        b[vnext * Bound.WORDS + Bound.START] = start;
      } else {
        this.freelistDelete(vnext);
        b[vnext * Bound.WORDS + Bound.START] = start;
        this.freelistInsert(vnext);
      }
    } else {
      vsp = seg;
      this.freelistInsert(seg);
    }
    if (this.releaseFn !== null) this.releaseIfWhole(vsp);
  }

  /**
   * Moves a marker (the rotor) to just after `afterme` (vmem_advance); its old neighbours,
   * no longer kept apart, coalesce, and an imported span they leave all free is released.
   */
  private advance(walker: number, afterme: number): void {
    const s = this.segs;
    const b = this.bounds;
    const vprev = s[walker * Seg.WORDS + Seg.APREV] as number;
    const vnext = s[walker * Seg.WORDS + Seg.ANEXT] as number;
    this.listDelete(walker);
    this.listInsert(afterme, walker);
    let vsp = NIL;
    if (s[vprev * Seg.WORDS + Seg.TYPE] === SegType.FREE) {
      if (s[vnext * Seg.WORDS + Seg.TYPE] === SegType.FREE) {
        this.freelistDelete(vnext);
        this.freelistDelete(vprev);
        b[vprev * Bound.WORDS + Bound.END] = b[vnext * Bound.WORDS + Bound.END] as number;
        this.freelistInsert(vprev);
        this.segDestroy(vnext);
      }
      vsp = vprev;
    } else if (s[vnext * Seg.WORDS + Seg.TYPE] === SegType.FREE) {
      vsp = vnext;
    }
    if (vsp !== NIL && this.releaseFn !== null) this.releaseIfWhole(vsp);
  }

  /** Throws the KmemError for a free that does not match an allocation (cold path). */
  private badFree(addr: number, size: number, seg: number): never {
    const s = this.segs;
    const b = this.bounds;
    const where = `vmem ${this.name}: free(${hex(addr)}, ${size})`;
    if (seg !== NIL) {
      const end = b[seg * Bound.WORDS + Bound.END] as number;
      if (s[seg * Seg.WORDS + Seg.SLAB] !== NIL) {
        throw new KmemError(
          "INVALID_FREE",
          `${where}: ${hex(addr)} is a quantum-cache slab, not an allocation`,
        );
      }
      throw new KmemError(
        "INVALID_FREE",
        `${where}: wrong size: the segment at ${hex(addr)} has ${end - addr} units (quantum ${this.quantum})`,
      );
    }
    for (
      let r = s[SEG0 * Seg.WORDS + Seg.ANEXT] as number;
      r !== SEG0;
      r = s[r * Seg.WORDS + Seg.ANEXT] as number
    ) {
      const t = s[r * Seg.WORDS + Seg.TYPE] as number;
      if (t !== SegType.FREE && t !== SegType.ALLOC) continue;
      const start = b[r * Bound.WORDS + Bound.START] as number;
      const end = b[r * Bound.WORDS + Bound.END] as number;
      if (addr < start || addr >= end) continue;
      if (t === SegType.FREE) {
        throw new KmemError(
          "DOUBLE_FREE",
          `${where}: ${hex(addr)} is free (in [${hex(start)}, ${hex(end)}))`,
        );
      }
      const what = s[r * Seg.WORDS + Seg.SLAB] !== NIL ? "quantum-cache slab" : "allocated segment";
      throw new KmemError(
        "INVALID_FREE",
        `${where}: ${hex(addr)} is inside the ${what} [${hex(start)}, ${hex(end)}), not its start`,
      );
    }
    throw new KmemError("INVALID_FREE", `${where}: ${hex(addr)} is in no span of the arena`);
  }

  // ---------------------------------------------------------------------------------------
  // Spans

  /** Adds span [start, end) after its predecessor in address order; returns its free segment. */
  private spanCreate(start: number, end: number, imported: boolean): number {
    const s = this.segs;
    const b = this.bounds;
    let next = s[SEG0 * Seg.WORDS + Seg.KNEXT] as number;
    while (next !== SEG0 && (b[next * Bound.WORDS + Bound.START] as number) < start) {
      next = s[next * Seg.WORDS + Seg.KNEXT] as number;
    }
    const span = this.segCreate(s[next * Seg.WORDS + Seg.APREV] as number, start, end);
    const t = this.segs;
    t[span * Seg.WORDS + Seg.TYPE] = SegType.SPAN | (imported ? SegType.IMPORTED : 0);
    const kprev = t[next * Seg.WORDS + Seg.KPREV] as number;
    t[span * Seg.WORDS + Seg.KNEXT] = next;
    t[span * Seg.WORDS + Seg.KPREV] = kprev;
    t[kprev * Seg.WORDS + Seg.KNEXT] = span;
    t[next * Seg.WORDS + Seg.KPREV] = span;
    const seg = this.segCreate(span, start, end);
    this.freelistInsert(seg);
    this.memTotal += end - start;
    if (imported) this.memImport += end - start;
    return seg;
  }

  /** Removes the span of the free segment vsp (off the freelists), which is all of it. */
  private spanDestroy(vsp: number): void {
    const s = this.segs;
    const b = this.bounds;
    const span = s[vsp * Seg.WORDS + Seg.APREV] as number;
    const size =
      (b[span * Bound.WORDS + Bound.END] as number) -
      (b[span * Bound.WORDS + Bound.START] as number);
    if (((s[span * Seg.WORDS + Seg.TYPE] as number) & SegType.IMPORTED) !== 0)
      this.memImport -= size;
    this.memTotal -= size;
    const kprev = s[span * Seg.WORDS + Seg.KPREV] as number;
    const knext = s[span * Seg.WORDS + Seg.KNEXT] as number;
    s[kprev * Seg.WORDS + Seg.KNEXT] = knext;
    s[knext * Seg.WORDS + Seg.KPREV] = kprev;
    this.segDestroy(vsp);
    this.segDestroy(span);
  }

  /**
   * With a release function: gives back the span of the free segment vsp if vsp is all of
   * it and the span was imported (the end of vmem_xfree and of vmem_advance). vsp then lies
   * between its span's marker and the next span's (or record 0, a SPAN too).
   */
  private releaseIfWhole(vsp: number): void {
    const s = this.segs;
    if (
      ((s[(s[vsp * Seg.WORDS + Seg.APREV] as number) * Seg.WORDS + Seg.TYPE] as number) &
        SegType.IMPORTED) !==
        0 &&
      ((s[(s[vsp * Seg.WORDS + Seg.ANEXT] as number) * Seg.WORDS + Seg.TYPE] as number) &
        SegType.SPAN) !==
        0
    ) {
      this.spanRelease(vsp);
    }
  }

  /**
   * Removes the span whose one free segment is vsp (still on its freelist) and, if it was
   * imported, gives it back through the release function.
   */
  private spanRelease(vsp: number): void {
    const s = this.segs;
    const b = this.bounds;
    const imported =
      ((s[(s[vsp * Seg.WORDS + Seg.APREV] as number) * Seg.WORDS + Seg.TYPE] as number) &
        SegType.IMPORTED) !==
      0;
    const start = b[vsp * Bound.WORDS + Bound.START] as number;
    const size = (b[vsp * Bound.WORDS + Bound.END] as number) - start;
    this.freelistDelete(vsp);
    this.spanDestroy(vsp);
    if (imported && this.releaseFn !== null) {
      this.nReleases++;
      this.releaseFn(start, size);
    }
  }

  private checkNoOverlap(what: string, base: number, size: number): void {
    const s = this.segs;
    const b = this.bounds;
    for (
      let sp = s[SEG0 * Seg.WORDS + Seg.KNEXT] as number;
      sp !== SEG0;
      sp = s[sp * Seg.WORDS + Seg.KNEXT] as number
    ) {
      const start = b[sp * Bound.WORDS + Bound.START] as number;
      const end = b[sp * Bound.WORDS + Bound.END] as number;
      if (base < end && base + size > start) {
        throw new RangeError(
          `vmem ${this.name}: ${what} of [${base}, ${base + size}) overlaps the span [${start}, ${end})`,
        );
      }
    }
  }
}
