/*
 * Where kmalloc's time and bytes go on the traces (`npm run bench -- breakdown`), measured
 * from outside the library, with AssemblyScript's TLSF (the workbench's `tlsf`) beside it.
 * Every trace is read into memory once and replayed several times, each on a fresh instance
 * over 256 MiB:
 *
 *  1. paths: kmalloc/kfree/krealloc straight on a Kmem (no adapter), with mm.usedPages read
 *     around every op (a slab allocation that took pages made a new slab; a free that gave
 *     pages back discarded one) and ksize after it (the size class, or a large block), and
 *     the vmstat counters before and after (slab_alloc_slowpath, slab_free_slowpath,
 *     slab_new, slab_discard, kmalloc_large);
 *  2. the peak: the same ops again up to the op after which the footprint (pages taken,
 *     with their mem_map entries) was largest, then stats() per cache, the live blocks per
 *     class, and each kmalloc cache shrunk (kmem_cache_shrink: its empty slabs, those SLUB
 *     keeps for reuse and those the per-cpu sheaves held, go back) to count its empty slabs;
 *  3. TLSF: the same over tlsfHeap, and at its peak (the memory's size) a walk of what the
 *     memory holds: live blocks, their headers and rounding, the free blocks among them, the
 *     free tail TLSF grew into but has not used, and its root;
 *  4. bounds: per size-class scheme, the least footprint over the trace (every class's live
 *     objects packed into as few slabs as they need, large blocks as the scheme rounds them),
 *     from the trace alone;
 *  5. time, without a clock read per op (timing each op alone costs as much as the op, and
 *     on this shared machine distorted the figures by 2-3x): each program trace timed whole
 *     (the clock read around chunks of 16,384 ops, the least of 3 runs after a warm-up run,
 *     each on a fresh instance) for kmem (kmalloc/kfree/krealloc called directly), TLSF and
 *     an allocator that does nothing (the loop's own cost); then, per size range, the ops of
 *     the blocks whose first request falls in it, replayed alone the same way (a block's
 *     whole life stays in one range's trace); and V8's sampling profiler over one run of
 *     every program trace: self time by function.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CacheStats, Kmem } from "../src/index.js";
import type { KmallocHeap } from "../src/kmalloc/index.js";
import { mallocMaxOrder, type PeerHeap, tlsfHeap } from "kmem-workbench";
import { KMEM, LOOP, TLSF, type Timed } from "./timed-loops.js";
import { type FlatTrace, flatTrace, malloclabTraces, programTraces, traceName } from "./traces.js";

const MiB = 2 ** 20;
const HEAP = 256 * MiB;
const PAGE = 4096;
/** A page's mem_map entry, counted in the kmem adapters' footprint. */
const FRAME = 32;
/**
 * kmalloc's largest request: 2^(maxOrder - 1) pages. The instances are built as the
 * workbench's slub is, with orders up to the memory's size (mallocMaxOrder), not Linux's 4 MiB.
 */
const MAX_ORDER = mallocMaxOrder(HEAP);
const KMALLOC_MAX = (PAGE << (MAX_ORDER - 1)) as number;
/** Linux's size classes (the schemes' reference): an instance made with sizeClasses "linux". */
const LINUX_CLASSES = { memory: 16 * MiB, sizeClasses: "linux" } as const;
/** TLSF's block header and the free tag of a block's size word. */
const TLSF_HEADER = 4;

/** Request size ranges of the time split (inclusive upper bounds). */
const RANGES = [64, 256, 1024, 4096, 8192, Infinity];
const RANGE_NAMES = ["1-64", "65-256", "257-1K", "1K-4K", "4K-8K", "> 8K"];

function rangeOf(size: number): number {
  let r = 0;
  while (size > (RANGES[r] as number)) r++;
  return r;
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "-";
}

