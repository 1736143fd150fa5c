/*
 * p2: the power-of-two free lists of 4.2BSD's malloc, Chris Kingsley's (Vahalia, "UNIX
 * Internals" §12.4; McKusick & Karels 1988 §3). One free list per power of two; a request
 * plus its header is rounded up to the next power of two and popped from that list; the
 * header names the list, so free pushes the block back where it came from. Blocks never
 * coalesce and memory never goes back: a page carved into 64-byte blocks serves 64-byte
 * requests for as long as the allocator lives.
 *
 * Pages come from kmem's page allocator: one page, carved into blocks of one size, for blocks
 * smaller than a page; a block of 2^k pages for a block of that size.
 *
 * Block layout (every block, allocated or free; the caller gets the address of the payload):
 *
 *   block  0        1        2        3        4                 8
 *          +--------+--------+--------+--------+-----------------+------------------
 *          | 0xef   | bucket | state  | 0      | next / size     | payload ...
 *          +--------+--------+--------+--------+-----------------+------------------
 *
 *   0xef: 4.2BSD's ov_magic; bucket (ov_index): the block is 16 << bucket bytes, header
 *   included; state: ALLOCATED or FREE; word 1: while free, the next free block of the list
 *   (0 = end of list); while allocated, the size asked for (4.2BSD's RCHECK ovu_size).
 *
 * Frame table (frame-table.ts), one i32 per frame, kmem's addition (4.2BSD's malloc had
 * none): P2_PAGE | bucket << 8 for every frame that holds p2 blocks. free() reads it to
 * refuse an address that is not the payload of a p2 block before it reads a header, verify()
 * to walk every block.
 *
 * Invariants (verify() reports these ids):
 *  P2-1: every frame of the table holds blocks of its bucket only, each with a valid header
 *        (magic, bucket, a state); blocks of 2^k pages start at a frame aligned to 2^k
 *  P2-2: bucket b's free list holds exactly the FREE blocks of bucket b, none twice
 *  P2-3: per bucket, the blocks carved = the table's blocks, and free = the list's length;
 *        live and live bytes are those of the ALLOCATED blocks
 *  P2-4: pages held = control block + table pages + the pages of every bucket
 *  TABLE-1 (frame-table.ts)
 *
 * What it cannot detect (4.2BSD could not either): a write past the end of a block lands in
 * the next block's header and is found only when that block is freed or allocated again
 * (CORRUPTION) or by verify(); a write into a free block's payload is never found, and one
 * into its header is found when the block is popped. kmem adds the checks a header and a
 * page table allow: a free of an address that is not a p2 payload (INVALID_FREE), of a free
 * block (DOUBLE_FREE), of a block whose header was overwritten (CORRUPTION).
 */

import { hex } from "../errors.js";
import type { Kmem } from "../kmem.js";
import {
  ClassicBase,
  type ClassicStats,
  Ctl,
  GFP_PAGES,
  Kind,
  log2,
  orderOfPages,
} from "./control.js";
import { FrameTable } from "./frame-table.js";

// Block header: two i32 words before the payload.
//
//   word 0: MAGIC | bucket << 8 | state << 16     word 1: next free block / size asked for
const HDR_BYTES = 8;
const MAGIC = 0xef;
const ALLOCATED = 1;
const FREE = 2;
/** The smallest block, header included: 16 bytes (bucket 0). */
const MIN_SHIFT = 4;
const MIN_BLOCK = 1 << MIN_SHIFT;

/** Frame table entry: P2_PAGE | bucket << 8. */
const P2_PAGE = 0x70;

// Control block, after the shared header: per bucket b (nb buckets), three arrays.
//
//   P2.NEXTF + b        head of bucket b's free list (byte address of a block, 0 = empty)
//   P2.NEXTF + nb + b   blocks carved for bucket b (4.2BSD's nmalloc counted requests)
//   P2.NEXTF + 2nb + b  free blocks of bucket b
const enum P2 {
  NEXTF = Ctl.WORDS,
}

