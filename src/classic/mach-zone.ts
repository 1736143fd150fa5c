/*
 * The zone allocator of Mach (Avadis Tevanian's kern/zalloc.c; OSF/1, XNU; Vahalia §12.8).
 * A zone is a pool of elements of one size: zalloc pops its free list, zfree pushes back,
 * and an empty zone grows by `allocSize` bytes of fresh pages carved into elements. kalloc
 * serves sizes from 16 bytes to two pages from a zone per power of two ("kalloc.16" ...),
 * larger ones in whole pages. Memory goes back only through zone garbage collection
 * (zone_gc, mach-zone-gc.ts), which kmem's reclaim runs as a shrinker: a page whose every
 * element is on the free list leaves the zone.
 *
 * Where kmem differs: Mach's zone_map was one range of kernel addresses and a zone's
 * allocSize chunk was contiguous in it, so an element could straddle two pages (counted in
 * both). Here each zone page is a block of 2^pageOrder pages from the page allocator (one
 * page, or the fewest pages that hold an element), carved on its own: no element straddles,
 * and a chunk is allocSize bytes of such blocks. Mach's kfree took the size to find the zone;
 * this one reads it from the zone page table, so free(addr) needs none.
 *
 * Zone page table (frame-table.ts, two i32 per frame, Mach's zone_page_table):
 *
 *   word 0   31        21 20    16 15      8 7       0
 *            +-----------+--------+---------+---------+
 *            |           | order  | kind    | zone+1  |
 *            +-----------+--------+---------+---------+
 *   word 1   31                 16 15                 0
 *            +--------------------+--------------------+
 *            | collect_count      | alloc_count        |
 *            +--------------------+--------------------+
 *
 *   kind HEAD: the first frame of a zone page (alloc_count: elements carved from it,
 *   collect_count: free elements counted by the collector's first pass, else 0); TAIL: another
 *   frame of it; LARGE: the first frame of pages kalloc served whole (order: their order).
 *
 * Zone record (Zr.WORDS i32 in the control block, after the shared header and the GC
 * counters):
 *
 *   +--------+--------+--------+--------+--------+--------+--------+--------+--------+--------+
 *   | elsize | cursize| maxsize| allocsz| count  | free   | flags  | pgorder| perpage| allocs |
 *   +--------+--------+--------+--------+--------+--------+--------+--------+--------+--------+
 *   | ovflow | gcpages| gcfreed| gckept | name (24 bytes, NUL-padded)                          |
 *   +--------+--------+--------+--------+--------+--------+--------+--------+--------+--------+
 *
 *   cursize: bytes of elements the zone holds (Mach's cur_size); count: elements allocated
 *   (Mach's count); free: the free list's head (an element; its first word links the next,
 *   0 = end).
 *
 * Invariants (verify() reports these ids):
 *  ZONE-1: the table's frames are zone pages (a HEAD of the zone's order, aligned, followed
 *          by its TAILs) or heads of pages served whole
 *  ZONE-2: each zone's free list holds elements of its own pages, at element boundaries,
 *          none twice; every collect_count is 0 (the collector is not running)
 *  ZONE-3: every zone page's alloc_count is its number of elements
 *  ZONE-4: per zone, cursize = its pages' elements x elsize, and free elements = cursize /
 *          elsize - count
 *  ZONE-5: live and live bytes are the zones' counts and the pages served whole; pages held
 *          = control block + table pages + zone pages + pages served whole
 *  TABLE-1 (frame-table.ts)
 *
 * What it cannot detect (nor could Mach): a double free (zfree pushes the element again;
 * Mach's zone_check, off by default, walked the free list: the zoneCheck option does the
 * same); a write past an element into its neighbour, or into a free element (its first word
 * is the free list: verify() finds a damaged list, zalloc may hand out a wrong address).
 * kmem refuses an address that is not an element of a zone page (INVALID_FREE) and, for
 * zfree, an element of another zone (WRONG_CACHE: Mach panicked "zfree()ing element from
 * wrong zone" under ZONE_DEBUG).
 */

import { describe, hex } from "../errors.js";
import type { Kmem } from "../kmem.js";
import { ClassicBase, type ClassicStats, Ctl, GFP_PAGES, Kind, orderOfPages } from "./control.js";
import { FrameTable } from "./frame-table.js";
import { verifyZones, zoneGc } from "./mach-zone-gc.js";

