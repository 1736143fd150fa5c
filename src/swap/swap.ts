/*
 * Swap: the LRU lists of swappable vmalloc pages, reclaim that pages them out to zswap (a
 * compressed cache in a zsmalloc pool) or to a swap area's device (a zram device), swap
 * entries in the page tables, and the swap-in the accessors' fault asks for. Linux's
 * mm/vmscan.c (shrink_lruvec, shrink_active_list, shrink_folio_list), mm/swapfile.c
 * (swapon, get_swap_page, swap_free), mm/zswap.c (zswap_store, zswap_load) and
 * mm/memory.c (do_swap_page), for one node's one lruvec.
 *
 *   vmalloc(size, gfp, { swappable })      pages mapped -> inactive list (ACCESSED clear)
 *   access through the accessors           the walk sets ACCESSED (a TLB fill)
 *   reclaim (kswapd, direct)               inactive tail: ACCESSED -> clear, to the active
 *                                          list; else a slot, zswap or the device, the entry
 *                                          becomes a swap entry, the page is freed
 *                                          active list longer than inactive: deactivate
 *   access to a swapped page               fault -> a page (may reclaim, may OOM-kill),
 *                                          decompress or read, map, free the slot
 *
 * What is swappable: only pages of areas made with { swappable: true }. Kernel memory
 * (kmalloc, slabs, allocPages, plain vmalloc: kmem's own tables live there) never is, as in
 * Linux, where only user pages (anonymous and file-backed) are on the LRU.
 *
 * Lock: the vmalloc lock (0 in the lock order) guards all of it: the descriptor, the LRU
 * lists and the frames' LRU words, the areas and their slot tables, zswap's entries. Swap-
 * out and swap-in take it (reclaim with reclaimLock: its own context's lock if held, else a
 * try, skipping the LRU when another context holds it); under it they take a zram slot
 * lock (2b) and a zsmalloc pool's lock (4a) and allocate only zsmalloc objects, which
 * reclaim does from its reserves (PF_MEMALLOC) without recursing. A swap-in allocates its
 * page before it takes the lock, so the reclaim (and the OOM kill) that allocation may
 * cause runs with no lock of this layer held. Counters are written under the lock; the
 * reports read them without.
 *
 * Concurrency limit (documented in docs/compression.md): an access in one context to a
 * page another context swaps out at the same instant may write to the page after it was
 * compressed (Linux stops such a cpu with a TLB-flush IPI; JavaScript has none). Every later
 * access faults correctly: swap-out bumps TLB_GEN before the page is freed.
 *
 * Invariants (verify() reports them by id):
 *   SWAP-1  header[Hdr.SWAP] is 0, or a live kmalloc object with the magic; every area in
 *           use has a slot table (a vmalloc area of its slots), a live zram device or none,
 *           1 <= slots, and its free count and device count agree with its table
 *   SWAP-2  every swap entry of the tables lies in a swappable area and names a used slot
 *           of an active area, whose area word is that vmap_area; each used slot is named
 *           by exactly one entry
 *   SWAP-3  a used slot holds its page in zswap (a live handle of the zswap pool with an
 *           object of its length, or a same-filled value) or on the device (the zram
 *           sector is not empty), exactly one of them; a free slot is all zeros; zswap's
 *           stored pages, same-filled pages and compressed bytes agree with the slots
 *   LRU-1   the active and inactive lists are well linked (prev links, no cycle, counts),
 *           hold HEAD | VMALLOC frames whose LRU word names the list, each a present page
 *           of a swappable area; every present page of a swappable area is on one list
 */

import { describe, hex, KmemError } from "../errors.js";
import {
  type Algorithm,
  algoId,
  algoName,
  availableAlgorithms,
  codecFor,
  fillSame,
  type PageCodec,
  sameFilled,
} from "../codec/index.js";
import { Frame, Hdr, Pg, PgFlag, type PhysMem } from "../memory/index.js";
import { type BuddyAllocator, Gfp } from "../page/index.js";
import { Lru, PgVm, type PageTables, Pte, type Vmalloc, VmDesc, type VmSwap } from "../vm/index.js";
import { MapMode, type ZsContext, type ZsPool } from "../zsmalloc/index.js";
import type { Zram } from "../zram/index.js";
import {
  Area,
  AreaFlag,
  MAX_SWAPFILES,
  Slot,
  SlotFlag,
  Sw,
  SW_VMSTAT_NAMES,
  SwEv,
} from "./layout.js";

/** zswap's module parameters (/sys/module/zswap/parameters). */
export interface ZswapConfig {
  /** Whether swap-out tries zswap first (default false, as Linux's CONFIG default). */
  enabled: boolean;
  /** The compressor: "lz4" (default) or "zstd" where this runtime has it. */
  compressor: Algorithm;
  /** The most memory zswap's pool may take, in percent of managed memory (default 20). */
  maxPoolPercent: number;
  /**
   * Once the pool was full, stores are refused until it shrinks below this percent of its
   * limit (default 90).
   */
  acceptThresholdPercent: number;
}

/** zswap's debugfs counters and meminfo's Zswap and Zswapped. */
export interface ZswapStats {
  /** Pages stored (stored_pages), same-filled ones included (same_filled_pages). */
  storedPages: number;
  sameFilledPages: number;
  /** Compressed bytes stored, and the pool's pages (pool_total_size / pageSize). */
  compressedBytes: number;
  poolPages: number;
  poolLimitHit: number;
  rejectCompressPoor: number;
  rejectAllocFail: number;
}

/** Options of {@link Kmem.swapon}. */
export interface SwaponOptions {
  /** Higher first (swapon -p); default -1 - the areas made before, as Linux's. */
  priority?: number;
}

/** One line of /proc/swaps. */
export interface SwapAreaInfo {
  /** Its type (the swap entry's type field). */
  type: number;
  /** The zram device's name, or "zswap" for an area with no device. */
  name: string;
  /** Slots (pages) it has, and those in use. */
  size: number;
  used: number;
  priority: number;
}

/** What the swap layer needs from the instance (the facade wires it). */
export interface SwapDeps {
  readonly phys: PhysMem;
  readonly buddy: BuddyAllocator;
  readonly vm: Vmalloc;
  kmalloc(size: number, gfp: number): number;
  kfree(addr: number): void;
  isKmallocObject(addr: number): boolean;
  /** vzalloc of a slot table (not swappable). */
  vzalloc(size: number): number;
  vfree(addr: number): void;
  virtToPhys(addr: number): number;
  /** This context's zsmalloc layer (the zswap pool lives there). */
  zs(): ZsContext;
  /** This context's handle of the zram device whose descriptor is at `addr`. */
  zramAt(addr: number): Zram;
}

