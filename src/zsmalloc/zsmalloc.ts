/*
 * zsmalloc (Linux mm/zsmalloc.c): an allocator for compressed pages. Objects of up to a
 * page go to size classes (layout.ts) whose zspages chain order-0 pages from the page
 * allocator, so that it never needs a higher-order block and wastes little: an object may
 * span two pages. Callers hold handles, not addresses: compaction moves objects between
 * zspages of a class and rewrites the handle's word.
 *
 * A pool's state is its descriptor (kmalloc'd: geometry, per class the 12 fullness lists
 * and stats), the frames of its zspages (layout.ts, ZsPg) and the objects' headers; every
 * zspage is on the list of its fullness group, and allocation takes the first zspage from
 * the 99% group down, so that nearly full zspages fill up and nearly empty ones drain.
 *
 * Locking (lock order: src/sync/lock.ts): one lock per pool (Linux's pool->lock) over its
 * lists, stats, zspage frames and object headers, held for O(1) work per call (compaction:
 * per class). Nothing is allocated under it: a new zspage's pages and a handle are
 * allocated before it is taken, so reclaim (which may run this pool's compaction as a
 * shrinker) never finds it held. A mapped object's zspage counts its mappings in its frame;
 * compaction does not move objects out of a mapped zspage (Linux: the zspage's migrate
 * read lock), so a mapping stays valid without the lock. The cpu's intent record names the
 * zspage it has mapped, written and cleared with the count under the pool's lock, so that
 * offlineCpu takes a dead cpu's mapping down (recover.ts).
 *
 * A context may die anywhere (offlineCpu): a zspage being made is named by its cpu's
 * intent record until it is on its list, and a pool's lock is repaired from the zspages
 * themselves (recover.ts).
 */

import { KmemError, hex } from "../errors.js";
import { Frame, Pg, PgFlag, type PhysMem } from "../memory/index.js";
import { lock, unlock } from "../sync/index.js";
import {
  classIndexOf,
  FREE_END,
  Fullness,
  fullnessGroup,
  Intent,
  intentAt,
  OBJ_ALLOCATED_TAG,
  Pool,
  Rec,
  recordsOffset,
  Reg,
  ZS_HANDLE_SIZE,
  ZSPAGE_MAGIC,
  type ZsGeometry,
  ZsInfo,
  ZsPg,
} from "./layout.js";
import type { ZsContext } from "./context.js";

/** How a mapping is used (zs_mapmode): what map copies in and unmap copies back. */
export const enum MapMode {
  RW = 0,
  RO = 1,
  WO = 2,
}

const ZS_FLAGS = PgFlag.HEAD | PgFlag.ZSMALLOC;
/** What zs_free leaves in a handle's word: no obj has it (its index bits are all ones). */
const FREED_HANDLE = 0xffffffff;
const W = Frame.WORDS;

/** Per-class line of {@link ZsPool.stats}. */
export interface ZsClassStats {
  index: number;
  size: number;
  /** zspages per fullness group: 10%, 20%, ... 90%, 99%, 100%. */
  fullness: number[];
  objAllocated: number;
  objUsed: number;
  pagesUsed: number;
  pagesPerZspage: number;
  objsPerZspage: number;
  freeable: number;
}

/** A plain snapshot of a pool's counters. */
export interface ZsPoolStats {
  /** zs_get_total_pages: pages the pool's zspages hold. */
  pagesAllocated: number;
  /** Pages compaction gave back (zs_pool_stats). */
  pagesCompacted: number;
  objAllocated: number;
  objUsed: number;
  classes: ZsClassStats[];
}

export class ZsPool {
  /** The name it was created with (unique in the instance). */
  readonly name: string;
  /** Address of its descriptor (how every context finds it). */
  readonly address: number;
  readonly id: number;
  /** Objects of this size or more are kept one per page (zs_huge_class_size). */
  readonly hugeClassSize: number;
  /** The pages of a zspage are at most this many (CONFIG_ZSMALLOC_CHAIN_SIZE). */
  readonly chainSize: number;
  /** The shrinker this context registered for it: compact(). */
  readonly shrinker: (nrToScan: number) => number;
  /** @internal */
  readonly g: ZsGeometry;
  private readonly ctx: ZsContext;
  private readonly phys: PhysMem;
  private readonly d: Int32Array;
  private readonly f: Int32Array;
  private readonly recBase: number;
  private readonly pageShift: number;
  private readonly pageSize: number;
  private readonly pageMask: number;
  private readonly idxMask: number;
  private readonly bits: number;
  private readonly smp: boolean;
  private readonly cpu: number;
  private readonly scratch = new Int32Array(32);
  /** The registry, and this cpu's intent record in it (layout.ts, Intent). */
  private readonly reg: Int32Array;
  private readonly intent: number;
  private dead = false;
  /* locate()'s results (no allocation per call). */
  private locFirst = 0;
  private locPfn = 0;
  private locRec = 0;
  private locIndex = 0;

