/*
 * The hierarchical allocator of Sequent's Dynix/ptx (McKenney & Slingwine, "Efficient Kernel
 * Memory Allocation on Shared-Memory Multiprocessors", USENIX Winter 1993; McKenney,
 * Slingwine & Krueger, "Experience with an efficient parallel kernel memory allocator",
 * Software: Practice and Experience 31(3), 2001; Vahalia §12.9). Blocks of a power-of-two
 * size move between three layers, each touched less often than the one above:
 *
 *   per-cpu     for each cpu and size, a main and an aux list of at most `target` blocks:
 *               alloc pops main; an empty main takes aux; with both empty, main takes a
 *               whole list from the global layer. free pushes main; a full main becomes aux,
 *               and a full aux before it goes to the global layer, whole
 *   global      for each size, whole lists of `target` blocks, moved in one step; past
 *               `globalLists` lists, an incoming list is broken up into the coalesce layer
 *   coalesce    for each size, the pages its blocks were carved from, each with the list and
 *   to page     count of its blocks here; lists for the global layer are taken from them
 *               (a fresh page from kmem's page allocator when none has a block), and a page
 *               all of whose blocks are back goes back to the page allocator
 *
 * Requests larger than a page take whole pages from the page allocator and give them back
 * on free (the 1993 allocator's vmblk layer, reduced to that).
 *
 * What is reconstructed. The 1993 paper was not at hand; what is documented and followed:
 * the three layers and what moves between them (a main and an aux list per cpu and size, of
 * `target` blocks at most; whole lists through the global layer; a layer that coalesces
 * blocks into pages and returns a page when all its blocks are free: the research notes on
 * Vahalia §12.9, and McKenney's "Is Parallel Programming Hard" §6.4.3, whose schematic has a
 * per-thread pool, a global block pool, coalescing into pages, system memory). Chosen here,
 * not taken from the paper: power-of-two sizes from 16 bytes to a page; target = the blocks
 * of half a page, between 2 and 16, unless the `target` option says; `globalLists` = 2 lists
 * per size before the global layer spills; the coalesce layer takes blocks from the page
 * that most recently had a block back (a list of pages, most recent first), and does not
 * sort pages by their free blocks. Dynix ran the per-cpu layer on each cpu without a lock;
 * kmem runs one context, so the cpu whose lists a call uses is `cpu` (this context's cpu
 * unless setCpu says), which lets a program play several cpus' traffic through one instance.
 *
 * Page table (frame-table.ts), 8 i32 per frame, for every page the allocator holds:
 *
 *   0        4        8        12       16       20 .. 32
 *   +--------+--------+--------+--------+--------+------------+
 *   | info   | nfree  | free   | next   | prev   | (unused)   |
 *   +--------+--------+--------+--------+--------+------------+
 *   info: BLOCKS | class << 8 (a page of blocks), or LARGE | order << 8 (pages served whole,
 *   first frame); nfree, free: the page's blocks in the coalesce layer and their list (an
 *   address, 0 = end); next, prev: the class's list of pages with blocks there (pfns, 0 = none)
 *
 * A block on a per-cpu or global list links the next block in its first word; the first
 * block of a list in the global layer links the next list in its second word.
 *
 * Control block, after the shared header: per class (Gc.WORDS): the global layer's list of
 * lists, its length, the coalesce layer's page list head, blocks in the coalesce layer,
 * target; then per cpu and class (Pc.WORDS): main, its length, aux, its length; then
 * BLOCK_PAGES; then the page table's directory.
 *
 * Invariants (verify() reports these ids):
 *  DYNIX-1: every cpu list holds at most `target` blocks of its class (aux: 0 or exactly
 *           target) and every global list exactly target; their lengths are as counted
 *  DYNIX-2: every page of the coalesce layer's list has blocks there (nfree > 0) and not all
 *           of them (a page all free would have gone back); its free list has nfree blocks
 *  DYNIX-3: no block is in two places (two lists, or a list twice); every listed block is a
 *           block of a page of its class, at a block boundary
 *  DYNIX-4: live = blocks in no list + pages served whole; pages held = control block +
 *           table pages + block pages + pages served whole
 *  TABLE-1 (frame-table.ts)
 *
 * What it cannot detect (nor could Dynix's per-cpu fast path): a double free (the block goes
 * on the cpu's main list twice; verify() finds the loop), a free of a block another cpu
 * holds on its lists, a write into a free block (its first words are links). kmem refuses
 * an address that is not a block of one of its pages or the start of pages served whole
 * (INVALID_FREE).
 */

