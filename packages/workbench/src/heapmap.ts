/*
 * The heap map: pictures of an allocator's memory taken during the measured pass, for the
 * report's timeline. Two views, at the resolution each allocator allows:
 *
 *   pages  a kmem layer: mm.pageMap(), every page frame by what holds it (free by order,
 *          per-cpu, each slab cache shaded by its fill, SLOB pages, the kmalloc heap's
 *          chunks shaded by theirs, large kmalloc, freed large runs cached for reuse,
 *          vmalloc, page tables, pages held by allocPages' callers, the header and mem_map)
 *   heap   any other allocator (an npm peer, a range allocator): its address range in cells
 *          of 4 KiB, each the live blocks it holds (the workbench knows them), the free
 *          blocks the allocator's own lists name (peers), what lies past its top (never
 *          used), and the rest (headers, padding, or free space the allocator cannot tell)
 *
 * A map has at most MAX_CELLS cells: past that a cell is 2^k pages (or 2^k * 4 KiB), shown as
 * the kind holding most of it. Each cell is a u16:
 *
 *   bits 15..12  CellKind          bits 11..8  fill 0..15       bits 7..0  attribute
 *                                  (slab objects or units in     (free: the block's order;
 *                                  use, a heap chunk's bytes     slab: cache index + 1)
 *                                  in blocks, live bytes:
 *                                  15 = full)
 *
 * Size: `frames` snapshots (DEFAULT_FRAMES, evenly spaced over the ops, plus the one at the
 * payload peak and the last), whatever the trace's length. Each snapshot is stored as its
 * difference from the one before (xor), run-length coded (a u16 value, a varint length),
 * and the whole series gzip-compressed: unchanged cells cost nothing. Measured: 1 to 40 KiB
 * a series for the demo's workloads at 16 MiB; at most frames x cells x 3 bytes in theory
 * (1.8 MB at 16,384 cells), never a function of the ops.
 */

import { gzipSync } from "node:zlib";
import { type Kmem, PageKind, type PageMap } from "kmem";
import type { Candidate } from "./allocators.js";

/** What a cell shows: kmem's PageKind values, then those of a heap seen through its blocks. */
export const CellKind = {
  ...PageKind,
  /** Live blocks (fill: their share of the cell). */
  USED: 13,
  /** Past the heap's top: never handed out. */
  UNTOUCHED: 14,
  /** Inside the heap, neither a live block nor a free block the allocator names. */
  OVERHEAD: 15,
} as const;

export const CELL_KIND_NAMES: readonly string[] = [
  "hole",
  "reserved (header, mem_map)",
  "free",
  "free, per-cpu list",
  "slab",
  "SLOB page",
  "large kmalloc",
  "vmalloc",
  "page table",
  "pages (allocPages)",
  "zsmalloc (compressed memory)",
  "kmalloc heap chunk",
  "large kmalloc, freed and cached for reuse",
  "live blocks",
  "past the top (never used)",
  "headers, padding, other",
];

const KINDS = CELL_KIND_NAMES.length;

/** Most cells a map has (128 x 128). */
export const MAX_CELLS = 16384;
/** Snapshots over a replay, besides the first, the payload peak's and the last. */
export const DEFAULT_FRAMES = 96;

/** Per-snapshot figures, one array entry per snapshot. */
export interface HeapMapSamples {
  op: number[];
  footprintBytes: number[];
  payloadBytes: number[];
  /** Free memory: free and per-cpu pages (pages view); named free blocks (heap view). */
  freeBytes: number[];
  /** The largest free block (0 when the allocator names none). */
  largestFreeBytes: number[];
  /** Objects allocated over the objects slabs hold (slabinfo's active / total; SLUB), else null. */
  slabFill: (number | null)[];
  /** Free blocks per order (pages view: buddyinfo), else empty. */
  freeByOrder: number[][];
}

export interface HeapMapSeries {
  view: "pages" | "heap";
  /** Bytes a cell covers, and the cells of a snapshot. */
  cellBytes: number;
  cells: number;
  pageSize: number;
  /** Orders of free blocks (pages view), else 0. */
  maxOrder: number;
  /** Cache names by index (a slab cell's attribute is its index + 1). */
  caches: string[];
  samples: HeapMapSamples;
  /** Index of the snapshot at the trace's payload peak, or -1. */
  peakSample: number;
  /** The snapshots: xor with the previous, run-length coded, gzip, base64. */
  data: string;
  /** Bytes of `data` before base64. */
  encodedBytes: number;
}

