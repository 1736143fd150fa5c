/*
 * The lazy buddy system of SVR4's kernel memory allocator (Lee & Barkley, "A Watermark-based
 * Lazy Buddy System for Kernel Memory Allocation", USENIX 1989; Barkley & Lee, "A Lazy Buddy
 * System Bounded by Two Coalescing Delays", SOSP 1989; Vahalia §12.7). A binary buddy system
 * of blocks from `minBlock` bytes up to a page, each page taken from kmem's page allocator and
 * given back when its blocks coalesce into one (but for one kept as a spare, so that a lone
 * block allocated and freed in turn does not take and give back a page each time), and
 * larger requests in whole pages. A buddy
 * system coalesces on every free and splits again on the next allocation; the lazy one keeps
 * a freed block "locally free", on a list of its size, unmarked in the buddy map, for as long
 * as enough blocks of that size are allocated, and coalesces only when they are not.
 *
 * For each block size i: A(i) blocks allocated, L(i) locally free, G(i) globally free (free in
 * the buddy map, coalescing), N(i) = A + L + G, and the slack D(i) = N - 2L - G = A - L.
 *
 *   free, D >= 2  lazy:        the block becomes locally free (no coalescing); D -= 2
 *   free, D == 1  reclaiming:  the block is freed globally and coalesced; D -= 1
 *   free, D == 0  accelerated: the block is freed globally and coalesced, and so is one
 *                              locally free block of its size; D stays 0
 *   alloc         a locally free block if there is one (D += 2), else a globally free one
 *                 (D += 1), else a larger globally free block split in halves, the unused
 *                 halves globally free (D += 1); else a fresh page
 *
 * D >= 0 always (the "lazy space" of the 1989 papers), so once every block is freed no block
 * is locally free and every page has coalesced (and gone back, but for the spare). (The rules are as summarised
 * from Vahalia §12.7; one secondary summary has the split's other half locally free instead,
 * which leaves D unchanged: both stay in the lazy space.) SVR4's kmem_free took the size;
 * this one finds it in the buddy map, so free(addr) needs no size.
 *
 * The buddy map (frame table, frame-table.ts): a byte for every minBlock-byte unit of a page
 * the allocator holds, saying what starts there:
 *
 *   unit byte   7       6   5   4               0
 *               +-------+-------+---------------+
 *               | large | state | order         |     0: no block starts at this unit
 *               +-------+-------+---------------+
 *
 *   state ALLOCATED, LOCAL (locally free) or GLOBAL (globally free); order: the block is
 *   minBlock << order bytes. On the first unit of a block of pages served whole: large = 1,
 *   state ALLOCATED, order = the block's page order.
 *
 * Free blocks hold their list links: a globally free block is on a doubly linked list of its
 * order (word 0 next, word 1 previous: coalescing unlinks the buddy from the middle), a
 * locally free one on a singly linked list (word 0 next). Addresses; 0 = none.
 *
 * Control block, after the shared header: Ord.WORDS words per order 0..T (T: a whole page):
 *
 *   +-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+
 *   | A     | L     | G     | ghead | lhead | lazy  | reclm | accel | splits| coales|
 *   +-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+
 *
 *   then BUDDY_PAGES (pages in buddy use), SPARE (a page all free, kept: the next page the
 *   buddy system needs; 0 = none), then the buddy map's directory.
 *
 * Invariants (verify() reports these ids):
 *  LB-1: the blocks of every page tile it: each block starts at a multiple of its size and
 *        every unit inside a block says 0; a page served whole says large at unit 0 only
 *  LB-2: no two globally free buddies (they would have coalesced), no page that is one
 *        globally free block (it would have gone back)
 *  LB-3: order i's global list holds exactly its GLOBAL blocks (links both ways), its local
 *        list exactly its LOCAL blocks, and A, L, G count the map's blocks of order i
 *  LB-4: the slack D(i) = A(i) - L(i) is >= 0 for every order
 *  LB-5: live and live bytes are the allocated blocks'; pages held = control block + map
 *        pages + buddy pages + pages served whole + the spare
 *  TABLE-1 (frame-table.ts)
 *
 * What it cannot detect (nor could SVR4's): a write past the end of a block into its buddy,
 * or into a free block (the links of a free block are its first words: verify() finds a
 * damaged list, the next allocation may hand out a wrong address); SVR4 trusted the size
 * given to kmem_free, so a wrong size corrupted the map. The map lets kmem refuse a free of
 * an address where no allocated block starts (INVALID_FREE) or where a free one does
 * (DOUBLE_FREE), before changing anything.
 */

