/*
 * Page tables for the vmalloc space: a radix tree of tables, each a page from the buddy
 * allocator holding pageSize / 4 entries (see layout.ts for the entry format and the
 * frame's owner words). The top table (the pgd) lives as long as the descriptor; a lower
 * table is allocated when its first entry is set and freed when its last is cleared, so
 * PageTables in meminfo counts exactly what the live mappings need.
 *
 * Walking an address is one load per level and a present-bit test: two loads with 4 KiB
 * pages. Only this file writes entries.
 *
 * Invariants (verify() reports them by id):
 *   VM-2  every table reachable from the pgd is a HEAD | PGTABLE order-0 frame, reached
 *         once, whose owner words give its level and first page, and whose entry count is
 *         its number of non-zero entries (0 only for the pgd); entries above the leaves
 *         have no bits besides the address and PRESENT, leaf entries none besides the
 *         address, PRESENT and ACCESSED, or are swap entries (checked by src/swap, SWAP-2);
 *         entries point inside physical memory (tables: managed frames);
 *         nr_page_table_pages equals the tables reached and the PGTABLE frames
 *
 * A swap entry (layout.ts) counts as an entry of its table: a table with only swap entries
 * left stays, and unmapRange hands each swap entry it clears to the swap layer's hooks.
 */

import { KmemError } from "../errors.js";
import { Frame, Pg, PgFlag, type PhysMem } from "../memory/index.js";
import { type BuddyAllocator, Gfp } from "../page/index.js";
import { PgVm, Pte, VmDesc } from "./layout.js";

function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}

/** What unmapRange calls for swappable memory (src/swap installs them). */
export interface PtSwapHooks {
  /** A page on an LRU list is being unmapped: take it off (its frame index). */
  lruDel(pfn: number): void;
  /** A swap entry is being cleared: free its slot. */
  freeSwapEntry(entry: number): void;
}

export class PageTables {
  /** The swap layer's hooks, once a swappable area or swap area exists. */
  swapHooks: PtSwapHooks | null = null;
  private readonly w: PhysMem;
  private readonly f: Int32Array;
  private readonly buddy: BuddyAllocator;
  private readonly pageShift: number;
  /** ~(pageSize - 1): the address bits of an entry. */
  private readonly addrMask: number;
  /** log2 and mask of the entries per table. */
  readonly entryBits: number;
  readonly entryMask: number;
  readonly levels: number;
  /** Word index of the pgd in `w`, 0 until the descriptor exists. */
  pgd = 0;
  /** The descriptor's words (table count and events). */
  d: Int32Array;
  /** Word indices of the tables on the last walk, by level (levels-1 = pgd). */
  private readonly path: Int32Array;

  constructor(
    words: PhysMem,
    frames: Int32Array,
    buddy: BuddyAllocator,
    levels: number,
    d: Int32Array,
  ) {
    this.w = words;
    this.f = frames;
    this.buddy = buddy;
    this.pageShift = buddy.pageShift;
    this.addrMask = ~(buddy.pageSize - 1);
    this.entryBits = buddy.pageShift - 2;
    this.entryMask = (1 << this.entryBits) - 1;
    this.levels = levels;
    this.d = d;
    this.path = new Int32Array(levels);
  }

  /** Allocates a zeroed table page for `level` covering pages from `base`; 0 if none. */
  private allocTable(level: number, base: number, gfp: number): number {
    const addr = this.buddy.allocPages(0, gfp | Gfp.ZERO | Gfp.NOWARN);
    if (addr === 0) return 0;
    const i = (addr >>> this.pageShift) * Frame.WORDS;
    this.f[i + Pg.FLAGS] = PgFlag.HEAD | PgFlag.PGTABLE;
    this.f[i + PgVm.PT_LEVEL] = level;
    this.f[i + PgVm.PT_ENTRIES] = 0;
    this.f[i + PgVm.PT_BASE] = base;
    this.d[VmDesc.NR_PGTABLE]!++;
    this.d[VmDesc.EV_PGTABLE_ALLOC]!++;
    return addr;
  }

  /** @internal A table frame found unreachable (offlineCpu): freed. */
  freeOrphanTable(addr: number): void {
    this.freeTable(addr);
  }