/** The live blocks of the replay: handle (-1: none) and bytes of each id. */
export interface LiveBlocks {
  handle: Float64Array;
  bytes: Float64Array | Int32Array;
}

function pack(kind: number, fill: number, attr: number): number {
  return (kind << 12) | (fill << 8) | attr;
}

/** Takes snapshots at the ops it was told, and encodes them. */
export class HeapMapRecorder {
  private readonly cand: Candidate;
  private readonly mm: Kmem | undefined;
  private readonly memoryBytes: number;
  private readonly at: number[];
  private nextAt = 0;
  private readonly peakOp: number;
  private peakSample = -1;
  private view: "pages" | "heap";
  private cellBytes = 0;
  private cells = 0;
  private pagesPerCell = 1;
  private pageSize = 4096;
  private maxOrder = 0;
  private prev: Uint16Array | null = null;
  private out = new Uint8Array(1 << 16);
  private outLen = 0;
  private readonly cacheIndex = new Map<string, number>();
  private readonly caches: string[] = [];
  private readonly samples: HeapMapSamples = {
    op: [],
    footprintBytes: [],
    payloadBytes: [],
    freeBytes: [],
    largestFreeBytes: [],
    slabFill: [],
    freeByOrder: [],
  };

  /** Snapshots at op 0, `frames` evenly spaced ops up to `totalOps`, and at `peakOp`. */
  constructor(
    cand: Candidate,
    memoryBytes: number,
    totalOps: number,
    peakOp: number,
    frames = DEFAULT_FRAMES,
  ) {
    this.cand = cand;
    this.mm = cand.kmem;
    this.memoryBytes = memoryBytes;
    this.peakOp = peakOp;
    this.view = this.mm !== undefined ? "pages" : "heap";
    const at = new Set<number>([0]);
    for (let k = 1; k <= frames; k++) at.add(Math.round((k * totalOps) / frames));
    if (peakOp > 0 && peakOp <= totalOps) at.add(peakOp);
    this.at = [...at].sort((a, b) => a - b);
  }

  /** The next op count at which a snapshot is due (Infinity when none is). */
  get next(): number {
    return this.at[this.nextAt] ?? Infinity;
  }

  /** Takes the snapshot due after `done` ops (call when done >= next). */
  sample(done: number, footprint: number, payload: number, live: LiveBlocks): void {
    while (this.next <= done) this.nextAt++;
    const last = this.samples.op.at(-1);
    if (last === done) return;
    if (done === this.peakOp) this.peakSample = this.samples.op.length;
    const cells =
      this.mm !== undefined ? this.pagesCells(this.mm) : this.heapCells(footprint, live);
    this.samples.op.push(done);
    this.samples.footprintBytes.push(footprint);
    this.samples.payloadBytes.push(payload);
    this.encode(cells);
  }

  private cacheAttr(name: string): number {
    let i = this.cacheIndex.get(name);
    if (i === undefined) {
      i = this.caches.length;
      this.cacheIndex.set(name, i);
      this.caches.push(name);
    }
    return Math.min(255, i + 1);
  }