/** One bucket of {@link P2Stats}. */
export interface P2Bucket {
  /** Block size, header included. */
  size: number;
  /** Blocks carved for this size, and how many of them are free. */
  blocks: number;
  free: number;
}

/** stats() of {@link P2Allocator}. */
export interface P2Stats extends ClassicStats {
  /** Bytes of headers of the live blocks (8 per block). */
  headerBytes: number;
  /** Buckets that ever had a block, smallest first. */
  buckets: P2Bucket[];
}

export class P2Allocator extends ClassicBase {
  readonly name = "p2";
  /** Buckets: block sizes 16 << 0 .. 16 << (nb - 1). */
  declare readonly nb: number;
  /** Largest size alloc() can serve (the largest block less its header). */
  declare readonly maxSize: number;
  declare private readonly table: FrameTable;
  /** Block size - 1 of each bucket, for the boundary check of free(). */
  declare private readonly masks: Int32Array;
  declare private readonly nextf: number;
  declare private readonly carved: number;
  declare private readonly nfree: number;

  constructor(mm: Kmem) {
    const pageShift = log2(mm.pageSize);
    // Blocks up to 1 GiB, so that 16 << bucket stays a positive i32.
    const nb = Math.min(pageShift + mm.maxOrder - 1, 30) - MIN_SHIFT + 1;
    const own = P2.NEXTF + 3 * nb;
    super(mm, Kind.P2, own + FrameTable.dirWords(4, mm.pageSize, mm.totalPages));
    this.nb = nb;
    this.maxSize = 2 ** (MIN_SHIFT + nb - 1) - HDR_BYTES;
    this.table = new FrameTable(this, this.ctl + own, 4);
    this.masks = new Int32Array(nb);
    for (let b = 0; b < nb; b++) this.masks[b] = (2 ** (MIN_SHIFT + b) - 1) | 0;
    this.nextf = this.ctl + P2.NEXTF;
    this.carved = this.nextf + nb;
    this.nfree = this.nextf + 2 * nb;
  }

  /** Allocates `size` bytes (0 counts as 1); returns the payload's address, or 0. */
  alloc(size: number): number {
    if (size >>> 0 !== size) return this.oddSize(size);
    if (size > this.maxSize) return this.failed();
    const need = size + HDR_BYTES;
    const b = need <= MIN_BLOCK ? 0 : 32 - Math.clz32(need - 1) - MIN_SHIFT;
    const w = this.w;
    const slot = this.nextf + b;
    let h = (w[slot] as number) >>> 0;
    if (h === 0) {
      h = this.morecore(b);
      if (h === 0) return this.failed();
    }
    const hw = h >>> 2;
    // A popped block must still look free: a use after free may have overwritten it.
    if (w[hw] !== (MAGIC | (b << 8) | (FREE << 16))) this.damagedFree(h, b);
    w[slot] = w[hw + 1] as number;
    w[hw] = MAGIC | (b << 8) | (ALLOCATED << 16);
    w[hw + 1] = size;
    w[this.nfree + b]!--;
    const c = this.ctl;
    w[c + Ctl.ALLOCS]!++;
    w[c + Ctl.LIVE]!++;
    w[c + Ctl.LIVE_BYTES]! += (MIN_BLOCK << b) - HDR_BYTES;
    return h + HDR_BYTES;
  }

  /** Frees what alloc returned. */
  free(addr: number): void {
    const b = this.bucketOf(addr, "free");
    const w = this.w;
    const h = addr - HDR_BYTES;
    const hw = h >>> 2;
    w[hw] = MAGIC | (b << 8) | (FREE << 16);
    w[hw + 1] = w[this.nextf + b] as number;
    w[this.nextf + b] = h;
    w[this.nfree + b]!++;
    const c = this.ctl;
    w[c + Ctl.FREES]!++;
    w[c + Ctl.LIVE]!--;
    w[c + Ctl.LIVE_BYTES]! -= (MIN_BLOCK << b) - HDR_BYTES;
  }