import { hex } from "../errors.js";
import type { Kmem } from "../kmem.js";
import {
  ClassicBase,
  type ClassicStats,
  Ctl,
  GFP_PAGES,
  Kind,
  log2,
  orderOfPages,
} from "./control.js";
import { FrameTable } from "./frame-table.js";

// Unit byte.
const ORDER_MASK = 0x1f;
const STATE_SHIFT = 5;
const ALLOCATED = 1 << STATE_SHIFT;
const LOCAL = 2 << STATE_SHIFT;
const GLOBAL = 3 << STATE_SHIFT;
const STATE_MASK = 3 << STATE_SHIFT;
const LARGE = 0x80;

/** Per-order words of the control block. */
const enum Ord {
  A = 0,
  L = 1,
  G = 2,
  GHEAD = 3,
  LHEAD = 4,
  LAZY = 5,
  RECLAIM = 6,
  ACCEL = 7,
  SPLITS = 8,
  COALESCES = 9,
  WORDS = 10,
}

/** Options of the lazy buddy system. */
export interface LazyBuddyOptions {
  /** The smallest block, a power of two from 16 to a quarter page (default 32). */
  minBlock?: number;
}

/** One order of {@link LazyBuddyStats}. */
export interface LazyBuddyOrder {
  /** Block size. */
  size: number;
  allocated: number;
  localFree: number;
  globalFree: number;
  /** D = A - L. */
  slack: number;
  /** What the next free of this size does. */
  state: "lazy" | "reclaiming" | "accelerated";
  /** Frees by state, splits of blocks of this size, and coalescings into the next size. */
  lazyFrees: number;
  reclaimingFrees: number;
  acceleratedFrees: number;
  splits: number;
  coalesces: number;
}

/** stats() of {@link LazyBuddyAllocator}. */
export interface LazyBuddyStats extends ClassicStats {
  /** Pages in buddy use (not the ones served whole). */
  buddyPages: number;
  /** Whether a wholly free page is kept as the spare. */
  sparePage: boolean;
  /** Orders that ever had a block, smallest first. */
  orders: LazyBuddyOrder[];
}

export class LazyBuddyAllocator extends ClassicBase {
  readonly name = "lazy-buddy";
  declare readonly minBlock: number;
  declare readonly minShift: number;
  /** The top order: a block of a whole page. */
  declare readonly top: number;
  declare private readonly table: FrameTable;
  declare private readonly ord: number;
  declare private readonly buddyPages: number;
  /** Word index of the spare page's address (0: none). */
  declare private readonly spare: number;
  declare private readonly pageMask: number;

  constructor(mm: Kmem, options: LazyBuddyOptions = {}) {
    const minBlock = options.minBlock ?? 32;
    if (
      !Number.isInteger(minBlock) ||
      minBlock < 16 ||
      minBlock > mm.pageSize / 4 ||
      (minBlock & (minBlock - 1)) !== 0
    ) {
      throw new RangeError(
        `lazy-buddy: minBlock must be a power of two in 16..${mm.pageSize / 4}, got ${String(minBlock)}`,
      );
    }
    const minShift = log2(minBlock);
    const top = log2(mm.pageSize) - minShift;
    const own = Ctl.WORDS + (top + 1) * Ord.WORDS + 2;
    const units = mm.pageSize >>> minShift;
    super(mm, Kind.LAZY_BUDDY, own + FrameTable.dirWords(units, mm.pageSize, mm.totalPages));
    this.minBlock = minBlock;
    this.minShift = minShift;
    this.top = top;
    this.pageMask = mm.pageSize - 1;
    this.ord = this.ctl + Ctl.WORDS;
    this.buddyPages = this.ord + (top + 1) * Ord.WORDS;
    this.spare = this.buddyPages + 1;
    this.table = new FrameTable(this, this.ctl + own, units);
  }