import { describe, hex } from "../errors.js";
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

const MIN_SHIFT = 4;
const BLOCKS = 1;
const LARGE = 2;

/** Page table entry words. */
const enum Pg {
  INFO = 0,
  NFREE = 1,
  FREE = 2,
  NEXT = 3,
  PREV = 4,
  WORDS = 8,
}

/** Per-class words: the global and coalesce layers. */
const enum Gc {
  LISTS = 0,
  NLISTS = 1,
  PAGES = 2,
  CFREE = 3,
  TARGET = 4,
  TO_GLOBAL = 5,
  FROM_GLOBAL = 6,
  TO_COALESCE = 7,
  FROM_COALESCE = 8,
  WORDS = 9,
}

/** Per-cpu, per-class words. */
const enum Pc {
  MAIN = 0,
  MAIN_N = 1,
  AUX = 2,
  AUX_N = 3,
  WORDS = 4,
}

/** Options of {@link DynixAllocator}. */
export interface DynixOptions {
  /** Blocks per list, for every size (default: the blocks of half a page, 2..16). */
  target?: number;
  /** Lists per size the global layer keeps before it spills to the coalesce layer (default 2). */
  globalLists?: number;
  /** Per-cpu caches (default: the instance's cpus). */
  cpus?: number;
}

/** One size of {@link DynixStats}. */
export interface DynixClass {
  size: number;
  target: number;
  /** Blocks on the per-cpu lists (all cpus), the global layer's lists, and the coalesce layer. */
  perCpu: number;
  globalLists: number;
  coalesce: number;
  /** Pages of blocks of this size. */
  pages: number;
  /** Lists moved cpu -> global and global -> cpu; lists built by, and blocks given to, the coalesce layer. */
  toGlobal: number;
  fromGlobal: number;
  toCoalesce: number;
  fromCoalesce: number;
}

/** stats() of {@link DynixAllocator}. */
export interface DynixStats extends ClassicStats {
  cpus: number;
  /** Sizes that ever had a page, smallest first. */
  classes: DynixClass[];
}

export class DynixAllocator extends ClassicBase {
  readonly name = "dynix";
  declare readonly nclasses: number;
  declare readonly ncpus: number;
  declare readonly globalLists: number;
  declare private readonly table: FrameTable;
  declare private readonly gc: number;
  declare private readonly pc0: number;
  declare private readonly blockPages: number;
  declare private readonly pageMask: number;
  /** Word index of the current cpu's per-cpu block (class 0). */
  private pc: number;
  private cpuId: number;