  /** @internal */
  constructor(ctx: ZsContext, address: number, name: string, g: ZsGeometry) {
    this.ctx = ctx;
    this.phys = ctx.phys;
    this.address = address;
    this.name = name;
    this.g = g;
    this.d = ctx.phys.wordsAt(address, recordsOffset(g) + g.size.length * Rec.WORDS);
    this.f = ctx.phys.frames;
    this.id = this.d[Pool.ID] as number;
    this.recBase = recordsOffset(g);
    this.hugeClassSize = g.hugeClassSize;
    this.chainSize = g.chainSize;
    this.pageShift = ctx.phys.pageShift;
    this.pageSize = ctx.phys.pageSize;
    this.pageMask = this.pageSize - 1;
    this.bits = g.objIndexBits;
    this.idxMask = 2 ** g.objIndexBits - 1;
    this.smp = ctx.phys.nrCpus > 1;
    this.cpu = ctx.cpu;
    this.reg = ctx.registry(false) ?? new Int32Array(Reg.MAP_AREA + 1);
    this.intent = intentAt(ctx.phys.nrCpus, ctx.cpu);
    this.shrinker = (nrToScan: number) => (this.alive() ? this.compactPages(nrToScan) : 0);
  }

  /** Whether the descriptor is still this pool's (not destroyed, in any context). */
  alive(): boolean {
    return !this.dead && this.d[Pool.MAGIC] === Pool.MAGIC_VALUE && this.d[Pool.ID] === this.id;
  }

  /* ------------------------------------------------------------------ public calls */

  /**
   * zs_malloc: an object of `size` bytes (1..pageSize). Returns its handle, or 0 when the
   * size is 0 or beyond a page, or memory cannot be had.
   */
  malloc(size: number, gfp: number = this.ctx.gfpKernel): number {
    this.checkAlive("malloc");
    if (size >>> 0 !== size) this.ctx.badSize(size);
    this.ctx.checkGfp(gfp);
    if (size === 0 || size > this.pageSize) return 0;
    return this.zsMalloc(size, gfp);
  }

  /** zs_free: frees the object behind `handle`. A bad or freed handle is a KmemError. */
  free(handle: number): void {
    this.checkAlive("free");
    this.checkHandle("free", handle);
    this.zsFree(handle);
  }

  /**
   * zs_map_object: the address of the object's bytes, readable and writable through the
   * instance's accessors and views until {@link unmap}. An object that spans two pages is
   * copied into this cpu's mapping area (and back at unmap, unless mapped "ro"). One
   * object per context is mapped at a time.
   */
  map(handle: number, mode: "rw" | "ro" | "wo" = "rw"): number {
    this.checkAlive("map");
    this.checkHandle("map", handle);
    const m =
      mode === "rw" ? MapMode.RW : mode === "ro" ? MapMode.RO : mode === "wo" ? MapMode.WO : -1;
    if (m < 0) throw new RangeError(`map mode must be "rw", "ro" or "wo", got ${String(mode)}`);
    return this.mapObject(handle, m as MapMode);
  }

  /** zs_unmap_object: ends the mapping of `handle`. */
  unmap(handle: number): void {
    this.checkAlive("unmap");
    if (handle >>> 0 !== handle) this.checkHandle("unmap", handle);
    this.unmapObject(handle);
  }

  /** The usable bytes of the object behind `handle` (its class's size less the handle). */
  objectSize(handle: number): number {
    this.checkAlive("objectSize");
    this.checkHandle("objectSize", handle);
    this.lock();
    try {
      this.locate(handle, "objectSize");
    } finally {
      this.unlock();
    }
    const huge = this.isHuge(this.locFirst);
    return this.d[this.recBase + this.locRec * Rec.WORDS + Rec.SIZE]! - (huge ? 0 : ZS_HANDLE_SIZE);
  }

  /**
   * zs_compact: moves objects from the emptiest zspages of each class to the fullest,
   * largest class first, and frees the zspages emptied. Returns the pages freed.
   */
  compact(): number {
    this.checkAlive("compact");
    return this.compactPages(Infinity);
  }

  /** zs_get_total_pages: the pages the pool holds. */
  get totalPages(): number {
    return Atomics.load(this.d, Pool.PAGES_ALLOCATED);
  }

  /** zs_lookup_class_index: the class an object of `size` bytes goes to. */
  classIndex(size: number): number {
    if (size >>> 0 !== size) this.ctx.badSize(size);
    const r = this.g.classRecord[classIndexOf(this.g, size + ZS_HANDLE_SIZE)]!;
    return this.g.index[r]!;
  }