  /** Allocates `size` bytes (0 counts as 1): the address, or 0. */
  alloc(size: number): number {
    if (size >>> 0 !== size) return this.oddSize(size);
    if (size > this.pageSize) return this.large(size);
    const k = size <= this.minBlock ? 0 : 32 - Math.clz32(size - 1) - this.minShift;
    const w = this.w;
    const o = this.ord + k * Ord.WORDS;
    let b = (w[o + Ord.LHEAD] as number) >>> 0;
    if (b !== 0) {
      // Locally free: off its list, no buddy map to consult (D += 2).
      w[o + Ord.LHEAD] = w[b >>> 2] as number;
      w[o + Ord.L]!--;
      this.mem[this.table.at(b >>> this.pageShift) + ((b & this.pageMask) >>> this.minShift)] =
        ALLOCATED | k;
    } else {
      b = (w[o + Ord.GHEAD] as number) >>> 0;
      if (b !== 0) {
        const next = (w[b >>> 2] as number) >>> 0;
        w[o + Ord.GHEAD] = next;
        if (next !== 0) w[(next >>> 2) + 1] = 0;
        w[o + Ord.G]!--;
        this.mem[this.table.at(b >>> this.pageShift) + ((b & this.pageMask) >>> this.minShift)] =
          ALLOCATED | k;
      } else {
        b = this.split(k);
        if (b === 0) return this.failed();
      }
    }
    w[o + Ord.A]!++;
    const c = this.ctl;
    w[c + Ctl.ALLOCS]!++;
    w[c + Ctl.LIVE]!++;
    w[c + Ctl.LIVE_BYTES]! += this.minBlock << k;
    return b;
  }

  /**
   * A block of order `k` from the smallest larger globally free block (a fresh page when
   * there is none), split in halves down to `k`; the unused halves are globally free.
   */
  private split(k: number): number {
    const w = this.w;
    let j = k + 1;
    while (j <= this.top && w[this.ord + j * Ord.WORDS + Ord.GHEAD] === 0) j++;
    let b: number;
    let e: number;
    if (j > this.top) {
      const spare = (w[this.spare] as number) >>> 0;
      b = spare !== 0 ? spare : this.takePages(0, GFP_PAGES);
      if (b === 0) return 0;
      e = this.table.claim(b >>> this.pageShift, GFP_PAGES);
      if (e === 0) {
        if (spare === 0) this.givePages(b, 0);
        return 0;
      }
      w[this.spare] = 0;
      w[this.buddyPages]!++;
      j = this.top;
    } else {
      const o = this.ord + j * Ord.WORDS;
      b = (w[o + Ord.GHEAD] as number) >>> 0;
      this.unlink(o, b);
      w[o + Ord.G]!--;
      e = this.table.at(b >>> this.pageShift);
    }
    const base = b & this.pageMask;
    while (j > k) {
      w[this.ord + j * Ord.WORDS + Ord.SPLITS]!++;
      j--;
      const half = this.minBlock << j;
      const buddy = b + half;
      this.mem[e + ((base + half) >>> this.minShift)] = GLOBAL | j;
      this.push(this.ord + j * Ord.WORDS, buddy);
      w[this.ord + j * Ord.WORDS + Ord.G]!++;
    }
    this.mem[e + (base >>> this.minShift)] = ALLOCATED | k;
    return b;
  }

  /** Whole pages for a request larger than a page. */
  private large(size: number): number {
    const order = orderOfPages(Math.ceil(size / this.pageSize));
    if (order >= this.mm.maxOrder) return this.failed();
    const addr = this.takePages(order, GFP_PAGES);
    if (addr === 0) return this.failed();
    const e = this.table.claim(addr >>> this.pageShift, GFP_PAGES);
    if (e === 0) {
      this.givePages(addr, order);
      return this.failed();
    }
    this.mem[e] = LARGE | ALLOCATED | order;
    return this.countWhole(addr, order);
  }

