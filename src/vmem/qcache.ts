/*
 * Quantum caches: an object cache per multiple of the quantum up to qcacheMax, in front of a
 * vmem arena (Bonwick & Adams 2001 §4.4; illumos `vm_qcache`). Small requests, which are
 * most requests, are served from slabs the caches take from the arena, so they touch no
 * segment list, and the arena sees few, large, equal-sized segments instead of many small
 * ones of mixed sizes: less fragmentation.
 *
 * A slab is `slabSize` units, allocated from the arena aligned to `slabSize`, so the slab of
 * any address is found by rounding down and one lookup in the arena's allocated-segment
 * hash (the arena segment is tagged with the slab record). `slabSize` follows illumos's
 * VMEM_QCACHE_SLABSIZE: max(2^highbit(3 x qcacheMax), 64); with at most 16 caches a slab
 * holds at most 64 objects, one bitmap of two words.
 *
 *   cache c (objects of (c + 1) x quantum)
 *     partial[c] -> slab <-> slab <-> ...    slabs with some, not all, objects free
 *     spare[c]   -> an empty slab kept for the next allocation (at most one)
 *   full slabs are on no list; a slab that empties while a spare exists goes back to the
 *   arena; reap() gives back the spares, and the arena reaps before it fails or imports.
 *
 * If no slab can be had (the arena has no aligned room), a request is served by the arena
 * itself, so a quantum cache never makes an allocation fail that the arena could serve.
 *
 * Invariants (VmemArena.verify() reports these ids):
 *  QCACHE-1: each slab record in use is the slab of exactly one allocated arena segment of
 *            slabSize units, aligned to slabSize, and every slab-tagged segment has a record
 *  QCACHE-2: nfree = objects - set bitmap bits below the object count; bits from the object
 *            count up are set; a slab is on its partial list iff 0 < nfree < objects, and is
 *            its cache's spare iff nfree = objects; each cache's inUse = Σ (objects - nfree)
 */

import { KmemError, hex } from "../errors.js";
import { NIL, SLAB_MAX_OBJECTS, Slab, bitsFrom, highbit, lowbit } from "./layout.js";

/** What the caches need from their arena. */
export interface SlabArena {
  /** A segment of `size` units aligned to `size`, tagged with `slab`; its start or -1. */
  slabAlloc(size: number, slab: number): number;
  /** Frees the slab segment starting at `start`. */
  slabFree(start: number): void;
  /** The slab tag of the allocated segment that starts at `start`, or NIL. */
  slabAt(start: number): number;
  /** An allocation straight from the arena, bypassing the caches; start or -1. */
  arenaAlloc(size: number): number;
  /** The arena's name, for messages. */
  readonly name: string;
}

/** Statistics of one quantum cache. */
export interface QcacheStats {
  /** Object size (a multiple of the quantum). */
  size: number;
  slabs: number;
  /** Objects allocated from the cache's slabs. */
  inUse: number;
  /** Free objects in its slabs. */
  free: number;
  allocs: number;
  frees: number;
  /** Requests served by the arena directly because no slab could be had. */
  fallbacks: number;
}

const enum Counter {
  ALLOCS = 0,
  FREES = 1,
  FALLBACKS = 2,
  SLABS = 3,
  IN_USE = 4,
  WORDS = 5,
}

export class QuantumCaches {
  /** Number of caches: objects of 1..count quanta. */
  readonly count: number;
  /** Largest object size served (count x quantum). */
  readonly maxSize: number;
  /** Units per slab, a power of two. */
  readonly slabSize: number;

  private readonly arena: SlabArena;
  private readonly quantum: number;
  private readonly objects: Int32Array;
  private readonly partial: Int32Array;
  private readonly spare: Int32Array;
  private readonly counters: Float64Array;
  private slabs: Int32Array;
  private slabStart: Float64Array;
  private freeSlab = NIL;
  private spares = 0;

  constructor(arena: SlabArena, quantum: number, count: number) {
    this.arena = arena;
    this.quantum = quantum;
    this.count = count;
    this.maxSize = count * quantum;
    this.slabSize = Math.max(2 ** highbit(3 * this.maxSize), 64);
    this.objects = new Int32Array(count);
    for (let c = 0; c < count; c++) {
      this.objects[c] = Math.floor(this.slabSize / ((c + 1) * quantum));
    }
    if ((this.objects[0] as number) > SLAB_MAX_OBJECTS) {
      throw new Error(`vmem: ${this.objects[0]} objects per slab exceed ${SLAB_MAX_OBJECTS}`);
    }
    this.partial = new Int32Array(count).fill(NIL);
    this.spare = new Int32Array(count).fill(NIL);
    this.counters = new Float64Array(count * Counter.WORDS);
    this.slabs = new Int32Array(0);
    this.slabStart = new Float64Array(0);
    this.growSlabRecords();
  }

