/*
 * zram devices of an instance: made with createZram in any context, found by name from
 * every other (the registry's list of devices, src/zsmalloc/context.ts), each with a
 * zspool of its own name. Linux's zram_add/zram_remove and disksize_store.
 *
 * Invariants (verify() reports them by id):
 *   ZRAM-1  a device's descriptor is a live kmalloc object with its magic, on the
 *           registry's doubly linked list; its pool is a live pool of its name; its table
 *           is a vmalloc area of nr pages entries
 *   ZRAM-2  each slot is empty, same-filled, written back (a set bit of the backing
 *           bitmap), or holds a live handle of its pool whose object is large enough;
 *           huge slots are page-sized objects; no handle is in two slots; every slot lock
 *           is free at rest; every set bit of the backing bitmap is a slot's block
 *   ZRAM-3  the stats agree with the slots: pages_stored, compr_data_size, same_pages,
 *           huge_pages, bd_count
 */

import { checkKnownKeys, describe, KmemError } from "../errors.js";
import { algoId, type Algorithm, availableAlgorithms, codecFor } from "../codec/index.js";
import { Gfp } from "../page/index.js";
import { Reg, registryWords, type ZsContext } from "../zsmalloc/index.js";
import { Zd, ZramEntry, ZramFlag, ZramStat } from "./layout.js";
import { Zram, type ZramOwner, type ZramVm } from "./zram.js";

/** Options of {@link Kmem.createZram}. */
export interface ZramOptions {
  /** Bytes of the device (disksize), rounded up to whole pages. */
  disksize: number;
  /** "lz4" (default) or "zstd" where this runtime has it. */
  algorithm?: Algorithm;
  /** The most memory its pool may take (mem_limit), in bytes; 0 (default): no limit. */
  memLimit?: number;
  /** Its name, and its pool's: zramN by default (N counting devices made). */
  name?: string;
}

export class ZramContext implements ZramOwner {
  readonly zs: ZsContext;
  readonly vm: ZramVm;
  private readonly devices = new Map<number, Zram>();

  constructor(zs: ZsContext, vm: ZramVm) {
    this.zs = zs;
    this.vm = vm;
  }