  private freeTable(addr: number): void {
    const i = (addr >>> this.pageShift) * Frame.WORDS;
    this.f[i + Pg.FLAGS] = PgFlag.HEAD;
    this.f[i + PgVm.PT_LEVEL] = 0;
    this.f[i + PgVm.PT_ENTRIES] = 0;
    this.f[i + PgVm.PT_BASE] = 0;
    this.d[VmDesc.NR_PGTABLE]!--;
    this.d[VmDesc.EV_PGTABLE_FREE]!++;
    this.buddy.freePages(addr, 0);
  }

  /** Creates the pgd; returns its frame number, or 0 when no page can be had. */
  createPgd(gfp: number): number {
    const addr = this.allocTable(this.levels - 1, 0, gfp);
    if (addr === 0) return 0;
    this.pgd = addr >>> 2;
    return addr >>> this.pageShift;
  }

  /** Frees the (empty) pgd: set-up failed after it was made. */
  destroyPgd(): void {
    if (this.pgd === 0) return;
    this.freeTable(this.pgd * 4);
    this.pgd = 0;
  }

  /** The frame-descriptor index of the table at word index `t`. */
  private frameOf(t: number): number {
    return (t >>> (this.pageShift - 2)) * Frame.WORDS;
  }

  /**
   * Word index of the leaf table covering `page`, allocating the missing tables on the way
   * with `gfp`; -1 when a table cannot be had (tables made on the way stay, empty: the
   * caller's unmap of what it mapped frees them through releaseEmpty).
   */
  leaf(page: number, gfp: number): number {
    const w = this.w;
    const eb = this.entryBits;
    let t = this.pgd;
    for (let level = this.levels - 1; level > 0; level--) {
      const slot = t + ((page >>> (level * eb)) & this.entryMask);
      const e = w.word(slot);
      if ((e & Pte.PRESENT) !== 0) {
        t = (e & this.addrMask) >>> 2;
        continue;
      }
      const span = level * eb;
      const table = this.allocTable(level - 1, (page >>> span) << span, gfp);
      if (table === 0) {
        this.releaseEmpty(page);
        return -1;
      }
      w.setWord(slot, table | Pte.PRESENT);
      this.f[this.frameOf(t) + PgVm.PT_ENTRIES]!++;
      t = table >>> 2;
    }
    return t;
  }

  /** Sets entry `page` of leaf table `t` (from leaf()) to map the page at `phys`. */
  set(t: number, page: number, phys: number): void {
    this.w.setWord(t + (page & this.entryMask), phys | Pte.PRESENT);
    this.f[this.frameOf(t) + PgVm.PT_ENTRIES]!++;
  }

  /**
   * The physical page mapped at `page`, or -1 when none. Two loads per level; the hot
   * path of every accessor on a virtual address.
   */
  lookup(page: number): number {
    const w = this.w;
    const eb = this.entryBits;
    let t = this.pgd;
    if (t === 0) return -1;
    for (let shift = (this.levels - 1) * eb; shift > 0; shift -= eb) {
      const e = w.word(t + ((page >>> shift) & this.entryMask));
      if ((e & Pte.PRESENT) === 0) return -1;
      t = (e & this.addrMask) >>> 2;
    }
    const pte = w.word(t + (page & this.entryMask));
    return (pte & Pte.PRESENT) === 0 ? -1 : (pte & this.addrMask) >>> 0;
  }