  private pagesCells(mm: Kmem): Uint16Array {
    const map: PageMap = mm.pageMap();
    const total = map.totalPages;
    if (this.cells === 0) {
      this.pageSize = map.pageSize;
      this.maxOrder = mm.maxOrder;
      this.pagesPerCell = 2 ** Math.max(0, Math.ceil(Math.log2(total / MAX_CELLS)));
      this.cells = Math.ceil(total / this.pagesPerCell);
      this.cellBytes = this.pagesPerCell * map.pageSize;
    }
    const attrOf = new Map<number, number>();
    for (const c of map.caches) attrOf.set(c.id, this.cacheAttr(c.name));
    // Per page: its cell value; figures on the way.
    const page = new Uint16Array(total);
    const freeByOrder = new Array<number>(this.maxOrder).fill(0);
    let freePages = 0;
    let largest = 0;
    let capacity = 0;
    for (let pfn = 0; pfn < total; pfn++) {
      const k = map.kind[pfn] as number;
      const o = map.order[pfn] as number;
      let fill = 0;
      let attr = 0;
      if (k === PageKind.FREE || k === PageKind.PCP) {
        attr = o;
        freePages++;
        if (pfn % 2 ** o === 0) {
          if (k === PageKind.FREE) freeByOrder[o] = (freeByOrder[o] ?? 0) + 1;
          if (2 ** o > largest) largest = 2 ** o;
        }
      } else if (k === PageKind.SLAB || k === PageKind.SLOB || k === PageKind.KHEAP) {
        // A heap chunk's fill is its blocks' share of its bytes; it names no cache.
        const cap = map.capacity[pfn] as number;
        const u = map.used[pfn] as number;
        fill = cap > 0 ? Math.min(15, Math.round((15 * u) / cap)) : 15;
        const id = map.cache[pfn] as number;
        attr = id >= 0 ? (attrOf.get(id) ?? 0) : 0;
        if (k === PageKind.SLAB && pfn % 2 ** o === 0) {
          capacity += cap;
        }
      }
      page[pfn] = pack(k, fill, attr);
    }
    this.samples.freeBytes.push(freePages * map.pageSize);
    this.samples.largestFreeBytes.push(largest * map.pageSize);
    // The slabs' own inuse counters count objects cached per cpu as used; slabinfo's active
    // objects are exact, so the fill figure is theirs (the cells keep the counters' shade).
    let active = 0;
    let objects = 0;
    if (capacity > 0) {
      for (const c of mm.stats().caches) {
        active += c.activeObjects;
        objects += c.totalObjects;
      }
    }
    this.samples.slabFill.push(objects > 0 ? Math.round((1000 * active) / objects) / 1000 : null);
    this.samples.freeByOrder.push(freeByOrder);
    if (this.pagesPerCell === 1) return page;
    return dominant(page, this.pagesPerCell, this.cells);
  }

  private heapCells(footprint: number, live: LiveBlocks): Uint16Array {
    if (this.cells === 0) {
      this.cellBytes =
        4096 * 2 ** Math.max(0, Math.ceil(Math.log2(this.memoryBytes / 4096 / MAX_CELLS)));
      this.cells = Math.ceil(this.memoryBytes / this.cellBytes);
      this.pageSize = this.cellBytes;
    }
    const cb = this.cellBytes;
    const n = this.cells;
    const liveBytes = new Float64Array(n);
    const freeBytes = new Float64Array(n);
    const add = (arr: Float64Array, start: number, len: number): void => {
      let s = Math.max(0, start);
      const end = Math.min(this.memoryBytes, start + len);
      while (s < end) {
        const c = Math.floor(s / cb);
        const cellEnd = Math.min(end, (c + 1) * cb);
        arr[c] = (arr[c] as number) + (cellEnd - s);
        s = cellEnd;
      }
    };
    const { handle, bytes } = live;
    for (let id = 0; id < handle.length; id++) {
      const h = handle[id] as number;
      if (h >= 0) add(liveBytes, h, bytes[id] as number);
    }
    let totalFree = 0;
    let largest = 0;
    const blocks = this.cand.freeBlocks?.() ?? [];
    for (let i = 0; i + 1 < blocks.length; i += 2) {
      const len = blocks[i + 1] as number;
      add(freeBytes, blocks[i] as number, len);
      totalFree += len;
      if (len > largest) largest = len;
    }
    const extent = Math.min(this.memoryBytes, footprint);
    const cells = new Uint16Array(n);
    for (let c = 0; c < n; c++) {
      const lo = c * cb;
      const size = Math.min(cb, this.memoryBytes - lo);
      const l = liveBytes[c] as number;
      const f = freeBytes[c] as number;
      const u = Math.max(0, lo + size - Math.max(lo, extent));
      const o = Math.max(0, size - l - f - u);
      let kind: number = CellKind.USED;
      let most = l;
      if (f > most) [kind, most] = [CellKind.FREE, f];
      if (u > most) [kind, most] = [CellKind.UNTOUCHED, u];
      if (o > most) kind = CellKind.OVERHEAD;
      cells[c] = pack(kind, Math.min(15, Math.round((15 * l) / size)), 0);
    }
    this.samples.freeBytes.push(totalFree);
    this.samples.largestFreeBytes.push(largest);
    this.samples.slabFill.push(null);
    this.samples.freeByOrder.push([]);
    return cells;
  }

