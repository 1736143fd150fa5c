/*
 * zram (Linux drivers/block/zram/zram_drv.c): a compressed RAM block device of page-sized
 * sectors over a zsmalloc pool. A written page is stored as
 *
 *   - its value alone, when it is one 8-byte value repeated (ZRAM_SAME; no memory),
 *   - a zsmalloc object of its compressed bytes, when they are fewer than the pool's
 *     huge_class_size,
 *   - otherwise the page as it is, a page-sized object (ZRAM_HUGE),
 *   - or, after writeback, a block of the caller's backing store (ZRAM_WB).
 *
 * A write compresses into this context's stream (Linux's per-cpu zcomp stream), allocates
 * the object first without and then with direct reclaim (the second try counted as a
 * writestall), refuses when the pool would pass memLimit, and only then takes the slot's
 * lock to swap the new contents in: the old slot stays intact until everything succeeded.
 * Every slot has a lock word; a read holds it while it decompresses; writeback drops it
 * while the backing store writes, then checks the slot did not change (ZRAM_UNDER_WB).
 *
 * Lock order: a slot's lock, then the pool's (src/sync/lock.ts); the backing bitmap's lock
 * alone. Nothing is allocated under a slot lock.
 *
 * A context may die anywhere (offlineCpu): an entry's flags are written last and cleared
 * first; a handle outside its slot is named by the cpu's intent record (NEW: allocated by a
 * write, OLD: let go of by a slot, until its object is freed); the stats of the slots
 * change only under their locks. robust.ts repairs from these.
 *
 * Writeback, likewise: the slot it marks UNDER_WB is named (WB_SLOT) before the flag is
 * set; the block it takes is named (BLOCK) under the bitmap lock before its bit is set,
 * until its slot holds it; the commit is an entry to be (SLOT, ENTRY) rolled forward, as a
 * write's; a written-back slot let go of names its block (BLOCK) until freeBlock clears
 * its bit and the record under the bitmap lock. bd_count changes with the bits, under
 * that lock. So a death leaks no block and leaves no slot under writeback.
 */

import { describe, KmemError } from "../errors.js";
import { algoName, fillSame, type PageCodec, sameFilled } from "../codec/index.js";
import { Gfp } from "../page/index.js";
import { lock, unlock } from "../sync/index.js";
import { Intent, intentAt, MapMode, type ZsContext, type ZsPool } from "../zsmalloc/index.js";
import { Zd, ZramEntry, ZramFlag, ZramStat } from "./layout.js";

/** Names accepted by {@link Zram.report}. */
export type ZramReportName = "mm_stat" | "io_stat" | "bd_stat";

/** What writeback writes: idle pages, huge pages, or pages both idle and huge. */
export type WritebackMode = "idle" | "huge" | "huge_idle";

/**
 * A backing store for writeback (Linux: the backing_dev), a synchronous pair of calls:
 * a file (fs.readSync/writeSync at block * pageSize) or any store of pages. Block 0 is
 * never used. Each context that reads written-back pages gives its own pair.
 */
export interface ZramBackingStore {
  /** Blocks (pages) the store holds. */
  pages: number;
  /** Fills `into` (a page) with block `block`. */
  read(block: number, into: Uint8Array): void;
  /** Stores the page `from` as block `block`. */
  write(block: number, from: Uint8Array): void;
}

/** A plain snapshot of a device's counters (the fields of mm_stat, io_stat and bd_stat). */
export interface ZramStats {
  origDataSize: number;
  comprDataSize: number;
  memUsedTotal: number;
  memLimit: number;
  memUsedMax: number;
  samePages: number;
  pagesCompacted: number;
  hugePages: number;
  hugePagesSince: number;
  failedReads: number;
  failedWrites: number;
  notifyFree: number;
  bdCount: number;
  bdReads: number;
  bdWrites: number;
  writestall: number;
  numReads: number;
  numWrites: number;
}

/** What a device needs besides zsmalloc: its table in vmalloc space. */
export interface ZramVm {
  vzalloc(size: number): number;
  vfree(addr: number): void;
  virtToPhys(addr: number): number;
  /** The swap area (its type) on the device at `addr`, or -1 when none is. */
  swapAreaOn(addr: number): number;
}

const W = ZramEntry.WORDS;