  /** Frees what alloc returned, lazily or not as the slack of its size says. */
  free(addr: number): void {
    if (addr >>> 0 !== addr || addr >= this.memEnd) return this.badAddress("free", addr);
    const e = this.table.at(addr >>> this.pageShift);
    const off = addr & this.pageMask;
    const byte =
      e === 0 || (off & (this.minBlock - 1)) !== 0
        ? 0
        : (this.mem[e + (off >>> this.minShift)] as number);
    if ((byte & (STATE_MASK | LARGE)) !== ALLOCATED) return this.freeOther(addr, e, byte);
    const k = byte & ORDER_MASK;
    const w = this.w;
    const o = this.ord + k * Ord.WORDS;
    const d = (w[o + Ord.A] as number) - (w[o + Ord.L] as number);
    w[o + Ord.A]!--;
    if (d >= 2) {
      // Lazy: locally free, on its size's list, the buddy map untouched but for its state.
      this.mem[e + (off >>> this.minShift)] = LOCAL | k;
      w[addr >>> 2] = w[o + Ord.LHEAD] as number;
      w[o + Ord.LHEAD] = addr;
      w[o + Ord.L]!++;
      w[o + Ord.LAZY]!++;
    } else if (d === 1) {
      w[o + Ord.RECLAIM]!++;
      this.globalFree(addr, k, e);
    } else {
      // Accelerated: this block and a locally free one go back to the buddy map.
      w[o + Ord.ACCEL]!++;
      this.globalFree(addr, k, e);
      const l = (w[o + Ord.LHEAD] as number) >>> 0;
      w[o + Ord.LHEAD] = w[l >>> 2] as number;
      w[o + Ord.L]!--;
      this.globalFree(l, k, this.table.at(l >>> this.pageShift));
    }
    const c = this.ctl;
    w[c + Ctl.FREES]!++;
    w[c + Ctl.LIVE]!--;
    w[c + Ctl.LIVE_BYTES]! -= this.minBlock << k;
  }

  /** Marks block `b` of order `k` globally free and coalesces it with free buddies. */
  private globalFree(b: number, k: number, e: number): void {
    const w = this.w;
    const mem = this.mem;
    const page = b - (b & this.pageMask);
    let off = b & this.pageMask;
    while (k < this.top) {
      const size = this.minBlock << k;
      const boff = off ^ size;
      const o = this.ord + k * Ord.WORDS;
      if (mem[e + (boff >>> this.minShift)] !== (GLOBAL | k)) {
        mem[e + (off >>> this.minShift)] = GLOBAL | k;
        this.push(o, page + off);
        w[o + Ord.G]!++;
        return;
      }
      this.unlink(o, page + boff);
      w[o + Ord.G]!--;
      w[o + Ord.COALESCES]!++;
      mem[e + (Math.max(off, boff) >>> this.minShift)] = 0;
      off = Math.min(off, boff);
      k++;
    }
    // The whole page is free: the spare if there is none, else back to the page allocator.
    this.table.release(page >>> this.pageShift);
    if (w[this.spare] === 0) w[this.spare] = page;
    else this.givePages(page, 0);
    w[this.buddyPages]!--;
  }

  /** free() of what is not an allocated buddy block: pages served whole, or misuse. */
  private freeOther(addr: number, e: number, byte: number): void {
    if ((byte & (LARGE | STATE_MASK)) === (LARGE | ALLOCATED) && (addr & this.pageMask) === 0) {
      const order = byte & ORDER_MASK;
      this.table.release(addr >>> this.pageShift);
      this.givePages(addr, order);
      this.uncountWhole(order);
      return;
    }
    const state = byte & STATE_MASK;
    if (e !== 0 && (state === LOCAL || state === GLOBAL) && (byte & LARGE) === 0) {
      return this.misuse(
        "DOUBLE_FREE",
        `free(${hex(addr)}): the ${this.minBlock << (byte & ORDER_MASK)}-byte block is ${state === LOCAL ? "locally" : "globally"} free already`,
      );
    }
    return this.badAddress("free", addr);
  }

  private push(o: number, b: number): void {
    const w = this.w;
    const head = (w[o + Ord.GHEAD] as number) >>> 0;
    w[b >>> 2] = head;
    w[(b >>> 2) + 1] = 0;
    if (head !== 0) w[(head >>> 2) + 1] = b;
    w[o + Ord.GHEAD] = b;
  }

  private unlink(o: number, b: number): void {
    const w = this.w;
    const next = (w[b >>> 2] as number) >>> 0;
    const prev = (w[(b >>> 2) + 1] as number) >>> 0;
    if (prev === 0) w[o + Ord.GHEAD] = next;
    else w[prev >>> 2] = next;
    if (next !== 0) w[(next >>> 2) + 1] = prev;
  }

  /** The usable bytes of the allocated block at `addr`; throws as free() would. */
  usableSize(addr: number): number {
    return this.lookup(addr, "usableSize");
  }

