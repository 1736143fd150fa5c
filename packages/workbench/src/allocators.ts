/*
 * The allocators the workbench can replay against: a registry of name -> factory. A factory
 * gets the memory size (the same number of bytes for every candidate: kmem's physical memory,
 * a peer's heap, a range allocator's span) and returns a fresh, empty Candidate. It may be
 * handed a buffer of that size to build on (whatever its contents): repeated runs reuse one
 * buffer, so they do not pay the operating system's first touch of every page again.
 *
 * Adding an allocator is one entry in ALLOCATORS.
 *
 * The last, "glibc (native)" (alias glibc), is the C library's malloc replayed by native code
 * (native.ts): compiled on first use, skipped with a reason where no compiler is.
 */

import {
  buddyAllocator,
  type ByteAllocator,
  classicAllocator,
  Kmem,
  kmallocAllocator,
  type KmemOptions,
  mempoolAllocator,
  rmapAllocator,
  vmemAllocator,
} from "kmem";
import { nativeStatus, replayNative } from "./native.js";
import { codemixMallocHeap, peerAllocator, type PeerHeap, thingMallocHeap } from "./peers.js";
import { medianCI95, NATIVE_TIMING, type ReplayOptions, type ReplayOutcome } from "./replay.js";
import type { TraceSource } from "./source.js";
import { tlsfHeap } from "./tlsf.js";

/** The mempool candidate: elements large enough for the realtime workload's largest frame. */
const MEMPOOL_ELEMENT = 1024;
const MEMPOOL_RESERVE = 256;

/** One allocator, fresh and empty, ready for a replay. */
export interface Candidate {
  readonly allocator: ByteAllocator;
  /**
   * The bytes handles point into: contents checks write and read blocks there, and a realloc
   * without allocator support copies there. Absent for range allocators (handles are numbers
   * with no memory behind them). A heap that grows (a WebAssembly memory) detaches its old
   * buffer: then this is a getter, read again when a view has length 0, and the allocator
   * has its own realloc (the timed pass copies through the view it was given).
   */
  readonly memory?: Uint8Array;
  /** The kmem instance behind a kmem layer, for /proc reports, buddyinfo and the page map. */
  readonly kmem?: Kmem;
  /** The heap's free blocks as flat [offset, bytes] pairs, where the allocator can tell. */
  freeBlocks?(): number[];
}

export type AllocatorKind = "kmem" | "range" | "peer" | "native";

export interface AllocatorEntry {
  /** The name `--allocator` takes. */
  readonly name: string;
  readonly kind: AllocatorKind;
  /** One line for `--help` and reports. */
  readonly description: string;
  /** Other names `--allocator` takes for it. */
  readonly aliases?: readonly string[];
  /**
   * A fresh, empty instance over `memoryBytes` (over `reuse` if given, a buffer that large).
   * `timed`: for a timed run, whose footprint nobody reads: an allocator whose memory cannot
   * be `reuse` (a WebAssembly memory) may start with all of it, touched, as `reuse` is.
   */
  create(memoryBytes: number, reuse?: ArrayBuffer, timed?: boolean): Promise<Candidate>;
  /**
   * Its timed runs keep memory of their own, found by `reuse` (TLSF's WebAssembly memory):
   * a replay hands it an empty buffer as that key, not a touched buffer of `memoryBytes`.
   */
  readonly ownTimedMemory?: boolean;
  /**
   * For an allocator outside this process (native code): replays a whole trace itself,
   * measuring what replay.ts measures. replay() hands such an entry the trace.
   */
  replayTrace?(source: TraceSource, options: ReplayOptions): Promise<ReplayOutcome>;
  /** Whether it can run here: null, or why not (no compiler for native code). */
  available?(): Promise<string | null>;
  /**
   * A kmem layer that can run under kmem's sanitizers: the same layer with `options` added
   * (KASAN, KFENCE, kmemleak), named `NAME+label`, or null when that sanitizer does not
   * apply to it (KFENCE over SLOB). Its footprint counts KASAN's shadow.
   */
  sanitized?(options: Partial<KmemOptions>, label: string): AllocatorEntry | null;
}