/** The registry side of a device (registry.ts). */
export interface ZramOwner {
  readonly zs: ZsContext;
  readonly vm: ZramVm;
  destroyZram(z: Zram): void;
}

export class Zram {
  /** zramN, or the name it was made with. */
  readonly name: string;
  /** Address of its descriptor. */
  readonly address: number;
  /** Page-sized sectors: disksize / pageSize. */
  readonly nrPages: number;
  readonly disksize: number;
  readonly algorithm: string;
  /** The zsmalloc pool holding its objects (named as the device). */
  readonly pool: ZsPool;
  private readonly owner: ZramOwner;
  private readonly zs: ZsContext;
  private readonly vm: ZramVm;
  private readonly d: Int32Array;
  private readonly codec: PageCodec;
  private readonly table: number;
  private readonly pageSize: number;
  private readonly smp: boolean;
  private readonly cpu: number;
  /* This context's stream: the page being written, its compressed bytes, a same value. */
  private readonly page: Uint8Array;
  private readonly pageWords: Int32Array;
  private readonly buffer: Uint8Array;
  private readonly bufferWords: Int32Array;
  private readonly value = new Int32Array(2);
  /* The slot last looked up: the view holding its entry and the entry's index there. */
  private ev: Int32Array;
  private ei = 0;
  private store: ZramBackingStore | null = null;
  /** The registry, and this cpu's intent record in it (zsmalloc/layout.ts, Intent). */
  private readonly reg: Int32Array;
  private readonly intent: number;
  private dead = false;

  /** @internal */
  constructor(owner: ZramOwner, address: number, name: string, pool: ZsPool, codec: PageCodec) {
    this.owner = owner;
    this.zs = owner.zs;
    this.vm = owner.vm;
    this.address = address;
    this.name = name;
    this.pool = pool;
    this.codec = codec;
    this.d = this.zs.phys.wordsAt(address, Zd.WORDS);
    this.nrPages = this.d[Zd.NR_PAGES]!;
    this.pageSize = this.zs.phys.pageSize;
    this.disksize = this.nrPages * this.pageSize;
    this.algorithm = algoName(this.d[Zd.ALGO]!);
    this.table = this.d[Zd.TABLE]! >>> 0;
    this.smp = this.zs.phys.nrCpus > 1;
    this.cpu = this.zs.cpu;
    this.page = new Uint8Array(this.pageSize);
    this.pageWords = new Int32Array(this.page.buffer);
    this.buffer = new Uint8Array(2 * this.pageSize);
    this.bufferWords = new Int32Array(this.buffer.buffer);
    this.ev = this.zs.phys.words;
    this.reg = this.zs.registry(false) ?? new Int32Array(0);
    this.intent = intentAt(this.zs.phys.nrCpus, this.cpu);
  }

  /* ------------------------------------------------------------------ block I/O */

  /**
   * Stores `bytes` (exactly a page) as sector `index`. Returns false when it cannot be
   * stored (no memory, or the pool would pass memLimit: counted in failed_writes); the
   * sector then keeps what it had.
   */
  write(index: number, bytes: Uint8Array): boolean {
    this.checkIndex("write", index);
    if (!(bytes instanceof Uint8Array) || bytes.length !== this.pageSize) {
      throw new TypeError(
        `write: bytes must be a Uint8Array of ${this.pageSize} bytes (a page), got ${describe(bytes)}${bytes instanceof Uint8Array ? ` of ${bytes.length}` : ""}`,
      );
    }
    this.page.set(bytes);
    Atomics.add(this.d, Zd.STATS + ZramStat.NUM_WRITES, 1);
    if (!this.writePage(index)) {
      Atomics.add(this.d, Zd.STATS + ZramStat.FAILED_WRITES, 1);
      return false;
    }
    return true;
  }

  /** Reads sector `index` into `out` (a page; a new one if not given) and returns it. */
  read(index: number, out?: Uint8Array): Uint8Array {
    this.checkIndex("read", index);
    const into = out ?? new Uint8Array(this.pageSize);
    if (!(into instanceof Uint8Array) || into.length !== this.pageSize) {
      throw new TypeError(
        `read: out must be a Uint8Array of ${this.pageSize} bytes (a page), got ${describe(out)}`,
      );
    }
    Atomics.add(this.d, Zd.STATS + ZramStat.NUM_READS, 1);
    try {
      this.readPage(index, into);
    } catch (err) {
      Atomics.add(this.d, Zd.STATS + ZramStat.FAILED_READS, 1);
      throw err;
    }
    return into;
  }