  /**
   * Clears the entries of pages [start, start + n) and frees the tables left empty. With
   * `owned` (a vmalloc area), each page mapped goes back to the page allocator too, its
   * frame reset from HEAD | VMALLOC. Returns the entries cleared.
   *
   * It works from the last page down: freed pages go on a per-cpu list, which hands them
   * out last in, first out, so the next vmalloc gets them in the order this area had them,
   * and physically contiguous runs stay runs (read and write copy a run at once).
   */
  unmapRange(start: number, n: number, owned: boolean): number {
    const w = this.w;
    const f = this.f;
    let cleared = 0;
    let page = start + n;
    while (page > start) {
      const low = Math.max(start, (page - 1) & ~this.entryMask);
      const t = this.walk(page - 1);
      if (t < 0) {
        page = low;
        continue;
      }
      const fi = this.frameOf(t) + PgVm.PT_ENTRIES;
      let entries = f[fi] as number;
      while (page > low) {
        page--;
        const slot = t + (page & this.entryMask);
        const e = w.word(slot);
        if (e === 0) continue;
        w.setWord(slot, 0);
        entries--;
        if ((e & Pte.PRESENT) === 0) {
          // A swap entry of a swappable area (nothing else leaves one).
          this.swapHooks?.freeSwapEntry(e);
          continue;
        }
        cleared++;
        if (owned) {
          const phys = (e & this.addrMask) >>> 0;
          const i = (phys >>> this.pageShift) * Frame.WORDS;
          if (f[i + PgVm.VM_LRU] !== 0) this.swapHooks?.lruDel(phys >>> this.pageShift);
          f[i + Pg.FLAGS] = PgFlag.HEAD;
          f[i + PgVm.VM_PAGE] = 0;
          f[i + PgVm.VM_AREA] = 0;
          f[i + PgVm.VM_REJECT] = 0;
          this.buddy.freePages(phys, 0);
        }
      }
      f[fi] = entries;
      if (entries === 0) this.releaseEmpty(low);
    }
    return cleared;
  }

  /**
   * The word index of `page`'s leaf entry, or -1 when no leaf table covers it: what reclaim
   * and the swap-in fault read and replace.
   */
  entryIndex(page: number): number {
    const t = this.walk(page);
    return t < 0 ? -1 : t + (page & this.entryMask);
  }

  /** Word index of the leaf table covering `page`, or -1; fills `path`. */
  private walk(page: number): number {
    const w = this.w;
    const eb = this.entryBits;
    let t = this.pgd;
    for (let level = this.levels - 1; level > 0; level--) {
      this.path[level] = t;
      const e = w.word(t + ((page >>> (level * eb)) & this.entryMask));
      if ((e & Pte.PRESENT) === 0) return -1;
      t = (e & this.addrMask) >>> 2;
    }
    this.path[0] = t;
    return t;
  }

  /**
   * offlineCpu (vmalloc.ts recover): every table's count of entries set from its entries
   * (a context may die between writing an entry and counting it), and the tables left
   * empty below the pgd freed. Returns the tables whose count was wrong.
   */
  recount(reachable: Set<number>): number {
    if (this.pgd === 0) return 0;
    return this.recountTable(this.pgd, this.levels - 1, reachable);
  }

  private recountTable(t: number, level: number, reachable: Set<number>): number {
    const w = this.w;
    reachable.add((t * 4) >>> this.pageShift);
    let fixed = 0;
    let n = 0;
    for (let k = 0; k <= this.entryMask; k++) {
      const e = w.word(t + k);
      if (e === 0) continue;
      if (level > 0 && (e & Pte.PRESENT) !== 0) {
        const child = (e & this.addrMask) >>> 2;
        fixed += this.recountTable(child, level - 1, reachable);
        if (this.f[this.frameOf(child) + PgVm.PT_ENTRIES] === 0) {
          reachable.delete((child * 4) >>> this.pageShift);
          w.setWord(t + k, 0);
          this.freeTable(child * 4);
          continue;
        }
      }
      n++;
    }
    const fi = this.frameOf(t) + PgVm.PT_ENTRIES;
    if (this.f[fi] !== n) fixed++;
    this.f[fi] = n;
    return fixed;
  }

  /** Frees the empty tables on the path to `page`, bottom up; the pgd stays. */
  releaseEmpty(page: number): void {
    const eb = this.entryBits;
    const deepest = this.walk(page) < 0 ? this.deepestOnPath(page) : 0;
    for (let level = deepest; level < this.levels - 1; level++) {
      const t = this.path[level] as number;
      if (this.f[this.frameOf(t) + PgVm.PT_ENTRIES] !== 0) return;
      const parent = this.path[level + 1] as number;
      this.w.setWord(parent + ((page >>> ((level + 1) * eb)) & this.entryMask), 0);
      this.f[this.frameOf(parent) + PgVm.PT_ENTRIES]!--;
      this.freeTable(t * 4);
    }
  }

