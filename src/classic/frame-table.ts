/*
 * A classic allocator's own table of page frames: an entry of a fixed size for every frame
 * of physical memory it serves from (McKusick-Karels' kmemusage, Mach's zone_page_table,
 * the buddy bitmaps of the lazy buddy system), kept in pages of the managed buffer.
 *
 * The table is sparse. Its entries are grouped in segments of one page each, covering
 * `pageSize / entryBytes` consecutive frames; a segment's page is taken from the page
 * allocator (zeroed) when the allocator first claims a frame in its range and given back
 * when it releases the last. So an empty allocator holds no table at all, and a busy one a
 * page of table per 4 MiB of memory it serves from (4-byte entries, 4 KiB pages).
 *
 * The directory lives in the control block, two words per segment:
 *
 *   dir + 2s    0                 4                 8
 *               +-----------------+-----------------+
 *               | page address    | frames claimed  |   address 0: no segment page yet
 *               +-----------------+-----------------+
 *
 *   entry(pfn) = dir[2 * (pfn >> segShift)] + (pfn & segMask) * entryBytes
 *
 * Invariant (the owner's verify() reports it with its own prefix):
 *  TABLE-1: a segment page is present exactly while some frame of its range is claimed, and
 *           its count is the number of claimed frames
 */

import { Ctl, type ClassicBase, log2 } from "./control.js";
import { Gfp } from "../page/index.js";

export class FrameTable {
  /** Frames per segment is 2^segShift; entries are 2^entryShift bytes. */
  declare readonly segShift: number;
  declare readonly segMask: number;
  declare readonly entryShift: number;
  declare readonly entryBytes: number;
  /** Word index of the directory, and its number of segments. */
  declare readonly dir: number;
  declare readonly nsegs: number;
  declare private readonly w: Int32Array;
  declare private readonly mem: Uint8Array;
  declare private readonly owner: ClassicBase;

  /** Words a directory needs for `totalPages` frames of `entryBytes`-byte entries. */
  static dirWords(entryBytes: number, pageSize: number, totalPages: number): number {
    const perSeg = pageSize / entryBytes;
    return 2 * Math.ceil(totalPages / perSeg);
  }

  constructor(owner: ClassicBase, dir: number, entryBytes: number) {
    this.owner = owner;
    this.w = owner.w;
    this.mem = owner.mem;
    this.entryBytes = entryBytes;
    this.entryShift = log2(entryBytes);
    this.segShift = owner.pageShift - this.entryShift;
    this.segMask = (1 << this.segShift) - 1;
    this.dir = dir;
    this.nsegs = FrameTable.dirWords(entryBytes, owner.pageSize, owner.mm.totalPages) / 2;
  }

  /** Byte address of `pfn`'s entry, or 0 when no frame of its segment is claimed. */
  at(pfn: number): number {
    const base = this.w[this.dir + ((pfn >>> this.segShift) << 1)] as number;
    return base === 0 ? 0 : (base >>> 0) + ((pfn & this.segMask) << this.entryShift);
  }

  /**
   * Claims `pfn`'s entry (zero) for the owner; returns its byte address, or 0 when the
   * segment's page cannot be had (nothing changed then).
   */
  claim(pfn: number, gfp: number): number {
    const d = this.dir + ((pfn >>> this.segShift) << 1);
    const w = this.w;
    if (w[d] === 0) {
      const page = this.owner.takePages(0, gfp | Gfp.ZERO);
      if (page === 0) return 0;
      w[d] = page;
      w[this.owner.ctl + Ctl.TABLE_PAGES]++;
    }
    w[d + 1]++;
    return ((w[d] as number) >>> 0) + ((pfn & this.segMask) << this.entryShift);
  }

  /** Releases `pfn`'s entry (zeroed); the segment's page goes back with its last frame. */
  release(pfn: number): void {
    const d = this.dir + ((pfn >>> this.segShift) << 1);
    const w = this.w;
    const base = (w[d] as number) >>> 0;
    const at = base + ((pfn & this.segMask) << this.entryShift);
    if (this.entryShift === 2) w[at >>> 2] = 0;
    else this.mem.fill(0, at, at + this.entryBytes);
    if (--w[d + 1] === 0) {
      w[d] = 0;
      this.owner.givePages(base, 0);
      w[this.owner.ctl + Ctl.TABLE_PAGES]--;
    }
  }

  /**
   * Calls `fn(pfn, entry)` for every frame of every present segment whose entry is not all
   * zero (verify and stats walk the allocator's pages with it).
   */
  forEach(fn: (pfn: number, entry: number) => void): void {
    const w = this.w;
    const per = 1 << this.segShift;
    const total = this.owner.mm.totalPages;
    for (let s = 0; s < this.nsegs; s++) {
      const base = (w[this.dir + 2 * s] as number) >>> 0;
      if (base === 0) continue;
      for (let i = 0; i < per; i++) {
        const pfn = s * per + i;
        if (pfn >= total) break;
        const at = base + (i << this.entryShift);
        let used = false;
        for (let b = 0; b < this.entryBytes; b += 4) {
          if (w[(at + b) >>> 2] !== 0) {
            used = true;
            break;
          }
        }
        if (used) fn(pfn, at);
      }
    }
  }

  /**
   * TABLE-1 for the owner's verify(): `claimed(pfn)` says whether a frame should hold an
   * entry; returns a message for the first inconsistency, or null.
   */
  check(claimed: (pfn: number) => boolean): string | null {
    const w = this.w;
    const per = 1 << this.segShift;
    const total = this.owner.mm.totalPages;
    let pages = 0;
    for (let s = 0; s < this.nsegs; s++) {
      const base = (w[this.dir + 2 * s] as number) >>> 0;
      const count = w[this.dir + 2 * s + 1] as number;
      let n = 0;
      for (let i = 0; i < per; i++) {
        const pfn = s * per + i;
        if (pfn < total && claimed(pfn)) n++;
      }
      if ((base === 0) !== (n === 0) || count !== n) {
        return `table segment ${s} (frames ${s * per}..${s * per + per - 1}): page ${base === 0 ? "absent" : "present"}, count ${count}, ${n} frames claimed`;
      }
      if (base !== 0) pages++;
    }
    const held = w[this.owner.ctl + Ctl.TABLE_PAGES] as number;
    if (held !== pages) return `${held} table pages counted, ${pages} present`;
    return null;
  }
}
