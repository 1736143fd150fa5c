/*
 * Checked access to memory by address, physical or virtual: read and write of byte ranges,
 * and typed loads and stores (little-endian, as typed arrays over the buffer are on every
 * platform Node runs on).
 *
 * What an address may touch:
 *
 *   [0, firstManaged)          FAULT: the NULL page, the header and the mem_map
 *   [firstManaged, physEnd)    physical memory, directly
 *   [physEnd, VMALLOC_START)   FAULT: the hole
 *   [VMALLOC_START, END)       through the page tables; an unmapped page (a guard page,
 *                              free space, a freed area) is a FAULT
 *   beyond                     FAULT
 *
 * A range that touches a page it may not touch throws before a byte is written. A typed
 * access to a physical address is two compares and a DataView load; to a virtual one, a
 * page-table walk more (two loads with 4 KiB pages). An access that straddles two virtual
 * pages (unaligned, at a page end) is assembled byte by byte through the tables.
 *
 * Swappable memory (src/swap): the walk sets a leaf entry's ACCESSED bit when it is clear,
 * as an MMU does when it loads a translation into its TLB; a hit in the one-entry TLB
 * touches no entry (reclaim, clearing the bits, drops every TLB through TLB_GEN). A swap
 * entry in the walk is a fault the swap layer serves (swap-in) before the access goes on;
 * a range whose pages were translated while reclaim ran (TLB_GEN moved) is walked again.
 */

import { describe, hex, KmemError } from "../errors.js";
import type { PhysMem } from "../memory/index.js";
import { Pte, VmDesc } from "./layout.js";
import type { PageTables } from "./pgtable.js";
import type { Vmalloc } from "./vmalloc.js";

export class MemAccess {
  // `declare`d fields are assigned once, in the constructor, and never first defined as
  // undefined (what a plain field declaration compiles to with ES2022 class fields): V8
  // then keeps them constant, which measured nearly 2x on the virtual accessors.
  /*
   * With one buffer (`split` false) a physical address indexes `bytes` and `dv` directly,
   * as it always did; with a buffer per node it goes through its window's view (physmem.ts:
   * windows). The branch on `split` is kept out of at() and costs the accessors ~5%.
   */
  /** Each window's bytes, as bytes and as a DataView. */
  declare private readonly bv: readonly Uint8Array[];
  declare private readonly dvs: readonly DataView[];
  /** Every window's buffer (a write from one of them copies first). */
  declare private readonly windowBuffers: readonly ArrayBufferLike[];
  declare private readonly split: boolean;
  declare private readonly dv: DataView;
  declare private readonly bytes: Uint8Array;
  declare private readonly winShift: number;
  declare private readonly winMask: number;
  declare private readonly wordShift: number;
  declare private readonly wordMask: number;
  /** First address of managed memory and the end of physical memory. */
  declare private readonly lo: number;
  declare private physEnd: number;
  /** The physical memory (memory hotplug: `at` catches up before it faults). */
  declare private readonly mem: PhysMem;
  /** The vmalloc layer (Kmem, which extends this class, calls it too). */
  declare protected readonly vm: Vmalloc;
  declare private readonly pt: PageTables;
  declare private readonly wv: readonly Int32Array[];
  declare private readonly pageShift: number;
  declare private readonly entryBits: number;
  declare private readonly entryMask: number;
  /** Shift of the pgd index: entryBits * (levels - 1). */
  declare private readonly topShift: number;
  /** ~(pageSize - 1): the address bits of an entry. */
  declare private readonly addrMask: number;
  declare private readonly vstart: number;
  declare private readonly vsize: number;
  declare readonly pageSize: number;
  declare private readonly pageMask: number;
  /**
   * A one-entry translation cache (TLB): the page last translated and the physical page
   * behind it, valid while the descriptor's TLB_GEN is what it was (every unmap bumps it,
   * so a stale entry is never used, in this context or another over the same buffer). A
   * hit saves the walk: about a third of a virtual access with 4 KiB pages.
   */
  private tlbPage = -1;
  private tlbGen = 0;
  private tlbPhys = 0;
  /** The physical page of each page of the range being copied (scratch, grown as needed). */
  private frames = new Float64Array(64);
  /** Eight bytes for accesses that straddle two virtual pages. */
  private readonly scratch = new Uint8Array(8);
  private readonly scratchView = new DataView(this.scratch.buffer);