const DEFAULT_ZSWAP: ZswapConfig = {
  enabled: false,
  compressor: "lz4",
  maxPoolPercent: 20,
  acceptThresholdPercent: 90,
};

function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}

export class SwapContext implements VmSwap {
  private readonly phys: PhysMem;
  private readonly buddy: BuddyAllocator;
  private readonly vm: Vmalloc;
  private readonly pt: PageTables;
  private readonly deps: SwapDeps;
  private readonly f: Int32Array;
  private readonly pageSize: number;
  private readonly pageShift: number;
  /** The descriptor's address and words (a stand-in of zeros until it exists). */
  private desc = 0;
  d: Int32Array = new Int32Array(Sw.WORDS);
  /** This context's zswap codec, by algorithm id. */
  private codecs = new Map<number, PageCodec>();
  /** A page to compress from, and the compressed bytes (as zram's per-cpu stream). */
  private readonly page: Uint8Array;
  private readonly pageWords: Int32Array;
  private readonly buffer: Uint8Array;
  private readonly bufferWords: Int32Array;
  private readonly value = new Int32Array(2);
  /** Word view and index of the slot last looked up (slotAt). */
  private sv: Int32Array;
  private si = 0;

  constructor(deps: SwapDeps) {
    this.deps = deps;
    this.phys = deps.phys;
    this.buddy = deps.buddy;
    this.vm = deps.vm;
    this.pt = deps.vm.pageTables;
    this.f = deps.phys.frames;
    this.pageSize = deps.phys.pageSize;
    this.pageShift = deps.phys.pageShift;
    this.page = new Uint8Array(this.pageSize);
    this.pageWords = new Int32Array(this.page.buffer);
    this.buffer = new Uint8Array(this.pageSize);
    this.bufferWords = new Int32Array(this.buffer.buffer);
    this.sv = this.phys.words;
    this.refresh();
  }

  /* ------------------------------------------------------------------ the descriptor */

  /** Takes the descriptor another context made, if there is one now. */
  refresh(): boolean {
    if (this.desc !== 0) return true;
    const at = (this.phys.header[Hdr.SWAP] as number) >>> 0;
    if (at === 0) return false;
    if ((at & 3) !== 0)
      corrupt("SWAP-1", `the descriptor's anchor ${hex(at)} is not a word's address`);
    let d: Int32Array;
    try {
      d = this.phys.wordsAt(at, Sw.WORDS);
    } catch {
      // An anchor a damaged header holds, beyond the memory's views.
      return corrupt("SWAP-1", `the descriptor's anchor ${hex(at)} is outside memory`);
    }
    this.desc = at;
    this.d = d;
    return true;
  }

  /**
   * The descriptor, made if there is none (outside every lock: one compareExchange of the
   * anchor installs it; a context that loses frees its own). False when memory is short.
   */
  ensure(): boolean {
    if (this.refresh()) return true;
    const at = this.deps.kmalloc(Sw.BYTES, Gfp.KERNEL | Gfp.ZERO) >>> 0;
    if (at === 0) return false;
    const d = this.phys.wordsAt(at, Sw.WORDS);
    d.fill(0);
    d[Sw.ZSWAP_ALGO] = algoId(DEFAULT_ZSWAP.compressor);
    d[Sw.ZSWAP_MAX_POOL] = DEFAULT_ZSWAP.maxPoolPercent;
    d[Sw.ZSWAP_ACCEPT] = DEFAULT_ZSWAP.acceptThresholdPercent;
    d[Sw.MAGIC] = Sw.MAGIC_VALUE;
    if (Atomics.compareExchange(this.phys.header, Hdr.SWAP, 0, at | 0) !== 0) {
      this.deps.kfree(at);
    }
    return this.refresh();
  }

  /* ------------------------------------------------------------------ the LRU lists */

  private lruAddHead(pfn: number, list: Lru): void {
    const f = this.f;
    const d = this.d;
    const head = list === Lru.ACTIVE ? Sw.ACTIVE_HEAD : Sw.INACTIVE_HEAD;
    const i = pfn * Frame.WORDS;
    const first = d[head] as number;
    f[i + Pg.NEXT] = first;
    f[i + Pg.PREV] = 0;
    f[i + PgVm.VM_LRU] = list;
    if (first !== 0) f[first * Frame.WORDS + Pg.PREV] = pfn;
    else d[head + 1] = pfn;
    d[head] = pfn;
    d[head + 2]!++;
  }

  /** Takes `pfn` off its list. */
  lruDel(pfn: number): void {
    const f = this.f;
    const d = this.d;
    const i = pfn * Frame.WORDS;
    const head = f[i + PgVm.VM_LRU] === Lru.ACTIVE ? Sw.ACTIVE_HEAD : Sw.INACTIVE_HEAD;
    const next = f[i + Pg.NEXT] as number;
    const prev = f[i + Pg.PREV] as number;
    if (prev !== 0) f[prev * Frame.WORDS + Pg.NEXT] = next;
    else d[head] = next;
    if (next !== 0) f[next * Frame.WORDS + Pg.PREV] = prev;
    else d[head + 1] = prev;
    d[head + 2]!--;
    f[i + Pg.NEXT] = 0;
    f[i + Pg.PREV] = 0;
    f[i + PgVm.VM_LRU] = Lru.NONE;
  }

  /** vmalloc mapped pages [start, end) of a swappable area: onto the inactive list. */
  lruAddRange(start: number, end: number): void {
    if (!this.refresh()) throw new Error("swappable vmalloc before the swap descriptor");
    for (let page = start; page < end; page++) {
      this.lruAddHead(this.pt.lookup(page) >>> this.pageShift, Lru.INACTIVE);
    }
  }

  /* ------------------------------------------------------------------ swap areas */

  private areaBase(type: number): number {
    return Sw.AREAS + Area.WORDS * type;
  }