  stats(): ZsPoolStats {
    this.checkAlive("stats");
    const classes: ZsClassStats[] = [];
    let objAllocated = 0;
    let objUsed = 0;
    this.lock();
    try {
      for (let r = 0; r < this.g.size.length; r++) {
        const b = this.recBase + r * Rec.WORDS;
        const d = this.d;
        const allocated = d[b + Rec.OBJS_ALLOCATED]!;
        const used = d[b + Rec.OBJS_INUSE]!;
        const objs = d[b + Rec.OBJS]!;
        const pages = d[b + Rec.PAGES]!;
        const fullness: number[] = [];
        for (let fg = Fullness.RATIO_10; fg < Fullness.NR_GROUPS; fg++) {
          fullness.push(d[b + Rec.COUNTS + fg]!);
        }
        classes.push({
          index: d[b + Rec.INDEX]!,
          size: d[b + Rec.SIZE]!,
          fullness,
          objAllocated: allocated,
          objUsed: used,
          pagesUsed: ((allocated / objs) | 0) * pages,
          pagesPerZspage: pages,
          objsPerZspage: objs,
          freeable: this.canCompact(b),
        });
        objAllocated += allocated;
        objUsed += used;
      }
    } finally {
      this.unlock();
    }
    classes.reverse();
    return {
      pagesAllocated: this.totalPages,
      pagesCompacted: Atomics.load(this.d, Pool.PAGES_COMPACTED),
      objAllocated,
      objUsed,
      classes,
    };
  }

  /** debugfs zsmalloc/<pool>/classes, as Linux prints it. */
  report(name: "classes"): string {
    if (name !== "classes") {
      throw new RangeError(`report name must be "classes", got ${String(name)}`);
    }
    const s = this.stats();
    const pad = (v: string | number, n: number) => String(v).padStart(n);
    const groups = ["10%", "20%", "30%", "40%", "50%", "60%", "70%", "80%", "90%", "99%", "100%"];
    let out = ` ${pad("class", 5)} ${pad("size", 5)} ${groups.map((x) => pad(x, 9)).join(" ")} `;
    out += `${pad("obj_allocated", 13)} ${pad("obj_used", 10)} ${pad("pages_used", 10)} `;
    out += `${pad("pages_per_zspage", 16)} ${pad("freeable", 8)}\n`;
    const totals = new Array<number>(11).fill(0);
    let objs = 0;
    let used = 0;
    let pages = 0;
    let freeable = 0;
    for (const c of s.classes) {
      out += ` ${pad(c.index, 5)} ${pad(c.size, 5)} `;
      c.fullness.forEach((n, i) => {
        totals[i]! += n;
        out += `${pad(n, 9)} `;
      });
      out += `${pad(c.objAllocated, 13)} ${pad(c.objUsed, 10)} ${pad(c.pagesUsed, 10)} `;
      out += `${pad(c.pagesPerZspage, 16)} ${pad(c.freeable, 8)}\n`;
      objs += c.objAllocated;
      used += c.objUsed;
      pages += c.pagesUsed;
      freeable += c.freeable;
    }
    out += `\n ${pad("Total", 5)} ${pad("", 5)} `;
    for (const n of totals) out += `${pad(n, 9)} `;
    out += `${pad(objs, 13)} ${pad(used, 10)} ${pad(pages, 10)} ${pad("", 16)} ${pad(freeable, 8)}\n`;
    return out;
  }

  /** zs_destroy_pool. Objects left are a KmemError BUSY (nothing is freed). */
  destroy(): void {
    this.checkAlive("destroy");
    this.ctx.destroyPool(this);
  }

  /** @internal The context lets go of a destroyed pool. */
  markDead(): void {
    this.dead = true;
  }

  toString(): string {
    return `ZsPool(${JSON.stringify(this.name)})`;
  }

  /* ------------------------------------------------------------------ internal calls */

  /** @internal zs_malloc with checked arguments (zram calls it directly). */
  zsMalloc(size: number, gfp: number): number {
    const handle = this.ctx.kmalloc(ZS_HANDLE_SIZE, gfp & ~0x0a);
    if (handle === 0) return 0;
    const r = this.g.classRecord[classIndexOf(this.g, size + ZS_HANDLE_SIZE)]!;
    const b = this.recBase + r * Rec.WORDS;
    const d = this.d;
    this.lock();
    let first = this.findZspage(b);
    if (first !== 0) {
      const obj = this.objMalloc(first, b, handle);
      this.fixFullness(first, b);
      this.setWord(handle >>> 2, obj);
      this.setWord((handle >>> 2) + 1, 0);
      d[b + Rec.OBJS_INUSE]!++;
      this.unlock();
      return handle;
    }
    this.unlock();
    first = this.allocZspage(r, b, gfp);
    if (first === 0) {
      this.ctx.kfree(handle);
      return 0;
    }
    this.lock();
    const obj = this.objMalloc(first, b, handle);
    this.insert(first, b, fullnessGroup(this.inuse(first), d[b + Rec.OBJS]!));
    this.setWord(handle >>> 2, obj);
    this.setWord((handle >>> 2) + 1, 0);
    Atomics.add(d, Pool.PAGES_ALLOCATED, d[b + Rec.PAGES]!);
    d[b + Rec.OBJS_ALLOCATED]! += d[b + Rec.OBJS]!;
    d[b + Rec.OBJS_INUSE]!++;
    // On its list and counted: no longer this cpu's to undo (recover.ts).
    this.reg[this.intent + Intent.BUILD] = 0;
    this.unlock();
    return handle;
  }