  constructor(phys: PhysMem, vm: Vmalloc) {
    this.bv = phys.byteViews;
    this.dvs = phys.byteViews.map((v) => new DataView(v.buffer, v.byteOffset, v.byteLength));
    this.windowBuffers = phys.buffers;
    this.split = phys.split;
    this.bytes = phys.bytes;
    this.dv = new DataView(phys.bytes.buffer, phys.bytes.byteOffset, phys.bytes.byteLength);
    this.winShift = phys.winShift;
    this.winMask = phys.winMask;
    this.wordShift = phys.wordShift;
    this.wordMask = phys.wordMask;
    this.lo = phys.firstManagedPfn * phys.pageSize;
    this.physEnd = phys.totalPages * phys.pageSize;
    this.mem = phys;
    phys.resized.push(() => {
      this.physEnd = phys.totalPages * phys.pageSize;
    });
    this.vm = vm;
    this.pt = vm.pageTables;
    this.wv = phys.wordViews;
    this.pageShift = phys.pageShift;
    this.entryBits = phys.pageShift - 2;
    this.entryMask = (1 << this.entryBits) - 1;
    this.topShift = this.entryBits * (vm.geometry.levels - 1);
    this.addrMask = ~(phys.pageSize - 1);
    this.vstart = vm.start;
    this.vsize = vm.size;
    this.pageSize = phys.pageSize;
    this.pageMask = phys.pageSize - 1;
  }

  /**
   * The physical address of a `size`-byte access at `addr`, or -1 when it straddles two
   * virtual pages. Throws FAULT (or TypeError/RangeError for a malformed address).
   */
  private at(addr: number, size: number, op: string): number {
    if (addr >>> 0 === addr && addr >= this.lo && addr + size <= this.physEnd) {
      return this.split ? this.splitAt(addr, size, op) : addr;
    }
    const off = addr - this.vstart;
    if (off >>> 0 === off && off + size <= this.vsize && typeof addr === "number") {
      if ((off & this.pageMask) + size > this.pageSize) return -1;
      const page = off >>> this.pageShift;
      const gen = this.vm.d[VmDesc.TLB_GEN] as number;
      if (page === this.tlbPage && gen === this.tlbGen) return this.tlbPhys + (off & this.pageMask);
      const p = this.translate(off);
      if (p >= 0) {
        this.tlbPage = page;
        this.tlbGen = gen;
        this.tlbPhys = p - (off & this.pageMask);
        return p;
      }
    }
    return this.atOutside(addr, size, op);
  }

  /** `at` past the memory this context sees: again if another context brought more online. */
  private atOutside(addr: number, size: number, op: string): number {
    if (addr >>> 0 === addr && addr >= this.physEnd && addr < this.vstart && this.mem.sync()) {
      return this.at(addr, size, op);
    }
    return this.fault(addr, size, op);
  }

  /**
   * at() for a physical address with a buffer per node: the address if the access lies in
   * its node's window, -1 if it runs past the window's end (read() sorts that out), FAULT
   * if it starts in a hole.
   */
  private splitAt(addr: number, size: number, op: string): number {
    const at = addr & this.winMask;
    const len = (this.bv[addr >>> this.winShift] as Uint8Array).length;
    if (at + size <= len) return addr;
    if (at < len) return -1;
    return this.fault(addr, size, op);
  }

  /**
   * The physical address behind `addr`: itself for physical memory, through the page
   * tables for a virtual one. An address that may not be accessed throws FAULT.
   */
  virtToPhys(addr: number): number {
    return this.at(addr, 1, "virtToPhys");
  }