  /** swapon: `zram` (or null: an area only zswap can hold pages of) of `slots` slots. */
  swapon(zram: Zram | null, slots: number, priority: number | undefined): number {
    if (!this.ensure()) return -1;
    const map = this.deps.vzalloc(slots * Slot.BYTES);
    if (map === 0) return -1;
    this.vm.lock();
    try {
      const d = this.d;
      let type = -1;
      let lowest = 0;
      for (let t = 0; t < MAX_SWAPFILES; t++) {
        const a = this.areaBase(t);
        if (d[a + Area.FLAGS] === 0 && type < 0) type = t;
        if (d[a + Area.FLAGS] !== 0) {
          if (zram !== null && d[a + Area.DEV] === zram.address) {
            throw new KmemError("BUSY", `swapon: ${zram.name} is a swap area already`);
          }
          lowest = Math.min(lowest, d[a + Area.PRIO] as number);
        }
      }
      if (type < 0) {
        throw new RangeError(`swapon: ${MAX_SWAPFILES} swap areas are on already (MAX_SWAPFILES)`);
      }
      const a = this.areaBase(type);
      d[a + Area.PRIO] = priority ?? lowest - 1;
      d[a + Area.DEV] = zram === null ? 0 : zram.address;
      d[a + Area.NR_SLOTS] = slots;
      d[a + Area.MAP] = map;
      d[a + Area.NR_FREE] = slots - 1;
      d[a + Area.NEXT] = 1;
      d[a + Area.NR_DEV] = 0;
      d[a + Area.FLAGS] = AreaFlag.ACTIVE;
      d[Sw.NR_AREAS] = Math.max(d[Sw.NR_AREAS] as number, type + 1);
      return type;
    } catch (err) {
      this.deps.vfree(map);
      throw err;
    } finally {
      this.vm.unlock();
    }
  }

  /**
   * swapoff: brings every page of area `type` back (try_to_unuse), then frees its table.
   * Returns false (nothing changed but the pages brought back) when memory for the pages
   * cannot be had.
   */
  swapoff(type: number): boolean {
    if (!this.refresh()) return false;
    const a = this.areaBase(type);
    this.vm.lock();
    try {
      if (((this.d[a + Area.FLAGS] as number) & AreaFlag.ACTIVE) === 0) {
        throw new RangeError(`swapoff: no swap area of type ${type}`);
      }
      this.d[a + Area.FLAGS] = AreaFlag.ACTIVE | AreaFlag.CLOSING;
    } finally {
      this.vm.unlock();
    }
    // Every swap entry of the area, found in the tables of the swappable areas.
    const want: number[] = [];
    for (const [page, e] of this.swapEntries()) {
      if (((e >>> Pte.SWP_TYPE_SHIFT) & Pte.SWP_TYPE_MASK) === type) want.push(page);
    }
    for (const page of want) {
      try {
        this.swapIn(page);
      } catch (err) {
        if (!(err instanceof KmemError) || err.code !== "FAULT") throw err;
        this.d[a + Area.FLAGS] = AreaFlag.ACTIVE;
        return false;
      }
    }
    let map = 0;
    this.vm.lock();
    try {
      if ((this.d[a + Area.NR_FREE] as number) !== (this.d[a + Area.NR_SLOTS] as number) - 1) {
        this.d[a + Area.FLAGS] = AreaFlag.ACTIVE;
        return false;
      }
      map = this.d[a + Area.MAP] as number;
      for (let w = 0; w < Area.WORDS; w++) this.d[a + w] = 0;
    } finally {
      this.vm.unlock();
    }
    this.deps.vfree(map);
    return true;
  }

  /** Every swap entry in the page tables: [page, entry]. */
  private swapEntries(): [number, number][] {
    const out: [number, number][] = [];
    this.pt.verify(
      this.phys.firstManagedPfn,
      this.phys.totalPages,
      this.vm.geometry.nrPages,
      (page, e) => {
        out.push([page, e]);
      },
    );
    return out;
  }

  /** The swap area (its type) on the zram device at `dev`, or -1 when none is. */
  areaOn(dev: number): number {
    if (!this.refresh()) return -1;
    this.vm.lock();
    try {
      for (let t = 0; t < MAX_SWAPFILES; t++) {
        const a = this.areaBase(t);
        if (this.d[a + Area.FLAGS] !== 0 && (this.d[a + Area.DEV] as number) >>> 0 === dev)
          return t;
      }
      return -1;
    } finally {
      this.vm.unlock();
    }
  }

  /** The areas swapped on, as /proc/swaps lists them. */
  areas(): SwapAreaInfo[] {
    if (!this.refresh()) return [];
    const out: SwapAreaInfo[] = [];
    for (let t = 0; t < MAX_SWAPFILES; t++) {
      const a = this.areaBase(t);
      if (this.d[a + Area.FLAGS] === 0) continue;
      const dev = this.d[a + Area.DEV] as number;
      const size = (this.d[a + Area.NR_SLOTS] as number) - 1;
      out.push({
        type: t,
        name: dev === 0 ? "zswap" : this.deps.zramAt(dev >>> 0).name,
        size,
        used: size - (this.d[a + Area.NR_FREE] as number),
        priority: this.d[a + Area.PRIO] as number,
      });
    }
    return out;
  }

  /** SwapTotal and SwapFree, in pages. */
  totals(): [number, number] {
    if (!this.refresh()) return [0, 0];
    let total = 0;
    let free = 0;
    for (let t = 0; t < MAX_SWAPFILES; t++) {
      const a = this.areaBase(t);
      if (this.d[a + Area.FLAGS] === 0) continue;
      total += (this.d[a + Area.NR_SLOTS] as number) - 1;
      free += this.d[a + Area.NR_FREE] as number;
    }
    return [total, free];
  }

  /** Points the slot view (sv, si) at slot `slot` of area base `a`. */
  private slotAt(a: number, slot: number): void {
    const map = (this.d[a + Area.MAP] as number) >>> 0;
    const wi = this.deps.virtToPhys(map + slot * Slot.BYTES) >>> 2;
    this.sv = this.phys.wordView(wi);
    this.si = this.phys.wordIndex(wi);
  }