  /** Discards sector `index` (REQ_OP_DISCARD): its memory is freed; it reads as zeros. */
  discard(index: number): void {
    this.checkIndex("discard", index);
    this.slotLock(index);
    try {
      this.freeSlot(index);
    } finally {
      this.slotUnlock(index);
    }
  }

  /**
   * The swap layer's slot_free_notify: as discard, counted in notify_free (or miss_free
   * when the slot is busy, which Linux skips with a trylock).
   */
  freeNotify(index: number): void {
    this.checkIndex("freeNotify", index);
    Atomics.add(this.d, Zd.STATS + ZramStat.NOTIFY_FREE, 1);
    this.slotLock(index);
    try {
      this.freeSlot(index);
    } finally {
      this.slotUnlock(index);
    }
  }

  /** What sector `index` holds: "empty", "same", "huge", "compressed" or "written back". */
  slotState(index: number): "empty" | "same" | "huge" | "compressed" | "written back" {
    this.checkIndex("slotState", index);
    this.slotLock(index);
    const flags = this.ev[this.ei + ZramEntry.FLAGS]!;
    const handle = this.ev[this.ei + ZramEntry.HANDLE]!;
    this.slotUnlock(index);
    if ((flags & ZramFlag.WB) !== 0) return "written back";
    if ((flags & ZramFlag.SAME) !== 0) return "same";
    if (handle === 0) return "empty";
    return (flags & ZramFlag.HUGE) !== 0 ? "huge" : "compressed";
  }

  /** zs_compact of its pool; returns the pages freed. */
  compact(): number {
    this.checkAlive("compact");
    return this.pool.compact();
  }

  /** The idle attribute's "all": every stored page not written back is marked idle. */
  markIdle(): void {
    this.checkAlive("markIdle");
    for (let i = 0; i < this.nrPages; i++) {
      this.slotLock(i);
      const e = this.ei;
      const flags = this.ev[e + ZramEntry.FLAGS]!;
      if (this.allocated(e) && (flags & (ZramFlag.WB | ZramFlag.UNDER_WB | ZramFlag.SAME)) === 0) {
        this.ev[e + ZramEntry.FLAGS] = flags | ZramFlag.IDLE;
      }
      this.slotUnlock(i);
    }
  }

  /** mem_limit: the most memory the pool may take (0: no limit), rounded up to pages. */
  get memLimit(): number {
    return this.d[Zd.LIMIT_PAGES]! * this.pageSize;
  }

  set memLimit(bytes: number) {
    if (typeof bytes !== "number" || !Number.isInteger(bytes) || bytes < 0) {
      throw new RangeError(`memLimit must be an integer >= 0 (bytes), got ${describe(bytes)}`);
    }
    Atomics.store(this.d, Zd.LIMIT_PAGES, Math.ceil(bytes / this.pageSize));
  }

  /* ------------------------------------------------------------------ writeback */

  /**
   * Gives this context's backing store (Linux: backing_dev). The first one given decides
   * the device's backing size; another context's must hold as many pages. Returns false
   * when the block bitmap cannot be had.
   */
  setBackingStore(store: ZramBackingStore): boolean {
    this.checkAlive("setBackingStore");
    if (
      typeof store !== "object" ||
      store === null ||
      typeof store.read !== "function" ||
      typeof store.write !== "function" ||
      typeof store.pages !== "number" ||
      !Number.isInteger(store.pages) ||
      store.pages < 2
    ) {
      throw new TypeError(
        `backing store must be { pages (>= 2), read(block, into), write(block, from) }, got ${describe(store)}`,
      );
    }
    const have = Atomics.load(this.d, Zd.BD_PAGES);
    if (have === 0) {
      const words = (store.pages + 31) >>> 5;
      const bitmap = this.zs.kmalloc(words * 4, Gfp.KERNEL | Gfp.ZERO);
      if (bitmap === 0) return false;
      this.zs.phys.wordsAt(bitmap, words).fill(0);
      this.bdLock();
      if (this.d[Zd.BD_PAGES] === 0) {
        this.d[Zd.BD_BITMAP] = bitmap;
        this.d[Zd.BD_NEXT] = 1;
        Atomics.store(this.d, Zd.BD_PAGES, store.pages);
        this.bdUnlock();
      } else {
        this.bdUnlock();
        this.zs.kfree(bitmap);
      }
    }
    const pages = Atomics.load(this.d, Zd.BD_PAGES);
    if (pages !== store.pages) {
      throw new RangeError(
        `backing store must hold ${pages} pages, as the device's has, got ${store.pages}`,
      );
    }
    this.store = store;
    return true;
  }