  /**
   * Resizes: the same block while the new size fits its bucket, else a new block with the
   * contents copied and the old one freed. Returns the address, or 0 with the old block
   * untouched. realloc(0, n) is alloc(n).
   */
  realloc(addr: number, size: number): number {
    if (addr === 0) return this.alloc(size);
    const b = this.bucketOf(addr, "realloc");
    if (size >>> 0 !== size) return this.oddSize(size);
    const usable = (MIN_BLOCK << b) - HDR_BYTES;
    if (size <= usable && (b === 0 || size + HDR_BYTES > MIN_BLOCK << (b - 1))) {
      this.w[((addr - HDR_BYTES) >>> 2) + 1] = size;
      return addr;
    }
    const moved = this.alloc(size);
    if (moved === 0) return 0;
    this.mem.copyWithin(moved, addr, addr + Math.min(usable, size));
    this.free(addr);
    return moved;
  }

  /** Usable bytes of the block at `addr` (its size less the header). */
  usableSize(addr: number): number {
    return (MIN_BLOCK << this.bucketOf(addr, "usableSize")) - HDR_BYTES;
  }

  /**
   * The bucket of the allocated block whose payload is at `addr`, after every check a free
   * needs (nothing is changed when one fails).
   */
  private bucketOf(addr: number, fn: string): number {
    if (addr >>> 0 !== addr || addr < HDR_BYTES || addr >= this.memEnd) {
      return this.badAddress(fn, addr);
    }
    const h = addr - HDR_BYTES;
    const e = this.table.at(h >>> this.pageShift);
    const entry = e === 0 ? 0 : (this.w[e >>> 2] as number);
    const b = entry >>> 8;
    if ((entry & 0xff) !== P2_PAGE || (h & (this.masks[b] as number)) !== 0) {
      return this.badAddress(fn, addr);
    }
    const hdr = this.w[h >>> 2] as number;
    if (hdr !== (MAGIC | (b << 8) | (ALLOCATED << 16))) this.badHeader(fn, addr, b, hdr);
    return b;
  }

  private badHeader(fn: string, addr: number, b: number, hdr: number): never {
    if (hdr === (MAGIC | (b << 8) | (FREE << 16))) {
      return this.misuse("DOUBLE_FREE", `${fn}(${hex(addr)}): the block is already free`);
    }
    return this.corrupt(
      "P2-1",
      `${fn}(${hex(addr)}): the header of the ${MIN_BLOCK << b}-byte block was overwritten (${hex(hdr >>> 0)}): a write past the end of the block before it?`,
    );
  }

  private damagedFree(h: number, b: number): never {
    return this.corrupt(
      "P2-2",
      `alloc: the free block at ${hex(h)} on the ${MIN_BLOCK << b}-byte list was overwritten (${hex((this.w[h >>> 2] as number) >>> 0)}): a write after free?`,
    );
  }

  /** Carves fresh blocks for bucket `b` onto its (empty) list; returns the first, or 0. */
  private morecore(b: number): number {
    const blockBytes = 2 ** (MIN_SHIFT + b);
    const order = blockBytes <= this.pageSize ? 0 : orderOfPages(blockBytes / this.pageSize);
    if (order >= this.mm.maxOrder) return 0;
    const addr = this.takePages(order, GFP_PAGES);
    if (addr === 0) return 0;
    const pfn = addr >>> this.pageShift;
    const w = this.w;
    for (let i = 0; i < 1 << order; i++) {
      const e = this.table.claim(pfn + i, GFP_PAGES);
      if (e === 0) {
        for (let j = 0; j < i; j++) this.table.release(pfn + j);
        this.givePages(addr, order);
        return 0;
      }
      w[e >>> 2] = P2_PAGE | (b << 8);
    }
    const n = Math.max(1, this.pageSize / blockBytes);
    let at = addr;
    for (let k = 0; k < n; k++, at += blockBytes) {
      w[at >>> 2] = MAGIC | (b << 8) | (FREE << 16);
      w[(at >>> 2) + 1] = k + 1 < n ? at + blockBytes : 0;
    }
    w[this.nextf + b] = addr;
    w[this.carved + b]! += n;
    w[this.nfree + b]! += n;
    return addr;
  }

