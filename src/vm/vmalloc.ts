/*
 * vmalloc: virtually contiguous memory from physically scattered pages (mm/vmalloc.c).
 *
 * An allocation reserves pages + 1 of the vmalloc space by best fit (the extra one is the
 * guard page, never mapped: an overrun faults instead of reaching the next area), takes
 * that many order-0 pages from the buddy allocator one by one (so it succeeds however
 * fragmented memory is), and maps them through the page tables. vmap maps pages the caller
 * already holds; vfree and vunmap undo either, and vfree gives the pages back.
 *
 *   vmalloc(3 pages):   space  [ page 0 | page 1 | page 2 | guard ]
 *                                  |        |        |
 *   physical frames:            0x9000   0x3000   0x1c000      (HEAD | VMALLOC each)
 *
 * A failure part-way (no page, no table, no record) undoes everything it did: the pages
 * taken go back, the tables made empty are freed, the area returns to the free space.
 *
 * Lock: the vmalloc lock (Hdr.LOCK_VMALLOC, with more than one cpu) guards the descriptor,
 * the areas and the page tables; vmalloc, vfree, vmap and vunmap take it, and it is taken
 * before the slab and zone locks (they allocate records and pages while holding it). The
 * accessors read the tables without it (a stale translation is caught by TLB_GEN).
 *
 * State: the descriptor (layout.ts VmDesc) is kmalloc'd when the first vmalloc or vmap
 * sets the layer up, anchored at header[Hdr.VMALLOC]; the pgd and the first record are
 * made then too and stay. Everything else comes and goes with the areas.
 *
 * Invariants (verify() reports them by id; VM-2 in pgtable.ts, VM-3..VM-5 in areas.ts):
 *   VM-1  header[Hdr.VMALLOC] is 0 and no frame is VMALLOC or PGTABLE, or it is a live
 *         kmalloc object with the magic, this instance's geometry and its pgd
 *   VM-6  a busy area maps every page but its last (the guard page, unmapped); a vmalloc
 *         area's pages are HEAD | VMALLOC order-0 frames naming that page and that area; a
 *         vmap area's pages are allocated managed pages; nothing else is mapped
 *   VM-7  nr_vmalloc equals the pages of the vmalloc areas and the VMALLOC frames
 * (VM-6 and VM-7 count a swapped-out page of a swappable area as its swap entry: it has
 * no frame; src/swap checks the entry, SWAP-2.)
 *
 * A dead context (offlineCpu, src/sync/robust.ts) that held the lock: recover() rebuilds
 * what it guards from ground truth, with no record of what was under way:
 *   page tables     each table's entry count from its entries; empty tables below the pgd
 *                   and PGTABLE frames no table links to (a table made, not yet linked)
 *                   freed; nr_page_table_pages recounted
 *   areas           the busy records of the address list are the areas (a record's fields
 *                   are written before it is linked, its kind after); an area not wholly
 *                   mapped, or with its guard page mapped, was being made or undone: it is
 *                   unmapped (its pages freed if it owns them) and joins the free space
 *                   (roll back a vmalloc or vmap, roll forward a vfree or vunmap)
 *   frames          a VMALLOC frame not mapped where it says (taken, not yet mapped) freed
 *   free space      the ranges between the areas, on records of the old list (others
 *                   freed, one made if short), the list and both trees rebuilt, the counts
 *                   and nr_vmalloc recounted, the translation generation bumped
 * A record allocated and not linked, or unlinked and not yet freed, and a page taken and
 * not yet marked, are the dead context's. The swap layer's state, which this lock also
 * guards, is not rebuilt: a death inside swap-out or swap-in is left for verify() to find.
 *
 * Swappable areas (vmalloc(..., swappable)): their pages go on the LRU lists of src/swap
 * once mapped; swap-out replaces a page's entry by a swap entry and frees the page, the
 * accessors' fault brings it back. Swap state is guarded by this file's lock too (0 in the
 * lock order). Reclaim may run while this context holds the lock: every allocation made
 * under it happens where the tables and areas are consistent, and swap-out only rewrites
 * leaf entries of LRU pages (never a table, a record or a page being mapped), so
 * reclaimLock() lets this context's reclaim in and tries the lock for any other.
 */