  /**
   * The physical address behind offset `off` into the vmalloc space (0 <= off < size), or
   * -1 when its page is not mapped: the page-table walk, one load per level, written out
   * here rather than called so that the accessors compile to straight-line code.
   */
  private translate(off: number): number {
    const wv = this.wv;
    const ws = this.wordShift;
    const wm = this.wordMask;
    const page = off >>> this.pageShift;
    let t = this.pt.pgd;
    if (t === 0) {
      // Another context may have set the layer up since: take its descriptor.
      this.vm.refresh();
      t = this.pt.pgd;
      if (t === 0) return -1;
    }
    for (let shift = this.topShift; shift > 0; shift -= this.entryBits) {
      const e = (wv[t >>> ws] as Int32Array)[
        (t + ((page >>> shift) & this.entryMask)) & wm
      ] as number;
      if ((e & Pte.PRESENT) === 0) return -1;
      t = (e & this.addrMask) >>> 2;
    }
    const pte = (wv[t >>> ws] as Int32Array)[(t + (page & this.entryMask)) & wm] as number;
    if ((pte & Pte.PRESENT) === 0) return pte === 0 ? -1 : this.swapFault(off);
    if ((pte & Pte.ACCESSED) === 0) this.young(t, page, pte);
    return ((pte & this.addrMask) >>> 0) + (off & this.pageMask);
  }

  /** Sets the ACCESSED bit of `page`'s entry in leaf table `t` (unless it changed since). */
  private young(t: number, page: number, pte: number): void {
    const w = this.wv[t >>> this.wordShift] as Int32Array;
    Atomics.compareExchange(
      w,
      (t + (page & this.entryMask)) & this.wordMask,
      pte,
      pte | Pte.ACCESSED,
    );
  }

  /**
   * A swap entry met by the walk of `off` (do_swap_page): the swap layer brings the page
   * back, then the walk is done again. -1 if there is nothing to bring back; the swap layer
   * throws FAULT when no page can be had for it.
   */
  private swapFault(off: number): number {
    const swap = this.vm.swap;
    if (swap === null || !swap.swapIn(off >>> this.pageShift)) return -1;
    return this.translate(off);
  }

  /* ------------------------------------------------------------------ byte ranges */

  /**
   * A copy of `length` bytes at `addr`, physical or virtual, across page boundaries. A range
   * touching an unmapped page (a guard page, the NULL page, the reserved header) is FAULT.
   */
  read(addr: number, length: number): Uint8Array {
    if (typeof length !== "number" || length >>> 0 !== length) badLength(length);
    if (addr >>> 0 === addr && addr >= this.lo && addr + length <= this.physEnd) {
      return this.physSpan(addr, length)?.slice() ?? this.readWindows(addr, length);
    }
    if (length === 0) {
      checkAddress(addr);
      return new Uint8Array(0);
    }
    const off = addr - this.vstart;
    if (
      typeof off !== "number" ||
      off >>> 0 !== off ||
      off + length > this.vsize ||
      typeof addr !== "number"
    ) {
      return this.fault(addr, length, "read");
    }
    const count = this.walkRange(off, length);
    if (count < 0) return this.fault(this.pageAddr(addr, -count - 1), length, "read", addr, length);
    const frames = this.frames;
    const first = off & this.pageMask;
    if (count === 1) {
      const p = (frames[0] as number) + first;
      const at = p & this.winMask;
      return (this.bv[p >>> this.winShift] as Uint8Array).slice(at, at + length);
    }
    const out = new Uint8Array(length);
    // Page k holds bytes [k * pageSize - first, (k + 1) * pageSize - first) of the range; a
    // run of physically contiguous pages is one copy. A view made with the constructor is
    // cheaper than subarray(), which looks up the species constructor.
    for (let i = 0, k = 0; i < length;) {
      const p = (frames[k] as number) + (k === 0 ? first : 0);
      let end = (k + 1) * this.pageSize - first;
      for (k++; k < count && this.follows(frames[k] as number, frames[k - 1] as number); k++) {
        end += this.pageSize;
      }
      const n = Math.min(end, length) - i;
      const v = this.bv[p >>> this.winShift] as Uint8Array;
      out.set(new Uint8Array(v.buffer, v.byteOffset + (p & this.winMask), n), i);
      i += n;
    }
    return out;
  }

  /**
   * A live Uint8Array over the `length` bytes of physical memory at `addr` (in the buffer
   * of the node holding them): no copy, writes go straight to memory. The range must lie in
   * one node's managed memory (any block kmem hands out does); else FAULT. Virtual
   * addresses are refused (their pages are not contiguous).
   */
  view(addr: number, length: number): Uint8Array {
    if (typeof length !== "number" || length >>> 0 !== length) badLength(length);
    if (addr >>> 0 === addr && addr >= this.lo && addr + length <= this.physEnd) {
      const span = this.physSpan(addr, length);
      if (span !== null) return span;
    }
    checkAddress(addr);
    if (addr >= this.vstart && addr < this.vstart + this.vsize) {
      throw new KmemError(
        "FAULT",
        `view of ${length} bytes at ${hex(addr)}: a vmalloc address has no single view (its pages are scattered); use read/write or the typed accessors`,
      );
    }
    return this.fault(addr, Math.max(length, 1), "view");
  }