  /** Checks every invariant from the bytes; throws KmemError CORRUPTION naming the first broken. */
  verify(): void {
    const w = this.w;
    const nb = this.nb;
    const blocks = new Array<number>(nb).fill(0);
    const free = new Array<number>(nb).fill(0);
    const freeAt = new Set<number>();
    let live = 0;
    let liveBytes = 0;
    let pages = 0;
    let bad: string | null = null;
    this.table.forEach((pfn, e) => {
      if (bad !== null) return;
      const entry = w[e >>> 2] as number;
      const b = entry >>> 8;
      if ((entry & 0xff) !== P2_PAGE || b >= nb) {
        bad = `frame ${pfn}: table entry ${hex(entry >>> 0)} is not a p2 page`;
        return;
      }
      pages++;
      const blockBytes = 2 ** (MIN_SHIFT + b);
      const framesPer = Math.max(1, blockBytes / this.pageSize);
      if (pfn % framesPer !== 0) return; // not a block's first frame
      const n = Math.max(1, this.pageSize / blockBytes);
      for (let k = 0; k < n; k++) {
        const h = pfn * this.pageSize + k * blockBytes;
        const hdr = w[h >>> 2] as number;
        if ((hdr & 0xffff) !== (MAGIC | (b << 8)) || hdr >>> 24 !== 0) {
          bad = `block ${hex(h)} (bucket ${b}): header ${hex(hdr >>> 0)} is not a ${blockBytes}-byte block's`;
          return;
        }
        const state = (hdr >>> 16) & 0xff;
        blocks[b]!++;
        if (state === FREE) {
          free[b]!++;
          freeAt.add(h);
        } else if (state === ALLOCATED) {
          live++;
          liveBytes += blockBytes - HDR_BYTES;
          if ((w[(h >>> 2) + 1] as number) >>> 0 > blockBytes - HDR_BYTES) {
            bad = `block ${hex(h)}: size asked for ${w[(h >>> 2) + 1]} exceeds its ${blockBytes - HDR_BYTES} usable bytes`;
            return;
          }
        } else {
          bad = `block ${hex(h)}: state ${state} is neither allocated nor free`;
          return;
        }
      }
    });
    if (bad !== null) this.corrupt("P2-1", bad);
    for (let b = 0; b < nb; b++) {
      let n = 0;
      const limit = free[b] as number;
      for (
        let h = (w[this.nextf + b] as number) >>> 0;
        h !== 0;
        h = (w[(h >>> 2) + 1] as number) >>> 0
      ) {
        if (!freeAt.has(h)) {
          this.corrupt(
            "P2-2",
            `bucket ${b}'s free list holds ${hex(h)}, not a free block of the bucket (or twice)`,
          );
        }
        if (((w[h >>> 2] as number) >>> 8) % 256 !== b) {
          this.corrupt(
            "P2-2",
            `bucket ${b}'s free list holds ${hex(h)}, a block of another bucket`,
          );
        }
        freeAt.delete(h);
        if (++n > limit) break;
      }
      if (n !== limit) this.corrupt("P2-2", `bucket ${b}: ${limit} free blocks, ${n} on its list`);
      if (w[this.carved + b] !== blocks[b]) {
        this.corrupt(
          "P2-3",
          `bucket ${b}: ${w[this.carved + b]} blocks counted, ${blocks[b]} found`,
        );
      }
      if (w[this.nfree + b] !== free[b]) {
        this.corrupt("P2-3", `bucket ${b}: ${w[this.nfree + b]} free counted, ${free[b]} found`);
      }
    }
    this.checkLive("P2-3", live, liveBytes, "live blocks");
    this.checkHeld("P2-4", pages);
    this.checkTable(this.table);
  }

  stats(): P2Stats {
    const w = this.w;
    const buckets: P2Bucket[] = [];
    for (let b = 0; b < this.nb; b++) {
      const blocks = w[this.carved + b] as number;
      if (blocks > 0) {
        buckets.push({ size: 2 ** (MIN_SHIFT + b), blocks, free: w[this.nfree + b] as number });
      }
    }
    const base = this.baseStats();
    return { ...base, headerBytes: base.live * HDR_BYTES, buckets };
  }
}