  /** Allocates an object of `size` (1..maxSize) units; its start or -1. */
  alloc(size: number): number {
    const c = ((size - 1) / this.quantum) | 0;
    let slab = this.partial[c] as number;
    if (slab === NIL) {
      slab = this.spare[c] as number;
      if (slab !== NIL) {
        this.spare[c] = NIL;
        this.spares--;
      } else {
        slab = this.newSlab(c);
        if (slab === NIL) {
          const addr = this.arena.arenaAlloc((c + 1) * this.quantum);
          if (addr !== -1) this.counters[c * Counter.WORDS + Counter.FALLBACKS]!++;
          return addr;
        }
      }
      this.pushPartial(c, slab);
    }
    const s = this.slabs;
    const w = slab * Slab.WORDS + Slab.BITMAP;
    let word = s[w] as number;
    let idx: number;
    if (word !== -1) {
      idx = lowbit(~word);
      s[w] = word | (1 << idx);
    } else {
      word = s[w + 1] as number;
      const bit = lowbit(~word);
      s[w + 1] = word | (1 << bit);
      idx = 32 + bit;
    }
    const nfree = (s[slab * Slab.WORDS + Slab.NFREE] as number) - 1;
    s[slab * Slab.WORDS + Slab.NFREE] = nfree;
    if (nfree === 0) this.unlinkPartial(c, slab);
    this.counters[c * Counter.WORDS + Counter.ALLOCS]!++;
    this.counters[c * Counter.WORDS + Counter.IN_USE]!++;
    return (this.slabStart[slab] as number) + idx * (c + 1) * this.quantum;
  }

  /**
   * Frees an object of `size` units at `addr`. Returns false when `addr` lies in no slab
   * (the arena frees it then); throws KmemError, changing nothing, for an address inside a
   * slab that is not a live object of that size.
   */
  free(addr: number, size: number): boolean {
    if (addr < 0) return false;
    const base = addr - (addr % this.slabSize);
    const slab = this.arena.slabAt(base);
    if (slab === NIL) return false;
    const s = this.slabs;
    const c = s[slab * Slab.WORDS + Slab.CACHE] as number;
    const objSize = (c + 1) * this.quantum;
    const off = addr - base;
    const idx = (off / objSize) | 0;
    if (
      (((size - 1) / this.quantum) | 0) !== c ||
      idx * objSize !== off ||
      idx >= (this.objects[c] as number)
    ) {
      this.invalidFree(addr, size, c, base);
    }
    const w = slab * Slab.WORDS + Slab.BITMAP + (idx >>> 5);
    const mask = 1 << (idx & 31);
    const word = s[w] as number;
    if ((word & mask) === 0) {
      throw new KmemError(
        "DOUBLE_FREE",
        `vmem ${this.arena.name}: ${hex(addr)} is already free (quantum cache of ${objSize})`,
      );
    }
    s[w] = word & ~mask;
    const nfree = (s[slab * Slab.WORDS + Slab.NFREE] as number) + 1;
    s[slab * Slab.WORDS + Slab.NFREE] = nfree;
    if (nfree === 1) this.pushPartial(c, slab);
    if (nfree === (this.objects[c] as number)) {
      this.unlinkPartial(c, slab);
      if (this.spare[c] === NIL) {
        this.spare[c] = slab;
        this.spares++;
      } else {
        this.releaseSlab(slab);
      }
    }
    this.counters[c * Counter.WORDS + Counter.FREES]!++;
    this.counters[c * Counter.WORDS + Counter.IN_USE]!--;
    return true;
  }

  /** Whether a reap would give anything back. */
  get reapable(): boolean {
    return this.spares > 0;
  }

  /** Gives every spare (empty) slab back to the arena; returns how many. */
  reap(): number {
    let n = 0;
    for (let c = 0; c < this.count; c++) {
      const slab = this.spare[c] as number;
      if (slab === NIL) continue;
      this.spare[c] = NIL;
      this.spares--;
      this.releaseSlab(slab);
      n++;
    }
    return n;
  }

  /** Objects allocated from the caches, in units. */
  inUseUnits(): number {
    let units = 0;
    for (let c = 0; c < this.count; c++) {
      units +=
        (this.counters[c * Counter.WORDS + Counter.IN_USE] as number) * (c + 1) * this.quantum;
    }
    return units;
  }