import { hex, KmemError } from "../errors.js";
import { Frame, Hdr, Pg, PgFlag, type PhysMem } from "../memory/index.js";
import { type BuddyAllocator, Gfp, gfpString } from "../page/index.js";
import { lock, tryLock, unlock } from "../sync/index.js";
import { type RecordAllocator, VmapAreas } from "./areas.js";
import {
  PgVm,
  VaFlag,
  VM_DESC_EVENT_NAMES,
  VmDesc,
  type VmGeometry,
  vmallocGeometry,
} from "./layout.js";
import { PageTables } from "./pgtable.js";
import { verifyVmalloc } from "./verify.js";

/** What the vmalloc layer calls in the swap layer (src/swap installs it). */
export interface VmSwap {
  /** The pages [start, end) of swappable area `rec` were just mapped: onto the LRU. */
  lruAddRange(start: number, end: number): void;
  /** The accessors met swap entry `entry` at page `page`: bring it back; false if gone. */
  swapIn(page: number): boolean;
  /** verify(): the swap entries of the tables (page -> entry) and the swappable areas. */
  verify(entries: Map<number, number>, swappable: [number, number, number][]): void;
}

/** Who asked for an area, as vmallocinfo prints it. */
export const enum Caller {
  UNKNOWN = 0,
  VMALLOC = 1,
  VZALLOC = 2,
  VMAP = 3,
  KVMALLOC = 4,
  KVZALLOC = 5,
}

const CALLER_NAMES = ["(unknown)", "vmalloc", "vzalloc", "vmap", "kvmalloc", "kvzalloc"];

/** kmem's own source folder: stack frames inside it are not the caller. */
const LIBRARY_DIR = new URL("..", import.meta.url).pathname;

/** One line of vmallocinfo. */
export interface VmapAreaInfo {
  /** First virtual address, and one past the guard page. */
  start: number;
  end: number;
  /** end - start: the mapped pages and the guard page, in bytes (as Linux prints it). */
  size: number;
  caller: string;
  /** Pages the area owns (vmalloc), 0 for a vmap area. */
  pages: number;
  kind: "vmalloc" | "vmap";
}

export class Vmalloc {
  readonly geometry: VmGeometry;
  /** VMALLOC_START, VMALLOC_END and the space's size in bytes. */
  readonly start: number;
  readonly end: number;
  readonly size: number;
  /** @internal */
  readonly phys: PhysMem;
  /** @internal */
  readonly buddy: BuddyAllocator;
  private readonly records: RecordAllocator;
  /** @internal */
  readonly h: Int32Array;
  /** @internal */
  readonly f: Int32Array;
  /** @internal */
  readonly pageSize: number;
  private readonly pageShift: number;
  /** @internal */
  readonly nrPages: number;
  /** @internal */
  readonly pt: PageTables;
  /** @internal */
  readonly areas: VmapAreas;
  /** The descriptor's address; 0 until the layer is set up. */
  /** @internal */
  desc = 0;
  /** The descriptor's words (zeros of a stand-in until set-up). */
  d: Int32Array;
  /** Record the caller's stack frame, not just the entry point (slub_debug U). */
  private readonly trackCallers: boolean;
  /** More than one cpu: the vmalloc lock is taken. */
  private readonly smp: boolean;
  private readonly callerNames: string[] = CALLER_NAMES.slice();
  /** The vmalloc lock's depth in this context (reclaim under it: reclaimLock). */
  private held = 0;
  /** The swap layer, once anything swappable exists in this context. */
  swap: VmSwap | null = null;
  private readonly callerIds = new Map<string, number>();