  /** @internal zs_free of a handle checked to be an integer. */
  zsFree(handle: number): void {
    this.zsFreeObject(handle);
    this.ctx.kfree(handle);
  }

  /**
   * @internal zs_free but for the handle's own kfree, which the caller does (zram, once
   * its intent record no longer names the handle: src/zram/robust.ts).
   */
  zsFreeObject(handle: number): void {
    this.lock();
    try {
      const obj = this.locate(handle, "free");
      const ctx = this.ctx;
      if (ctx.mappedHandle === handle && ctx.mappedPool === this) {
        throw new KmemError(
          "BUSY",
          `zs_free(${hex(handle)}): the object is mapped (unmap it first)`,
        );
      }
      const first = this.locFirst;
      const b = this.recBase + this.locRec * Rec.WORDS;
      this.d[b + Rec.OBJS_INUSE]!--;
      this.objFree(obj, first, b);
      if (this.fixFullness(first, b) === Fullness.RATIO_0) this.freeZspage(first, b);
      // Not Linux's: a freed handle says so, while its word survives (a later free of it
      // is then a DOUBLE_FREE, even when its zspage went back to the page allocator).
      this.setWord(handle >>> 2, FREED_HANDLE);
    } finally {
      this.unlock();
    }
  }

  /** @internal map with checked arguments; returns the object's address. */
  mapObject(handle: number, mode: MapMode): number {
    const ctx = this.ctx;
    if (ctx.mappedHandle !== 0) {
      throw new KmemError(
        "BUSY",
        `map(${hex(handle)}): this context has ${hex(ctx.mappedHandle)} of pool ${JSON.stringify(ctx.mappedPool?.name)} mapped (one mapping at a time)`,
      );
    }
    this.lock();
    try {
      this.locate(handle, "map");
      // Named by this cpu's intent record with the count (offlineCpu takes it down).
      this.reg[this.intent + Intent.MAP_POOL] = this.address;
      this.reg[this.intent + Intent.MAP] = this.locFirst;
      Atomics.add(this.f, this.locFirst * W + ZsPg.POOL, ZsInfo.MAPCOUNT_ONE);
    } finally {
      this.unlock();
    }
    const first = this.locFirst;
    const pfn = this.locPfn;
    const size = this.d[this.recBase + this.locRec * Rec.WORDS + Rec.SIZE]!;
    const off = (this.locIndex * size) & this.pageMask;
    const page = pfn * this.pageSize;
    const huge = this.isHuge(first);
    ctx.mappedHandle = handle;
    ctx.mappedPool = this;
    ctx.mappedFirst = first;
    ctx.mappedMode = mode;
    if (off + size <= this.pageSize) {
      ctx.mappedSpan = false;
      return page + off + (huge ? 0 : ZS_HANDLE_SIZE);
    }
    // The object spans two pages: a copy in this cpu's mapping area.
    const next = this.f[pfn * W + ZsPg.NEXT_PAGE]! * this.pageSize;
    const area = ctx.mapArea;
    const head = this.pageSize - off;
    ctx.mappedSpan = true;
    ctx.mappedPage0 = page + off;
    ctx.mappedPage1 = next;
    ctx.mappedSize = size;
    if (mode !== MapMode.WO) {
      ctx.copyBytes(area, page + off, head);
      ctx.copyBytes(area + head, next, size - head);
    }
    return area + ZS_HANDLE_SIZE;
  }

  /** @internal unmap of an integer handle. */
  unmapObject(handle: number): void {
    const ctx = this.ctx;
    if (ctx.mappedHandle !== handle || ctx.mappedPool !== this || handle === 0) {
      throw new KmemError(
        "INVALID_FREE",
        `unmap(${hex(handle)}): not mapped in this context${ctx.mappedHandle !== 0 ? ` (${hex(ctx.mappedHandle)} is)` : ""}`,
      );
    }
    if (ctx.mappedSpan && ctx.mappedMode !== MapMode.RO) {
      // The header is the pool's: only the caller's bytes go back.
      // The caller's bytes on the first page may be none: an object that starts 8 bytes
      // before its page's end has only its header there.
      const area = ctx.mapArea + ZS_HANDLE_SIZE;
      const head = this.pageSize - (ctx.mappedPage0 & this.pageMask) - ZS_HANDLE_SIZE;
      if (head > 0) ctx.copyBytes(ctx.mappedPage0 + ZS_HANDLE_SIZE, area, head);
      ctx.copyBytes(ctx.mappedPage1, area + head, ctx.mappedSize - ZS_HANDLE_SIZE - head);
    }
    // Under the lock, with the intent record (recoverPool recounts mapcounts from them).
    this.lock();
    Atomics.sub(this.f, ctx.mappedFirst * W + ZsPg.POOL, ZsInfo.MAPCOUNT_ONE);
    this.reg[this.intent + Intent.MAP] = 0;
    this.reg[this.intent + Intent.MAP_POOL] = 0;
    this.unlock();
    ctx.mappedHandle = 0;
    ctx.mappedPool = null;
  }

