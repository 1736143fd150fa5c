/*
 * What zsmalloc and zram need from the instance, gathered once per context, and the
 * registry through which every context finds the same pools and devices by name.
 *
 * The registry is a kmalloc'd descriptor anchored at Hdr.ZS (layout.ts, Reg): the lists of
 * pools and of zram devices, an id counter, and each cpu's mapping area (a page, for
 * objects that span two pages). The first context that makes a pool makes it and installs
 * it with one compareExchange of the anchor (a context that loses frees its own). The
 * registry lock guards both lists and the names on them; it is taken to create, find and
 * destroy, never for an allocation or a free of objects, and nothing is allocated under it.
 *
 * Each context keeps a handle per pool (or device) it has opened, keyed by descriptor
 * address, and its one mapping (map/unmap: one object per cpu at a time, as Linux's
 * per-cpu mapping area).
 */

import { describe, hex, KmemError } from "../errors.js";
import { Frame, Hdr, Pg, PgFlag, type PhysMem } from "../memory/index.js";
import { checkGfp, Gfp, type Shrinker, validGfp } from "../page/index.js";
import { lock, unlock } from "../sync/index.js";
import {
  DEFAULT_CHAIN_SIZE,
  MAX_CHAIN_SIZE,
  MIN_CHAIN_SIZE,
  Pool,
  poolWords,
  Rec,
  recordsOffset,
  Reg,
  registryWords,
  ZSPAGE_MAGIC,
  type ZsGeometry,
  zsGeometry,
  ZsInfo,
  ZsPg,
} from "./layout.js";
import { type MapMode, ZsPool } from "./zsmalloc.js";

/** The calls zsmalloc makes into the layers below (the facade wires them). */
export interface ZsDeps {
  readonly phys: PhysMem;
  readonly cpu: number;
  allocPages(order: number, gfp: number): number;
  freePages(addr: number, order: number): void;
  kmalloc(size: number, gfp: number): number;
  kfree(addr: number): void;
  /** Whether `addr` is a live kmalloc object (verify). */
  isKmallocObject(addr: number): boolean;
  /** The instance's public registerShrinker / unregisterShrinker. */
  registerShrinker(s: Shrinker): void;
  unregisterShrinker(s: Shrinker): void;
}

/** Options of {@link Kmem.createZsPool}. */
export interface ZsPoolOptions {
  /** Most pages a zspage chains (Linux CONFIG_ZSMALLOC_CHAIN_SIZE): 4..16, default 8. */
  chainSize?: number;
}

const NAME_BYTES = Pool.NAME_BYTES;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

export class ZsContext {
  readonly phys: PhysMem;
  readonly cpu: number;
  readonly gfpKernel = Gfp.KERNEL;
  private readonly deps: ZsDeps;
  private readonly smp: boolean;
  /** Pools this context opened, by descriptor address. */
  private readonly pools = new Map<number, ZsPool>();
  private readonly geometries = new Map<number, ZsGeometry>();
  /* This context's mapping (map/unmap). */
  mappedHandle = 0;
  mappedPool: ZsPool | null = null;
  mappedFirst = 0;
  mappedMode: MapMode = 0;
  mappedSpan = false;
  mappedPage0 = 0;
  mappedPage1 = 0;
  mappedSize = 0;
  /** This cpu's mapping area (0 until the registry exists). */
  mapArea = 0;

  constructor(deps: ZsDeps) {
    this.deps = deps;
    this.phys = deps.phys;
    this.cpu = deps.cpu;
    this.smp = deps.phys.nrCpus > 1;
  }

  /* ------------------------------------------------------------------ below */

  kmalloc(size: number, gfp: number): number {
    return this.deps.kmalloc(size, gfp) >>> 0;
  }

  kfree(addr: number): void {
    this.deps.kfree(addr);
  }

  allocPage(gfp: number): number {
    return this.deps.allocPages(0, gfp);
  }

  freePage(addr: number): void {
    this.deps.freePages(addr, 0);
  }

  registerShrinker(s: Shrinker): void {
    this.deps.registerShrinker(s);
  }

  unregisterShrinker(s: Shrinker): void {
    this.deps.unregisterShrinker(s);
  }

  isKmallocObject(addr: number): boolean {
    return this.deps.isKmallocObject(addr);
  }