  constructor(
    phys: PhysMem,
    buddy: BuddyAllocator,
    records: RecordAllocator,
    trackCallers: boolean,
  ) {
    this.phys = phys;
    this.buddy = buddy;
    this.records = records;
    this.h = phys.header;
    this.f = phys.frames;
    this.pageSize = phys.pageSize;
    this.pageShift = phys.pageShift;
    this.trackCallers = trackCallers;
    this.smp = phys.nrCpus > 1;
    // Above every frame the mem_map has room for: memory brought online later (hotplug)
    // never reaches into the space.
    const g = vmallocGeometry(phys.maxPages, phys.pageShift);
    this.geometry = g;
    this.start = g.start;
    this.end = g.end;
    this.size = g.end - g.start;
    this.nrPages = g.nrPages;
    this.d = new Int32Array(VmDesc.WORDS);
    this.pt = new PageTables(phys, phys.frames, buddy, g.levels, this.d);
    this.areas = new VmapAreas(phys, records, this.d);
    // A buffer that has the layer set up already (reopened): take its descriptor.
    const desc = (this.h[Hdr.VMALLOC] as number) >>> 0;
    if (desc !== 0) this.adopt(desc);
  }

  /** Takes the descriptor another context of a shared instance made, if there is one now. */
  refresh(): void {
    if (this.desc !== 0) return;
    const desc = (this.h[Hdr.VMALLOC] as number) >>> 0;
    if (desc !== 0) this.adopt(desc);
  }

  private adopt(desc: number): void {
    const d = this.phys.wordsAt(desc, VmDesc.WORDS);
    this.desc = desc;
    this.d = d;
    this.pt.d = d;
    this.areas.d = d;
    this.pt.pgd = ((d[VmDesc.PGD] as number) * this.pageSize) / 4;
  }

  /** Makes the descriptor, the pgd and the first record; false when memory is short. */
  private setup(gfp: number): boolean {
    const desc = this.records.kmalloc(VmDesc.BYTES, gfp | Gfp.ZERO) >>> 0;
    if (desc === 0) return false;
    const d = this.phys.wordsAt(desc, VmDesc.WORDS);
    d.fill(0);
    this.pt.d = d;
    this.areas.d = d;
    const pgd = this.pt.createPgd(gfp);
    if (pgd === 0 || !this.areas.init(this.nrPages, gfp)) {
      this.pt.destroyPgd();
      this.pt.d = this.d;
      this.areas.d = this.d;
      this.records.kfree(desc);
      return false;
    }
    d[VmDesc.START_PAGE] = this.start / this.pageSize;
    d[VmDesc.NR_PAGES] = this.nrPages;
    d[VmDesc.LEVELS] = this.geometry.levels;
    d[VmDesc.PGD] = pgd;
    d[VmDesc.MAGIC] = VmDesc.MAGIC_VALUE;
    // Failures counted before the descriptor existed carry over.
    d[VmDesc.EV_VMALLOC_FAIL]! += this.d[VmDesc.EV_VMALLOC_FAIL] as number;
    this.d = d;
    this.desc = desc;
    this.h[Hdr.VMALLOC] = desc;
    return true;
  }

  /** A caller id for vmallocinfo: the entry point, or the user's stack frame when tracking. */
  private caller(entry: Caller): number {
    if (!this.trackCallers) return entry;
    const lines = (new Error().stack ?? "").split("\n").slice(1);
    let site = CALLER_NAMES[entry] as string;
    for (const line of lines) {
      if (!line.includes(LIBRARY_DIR)) {
        // "at fn (file:///app/main.js:3:14)" -> "/app/main.js:3:14": one word, as %pS is.
        const where = /\(([^)]*)\)\s*$/.exec(line)?.[1] ?? line.trim().replace(/^at /, "");
        site = where.replace(/^file:\/\//, "").replace(/\s/g, "_");
        break;
      }
    }
    let id = this.callerIds.get(site);
    if (id === undefined) {
      id = this.callerNames.length;
      this.callerNames.push(site);
      this.callerIds.set(site, id);
    }
    return id;
  }

  /* ------------------------------------------------------------------ vmalloc, vfree */