  /** Compaction for reclaim and compact(): every class, largest first. */
  compactPages(_nrToScan: number): number {
    const d = this.d;
    // The compacting cpu + 1: offlineCpu clears it for a cpu that died compacting.
    if (Atomics.compareExchange(d, Pool.COMPACTING, 0, this.cpu + 1) !== 0) return 0;
    let freed = 0;
    try {
      for (let r = 0; r < this.g.size.length; r++) {
        freed += this.compactClass(this.recBase + r * Rec.WORDS);
      }
    } finally {
      Atomics.add(d, Pool.PAGES_COMPACTED, freed);
      Atomics.store(d, Pool.COMPACTING, 0);
    }
    return freed;
  }

  /* ------------------------------------------------------------------ zspages */

  private lock(): void {
    if (this.smp) {
      lock(
        this.d,
        Pool.LOCK,
        this.cpu,
        `zspool ${JSON.stringify(this.name)} lock`,
        this.phys.header,
      );
    }
  }

  private unlock(): void {
    if (this.smp) unlock(this.d, Pool.LOCK, this.cpu);
  }

  private word(wi: number): number {
    return this.phys.word(wi);
  }

  private setWord(wi: number, v: number): void {
    this.phys.setWord(wi, v);
  }

  private inuse(first: number): number {
    return this.f[first * W + ZsPg.INUSE]! & ZsInfo.INUSE_MASK;
  }

  private isHuge(first: number): boolean {
    return (this.f[first * W + ZsPg.INFO]! & ZsInfo.HUGE) !== 0;
  }

  /** find_get_zspage: the first zspage of the fullest group that is not full. */
  private findZspage(b: number): number {
    for (let fg = Fullness.RATIO_99; fg >= Fullness.RATIO_0; fg--) {
      const head = this.d[b + Rec.LISTS + fg]!;
      if (head !== 0) return head;
    }
    return 0;
  }

  private insert(first: number, b: number, fg: number): void {
    const f = this.f;
    const d = this.d;
    const i = first * W;
    const head = d[b + Rec.LISTS + fg]!;
    f[i + Pg.NEXT] = head;
    f[i + Pg.PREV] = 0;
    if (head !== 0) f[head * W + Pg.PREV] = first;
    d[b + Rec.LISTS + fg] = first;
    d[b + Rec.COUNTS + fg]!++;
    const info = f[i + ZsPg.INFO]!;
    f[i + ZsPg.INFO] =
      (info & ~(ZsInfo.FULLNESS_MASK << ZsInfo.FULLNESS_SHIFT)) | (fg << ZsInfo.FULLNESS_SHIFT);
  }

  private remove(first: number, b: number): void {
    const f = this.f;
    const i = first * W;
    const fg = (f[i + ZsPg.INFO]! >>> ZsInfo.FULLNESS_SHIFT) & ZsInfo.FULLNESS_MASK;
    const next = f[i + Pg.NEXT]!;
    const prev = f[i + Pg.PREV]!;
    if (prev !== 0) f[prev * W + Pg.NEXT] = next;
    else this.d[b + Rec.LISTS + fg] = next;
    if (next !== 0) f[next * W + Pg.PREV] = prev;
    f[i + Pg.NEXT] = 0;
    f[i + Pg.PREV] = 0;
    this.d[b + Rec.COUNTS + fg]!--;
  }

  /** fix_fullness_group: moves the zspage to the list its inuse says; returns the group. */
  private fixFullness(first: number, b: number): number {
    const fg = fullnessGroup(this.inuse(first), this.d[b + Rec.OBJS]!);
    const cur = (this.f[first * W + ZsPg.INFO]! >>> ZsInfo.FULLNESS_SHIFT) & ZsInfo.FULLNESS_MASK;
    if (fg !== cur) {
      this.remove(first, b);
      this.insert(first, b, fg);
    }
    return fg;
  }

