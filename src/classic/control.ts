/*
 * What every classic allocator shares: the header of its control block, the supply of pages
 * from kmem's page allocator, and the argument checks at its public boundary.
 *
 * A classic allocator owns nothing outside the managed buffer. Its free-list heads, counters
 * and table directory live in a control block of pages it takes from the page allocator when
 * it is made; every page it serves from is the page allocator's too (allocPages, given back
 * with freePages). The JavaScript object holds views over the buffer and the control block's
 * address: its numbers (pfns, block addresses, counts) are all read from the bytes.
 *
 * Control block: Ctl.WORDS words of header, then the allocator's own fields, then the
 * directory of its frame table (frame-table.ts).
 *
 *   word  0        1        2        3        4        5        6        7
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
 *       | magic  | kind   | ctl ord| pages  | allocs | frees  | fails  | live   |
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
 *   word  8        9        10       11
 *       +--------+--------+--------+--------+
 *       | livebyt| table  | bigpg  | spare  |
 *       +--------+--------+--------+--------+
 *
 *   magic     CTL_MAGIC; kind: which allocator (Kind); ctl ord: the control block's order
 *   pages     pages held now from the page allocator: control block, table segments, and
 *             every page the allocator serves from (footprint = pages x (page + mem_map entry))
 *   allocs, frees, fails   successful allocations, frees, failed allocations (u32, wrapping)
 *   live      allocations not yet freed; livebyt: their usable bytes (u32)
 *   table     pages of frame-table segments held now (metadata, counted in pages too)
 *   bigpg     pages held by allocations served straight from the page allocator
 *
 * Single context: like the uniprocessor kernels they come from (and the per-cpu layer of
 * Dynix, which is modelled, not run in parallel), a classic allocator takes no lock. Use one
 * from the context that made it.
 */

import { describe, hex, KmemError } from "../errors.js";
import type { Kmem } from "../kmem.js";
import { Frame } from "../memory/index.js";
import { Gfp } from "../page/index.js";
import type { FrameTable } from "./frame-table.js";

export const CTL_MAGIC = 0x6b6c6173; // "klas"

/** Which allocator a control block belongs to (Ctl.KIND). */
export const enum Kind {
  P2 = 1,
  MCKUSICK_KARELS = 2,
  LAZY_BUDDY = 3,
  MACH_ZONE = 4,
  DYNIX = 5,
}

/** The shared header words of a control block. */
export const enum Ctl {
  MAGIC = 0,
  KIND = 1,
  CTL_ORDER = 2,
  PAGES = 3,
  ALLOCS = 4,
  FREES = 5,
  FAILS = 6,
  LIVE = 7,
  LIVE_BYTES = 8,
  TABLE_PAGES = 9,
  BIG_PAGES = 10,
  WORDS = 12,
}

/** Page allocator flags a classic allocator asks with, unless a caller says otherwise. */
export const GFP_PAGES: number = Gfp.KERNEL;

/** The numbers every classic allocator's stats() reports. */
export interface ClassicStats {
  /** The allocator's name, as createAllocator takes it. */
  name: string;
  /** Pages held from the page allocator now, metadata included. */
  pages: number;
  /** pages x (page size + mem_map entry): what the workbench calls its footprint. */
  footprintBytes: number;
  /** Bytes of metadata held: the control block and the frame-table segments. */
  metadataBytes: number;
  /** Successful allocations, frees, and allocations that could not be served. */
  allocs: number;
  frees: number;
  fails: number;
  /** Allocations not yet freed, and their usable bytes. */
  live: number;
  liveBytes: number;
}

/**
 * The common part of every classic allocator: views over the managed buffer, the control
 * block, the page supply. The hot paths live in each allocator's own class (one class per
 * allocator, so every call site stays monomorphic); what is here runs on slow paths only.
 */
export abstract class ClassicBase {
  /** The name createAllocator takes ("p2", "mckusick-karels", ...). */
  abstract readonly name: string;
  /** The whole physical memory (node 0's buffer), as bytes and as i32 words. */
  declare readonly mem: Uint8Array;
  declare readonly w: Int32Array;
  declare readonly mm: Kmem;
  declare readonly pageSize: number;
  declare readonly pageShift: number;
  /** One past the last byte an address of this allocator can have. */
  declare readonly memEnd: number;
  /** Word index of the control block. */
  declare readonly ctl: number;
  /** Pages come from node 0 only when each node has a buffer of its own (mem covers node 0). */
  declare private readonly node0: boolean;