  private byte(b: number): void {
    if (this.outLen === this.out.length) {
      const grown = new Uint8Array(this.out.length * 2);
      grown.set(this.out);
      this.out = grown;
    }
    this.out[this.outLen++] = b;
  }

  private varint(v: number): void {
    let x = v;
    while (x >= 0x80) {
      this.byte((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    this.byte(x);
  }

  /** Appends a snapshot: runs of equal (cell xor previous cell), value then length. */
  private encode(cells: Uint16Array): void {
    const prev = this.prev ?? new Uint16Array(cells.length);
    let i = 0;
    while (i < cells.length) {
      const v = ((cells[i] as number) ^ (prev[i] as number)) & 0xffff;
      let j = i + 1;
      while (j < cells.length && (((cells[j] as number) ^ (prev[j] as number)) & 0xffff) === v) j++;
      this.byte(v & 0xff);
      this.byte(v >>> 8);
      this.varint(j - i);
      i = j;
    }
    this.prev = cells;
  }

  /** The series (after a last snapshot at `done` ops if it was not taken). */
  finish(done: number, footprint: number, payload: number, live: LiveBlocks): HeapMapSeries {
    if (this.samples.op.at(-1) !== done) {
      this.nextAt = this.at.length;
      this.sample(done, footprint, payload, live);
    }
    const packed = gzipSync(this.out.subarray(0, this.outLen), { level: 9 });
    return {
      view: this.view,
      cellBytes: this.cellBytes,
      cells: this.cells,
      pageSize: this.pageSize,
      maxOrder: this.maxOrder,
      caches: this.caches,
      samples: this.samples,
      peakSample: this.peakSample,
      data: packed.toString("base64"),
      encodedBytes: packed.length,
    };
  }
}

/** Cells of `per` pages each: the kind holding most pages of the cell, its attribute and mean fill. */
function dominant(page: Uint16Array, per: number, cells: number): Uint16Array {
  const out = new Uint16Array(cells);
  const count = new Uint32Array(KINDS);
  for (let c = 0; c < cells; c++) {
    count.fill(0);
    const lo = c * per;
    const hi = Math.min(page.length, lo + per);
    for (let p = lo; p < hi; p++) {
      const k = (page[p] as number) >>> 12;
      count[k] = (count[k] as number) + 1;
    }
    let best = 0;
    for (let k = 1; k < KINDS; k++) if ((count[k] as number) > (count[best] as number)) best = k;
    let fill = 0;
    let attr = -1;
    for (let p = lo; p < hi; p++) {
      const v = page[p] as number;
      if (v >>> 12 !== best) continue;
      fill += (v >>> 8) & 15;
      if (attr < 0) attr = v & 0xff;
    }
    out[c] = pack(best, Math.round(fill / Math.max(1, count[best] as number)), Math.max(0, attr));
  }
  return out;
}

/** Decodes a series' snapshots (what the page's script does), for tests. */
export function decodeHeapMap(series: HeapMapSeries, gunzip: (b: Buffer) => Buffer): Uint16Array[] {
  const bytes = gunzip(Buffer.from(series.data, "base64"));
  const frames: Uint16Array[] = [];
  let prev = new Uint16Array(series.cells);
  let pos = 0;
  while (pos < bytes.length) {
    const cells = new Uint16Array(series.cells);
    let i = 0;
    while (i < series.cells) {
      const v = (bytes[pos] as number) | ((bytes[pos + 1] as number) << 8);
      pos += 2;
      let len = 0;
      let shift = 1;
      for (;;) {
        const b = bytes[pos++] as number;
        len += (b & 0x7f) * shift;
        if (b < 0x80) break;
        shift *= 128;
      }
      for (let k = 0; k < len; k++, i++) cells[i] = (prev[i] as number) ^ v;
    }
    frames.push(cells);
    prev = cells;
  }
  return frames;
}