  constructor(mm: Kmem, options: DynixOptions = {}) {
    const cpus = options.cpus ?? mm.cpus;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) {
      throw new RangeError(`dynix: cpus must be an integer in 1..64, got ${describe(cpus)}`);
    }
    const globalLists = options.globalLists ?? 2;
    if (!Number.isInteger(globalLists) || globalLists < 0 || globalLists > 1 << 16) {
      throw new RangeError(
        `dynix: globalLists must be an integer in 0..65536, got ${describe(globalLists)}`,
      );
    }
    if (
      options.target !== undefined &&
      (!Number.isInteger(options.target) || options.target < 1 || options.target > 1 << 16)
    ) {
      throw new RangeError(
        `dynix: target must be an integer in 1..65536, got ${describe(options.target)}`,
      );
    }
    const nclasses = log2(mm.pageSize) - MIN_SHIFT + 1;
    const own = Ctl.WORDS + nclasses * Gc.WORDS + cpus * nclasses * Pc.WORDS + 1;
    super(mm, Kind.DYNIX, own + FrameTable.dirWords(Pg.WORDS * 4, mm.pageSize, mm.totalPages));
    this.nclasses = nclasses;
    this.ncpus = cpus;
    this.globalLists = globalLists;
    this.pageMask = mm.pageSize - 1;
    this.gc = this.ctl + Ctl.WORDS;
    this.pc0 = this.gc + nclasses * Gc.WORDS;
    this.blockPages = this.pc0 + cpus * nclasses * Pc.WORDS;
    this.table = new FrameTable(this, this.ctl + own, Pg.WORDS * 4);
    for (let c = 0; c < nclasses; c++) {
      const perHalfPage = mm.pageSize >>> (MIN_SHIFT + c + 1);
      this.w[this.gc + c * Gc.WORDS + Gc.TARGET] =
        options.target ?? Math.max(2, Math.min(16, perHalfPage));
    }
    this.cpuId = Math.min(mm.cpu, cpus - 1);
    this.pc = this.pc0 + this.cpuId * nclasses * Pc.WORDS;
  }

  /** The cpu whose per-cpu lists alloc and free use. */
  get cpu(): number {
    return this.cpuId;
  }

  /** Makes the following calls run "on" cpu `id`: they use its per-cpu lists. */
  setCpu(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.ncpus) {
      throw new RangeError(
        `dynix: cpu must be an integer in 0..${this.ncpus - 1}, got ${describe(id)}`,
      );
    }
    this.cpuId = id;
    this.pc = this.pc0 + id * this.nclasses * Pc.WORDS;
  }

  /** Allocates `size` bytes (0 counts as 1): the address, or 0. */
  alloc(size: number): number {
    if (size >>> 0 !== size) return this.oddSize(size);
    if (size > this.pageSize) return this.large(size);
    const c = size <= 1 << MIN_SHIFT ? 0 : 32 - Math.clz32(size - 1) - MIN_SHIFT;
    const w = this.w;
    const pc = this.pc + c * Pc.WORDS;
    let b = (w[pc + Pc.MAIN] as number) >>> 0;
    if (b === 0) {
      b = this.refill(c, pc);
      if (b === 0) return this.failed();
    }
    w[pc + Pc.MAIN] = w[b >>> 2] as number;
    w[pc + Pc.MAIN_N]!--;
    const ctl = this.ctl;
    w[ctl + Ctl.ALLOCS]!++;
    w[ctl + Ctl.LIVE]!++;
    w[ctl + Ctl.LIVE_BYTES]! += 1 << (c + MIN_SHIFT);
    return b;
  }

  /** An empty main list: aux becomes main, else a list from the global layer, else one built. */
  private refill(c: number, pc: number): number {
    const w = this.w;
    const aux = (w[pc + Pc.AUX] as number) >>> 0;
    if (aux !== 0) {
      w[pc + Pc.MAIN] = aux;
      w[pc + Pc.MAIN_N] = w[pc + Pc.AUX_N] as number;
      w[pc + Pc.AUX] = 0;
      w[pc + Pc.AUX_N] = 0;
      return aux;
    }
    const g = this.gc + c * Gc.WORDS;
    const list = (w[g + Gc.LISTS] as number) >>> 0;
    if (list !== 0) {
      w[g + Gc.LISTS] = w[(list >>> 2) + 1] as number;
      w[g + Gc.NLISTS]!--;
      w[g + Gc.FROM_GLOBAL]!++;
      w[pc + Pc.MAIN] = list;
      w[pc + Pc.MAIN_N] = w[g + Gc.TARGET] as number;
      return list;
    }
    return this.build(c, w[g + Gc.TARGET] as number);
  }

  /**
   * The coalesce layer's side of a refill: up to `n` blocks of class `c` from its pages
   * (a fresh page when none has a block), linked into one list that becomes the current
   * cpu's main list. Returns its head, or 0 when no block could be had.
   */
  private build(c: number, n: number): number {
    const w = this.w;
    const g = this.gc + c * Gc.WORDS;
    const pc = this.pc + c * Pc.WORDS;
    let head = 0;
    let got = 0;
    while (got < n) {
      let pfn = w[g + Gc.PAGES] as number;
      if (pfn === 0) {
        pfn = this.newPage(c);
        if (pfn === 0) break;
      }
      const e = this.table.at(pfn) >>> 2;
      let b = (w[e + Pg.FREE] as number) >>> 0;
      let nfree = w[e + Pg.NFREE] as number;
      while (got < n && b !== 0) {
        const next = (w[b >>> 2] as number) >>> 0;
        w[b >>> 2] = head;
        head = b;
        b = next;
        nfree--;
        got++;
      }
      w[e + Pg.FREE] = b;
      w[e + Pg.NFREE] = nfree;
      if (nfree === 0) this.unlinkPage(g, e);
    }
    if (got === 0) return 0;
    w[g + Gc.CFREE]! -= got;
    w[g + Gc.FROM_COALESCE]!++;
    w[pc + Pc.MAIN] = head;
    w[pc + Pc.MAIN_N] = got;
    return head;
  }

  /** A fresh page carved into blocks of class `c`, at the head of the coalesce layer's pages. */
  private newPage(c: number): number {
    const addr = this.takePages(0, GFP_PAGES);
    if (addr === 0) return 0;
    const pfn = addr >>> this.pageShift;
    const ent = this.table.claim(pfn, GFP_PAGES);
    if (ent === 0) {
      this.givePages(addr, 0);
      return 0;
    }
    const w = this.w;
    const e = ent >>> 2;
    const size = 1 << (c + MIN_SHIFT);
    const per = this.pageSize >>> (c + MIN_SHIFT);
    for (let k = 0; k < per; k++) {
      const at = addr + k * size;
      w[at >>> 2] = k + 1 < per ? at + size : 0;
    }
    w[e + Pg.INFO] = BLOCKS | (c << 8);
    w[e + Pg.NFREE] = per;
    w[e + Pg.FREE] = addr;
    const g = this.gc + c * Gc.WORDS;
    this.linkPage(g, pfn, e);
    w[g + Gc.CFREE]! += per;
    w[this.blockPages]!++;
    return pfn;
  }

  private linkPage(g: number, pfn: number, e: number): void {
    const w = this.w;
    const head = w[g + Gc.PAGES] as number;
    w[e + Pg.NEXT] = head;
    w[e + Pg.PREV] = 0;
    if (head !== 0) w[(this.table.at(head) >>> 2) + Pg.PREV] = pfn;
    w[g + Gc.PAGES] = pfn;
  }

  private unlinkPage(g: number, e: number): void {
    const w = this.w;
    const next = w[e + Pg.NEXT] as number;
    const prev = w[e + Pg.PREV] as number;
    if (prev === 0) w[g + Gc.PAGES] = next;
    else w[(this.table.at(prev) >>> 2) + Pg.NEXT] = next;
    if (next !== 0) w[(this.table.at(next) >>> 2) + Pg.PREV] = prev;
    w[e + Pg.NEXT] = 0;
    w[e + Pg.PREV] = 0;
  }

  private large(size: number): number {
    const order = orderOfPages(Math.ceil(size / this.pageSize));
    if (order >= this.mm.maxOrder) return this.failed();
    const addr = this.takePages(order, GFP_PAGES);
    if (addr === 0) return this.failed();
    const ent = this.table.claim(addr >>> this.pageShift, GFP_PAGES);
    if (ent === 0) {
      this.givePages(addr, order);
      return this.failed();
    }
    const w = this.w;
    w[ent >>> 2] = LARGE | (order << 8);
    return this.countWhole(addr, order);
  }

  /** Frees onto the current cpu's main list (a full main becomes aux; a full aux goes global). */
  free(addr: number): void {
    const c = this.classOf(addr, "free");
    if (c < 0) return this.freeLarge(addr);
    const w = this.w;
    const pc = this.pc + c * Pc.WORDS;
    const g = this.gc + c * Gc.WORDS;
    if ((w[pc + Pc.MAIN_N] as number) >= (w[g + Gc.TARGET] as number)) this.rotate(c, pc, g);
    w[addr >>> 2] = w[pc + Pc.MAIN] as number;
    w[pc + Pc.MAIN] = addr;
    w[pc + Pc.MAIN_N]!++;
    const ctl = this.ctl;
    w[ctl + Ctl.FREES]!++;
    w[ctl + Ctl.LIVE]!--;
    w[ctl + Ctl.LIVE_BYTES]! -= 1 << (c + MIN_SHIFT);
  }

  /** A full main list: aux (full) goes to the global layer, main becomes aux, main is empty. */
  private rotate(c: number, pc: number, g: number): void {
    const w = this.w;
    const aux = (w[pc + Pc.AUX] as number) >>> 0;
    if (aux !== 0) this.toGlobal(c, g, aux);
    w[pc + Pc.AUX] = w[pc + Pc.MAIN] as number;
    w[pc + Pc.AUX_N] = w[pc + Pc.MAIN_N] as number;
    w[pc + Pc.MAIN] = 0;
    w[pc + Pc.MAIN_N] = 0;
  }

  /** A full list into the global layer, or, past globalLists, its blocks into the coalesce layer. */
  private toGlobal(c: number, g: number, list: number): void {
    const w = this.w;
    if ((w[g + Gc.NLISTS] as number) < this.globalLists) {
      w[(list >>> 2) + 1] = w[g + Gc.LISTS] as number;
      w[g + Gc.LISTS] = list;
      w[g + Gc.NLISTS]!++;
      w[g + Gc.TO_GLOBAL]!++;
      return;
    }
    w[g + Gc.TO_COALESCE]!++;
    for (let b = list; b !== 0;) {
      const next = (w[b >>> 2] as number) >>> 0;
      this.coalesce(c, g, b);
      b = next;
    }
  }

  /** One block back to its page in the coalesce layer; a page all free goes back to kmem. */
  private coalesce(c: number, g: number, b: number): void {
    const w = this.w;
    const pfn = b >>> this.pageShift;
    const e = this.table.at(pfn) >>> 2;
    w[b >>> 2] = w[e + Pg.FREE] as number;
    w[e + Pg.FREE] = b;
    const nfree = (w[e + Pg.NFREE] as number) + 1;
    w[e + Pg.NFREE] = nfree;
    w[g + Gc.CFREE]!++;
    if (nfree === 1) this.linkPage(g, pfn, e);
    if (nfree === this.pageSize >>> (c + MIN_SHIFT)) {
      this.unlinkPage(g, e);
      w[g + Gc.CFREE]! -= nfree;
      this.table.release(pfn);
      this.givePages(pfn * this.pageSize, 0);
      w[this.blockPages]!--;
    }
  }

  /**
   * Gives every cpu's lists and the global layer's to the coalesce layer (pages all free go
   * back): what a cpu going offline, or memory pressure, would do. Returns the pages freed.
   */
  drain(): number {
    const w = this.w;
    const before = w[this.ctl + Ctl.PAGES] as number;
    for (let c = 0; c < this.nclasses; c++) {
      const g = this.gc + c * Gc.WORDS;
      for (let cpu = 0; cpu < this.ncpus; cpu++) {
        const pc = this.pc0 + (cpu * this.nclasses + c) * Pc.WORDS;
        for (const at of [Pc.MAIN, Pc.AUX]) {
          for (let b = (w[pc + at] as number) >>> 0; b !== 0;) {
            const next = (w[b >>> 2] as number) >>> 0;
            this.coalesce(c, g, b);
            b = next;
          }
          w[pc + at] = 0;
          w[pc + at + 1] = 0;
        }
      }
      for (let list = (w[g + Gc.LISTS] as number) >>> 0; list !== 0;) {
        const nextList = (w[(list >>> 2) + 1] as number) >>> 0;
        for (let b = list; b !== 0;) {
          const next = (w[b >>> 2] as number) >>> 0;
          this.coalesce(c, g, b);
          b = next;
        }
        list = nextList;
      }
      w[g + Gc.LISTS] = 0;
      w[g + Gc.NLISTS] = 0;
    }
    return before - (w[this.ctl + Ctl.PAGES] as number);
  }

  /**
   * The class of the block at `addr`, or -1 for the first page of pages served whole;
   * INVALID_FREE (nothing changed) for anything else.
   */
  private classOf(addr: number, fn: string): number {
    if (addr >>> 0 !== addr || addr >= this.memEnd) return this.badAddress(fn, addr);
    const e = this.table.at(addr >>> this.pageShift);
    const info = e === 0 ? 0 : (this.w[e >>> 2] as number);
    const c = info >>> 8;
    if ((info & 0xff) === BLOCKS) {
      if ((addr & ((1 << (c + MIN_SHIFT)) - 1)) === 0) return c;
    } else if ((info & 0xff) === LARGE && (addr & this.pageMask) === 0) {
      return -1;
    }
    return this.badAddress(fn, addr);
  }

  private freeLarge(addr: number): void {
    const w = this.w;
    const order = (w[this.table.at(addr >>> this.pageShift) >>> 2] as number) >>> 8;
    this.table.release(addr >>> this.pageShift);
    this.givePages(addr, order);
    this.uncountWhole(order);
  }

  usableSize(addr: number): number {
    const c = this.classOf(addr, "usableSize");
    if (c >= 0) return 1 << (c + MIN_SHIFT);
    return (
      this.pageSize << ((this.w[this.table.at(addr >>> this.pageShift) >>> 2] as number) >>> 8)
    );
  }

  /** In place while the size class (or the pages) stays, else allocate, copy and free. */
  realloc(addr: number, size: number): number {
    if (addr === 0) return this.alloc(size);
    const usable = this.usableSize(addr);
    if (size >>> 0 !== size) return this.oddSize(size);
    const want =
      size > this.pageSize
        ? this.pageSize << orderOfPages(Math.ceil(size / this.pageSize))
        : size <= 1 << MIN_SHIFT
          ? 1 << MIN_SHIFT
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
    const where = new Map<number, string>();
    const place = (b: number, c: number, what: string): void => {
      const e = b < this.memEnd ? this.table.at(b >>> this.pageShift) : 0;
      const info = e === 0 ? 0 : (w[e >>> 2] as number);
      if (info !== (BLOCKS | (c << 8)) || (b & ((1 << (c + MIN_SHIFT)) - 1)) !== 0) {
        this.corrupt(
          "DYNIX-3",
          `${what} holds ${hex(b)}, not a ${1 << (c + MIN_SHIFT)}-byte block`,
        );
      }
      const prior = where.get(b);
      if (prior !== undefined)
        this.corrupt("DYNIX-3", `${hex(b)} is on ${prior} and on ${what} (a double free?)`);
      where.set(b, what);
    };
    const walk = (head: number, c: number, what: string, max: number): number => {
      let n = 0;
      for (let b = head >>> 0; b !== 0; b = (w[b >>> 2] as number) >>> 0) {
        if (++n > max) this.corrupt("DYNIX-1", `${what} is longer than ${max} blocks (a loop?)`);
        place(b, c, what);
      }
      return n;
    };
    for (let c = 0; c < this.nclasses; c++) {
      const g = this.gc + c * Gc.WORDS;
      const target = w[g + Gc.TARGET] as number;
      const size = 1 << (c + MIN_SHIFT);
      for (let cpu = 0; cpu < this.ncpus; cpu++) {
        const pc = this.pc0 + (cpu * this.nclasses + c) * Pc.WORDS;
        const m = walk(w[pc + Pc.MAIN] as number, c, `cpu ${cpu}'s ${size}-byte main list`, target);
        const x = walk(w[pc + Pc.AUX] as number, c, `cpu ${cpu}'s ${size}-byte aux list`, target);
        if (m !== w[pc + Pc.MAIN_N] || x !== w[pc + Pc.AUX_N] || (x !== 0 && x !== target)) {
          this.corrupt(
            "DYNIX-1",
            `cpu ${cpu}, ${size} bytes: main ${m} (counted ${w[pc + Pc.MAIN_N]}), aux ${x} (counted ${w[pc + Pc.AUX_N]}), target ${target}`,
          );
        }
      }
      let lists = 0;
      for (
        let list = (w[g + Gc.LISTS] as number) >>> 0;
        list !== 0;
        list = (w[(list >>> 2) + 1] as number) >>> 0
      ) {
        if (++lists > (w[g + Gc.NLISTS] as number)) break;
        const n = walk(list, c, `a global ${size}-byte list`, target);
        if (n !== target)
          this.corrupt("DYNIX-1", `a global ${size}-byte list holds ${n} blocks, not ${target}`);
      }
      if (lists !== w[g + Gc.NLISTS])
        this.corrupt(
          "DYNIX-1",
          `${w[g + Gc.NLISTS]} global ${size}-byte lists counted, ${lists} found`,
        );
      let cfree = 0;
      let pages = 0;
      let prev = 0;
      for (let pfn = w[g + Gc.PAGES] as number; pfn !== 0;) {
        const e = this.table.at(pfn) >>> 2;
        if (e === 0 || w[e + Pg.INFO] !== (BLOCKS | (c << 8))) {
          this.corrupt(
            "DYNIX-2",
            `the ${size}-byte page list holds frame ${pfn}, not a page of that size`,
          );
        }
        if (w[e + Pg.PREV] !== prev) this.corrupt("DYNIX-2", `frame ${pfn}: back link broken`);
        const nfree = w[e + Pg.NFREE] as number;
        const per = this.pageSize / size;
        if (nfree <= 0 || nfree >= per) {
          this.corrupt(
            "DYNIX-2",
            `page ${hex(pfn * this.pageSize)}: ${nfree} of its ${per} blocks in the coalesce layer`,
          );
        }
        const n = walk(
          w[e + Pg.FREE] as number,
          c,
          `page ${hex(pfn * this.pageSize)}'s free list`,
          per,
        );
        if (n !== nfree)
          this.corrupt(
            "DYNIX-2",
            `page ${hex(pfn * this.pageSize)}: ${nfree} free counted, ${n} on its list`,
          );
        cfree += n;
        if (++pages > (w[this.ctl + Ctl.PAGES] as number))
          this.corrupt("DYNIX-2", "the page list loops");
        prev = pfn;
        pfn = w[e + Pg.NEXT] as number;
      }
      if (cfree !== w[g + Gc.CFREE])
        this.corrupt(
          "DYNIX-2",
          `${size} bytes: ${w[g + Gc.CFREE]} blocks counted in the coalesce layer, ${cfree} found`,
        );
    }
    let blockPages = 0;
    let big = 0;
    let live = 0;
    let liveBytes = 0;
    this.table.forEach((pfn, ent) => {
      const info = w[ent >>> 2] as number;
      if ((info & 0xff) === LARGE) {
        const order = info >>> 8;
        big += 1 << order;
        live++;
        liveBytes += this.pageSize << order;
        return;
      }
      const c = info >>> 8;
      if ((info & 0xff) !== BLOCKS || c >= this.nclasses) {
        this.corrupt("DYNIX-3", `frame ${pfn}: page table says ${hex(info >>> 0)}`);
      }
      blockPages++;
      const size = 1 << (c + MIN_SHIFT);
      for (let b = pfn * this.pageSize; b < (pfn + 1) * this.pageSize; b += size) {
        if (!where.has(b)) {
          live++;
          liveBytes += size;
        }
      }
      if (
        w[(ent >>> 2) + Pg.NFREE] === 0 &&
        (w[(ent >>> 2) + Pg.NEXT] !== 0 || w[(ent >>> 2) + Pg.PREV] !== 0)
      ) {
        this.corrupt("DYNIX-2", `frame ${pfn}: linked with no block in the coalesce layer`);
      }
    });
    const ctl = this.ctl;
    this.checkLive("DYNIX-4", live, liveBytes);
    if (w[this.blockPages] !== blockPages || w[ctl + Ctl.BIG_PAGES] !== big) {
      this.corrupt(
        "DYNIX-4",
        `${w[this.blockPages]} block pages and ${w[ctl + Ctl.BIG_PAGES]} whole counted, ${blockPages} and ${big} found`,
      );
    }
    this.checkHeld("DYNIX-4", blockPages + big);
    this.checkTable(this.table);
  }

  stats(): DynixStats {
    const w = this.w;
    const classes: DynixClass[] = [];
    const pagesOf = new Array<number>(this.nclasses).fill(0);
    this.table.forEach((_pfn, ent) => {
      const info = w[ent >>> 2] as number;
      if ((info & 0xff) === BLOCKS) pagesOf[info >>> 8]!++;
    });
    for (let c = 0; c < this.nclasses; c++) {
      const g = this.gc + c * Gc.WORDS;
      let perCpu = 0;
      for (let cpu = 0; cpu < this.ncpus; cpu++) {
        const pc = this.pc0 + (cpu * this.nclasses + c) * Pc.WORDS;
        perCpu += (w[pc + Pc.MAIN_N] as number) + (w[pc + Pc.AUX_N] as number);
      }
      const touched = pagesOf[c]! + (w[g + Gc.FROM_COALESCE] as number);
      if (touched === 0) continue;
      const target = w[g + Gc.TARGET] as number;
      classes.push({
        size: 1 << (c + MIN_SHIFT),
        target,
        perCpu,
        globalLists: w[g + Gc.NLISTS] as number,
        coalesce: w[g + Gc.CFREE] as number,
        pages: pagesOf[c]!,
        toGlobal: w[g + Gc.TO_GLOBAL] as number,
        fromGlobal: w[g + Gc.FROM_GLOBAL] as number,
        toCoalesce: w[g + Gc.TO_COALESCE] as number,
        fromCoalesce: w[g + Gc.FROM_COALESCE] as number,
      });
    }
    return { ...this.baseStats(), cpus: this.ncpus, classes };
  }
}