  private lookup(addr: number, fn: string): number {
    if (addr >>> 0 !== addr || addr >= this.memEnd) return this.badAddress(fn, addr);
    const e = this.table.at(addr >>> this.pageShift);
    const off = addr & this.pageMask;
    const byte =
      e === 0 || (off & (this.minBlock - 1)) !== 0
        ? 0
        : (this.mem[e + (off >>> this.minShift)] as number);
    if ((byte & (STATE_MASK | LARGE)) === ALLOCATED) return this.minBlock << (byte & ORDER_MASK);
    if ((byte & (LARGE | STATE_MASK)) === (LARGE | ALLOCATED) && off === 0) {
      return this.pageSize << (byte & ORDER_MASK);
    }
    const state = byte & STATE_MASK;
    if (e !== 0 && (state === LOCAL || state === GLOBAL) && (byte & LARGE) === 0) {
      return this.misuse("DOUBLE_FREE", `${fn}(${hex(addr)}): the block is free`);
    }
    return this.badAddress(fn, addr);
  }

  /**
   * In place while the new size needs the same block size (or the same pages), else a new
   * block with the contents copied. The address, or 0 with the old block untouched.
   */
  realloc(addr: number, size: number): number {
    if (addr === 0) return this.alloc(size);
    const usable = this.lookup(addr, "realloc");
    if (size >>> 0 !== size) return this.oddSize(size);
    const want =
      size > this.pageSize
        ? this.pageSize << orderOfPages(Math.ceil(size / this.pageSize))
        : size <= this.minBlock
          ? this.minBlock
          : 2 ** (32 - Math.clz32(size - 1));
    if (want === usable) return addr;
    const moved = this.alloc(size);
    if (moved === 0) return 0;
    this.mem.copyWithin(moved, addr, addr + Math.min(usable, size));
    this.free(addr);
    return moved;
  }

  verify(): void {
    const w = this.w;
    const mem = this.mem;
    const top = this.top;
    const units = this.pageSize >>> this.minShift;
    const count = Array.from({ length: top + 1 }, () => [0, 0, 0]); // A, L, G per order
    const globals = new Set<number>();
    const locals = new Set<number>();
    let live = 0;
    let liveBytes = 0;
    let buddy = 0;
    let big = 0;
    let bad: string | null = null;
    this.table.forEach((pfn, e) => {
      if (bad !== null) return;
      const page = pfn * this.pageSize;
      const first = mem[e] as number;
      if ((first & LARGE) !== 0) {
        const order = first & ORDER_MASK;
        if ((first & STATE_MASK) !== ALLOCATED || pfn % (1 << order) !== 0) {
          bad = `LB-1: page ${hex(page)}: a block of pages says ${hex(first)}`;
          return;
        }
        for (let u = 1; u < units; u++) {
          if (mem[e + u] !== 0) {
            bad = `LB-1: page ${hex(page)}, served whole, has a block at unit ${u}`;
            return;
          }
        }
        live++;
        liveBytes += this.pageSize << order;
        big += 1 << order;
        return;
      }
      buddy++;
      for (let u = 0; u < units;) {
        const byte = mem[e + u] as number;
        const k = byte & ORDER_MASK;
        const state = byte & STATE_MASK;
        if (
          byte === 0 ||
          (byte & LARGE) !== 0 ||
          k > top ||
          u % (1 << k) !== 0 ||
          u + (1 << k) > units
        ) {
          bad = `LB-1: page ${hex(page)}, unit ${u}: byte ${hex(byte)} starts no block that fits`;
          return;
        }
        for (let i = u + 1; i < u + (1 << k); i++) {
          if (mem[e + i] !== 0) {
            bad = `LB-1: page ${hex(page)}, unit ${i}: inside the block at unit ${u}, says ${hex(mem[e + i] as number)}`;
            return;
          }
        }
        const b = page + (u << this.minShift);
        const c = count[k] as number[];
        if (state === ALLOCATED) {
          c[0]!++;
          live++;
          liveBytes += this.minBlock << k;
        } else if (state === LOCAL) {
          c[1]!++;
          locals.add(b);
        } else {
          c[2]!++;
          globals.add(b);
          if (k === top) {
            bad = `LB-2: page ${hex(page)} is one globally free block, yet held`;
            return;
          }
          const bu = u ^ (1 << k);
          if (mem[e + bu] === (GLOBAL | k)) {
            bad = `LB-2: globally free buddies at ${hex(b)} and ${hex(page + (bu << this.minShift))} not coalesced`;
            return;
          }
        }
        u += 1 << k;
      }
    });
    if (bad !== null) this.corrupt((bad as string).slice(0, 4), (bad as string).slice(6));
    for (let k = 0; k <= top; k++) {
      const o = this.ord + k * Ord.WORDS;
      const size = this.minBlock << k;
      let n = 0;
      let prev = 0;
      const want = (count[k] as number[])[2] as number;
      for (let b = (w[o + Ord.GHEAD] as number) >>> 0; b !== 0; b = (w[b >>> 2] as number) >>> 0) {
        if (!globals.has(b))
          this.corrupt(
            "LB-3",
            `the ${size}-byte global list holds ${hex(b)}, not a globally free block of that size (or twice)`,
          );
        const e = this.table.at(b >>> this.pageShift);
        if (mem[e + ((b & this.pageMask) >>> this.minShift)] !== (GLOBAL | k)) {
          this.corrupt(
            "LB-3",
            `the ${size}-byte global list holds ${hex(b)}, a block of another size`,
          );
        }
        if ((w[(b >>> 2) + 1] as number) >>> 0 !== prev)
          this.corrupt("LB-3", `${hex(b)}: back link broken`);
        globals.delete(b);
        prev = b;
        if (++n > want) break;
      }
      const wantL = (count[k] as number[])[1] as number;
      let nl = 0;
      for (let b = (w[o + Ord.LHEAD] as number) >>> 0; b !== 0; b = (w[b >>> 2] as number) >>> 0) {
        if (!locals.has(b))
          this.corrupt(
            "LB-3",
            `the ${size}-byte local list holds ${hex(b)}, not a locally free block (or twice)`,
          );
        const e = this.table.at(b >>> this.pageShift);
        if (mem[e + ((b & this.pageMask) >>> this.minShift)] !== (LOCAL | k)) {
          this.corrupt(
            "LB-3",
            `the ${size}-byte local list holds ${hex(b)}, a block of another size`,
          );
        }
        locals.delete(b);
        if (++nl > wantL) break;
      }
      const [a, l, g] = count[k] as [number, number, number];
      if (n !== g || nl !== l || w[o + Ord.A] !== a || w[o + Ord.L] !== l || w[o + Ord.G] !== g) {
        this.corrupt(
          "LB-3",
          `${size}-byte blocks: A ${w[o + Ord.A]}, L ${w[o + Ord.L]}, G ${w[o + Ord.G]} counted; the map has ${a}, ${l}, ${g}; the lists ${nl} local, ${n} global`,
        );
      }
      if (a - l < 0) this.corrupt("LB-4", `${size}-byte blocks: slack A - L = ${a - l} < 0`);
    }
    const c = this.ctl;
    this.checkLive("LB-5", live, liveBytes);
    if (w[this.buddyPages] !== buddy || w[c + Ctl.BIG_PAGES] !== big) {
      this.corrupt(
        "LB-5",
        `${w[this.buddyPages]} buddy pages and ${w[c + Ctl.BIG_PAGES]} whole counted, ${buddy} and ${big} found`,
      );
    }
    this.checkHeld("LB-5", buddy + big + (w[this.spare] === 0 ? 0 : 1));
    this.checkTable(this.table, (pfn) => {
      const e = this.table.at(pfn);
      return e !== 0 && mem[e] !== 0;
    });
  }