  /** zram_add + disksize_store. Null when memory for it cannot be had. */
  createZram(options: ZramOptions): Zram | null {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `createZram options must be an object { disksize, algorithm?, memLimit?, name? }, got ${describe(options)}`,
      );
    }
    checkKnownKeys("createZram", options, ["disksize", "algorithm", "memLimit", "name"]);
    const p = this.zs.phys;
    const { disksize, memLimit = 0 } = options;
    if (
      typeof disksize !== "number" ||
      !Number.isInteger(disksize) ||
      disksize < p.pageSize ||
      disksize > 2 ** 40
    ) {
      throw new RangeError(
        `disksize must be an integer of bytes in ${p.pageSize}..${2 ** 40}, got ${describe(disksize)}`,
      );
    }
    if (typeof memLimit !== "number" || !Number.isInteger(memLimit) || memLimit < 0) {
      throw new RangeError(`memLimit must be an integer >= 0 (bytes), got ${describe(memLimit)}`);
    }
    const algorithm = options.algorithm ?? "lz4";
    if (!(availableAlgorithms() as string[]).includes(algorithm)) {
      throw new RangeError(
        `algorithm must be one of ${availableAlgorithms().join(", ")} in this runtime, got ${describe(algorithm)}`,
      );
    }
    if (options.name !== undefined) this.zs.nameBytes("zram", options.name);
    const nrPages = Math.ceil(disksize / p.pageSize);
    const reg = this.zs.registry(true);
    if (reg === null) return null;
    let name = options.name;
    let id = 0;
    if (name === undefined) {
      this.zs.lockRegistry(reg);
      id = reg[Reg.NEXT_ZRAM]!;
      reg[Reg.NEXT_ZRAM] = id + 1;
      this.zs.unlockRegistry(reg);
      name = `zram${id}`;
    }
    if (this.findOn(reg, name) !== 0)
      throw new RangeError(`a zram device named ${JSON.stringify(name)} exists already`);
    const pool = this.zs.createPool(name);
    if (pool === null) return null;
    const table = this.vm.vzalloc(nrPages * ZramEntry.BYTES);
    const at = table === 0 ? 0 : this.zs.kmalloc(Zd.WORDS * 4, Gfp.KERNEL | Gfp.ZERO);
    if (at === 0) {
      if (table !== 0) this.vm.vfree(table);
      pool.destroy();
      return null;
    }
    const d = p.wordsAt(at, Zd.WORDS);
    d.fill(0);
    d[Zd.ID] = id;
    d[Zd.NR_PAGES] = nrPages;
    d[Zd.ALGO] = algoId(algorithm);
    d[Zd.TABLE] = table;
    d[Zd.POOL] = pool.address;
    d[Zd.LIMIT_PAGES] = Math.ceil(memLimit / p.pageSize);
    this.zs.writeName(at + Zd.NAME * 4, this.zs.nameBytes("zram", name));
    this.zs.lockRegistry(reg);
    try {
      d[Zd.MAGIC] = Zd.MAGIC_VALUE;
      const head = reg[Reg.ZRAMS]!;
      d[Zd.NEXT] = head;
      if (head !== 0) p.setWord((head >>> 2) + Zd.PREV, at);
      reg[Reg.ZRAMS] = at;
    } finally {
      this.zs.unlockRegistry(reg);
    }
    return this.open(at, name);
  }

  /** The device named `name`, made in any context; null if there is none. */
  findZram(name: string): Zram | null {
    this.zs.nameBytes("zram", name);
    const reg = this.zs.registry(false);
    if (reg === null) return null;
    const at = this.findOn(reg, name);
    return at === 0 ? null : this.open(at, name);
  }

  private findOn(reg: Int32Array, name: string): number {
    this.zs.lockRegistry(reg);
    try {
      return this.zs.findOnList(reg, Reg.ZRAMS, Zd.NEXT, Zd.NAME, name);
    } finally {
      this.zs.unlockRegistry(reg);
    }
  }

  /** The device whose descriptor is at `at` (a swap area's), opened in this context. */
  openAt(at: number): Zram {
    const have = this.devices.get(at);
    if (have !== undefined && have.alive()) return have;
    return this.open(at, this.zs.readName(at + Zd.NAME * 4));
  }

  private open(at: number, name: string): Zram {
    const have = this.devices.get(at);
    if (have !== undefined && have.alive()) return have;
    const p = this.zs.phys;
    const algo = p.word((at >>> 2) + Zd.ALGO);
    const codec = codecFor(algo);
    if (codec === null)
      throw new TypeError(`${name} compresses with an algorithm this runtime lacks (${algo})`);
    const pool = this.zs.openPoolAt(p.word((at >>> 2) + Zd.POOL) >>> 0);
    const z = new Zram(this, at, name, pool, codec);
    this.devices.set(at, z);
    return z;
  }

  /** zram_remove (its slots already freed): unlinks it, frees table, pool, descriptor. */
  destroyZram(z: Zram): void {
    const p = this.zs.phys;
    const reg = this.zs.registry(false);
    if (reg === null) return;
    const at = z.address;
    const d = p.wordsAt(at, Zd.WORDS);
    this.zs.lockRegistry(reg);
    try {
      const next = d[Zd.NEXT]!;
      const prev = d[Zd.PREV]!;
      if (prev !== 0) p.setWord((prev >>> 2) + Zd.NEXT, next);
      else reg[Reg.ZRAMS] = next;
      if (next !== 0) p.setWord((next >>> 2) + Zd.PREV, prev);
      d[Zd.MAGIC] = 0;
    } finally {
      this.zs.unlockRegistry(reg);
    }
    z.markDead();
    this.devices.delete(at);
    this.vm.vfree(d[Zd.TABLE]! >>> 0);
    if (d[Zd.BD_BITMAP] !== 0) this.zs.kfree(d[Zd.BD_BITMAP]! >>> 0);
    z.pool.destroy();
    this.zs.kfree(at);
  }

  /** ZRAM-1..3 for every device of the instance. */
  verify(): void {
    const p = this.zs.phys;
    const reg = this.zs.registry(false);
    if (reg === null) return;
    this.zs.lockRegistry(reg);
    let list: number[];
    try {
      list = this.zs.listOf(reg, Reg.ZRAMS, Zd.NEXT);
      let prev = 0;
      for (const at of list) {
        if (!this.zs.isKmallocObject(at) || p.word((at >>> 2) + Zd.MAGIC) !== Zd.MAGIC_VALUE) {
          corrupt("ZRAM-1", `device ${at} on the list is not a live descriptor`);
        }
        if (p.word((at >>> 2) + Zd.PREV) !== prev)
          corrupt("ZRAM-1", `device ${at}'s prev link is wrong`);
        prev = at;
      }
    } finally {
      this.zs.unlockRegistry(reg);
    }
    void registryWords;
    for (const at of list) this.verifyDevice(at);
  }

  private verifyDevice(at: number): void {
    const p = this.zs.phys;
    const name = this.zs.readName(at + Zd.NAME * 4);
    const z = this.open(at, name);
    const d = p.wordsAt(at, Zd.WORDS);
    const where = `${name} (${at})`;
    if (z.pool.name !== name || !z.pool.alive())
      corrupt("ZRAM-1", `${where}: its pool is not a live pool of its name`);
    const e = new Int32Array(ZramEntry.WORDS);
    const handles = new Set<number>();
    let stored = 0;
    let compr = 0;
    let same = 0;
    let huge = 0;
    let wb = 0;
    const bdPages = d[Zd.BD_PAGES]!;
    const bm = bdPages === 0 ? null : p.wordsAt(d[Zd.BD_BITMAP]! >>> 0, (bdPages + 31) >>> 5);
    const blocks = new Set<number>();
    for (let i = 0; i < z.nrPages; i++) {
      z.entryWords(i, e);
      const flags = e[ZramEntry.FLAGS]!;
      const size = flags & ZramFlag.SIZE_MASK;
      const handle = e[ZramEntry.HANDLE]! >>> 0;
      if (e[ZramEntry.LOCK] !== 0)
        corrupt("ZRAM-2", `${where} slot ${i}: its lock is held at rest`);
      if ((flags & ZramFlag.UNDER_WB) !== 0)
        corrupt("ZRAM-2", `${where} slot ${i}: under writeback at rest`);
      if ((flags & ZramFlag.WB) !== 0) {
        if (
          bm === null ||
          handle === 0 ||
          handle >= bdPages ||
          (bm[handle >>> 5]! & (1 << (handle & 31))) === 0 ||
          blocks.has(handle)
        ) {
          corrupt("ZRAM-2", `${where} slot ${i}: backing block ${handle} is not one of its own`);
        }
        blocks.add(handle);
        wb++;
        stored++;
      } else if ((flags & ZramFlag.SAME) !== 0) {
        same++;
        stored++;
      } else if (handle !== 0) {
        if (size === 0 || handles.has(handle))
          corrupt(
            "ZRAM-2",
            `${where} slot ${i}: handle ${handle} of size ${size} (or in two slots)`,
          );
        handles.add(handle);
        let usable = 0;
        try {
          usable = z.pool.objectSize(handle);
        } catch (err) {
          corrupt(
            "ZRAM-2",
            `${where} slot ${i}: handle ${handle} is not live in its pool (${(err as Error).message})`,
          );
        }
        if (usable < size)
          corrupt("ZRAM-2", `${where} slot ${i}: a ${size}-byte page in a ${usable}-byte object`);
        if ((flags & ZramFlag.HUGE) !== 0) {
          if (size !== p.pageSize) corrupt("ZRAM-2", `${where} slot ${i}: huge but ${size} bytes`);
          huge++;
        }
        compr += size;
        stored++;
      } else if (flags !== 0) {
        corrupt("ZRAM-2", `${where} slot ${i}: empty with flags ${flags}`);
      }
    }
    if (bm !== null) {
      for (let b = 1; b < bdPages; b++) {
        if ((bm[b >>> 5]! & (1 << (b & 31))) !== 0 && !blocks.has(b))
          corrupt("ZRAM-2", `${where}: backing block ${b} is taken, and no slot holds it`);
      }
    }
    const s = (n: number) => Atomics.load(d, Zd.STATS + n) >>> 0;
    if (
      s(ZramStat.PAGES_STORED) !== stored ||
      s(ZramStat.COMPR_DATA_SIZE) !== compr ||
      s(ZramStat.SAME_PAGES) !== same ||
      s(ZramStat.HUGE_PAGES) !== huge ||
      s(ZramStat.BD_COUNT) !== wb
    ) {
      corrupt(
        "ZRAM-3",
        `${where}: stats say ${s(ZramStat.PAGES_STORED)} stored, ${s(ZramStat.COMPR_DATA_SIZE)} compressed bytes, ${s(ZramStat.SAME_PAGES)} same, ${s(ZramStat.HUGE_PAGES)} huge, ${s(ZramStat.BD_COUNT)} blocks; the slots ${stored}, ${compr}, ${same}, ${huge}, ${wb}`,
      );
    }
  }
}

function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}