  /** Copies `n` bytes between addresses of managed memory (each range in one window). */
  copyBytes(dst: number, src: number, n: number): void {
    const p = this.phys;
    const dv = p.byteViews[dst >>> p.winShift]!;
    const sv = p.byteViews[src >>> p.winShift]!;
    const d = dst & p.winMask;
    const s = src & p.winMask;
    if (dv === sv) dv.copyWithin(d, s, s + n);
    else for (let i = 0; i < n; i++) dv[d + i] = sv[s + i]!;
  }

  /** Whether `addr` could be a handle: 8-aligned, in managed memory. */
  isHandleAddress(addr: number): boolean {
    const p = this.phys;
    return (
      addr >>> 0 === addr &&
      (addr & 7) === 0 &&
      addr >= p.firstManagedPfn * p.pageSize &&
      p.hasFrame(addr >>> p.pageShift)
    );
  }

  badSize(size: unknown): never {
    if (typeof size !== "number" || !Number.isInteger(size)) {
      throw new TypeError(`size must be an integer, got ${describe(size)}`);
    }
    throw new RangeError(`size must be in 0..${2 ** 32 - 1}, got ${size}`);
  }

  checkGfp(gfp: number): void {
    if (!validGfp(gfp)) checkGfp(gfp);
  }

  /* ------------------------------------------------------------------ the registry */

  /** The registry's words, or null when none exists (and `create` is false or fails). */
  registry(create: boolean): Int32Array | null {
    const h = this.phys.header;
    let at = Atomics.load(h, Hdr.ZS);
    if (at === 0) {
      if (!create) return null;
      at = this.createRegistry();
      if (at === 0) return null;
    }
    const reg = this.phys.wordsAt(at, registryWords(this.phys.nrCpus));
    if (this.mapArea === 0) this.mapArea = reg[Reg.MAP_AREA + this.cpu]!;
    return reg;
  }

  /** Makes the registry and every cpu's mapping area; installs it unless another won. */
  private createRegistry(): number {
    const p = this.phys;
    const words = registryWords(p.nrCpus);
    const at = this.kmalloc(words * 4, Gfp.KERNEL | Gfp.ZERO);
    if (at === 0) return 0;
    const reg = p.wordsAt(at, words);
    reg.fill(0);
    for (let cpu = 0; cpu < p.nrCpus; cpu++) {
      const page = this.allocPage(Gfp.KERNEL | Gfp.ZERO);
      if (page === 0) {
        this.freeRegistry(reg, at);
        return 0;
      }
      const fi = (page >>> p.pageShift) * Frame.WORDS;
      p.frames[fi + Pg.FLAGS] = PgFlag.HEAD | PgFlag.ZSMALLOC;
      p.frames[fi + ZsPg.INFO] = ZSPAGE_MAGIC | ZsInfo.MAP_AREA;
      p.frames[fi + ZsPg.MAP_AREA_CPU] = cpu;
      reg[Reg.MAP_AREA + cpu] = page;
    }
    reg[Reg.NR_CPUS] = p.nrCpus;
    reg[Reg.MAGIC] = Reg.MAGIC_VALUE;
    const old = Atomics.compareExchange(p.header, Hdr.ZS, 0, at);
    if (old !== 0) {
      this.freeRegistry(reg, at);
      return old;
    }
    return at;
  }

  private freeRegistry(reg: Int32Array, at: number): void {
    const p = this.phys;
    for (let cpu = 0; cpu < p.nrCpus; cpu++) {
      const page = reg[Reg.MAP_AREA + cpu]!;
      if (page === 0) continue;
      const fi = (page >>> p.pageShift) * Frame.WORDS;
      p.frames.fill(0, fi + Pg.NEXT, fi + Frame.WORDS);
      p.frames[fi + Pg.FLAGS] = PgFlag.HEAD;
      this.freePage(page);
    }
    this.kfree(at);
  }

  lockRegistry(reg: Int32Array): void {
    if (this.smp) lock(reg, Reg.LOCK, this.cpu, "the zsmalloc registry lock", this.phys.header);
  }

  unlockRegistry(reg: Int32Array): void {
    if (this.smp) unlock(reg, Reg.LOCK, this.cpu);
  }