  /**
   * Takes the control block (`ctlWords` words, zeroed) from `mm`; throws NoMemory when it
   * cannot be had (createAllocator then returns null).
   */
  constructor(mm: Kmem, kind: Kind, ctlWords: number) {
    this.mm = mm;
    this.mem = mm.memory;
    this.w = new Int32Array(mm.memory.buffer, mm.memory.byteOffset, mm.memory.byteLength >>> 2);
    this.pageSize = mm.pageSize;
    this.pageShift = 31 - Math.clz32(mm.pageSize);
    this.memEnd = mm.memory.byteLength;
    this.node0 = mm.buffers.length > 1;
    const pages = Math.ceil((ctlWords * 4) / mm.pageSize);
    const order = pages <= 1 ? 0 : 32 - Math.clz32(pages - 1);
    if (order >= mm.maxOrder) {
      throw new RangeError(
        `the control block needs ${pages} pages, more than a block of order ${mm.maxOrder - 1}`,
      );
    }
    const addr = this.rawTake(order, Gfp.KERNEL | Gfp.ZERO);
    if (addr === 0) throw new NoMemory();
    this.ctl = addr >>> 2;
    const w = this.w;
    w[this.ctl + Ctl.MAGIC] = CTL_MAGIC;
    w[this.ctl + Ctl.KIND] = kind;
    w[this.ctl + Ctl.CTL_ORDER] = order;
    w[this.ctl + Ctl.PAGES] = 1 << order;
  }

  /** Byte address of the control block. */
  get address(): number {
    return this.ctl * 4;
  }

  private rawTake(order: number, gfp: number): number {
    return this.node0
      ? this.mm.allocPagesNode(0, order, gfp | Gfp.THISNODE)
      : this.mm.allocPages(order, gfp);
  }

  /** 2^order pages from the page allocator (counted as held), or 0. */
  takePages(order: number, gfp: number): number {
    const addr = this.rawTake(order, gfp);
    if (addr !== 0) this.w[this.ctl + Ctl.PAGES]! += 1 << order;
    return addr;
  }

  /** Gives back 2^order pages from takePages. */
  givePages(addr: number, order: number): void {
    this.mm.freePages(addr, order);
    this.w[this.ctl + Ctl.PAGES]! -= 1 << order;
  }

  /** Pages held now, metadata included. */
  get pagesHeld(): number {
    return this.w[this.ctl + Ctl.PAGES] as number;
  }

  /** Bytes of backing memory held now: pages with their mem_map share (the workbench's footprint). */
  footprint(): number {
    return (this.w[this.ctl + Ctl.PAGES] as number) * (this.pageSize + Frame.BYTES);
  }

  /** Control block and frame-table pages, in bytes. */
  metadataBytes(): number {
    const w = this.w;
    const ctlPages = 1 << (w[this.ctl + Ctl.CTL_ORDER] as number);
    return (ctlPages + (w[this.ctl + Ctl.TABLE_PAGES] as number)) * this.pageSize;
  }

  /** The shared numbers of stats(). */
  protected baseStats(): ClassicStats {
    const w = this.w;
    const c = this.ctl;
    return {
      name: this.name,
      pages: w[c + Ctl.PAGES] as number,
      footprintBytes: this.footprint(),
      metadataBytes: this.metadataBytes(),
      allocs: (w[c + Ctl.ALLOCS] as number) >>> 0,
      frees: (w[c + Ctl.FREES] as number) >>> 0,
      fails: (w[c + Ctl.FAILS] as number) >>> 0,
      live: w[c + Ctl.LIVE] as number,
      liveBytes: (w[c + Ctl.LIVE_BYTES] as number) >>> 0,
    };
  }

  /** Counts an allocation of 2^order pages served whole at `addr`, and returns `addr`. */
  protected countWhole(addr: number, order: number): number {
    const w = this.w;
    const c = this.ctl;
    w[c + Ctl.ALLOCS]!++;
    w[c + Ctl.LIVE]!++;
    w[c + Ctl.LIVE_BYTES]! += this.pageSize << order;
    w[c + Ctl.BIG_PAGES]! += 1 << order;
    return addr;
  }