  /** Takes the vmalloc lock (with more than one cpu) and the descriptor if another made it. */
  lock(): void {
    if (this.smp) lock(this.phys.words, Hdr.LOCK_VMALLOC, this.buddy.cpu, "the vmalloc lock");
    this.held++;
    this.refresh();
  }

  unlock(): void {
    this.held--;
    if (this.smp) unlock(this.phys.words, Hdr.LOCK_VMALLOC, this.buddy.cpu);
  }

  /**
   * For reclaim: the lock, or leave to work under it when this context holds it already
   * (reclaim from an allocation made under it, see the header); false when another
   * context holds it (reclaim skips the LRU then, as shrink_folio_list skips a locked
   * folio). Release with reclaimUnlock(true) when this returned true.
   */
  reclaimLock(): boolean {
    if (this.held > 0) {
      this.held++;
      return true;
    }
    if (this.smp && !tryLock(this.phys.words, Hdr.LOCK_VMALLOC, this.buddy.cpu)) return false;
    this.held++;
    this.refresh();
    return true;
  }

  reclaimUnlock(): void {
    this.held--;
    if (this.held === 0 && this.smp) unlock(this.phys.words, Hdr.LOCK_VMALLOC, this.buddy.cpu);
  }

  /** Whether this context holds the vmalloc lock (the OOM killer does not run under it). */
  get locked(): boolean {
    return this.held > 0;
  }

  /** The descriptor's address (0 before set-up). */
  get descriptor(): number {
    return this.desc;
  }

  /** The swappable area record holding `page`, or 0. */
  swappableArea(page: number): number {
    if (this.desc === 0) return 0;
    const rec = this.areas.containing(page);
    return rec !== 0 && this.areas.flags(rec) === VaFlag.VMALLOC && this.areas.swappable(rec)
      ? rec
      : 0;
  }

  /**
   * __vmalloc_node_range: `size` bytes (a non-negative integer, checked by the facade) of
   * virtually contiguous memory, for the entry point `entry`. Returns the virtual address,
   * or 0 for 0 bytes and when it cannot be had (nothing is kept then, but the layer's
   * set-up once made).
   */
  vmalloc(size: number, gfp: number, entry: Caller, swappable = false): number {
    const site = this.caller(entry);
    this.lock();
    try {
      return this.vmallocLocked(size, gfp, site, swappable);
    } finally {
      this.unlock();
    }
  }

  private vmallocLocked(size: number, gfp: number, caller: number, swappable: boolean): number {
    const nr = Math.ceil(size / this.pageSize);
    if (nr === 0) return 0;
    if (nr > this.phys.managedPages || nr + 1 > this.nrPages) {
      return this.failed(size, gfp, "exceeds total pages");
    }
    if (this.desc === 0 && !this.setup(gfp)) {
      return this.failed(size, gfp, "vm_struct allocation failed");
    }
    const kind = swappable ? VaFlag.VMALLOC | VaFlag.SWAPPABLE : VaFlag.VMALLOC;
    const rec = this.areas.alloc(nr + 1, kind, caller, gfp & ~Gfp.ZERO);
    if (rec === 0) return this.failed(size, gfp, "vm_struct allocation failed");
    const start = this.areas.start(rec);
    const end = start + nr;
    const f = this.f;
    const pt = this.pt;
    const pageGfp = gfp | Gfp.NOWARN;
    let t = -1;
    let page = start;
    for (; page < end; page++) {
      if (t < 0 || (page & pt.entryMask) === 0) {
        t = pt.leaf(page, gfp & ~Gfp.ZERO);
        if (t < 0) break;
      }
      const addr = this.buddy.allocPages(0, pageGfp);
      if (addr === 0) break;
      const i = (addr >>> this.pageShift) * Frame.WORDS;
      f[i + Pg.FLAGS] = PgFlag.HEAD | PgFlag.VMALLOC;
      f[i + PgVm.VM_PAGE] = page;
      f[i + PgVm.VM_AREA] = rec;
      f[i + PgVm.VM_REJECT] = 0;
      pt.set(t, page, addr);
    }
    if (page < end) {
      // Part-way: give back every page and table taken, then the area.
      pt.unmapRange(start, page - start, true);
      pt.releaseEmpty(page);
      this.areas.release(rec);
      return this.failed(size, gfp, "page order 0, failed to allocate pages");
    }
    this.d[VmDesc.NR_VMALLOC]! += nr;
    this.d[VmDesc.EV_VMALLOC]!++;
    if (swappable) this.swap?.lruAddRange(start, end);
    return this.start + start * this.pageSize;
  }