  /**
   * Writes `bytes` (any ArrayBufferView) at `addr`, physical or virtual: nothing is written
   * unless every page of the range may be (FAULT).
   */
  write(addr: number, bytes: ArrayBufferView): void {
    const data = bytes instanceof Uint8Array ? bytes : asBytes(bytes);
    const length = data.length;
    if (addr >>> 0 === addr && addr >= this.lo && addr + length <= this.physEnd) {
      const span = this.physSpan(addr, length);
      if (span !== null) span.set(data);
      else this.writeWindows(addr, data);
      return;
    }
    if (length === 0) {
      checkAddress(addr);
      return;
    }
    const off = addr - this.vstart;
    if (
      typeof off !== "number" ||
      off >>> 0 !== off ||
      off + length > this.vsize ||
      typeof addr !== "number"
    ) {
      this.fault(addr, length, "write");
    }
    // Every page first: a fault must leave memory as it was.
    const count = this.walkRange(off, length);
    if (count < 0) this.fault(this.pageAddr(addr, -count - 1), length, "write", addr, length);
    // A source inside the managed buffer could be overwritten part-way: copy it first.
    const src = this.windowBuffers.includes(data.buffer) ? data.slice() : data;
    const frames = this.frames;
    const first = off & this.pageMask;
    for (let i = 0, k = 0; i < length;) {
      const p = (frames[k] as number) + (k === 0 ? first : 0);
      let end = (k + 1) * this.pageSize - first;
      for (k++; k < count && this.follows(frames[k] as number, frames[k - 1] as number); k++) {
        end += this.pageSize;
      }
      const n = Math.min(end, length) - i;
      (this.bv[p >>> this.winShift] as Uint8Array).set(
        n === length ? src : new Uint8Array(src.buffer, src.byteOffset + i, n),
        p & this.winMask,
      );
      i += n;
    }
  }

  /**
   * The physical range [addr, addr + length) of managed memory as a live view, or null when
   * it does not lie in one window (it crosses a node's end, or the 2 GiB point of one buffer).
   */
  private physSpan(addr: number, length: number): Uint8Array | null {
    const v = this.bv[addr >>> this.winShift] as Uint8Array;
    const at = addr & this.winMask;
    return at + length <= v.length ? v.subarray(at, at + length) : null;
  }

  /** Whether physical page `p` comes right after page `prev` in the same window (one copy). */
  private follows(p: number, prev: number): boolean {
    return p === prev + this.pageSize && p >>> this.winShift === prev >>> this.winShift;
  }

  /**
   * The physical range [addr, addr + length) in pieces, one per window it touches: a range
   * across the 2 GiB point of one buffer, or across a node's end (which faults where the
   * node ends: the next window starts elsewhere). Returns [address, length] pairs.
   */
  private windowsOf(addr: number, length: number, op: string): number[] {
    const out: number[] = [];
    for (let a = addr, left = length; left > 0;) {
      const v = this.bv[a >>> this.winShift];
      const at = a & this.winMask;
      if (v === undefined || at >= v.length) this.fault(a, left, op, addr, length);
      const n = Math.min(left, v.length - at);
      out.push(a, n);
      a += n;
      left -= n;
    }
    return out;
  }

  private readWindows(addr: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const parts = this.windowsOf(addr, length, "read");
    for (let i = 0, o = 0; i < parts.length; i += 2) {
      const a = parts[i] as number;
      const n = parts[i + 1] as number;
      const at = a & this.winMask;
      out.set((this.bv[a >>> this.winShift] as Uint8Array).subarray(at, at + n), o);
      o += n;
    }
    return out;
  }

  private writeWindows(addr: number, data: Uint8Array): void {
    const parts = this.windowsOf(addr, data.length, "write");
    const src = this.windowBuffers.includes(data.buffer) ? data.slice() : data;
    for (let i = 0, o = 0; i < parts.length; i += 2) {
      const a = parts[i] as number;
      const n = parts[i + 1] as number;
      (this.bv[a >>> this.winShift] as Uint8Array).set(src.subarray(o, o + n), a & this.winMask);
      o += n;
    }
  }