  /**
   * writeback_store: writes the pages `mode` selects to the backing store, freeing their
   * memory. Returns the pages written; stops early when the store is full.
   */
  writeback(mode: WritebackMode = "idle"): number {
    this.checkAlive("writeback");
    const want =
      mode === "idle"
        ? ZramFlag.IDLE
        : mode === "huge"
          ? ZramFlag.HUGE
          : mode === "huge_idle"
            ? ZramFlag.IDLE | ZramFlag.HUGE
            : -1;
    if (want < 0)
      throw new RangeError(
        `writeback mode must be "idle", "huge" or "huge_idle", got ${describe(mode)}`,
      );
    const store = this.store;
    if (store === null)
      throw new TypeError(
        `writeback: ${this.name} has no backing store in this context (setBackingStore)`,
      );
    let written = 0;
    for (let i = 0; i < this.nrPages; i++) {
      this.slotLock(i);
      let handle = 0;
      let size = 0;
      try {
        const e = this.ei;
        const flags = this.ev[e + ZramEntry.FLAGS]!;
        if (
          !this.allocated(e) ||
          (flags & (ZramFlag.WB | ZramFlag.SAME | ZramFlag.UNDER_WB)) !== 0 ||
          (flags & want) !== want
        ) {
          continue;
        }
        handle = this.ev[e + ZramEntry.HANDLE]! >>> 0;
        size = flags & ZramFlag.SIZE_MASK;
        this.readFromPool(handle, size, this.page);
        // Named by the intent record before the flag is set (robust.ts clears the flag).
        this.reg[this.intent + Intent.DEVICE] = this.address;
        this.reg[this.intent + Intent.WB_SLOT] = i + 1;
        this.ev[e + ZramEntry.FLAGS] = flags | ZramFlag.UNDER_WB;
      } finally {
        this.slotUnlock(i);
      }
      const block = this.allocBlock();
      if (block === 0) {
        this.clearUnderWb(i);
        this.reg[this.intent + Intent.WB_SLOT] = 0;
        break;
      }
      try {
        store.write(block, this.page);
      } catch (err) {
        this.clearUnderWb(i);
        this.reg[this.intent + Intent.WB_SLOT] = 0;
        this.freeBlock(block);
        throw err;
      }
      // Commit, unless the slot changed while unlocked.
      this.slotLock(i);
      let committed = false;
      try {
        const e = this.ei;
        const flags = this.ev[e + ZramEntry.FLAGS]!;
        if (
          (flags & ZramFlag.UNDER_WB) !== 0 &&
          this.ev[e + ZramEntry.HANDLE]! >>> 0 === handle &&
          (flags & ZramFlag.SIZE_MASK) === size
        ) {
          // The entry to be, named by the intent record (robust.ts rolls it forward: the
          // page is in the block already).
          const reg = this.reg;
          const it = this.intent;
          reg[it + Intent.ENTRY] = block;
          reg[it + Intent.ENTRY + 1] = ZramFlag.WB;
          reg[it + Intent.ENTRY + 2] = 0;
          reg[it + Intent.SLOT] = i + 1;
          this.freeSlot(i);
          this.ev[e + ZramEntry.HANDLE] = block;
          this.ev[e + ZramEntry.FLAGS] = ZramFlag.WB;
          reg[it + Intent.BLOCK] = 0;
          Atomics.add(this.d, Zd.STATS + ZramStat.PAGES_STORED, 1);
          Atomics.add(this.d, Zd.STATS + ZramStat.BD_WRITES, 1);
          reg[it + Intent.SLOT] = 0;
          committed = true;
          written++;
        } else {
          this.ev[e + ZramEntry.FLAGS] = flags & ~ZramFlag.UNDER_WB;
        }
        this.reg[this.intent + Intent.WB_SLOT] = 0;
      } finally {
        this.slotUnlock(i);
      }
      if (!committed) this.freeBlock(block);
    }
    return written;
  }

  /* ------------------------------------------------------------------ reports */