  /**
   * get_swap_page: a free slot of the highest-priority area that has one; returns the swap
   * entry (Pte format), 0 if none. The slot is left all zeros: the caller marks it used.
   */
  private allocSlot(): number {
    const d = this.d;
    let best = -1;
    for (let t = 0; t < MAX_SWAPFILES; t++) {
      const a = this.areaBase(t);
      if (d[a + Area.FLAGS] !== AreaFlag.ACTIVE || d[a + Area.NR_FREE] === 0) continue;
      if (
        best < 0 ||
        (d[a + Area.PRIO] as number) > (d[this.areaBase(best) + Area.PRIO] as number)
      ) {
        best = t;
      }
    }
    if (best < 0) return 0;
    const a = this.areaBase(best);
    const n = d[a + Area.NR_SLOTS] as number;
    let s = d[a + Area.NEXT] as number;
    for (let k = 1; k < n; k++) {
      if (s >= n) s = 1;
      this.slotAt(a, s);
      if (this.sv[this.si + Slot.STATE] === 0) {
        d[a + Area.NEXT] = s + 1;
        d[a + Area.NR_FREE]!--;
        return (s << Pte.SWP_OFFSET_SHIFT) | (best << Pte.SWP_TYPE_SHIFT);
      }
      s++;
    }
    corrupt("SWAP-1", `area ${best} counts ${d[a + Area.NR_FREE]} free slots but has none`);
  }

  /** swap_free: the slot of `entry` (looked up into sv, si) goes back, its page freed. */
  private freeSlot(entry: number): void {
    const type = (entry >>> Pte.SWP_TYPE_SHIFT) & Pte.SWP_TYPE_MASK;
    const slot = entry >>> Pte.SWP_OFFSET_SHIFT;
    const a = this.areaBase(type);
    this.slotAt(a, slot);
    const sv = this.sv;
    const si = this.si;
    const state = sv[si + Slot.STATE] as number;
    if ((state & SlotFlag.ZSWAP) !== 0) this.zswapInvalidate(state, sv[si + Slot.HANDLE] as number);
    if ((state & SlotFlag.DEV) !== 0) {
      this.deps.zramAt((this.d[a + Area.DEV] as number) >>> 0).freeNotify(slot);
      this.d[a + Area.NR_DEV]!--;
    }
    this.slotAt(a, slot);
    this.sv[this.si + Slot.STATE] = 0;
    this.sv[this.si + Slot.HANDLE] = 0;
    this.sv[this.si + Slot.HI] = 0;
    this.sv[this.si + Slot.AREA] = 0;
    this.d[a + Area.NR_FREE]!++;
  }

  /** vfree met a swap entry (under the vmalloc lock): its slot goes. */
  freeSwapEntry(entry: number): void {
    this.freeSlot(entry);
  }

  /* ------------------------------------------------------------------ zswap */

  get zswapConfig(): ZswapConfig {
    if (!this.refresh()) return { ...DEFAULT_ZSWAP };
    const d = this.d;
    return {
      enabled: d[Sw.ZSWAP_ENABLED] !== 0,
      compressor: algoName(d[Sw.ZSWAP_ALGO] as number),
      maxPoolPercent: d[Sw.ZSWAP_MAX_POOL] as number,
      acceptThresholdPercent: d[Sw.ZSWAP_ACCEPT] as number,
    };
  }

  /** Sets zswap's parameters (checked by the caller); false when memory is short. */
  setZswap(c: Partial<ZswapConfig>): boolean {
    if (!this.ensure()) return false;
    this.vm.lock();
    try {
      const d = this.d;
      if (c.enabled !== undefined) d[Sw.ZSWAP_ENABLED] = c.enabled ? 1 : 0;
      if (c.compressor !== undefined) d[Sw.ZSWAP_ALGO] = algoId(c.compressor);
      if (c.maxPoolPercent !== undefined) d[Sw.ZSWAP_MAX_POOL] = c.maxPoolPercent;
      if (c.acceptThresholdPercent !== undefined) d[Sw.ZSWAP_ACCEPT] = c.acceptThresholdPercent;
    } finally {
      this.vm.unlock();
    }
    return true;
  }

  zswapStats(): ZswapStats {
    const has = this.refresh();
    const d = this.d;
    const pool = has ? this.zswapPool(false) : null;
    return {
      storedPages: d[Sw.ZSWAP_STORED] as number,
      sameFilledPages: d[Sw.ZSWAP_SAME] as number,
      compressedBytes: d[Sw.ZSWAP_BYTES] as number,
      poolPages: pool === null ? 0 : pool.totalPages,
      poolLimitHit: d[Sw.EV + SwEv.POOL_LIMIT_HIT] as number,
      rejectCompressPoor: d[Sw.EV + SwEv.REJECT_COMPRESS_POOR] as number,
      rejectAllocFail: d[Sw.EV + SwEv.REJECT_ALLOC_FAIL] as number,
    };
  }

  private pool: ZsPool | null = null;

  /** zswap's pool ("zswap"), made at the first store when `create`. */
  private zswapPool(create: boolean): ZsPool | null {
    if (this.pool !== null && this.pool.alive()) return this.pool;
    const at = (this.d[Sw.ZSWAP_POOL] as number) >>> 0;
    if (at !== 0) {
      this.pool = this.deps.zs().openPoolAt(at);
      return this.pool;
    }
    if (!create) return null;
    const zs = this.deps.zs();
    const pool = zs.findPool("zswap") ?? zs.createPool("zswap");
    if (pool === null) return null;
    this.d[Sw.ZSWAP_POOL] = pool.address;
    this.pool = pool;
    return pool;
  }

  private codec(id: number): PageCodec {
    let c = this.codecs.get(id);
    if (c === undefined) {
      c = codecFor(id) ?? undefined;
      if (c === undefined)
        throw new TypeError(`zswap's compressor ${algoName(id)} is not in this runtime`);
      this.codecs.set(id, c);
    }
    return c;
  }