  /**
   * Walks every page of [off, off + length) of the space into `frames` (the physical address
   * of each page, one walk per page); returns their number, or -(k + 1) if page k is unmapped.
   */
  private walkRange(off: number, length: number): number {
    const first = off & this.pageMask;
    const count = Math.ceil((first + length) / this.pageSize);
    if (this.frames.length < count) {
      this.frames = new Float64Array(Math.max(count, 2 * this.frames.length));
    }
    const base = off - first;
    // A swap-in on the way may reclaim (and swap out) a page translated before it: then
    // TLB_GEN moved, and the walk is done again (the pages brought back are active now).
    for (let round = 0; ; round++) {
      const gen = this.vm.d[VmDesc.TLB_GEN] as number;
      for (let k = 0; k < count; k++) {
        const p = this.translate(base + k * this.pageSize);
        if (p < 0) return -(k + 1);
        this.frames[k] = p;
      }
      if (this.vm.d[VmDesc.TLB_GEN] === gen) return count;
      if (round === 16) {
        throw new KmemError(
          "FAULT",
          `an access of ${length} bytes at ${hex(this.vstart + off)}: its pages do not fit in memory at once (swapped out again while the others were brought back)`,
        );
      }
    }
  }

  /** The address where page k of a range starting at `addr` begins (k = 0: addr itself). */
  private pageAddr(addr: number, k: number): number {
    return k === 0 ? addr : addr - ((addr - this.vstart) & this.pageMask) + k * this.pageSize;
  }

  /* ------------------------------------------------------------------ typed access */

  /* Loads and stores of one value (little-endian) at a physical or virtual address; FAULT
     where unmapped. An access that straddles two virtual pages is assembled byte by byte. */

  getUint8(addr: number): number {
    const p = this.at(addr, 1, "getUint8");
    return this.split
      ? ((this.bv[p >>> this.winShift] as Uint8Array)[p & this.winMask] as number)
      : (this.bytes[p] as number);
  }

  getInt8(addr: number): number {
    const p = this.at(addr, 1, "getInt8");
    return this.split ? this.dvAt(p).getInt8(p & this.winMask) : this.dv.getInt8(p);
  }

  getUint16(addr: number): number {
    const p = this.at(addr, 2, "getUint16");
    return p >= 0
      ? this.split
        ? this.dvAt(p).getUint16(p & this.winMask, true)
        : this.dv.getUint16(p, true)
      : this.straddle(addr, 2).getUint16(0, true);
  }

  getInt16(addr: number): number {
    const p = this.at(addr, 2, "getInt16");
    return p >= 0
      ? this.split
        ? this.dvAt(p).getInt16(p & this.winMask, true)
        : this.dv.getInt16(p, true)
      : this.straddle(addr, 2).getInt16(0, true);
  }

  getUint32(addr: number): number {
    const p = this.at(addr, 4, "getUint32");
    return p >= 0
      ? this.split
        ? this.dvAt(p).getUint32(p & this.winMask, true)
        : this.dv.getUint32(p, true)
      : this.straddle(addr, 4).getUint32(0, true);
  }

  getInt32(addr: number): number {
    const p = this.at(addr, 4, "getInt32");
    return p >= 0
      ? this.split
        ? this.dvAt(p).getInt32(p & this.winMask, true)
        : this.dv.getInt32(p, true)
      : this.straddle(addr, 4).getInt32(0, true);
  }

  getFloat32(addr: number): number {
    const p = this.at(addr, 4, "getFloat32");
    return p >= 0
      ? this.split
        ? this.dvAt(p).getFloat32(p & this.winMask, true)
        : this.dv.getFloat32(p, true)
      : this.straddle(addr, 4).getFloat32(0, true);
  }

  getFloat64(addr: number): number {
    const p = this.at(addr, 8, "getFloat64");
    return p >= 0
      ? this.split
        ? this.dvAt(p).getFloat64(p & this.winMask, true)
        : this.dv.getFloat64(p, true)
      : this.straddle(addr, 8).getFloat64(0, true);
  }