  /** After a walk that stopped early: the lowest level whose table is on the path. */
  private deepestOnPath(page: number): number {
    const eb = this.entryBits;
    for (let level = this.levels - 1; level > 0; level--) {
      const t = this.path[level] as number;
      const e = this.w.word(t + ((page >>> (level * eb)) & this.entryMask));
      if ((e & Pte.PRESENT) === 0) return level;
    }
    return 0;
  }

  /* ------------------------------------------------------------------ introspection */

  /**
   * Checks VM-2 and returns the number of present leaf entries. `managed` is the first
   * managed frame, `total` the number of frames.
   */
  verify(
    managed: number,
    total: number,
    nrPages: number,
    onSwapEntry: (page: number, entry: number) => void = () => {},
  ): number {
    if (this.pgd === 0) return 0;
    const seen = new Set<number>();
    let leaves = 0;
    const visit = (t: number, level: number, base: number): void => {
      const pfn = t >>> (this.pageShift - 2);
      if (pfn < managed || pfn >= total)
        corrupt("VM-2", `a table lies at frame ${pfn}, outside managed memory`);
      if (seen.has(pfn)) corrupt("VM-2", `the table at frame ${pfn} is reached twice`);
      seen.add(pfn);
      const fi = pfn * Frame.WORDS;
      if (
        this.f[fi + Pg.FLAGS] !== (PgFlag.HEAD | PgFlag.PGTABLE) ||
        this.f[fi + Pg.ORDER] !== 0 ||
        this.f[fi + PgVm.PT_LEVEL] !== level ||
        this.f[fi + PgVm.PT_BASE] !== base
      ) {
        corrupt("VM-2", `the level-${level} table at frame ${pfn} has wrong frame metadata`);
      }
      let present = 0;
      const perTable = this.entryMask + 1;
      const span = level * this.entryBits;
      for (let k = 0; k < perTable; k++) {
        const e = this.w.word(t + k);
        if (e === 0) continue;
        const page = base + k * 2 ** span;
        if (level === 0 && (e & Pte.PRESENT) === 0) {
          if (page >= nrPages) corrupt("VM-2", `a swap entry at page ${page}, beyond the space`);
          present++;
          onSwapEntry(page, e);
          continue;
        }
        const bits = e & ~this.addrMask;
        if (bits !== Pte.PRESENT && (level !== 0 || bits !== Pte.FLAGS)) {
          corrupt("VM-2", `entry ${k} of the level-${level} table at frame ${pfn} is ${e >>> 0}`);
        }
        if (page >= nrPages) corrupt("VM-2", `an entry maps page ${page}, beyond the space`);
        const target = ((e & this.addrMask) >>> 0) / 2 ** this.pageShift;
        present++;
        if (level === 0) {
          if (target >= total) corrupt("VM-2", `page ${page} maps frame ${target}, beyond memory`);
          leaves++;
        } else {
          visit((e & this.addrMask) >>> 2, level - 1, page);
        }
      }
      if (this.f[fi + PgVm.PT_ENTRIES] !== present) {
        corrupt(
          "VM-2",
          `the level-${level} table at frame ${pfn} counts ${this.f[fi + PgVm.PT_ENTRIES]} entries but has ${present}`,
        );
      }
      if (present === 0 && level !== this.levels - 1) {
        corrupt("VM-2", `the level-${level} table at frame ${pfn} is empty but was kept`);
      }
    };
    visit(this.pgd, this.levels - 1, 0);
    let frames = 0;
    for (let pfn = managed; pfn < total; pfn++) {
      if (((this.f[pfn * Frame.WORDS + Pg.FLAGS] as number) & PgFlag.PGTABLE) !== 0) frames++;
    }
    if (this.d[VmDesc.NR_PGTABLE] !== seen.size || frames !== seen.size) {
      corrupt(
        "VM-2",
        `nr_page_table_pages is ${this.d[VmDesc.NR_PGTABLE]}, ${seen.size} tables are reachable and ${frames} frames are PGTABLE`,
      );
    }
    return leaves;
  }
}