  stats(): ZramStats {
    this.checkAlive("stats");
    const s = (n: number) => Atomics.load(this.d, Zd.STATS + n) >>> 0;
    const p = this.pageSize;
    return {
      origDataSize: s(ZramStat.PAGES_STORED) * p,
      comprDataSize: s(ZramStat.COMPR_DATA_SIZE),
      memUsedTotal: this.pool.totalPages * p,
      memLimit: this.d[Zd.LIMIT_PAGES]! * p,
      memUsedMax: s(ZramStat.MAX_USED_PAGES) * p,
      samePages: s(ZramStat.SAME_PAGES),
      pagesCompacted: this.pool.stats().pagesCompacted,
      hugePages: s(ZramStat.HUGE_PAGES),
      hugePagesSince: s(ZramStat.HUGE_PAGES_SINCE),
      failedReads: s(ZramStat.FAILED_READS),
      failedWrites: s(ZramStat.FAILED_WRITES),
      notifyFree: s(ZramStat.NOTIFY_FREE),
      bdCount: s(ZramStat.BD_COUNT),
      bdReads: s(ZramStat.BD_READS),
      bdWrites: s(ZramStat.BD_WRITES),
      writestall: s(ZramStat.WRITESTALL),
      numReads: s(ZramStat.NUM_READS),
      numWrites: s(ZramStat.NUM_WRITES),
    };
  }

  /** /sys/block/zramN/mm_stat, io_stat or bd_stat, in Linux's format. */
  report(name: ZramReportName): string {
    const s = this.stats();
    const f = (v: number) => String(v).padStart(8);
    const fourK = (pages: number) => Math.floor((pages * this.pageSize) / 4096);
    switch (name) {
      case "mm_stat":
        return (
          [
            s.origDataSize,
            s.comprDataSize,
            s.memUsedTotal,
            s.memLimit,
            s.memUsedMax,
            s.samePages,
            s.pagesCompacted,
            s.hugePages,
            s.hugePagesSince,
          ]
            .map(f)
            .join(" ") + "\n"
        );
      case "io_stat":
        // failed_reads failed_writes invalid_io (always 0 since Linux 6.2) notify_free
        return `${f(s.failedReads)} ${f(s.failedWrites)} 0 ${f(s.notifyFree)}\n`;
      case "bd_stat":
        return `${f(fourK(s.bdCount))} ${f(fourK(s.bdReads))} ${f(fourK(s.bdWrites))}\n`;
      default:
        throw new RangeError(
          `report name must be "mm_stat", "io_stat" or "bd_stat", got ${describe(name)}`,
        );
    }
  }

  /**
   * Frees every sector, the table, the pool and the device. No other context may use it.
   * KmemError BUSY, nothing changed, while it is a swap area (swapoff it first: Linux's
   * zram_remove is -EBUSY while swap holds the block device open).
   */
  destroy(): void {
    this.checkAlive("destroy");
    const type = this.vm.swapAreaOn(this.address);
    if (type >= 0) {
      throw new KmemError(
        "BUSY",
        `destroy: ${this.name} is swap area ${type}; swapoff(${type}) before destroying it`,
      );
    }
    for (let i = 0; i < this.nrPages; i++) {
      this.slotLock(i);
      this.freeSlot(i);
      this.slotUnlock(i);
    }
    this.owner.destroyZram(this);
  }

  toString(): string {
    return `Zram(${JSON.stringify(this.name)}, ${this.disksize} bytes, ${this.algorithm})`;
  }

  /* ------------------------------------------------------------------ internals */

  /** @internal Whether the descriptor is still this device's. */
  alive(): boolean {
    return (
      !this.dead && this.d[Zd.MAGIC] === Zd.MAGIC_VALUE && this.d[Zd.TABLE]! >>> 0 === this.table
    );
  }

  /** @internal Set by the registry when the device is gone. */
  markDead(): void {
    this.dead = true;
  }

  private checkAlive(fn: string): void {
    if (!this.alive()) throw new KmemError("DESTROYED", `${fn}: ${this.name} was destroyed`);
  }