  getBigInt64(addr: number): bigint {
    const p = this.at(addr, 8, "getBigInt64");
    return p >= 0
      ? this.split
        ? this.dvAt(p).getBigInt64(p & this.winMask, true)
        : this.dv.getBigInt64(p, true)
      : this.straddle(addr, 8).getBigInt64(0, true);
  }

  getBigUint64(addr: number): bigint {
    const p = this.at(addr, 8, "getBigUint64");
    return p >= 0
      ? this.split
        ? this.dvAt(p).getBigUint64(p & this.winMask, true)
        : this.dv.getBigUint64(p, true)
      : this.straddle(addr, 8).getBigUint64(0, true);
  }

  setUint8(addr: number, value: number): void {
    if (typeof value !== "number") badValue(value);
    const p = this.at(addr, 1, "setUint8");
    if (this.split) (this.bv[p >>> this.winShift] as Uint8Array)[p & this.winMask] = value;
    else this.bytes[p] = value;
  }

  setInt8(addr: number, value: number): void {
    if (typeof value !== "number") badValue(value);
    const p = this.at(addr, 1, "setInt8");
    if (this.split) this.dvAt(p).setInt8(p & this.winMask, value);
    else this.dv.setInt8(p, value);
  }

  setUint16(addr: number, value: number): void {
    if (typeof value !== "number") badValue(value);
    const p = this.at(addr, 2, "setUint16");
    if (p >= 0) {
      if (this.split) this.dvAt(p).setUint16(p & this.winMask, value, true);
      else this.dv.setUint16(p, value, true);
    } else {
      this.scratchView.setUint16(0, value, true);
      this.unstraddle(addr, 2);
    }
  }

  setInt16(addr: number, value: number): void {
    if (typeof value !== "number") badValue(value);
    const p = this.at(addr, 2, "setInt16");
    if (p >= 0) {
      if (this.split) this.dvAt(p).setInt16(p & this.winMask, value, true);
      else this.dv.setInt16(p, value, true);
    } else {
      this.scratchView.setInt16(0, value, true);
      this.unstraddle(addr, 2);
    }
  }

  setUint32(addr: number, value: number): void {
    if (typeof value !== "number") badValue(value);
    const p = this.at(addr, 4, "setUint32");
    if (p >= 0) {
      if (this.split) this.dvAt(p).setUint32(p & this.winMask, value, true);
      else this.dv.setUint32(p, value, true);
    } else {
      this.scratchView.setUint32(0, value, true);
      this.unstraddle(addr, 4);
    }
  }

  setInt32(addr: number, value: number): void {
    if (typeof value !== "number") badValue(value);
    const p = this.at(addr, 4, "setInt32");
    if (p >= 0) {
      if (this.split) this.dvAt(p).setInt32(p & this.winMask, value, true);
      else this.dv.setInt32(p, value, true);
    } else {
      this.scratchView.setInt32(0, value, true);
      this.unstraddle(addr, 4);
    }
  }

  setFloat32(addr: number, value: number): void {
    if (typeof value !== "number") badValue(value);
    const p = this.at(addr, 4, "setFloat32");
    if (p >= 0) {
      if (this.split) this.dvAt(p).setFloat32(p & this.winMask, value, true);
      else this.dv.setFloat32(p, value, true);
    } else {
      this.scratchView.setFloat32(0, value, true);
      this.unstraddle(addr, 4);
    }
  }

  setFloat64(addr: number, value: number): void {
    if (typeof value !== "number") badValue(value);
    const p = this.at(addr, 8, "setFloat64");
    if (p >= 0) {
      if (this.split) this.dvAt(p).setFloat64(p & this.winMask, value, true);
      else this.dv.setFloat64(p, value, true);
    } else {
      this.scratchView.setFloat64(0, value, true);
      this.unstraddle(addr, 8);
    }
  }

  setBigInt64(addr: number, value: bigint): void {
    if (typeof value !== "bigint") badBigint(value);
    const p = this.at(addr, 8, "setBigInt64");
    if (p >= 0) {
      if (this.split) this.dvAt(p).setBigInt64(p & this.winMask, value, true);
      else this.dv.setBigInt64(p, value, true);
    } else {
      this.scratchView.setBigInt64(0, value, true);
      this.unstraddle(addr, 8);
    }
  }