  /**
   * zswap_store of `this.page` into the slot in (sv, si) (re-looked-up by the caller after):
   * true if stored. Refuses when disabled, when the pool is at its limit (and, after that,
   * until it is below the accept threshold), when the page does not compress, or when no
   * memory can be had.
   */
  private zswapStore(a: number, slot: number): boolean {
    const d = this.d;
    if (d[Sw.ZSWAP_ENABLED] === 0) return false;
    const P = this.pageSize;
    if (sameFilled(this.pageWords, 0, P >>> 2, this.value)) {
      this.slotAt(a, slot);
      this.sv[this.si + Slot.STATE] = SlotFlag.USED | SlotFlag.ZSWAP | SlotFlag.SAME;
      this.sv[this.si + Slot.HANDLE] = this.value[0]!;
      this.sv[this.si + Slot.HI] = this.value[1]!;
      d[Sw.ZSWAP_STORED]!++;
      d[Sw.ZSWAP_SAME]!++;
      return true;
    }
    const pool = this.zswapPool(true);
    if (pool === null) {
      d[Sw.EV + SwEv.REJECT_ALLOC_FAIL]!++;
      return false;
    }
    const max = Math.floor((this.phys.managedPages * (d[Sw.ZSWAP_MAX_POOL] as number)) / 100);
    const used = pool.totalPages;
    if (d[Sw.ZSWAP_FULL] !== 0) {
      if (used * 100 > max * (d[Sw.ZSWAP_ACCEPT] as number)) {
        d[Sw.EV + SwEv.POOL_LIMIT_HIT]!++;
        return false;
      }
      d[Sw.ZSWAP_FULL] = 0;
    }
    if (used >= max) {
      d[Sw.ZSWAP_FULL] = 1;
      d[Sw.EV + SwEv.POOL_LIMIT_HIT]!++;
      return false;
    }
    const len = this.codec(d[Sw.ZSWAP_ALGO] as number).compress(
      this.page,
      0,
      P,
      this.buffer,
      0,
      pool.hugeClassSize - 1,
    );
    if (len === 0) {
      d[Sw.EV + SwEv.REJECT_COMPRESS_POOR]!++;
      return false;
    }
    const handle = pool.zsMalloc(len, Gfp.KSWAPD_RECLAIM | Gfp.NORETRY | Gfp.NOWARN);
    if (handle === 0) {
      d[Sw.EV + SwEv.REJECT_ALLOC_FAIL]!++;
      return false;
    }
    const at = pool.mapObject(handle, MapMode.WO);
    try {
      const wi = at >>> 2;
      const w = this.phys.wordView(wi);
      const i0 = this.phys.wordIndex(wi);
      const src = this.bufferWords;
      for (let k = 0, n = (len + 3) >>> 2; k < n; k++) w[i0 + k] = src[k]!;
    } finally {
      pool.unmapObject(handle);
    }
    this.slotAt(a, slot);
    this.sv[this.si + Slot.STATE] = SlotFlag.USED | SlotFlag.ZSWAP | len;
    this.sv[this.si + Slot.HANDLE] = handle;
    d[Sw.ZSWAP_STORED]!++;
    d[Sw.ZSWAP_BYTES]! += len;
    return true;
  }

  /** zswap_load of a slot's page into `out` (its state and handle/value words given). */
  private zswapLoad(state: number, handle: number, hi: number, out: Uint8Array): void {
    if ((state & SlotFlag.SAME) !== 0) {
      if (handle === 0 && hi === 0) out.fill(0);
      else {
        fillSame(this.pageWords, 0, this.pageSize >>> 2, handle, hi);
        out.set(this.page);
      }
      return;
    }
    const pool = this.zswapPool(false);
    if (pool === null) corrupt("SWAP-3", "a zswap slot holds a handle but there is no zswap pool");
    const at = pool.mapObject(handle >>> 0, MapMode.RO);
    try {
      const view = this.phys.byteViews[at >>> this.phys.winShift]!;
      this.codec(this.d[Sw.ZSWAP_ALGO] as number).decompress(
        view,
        at & this.phys.winMask,
        state & SlotFlag.LEN_MASK,
        out,
        0,
        this.pageSize,
      );
    } finally {
      pool.unmapObject(handle >>> 0);
    }
  }

  /** zswap_invalidate: the slot's object goes. */
  private zswapInvalidate(state: number, handle: number): void {
    const d = this.d;
    d[Sw.ZSWAP_STORED]!--;
    if ((state & SlotFlag.SAME) !== 0) {
      d[Sw.ZSWAP_SAME]!--;
      return;
    }
    d[Sw.ZSWAP_BYTES]! -= state & SlotFlag.LEN_MASK;
    this.zswapPool(false)?.zsFree(handle >>> 0);
  }

  /* ------------------------------------------------------------------ reclaim */

  /** Frames whose ACCESSED bit the current reclaim call cleared (scratch). */
  private readonly young = new Set<number>();

  /**
   * shrink_lruvec for reclaim (registered as the buddy allocator's lruReclaim): frees up to
   * `nrToScan` pages of the LRU by swapping them out. Skips (0) when no swap slot is free
   * or another context holds the vmalloc lock.
   */
  reclaim(nrToScan: number, kswapd: boolean): number {
    if (!this.refresh()) return 0;
    const d = this.d;
    if ((d[Sw.NR_ACTIVE] as number) + (d[Sw.NR_INACTIVE] as number) === 0) return 0;
    if (this.totals()[1] === 0) return 0;
    if (!this.vm.reclaimLock()) return 0;
    let freed = 0;
    let scanned = 0;
    try {
      // Passes at a rising priority (DEF_PRIORITY down): a pass that only found referenced
      // pages cleared their bits, so the next may take them if untouched since.
      // A page whose bit this call cleared is not taken before the last pass: it had no
      // time to be referenced again.
      const young = this.young;
      young.clear();
      for (let pass = 0; pass < 3 && freed < nrToScan; pass++) {
        let cleared = false;
        // shrink_active_list: keep the inactive list at least as long as the active one.
        let move = Math.min(
          Math.max(0, ((d[Sw.NR_ACTIVE] as number) - (d[Sw.NR_INACTIVE] as number) + 1) >> 1),
          Math.max(nrToScan, 32),
        );
        while (move-- > 0 && d[Sw.ACTIVE_TAIL] !== 0) {
          const pfn = d[Sw.ACTIVE_TAIL] as number;
          if (this.clearYoung(pfn)) young.add(pfn);
          cleared = true;
          this.lruDel(pfn);
          this.lruAddHead(pfn, Lru.INACTIVE);
          d[Sw.EV + SwEv.PGDEACTIVATE]!++;
        }
        // shrink_inactive_list: one pass over the list at most.
        let budget = d[Sw.NR_INACTIVE] as number;
        let stop = false;
        while (freed < nrToScan && budget-- > 0 && d[Sw.INACTIVE_TAIL] !== 0) {
          const pfn = d[Sw.INACTIVE_TAIL] as number;
          scanned++;
          if (this.clearYoung(pfn) || (pass < 2 && young.has(pfn))) {
            // Referenced since the last scan: a second chance on the active list.
            young.add(pfn);
            cleared = true;
            this.lruDel(pfn);
            this.lruAddHead(pfn, Lru.ACTIVE);
            d[Sw.EV + SwEv.PGACTIVATE]!++;
            continue;
          }
          if (this.swapOut(pfn)) freed++;
          else {
            d[Sw.EV + SwEv.SWAP_FAIL]!++;
            this.lruDel(pfn);
            this.lruAddHead(pfn, Lru.ACTIVE);
            d[Sw.EV + SwEv.PGACTIVATE]!++;
            if (this.totals()[1] === 0) stop = true;
            if (stop) break;
          }
        }
        // The bits cleared take effect only once every TLB drops its translations.
        if (cleared) this.vm.d[VmDesc.TLB_GEN]!++;
        if (stop) break;
      }
      d[Sw.EV + (kswapd ? SwEv.PGSCAN_KSWAPD : SwEv.PGSCAN_DIRECT)]! += scanned;
      d[Sw.EV + (kswapd ? SwEv.PGSTEAL_KSWAPD : SwEv.PGSTEAL_DIRECT)]! += freed;
    } finally {
      this.vm.reclaimUnlock();
    }
    return freed;
  }