/** A kmem layer: a fresh `new Kmem({ memory, ...options })` and an adapter over it. */
/**
 * The largest page order for kmalloc over `memoryBytes` (4 KiB pages): blocks up to the
 * memory's size (Linux's 11 orders at least, 20 at most), so that a request above Linux's
 * KMALLOC_MAX_SIZE (4 MiB) is served from pages as a C malloc would serve it, not refused
 * for its size; kmalloc gives back the tail of the block it takes (alloc_pages_exact).
 */
export function mallocMaxOrder(memoryBytes: number): number {
  return Math.min(20, Math.max(11, Math.floor(Math.log2(memoryBytes / 4096)) + 1));
}

function kmemLayer(
  name: string,
  description: string,
  adapter: (mm: Kmem) => ByteAllocator,
  options: Partial<KmemOptions> = {},
  mallocSized = false,
  sanitizable: boolean | "no-kfence" | "kasan" = false,
): AllocatorEntry {
  return {
    name,
    kind: "kmem",
    description,
    create(memoryBytes: number, reuse?: ArrayBuffer): Promise<Candidate> {
      const memory = reuse ?? memoryBytes;
      const mm = new Kmem({
        ...options,
        ...(mallocSized ? { maxOrder: mallocMaxOrder(reuse?.byteLength ?? memoryBytes) } : {}),
        memory,
        // A reused buffer holds the previous run's instance: rebuilt on purpose.
        ...(reuse === undefined ? {} : { reinit: true }),
      });
      const allocator = adapter(mm);
      if (options.kasan !== undefined && options.kasan !== false) {
        // KASAN's shadow (one byte per 8 of memory) lies in the buffer's reserved part,
        // outside the pages the footprint counts: it is memory KASAN costs, so it counts.
        const shadow = Math.ceil((reuse?.byteLength ?? memoryBytes) / 32) * 4;
        const footprint = allocator.footprint.bind(allocator);
        allocator.footprint = () => footprint() + shadow;
      }
      return Promise.resolve({ allocator, memory: mm.memory, kmem: mm });
    },
    ...(sanitizable
      ? {
          sanitized: (extra: Partial<KmemOptions>, label: string): AllocatorEntry | null =>
            (sanitizable === "no-kfence" && extra.kfence !== undefined) ||
            (sanitizable === "kasan" && extra.kasan === undefined)
              ? null
              : kmemLayer(
                  `${name}+${label}`,
                  `${description}, under ${label}`,
                  adapter,
                  { ...options, ...extra },
                  mallocSized,
                ),
        }
      : {}),
  };
}

/** A range allocator over [0, size): handles are numbers, no memory behind them. */
export function rangeAllocator(
  name: string,
  description: string,
  create: (size: number) => ByteAllocator,
): AllocatorEntry {
  return {
    name,
    kind: "range",
    description,
    create: (memoryBytes) => Promise.resolve({ allocator: create(memoryBytes) }),
  };
}

/** An npm peer over an ArrayBuffer heap of the memory size. */
function peer(
  name: string,
  description: string,
  heap: (bytes: number, reuse?: ArrayBuffer, timed?: boolean) => Promise<PeerHeap>,
  ownTimedMemory = false,
): AllocatorEntry {
  return {
    name,
    kind: "peer",
    description,
    ...(ownTimedMemory ? { ownTimedMemory } : {}),
    async create(memoryBytes: number, reuse?: ArrayBuffer, timed?: boolean): Promise<Candidate> {
      const h = await heap(memoryBytes, reuse, timed);
      const walk = h.freeBlocks?.bind(h);
      return {
        allocator: peerAllocator(h),
        get memory(): Uint8Array {
          return h.memory;
        },
        ...(walk === undefined ? {} : { freeBlocks: walk }),
      };
    },
  };
}

/** The C library's malloc, replayed by native code (native.ts); its name says so. */
function native(name: string, alias: string, description: string): AllocatorEntry {
  return {
    name,
    kind: "native",
    aliases: [alias],
    description,
    create: () =>
      Promise.reject(new Error(`${name} replays whole traces in native code (replayTrace)`)),
    replayTrace: (source, options) =>
      replayNative(name, source, options, NATIVE_TIMING, medianCI95),
    available: nativeStatus,
  };
}