  /** warn_alloc's "vmalloc error" (unless __GFP_NOWARN); returns 0. */
  private failed(size: number, gfp: number, why: string): number {
    this.d[VmDesc.EV_VMALLOC_FAIL]!++;
    const log = this.buddy.log;
    if ((gfp & Gfp.NOWARN) === 0 && log !== null) {
      log(`kmem: vmalloc error: size ${size}, ${why}, mode:${gfpString(gfp)}`);
    }
    return 0;
  }

  /**
   * vfree: `addr` is an integer inside the vmalloc space. Every misuse is found before any
   * state changes.
   */
  vfree(addr: number): void {
    this.lock();
    try {
      this.vfreeLocked(addr);
    } finally {
      this.unlock();
    }
  }

  private vfreeLocked(addr: number): void {
    const rec = this.busyArea(addr, "vfree", VaFlag.VMALLOC);
    const start = this.areas.start(rec);
    const nr = this.areas.pages(rec) - 1;
    // Pages swapped out have no frame: only the pages mapped count out of nr_vmalloc.
    const mapped = this.pt.unmapRange(start, nr, true);
    this.d[VmDesc.NR_VMALLOC]! -= mapped;
    this.d[VmDesc.EV_VFREE]!++;
    this.d[VmDesc.TLB_GEN]!++;
    this.areas.release(rec);
  }