  /** The word index of the leaf entry mapping frame `pfn` (a page on the LRU). */
  private pteOf(pfn: number): number {
    const page = this.f[pfn * Frame.WORDS + PgVm.VM_PAGE] as number;
    const ti = this.pt.entryIndex(page);
    if (ti < 0) corrupt("LRU-1", `frame ${pfn} is on the LRU but page ${page} has no table`);
    return ti;
  }

  /** ptep_test_and_clear_young: clears the page's ACCESSED bit; true if it was set. */
  private clearYoung(pfn: number): boolean {
    const ti = this.pteOf(pfn);
    const w = this.phys.wordView(ti);
    const i = this.phys.wordIndex(ti);
    for (;;) {
      const e = Atomics.load(w, i);
      if ((e & Pte.ACCESSED) === 0) return false;
      if (Atomics.compareExchange(w, i, e, e & ~Pte.ACCESSED) === e) return true;
    }
  }

  /**
   * shrink_folio_list for one page: a slot, the page into zswap or onto the device, its
   * entry replaced by the swap entry (unless an access set ACCESSED meanwhile), every TLB
   * dropped, the page freed. False (nothing changed) when it cannot be swapped out.
   */
  private swapOut(pfn: number): boolean {
    const entry = this.allocSlot();
    if (entry === 0) return false;
    const type = (entry >>> Pte.SWP_TYPE_SHIFT) & Pte.SWP_TYPE_MASK;
    const slot = entry >>> Pte.SWP_OFFSET_SHIFT;
    const a = this.areaBase(type);
    const d = this.d;
    const i = pfn * Frame.WORDS;
    const phys = pfn * this.pageSize;
    const view = this.phys.byteViews[phys >>> this.phys.winShift]!;
    const at = phys & this.phys.winMask;
    this.page.set(view.subarray(at, at + this.pageSize));
    const dev = (d[a + Area.DEV] as number) >>> 0;
    // zswap refused these very bytes as incompressible, and nothing lies behind it: they
    // stay on the LRU without being compressed again (Linux keeps a rejected folio too).
    const mark = this.f[i + PgVm.VM_REJECT] as number;
    if (mark !== 0 && dev === 0 && mark === pageHash(this.pageWords)) {
      d[a + Area.NR_FREE]!++;
      return false;
    }
    let where = 0;
    const poor = d[Sw.EV + SwEv.REJECT_COMPRESS_POOR] as number;
    if (this.zswapStore(a, slot)) where = SlotFlag.ZSWAP;
    else {
      if (dev === 0 && d[Sw.EV + SwEv.REJECT_COMPRESS_POOR] !== poor) {
        this.f[i + PgVm.VM_REJECT] = pageHash(this.pageWords);
      }
      if (dev !== 0 && this.deps.zramAt(dev).write(slot, this.page)) {
        this.slotAt(a, slot);
        this.sv[this.si + Slot.STATE] = SlotFlag.USED | SlotFlag.DEV;
        d[a + Area.NR_DEV]!++;
        where = SlotFlag.DEV;
      }
    }
    if (where === 0) {
      d[a + Area.NR_FREE]!++;
      return false;
    }
    this.slotAt(a, slot);
    this.sv[this.si + Slot.AREA] = this.f[i + PgVm.VM_AREA] as number;
    // try_to_unmap: the entry becomes the swap entry unless an access made it young again.
    const ti = this.pteOf(pfn);
    const old = phys | Pte.PRESENT;
    if (
      Atomics.compareExchange(this.phys.wordView(ti), this.phys.wordIndex(ti), old, entry) !== old
    ) {
      this.freeSlot(entry);
      return false;
    }
    this.vm.d[VmDesc.TLB_GEN]!++;
    this.vm.d[VmDesc.NR_VMALLOC]!--;
    this.lruDel(pfn);
    this.f[i + Pg.FLAGS] = PgFlag.HEAD;
    this.f[i + PgVm.VM_PAGE] = 0;
    this.f[i + PgVm.VM_AREA] = 0;
    this.f[i + PgVm.VM_REJECT] = 0;
    this.buddy.freePages(phys, 0);
    d[Sw.EV + (where === SlotFlag.ZSWAP ? SwEv.ZSWPOUT : SwEv.PSWPOUT)]!++;
    return true;
  }

  /* ------------------------------------------------------------------ swap-in */