  stats(): LazyBuddyStats {
    const w = this.w;
    const orders: LazyBuddyOrder[] = [];
    for (let k = 0; k <= this.top; k++) {
      const o = this.ord + k * Ord.WORDS;
      const allocated = w[o + Ord.A] as number;
      const localFree = w[o + Ord.L] as number;
      const globalFree = w[o + Ord.G] as number;
      const touched =
        allocated +
        localFree +
        globalFree +
        (w[o + Ord.SPLITS] as number) +
        (w[o + Ord.LAZY] as number) +
        (w[o + Ord.RECLAIM] as number) +
        (w[o + Ord.ACCEL] as number);
      if (touched === 0) continue;
      const slack = allocated - localFree;
      orders.push({
        size: this.minBlock << k,
        allocated,
        localFree,
        globalFree,
        slack,
        state: slack >= 2 ? "lazy" : slack === 1 ? "reclaiming" : "accelerated",
        lazyFrees: w[o + Ord.LAZY] as number,
        reclaimingFrees: w[o + Ord.RECLAIM] as number,
        acceleratedFrees: w[o + Ord.ACCEL] as number,
        splits: w[o + Ord.SPLITS] as number,
        coalesces: w[o + Ord.COALESCES] as number,
      });
    }
    return {
      ...this.baseStats(),
      buddyPages: w[this.buddyPages] as number,
      sparePage: w[this.spare] !== 0,
      orders,
    };
  }
}