  /**
   * offlineCpu: the vmalloc lock was held by cpu `dead`, which died inside a critical
   * section (the lock is this context's now). Rebuilt from ground truth (the header's "A
   * dead context"). Returns what was done; throws on damage no death explains.
   */
  recover(): string {
    this.refresh();
    const f = this.f;
    const total = this.phys.totalPages;
    if (this.desc === 0) {
      // A first vmalloc that died setting the space up: its pgd is the only table.
      let lost = 0;
      for (let pfn = this.phys.firstManagedPfn; pfn < total; pfn++) {
        const i = pfn * Frame.WORDS;
        if (((f[i + Pg.FLAGS] as number) & PgFlag.PGTABLE) === 0) continue;
        f[i + Pg.FLAGS] = PgFlag.HEAD;
        f[i + PgVm.PT_LEVEL] = 0;
        f[i + PgVm.PT_ENTRIES] = 0;
        f[i + PgVm.PT_BASE] = 0;
        this.buddy.freePages(pfn * this.pageSize, 0);
        lost++;
      }
      return `no vmalloc space yet${lost > 0 ? `; ${lost} table of a setup half done freed` : ""}`;
    }
    if (this.d[VmDesc.MAGIC] !== VmDesc.MAGIC_VALUE) throw new Error("the descriptor's magic");
    const pt = this.pt;
    const areas = this.areas;
    // 1. Page tables: counts from entries, empty and unreachable tables freed.
    const reachable = new Set<number>();
    const fixedTables = pt.recount(reachable);
    let orphanTables = 0;
    for (let pfn = this.phys.firstManagedPfn; pfn < total; pfn++) {
      const flags = f[pfn * Frame.WORDS + Pg.FLAGS] as number;
      if ((flags & PgFlag.PGTABLE) !== 0 && !reachable.has(pfn)) {
        pt.freeOrphanTable(pfn * this.pageSize);
        orphanTables++;
      }
    }
    this.d[VmDesc.NR_PGTABLE] = reachable.size;
    // 2. The areas: the busy records of the address list (fields written before a record is
    //    linked); an area not wholly mapped (a vmalloc or vmap half done, a vfree or vunmap
    //    half undone) is unmapped, its pages freed if it owns them, and it becomes free.
    const listed = areas.listed(this.nrPages + 2);
    if (listed === null) throw new Error("the list of areas is damaged");
    const busy: number[] = [];
    const spare: number[] = [];
    let end = 0;
    let torn = 0;
    for (const rec of listed) {
      const kind = areas.flags(rec);
      if (kind !== VaFlag.VMALLOC && kind !== VaFlag.VMAP) {
        spare.push(rec);
        continue;
      }
      const start = areas.start(rec);
      const pages = areas.pages(rec);
      if (start < end || pages < 2 || start + pages > this.nrPages) {
        throw new Error(`the area at page ${start} overlaps or leaves the space`);
      }
      end = start + pages;
      let whole = true;
      for (let page = start; page < end - 1 && whole; page++) {
        if (pt.lookup(page) >= 0) continue;
        const e = pt.entryIndex(page);
        whole = e >= 0 && this.phys.word(e) !== 0 && areas.swappable(rec);
      }
      if (whole && pt.lookup(end - 1) < 0) {
        busy.push(rec);
        continue;
      }
      pt.unmapRange(start, pages, kind === VaFlag.VMALLOC);
      spare.push(rec);
      torn++;
    }
    // 3. Frames a vmalloc had marked and not mapped yet: freed.
    let orphanPages = 0;
    for (let pfn = this.phys.firstManagedPfn; pfn < total; pfn++) {
      const i = pfn * Frame.WORDS;
      if (((f[i + Pg.FLAGS] as number) & PgFlag.VMALLOC) === 0) continue;
      if (pt.lookup(f[i + PgVm.VM_PAGE] as number) === pfn * this.pageSize) continue;
      f[i + Pg.FLAGS] = PgFlag.HEAD;
      f[i + PgVm.VM_PAGE] = 0;
      f[i + PgVm.VM_AREA] = 0;
      this.buddy.freePages(pfn * this.pageSize, 0);
      orphanPages++;
    }
    // 4. The free space, the list and both trees around the busy areas; the counts.
    areas.rebuild(this.nrPages, busy, spare);
    let owned = 0;
    for (let pfn = this.phys.firstManagedPfn; pfn < total; pfn++) {
      if (((f[pfn * Frame.WORDS + Pg.FLAGS] as number) & PgFlag.VMALLOC) !== 0) owned++;
    }
    this.d[VmDesc.NR_VMALLOC] = owned;
    this.d[VmDesc.TLB_GEN]!++;
    const fixes = [
      torn > 0 ? `${torn} area${torn > 1 ? "s" : ""} half made or half freed undone` : "",
      orphanPages > 0 ? `${orphanPages} unmapped pages freed` : "",
      fixedTables + orphanTables > 0
        ? `${fixedTables} table counts and ${orphanTables} lost tables put right`
        : "",
    ].filter((x) => x !== "");
    return `${busy.length} areas and the free space rebuilt${fixes.length > 0 ? `; ${fixes.join(", ")}` : ""}`;
  }

  /** The busy area of kind `kind` starting at `addr`, or the KmemError saying why not. */
  private busyArea(addr: number, fn: string, kind: number): number {
    const off = addr - this.start;
    const page = Math.floor(off / this.pageSize);
    const rec = this.desc !== 0 && off % this.pageSize === 0 ? this.areas.findBusy(page) : 0;
    if (rec !== 0 && this.areas.flags(rec) === kind) return rec;
    const where = `${fn}(${hex(addr)})`;
    if (rec !== 0) {
      throw new KmemError(
        "INVALID_FREE",
        kind === VaFlag.VMALLOC
          ? `${where}: the area was mapped by vmap (undo it with vunmap)`
          : `${where}: the area came from vmalloc (free it with vfree)`,
      );
    }
    const around = this.desc === 0 ? 0 : this.areas.containing(page);
    if (around !== 0 && this.areas.flags(around) !== VaFlag.FREE) {
      const s = this.start + this.areas.start(around) * this.pageSize;
      throw new KmemError(
        "INVALID_FREE",
        `${where}: not the start of an area: it is inside the area at ${hex(s)}`,
      );
    }
    if (around !== 0 && off % this.pageSize === 0) {
      throw new KmemError("DOUBLE_FREE", `${where}: no area is mapped there: it is already free`);
    }
    throw new KmemError(
      "INVALID_FREE",
      `${where}: not an address ${fn === "vfree" ? "vmalloc" : "vmap"} returned`,
    );
  }