  /**
   * do_swap_page for virtual page `page`, whose entry the accessors found to be a swap
   * entry: a page (allocated first, with no lock held: it may reclaim, or kill), the
   * contents from zswap or the device, the entry mapped again (ACCESSED, on the active
   * list), the slot freed. True when the page is mapped now; throws FAULT when no page can
   * be had (the entry stays: a later access tries again).
   */
  swapIn(page: number): boolean {
    const ti0 = this.pt.entryIndex(page);
    if (ti0 < 0) return false;
    const e0 = this.phys.word(ti0);
    if (e0 === 0) return false;
    if ((e0 & Pte.PRESENT) !== 0) return true;
    const phys = this.buddy.allocPages(0, Gfp.KERNEL | Gfp.NOWARN);
    if (phys === 0) {
      throw new KmemError(
        "FAULT",
        `page ${hex(this.vm.start + page * this.pageSize)} is swapped out and no page can be had to bring it back (out of memory)`,
      );
    }
    let mapped = false;
    this.vm.lock();
    try {
      this.refresh();
      const ti = this.pt.entryIndex(page);
      const e = ti < 0 ? 0 : this.phys.word(ti);
      if (e !== e0) return e !== 0;
      const type = (e >>> Pte.SWP_TYPE_SHIFT) & Pte.SWP_TYPE_MASK;
      const slot = e >>> Pte.SWP_OFFSET_SHIFT;
      const a = this.areaBase(type);
      this.slotAt(a, slot);
      const state = this.sv[this.si + Slot.STATE] as number;
      const handle = this.sv[this.si + Slot.HANDLE] as number;
      const hi = this.sv[this.si + Slot.HI] as number;
      const area = this.sv[this.si + Slot.AREA] as number;
      if ((state & SlotFlag.USED) === 0) {
        corrupt("SWAP-2", `page ${page} has swap entry ${type}:${slot}, a free slot`);
      }
      const view = this.phys.byteViews[phys >>> this.phys.winShift]!;
      const at = phys & this.phys.winMask;
      const out = view.subarray(at, at + this.pageSize);
      if ((state & SlotFlag.ZSWAP) !== 0) {
        this.zswapLoad(state, handle, hi, out);
        this.d[Sw.EV + SwEv.ZSWPIN]!++;
      } else {
        this.deps.zramAt((this.d[a + Area.DEV] as number) >>> 0).read(slot, out);
        this.d[Sw.EV + SwEv.PSWPIN]!++;
      }
      this.d[Sw.EV + SwEv.PGMAJFAULT]!++;
      const i = (phys >>> this.pageShift) * Frame.WORDS;
      this.f[i + Pg.FLAGS] = PgFlag.HEAD | PgFlag.VMALLOC;
      this.f[i + PgVm.VM_PAGE] = page;
      this.f[i + PgVm.VM_AREA] = area;
      this.f[i + PgVm.VM_REJECT] = 0;
      this.lruAddHead(phys >>> this.pageShift, Lru.ACTIVE);
      this.phys.setWord(ti, phys | Pte.PRESENT | Pte.ACCESSED);
      this.vm.d[VmDesc.NR_VMALLOC]!++;
      mapped = true;
      this.freeSlot(e);
      return true;
    } finally {
      this.vm.unlock();
      if (!mapped) this.buddy.freePages(phys, 0);
    }
  }

  /* ------------------------------------------------------------------ reports */

  /** The counters by vmstat name. */
  vmstat(): [string, number][] {
    const has = this.refresh();
    return SW_VMSTAT_NAMES.map(([name, ev]) => [
      name,
      (has ? (this.d[Sw.EV + ev] as number) >>> 0 : 0) + (ev === SwEv.OOM_KILL ? this.oomKills : 0),
    ]);
  }

  /** Bumps oom_kill (the OOM killer's counter lives with the others). */
  countOomKill(): void {
    if (this.refresh()) Atomics.add(this.d, Sw.EV + SwEv.OOM_KILL, 1);
    else this.oomKills++;
  }

  /** Kills counted before the descriptor existed (this context's; nothing to swap then). */
  private oomKills = 0;

  /** Pages on the active and inactive lists. */
  lruSizes(): [number, number] {
    if (!this.refresh()) return [0, 0];
    return [this.d[Sw.NR_ACTIVE] as number, this.d[Sw.NR_INACTIVE] as number];
  }

  /* ------------------------------------------------------------------ verify */