  /**
   * alloc_zspage + create_page_chain + init_zspage, before the lock is taken. Each page's
   * frame is written as it comes (its flags last) and linked from the page before, the
   * first named by this cpu's intent record (BUILD): a context that dies here leaves a
   * chain offlineCpu frees (recover.ts), less at most the page it had just been given.
   */
  private allocZspage(r: number, b: number, gfp: number): number {
    const d = this.d;
    const f = this.f;
    const nr = d[b + Rec.PAGES]!;
    const size = d[b + Rec.SIZE]!;
    const objs = d[b + Rec.OBJS]!;
    const pfns = this.scratch;
    const reg = this.reg;
    const cls = this.g.index[r]! << ZsInfo.CLASS_SHIFT;
    const huge = objs === 1 && nr === 1;
    let off = 0;
    let k = 0;
    for (let i = 0; i < nr; i++) {
      const addr = this.ctx.allocPage(gfp);
      if (addr === 0) {
        reg[this.intent + Intent.BUILD] = 0;
        while (--i >= 0) this.releasePage(pfns[i]!);
        return 0;
      }
      const pfn = addr >>> this.pageShift;
      pfns[i] = pfn;
      const first = pfns[0]!;
      const fi = pfn * W;
      if (i === 0) {
        reg[this.intent + Intent.BUILD_POOL] = this.address;
        reg[this.intent + Intent.BUILD] = pfn;
      }
      f[fi + ZsPg.NEXT_PAGE] = 0;
      f[fi + ZsPg.POOL] = this.id;
      f[fi + Pg.PREV] = 0;
      if (i === 0) {
        f[fi + Pg.NEXT] = 0;
        f[fi + ZsPg.INFO] = ZSPAGE_MAGIC | ZsInfo.FIRST | (huge ? ZsInfo.HUGE : 0) | cls;
        f[fi + ZsPg.INUSE] = 0; // inuse 0, first free object 0
      } else {
        f[fi + Pg.NEXT] = first;
        f[fi + ZsPg.INFO] = ZSPAGE_MAGIC | cls;
        f[fi + ZsPg.FIRST_OBJ] = off;
      }
      // Free links: each object's first word names the next free object's index; the
      // last object's, FREE_END (Linux links a stray object past the end of the zspage,
      // never reached since a full zspage is not allocated from).
      const page = pfn * this.pageSize;
      for (; off < this.pageSize && k < objs; off += size, k++) {
        this.setWord((page + off) >>> 2, k + 1 < objs ? (k + 1) << 1 : FREE_END);
      }
      off &= this.pageMask;
      f[fi + Pg.FLAGS] = ZS_FLAGS;
      if (i > 0) f[pfns[i - 1]! * W + ZsPg.NEXT_PAGE] = pfn;
    }
    return pfns[0]!;
  }

  /** A page of a zspage never made goes back to the page allocator, its frame cleared. */
  private releasePage(pfn: number): void {
    const f = this.f;
    const fi = pfn * W;
    f[fi + Pg.FLAGS] = PgFlag.HEAD;
    f[fi + Pg.NEXT] = 0;
    f[fi + Pg.PREV] = 0;
    f[fi + ZsPg.INFO] = 0;
    f[fi + ZsPg.INUSE] = 0;
    f[fi + ZsPg.NEXT_PAGE] = 0;
    f[fi + ZsPg.POOL] = 0;
    this.ctx.freePage(pfn * this.pageSize);
  }

  /** __free_zspage: the pages go back to the page allocator. Its list is group 0's. */
  private freeZspage(first: number, b: number): void {
    const f = this.f;
    const d = this.d;
    this.remove(first, b);
    let pfn = first;
    while (pfn !== 0) {
      const fi = pfn * W;
      const next = (f[fi + ZsPg.INFO]! & ZsInfo.HUGE) !== 0 ? 0 : f[fi + ZsPg.NEXT_PAGE]!;
      f[fi + Pg.FLAGS] = PgFlag.HEAD;
      f[fi + Pg.NEXT] = 0;
      f[fi + Pg.PREV] = 0;
      f[fi + ZsPg.INFO] = 0;
      f[fi + ZsPg.INUSE] = 0;
      f[fi + ZsPg.NEXT_PAGE] = 0;
      f[fi + ZsPg.POOL] = 0;
      this.ctx.freePage(pfn * this.pageSize);
      pfn = next;
    }
    d[b + Rec.OBJS_ALLOCATED]! -= d[b + Rec.OBJS]!;
    Atomics.sub(d, Pool.PAGES_ALLOCATED, d[b + Rec.PAGES]!);
  }

  /** obj_malloc: takes the zspage's first free object for `handle`; returns its obj. */
  private objMalloc(first: number, b: number, handle: number): number {
    const f = this.f;
    const fi = first * W;
    const w = f[fi + ZsPg.INUSE]!;
    const k = w >>> ZsInfo.FREEOBJ_SHIFT;
    const offset = k * this.d[b + Rec.SIZE]!;
    let page = first;
    for (let n = offset >>> this.pageShift; n > 0; n--) page = f[page * W + ZsPg.NEXT_PAGE]!;
    const link = (page * this.pageSize + (offset & this.pageMask)) >>> 2;
    const next = this.word(link);
    const freeobj = next === FREE_END ? ZsInfo.NO_FREE : next >>> 1;
    if ((f[fi + ZsPg.INFO]! & ZsInfo.HUGE) === 0) this.setWord(link, handle | OBJ_ALLOCATED_TAG);
    else f[fi + ZsPg.HUGE_HANDLE] = handle | OBJ_ALLOCATED_TAG;
    f[fi + ZsPg.INUSE] = (freeobj << ZsInfo.FREEOBJ_SHIFT) | ((w & ZsInfo.INUSE_MASK) + 1);
    return ((page << this.bits) | k) >>> 0;
  }