  private checkIndex(fn: string, index: unknown): asserts index is number {
    if (this.dead || this.d[Zd.MAGIC] !== Zd.MAGIC_VALUE) this.checkAlive(fn);
    if (
      typeof index !== "number" ||
      !Number.isInteger(index) ||
      index < 0 ||
      index >= this.nrPages
    ) {
      if (typeof index !== "number" || !Number.isInteger(index)) {
        throw new TypeError(`${fn}: index must be an integer, got ${describe(index)}`);
      }
      throw new RangeError(`${fn}: index must be in 0..${this.nrPages - 1}, got ${index}`);
    }
  }

  /** Finds slot `index`'s entry (ev, ei) and takes its lock. */
  private slotLock(index: number): void {
    const p = this.zs.phys;
    const wi = this.vm.virtToPhys(this.table + index * ZramEntry.BYTES) >>> 2;
    this.ev = p.wordView(wi);
    this.ei = p.wordIndex(wi);
    if (this.smp)
      lock(
        this.ev,
        this.ei + ZramEntry.LOCK,
        this.cpu,
        `${this.name} slot ${index} lock`,
        p.header,
      );
  }

  private slotUnlock(_index: number): void {
    if (this.smp) unlock(this.ev, this.ei + ZramEntry.LOCK, this.cpu);
  }

  private allocated(e: number): boolean {
    const flags = this.ev[e + ZramEntry.FLAGS]!;
    return (flags & (ZramFlag.SIZE_MASK | ZramFlag.SAME | ZramFlag.WB)) !== 0;
  }

  /**
   * zram_free_page: the slot's memory (object, backing block) goes; under its lock. The
   * entry is cleared first (its flags before its handle); a handle let go of is named by
   * this cpu's intent record (OLD) until its object is freed, and kfree'd after (robust.ts).
   */
  private freeSlot(index: number): void {
    void index;
    const ev = this.ev;
    const e = this.ei;
    const d = this.d;
    const flags = ev[e + ZramEntry.FLAGS]!;
    const handle = ev[e + ZramEntry.HANDLE]! >>> 0;
    if ((flags & (ZramFlag.WB | ZramFlag.SAME)) === 0 && handle === 0) {
      ev[e + ZramEntry.FLAGS] = flags & ZramFlag.UNDER_WB;
      return;
    }
    const compressed = (flags & (ZramFlag.WB | ZramFlag.SAME)) === 0;
    if (compressed) {
      this.reg[this.intent + Intent.DEVICE] = this.address;
      this.reg[this.intent + Intent.OLD] = handle;
    } else if ((flags & ZramFlag.WB) !== 0) {
      // The block, until freeBlock clears its bit (and this record) under the bitmap lock.
      this.reg[this.intent + Intent.DEVICE] = this.address;
      this.reg[this.intent + Intent.BLOCK] = handle;
    }
    ev[e + ZramEntry.FLAGS] = 0;
    ev[e + ZramEntry.HANDLE] = 0;
    ev[e + ZramEntry.ELEMENT_HI] = 0;
    if ((flags & ZramFlag.HUGE) !== 0) Atomics.sub(d, Zd.STATS + ZramStat.HUGE_PAGES, 1);
    if ((flags & ZramFlag.WB) !== 0) {
      this.freeBlock(handle);
    } else if ((flags & ZramFlag.SAME) !== 0) {
      Atomics.sub(d, Zd.STATS + ZramStat.SAME_PAGES, 1);
    } else {
      Atomics.sub(d, Zd.STATS + ZramStat.COMPR_DATA_SIZE, flags & ZramFlag.SIZE_MASK);
    }
    Atomics.sub(d, Zd.STATS + ZramStat.PAGES_STORED, 1);
    if (compressed) {
      this.pool.zsFreeObject(handle);
      this.reg[this.intent + Intent.OLD] = 0;
      this.zs.kfree(handle);
    }
  }