  /* ------------------------------------------------------------------ vmap, vunmap */

  /**
   * vmap: maps the pages at the given physical addresses (each page-aligned, managed and
   * allocated) at consecutive virtual pages. Returns the virtual address, or 0.
   */
  vmap(pages: ArrayLike<number>): number {
    const site = this.caller(Caller.VMAP);
    this.lock();
    try {
      return this.vmapLocked(pages, site);
    } finally {
      this.unlock();
    }
  }

  private vmapLocked(pages: ArrayLike<number>, caller: number): number {
    const n = pages.length;
    for (let k = 0; k < n; k++) this.checkVmapPage(pages[k], k);
    if (n === 0 || n + 1 > this.nrPages) return 0;
    if (this.desc === 0 && !this.setup(Gfp.KERNEL)) return 0;
    const rec = this.areas.alloc(n + 1, VaFlag.VMAP, caller, Gfp.KERNEL);
    if (rec === 0) return 0;
    const start = this.areas.start(rec);
    const pt = this.pt;
    let t = -1;
    let k = 0;
    for (; k < n; k++) {
      const page = start + k;
      if (t < 0 || (page & pt.entryMask) === 0) {
        t = pt.leaf(page, Gfp.KERNEL);
        if (t < 0) break;
      }
      pt.set(t, page, pages[k] as number);
    }
    if (k < n) {
      pt.unmapRange(start, k, false);
      this.areas.release(rec);
      return 0;
    }
    this.d[VmDesc.EV_VMAP]!++;
    return this.start + start * this.pageSize;
  }

  private checkVmapPage(addr: unknown, k: number): void {
    const name = `pages[${k}]`;
    if (typeof addr !== "number" || !Number.isInteger(addr)) {
      throw new TypeError(`${name} must be the integer address of a page, got ${String(addr)}`);
    }
    const first = this.phys.firstManagedPfn * this.pageSize;
    const endAddr = this.phys.totalPages * this.pageSize;
    if (addr < first || addr >= endAddr || addr % this.pageSize !== 0) {
      throw new RangeError(
        `${name} must be a page-aligned address of managed memory (${hex(first)}..${hex(endAddr)}), got ${addr < 0 ? addr : hex(addr)}`,
      );
    }
    const pfn = addr / this.pageSize;
    if (!this.phys.hasFrame(pfn)) {
      throw new RangeError(
        `${name} (${hex(addr)}) is in no node: a hole between one node's end and the next node's window`,
      );
    }
    const owner = this.buddy.ownerOf(pfn);
    if (owner === null || (owner.flags & PgFlag.HEAD) === 0) {
      throw new RangeError(
        `${name} (${hex(addr)}) is a free page: only allocated pages can be mapped`,
      );
    }
    if ((owner.flags & PgFlag.PGTABLE) !== 0) {
      throw new RangeError(`${name} (${hex(addr)}) holds a page table`);
    }
  }

  /** vunmap: `addr` is an integer inside the vmalloc space. The pages stay the caller's. */
  vunmap(addr: number): void {
    this.lock();
    try {
      this.vunmapLocked(addr);
    } finally {
      this.unlock();
    }
  }

  private vunmapLocked(addr: number): void {
    const rec = this.busyArea(addr, "vunmap", VaFlag.VMAP);
    this.pt.unmapRange(this.areas.start(rec), this.areas.pages(rec) - 1, false);
    this.d[VmDesc.EV_VUNMAP]!++;
    this.d[VmDesc.TLB_GEN]!++;
    this.areas.release(rec);
  }