  /** obj_free: the object at `obj` goes on its zspage's free list. */
  private objFree(obj: number, first: number, b: number): void {
    const f = this.f;
    const fi = first * W;
    const k = obj & this.idxMask;
    const pfn = obj >>> this.bits;
    const w = f[fi + ZsPg.INUSE]!;
    const freeobj = w >>> ZsInfo.FREEOBJ_SHIFT;
    if ((f[fi + ZsPg.INFO]! & ZsInfo.HUGE) === 0) {
      const at = pfn * this.pageSize + ((k * this.d[b + Rec.SIZE]!) & this.pageMask);
      this.setWord(at >>> 2, freeobj === ZsInfo.NO_FREE ? FREE_END : freeobj << 1);
    } else {
      f[fi + ZsPg.HUGE_HANDLE] = 0;
    }
    f[fi + ZsPg.INUSE] = (k << ZsInfo.FREEOBJ_SHIFT) | ((w & ZsInfo.INUSE_MASK) - 1);
  }

  /**
   * The object a handle names, checked from the bytes: its obj must be in a zspage of this
   * pool, at an object start, whose header (or huge frame) names the handle back. Leaves
   * the zspage, page, class record and index in loc*; returns the obj. Misuse throws.
   */
  private locate(handle: number, fn: string): number {
    const f = this.f;
    const obj = this.word(handle >>> 2) >>> 0;
    if (obj === FREED_HANDLE) {
      throw new KmemError(
        "DOUBLE_FREE",
        `zs_${fn}(${hex(handle)}) of pool ${JSON.stringify(this.name)}: the handle was freed already`,
      );
    }
    const pfn = obj >>> this.bits;
    const k = obj & this.idxMask;
    const fi = pfn * W;
    if (!this.phys.hasFrame(pfn) || f[fi + Pg.FLAGS] !== ZS_FLAGS)
      this.badHandle(fn, handle, "it names no zspage");
    const info = f[fi + ZsPg.INFO]!;
    if (
      (info & ZsInfo.MAGIC_MASK) !== ZSPAGE_MAGIC ||
      (info & ZsInfo.MAP_AREA) !== 0 ||
      (f[fi + ZsPg.POOL]! & ZsInfo.POOL_MASK) !== this.id
    ) {
      this.badHandle(fn, handle, "it names no zspage of this pool");
    }
    const first = (info & ZsInfo.FIRST) !== 0 ? pfn : f[fi + Pg.NEXT]!;
    const cls = info >>> ZsInfo.CLASS_SHIFT;
    if (cls >= this.g.nrClasses) this.badHandle(fn, handle, "its zspage has no class");
    const r = this.g.classRecord[cls]!;
    const b = this.recBase + r * Rec.WORDS;
    const size = this.d[b + Rec.SIZE]!;
    if (k >= this.d[b + Rec.OBJS]!) this.badHandle(fn, handle, `object ${k} is past its zspage`);
    let page = first;
    for (let n = (k * size) >>> this.pageShift; n > 0 && page !== 0; n--) {
      page = f[page * W + ZsPg.NEXT_PAGE]!;
    }
    if (page !== pfn) this.badHandle(fn, handle, `object ${k} does not start on page ${pfn}`);
    const huge = (f[first * W + ZsPg.INFO]! & ZsInfo.HUGE) !== 0;
    const header = huge
      ? f[first * W + ZsPg.HUGE_HANDLE]!
      : this.word((pfn * this.pageSize + ((k * size) & this.pageMask)) >>> 2);
    if (header !== (handle | OBJ_ALLOCATED_TAG)) {
      if ((header & OBJ_ALLOCATED_TAG) === 0) {
        throw new KmemError(
          "DOUBLE_FREE",
          `zs_${fn}(${hex(handle)}) of pool ${JSON.stringify(this.name)}: the object is free (a handle freed already)`,
        );
      }
      this.badHandle(fn, handle, "the object there belongs to another handle");
    }
    this.locFirst = first;
    this.locPfn = pfn;
    this.locRec = r;
    this.locIndex = k;
    return obj;
  }

  private badHandle(fn: string, handle: number, why: string): never {
    throw new KmemError(
      "INVALID_FREE",
      `zs_${fn}(${hex(handle)}) of pool ${JSON.stringify(this.name)}: not a handle of this pool (${why})`,
    );
  }

  private checkHandle(fn: string, handle: unknown): asserts handle is number {
    if (typeof handle !== "number" || !Number.isInteger(handle)) {
      throw new TypeError(`${fn}: handle must be an integer, got ${String(handle)}`);
    }
    if (!this.ctx.isHandleAddress(handle)) {
      throw new KmemError(
        "INVALID_FREE",
        `zs_${fn}(${handle < 0 ? handle : hex(handle)}) of pool ${JSON.stringify(this.name)}: not a handle (handles are aligned addresses of managed memory)`,
      );
    }
  }