  setBigUint64(addr: number, value: bigint): void {
    if (typeof value !== "bigint") badBigint(value);
    const p = this.at(addr, 8, "setBigUint64");
    if (p >= 0) {
      if (this.split) this.dvAt(p).setBigUint64(p & this.winMask, value, true);
      else this.dv.setBigUint64(p, value, true);
    } else {
      this.scratchView.setBigUint64(0, value, true);
      this.unstraddle(addr, 8);
    }
  }

  /** The DataView of the window holding physical address `p`. */
  private dvAt(p: number): DataView {
    return this.dvs[p >>> this.winShift] as DataView;
  }

  /** Gathers `size` bytes at a virtual `addr` that crosses a page end into the scratch. */
  private straddle(addr: number, size: number): DataView {
    this.scratch.set(this.read(addr, size));
    return this.scratchView;
  }

  /** Writes the first `size` scratch bytes (just filled by the caller) to `addr`. */
  private unstraddle(addr: number, size: number): void {
    this.write(addr, this.scratch.subarray(0, size));
  }

  /* ------------------------------------------------------------------ faults */

  /**
   * Throws for an access of `length` bytes at `addr`: TypeError/RangeError if the address is
   * malformed, else FAULT naming the first byte that may not be touched and why. `whole`
   * is the range the caller asked for, when `addr` is a byte inside it.
   */
  private fault(
    addr: number,
    length: number,
    op: string,
    whole = addr,
    wholeLength = length,
  ): never {
    checkAddress(whole);
    // The first byte of [addr, addr + length) that may not be touched.
    let bad = addr;
    const vend = this.vstart + this.vsize;
    if (addr >= this.lo && addr < this.physEnd) {
      // The end of the node (window) the range starts in, or the range's start in a hole.
      const at = addr & this.winMask;
      const len = (this.bv[addr >>> this.winShift] as Uint8Array).length;
      bad = !this.split ? this.physEnd : at >= len ? addr : Math.min(addr - at + len, this.physEnd);
    } else if (addr >= this.vstart && addr < vend) {
      const stop = Math.min(addr + length, vend);
      while (bad < stop && this.translate(bad - this.vstart) >= 0) {
        bad += this.pageSize - ((bad - this.vstart) & this.pageMask);
      }
    }
    const what =
      bad < this.pageSize
        ? "the NULL page is never mapped"
        : bad < this.lo
          ? "it is in the reserved region (header and mem_map)"
          : bad < this.physEnd
            ? (bad & this.winMask) === 0
              ? `node ${bad >>> this.winShift} starts there, in a buffer of its own: one access cannot run from one node into the next`
              : `it is past the end of node ${bad >>> this.winShift}, in the hole before the next node's window (at ${hex(((bad >>> this.winShift) + 1) * 2 ** this.winShift)})`
            : bad < this.vstart
              ? `it is in the hole between physical memory (ends ${hex(this.physEnd)}) and the vmalloc space (starts ${hex(this.vstart)})`
              : bad >= vend
                ? `it is beyond the vmalloc space (ends ${hex(vend)})`
                : this.vm.describe(bad);
    throw new KmemError(
      "FAULT",
      `${op} of ${wholeLength} byte${wholeLength === 1 ? "" : "s"} at ${hex(whole)}: address ${hex(bad)} is not mapped: ${what}`,
    );
  }
}

/** The bytes of any ArrayBufferView, as a Uint8Array over the same memory. */
function asBytes(bytes: unknown): Uint8Array {
  if (!ArrayBuffer.isView(bytes)) {
    throw new TypeError(
      `bytes must be a Uint8Array or another ArrayBufferView, got ${describe(bytes)}`,
    );
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkAddress(addr: unknown): void {
  if (typeof addr !== "number" || !Number.isInteger(addr)) {
    throw new TypeError(`addr must be an integer address, got ${describe(addr)}`);
  }
  if (addr < 0) throw new RangeError(`addr must be a non-negative address, got ${addr}`);
}

function badLength(length: unknown): never {
  if (typeof length !== "number" || !Number.isInteger(length)) {
    throw new TypeError(`length must be a non-negative integer, got ${describe(length)}`);
  }
  throw new RangeError(`length must be in 0..${2 ** 32 - 1}, got ${length}`);
}

function badValue(value: unknown): never {
  throw new TypeError(`value must be a number, got ${describe(value)}`);
}

function badBigint(value: unknown): never {
  throw new TypeError(`value must be a bigint, got ${describe(value)}`);
}