  /**
   * freePages of the block of `count` frames at `pfn`: INVALID_FREE naming the vmap area
   * that still maps one of them (the pages are the caller's, but their mapping must go
   * first, or writes through it land in their next owner). Looks only while a vmap area
   * is live (vmap events outnumber vunmap's).
   */
  checkNotMapped(pfn: number, count: number, fn: string): void {
    this.lock();
    try {
      if (this.desc === 0 || this.d[VmDesc.EV_VMAP] === this.d[VmDesc.EV_VUNMAP]) return;
      for (const rec of this.areas.busy()) {
        if (this.areas.flags(rec) !== VaFlag.VMAP) continue;
        const start = this.areas.start(rec);
        const end = start + this.areas.pages(rec) - 1;
        for (let page = start; page < end; page++) {
          const phys = this.pt.lookup(page);
          const p = Math.floor(phys / this.pageSize);
          if (phys >= 0 && p >= pfn && p < pfn + count) {
            throw new KmemError(
              "INVALID_FREE",
              `${fn}(${hex(pfn * this.pageSize)}): frame ${p} is still mapped by the vmap area at ${hex(this.start + start * this.pageSize)} (vunmap it first)`,
            );
          }
        }
      }
    } finally {
      this.unlock();
    }
  }

  /* ------------------------------------------------------------------ translation */

  /** The page tables (the accessors walk them). */
  get pageTables(): PageTables {
    return this.pt;
  }

  /** What lies at virtual address `addr` (in the space), for a FAULT message. */
  describe(addr: number): string {
    const page = Math.floor((addr - this.start) / this.pageSize);
    const rec = this.desc === 0 ? 0 : this.areas.containing(page);
    if (rec === 0 || this.areas.flags(rec) === VaFlag.FREE) {
      return "no area is mapped there (free vmalloc space)";
    }
    const s = this.areas.start(rec);
    const kind = this.areas.flags(rec) === VaFlag.VMALLOC ? "vmalloc" : "vmap";
    const at = hex(this.start + s * this.pageSize);
    if (page === s + this.areas.pages(rec) - 1)
      return `it is the guard page of the ${kind} area at ${at}`;
    return `the page is not mapped (inside the ${kind} area at ${at})`;
  }

  /* ------------------------------------------------------------------ introspection */

  /** Pages owned by vmalloc areas (nr_vmalloc, VmallocUsed). */
  vmallocPages(): number {
    return this.d[VmDesc.NR_VMALLOC] as number;
  }

  /** Page-table pages (nr_page_table_pages, PageTables). */
  pageTablePages(): number {
    return this.d[VmDesc.NR_PGTABLE] as number;
  }

  /** kmem's vmalloc event counters, by vmstat name. */
  events(): [string, number][] {
    return VM_DESC_EVENT_NAMES.map((name, i) => [
      name,
      (this.d[VmDesc.EV_VMALLOC + i] as number) >>> 0,
    ]);
  }

  /** The busy areas in address order, as vmallocinfo lists them. */
  info(): VmapAreaInfo[] {
    if (this.desc === 0) return [];
    return this.areas.busy().map((rec) => {
      const flags = this.areas.flags(rec);
      const pages = this.areas.pages(rec);
      const start = this.start + this.areas.start(rec) * this.pageSize;
      return {
        start,
        end: start + pages * this.pageSize,
        size: pages * this.pageSize,
        caller: this.callerNames[this.areas.caller(rec)] ?? "(unknown)",
        pages: flags === VaFlag.VMALLOC ? pages - 1 : 0,
        kind: flags === VaFlag.VMALLOC ? "vmalloc" : "vmap",
      };
    });
  }

  /** Checks VM-1..VM-7 (verify.ts); `isObject` says whether an address is a live kmalloc object. */
  verify(isObject: (addr: number) => boolean): void {
    verifyVmalloc(this, isObject);
  }
}