function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(2)} MiB`;
}

// ---------------------------------------------------------------------------------------
// 1 and 2: kmalloc's paths, and its footprint at the peak

/** Per size class (a kmalloc cache), or the large path (index LARGE). */
interface ClassCounts {
  name: string;
  size: number;
  allocs: number;
  frees: number;
  /** Slab allocations that took pages (a new slab), and frees that gave a slab back. */
  newSlabs: number;
  discards: number;
}

interface KmemPaths {
  classes: ClassCounts[];
  allocs: number;
  frees: number;
  reallocs: number;
  inPlace: number;
  /** krealloc in place although the new size would fit a smaller class (or no longer needs a large block). */
  inPlaceOversized: number;
  moved: number;
  /** Moves by kind: slab to slab, slab to large, large to large, large to slab. */
  moves: [number, number, number, number];
  /** kmalloc calls that failed, and of those the ones over KMALLOC_MAX; krealloc calls that failed. */
  failed: number;
  failedTooLarge: number;
  reallocFailed: number;
  events: Record<string, number>;
  peakOp: number;
  peakPages: number;
  peakPayload: number;
  endPages: number;
  endPayload: number;
}

interface PeakClass {
  name: string;
  size: number;
  live: number;
  requested: number;
  slabs: number;
  pagesPerSlab: number;
  objectsPerSlab: number;
  totalObjects: number;
  emptySlabs: number;
}

interface KmemPeak {
  pages: number;
  payload: number;
  classes: PeakClass[];
  large: { live: number; requested: number; pages: number; exactPages: number };
  /** The kmalloc heap: its live blocks, their requested bytes, and its chunks' pages. */
  heap: { live: number; requested: number; pages: number };
  otherCachePages: number;
  otherPages: number;
}

/** kmalloc's heap (src/kmalloc/heap.ts) of an instance, or null without one. */
function heapOf(mm: Kmem): KmallocHeap | null {
  return (mm as unknown as { km: { heap?: KmallocHeap | null } }).km.heap ?? null;
}

/** The kmalloc caches of a fresh instance, smallest first: names, sizes, slab geometry. */
function kmallocCaches(mm: Kmem): CacheStats[] {
  return mm
    .stats()
    .caches.filter((c) => c.name.startsWith("kmalloc-"))
    .sort((a, b) => a.objectSize - b.objectSize);
}

/** Replays `t` on a fresh Kmem up to op `until` (all by default), counting paths. */
function kmemPaths(t: FlatTrace, until = t.ops - 1): { mm: Kmem; paths: KmemPaths; live: Live } {
  const mm = new Kmem({ memory: HEAP, maxOrder: MAX_ORDER });
  const caches = kmallocCaches(mm);
  const sizes = caches.map((c) => c.objectSize);
  const LARGE = sizes.length;
  const classes: ClassCounts[] = [
    ...caches.map((c) => ({
      name: c.name,
      size: c.objectSize,
      allocs: 0,
      frees: 0,
      newSlabs: 0,
      discards: 0,
    })),
    { name: "large (pages)", size: 0, allocs: 0, frees: 0, newSlabs: 0, discards: 0 },
    { name: "heap (chunks)", size: 0, allocs: 0, frees: 0, newSlabs: 0, discards: 0 },
  ];
  // A block of the kmalloc heap (src/kmalloc/heap.ts) is kept with its ksize negated.
  const HEAP_CLASS = LARGE + 1;
  const heap = heapOf(mm);
  const ksizeOf = (a: number): number =>
    heap !== null && heap.chunkOf(a) !== 0 ? -mm.ksize(a) : mm.ksize(a);
  const classOf = (ks: number): number => {
    if (ks < 0) return HEAP_CLASS;
    const i = sizes.indexOf(ks);
    return i < 0 ? LARGE : i;
  };
  const ev0 = mm.stats().events;
  const live: Live = {
    addr: new Int32Array(t.ids),
    ks: new Int32Array(t.ids),
    req: new Float64Array(t.ids),
  };
  const { addr, ks, req } = live;
  const p: KmemPaths = {
    classes,
    allocs: 0,
    frees: 0,
    reallocs: 0,
    inPlace: 0,
    inPlaceOversized: 0,
    moved: 0,
    moves: [0, 0, 0, 0],
    failed: 0,
    failedTooLarge: 0,
    reallocFailed: 0,
    events: {},
    peakOp: 0,
    peakPages: 0,
    peakPayload: 0,
    endPages: 0,
    endPayload: 0,
  };
  let payload = 0;
  for (let i = 0; i <= until; i++) {
    const op = t.op[i] as number;
    const id = t.id[i] as number;
    const want = t.size[i] as number;
    const size = want || 1;
    const u0 = mm.usedPages;
    if (op === 1) {
      const a = addr[id] as number;
      if (a === 0) continue;
      const c = classes[classOf(ks[id] as number)] as ClassCounts;
      mm.kfree(a);
      c.frees++;
      p.frees++;
      if (c.size > 0 && mm.usedPages < u0) c.discards++;
      addr[id] = 0;
      payload -= req[id] as number;
    } else if (op === 0 || addr[id] === 0) {
      p.allocs++;
      const a = mm.kmalloc(size);
      if (a === 0) {
        p.failed++;
        if (size > KMALLOC_MAX) p.failedTooLarge++;
        continue;
      }
      const k = ksizeOf(a);
      const c = classes[classOf(k)] as ClassCounts;
      c.allocs++;
      if (c.size > 0 && mm.usedPages > u0) c.newSlabs++;
      addr[id] = a;
      ks[id] = k;
      req[id] = want;
      payload += want;
    } else {
      p.reallocs++;
      const a = addr[id] as number;
      const k0 = ks[id] as number;
      const b = mm.krealloc(a, size);
      if (b === 0) {
        p.reallocFailed++;
        continue;
      }
      const k1 = ksizeOf(b);
      const c0 = classOf(k0);
      const c1 = classOf(k1);
      if (b === a) {
        p.inPlace++;
        const fits = size <= KMALLOC_MAX ? classOf(kmallocSize(sizes, size)) : LARGE;
        if (fits !== c0 || (c0 === LARGE && Math.ceil(size / PAGE) < k0 / PAGE / 2))
          p.inPlaceOversized++;
      } else {
        p.moved++;
        p.moves[c0 === LARGE ? (c1 === LARGE ? 2 : 3) : c1 === LARGE ? 1 : 0]++;
        const from = classes[c0] as ClassCounts;
        const to = classes[c1] as ClassCounts;
        from.frees++;
        to.allocs++;
        p.frees++;
        p.allocs++;
        const u1 = mm.usedPages;
        if (to.size > 0 && u1 > u0) to.newSlabs++;
        if (from.size > 0 && u1 < u0) from.discards++;
      }
      addr[id] = b;
      ks[id] = k1;
      payload += want - (req[id] as number);
      req[id] = want;
    }
    const used = mm.usedPages;
    if (used > p.peakPages) {
      p.peakPages = used;
      p.peakOp = i;
    }
    if (payload > p.peakPayload) p.peakPayload = payload;
  }
  const ev1 = mm.stats().events;
  for (const name of Object.keys(ev1)) p.events[name] = (ev1[name] ?? 0) - (ev0[name] ?? 0);
  p.endPages = mm.usedPages;
  p.endPayload = payload;
  return { mm, paths: p, live };
}

/** The class size kmalloc would give `size` (the smallest class that holds it). */
function kmallocSize(sizes: number[], size: number): number {
  for (const s of sizes) if (s >= size) return s;
  return Infinity;
}

interface Live {
  addr: Int32Array;
  ks: Int32Array;
  req: Float64Array;
}

/** The same ops up to the footprint's peak, then what the pages hold. */
function kmemPeak(t: FlatTrace, peakOp: number): KmemPeak {
  const { mm, live } = kmemPaths(t, peakOp);
  const all = mm.stats().caches;
  const caches = all.filter((c) => c.name.startsWith("kmalloc-"));
  const bySize = new Map<number, PeakClass>();
  for (const c of caches) {
    bySize.set(c.objectSize, {
      name: c.name,
      size: c.objectSize,
      live: 0,
      requested: 0,
      slabs: c.slabs,
      pagesPerSlab: c.pagesPerSlab,
      objectsPerSlab: c.objectsPerSlab,
      totalObjects: c.totalObjects,
      emptySlabs: 0,
    });
  }
  const large = { live: 0, requested: 0, pages: 0, exactPages: 0 };
  const heap = { live: 0, requested: 0, pages: (heapOf(mm)?.stats().bytes ?? 0) / PAGE };
  let payload = 0;
  for (let id = 0; id < t.ids; id++) {
    if (live.addr[id] === 0) continue;
    const k = live.ks[id] as number;
    const want = live.req[id] as number;
    payload += want;
    const c = bySize.get(k);
    if (k < 0) {
      heap.live++;
      heap.requested += want;
    } else if (c !== undefined) {
      c.live++;
      c.requested += want;
    } else {
      large.live++;
      large.requested += want;
      large.pages += k / PAGE;
      large.exactPages += Math.max(1, Math.ceil(want / PAGE));
    }
  }
  for (const c of caches) {
    const active = c.activeObjects;
    const counted = bySize.get(c.objectSize) as PeakClass;
    if (active !== counted.live) {
      throw new Error(
        `${t.name}: ${c.name} has ${active} active objects, the trace ${counted.live}`,
      );
    }
  }
  const pages = mm.usedPages;
  const pagesOf = (c: (typeof all)[number]) => c.pages ?? c.slabs * c.pagesPerSlab;
  const slabPages = all.reduce((s, c) => s + pagesOf(c), 0);
  const kmallocSlabPages = caches.reduce((s, c) => s + pagesOf(c), 0);
  // Shrinking flushes the cpu slab and sheaves, then gives back every empty slab.
  for (const c of caches) {
    const cache = mm.findCache(c.name);
    const freed = cache === null ? 0 : cache.shrink();
    // In slabs of the smallest size (a cache whose slabs grow tiles them exactly, so the
    // bytes reckoned from it below hold for its larger ones too).
    (bySize.get(c.objectSize) as PeakClass).emptySlabs = freed / c.pagesPerSlab;
  }
  return {
    pages,
    payload,
    classes: [...bySize.values()].sort((a, b) => a.size - b.size),
    large,
    heap,
    otherCachePages: slabPages - kmallocSlabPages,
    otherPages: pages - slabPages - large.pages - heap.pages,
  };
}

// ---------------------------------------------------------------------------------------
// 3: TLSF's paths and its memory at the peak

interface TlsfRun {
  peakOp: number;
  peakBytes: number;
  peakPayload: number;
  /** The end of the highest block ever used (its high-water mark). */
  highWater: number;
  inPlace: number;
  moved: number;
  failed: number;
}

interface TlsfPeak {
  bytes: number;
  payload: number;
  usable: number;
  live: number;
  freeInside: number;
  freeTail: number;
  root: number;
}

async function tlsfRun(
  t: FlatTrace,
  until = t.ops - 1,
): Promise<{ heap: PeerHeap; run: TlsfRun; addr: Int32Array; req: Float64Array }> {
  const heap = await tlsfHeap(HEAP);
  const realloc = heap.realloc as (h: number, size: number) => number;
  const addr = new Int32Array(t.ids);
  const req = new Float64Array(t.ids);
  const run: TlsfRun = {
    peakOp: 0,
    peakBytes: 0,
    peakPayload: 0,
    highWater: 0,
    inPlace: 0,
    moved: 0,
    failed: 0,
  };
  let payload = 0;
  for (let i = 0; i <= until; i++) {
    const op = t.op[i] as number;
    const id = t.id[i] as number;
    const want = t.size[i] as number;
    const size = want || 1;
    let got = 0;
    if (op === 1) {
      const a = addr[id] as number;
      if (a === 0) continue;
      heap.free(a);
      addr[id] = 0;
      payload -= req[id] as number;
      continue;
    } else if (op === 0 || addr[id] === 0) {
      got = heap.malloc(size);
      if (got === 0) {
        run.failed++;
        continue;
      }
      payload += want;
    } else {
      const a = addr[id] as number;
      got = realloc(a, size);
      if (got === 0) {
        run.failed++;
        continue;
      }
      if (got === a) run.inPlace++;
      else run.moved++;
      payload += want - (req[id] as number);
    }
    addr[id] = got;
    req[id] = want;
    const end = got + heap.usableSize(got);
    if (end > run.highWater) run.highWater = end;
    const bytes = heap.footprint();
    if (bytes > run.peakBytes) {
      run.peakBytes = bytes;
      run.peakOp = i;
    }
    if (payload > run.peakPayload) run.peakPayload = payload;
  }
  return { heap, run, addr, req };
}

/** The first block's data address on a fresh heap: below it lie TLSF's root and static data. */
async function tlsfFirstBlock(): Promise<number> {
  const heap = await tlsfHeap(HEAP);
  return heap.malloc(1);
}

async function tlsfPeak(t: FlatTrace, peakOp: number): Promise<TlsfPeak> {
  const { heap, addr, req } = await tlsfRun(t, peakOp);
  const bytes = heap.footprint();
  let payload = 0;
  let usable = 0;
  let live = 0;
  for (let id = 0; id < t.ids; id++) {
    const a = addr[id] as number;
    if (a === 0) continue;
    live++;
    payload += req[id] as number;
    usable += heap.usableSize(a);
  }
  // The memory ends in a zero-size used block (4 bytes); when the block before it is free
  // (tag LEFTFREE), the word before that points at that free block, the tail TLSF grew into.
  const words = new Uint32Array(heap.memory.buffer);
  const sentinel = words[(bytes - TLSF_HEADER) >>> 2] as number;
  let freeTail = 0;
  if ((sentinel & 2) !== 0) {
    const last = words[(bytes - 2 * TLSF_HEADER) >>> 2] as number;
    freeTail = ((words[last >>> 2] as number) & ~3) + TLSF_HEADER;
  }
  const root = (await tlsfFirstBlock()) - TLSF_HEADER;
  const freeInside = bytes - root - TLSF_HEADER - (usable + TLSF_HEADER * live) - freeTail;
  return { bytes, payload, usable, live, freeInside, freeTail, root };
}

// ---------------------------------------------------------------------------------------
// 4: the least footprint of size-class schemes

interface Scheme {
  name: string;
  /** Class sizes, ascending; a request above the last is a large block. */
  classes: number[];
  /** Per class: objects per slab and the slab's bytes. */
  geometry: { objects: number; bytes: number }[];
  /**
   * Larger requests: a power of two of pages, just the pages they need, or TLSF blocks packed
   * with nothing free between them (an arena of boundary-tagged blocks at its best).
   */
  large: "pow2" | "pages" | "tlsf";
}

/** A slab of 2^order pages for `size`: the lowest order wasting at most 1/16, else the least. */
function slabFor(size: number): { objects: number; bytes: number } {
  let best = { objects: 0, bytes: 0, waste: Infinity };
  for (let order = 0; order <= 3; order++) {
    const bytes = PAGE << order;
    const objects = Math.floor(bytes / size);
    if (objects === 0) continue;
    const waste = (bytes - objects * size) / bytes;
    if (waste <= 1 / 16) return { objects, bytes };
    if (waste < best.waste) best = { objects, bytes, waste };
  }
  return { objects: best.objects, bytes: best.bytes };
}

/** `per` classes per power of two from 16 (8 and 16 below), up to `max`. */
function geometricClasses(per: number, max: number): number[] {
  const out = [8, 16];
  for (let base = 16; base < max; base *= 2) {
    for (let i = 1; i <= per; i++) {
      const s = base + (base / per) * i;
      if (s % 8 === 0 && s > (out[out.length - 1] as number)) out.push(s);
    }
  }
  return out;
}

function schemes(linux: CacheStats[], fine: CacheStats[]): Scheme[] {
  const linuxSizes = linux.map((c) => c.objectSize);
  const linuxGeometry = linux.map((c) => ({
    objects: c.objectsPerSlab,
    bytes: c.pagesPerSlab * PAGE,
  }));
  const fineSizes = fine.map((c) => c.objectSize);
  const fineGeometry = fine.map((c) => ({
    objects: c.objectsPerSlab,
    bytes: c.pagesPerSlab * PAGE,
  }));
  const make = (name: string, classes: number[], large: Scheme["large"] = "pages"): Scheme => ({
    name,
    classes,
    geometry: classes.map(slabFor),
    large,
  });
  return [
    {
      name: "Linux's classes, large: 2^order pages",
      classes: linuxSizes,
      geometry: linuxGeometry,
      large: "pow2",
    },
    {
      name: "Linux's classes, large: exact pages",
      classes: linuxSizes,
      geometry: linuxGeometry,
      large: "pages",
    },
    {
      name: "kmalloc's default (fine) classes and slabs, large: exact pages",
      classes: fineSizes,
      geometry: fineGeometry,
      large: "pages",
    },
    make("4 classes per power of two to 32 KiB, large: exact pages", geometricClasses(4, 32768)),
    make("8 classes per power of two to 32 KiB, large: exact pages", geometricClasses(8, 32768)),
    make(
      "8 classes per power of two to 1 KiB, larger: TLSF blocks packed",
      geometricClasses(8, 1024),
      "tlsf",
    ),
  ];
}

/**
 * The peak over the trace of each scheme's least footprint (pages with their mem_map entry):
 * every class's live objects in as few slabs as hold them, large blocks rounded as the scheme
 * says. Also TLSF's least: every live block as a TLSF block (size + 4-byte header, 16-byte
 * steps, 16 at least), nothing free.
 */
function bounds(t: FlatTrace, list: Scheme[]): { peaks: number[]; tlsf: number } {
  const live = new Float64Array(t.ids);
  const states = list.map((s) => {
    // Class index by (size + 7) >> 3, for sizes up to the largest class.
    const max = s.classes[s.classes.length - 1] as number;
    const index = new Int16Array((max >> 3) + 1);
    let c = 0;
    for (let u = 1; u <= max >> 3; u++) {
      while ((s.classes[c] as number) < u * 8) c++;
      index[u] = c;
    }
    return { s, max, index, count: new Int32Array(s.classes.length), bytes: 0, peak: 0 };
  });
  const tlsfBlock = (size: number): number => Math.max(16, (size + TLSF_HEADER + 15) & ~15);
  const largeBytes = (large: Scheme["large"], size: number): number => {
    if (large === "tlsf") return tlsfBlock(size);
    const pages = Math.max(1, Math.ceil(size / PAGE));
    return (large === "pow2" ? 2 ** Math.ceil(Math.log2(pages)) : pages) * PAGE;
  };
  let tlsfBytes = 0;
  let tlsfPeak = 0;
  const change = (size: number, delta: 1 | -1): void => {
    for (const st of states) {
      if (size > st.max) {
        st.bytes += delta * largeBytes(st.s.large, size);
        continue;
      }
      const c = st.index[(size + 7) >> 3] as number;
      const g = st.s.geometry[c] as { objects: number; bytes: number };
      const n = st.count[c] as number;
      st.bytes -= Math.ceil(n / g.objects) * g.bytes;
      st.count[c] = n + delta;
      st.bytes += Math.ceil((n + delta) / g.objects) * g.bytes;
    }
    tlsfBytes += delta * tlsfBlock(size);
  };
  for (let i = 0; i < t.ops; i++) {
    const op = t.op[i] as number;
    const id = t.id[i] as number;
    const size = (t.size[i] as number) || 1;
    const old = live[id] as number;
    if (old > 0) change(old, -1);
    if (op === 1) {
      live[id] = 0;
      continue;
    }
    live[id] = size;
    change(size, 1);
    for (const st of states) if (st.bytes > st.peak) st.peak = st.bytes;
    if (tlsfBytes > tlsfPeak) tlsfPeak = tlsfBytes;
  }
  return { peaks: states.map((st) => (st.peak / PAGE) * (PAGE + FRAME)), tlsf: tlsfPeak };
}

// ---------------------------------------------------------------------------------------
// 5: time

const CHUNK = 16384;
/** Counted runs per measurement, and the ops of uncounted runs before them (at least one). */
const RUNS = 5;
const WARM_OPS = 1_000_000;
/** ...but at most this many uncounted runs (a range of a few ops would need 10^5 instances). */
const WARM_RUNS = 20;

/**
 * ns per op of a whole trace, the clock read around chunks of CHUNK ops only: the least of
 * RUNS runs (load from elsewhere only ever adds time), each on a fresh allocator, after
 * uncounted runs of WARM_OPS ops in all or WARM_RUNS runs (at least one) while the engine
 * compiles.
 */
async function nsPerOp<A>(t: FlatTrace, x: Timed<A>): Promise<number> {
  let best = Infinity;
  const addr = new Int32Array(t.ids);
  let warm = 0;
  let warmRuns = 0;
  for (let k = 0; k < RUNS;) {
    const a = await x.fresh();
    addr.fill(0);
    let ms = 0;
    for (let from = 0; from < t.ops; from += CHUNK) {
      const t0 = performance.now();
      x.run(a, t, addr, from, Math.min(t.ops, from + CHUNK));
      ms += performance.now() - t0;
    }
    if (warm < WARM_OPS && warmRuns < WARM_RUNS) {
      warm += Math.max(1, t.ops);
      warmRuns++;
    } else {
      if (ms < best) best = ms;
      k++;
    }
  }
  return (best * 1e6) / Math.max(1, t.ops);
}

/** The ops of the blocks whose first request falls in each size range: a trace per range. */
function byRange(t: FlatTrace): FlatTrace[] {
  const range = new Int8Array(t.ids).fill(-1);
  const counts = new Int32Array(RANGES.length);
  for (let i = 0; i < t.ops; i++) {
    const id = t.id[i] as number;
    if (range[id] === -1) range[id] = rangeOf((t.size[i] as number) || 1);
    const r = range[id] as number;
    counts[r] = (counts[r] as number) + 1;
  }
  return RANGES.map((_, r) => {
    const n = counts[r] as number;
    const sub: FlatTrace = {
      name: `${t.name} ${RANGE_NAMES[r]}`,
      ops: n,
      ids: t.ids,
      op: new Uint8Array(n),
      id: new Int32Array(n),
      size: new Int32Array(n),
      peakPayloadBytes: 0,
    };
    let at = 0;
    for (let i = 0; i < t.ops; i++) {
      if (range[t.id[i] as number] !== r) continue;
      sub.op[at] = t.op[i] as number;
      sub.id[at] = t.id[i] as number;
      sub.size[at] = t.size[i] as number;
      at++;
    }
    return sub;
  });
}

interface Times {
  loop: number;
  kmem: number;
  tlsf: number;
  /** Per size range: ops, kmem and TLSF ns per op on that range's ops alone. */
  ranges: { ops: number; kmem: number; tlsf: number }[];
}

async function times(t: FlatTrace): Promise<Times> {
  const ranges: Times["ranges"] = [];
  for (const sub of byRange(t)) {
    if (sub.ops === 0) ranges.push({ ops: 0, kmem: 0, tlsf: 0 });
    else
      ranges.push({ ops: sub.ops, kmem: await nsPerOp(sub, KMEM), tlsf: await nsPerOp(sub, TLSF) });
  }
  return {
    loop: await nsPerOp(t, LOOP),
    kmem: await nsPerOp(t, KMEM),
    tlsf: await nsPerOp(t, TLSF),
    ranges,
  };
}

/**
 * Self time by function, from V8's sampling profiler (`node --cpu-prof`, a sample every
 * 100 µs) in a process of its own (profile-runs.ts) over one run of every trace after one
 * warm-up run: the samples taken within its `profiledRuns`, by function.
 */
function profile(which: "kmem" | "tlsf", files: string[]): Map<string, number> {
  const dir = mkdtempSync(join(tmpdir(), "kmem-profile-"));
  try {
    const script = fileURLToPath(new URL("./profile-runs.js", import.meta.url));
    execFileSync(
      process.execPath,
      ["--cpu-prof", "--cpu-prof-interval", "100", "--cpu-prof-dir", dir, script, which, ...files],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (file === undefined) throw new Error("no profile written");
    const p = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    // The nodes under profiledRuns (it and everything it called).
    const inside = new Set<number>();
    const mark = (id: number): void => {
      inside.add(id);
      for (const c of nodes.get(id)?.children ?? []) mark(c);
    };
    for (const n of p.nodes) if (n.callFrame.functionName === "profiledRuns") mark(n.id);
    const self = new Map<string, number>();
    p.samples.forEach((id, i) => {
      if (!inside.has(id)) return;
      const f = (nodes.get(id) as CpuProfile["nodes"][number]).callFrame;
      const where = f.url.split("/").slice(-2).join("/");
      // The module has no name section: its functions count as one; so do the call stubs.
      const name = f.functionName.startsWith("wasm-function")
        ? "TLSF's WebAssembly (all its functions)"
        : /^js-to-wasm|JSToWasm/.test(f.functionName)
          ? "calls from JavaScript into WebAssembly"
          : `${f.functionName || "(anonymous)"}${where !== "" ? ` (${where})` : ""}`;
      self.set(name, (self.get(name) ?? 0) + (p.timeDeltas[i] ?? 0));
    });
    return self;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

// ---------------------------------------------------------------------------------------
// The report

interface TraceReport {
  t: FlatTrace;
  program: boolean;
  paths: KmemPaths;
  peak: KmemPeak;
  tlsf: TlsfRun;
  tlsfPeak: TlsfPeak;
  bounds: { peaks: number[]; tlsf: number };
  times: Times | null;
}

async function analyse(file: string, program: boolean, timed: boolean): Promise<TraceReport> {
  const t = await flatTrace(file);
  const { mm, paths } = kmemPaths(t);
  const list = schemes(kmallocCaches(new Kmem(LINUX_CLASSES)), kmallocCaches(mm));
  const peak = kmemPeak(t, paths.peakOp);
  if (peak.pages !== paths.peakPages) {
    throw new Error(`${t.name}: the peak replayed to ${peak.pages} pages, not ${paths.peakPages}`);
  }
  const { run: tlsf } = await tlsfRun(t);
  const tp = await tlsfPeak(t, tlsf.peakOp);
  const b = bounds(t, list);
  const time = program && timed ? await times(t) : null;
  return { t, program, paths, peak, tlsf, tlsfPeak: tp, bounds: b, times: time };
}

function table(head: string[], rows: string[][], align?: string[]): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => align?.[i] ?? (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/**
 * A table with a row per trace: its name, then the cells `row` gives, by heading (in the
 * order it lists them; every row lists the same headings).
 */
function traceTable(
  reports: readonly TraceReport[],
  row: (r: TraceReport) => Record<string, string>,
): string[] {
  const rows = reports.map(row);
  const head = Object.keys(rows[0] ?? {});
  return table(
    ["trace", ...head],
    rows.map((cells, i) => [
      (reports[i] as TraceReport).t.name,
      ...head.map((h) => cells[h] ?? ""),
    ]),
  );
}

function pathsTable(reports: TraceReport[]): string[] {
  return traceTable(reports, ({ paths: p }) => {
    const large = p.classes[p.classes.length - 2] as ClassCounts;
    const heap = p.classes[p.classes.length - 1] as ClassCounts;
    const slabAllocs = p.allocs - p.failed - large.allocs - heap.allocs;
    const slabFrees = p.frees - large.frees - heap.frees;
    const slow = p.events.slab_alloc_slowpath ?? 0;
    const freeSlow = p.events.slab_free_slowpath ?? 0;
    const failed = p.failed + p.reallocFailed;
    return {
      "kmalloc calls": int(p.allocs),
      "slab fast path": pct(slabAllocs - slow, p.allocs),
      "slab slow path": pct(slow, p.allocs),
      "new slabs": int(p.events.slab_new ?? 0),
      "large (pages)": int(p.events.kmalloc_large ?? 0),
      heap: pct(heap.allocs, p.allocs),
      "failed (> 4 MiB)": `${int(failed)}${p.failedTooLarge !== failed ? ` (${int(p.failedTooLarge)})` : ""}`,
      "kfree calls": int(p.frees),
      "free fast path": pct(slabFrees - freeSlow, p.frees),
      "free slow path": pct(freeSlow, p.frees),
      "slabs discarded": int(p.events.slab_discard ?? 0),
      krealloc: int(p.reallocs),
      "in place": pct(p.inPlace, p.reallocs),
      "in place, oversized": int(p.inPlaceOversized),
      moved: `${pct(p.moved, p.reallocs)} (${p.moves.map(int).join("/")})`,
    };
  });
}

function footprintTable(reports: TraceReport[]): string[] {
  return traceTable(reports, ({ t, peak: k }) => {
    const fp = k.pages * (PAGE + FRAME);
    let rounding = 0;
    let freeSlots = 0;
    let empty = 0;
    let tails = 0;
    let slabRequested = 0;
    for (const c of k.classes) {
      slabRequested += c.requested;
      rounding += c.live * c.size - c.requested;
      empty += c.emptySlabs * c.objectsPerSlab * c.size;
      freeSlots += (c.totalObjects - c.live) * c.size - c.emptySlabs * c.objectsPerSlab * c.size;
      tails += c.slabs * (c.pagesPerSlab * PAGE - c.objectsPerSlab * c.size);
    }
    const toPages = k.large.exactPages * PAGE - k.large.requested;
    const toPow2 = (k.large.pages - k.large.exactPages) * PAGE;
    const other = (k.otherCachePages + k.otherPages) * PAGE;
    const heapRest = k.heap.pages * PAGE - k.heap.requested;
    const payload = slabRequested + k.large.requested + k.heap.requested;
    const sum =
      payload +
      rounding +
      toPages +
      toPow2 +
      freeSlots +
      empty +
      tails +
      heapRest +
      other +
      k.pages * FRAME;
    if (Math.abs(sum - fp) > 1) throw new Error(`${t.name}: the parts sum to ${sum}, not ${fp}`);
    return {
      "peak footprint": mib(fp),
      payload: pct(payload, fp),
      "class rounding": pct(rounding, fp),
      "large: to pages": pct(toPages, fp),
      "large: to 2^order": pct(toPow2, fp),
      "free slots in used slabs": pct(freeSlots, fp),
      "empty slabs": pct(empty, fp),
      "slab tails": pct(tails, fp),
      "heap: headers, rounding, free space": pct(heapRest, fp),
      "other caches, other pages": pct(other, fp),
      mem_map: pct(k.pages * FRAME, fp),
    };
  });
}

function classTable(r: TraceReport): string[] {
  const k = r.peak;
  const counts = new Map(r.paths.classes.map((c) => [c.name, c]));
  const rows = k.classes
    .filter((c) => c.slabs > 0 || (counts.get(c.name)?.allocs ?? 0) > 0)
    .map((c) => {
      const n = counts.get(c.name) as ClassCounts;
      const slabBytes = c.slabs * c.pagesPerSlab * PAGE;
      return [
        c.name,
        int(n.allocs),
        int(n.newSlabs),
        int(n.discards),
        int(c.live),
        mib(c.requested),
        pct(c.live * c.size - c.requested, c.live * c.size),
        `${int(c.slabs)} × ${c.pagesPerSlab}`,
        mib(slabBytes),
        pct((c.totalObjects - c.live) * c.size, slabBytes),
        int(c.emptySlabs),
      ];
    });
  const large = r.paths.classes[r.paths.classes.length - 2] as ClassCounts;
  rows.push([
    "large (pages)",
    int(large.allocs),
    "",
    "",
    int(k.large.live),
    mib(k.large.requested),
    pct(k.large.pages * PAGE - k.large.requested, k.large.pages * PAGE),
    `${int(k.large.pages)} pages (exact: ${int(k.large.exactPages)})`,
    mib(k.large.pages * PAGE),
    "",
    "",
  ]);
  return table(
    [
      "class",
      "allocations",
      "new slabs",
      "slabs discarded",
      "live at peak",
      "requested",
      "rounding",
      "slabs × pages",
      "slab bytes",
      "free slots",
      "empty slabs",
    ],
    rows,
  );
}

function tlsfTable(reports: TraceReport[]): string[] {
  return traceTable(reports, ({ tlsf: r, tlsfPeak: p }) => ({
    "peak memory": mib(p.bytes),
    payload: pct(p.payload, p.bytes),
    rounding: pct(p.usable - p.payload, p.bytes),
    headers: pct(p.live * TLSF_HEADER, p.bytes),
    "free blocks among used": pct(p.freeInside, p.bytes),
    "free tail (grown, unused)": pct(p.freeTail, p.bytes),
    root: pct(p.root + TLSF_HEADER, p.bytes),
    "utilization (memory)": (r.peakPayload / r.peakBytes).toFixed(3),
    "utilization (high-water)": (r.peakPayload / r.highWater).toFixed(3),
    "realloc in place": pct(r.inPlace, r.inPlace + r.moved),
  }));
}

function boundsTable(reports: TraceReport[], names: string[]): string[] {
  return traceTable(reports, ({ t, paths, bounds: b, tlsf }) => {
    // The trace's own peak payload: kmem's may be less, by the blocks it could not serve.
    const payload = t.peakPayloadBytes;
    return {
      "kmem (peak footprint)": (paths.peakPayload / (paths.peakPages * (PAGE + FRAME))).toFixed(3),
      ...Object.fromEntries(
        names.map((n, i) => [n, (payload / (b.peaks[i] as number)).toFixed(3)]),
      ),
      "TLSF blocks, packed": (payload / b.tlsf).toFixed(3),
      "TLSF (memory)": (tlsf.peakPayload / tlsf.peakBytes).toFixed(3),
      "TLSF (high-water)": (tlsf.peakPayload / tlsf.highWater).toFixed(3),
    };
  });
}

function timesTable(reports: TraceReport[]): string[] {
  return traceTable(reports, ({ t, times }) => {
    const w = times as Times;
    return {
      "loop alone": w.loop.toFixed(1),
      kmem: w.kmem.toFixed(1),
      TLSF: w.tlsf.toFixed(1),
      "kmem / TLSF": `${(w.kmem / w.tlsf).toFixed(2)}×`,
      ...Object.fromEntries(
        w.ranges.map((x, i) => [
          `${RANGE_NAMES[i] as string} B: ops, kmem / TLSF ns`,
          x.ops === 0 ? "-" : `${pct(x.ops, t.ops)}: ${x.kmem.toFixed(0)} / ${x.tlsf.toFixed(0)}`,
        ]),
      ),
    };
  });
}

function profileTable(self: Map<string, number>, top = 16): string[] {
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return table(
    ["function (self time)", "share"],
    rows.map(([name, us]) => [name.replace(/\|/g, "\\|"), pct(us, total)]),
  );
}

/**
 * Runs the breakdown on every trace (whose name contains `only`, if given) and returns the
 * Markdown ("" without traces); without `timed`, the memory figures alone (the same on every
 * run, and quick).
 */
export async function breakdownBenchmarks(
  log: (line: string) => void,
  only?: string,
  timed = true,
): Promise<string> {
  const pick = (f: string): boolean => only === undefined || f.includes(only);
  const programs = programTraces().filter(pick);
  const malloclab = malloclabTraces().filter(pick);
  if (programs.length + malloclab.length === 0) return "";
  const reports: TraceReport[] = [];
  for (const [file, program] of [
    ...programs.map((f) => [f, true] as const),
    ...malloclab.map((f) => [f, false] as const),
  ]) {
    const r = await analyse(file, program, timed);
    log(`breakdown: ${r.t.name}`);
    reports.push(r);
  }
  const progs = reports.filter((r) => r.program);
  const names = schemes(
    kmallocCaches(new Kmem(LINUX_CLASSES)),
    kmallocCaches(new Kmem({ memory: 16 * MiB })),
  ).map((s) => s.name);
  const progFiles = programs.filter((f) => progs.some((r) => r.t.name === traceName(f)));
  const out: string[] = [
    "### Paths kmalloc takes (kmem, SLUB)",
    "",
    ...pathsTable(reports),
    "",
    "### kmalloc's footprint at its peak, by what the pages hold (share of the peak footprint)",
    "",
    ...footprintTable(reports),
    "",
    "### TLSF's memory at its peak",
    "",
    ...tlsfTable(reports),
    "",
    "### Utilization bounds of size-class schemes (peak payload / least footprint over the trace)",
    "",
    ...boundsTable(reports, names),
    "",
  ];
  if (timed && progFiles.length > 0) {
    out.push(
      "### Time: ns per op of the whole trace, and of each size range's blocks replayed alone",
      "",
      ...timesTable(progs),
      "",
      "### Where kmem's time goes on the program traces (sampling profiler)",
      "",
      "Self time by function; a function the engine inlined counts in its caller.",
      "",
      ...profileTable(profile("kmem", progFiles)),
      "",
      "### Where TLSF's time goes on the program traces (sampling profiler)",
      "",
      ...profileTable(profile("tlsf", progFiles)),
      "",
    );
  }
  for (const r of progs) {
    out.push(`### Size classes of ${r.t.name} at kmalloc's peak`, "", ...classTable(r), "");
  }
  return out.join("\n");
}