/** Every allocator the workbench knows, in the order reports list them. */
export const ALLOCATORS: readonly AllocatorEntry[] = [
  kmemLayer(
    "slub",
    "kmalloc served by SLUB slab caches (kmem)",
    (mm) => kmallocAllocator(mm, "slub"),
    {},
    true,
    true,
  ),
  kmemLayer(
    "slab",
    "kmalloc served by Linux's SLAB: per-cpu array caches over slabs (kmem)",
    (mm) => kmallocAllocator(mm, "slab"),
    { slab: "slab" },
    true,
    true,
  ),
  kmemLayer(
    "slob",
    "kmalloc served by SLOB, first fit in 2-byte units (kmem)",
    (mm) => kmallocAllocator(mm, "slob"),
    { slab: "slob" },
    true,
    "no-kfence",
  ),
  kmemLayer(
    "buddy",
    "whole page blocks from the buddy allocator (kmem)",
    (mm) => buddyAllocator(mm),
    {},
    false,
    true,
  ),
  kmemLayer(
    "mempool",
    `a memory pool of ${MEMPOOL_ELEMENT}-byte elements, ${MEMPOOL_RESERVE} in reserve (kmem)`,
    (mm) => mempoolAllocator(mm, MEMPOOL_ELEMENT, MEMPOOL_RESERVE),
    {},
    false,
    true,
  ),
  kmemLayer(
    "p2",
    "4.2BSD/Kingsley power-of-two free lists, a header per block, never coalesced (kmem)",
    (mm) => classicAllocator(mm, "p2"),
    {},
    false,
    "kasan",
  ),
  kmemLayer(
    "mckusick-karels",
    "4.3BSD McKusick-Karels: buckets sized per page, first-fit pages above two (kmem)",
    (mm) => classicAllocator(mm, "mckusick-karels"),
    {},
    false,
    "kasan",
  ),
  kmemLayer(
    "lazy-buddy",
    "SVR4 lazy buddy system: coalescing deferred by the slack of each size (kmem)",
    (mm) => classicAllocator(mm, "lazy-buddy"),
    {},
    false,
    "kasan",
  ),
  kmemLayer(
    "mach-zone",
    "Mach zones: kalloc over power-of-two zones, pages back by zone GC (kmem)",
    (mm) => classicAllocator(mm, "mach-zone"),
    {},
    false,
    "kasan",
  ),
  kmemLayer(
    "dynix",
    "Dynix/ptx: per-cpu lists, a global layer of lists, coalesce-to-page (kmem)",
    (mm) => classicAllocator(mm, "dynix"),
    {},
    false,
    "kasan",
  ),
  rangeAllocator("rmap", "SVR4 resource map, first fit, 16-byte units (kmem)", (size) =>
    rmapAllocator(size),
  ),
  rangeAllocator("vmem", "Bonwick-Adams vmem arena, instant fit, 16-byte quantum (kmem)", (size) =>
    vmemAllocator(size),
  ),
  peer(
    "tlsf",
    "AssemblyScript's TLSF, two-level segregated fit, as WebAssembly (npm assemblyscript)",
    tlsfHeap,
    true,
  ),
  peer(
    "@thi.ng/malloc",
    "thi.ng MemPool: first fit, address-ordered free list (npm)",
    thingMallocHeap,
  ),
  peer(
    "malloc",
    "codemix malloc: best fit over a skip list of free blocks (npm)",
    codemixMallocHeap,
  ),
  native(
    "glibc (native)",
    "glibc",
    "the C library's malloc (glibc's ptmalloc), replayed by native C code, not JavaScript",
  ),
];

/** The names ALLOCATORS knows, for messages and help. */
export function allocatorNames(): string[] {
  return ALLOCATORS.map((a) => a.name);
}

/** Thrown for a name the registry does not know; the CLI maps it to a usage error. */
export class UnknownNameError extends Error {
  constructor(what: string, name: string, known: readonly string[]) {
    super(`unknown ${what} ${JSON.stringify(name)} (known: ${known.join(", ")})`);
    this.name = "UnknownNameError";
  }
}

/** The entry named `name` (or an alias); throws UnknownNameError listing the known names. */
export function findAllocator(name: string): AllocatorEntry {
  const entry = ALLOCATORS.find((a) => a.name === name || (a.aliases ?? []).includes(name));
  if (entry === undefined) throw new UnknownNameError("allocator", name, allocatorNames());
  return entry;
}