  /** Slab records in use. */
  slabCount(): number {
    let n = 0;
    for (let c = 0; c < this.count; c++)
      n += this.counters[c * Counter.WORDS + Counter.SLABS] as number;
    return n;
  }

  stats(): QcacheStats[] {
    const out: QcacheStats[] = [];
    for (let c = 0; c < this.count; c++) {
      const k = c * Counter.WORDS;
      const slabs = this.counters[k + Counter.SLABS] as number;
      const inUse = this.counters[k + Counter.IN_USE] as number;
      out.push({
        size: (c + 1) * this.quantum,
        slabs,
        inUse,
        free: slabs * (this.objects[c] as number) - inUse,
        allocs: this.counters[k + Counter.ALLOCS] as number,
        frees: this.counters[k + Counter.FREES] as number,
        fallbacks: this.counters[k + Counter.FALLBACKS] as number,
      });
    }
    return out;
  }

  /**
   * Checks QCACHE-1 and QCACHE-2 against the slab-tagged arena segments (slab -> start and
   * size, as the arena's walk found them). Throws KmemError CORRUPTION.
   */
  verify(tagged: Map<number, { start: number; size: number }>): void {
    const corrupt = (id: string, what: string): never => {
      throw new KmemError("CORRUPTION", `vmem ${this.arena.name}: ${id}: ${what}`);
    };
    const s = this.slabs;
    const records = s.length / Slab.WORDS;
    let live = 0;
    const onPartial = new Set<number>();
    for (let c = 0; c < this.count; c++) {
      let prev = NIL;
      for (
        let slab = this.partial[c] as number, n = 0;
        slab !== NIL;
        slab = s[slab * Slab.WORDS + Slab.NEXT] as number
      ) {
        if (++n > records) corrupt("QCACHE-2", `partial list of cache ${c} loops`);
        if (s[slab * Slab.WORDS + Slab.PREV] !== prev)
          corrupt("QCACHE-2", `slab ${slab} has a bad prev link`);
        if (s[slab * Slab.WORDS + Slab.CACHE] !== c)
          corrupt("QCACHE-2", `slab ${slab} on the partial list of cache ${c}`);
        onPartial.add(slab);
        prev = slab;
      }
    }
    let spares = 0;
    const inUse = new Float64Array(this.count);
    const slabsPer = new Float64Array(this.count);
    for (let slab = 0; slab < records; slab++) {
      const c = s[slab * Slab.WORDS + Slab.CACHE] as number;
      if (c === NIL) continue;
      live++;
      const seg = tagged.get(slab);
      if (seg === undefined) return corrupt("QCACHE-1", `slab ${slab} has no arena segment`);
      const start = this.slabStart[slab] as number;
      if (seg.start !== start || seg.size !== this.slabSize || start % this.slabSize !== 0) {
        corrupt(
          "QCACHE-1",
          `slab ${slab} at ${hex(start)} does not match its segment ${hex(seg.start)}+${seg.size}`,
        );
      }
      const objects = this.objects[c] as number;
      const w0 = s[slab * Slab.WORDS + Slab.BITMAP] as number;
      const w1 = s[slab * Slab.WORDS + Slab.BITMAP + 1] as number;
      if (
        (w0 & bitsFrom(objects)) !== bitsFrom(objects) ||
        (w1 & bitsFrom(objects - 32)) !== bitsFrom(objects - 32)
      ) {
        corrupt("QCACHE-2", `slab ${slab}: bitmap bits past object ${objects} are not set`);
      }
      let allocated = 0;
      for (let i = 0; i < objects; i++) {
        if (((i < 32 ? w0 : w1) & (1 << (i & 31))) !== 0) allocated++;
      }
      const nfree = s[slab * Slab.WORDS + Slab.NFREE] as number;
      if (nfree !== objects - allocated)
        corrupt("QCACHE-2", `slab ${slab}: nfree ${nfree}, bitmap says ${objects - allocated}`);
      const isSpare = this.spare[c] === slab;
      if (isSpare) spares++;
      if (onPartial.has(slab) !== (nfree > 0 && nfree < objects)) {
        corrupt(
          "QCACHE-2",
          `slab ${slab} with ${nfree} of ${objects} free is ${onPartial.has(slab) ? "" : "not "}on the partial list`,
        );
      }
      if (isSpare !== (nfree === objects))
        corrupt("QCACHE-2", `slab ${slab} with ${nfree} of ${objects} free: spare ${isSpare}`);
      inUse[c] = (inUse[c] as number) + allocated;
      slabsPer[c] = (slabsPer[c] as number) + 1;
    }
    if (live !== tagged.size)
      corrupt("QCACHE-1", `${tagged.size} slab segments, ${live} slab records`);
    if (spares !== this.spares)
      corrupt("QCACHE-2", `${spares} spare slabs, counted ${this.spares}`);
    for (let c = 0; c < this.count; c++) {
      if (inUse[c] !== this.counters[c * Counter.WORDS + Counter.IN_USE])
        corrupt("QCACHE-2", `cache ${c}: objects in use do not match`);
      if (slabsPer[c] !== this.counters[c * Counter.WORDS + Counter.SLABS])
        corrupt("QCACHE-2", `cache ${c}: slab count does not match`);
    }
  }