  /** Checks SWAP-1..3 and LRU-1 (from the vmalloc layer's verify, under no lock). */
  verify(entries: Map<number, number>, swappable: [number, number, number][]): void {
    const at = (this.phys.header[Hdr.SWAP] as number) >>> 0;
    if (at === 0) {
      if (entries.size > 0 || swappable.length > 0) {
        corrupt("SWAP-1", "swappable areas or swap entries exist but no swap descriptor");
      }
      return;
    }
    this.refresh();
    const d = this.d;
    if (at !== this.desc || !this.deps.isKmallocObject(at) || d[Sw.MAGIC] !== Sw.MAGIC_VALUE) {
      corrupt("SWAP-1", `the swap descriptor at ${hex(at)} is not a live object with its magic`);
    }
    // SWAP-1 and SWAP-3: the areas and their slots.
    const used = new Map<number, number>();
    let stored = 0;
    let same = 0;
    let bytes = 0;
    const handles = new Set<number>();
    const pool = this.zswapPool(false);
    for (let t = 0; t < MAX_SWAPFILES; t++) {
      const a = this.areaBase(t);
      const flags = d[a + Area.FLAGS] as number;
      if (flags === 0) continue;
      const n = d[a + Area.NR_SLOTS] as number;
      const dev = (d[a + Area.DEV] as number) >>> 0;
      const zram = dev === 0 ? null : this.deps.zramAt(dev);
      if (n < 2 || zram?.alive() === false)
        corrupt("SWAP-1", `area ${t} has ${n} slots or a dead device`);
      let free = 0;
      let onDev = 0;
      for (let s = 1; s < n; s++) {
        this.slotAt(a, s);
        const state = this.sv[this.si + Slot.STATE] as number;
        const handle = this.sv[this.si + Slot.HANDLE] as number;
        if (state === 0) {
          if (
            handle !== 0 ||
            this.sv[this.si + Slot.HI] !== 0 ||
            this.sv[this.si + Slot.AREA] !== 0
          ) {
            corrupt("SWAP-3", `free slot ${t}:${s} is not all zeros`);
          }
          free++;
          continue;
        }
        if ((state & SlotFlag.USED) === 0)
          corrupt("SWAP-3", `slot ${t}:${s} has state ${state} but is not used`);
        used.set(
          (s << Pte.SWP_OFFSET_SHIFT) | (t << Pte.SWP_TYPE_SHIFT),
          this.sv[this.si + Slot.AREA] as number,
        );
        const inZswap = (state & SlotFlag.ZSWAP) !== 0;
        const inDev = (state & SlotFlag.DEV) !== 0;
        if (inZswap === inDev)
          corrupt(
            "SWAP-3",
            `slot ${t}:${s} is in ${inZswap ? "both zswap and" : "neither zswap nor"} the device`,
          );
        if (inZswap) {
          stored++;
          if ((state & SlotFlag.SAME) !== 0) same++;
          else {
            const len = state & SlotFlag.LEN_MASK;
            bytes += len;
            if (pool === null || handles.has(handle) || pool.objectSize(handle >>> 0) < len) {
              corrupt(
                "SWAP-3",
                `slot ${t}:${s} names zswap handle ${hex(handle >>> 0)}, not a live object of ${len} bytes`,
              );
            }
            handles.add(handle);
          }
        } else {
          onDev++;
          if (zram === null || zram.slotState(s) === "empty") {
            corrupt("SWAP-3", `slot ${t}:${s} is on the device but its sector is empty`);
          }
        }
      }
      if (free !== d[a + Area.NR_FREE] || onDev !== d[a + Area.NR_DEV]) {
        corrupt(
          "SWAP-1",
          `area ${t} counts ${d[a + Area.NR_FREE]} free and ${d[a + Area.NR_DEV]} device slots, has ${free} and ${onDev}`,
        );
      }
    }
    if (stored !== d[Sw.ZSWAP_STORED] || same !== d[Sw.ZSWAP_SAME] || bytes !== d[Sw.ZSWAP_BYTES]) {
      corrupt(
        "SWAP-3",
        `zswap counts ${d[Sw.ZSWAP_STORED]} pages, ${d[Sw.ZSWAP_SAME]} same-filled, ${d[Sw.ZSWAP_BYTES]} bytes; the slots hold ${stored}, ${same}, ${bytes}`,
      );
    }
    // SWAP-2: entries against slots.
    const areaOf = (page: number): number => {
      for (const [rec, start, guard] of swappable) if (page >= start && page < guard) return rec;
      return 0;
    };
    for (const [page, e] of entries) {
      const rec = areaOf(page);
      const type = (e >>> Pte.SWP_TYPE_SHIFT) & Pte.SWP_TYPE_MASK;
      if (rec === 0)
        corrupt("SWAP-2", `page ${page} holds swap entry ${e >>> 0} outside a swappable area`);
      const owner = used.get(e);
      if (owner === undefined || (d[this.areaBase(type) + Area.FLAGS]! & AreaFlag.ACTIVE) === 0) {
        corrupt(
          "SWAP-2",
          `page ${page} holds swap entry ${type}:${e >>> Pte.SWP_OFFSET_SHIFT}, not a used slot`,
        );
      }
      if (owner !== rec)
        corrupt(
          "SWAP-2",
          `slot ${type}:${e >>> Pte.SWP_OFFSET_SHIFT} names area ${hex(owner)}, its page is in ${hex(rec)}`,
        );
      used.delete(e);
    }
    if (used.size > 0) {
      const [e] = used.keys();
      corrupt(
        "SWAP-2",
        `slot ${(e! >>> Pte.SWP_TYPE_SHIFT) & Pte.SWP_TYPE_MASK}:${e! >>> Pte.SWP_OFFSET_SHIFT} is used but no entry names it (${used.size} such)`,
      );
    }
    // LRU-1.
    const onLru = new Set<number>();
    const walk = (head: number, list: Lru, name: string): void => {
      let prev = 0;
      let n = 0;
      for (
        let pfn = d[head] as number;
        pfn !== 0;
        pfn = this.f[pfn * Frame.WORDS + Pg.NEXT] as number
      ) {
        const i = pfn * Frame.WORDS;
        if (onLru.has(pfn) || n > this.phys.totalPages)
          corrupt("LRU-1", `the ${name} list is cyclic or shares frame ${pfn}`);
        onLru.add(pfn);
        if (this.f[i + Pg.PREV] !== prev)
          corrupt("LRU-1", `frame ${pfn} on the ${name} list has a wrong prev link`);
        if (
          this.f[i + Pg.FLAGS] !== (PgFlag.HEAD | PgFlag.VMALLOC) ||
          this.f[i + PgVm.VM_LRU] !== list
        ) {
          corrupt("LRU-1", `frame ${pfn} on the ${name} list is not a VMALLOC frame of that list`);
        }
        const page = this.f[i + PgVm.VM_PAGE] as number;
        if (this.pt.lookup(page) !== pfn * this.pageSize || areaOf(page) === 0) {
          corrupt("LRU-1", `frame ${pfn} on the ${name} list is not the page of a swappable area`);
        }
        prev = pfn;
        n++;
      }
      if (d[head + 1] !== prev || d[head + 2] !== n)
        corrupt("LRU-1", `the ${name} list's tail or count is wrong`);
    };
    walk(Sw.ACTIVE_HEAD, Lru.ACTIVE, "active");
    walk(Sw.INACTIVE_HEAD, Lru.INACTIVE, "inactive");
    for (const [, start, guard] of swappable) {
      for (let page = start; page < guard; page++) {
        const phys = this.pt.lookup(page);
        if (phys >= 0 && !onLru.has(phys / this.pageSize)) {
          corrupt("LRU-1", `page ${page} of a swappable area is mapped but on no LRU list`);
        }
      }
    }
  }
}

/** Checks zswap's parameters; throws TypeError/RangeError. */
export function checkZswapConfig(c: unknown): asserts c is Partial<ZswapConfig> {
  if (typeof c !== "object" || c === null) {
    throw new TypeError(`zswap options must be an object, got ${describe(c)}`);
  }
  const o = c as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!["enabled", "compressor", "maxPoolPercent", "acceptThresholdPercent"].includes(key)) {
      throw new TypeError(`unknown zswap option ${JSON.stringify(key)}`);
    }
  }
  if (o.enabled !== undefined && typeof o.enabled !== "boolean") {
    throw new TypeError(`enabled must be a boolean, got ${describe(o.enabled)}`);
  }
  if (o.compressor !== undefined && !(availableAlgorithms() as unknown[]).includes(o.compressor)) {
    throw new RangeError(
      `compressor must be one of ${availableAlgorithms().join(", ")} in this runtime, got ${describe(o.compressor)}`,
    );
  }
  for (const key of ["maxPoolPercent", "acceptThresholdPercent"]) {
    const v = o[key];
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 100)) {
      throw new RangeError(`${key} must be an integer in 0..100, got ${describe(v)}`);
    }
  }
}

/** A hash of a page's words, never 0: whether a page zswap refused changed since. */
function pageHash(words: Int32Array): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < words.length; k++) h = Math.imul(h ^ (words[k] as number), 0x01000193);
  return h | 1;
}