/** Zone flags (Zr.FLAGS). */
export const enum ZoneFlag {
  EXHAUSTIBLE = 1,
  COLLECTABLE = 2,
  KALLOC = 4,
}

/** Kinds of frame (table word 0, bits 8..15). */
export const enum ZFrame {
  HEAD = 1,
  TAIL = 2,
  LARGE = 3,
}

/** A zone record. */
export const enum Zr {
  ELEM_SIZE = 0,
  CUR_SIZE = 1,
  MAX_SIZE = 2,
  ALLOC_SIZE = 3,
  COUNT = 4,
  FREE = 5,
  FLAGS = 6,
  PAGE_ORDER = 7,
  PER_PAGE = 8,
  ALLOCS = 9,
  OVERFLOWS = 10,
  GC_PAGES = 11,
  GC_FREED = 12,
  GC_KEPT = 13,
  NAME = 14,
  NAME_BYTES = 24,
  WORDS = NAME + NAME_BYTES / 4,
}

/** Control block words after the shared header: zone count and the collector's counters. */
export const enum Zc {
  NZONES = Ctl.WORDS,
  GC_RUNS = NZONES + 1,
  GC_PAGES = NZONES + 2,
  GC_COLLECTED = NZONES + 3,
  GC_FREED = NZONES + 4,
  GC_KEPT = NZONES + 5,
  ZONES = NZONES + 6,
}

/** Most zones an allocator holds: the kalloc zones and the zinit ones. */
export const MAX_ZONES = 64;

/** The smallest kalloc zone: 16-byte elements. */
const KALLOC_MIN_SHIFT = 4;

/** Options of {@link MachZoneAllocator}. */
export interface MachZoneOptions {
  /** Walk the free list on every zfree to refuse a double free (Mach's zone_check; slow). */
  zoneCheck?: boolean;
}

/** Options of {@link MachZoneAllocator.zinit}. */
export interface ZoneOptions {
  /** Bytes the zone may hold before it is exhausted (rounded up to allocSize; default: memory). */
  max?: number;
  /** Bytes of pages it grows by when empty (rounded up to whole zone pages; default one). */
  allocSize?: number;
  /** An exhausted zone fails (0) instead of growing past max by half (Mach's overflow). */
  exhaustible?: boolean;
  /** The collector may take its free pages (default true). */
  collectable?: boolean;
}

/** One zone, as zoneInfo() and stats() report it (Mach's zone_info). */
export interface ZoneInfo {
  name: string;
  elemSize: number;
  /** Bytes of elements held, the limit, and the growth step. */
  curSize: number;
  maxSize: number;
  allocSize: number;
  /** Elements allocated, and free on the zone's list. */
  count: number;
  free: number;
  /** Pages it holds (zone pages of 2^pageOrder pages each). */
  pages: number;
  exhaustible: boolean;
  collectable: boolean;
  /** zalloc calls, times it grew past max, pages and elements the collector took, elements it kept. */
  allocs: number;
  overflows: number;
  gcPages: number;
  gcFreed: number;
  gcKept: number;
}

/** stats() of {@link MachZoneAllocator}. */
export interface MachZoneStats extends ClassicStats {
  zones: ZoneInfo[];
  /** zone_gc runs, pages it gave back, free elements it looked at, freed and kept (zgc_stats). */
  gc: { runs: number; pages: number; collected: number; freed: number; kept: number };
}

export class MachZoneAllocator extends ClassicBase {
  readonly name = "mach-zone";
  /** Sizes above this are served in whole pages (Mach's kalloc_max less one zone). */
  declare readonly kallocMax: number;
  declare readonly zoneCheck: boolean;
  /** @internal */
  declare readonly table: FrameTable;
  /** @internal word index of zone 0's record */
  declare readonly zones: number;
  declare private readonly pageMask: number;
  /** The collector's reentrancy guard: a zone is growing (its lock would be held). */
  private growing = false;
  /** The shrinker kmem's reclaim calls (registered at creation). */
  declare private readonly shrinker: (nrToScan: number) => number;