  private newSlab(c: number): number {
    if (this.freeSlab === NIL) this.growSlabRecords();
    const slab = this.freeSlab;
    const s = this.slabs;
    this.freeSlab = s[slab * Slab.WORDS + Slab.NEXT] as number;
    s[slab * Slab.WORDS + Slab.CACHE] = c;
    let start = -1;
    try {
      start = this.arena.slabAlloc(this.slabSize, slab);
    } finally {
      // Also when an import function threw: the record goes back, nothing else changed.
      if (start === -1) this.putSlab(slab);
    }
    if (start === -1) return NIL;
    const objects = this.objects[c] as number;
    const t = this.slabs;
    t[slab * Slab.WORDS + Slab.NFREE] = objects;
    t[slab * Slab.WORDS + Slab.NEXT] = NIL;
    t[slab * Slab.WORDS + Slab.PREV] = NIL;
    t[slab * Slab.WORDS + Slab.BITMAP] = bitsFrom(objects);
    t[slab * Slab.WORDS + Slab.BITMAP + 1] = bitsFrom(objects - 32);
    this.slabStart[slab] = start;
    this.counters[c * Counter.WORDS + Counter.SLABS]!++;
    return slab;
  }

  private releaseSlab(slab: number): void {
    const c = this.slabs[slab * Slab.WORDS + Slab.CACHE] as number;
    this.counters[c * Counter.WORDS + Counter.SLABS]!--;
    const start = this.slabStart[slab] as number;
    this.putSlab(slab);
    this.arena.slabFree(start);
  }

  private putSlab(slab: number): void {
    this.slabs[slab * Slab.WORDS + Slab.CACHE] = NIL;
    this.slabs[slab * Slab.WORDS + Slab.NEXT] = this.freeSlab;
    this.freeSlab = slab;
  }

  private pushPartial(c: number, slab: number): void {
    const s = this.slabs;
    const head = this.partial[c] as number;
    s[slab * Slab.WORDS + Slab.NEXT] = head;
    s[slab * Slab.WORDS + Slab.PREV] = NIL;
    if (head !== NIL) s[head * Slab.WORDS + Slab.PREV] = slab;
    this.partial[c] = slab;
  }

  private unlinkPartial(c: number, slab: number): void {
    const s = this.slabs;
    const next = s[slab * Slab.WORDS + Slab.NEXT] as number;
    const prev = s[slab * Slab.WORDS + Slab.PREV] as number;
    if (prev === NIL) this.partial[c] = next;
    else s[prev * Slab.WORDS + Slab.NEXT] = next;
    if (next !== NIL) s[next * Slab.WORDS + Slab.PREV] = prev;
  }

  private growSlabRecords(): void {
    const old = this.slabs.length / Slab.WORDS;
    const records = Math.max(8, old * 2);
    const slabs = new Int32Array(records * Slab.WORDS);
    slabs.set(this.slabs);
    const starts = new Float64Array(records);
    starts.set(this.slabStart);
    for (let r = records - 1; r >= old; r--) {
      slabs[r * Slab.WORDS + Slab.CACHE] = NIL;
      slabs[r * Slab.WORDS + Slab.NEXT] = this.freeSlab;
      this.freeSlab = r;
    }
    this.slabs = slabs;
    this.slabStart = starts;
  }

  private invalidFree(addr: number, size: number, c: number, base: number): never {
    const objSize = (c + 1) * this.quantum;
    const off = addr - base;
    const why =
      off % objSize !== 0 || off / objSize >= (this.objects[c] as number)
        ? `is not the start of an object in the slab at ${hex(base)} (objects of ${objSize})`
        : `is an object of ${objSize}, freed with size ${size}`;
    throw new KmemError("INVALID_FREE", `vmem ${this.arena.name}: ${hex(addr)} ${why}`);
  }
}