  private checkAlive(fn: string): void {
    if (!this.alive()) {
      this.dead = true;
      throw new KmemError("DESTROYED", `${fn}: zspool ${JSON.stringify(this.name)} was destroyed`);
    }
  }

  /* ------------------------------------------------------------------ compaction */

  /** zs_can_compact: pages compaction could free in the class at `b`. */
  private canCompact(b: number): number {
    const d = this.d;
    const allocated = d[b + Rec.OBJS_ALLOCATED]!;
    const used = d[b + Rec.OBJS_INUSE]!;
    if (allocated <= used) return 0;
    return (((allocated - used) / d[b + Rec.OBJS]!) | 0) * d[b + Rec.PAGES]!;
  }

  /** __zs_compact for one class. */
  private compactClass(b: number): number {
    let freed = 0;
    this.lock();
    try {
      let dst = 0;
      while (this.canCompact(b) > 0) {
        if (dst === 0) {
          dst = this.isolate(b, Fullness.RATIO_99, Fullness.RATIO_10 - 1, -1, false);
          if (dst === 0) break;
        }
        const src = this.isolate(b, Fullness.RATIO_10, Fullness.RATIO_99 + 1, 1, true);
        if (src === 0) break;
        this.migrate(src, dst, b);
        if (this.putback(src, b) === Fullness.RATIO_0) {
          this.freeZspage(src, b);
          freed += this.d[b + Rec.PAGES]!;
        }
        if (this.inuse(dst) === this.d[b + Rec.OBJS]!) {
          this.putback(dst, b);
          dst = 0;
        }
      }
      if (dst !== 0) this.putback(dst, b);
    } finally {
      this.unlock();
    }
    return freed;
  }

  /** Takes the first zspage (not mapped, when `unmapped`) of groups from..to off its list. */
  private isolate(b: number, from: number, to: number, step: number, unmapped: boolean): number {
    const f = this.f;
    for (let fg = from; fg !== to; fg += step) {
      for (let z = this.d[b + Rec.LISTS + fg]!; z !== 0; z = f[z * W + Pg.NEXT]!) {
        if (unmapped && Atomics.load(f, z * W + ZsPg.POOL) >>> ZsInfo.MAPCOUNT_SHIFT !== 0) {
          continue;
        }
        this.remove(z, b);
        return z;
      }
    }
    return 0;
  }

  private putback(first: number, b: number): number {
    const fg = fullnessGroup(this.inuse(first), this.d[b + Rec.OBJS]!);
    this.insert(first, b, fg);
    return fg;
  }

  /** migrate_zspage: live objects of `src` move to `dst` until one is full or empty. */
  private migrate(src: number, dst: number, b: number): void {
    const f = this.f;
    const size = this.d[b + Rec.SIZE]!;
    const objs = this.d[b + Rec.OBJS]!;
    const huge = (f[src * W + ZsPg.INFO]! & ZsInfo.HUGE) !== 0;
    let page = src;
    let index = 0;
    let offset = 0;
    while (page !== 0) {
      while (offset < this.pageSize) {
        const header = huge
          ? f[src * W + ZsPg.HUGE_HANDLE]!
          : this.word((page * this.pageSize + offset) >>> 2);
        if ((header & OBJ_ALLOCATED_TAG) !== 0) {
          const handle = (header & ~OBJ_ALLOCATED_TAG) >>> 0;
          const used = this.word(handle >>> 2) >>> 0;
          const free = this.objMalloc(dst, b, handle);
          this.copyObject(free, used, size);
          this.setWord(handle >>> 2, free);
          this.objFree(used, src, b);
          if (this.inuse(dst) === objs || this.inuse(src) === 0) return;
        }
        offset += size;
        index++;
      }
      page = huge ? 0 : f[page * W + ZsPg.NEXT_PAGE]!;
      offset &= this.pageMask;
    }
    void index;
  }

  /** zs_object_copy: `size` bytes from object `src` to object `dst`, either spanning pages. */
  private copyObject(dst: number, src: number, size: number): void {
    const f = this.f;
    let sPage = src >>> this.bits;
    let dPage = dst >>> this.bits;
    let sOff = ((src & this.idxMask) * size) & this.pageMask;
    let dOff = ((dst & this.idxMask) * size) & this.pageMask;
    let left = size;
    while (left > 0) {
      const n = Math.min(left, this.pageSize - sOff, this.pageSize - dOff);
      this.ctx.copyBytes(dPage * this.pageSize + dOff, sPage * this.pageSize + sOff, n);
      left -= n;
      sOff += n;
      dOff += n;
      if (sOff === this.pageSize) {
        sPage = f[sPage * W + ZsPg.NEXT_PAGE]!;
        sOff = 0;
      }
      if (dOff === this.pageSize) {
        dPage = f[dPage * W + ZsPg.NEXT_PAGE]!;
        dOff = 0;
      }
    }
  }
}