  constructor(mm: Kmem, options: MachZoneOptions = {}) {
    const zoneCheck = options.zoneCheck ?? false;
    if (typeof zoneCheck !== "boolean") {
      throw new TypeError(`mach-zone: zoneCheck must be a boolean, got ${describe(zoneCheck)}`);
    }
    const own = Zc.ZONES + MAX_ZONES * Zr.WORDS;
    super(mm, Kind.MACH_ZONE, own + FrameTable.dirWords(8, mm.pageSize, mm.totalPages));
    this.zoneCheck = zoneCheck;
    this.pageMask = mm.pageSize - 1;
    this.zones = this.ctl + Zc.ZONES;
    this.table = new FrameTable(this, this.ctl + own, 8);
    this.kallocMax = 2 * mm.pageSize;
    for (let shift = KALLOC_MIN_SHIFT; 1 << shift <= this.kallocMax; shift++) {
      this.makeZone(1 << shift, `kalloc.${1 << shift}`, {}, ZoneFlag.KALLOC | ZoneFlag.COLLECTABLE);
    }
    this.shrinker = () => this.zoneGc();
    mm.registerShrinker(this.shrinker);
  }

  /**
   * zinit: a zone of `size`-byte elements named `name`; returns its id for zalloc/zfree.
   * Throws RangeError when MAX_ZONES zones exist.
   */
  zinit(size: number, name: string, options: ZoneOptions = {}): number {
    if (!Number.isInteger(size) || size < 1 || size > this.pageSize << (this.mm.maxOrder - 1)) {
      throw new RangeError(
        `mach-zone: size must be an integer in 1..${this.pageSize << (this.mm.maxOrder - 1)}, got ${describe(size)}`,
      );
    }
    if (typeof name !== "string")
      throw new TypeError(`mach-zone: name must be a string, got ${describe(name)}`);
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`mach-zone: zone options must be an object, got ${describe(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (!["max", "allocSize", "exhaustible", "collectable"].includes(key)) {
        throw new TypeError(
          `mach-zone: unknown zone option ${JSON.stringify(key)} (known: max, allocSize, exhaustible, collectable)`,
        );
      }
    }
    let flags = 0;
    if (options.exhaustible === true) flags |= ZoneFlag.EXHAUSTIBLE;
    if (options.collectable !== false) flags |= ZoneFlag.COLLECTABLE;
    return this.makeZone(size, name, options, flags);
  }

  private makeZone(size: number, name: string, options: ZoneOptions, flags: number): number {
    const w = this.w;
    const z = w[this.ctl + Zc.NZONES] as number;
    if (z >= MAX_ZONES) throw new RangeError(`mach-zone: at most ${MAX_ZONES} zones`);
    // Elements are whole words, 8-byte aligned (Mach rounded to a pointer).
    const elem = Math.max(8, Math.ceil(size / 8) * 8);
    const pageOrder = orderOfPages(Math.ceil(elem / this.pageSize));
    const zpage = this.pageSize << pageOrder;
    const perPage = Math.floor(zpage / elem);
    const memory = Math.min(2 ** 32 - zpage, this.mm.managedPages * this.pageSize);
    const check = (key: string, v: number | undefined, dflt: number): number => {
      if (v === undefined) return dflt;
      if (!Number.isInteger(v) || v < 1 || v > 2 ** 32 - zpage) {
        throw new RangeError(
          `mach-zone: ${key} must be an integer in 1..${2 ** 32 - zpage}, got ${describe(v)}`,
        );
      }
      return v;
    };
    const allocSize = Math.ceil(check("allocSize", options.allocSize, zpage) / zpage) * zpage;
    let max = check("max", options.max, memory);
    max = Math.max(allocSize, Math.ceil(max / allocSize) * allocSize);
    const zr = this.zones + z * Zr.WORDS;
    w[zr + Zr.ELEM_SIZE] = elem;
    w[zr + Zr.MAX_SIZE] = max;
    w[zr + Zr.ALLOC_SIZE] = allocSize;
    w[zr + Zr.FLAGS] = flags;
    w[zr + Zr.PAGE_ORDER] = pageOrder;
    w[zr + Zr.PER_PAGE] = perPage;
    const bytes = new TextEncoder().encode(name).subarray(0, Zr.NAME_BYTES);
    this.mem.set(bytes, (zr + Zr.NAME) * 4);
    w[this.ctl + Zc.NZONES] = z + 1;
    return z;
  }

  /** kalloc(size): an element of the smallest kalloc zone that holds it, or whole pages. */
  alloc(size: number): number {
    if (size >>> 0 !== size) return this.oddSize(size);
    if (size > this.kallocMax) return this.large(size);
    const shift = size <= 1 << KALLOC_MIN_SHIFT ? KALLOC_MIN_SHIFT : 32 - Math.clz32(size - 1);
    return this.zalloc(shift - KALLOC_MIN_SHIFT);
  }

  /** zalloc: an element of zone `z`, or 0 (an exhaustible zone at its max, or no pages). */
  zalloc(z: number): number {
    if (z >>> 0 !== z || z >= (this.w[this.ctl + Zc.NZONES] as number)) this.badZone(z);
    const w = this.w;
    const zr = this.zones + z * Zr.WORDS;
    let e = (w[zr + Zr.FREE] as number) >>> 0;
    if (e === 0) {
      e = this.grow(zr);
      if (e === 0) return this.failed();
    }
    w[zr + Zr.FREE] = w[e >>> 2] as number;
    w[zr + Zr.COUNT]!++;
    w[zr + Zr.ALLOCS]!++;
    const c = this.ctl;
    w[c + Ctl.ALLOCS]!++;
    w[c + Ctl.LIVE]!++;
    w[c + Ctl.LIVE_BYTES]! += w[zr + Zr.ELEM_SIZE] as number;
    return e;
  }

  /**
   * An empty zone's growth: allocSize bytes of fresh zone pages carved onto its free list
   * (zcram); returns the list's head, or 0. Past max, an exhaustible zone fails and another
   * raises its max by half (Mach's "zone overflow", counted).
   */
  private grow(zr: number): number {
    const w = this.w;
    const allocSize = (w[zr + Zr.ALLOC_SIZE] as number) >>> 0;
    const cur = (w[zr + Zr.CUR_SIZE] as number) >>> 0;
    const max = (w[zr + Zr.MAX_SIZE] as number) >>> 0;
    if (cur + allocSize > max) {
      if (((w[zr + Zr.FLAGS] as number) & ZoneFlag.EXHAUSTIBLE) !== 0) return 0;
      w[zr + Zr.MAX_SIZE] = Math.min(
        2 ** 32 - allocSize,
        max + Math.max(allocSize, Math.floor(max / 2)),
      );
      w[zr + Zr.OVERFLOWS]!++;
    }
    const order = w[zr + Zr.PAGE_ORDER] as number;
    const zpage = this.pageSize << order;
    const elem = w[zr + Zr.ELEM_SIZE] as number;
    const per = w[zr + Zr.PER_PAGE] as number;
    const z = (zr - this.zones) / Zr.WORDS;
    this.growing = true;
    try {
      for (let done = 0; done < allocSize; done += zpage) {
        const addr = this.takePages(order, GFP_PAGES);
        if (addr === 0) break;
        const pfn = addr >>> this.pageShift;
        if (!this.claimPage(pfn, order, z + 1)) {
          this.givePages(addr, order);
          break;
        }
        w[(this.table.at(pfn) >>> 2) + 1] = per;
        // zcram: every element onto the free list, in address order.
        const head = w[zr + Zr.FREE] as number;
        for (let k = 0; k < per; k++) {
          const at = addr + k * elem;
          w[at >>> 2] = k + 1 < per ? at + elem : head;
        }
        w[zr + Zr.FREE] = addr;
        w[zr + Zr.CUR_SIZE]! += per * elem;
      }
    } finally {
      this.growing = false;
    }
    return (w[zr + Zr.FREE] as number) >>> 0;
  }

  /** Claims the table entries of a zone page (or pages served whole: tag 0); false if it cannot. */
  private claimPage(pfn: number, order: number, tag: number): boolean {
    const w = this.w;
    for (let i = 0; i < 1 << order; i++) {
      const e = this.table.claim(pfn + i, GFP_PAGES);
      if (e === 0) {
        for (let j = 0; j < i; j++) this.table.release(pfn + j);
        return false;
      }
      const kind = tag === 0 ? (i === 0 ? ZFrame.LARGE : 0) : i === 0 ? ZFrame.HEAD : ZFrame.TAIL;
      if (kind === 0) this.table.release(pfn + i);
      else w[e >>> 2] = tag | (kind << 8) | (order << 16);
      if (tag === 0) break;
    }
    return true;
  }

  /** Pages served whole for a request above kallocMax. */
  private large(size: number): number {
    const order = orderOfPages(Math.ceil(size / this.pageSize));
    if (order >= this.mm.maxOrder) return this.failed();
    const addr = this.takePages(order, GFP_PAGES);
    if (addr === 0) return this.failed();
    if (!this.claimPage(addr >>> this.pageShift, order, 0)) {
      this.givePages(addr, order);
      return this.failed();
    }
    return this.countWhole(addr, order);
  }

  /** kfree(addr): back to the zone its page belongs to (or the pages served whole). */
  free(addr: number): void {
    const z = this.zoneOf(addr, "free");
    if (z < 0) return this.freeLarge(addr);
    this.push(z, addr);
  }

  /** zfree: `addr` back to zone `z`; an element of another zone is WRONG_CACHE. */
  zfree(z: number, addr: number): void {
    if (z >>> 0 !== z || z >= (this.w[this.ctl + Zc.NZONES] as number)) this.badZone(z);
    const owner = this.zoneOf(addr, "zfree");
    if (owner !== z) {
      this.misuse(
        "WRONG_CACHE",
        `zfree(${this.zoneName(z)}, ${hex(addr)}): the element belongs to ${owner < 0 ? "no zone" : this.zoneName(owner)}`,
      );
    }
    this.push(z, addr);
  }

  private push(z: number, addr: number): void {
    const w = this.w;
    const zr = this.zones + z * Zr.WORDS;
    if (this.zoneCheck) this.checkNotFree(zr, addr);
    w[addr >>> 2] = w[zr + Zr.FREE] as number;
    w[zr + Zr.FREE] = addr;
    w[zr + Zr.COUNT]!--;
    const c = this.ctl;
    w[c + Ctl.FREES]!++;
    w[c + Ctl.LIVE]!--;
    w[c + Ctl.LIVE_BYTES]! -= w[zr + Zr.ELEM_SIZE] as number;
  }

  /** zone_check: the element must not be on the free list already. */
  private checkNotFree(zr: number, addr: number): void {
    const w = this.w;
    let n = 0;
    const max = (w[zr + Zr.CUR_SIZE] as number) >>> 0;
    for (
      let e = (w[zr + Zr.FREE] as number) >>> 0;
      e !== 0 && n <= max;
      e = (w[e >>> 2] as number) >>> 0, n++
    ) {
      if (e === addr)
        this.misuse(
          "DOUBLE_FREE",
          `zfree(${hex(addr)}): the element is on its zone's free list (zone_check)`,
        );
    }
  }

  /**
   * The zone whose element starts at `addr`, or -1 for the first page of pages served whole;
   * throws INVALID_FREE for anything else, changing nothing.
   */
  private zoneOf(addr: number, fn: string): number {
    if (addr >>> 0 !== addr || addr >= this.memEnd) return this.badAddress(fn, addr);
    const e = this.table.at(addr >>> this.pageShift);
    const ent = e === 0 ? 0 : (this.w[e >>> 2] as number);
    const kind = (ent >>> 8) & 0xff;
    if (kind === ZFrame.HEAD || kind === ZFrame.TAIL) {
      const z = (ent & 0xff) - 1;
      const zr = this.zones + z * Zr.WORDS;
      const order = (ent >>> 16) & 0x1f;
      const off = addr & ((this.pageSize << order) - 1);
      const elem = this.w[zr + Zr.ELEM_SIZE] as number;
      if (off % elem === 0 && off / elem < (this.w[zr + Zr.PER_PAGE] as number)) return z;
    } else if (kind === ZFrame.LARGE && (addr & this.pageMask) === 0) {
      return -1;
    }
    return this.badAddress(fn, addr);
  }

  private freeLarge(addr: number): void {
    const w = this.w;
    const e = this.table.at(addr >>> this.pageShift);
    const order = ((w[e >>> 2] as number) >>> 16) & 0x1f;
    this.table.release(addr >>> this.pageShift);
    this.givePages(addr, order);
    this.uncountWhole(order);
  }

  /** Usable bytes at `addr`: its zone's element size, or its pages. */
  usableSize(addr: number): number {
    const z = this.zoneOf(addr, "usableSize");
    if (z >= 0) return this.w[this.zones + z * Zr.WORDS + Zr.ELEM_SIZE] as number;
    const e = this.table.at(addr >>> this.pageShift);
    return this.pageSize << (((this.w[e >>> 2] as number) >>> 16) & 0x1f);
  }

  /**
   * In place while the new size maps to the same kalloc zone (or the same pages), else a new
   * block with the contents copied. The address, or 0 with the old block untouched. Only for
   * what alloc (kalloc) handed out.
   */
  realloc(addr: number, size: number): number {
    if (addr === 0) return this.alloc(size);
    const z = this.zoneOf(addr, "realloc");
    if (size >>> 0 !== size) return this.oddSize(size);
    const usable = this.usableSize(addr);
    if (
      z >= 0 &&
      ((this.w[this.zones + z * Zr.WORDS + Zr.FLAGS] as number) & ZoneFlag.KALLOC) === 0
    ) {
      this.misuse(
        "INVALID_FREE",
        `realloc(${hex(addr)}): an element of zone ${this.zoneName(z)}, not of kalloc`,
      );
    }
    const want =
      size > this.kallocMax
        ? this.pageSize << orderOfPages(Math.ceil(size / this.pageSize))
        : size <= 1 << KALLOC_MIN_SHIFT
          ? 1 << KALLOC_MIN_SHIFT
          : 2 ** (32 - Math.clz32(size - 1));
    if (want === usable) return addr;
    const moved = this.alloc(size);
    if (moved === 0) return 0;
    this.mem.copyWithin(moved, addr, addr + Math.min(usable, size));
    this.free(addr);
    return moved;
  }

  private badZone(z: unknown): never {
    const n = this.w[this.ctl + Zc.NZONES] as number;
    throw new RangeError(`mach-zone: zone must be an integer in 0..${n - 1}, got ${describe(z)}`);
  }

  /** Zone `z`'s name, read from its record. */
  zoneName(z: number): string {
    const at = (this.zones + z * Zr.WORDS + Zr.NAME) * 4;
    const bytes = this.mem.subarray(at, at + Zr.NAME_BYTES);
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
  }

  /** The id of the zone named `name`, or -1. */
  zoneNamed(name: string): number {
    const n = this.w[this.ctl + Zc.NZONES] as number;
    for (let z = 0; z < n; z++) if (this.zoneName(z) === name) return z;
    return -1;
  }

  /** Mach's zone_info for zone `z`. */
  zoneInfo(z: number): ZoneInfo {
    if (z >>> 0 !== z || z >= (this.w[this.ctl + Zc.NZONES] as number)) this.badZone(z);
    const w = this.w;
    const zr = this.zones + z * Zr.WORDS;
    const elem = w[zr + Zr.ELEM_SIZE] as number;
    const cur = (w[zr + Zr.CUR_SIZE] as number) >>> 0;
    const count = w[zr + Zr.COUNT] as number;
    const flags = w[zr + Zr.FLAGS] as number;
    const per = w[zr + Zr.PER_PAGE] as number;
    return {
      name: this.zoneName(z),
      elemSize: elem,
      curSize: cur,
      maxSize: (w[zr + Zr.MAX_SIZE] as number) >>> 0,
      allocSize: (w[zr + Zr.ALLOC_SIZE] as number) >>> 0,
      count,
      free: cur / elem - count,
      pages: (cur / (per * elem)) << (w[zr + Zr.PAGE_ORDER] as number),
      exhaustible: (flags & ZoneFlag.EXHAUSTIBLE) !== 0,
      collectable: (flags & ZoneFlag.COLLECTABLE) !== 0,
      allocs: (w[zr + Zr.ALLOCS] as number) >>> 0,
      overflows: w[zr + Zr.OVERFLOWS] as number,
      gcPages: w[zr + Zr.GC_PAGES] as number,
      gcFreed: w[zr + Zr.GC_FREED] as number,
      gcKept: w[zr + Zr.GC_KEPT] as number,
    };
  }

  /**
   * zone_gc: gives back every page of a collectable zone whose elements are all free
   * (mach-zone-gc.ts). Returns the pages freed. kmem's reclaim calls it as a shrinker.
   */
  zoneGc(): number {
    if (this.growing) return 0;
    return zoneGc(this);
  }

  /** Unregisters the collector from kmem's reclaim (the allocator keeps working). */
  unregisterShrinker(): void {
    this.mm.unregisterShrinker(this.shrinker);
  }

  verify(): void {
    verifyZones(this);
  }

  stats(): MachZoneStats {
    const w = this.w;
    const n = w[this.ctl + Zc.NZONES] as number;
    const zones: ZoneInfo[] = [];
    for (let z = 0; z < n; z++) zones.push(this.zoneInfo(z));
    const c = this.ctl;
    return {
      ...this.baseStats(),
      zones,
      gc: {
        runs: w[c + Zc.GC_RUNS] as number,
        pages: w[c + Zc.GC_PAGES] as number,
        collected: w[c + Zc.GC_COLLECTED] as number,
        freed: w[c + Zc.GC_FREED] as number,
        kept: w[c + Zc.GC_KEPT] as number,
      },
    };
  }
}
