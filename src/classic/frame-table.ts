/*
 * A classic allocator's own table of page frames: an entry of a fixed size for every frame
 * of physical memory it serves from (McKusick-Karels' kmemusage, Mach's zone_page_table,
 * the buddy bitmaps of the lazy buddy system), kept in pages of the managed buffer.
 *
 * The table is sparse. Its entries are grouped in segments of one page each, covering
 * `pageSize / entryBytes` consecutive frames; a segment's page is taken from the page
 * allocator (zeroed) when the allocator first claims a frame in its range and given back
 * when it releases the last, but for one spare: the page of the last segment emptied is kept
 * (all zero) for the next segment to need one, so that a frame claimed and released in turn
 * (one page coalescing and splitting again) does not take and give back a page each time.
 * So an empty allocator holds at most that page of table, and a busy one a page of table per
 * 4 MiB of memory it serves from (4-byte entries, 4 KiB pages).
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
 * and after the last segment's two words, the spare page's address (0: none).
 *
 * Invariant (the owner's verify() reports it with its own prefix):
 *  TABLE-1: a segment page is present exactly while some frame of its range is claimed, and
 *           its count is the number of claimed frames; the table pages counted are the
 *           present ones and the spare
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
    return 2 * FrameTable.segments(entryBytes, pageSize, totalPages) + 1;
  }

  private static segments(entryBytes: number, pageSize: number, totalPages: number): number {
    return Math.ceil(totalPages / (pageSize / entryBytes));
  }

  /** Word index of the spare page's address. */
  declare private readonly spare: number;

  constructor(owner: ClassicBase, dir: number, entryBytes: number) {
    this.owner = owner;
    this.w = owner.w;
    this.mem = owner.mem;
    this.entryBytes = entryBytes;
    this.entryShift = log2(entryBytes);
    this.segShift = owner.pageShift - this.entryShift;
    this.segMask = (1 << this.segShift) - 1;
    this.dir = dir;
    this.nsegs = FrameTable.segments(entryBytes, owner.pageSize, owner.mm.totalPages);
    this.spare = dir + 2 * this.nsegs;
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
      const spare = w[this.spare] as number;
      if (spare !== 0) {
        w[d] = spare;
        w[this.spare] = 0;
      } else {
        const page = this.owner.takePages(0, gfp | Gfp.ZERO);
        if (page === 0) return 0;
        w[d] = page;
        w[this.owner.ctl + Ctl.TABLE_PAGES]!++;
      }
    }
    w[d + 1]!++;
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
    if (--w[d + 1]! === 0) {
      w[d] = 0;
      if (w[this.spare] === 0) {
        w[this.spare] = base; // every entry of it is zero again
      } else {
        this.owner.givePages(base, 0);
        w[this.owner.ctl + Ctl.TABLE_PAGES]!--;
      }
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
    if (w[this.spare] !== 0) pages++;
    const held = w[this.owner.ctl + Ctl.TABLE_PAGES] as number;
    if (held !== pages) return `${held} table pages counted, ${pages} present (spare included)`;
    return null;
  }
}