  /** Counts the free of 2^order pages served whole. */
  protected uncountWhole(order: number): void {
    const w = this.w;
    const c = this.ctl;
    w[c + Ctl.FREES]!++;
    w[c + Ctl.LIVE]!--;
    w[c + Ctl.LIVE_BYTES]! -= this.pageSize << order;
    w[c + Ctl.BIG_PAGES]! -= 1 << order;
  }

  /** Counts a failed allocation and returns 0 (NULL). */
  protected failed(): number {
    this.w[this.ctl + Ctl.FAILS]!++;
    return 0;
  }

  /** A size that is not a u32: TypeError/RangeError when malformed, else (too large) a failure. */
  protected oddSize(size: unknown): number {
    if (typeof size === "number" && Number.isInteger(size) && size > 0) return this.failed();
    return badSize(size);
  }

  /** An address argument that is not a u32 inside memory: TypeError, or INVALID_FREE. */
  protected badAddress(fn: string, addr: unknown): never {
    if (typeof addr !== "number" || !Number.isInteger(addr)) {
      throw new TypeError(`${this.name}: ${fn}: address must be an integer, got ${describe(addr)}`);
    }
    throw new KmemError(
      "INVALID_FREE",
      `${this.name}: ${fn}(${addr < 0 ? addr : hex(addr)}): not an address this allocator handed out`,
    );
  }

  /** Throws KmemError `code` with the allocator's name and `what`. */
  protected misuse(code: "INVALID_FREE" | "DOUBLE_FREE" | "WRONG_CACHE", what: string): never {
    throw new KmemError(code, `${this.name}: ${what}`);
  }

  /** Throws CORRUPTION naming invariant `id`. */
  protected corrupt(id: string, what: string): never {
    throw new KmemError("CORRUPTION", `${this.name}: ${id}: ${what}`);
  }

  /*
   * The checks every verify() ends with, on the control block's counts (what each allocator
   * found by its own walk is passed in).
   */

  /** The live allocations and their bytes as counted, against those found (invariant `id`). */
  checkLive(id: string, live: number, liveBytes: number, what = "live"): void {
    const w = this.w;
    const c = this.ctl;
    if (w[c + Ctl.LIVE] !== live || (w[c + Ctl.LIVE_BYTES] as number) >>> 0 !== liveBytes) {
      this.corrupt(
        id,
        `${w[c + Ctl.LIVE]} ${what} of ${(w[c + Ctl.LIVE_BYTES] as number) >>> 0} bytes counted, ${live} of ${liveBytes} found`,
      );
    }
  }

  /** The pages held as counted: the control block, the frame-table pages and `pages` more. */
  checkHeld(id: string, pages: number): void {
    const w = this.w;
    const c = this.ctl;
    const held =
      (1 << (w[c + Ctl.CTL_ORDER] as number)) + (w[c + Ctl.TABLE_PAGES] as number) + pages;
    if (w[c + Ctl.PAGES] !== held)
      this.corrupt(id, `${w[c + Ctl.PAGES]} pages counted, ${held} held`);
  }

  /**
   * TABLE-1 of a frame table (frame-table.ts) whose frames are claimed while `claimed(pfn)`;
   * by default while the frame's entry is present and its first word is not 0.
   */
  checkTable(table: FrameTable, claimed?: (pfn: number) => boolean): void {
    const w = this.w;
    const t = table.check(
      claimed ??
        ((pfn) => {
          const e = table.at(pfn);
          return e !== 0 && w[e >>> 2] !== 0;
        }),
    );
    if (t !== null) this.corrupt("TABLE-1", t);
  }
}

/** Thrown by a constructor that could not have its control block (createAllocator: null). */
export class NoMemory extends Error {
  constructor() {
    super("no memory for the allocator's control block");
    this.name = "NoMemory";
  }
}

/** A malformed size: TypeError for a non-integer, RangeError for a negative one. */
export function badSize(size: unknown): never {
  if (typeof size !== "number" || !Number.isInteger(size)) {
    throw new TypeError(`size must be a non-negative integer, got ${describe(size)}`);
  }
  throw new RangeError(`size must be a non-negative integer, got ${size}`);
}

/** log2 of a power of two. */
export function log2(n: number): number {
  return 31 - Math.clz32(n);
}

/** The order of a block of at least `pages` pages. */
export function orderOfPages(pages: number): number {
  return pages <= 1 ? 0 : 32 - Math.clz32(pages - 1);
}