  /** Descriptor addresses on the list starting at registry word `head` (under its lock). */
  listOf(reg: Int32Array, head: number, nextWord: number): number[] {
    const out: number[] = [];
    for (let at = reg[head]!; at !== 0 && out.length < 1 << 16;) {
      out.push(at);
      at = this.phys.word((at >>> 2) + nextWord);
    }
    return out;
  }

  /** The name stored in the NAME_BYTES bytes at `addr`. */
  readName(addr: number): string {
    const p = this.phys;
    const view = p.byteViews[addr >>> p.winShift]!;
    const at = addr & p.winMask;
    let end = at;
    while (end < at + NAME_BYTES && view[end] !== 0) end++;
    return utf8Decoder.decode(view.slice(at, end));
  }

  writeName(addr: number, bytes: Uint8Array): void {
    const p = this.phys;
    const view = p.byteViews[addr >>> p.winShift]!;
    const at = addr & p.winMask;
    view.fill(0, at, at + NAME_BYTES);
    view.set(bytes, at);
  }

  /** A name's UTF-8 bytes; a name that is not a 1..31-byte string is a programming error. */
  nameBytes(what: string, name: unknown): Uint8Array {
    if (typeof name !== "string") {
      throw new TypeError(`${what} name must be a string, got ${describe(name)}`);
    }
    const bytes = utf8.encode(name);
    if (bytes.length === 0 || bytes.length >= NAME_BYTES) {
      throw new RangeError(
        `${what} name must be 1..${NAME_BYTES - 1} bytes of UTF-8, got ${JSON.stringify(name)}`,
      );
    }
    return bytes;
  }

  /** An id no live pool or device has (16 bits: it is stored in zspage frames). */
  freshId(reg: Int32Array): number {
    const used = new Set<number>();
    for (const at of this.listOf(reg, Reg.POOLS, Pool.NEXT))
      used.add(this.phys.word((at >>> 2) + Pool.ID));
    for (let n = 0; n < 0xffff; n++) {
      const id = ((reg[Reg.NEXT_ID]! + n) % 0xffff) + 1;
      if (!used.has(id)) {
        reg[Reg.NEXT_ID] = id;
        return id;
      }
    }
    return 0;
  }

  /* ------------------------------------------------------------------ pools */

  geometry(chainSize: number): ZsGeometry {
    let g = this.geometries.get(chainSize);
    if (g === undefined) {
      g = zsGeometry(this.phys.pageSize, chainSize, this.phys.maxPages);
      this.geometries.set(chainSize, g);
    }
    return g;
  }