  /** zram_write_page, from this context's stream page. */
  private writePage(index: number): boolean {
    const d = this.d;
    const P = this.pageSize;
    let flags = 0;
    let handle = 0;
    let compLen = 0;
    if (sameFilled(this.pageWords, 0, P >>> 2, this.value)) {
      flags = ZramFlag.SAME;
    } else {
      compLen = this.codec.compress(this.page, 0, P, this.buffer, 0, this.pool.hugeClassSize - 1);
      if (compLen === 0) compLen = P;
      handle = this.pool.zsMalloc(compLen, Gfp.KSWAPD_RECLAIM | Gfp.NOWARN);
      if (handle === 0) {
        Atomics.add(d, Zd.STATS + ZramStat.WRITESTALL, 1);
        handle = this.pool.zsMalloc(compLen, Gfp.NOIO);
        if (handle === 0) return false;
      }
      // Named by this cpu's intent record until its slot holds it (robust.ts).
      this.reg[this.intent + Intent.DEVICE] = this.address;
      this.reg[this.intent + Intent.NEW] = handle;
      const used = this.pool.totalPages;
      for (let max = Atomics.load(d, Zd.STATS + ZramStat.MAX_USED_PAGES); used > max;) {
        const seen = Atomics.compareExchange(d, Zd.STATS + ZramStat.MAX_USED_PAGES, max, used);
        if (seen === max) break;
        max = seen;
      }
      const limit = Atomics.load(d, Zd.LIMIT_PAGES);
      if (limit !== 0 && used > limit) {
        this.reg[this.intent + Intent.NEW] = 0;
        this.pool.zsFree(handle);
        return false;
      }
      const at = this.pool.mapObject(handle, MapMode.WO);
      const p = this.zs.phys;
      if (compLen === P) {
        p.byteViews[at >>> p.winShift]!.set(this.page, at & p.winMask);
      } else {
        // A word at a time: the object is 8-aligned, and its class holds compLen rounded
        // up to 4 (size + 8 is at most the class size, a multiple of 16).
        const wi = at >>> 2;
        const w = p.wordView(wi);
        const i0 = p.wordIndex(wi);
        const src = this.bufferWords;
        for (let k = 0, n = (compLen + 3) >>> 2; k < n; k++) w[i0 + k] = src[k]!;
      }
      this.pool.unmapObject(handle);
    }
    this.slotLock(index);
    try {
      // The entry to be, named by the intent record (robust.ts rolls it forward).
      const reg = this.reg;
      const it = this.intent;
      const same = flags === ZramFlag.SAME;
      reg[it + Intent.DEVICE] = this.address;
      reg[it + Intent.ENTRY] = same ? this.value[0]! : handle;
      reg[it + Intent.ENTRY + 1] = same
        ? ZramFlag.SAME
        : compLen | (compLen === P ? ZramFlag.HUGE : 0);
      reg[it + Intent.ENTRY + 2] = same ? this.value[1]! : 0;
      reg[it + Intent.SLOT] = index + 1;
      this.freeSlot(index);
      const ev = this.ev;
      const e = this.ei;
      // The flags last: a slot whose flags are 0 is empty (robust.ts).
      if (flags === ZramFlag.SAME) {
        ev[e + ZramEntry.HANDLE] = this.value[0]!;
        ev[e + ZramEntry.ELEMENT_HI] = this.value[1]!;
        ev[e + ZramEntry.FLAGS] = ZramFlag.SAME;
        Atomics.add(d, Zd.STATS + ZramStat.SAME_PAGES, 1);
      } else {
        ev[e + ZramEntry.HANDLE] = handle;
        ev[e + ZramEntry.FLAGS] = compLen | (compLen === P ? ZramFlag.HUGE : 0);
        this.reg[this.intent + Intent.NEW] = 0;
        Atomics.add(d, Zd.STATS + ZramStat.COMPR_DATA_SIZE, compLen);
        if (compLen === P) {
          Atomics.add(d, Zd.STATS + ZramStat.HUGE_PAGES, 1);
          Atomics.add(d, Zd.STATS + ZramStat.HUGE_PAGES_SINCE, 1);
        }
      }
      Atomics.add(d, Zd.STATS + ZramStat.PAGES_STORED, 1);
      reg[it + Intent.SLOT] = 0;
    } finally {
      this.slotUnlock(index);
    }
    return true;
  }

  /** zram_read_page into `out`. */
  private readPage(index: number, out: Uint8Array): void {
    this.slotLock(index);
    let block = 0;
    try {
      const ev = this.ev;
      const e = this.ei;
      const flags = ev[e + ZramEntry.FLAGS]!;
      ev[e + ZramEntry.FLAGS] = flags & ~ZramFlag.IDLE;
      if ((flags & ZramFlag.WB) !== 0) {
        block = ev[e + ZramEntry.HANDLE]!;
      } else if ((flags & ZramFlag.SAME) !== 0 || ev[e + ZramEntry.HANDLE] === 0) {
        const lo = (flags & ZramFlag.SAME) !== 0 ? ev[e + ZramEntry.HANDLE]! : 0;
        const hi = (flags & ZramFlag.SAME) !== 0 ? ev[e + ZramEntry.ELEMENT_HI]! : 0;
        if (lo === 0 && hi === 0) out.fill(0);
        else {
          fillSame(this.pageWords, 0, this.pageSize >>> 2, lo, hi);
          out.set(this.page);
        }
      } else {
        this.readFromPool(ev[e + ZramEntry.HANDLE]! >>> 0, flags & ZramFlag.SIZE_MASK, out);
      }
    } finally {
      this.slotUnlock(index);
    }
    if (block !== 0) {
      // The slot is unlocked before the backing store reads (as Linux).
      if (this.store === null) {
        throw new KmemError(
          "FAULT",
          `read(${index}): ${this.name} wrote it back, and this context has no backing store (setBackingStore)`,
        );
      }
      Atomics.add(this.d, Zd.STATS + ZramStat.BD_READS, 1);
      this.store.read(block, out);
    }
  }

  /** zram_read_from_zspool: decompresses (or copies) the object into `out`. */
  private readFromPool(handle: number, size: number, out: Uint8Array): void {
    const at = this.pool.mapObject(handle, MapMode.RO);
    try {
      const p = this.zs.phys;
      const view = p.byteViews[at >>> p.winShift]!;
      const off = at & p.winMask;
      if (size === this.pageSize) {
        out.set(view.subarray(off, off + size));
      } else {
        this.codec.decompress(view, off, size, out, 0, this.pageSize);
      }
    } finally {
      this.pool.unmapObject(handle);
    }
  }

  private clearUnderWb(index: number): void {
    this.slotLock(index);
    this.ev[this.ei + ZramEntry.FLAGS] = this.ev[this.ei + ZramEntry.FLAGS]! & ~ZramFlag.UNDER_WB;
    this.slotUnlock(index);
  }

  private bdLock(): void {
    if (this.smp)
      lock(this.d, Zd.BD_LOCK, this.cpu, `${this.name} backing bitmap lock`, this.zs.phys.header);
  }

  private bdUnlock(): void {
    if (this.smp) unlock(this.d, Zd.BD_LOCK, this.cpu);
  }

  /** alloc_block_bdev: a free block from the next one on (never block 0); 0 when full. */
  private allocBlock(): number {
    const pages = this.d[Zd.BD_PAGES]!;
    const bm = this.zs.phys.wordsAt(this.d[Zd.BD_BITMAP]! >>> 0, (pages + 31) >>> 5);
    this.bdLock();
    let found = 0;
    try {
      const start = this.d[Zd.BD_NEXT]! || 1;
      for (let n = 0; n < pages; n++) {
        const b = ((start - 1 + n) % (pages - 1)) + 1;
        if ((bm[b >>> 5]! & (1 << (b & 31))) === 0) {
          // Named by the intent record before its bit is set (robust.ts).
          this.reg[this.intent + Intent.DEVICE] = this.address;
          this.reg[this.intent + Intent.BLOCK] = b;
          bm[b >>> 5]! |= 1 << (b & 31);
          Atomics.add(this.d, Zd.STATS + ZramStat.BD_COUNT, 1);
          this.d[Zd.BD_NEXT] = b + 1 < pages ? b + 1 : 1;
          found = b;
          break;
        }
      }
    } finally {
      this.bdUnlock();
    }
    return found;
  }

  private freeBlock(block: number): void {
    const pages = this.d[Zd.BD_PAGES]!;
    const bm = this.zs.phys.wordsAt(this.d[Zd.BD_BITMAP]! >>> 0, (pages + 31) >>> 5);
    this.bdLock();
    bm[block >>> 5]! &= ~(1 << (block & 31));
    Atomics.sub(this.d, Zd.STATS + ZramStat.BD_COUNT, 1);
    this.reg[this.intent + Intent.BLOCK] = 0;
    if (block < this.d[Zd.BD_NEXT]!) this.d[Zd.BD_NEXT] = block;
    this.bdUnlock();
  }

  /** @internal verify(): the entry words of slot `index` (no lock: at rest). */
  entryWords(index: number, out: Int32Array): void {
    const p = this.zs.phys;
    const wi = this.vm.virtToPhys(this.table + index * ZramEntry.BYTES) >>> 2;
    for (let k = 0; k < W; k++) out[k] = p.word(wi + k);
  }
}