  /** zs_create_pool. Null when memory for it cannot be had. */
  createPool(name: string, options: ZsPoolOptions = {}): ZsPool | null {
    const bytes = this.nameBytes("zspool", name);
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`options must be an object, got ${describe(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (key !== "chainSize") {
        throw new TypeError(
          `createZsPool: unknown option ${JSON.stringify(key)} (known: chainSize)`,
        );
      }
    }
    const chain = options.chainSize ?? DEFAULT_CHAIN_SIZE;
    if (
      typeof chain !== "number" ||
      !Number.isInteger(chain) ||
      chain < MIN_CHAIN_SIZE ||
      chain > MAX_CHAIN_SIZE
    ) {
      throw new RangeError(
        `chainSize must be an integer in ${MIN_CHAIN_SIZE}..${MAX_CHAIN_SIZE}, got ${describe(chain)}`,
      );
    }
    const reg = this.registry(true);
    if (reg === null) return null;
    const g = this.geometry(chain);
    const words = poolWords(g);
    const at = this.kmalloc(words * 4, Gfp.KERNEL | Gfp.ZERO);
    if (at === 0) return null;
    const d = this.phys.wordsAt(at, words);
    d.fill(0);
    d[Pool.CHAIN] = chain;
    d[Pool.NR_CLASSES] = g.nrClasses;
    d[Pool.NR_RECORDS] = g.size.length;
    d[Pool.MIN_SIZE] = g.minSize;
    d[Pool.DELTA] = g.delta;
    d[Pool.OBJ_INDEX_BITS] = g.objIndexBits;
    d[Pool.HUGE_CLASS_SIZE] = g.hugeClassSize;
    for (let i = 0; i < g.nrClasses; i++) d[Pool.CLASS_MAP + i] = g.classRecord[i]!;
    const base = recordsOffset(g);
    for (let r = 0; r < g.size.length; r++) {
      const b = base + r * Rec.WORDS;
      d[b + Rec.SIZE] = g.size[r]!;
      d[b + Rec.OBJS] = g.objs[r]!;
      d[b + Rec.PAGES] = g.pages[r]!;
      d[b + Rec.INDEX] = g.index[r]!;
    }
    this.writeName(at + Pool.NAME * 4, bytes);
    this.lockRegistry(reg);
    let clash = false;
    let id = 0;
    try {
      clash = this.findOnList(reg, Reg.POOLS, Pool.NEXT, Pool.NAME, name) !== 0;
      if (!clash) id = this.freshId(reg);
      if (!clash && id !== 0) {
        d[Pool.ID] = id;
        d[Pool.MAGIC] = Pool.MAGIC_VALUE;
        const head = reg[Reg.POOLS]!;
        d[Pool.NEXT] = head;
        if (head !== 0) this.phys.setWord((head >>> 2) + Pool.PREV, at);
        reg[Reg.POOLS] = at;
      }
    } finally {
      this.unlockRegistry(reg);
    }
    if (clash || id === 0) {
      this.kfree(at);
      if (clash) throw new RangeError(`a zspool named ${JSON.stringify(name)} exists already`);
      return null;
    }
    return this.open(at, name, g);
  }

  /** The pool named `name`, made in any context; null if there is none. */
  findPool(name: string): ZsPool | null {
    this.nameBytes("zspool", name);
    const reg = this.registry(false);
    if (reg === null) return null;
    this.lockRegistry(reg);
    let at = 0;
    try {
      at = this.findOnList(reg, Reg.POOLS, Pool.NEXT, Pool.NAME, name);
    } finally {
      this.unlockRegistry(reg);
    }
    if (at === 0) return null;
    return this.open(at, name, this.geometry(this.phys.word((at >>> 2) + Pool.CHAIN)));
  }

  findOnList(reg: Int32Array, head: number, next: number, nameWord: number, name: string): number {
    for (const at of this.listOf(reg, head, next)) {
      if (this.readName(at + nameWord * 4) === name) return at;
    }
    return 0;
  }

  /** This context's handle of the live pool whose descriptor is at `at`. */
  openPoolAt(at: number): ZsPool {
    // Through the registry: it sets this cpu's mapping area (map of an object that spans
    // two pages copies through it), which a context that never looked a pool up by name
    // would otherwise not have.
    this.registry(false);
    return this.open(
      at,
      this.readName(at + Pool.NAME * 4),
      this.geometry(this.phys.word((at >>> 2) + Pool.CHAIN)),
    );
  }

  /** This context's handle of the pool at `at` (made once; its shrinker registered). */
  private open(at: number, name: string, g: ZsGeometry): ZsPool {
    let pool = this.pools.get(at);
    if (pool !== undefined && pool.alive()) return pool;
    if (pool !== undefined) this.unregisterShrinker(pool.shrinker);
    pool = new ZsPool(this, at, name, g);
    this.pools.set(at, pool);
    this.registerShrinker(pool.shrinker);
    return pool;
  }

  /** zs_destroy_pool: BUSY while the pool holds pages. */
  destroyPool(pool: ZsPool): void {
    const reg = this.registry(false);
    if (reg === null) return;
    const at = pool.address;
    this.lockRegistry(reg);
    try {
      const pages = Atomics.load(this.phys.wordsAt(at, Pool.LOCK), Pool.PAGES_ALLOCATED);
      if (pages !== 0) {
        throw new KmemError(
          "BUSY",
          `zs_destroy_pool(${JSON.stringify(pool.name)}): ${pages} pages of objects are still allocated`,
        );
      }
      const next = this.phys.word((at >>> 2) + Pool.NEXT);
      const prev = this.phys.word((at >>> 2) + Pool.PREV);
      if (prev !== 0) this.phys.setWord((prev >>> 2) + Pool.NEXT, next);
      else reg[Reg.POOLS] = next;
      if (next !== 0) this.phys.setWord((next >>> 2) + Pool.PREV, prev);
      this.phys.setWord((at >>> 2) + Pool.MAGIC, 0);
    } finally {
      this.unlockRegistry(reg);
    }
    this.pools.delete(at);
    this.unregisterShrinker(pool.shrinker);
    pool.markDead();
    this.kfree(at);
  }

  /** @internal For error messages. */
  describeAddress(addr: number): string {
    return hex(addr);
  }
}
