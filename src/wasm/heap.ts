/*
 * WasmHeap: kmem as the malloc of a C (or C++, or Rust) program compiled to WebAssembly. The
 * module imports its memory and the malloc family from `env`; kmem manages the memory above
 * the module's heap base, leaving its data and stack alone:
 *
 *   0      1024                    __heap_base  offset (page-aligned)                end
 *   +------+-----------------------+------------+-----------------------------------+
 *   | NULL | data, stack (module)  | (padding)  | kmem: header, mem_map, pages      |
 *   +------+-----------------------+------------+-----------------------------------+
 *
 * A pointer p of the module is kmem address p - offset (docs/wasm.md); NULL is NULL. Every
 * import takes and returns wasm i32 values: sizes and pointers arrive signed and are read
 * back unsigned (`>>> 0`).
 *
 * Which allocator serves a request (the C semantics are the module's, the rest kmem's):
 *
 *   size               slab: "slub" (default)              slab: "slob"
 *   up to 2*pageSize   kmalloc's size classes from 16,     up to pageSize: a cache of 16-byte
 *                      the size rounded up to a multiple   steps ("malloc-N", align 16)
 *                      of 16 (so never the 8-aligned
 *                      24-, 40- and 56-byte classes)
 *   larger             large: "pages" (default): kmalloc_large, a block of 2^order pages,
 *                      order < maxOrder (chosen so that a block can be as large as the heap);
 *                      large: "vmem": whole pages from a vmem arena (Solaris's kmem over
 *                      segkmem) importing spans of at least LARGE_SPAN from the buddy
 *                      allocator (a block of pages as with "pages" where no span is free):
 *                      no rounding to a power of two, but its records are this context's
 *                      (JavaScript arrays), so a heap of one context only
 *
 * Alignment: 16 bytes (wasm32's max_align_t) for malloc, calloc and realloc; aligned_alloc
 * and posix_memalign up to the page size (a power-of-two kmalloc size is naturally aligned,
 * and pages are page-aligned since `offset` is).
 *
 * Growth (memory hotplug, docs/wasm.md): when kmem cannot serve a request, the heap grows
 * the memory (`memory.grow`, by at least GROW_STEP and twice the request, up to `maximum`)
 * and the page allocator brings the new pages online (page/hotplug.ts), then the request is
 * tried again; past the maximum, or when the engine refuses, malloc returns NULL with
 * nothing changed. Another context (a worker over a shared memory) sees the new pages at
 * its next slow path, or when a pointer lies beyond the heap it knew (then it looks again).
 *
 * Misuse by the module (a double free, a free of what malloc did not return) is found by
 * kmem before anything changes and reported with the module's address: thrown as a
 * KmemError through the module's call (it traps, as glibc aborts; the default), or passed
 * to `log` with the call ignored ("log"). Either way the memory is as it was.
 *
 * KASAN (`kasan`, docs/sanitizers.md): kmem's KASAN over the heap, and for a module
 * instrumented by binaryen (`wasm-opt --instrument-memory`) every load and store checked
 * against its shadow (kasan.ts here: the imports, served by a checker module in wasm). What
 * malloc hands out is unpoisoned to the bytes asked for, the rest of the block poisoned; a
 * free poisons the block and quarantines it. A bad access is reported in KASAN's form with
 * the module's addresses and the C function that made it: thrown through the module (it
 * traps) or logged with the access let through, as `misuse` says. Without `kasan` the
 * imports and every path are the ones a heap always had.
 */

import { describe, hex, KmemError } from "../errors.js";
import { addrHex, type Kasan } from "../kasan/index.js";
import type { Sanitizers } from "../sanitize/index.js";
import { type KasanOptions, Kmem } from "../kmem.js";
import { Hdr, Layout, MAX_GROWABLE_BYTES } from "../memory/index.js";
import { __GFP_ZERO, GFP_NOWAIT } from "../page/index.js";
import type { KmemCache } from "../slab-common/index.js";
import { VmemArena } from "../vmem/index.js";
import {
  CHECKER_GLOBALS,
  CHECKER_PREFIX,
  checkerModule,
  INSTRUMENT_IMPORTS,
  type InstrumentImports,
} from "./kasan.js";
import {
  isGlobal,
  isInstance,
  isMemory,
  type WasmGlobal,
  type WasmInstance,
  type WasmMemory,
  wasmApi,
} from "./webassembly.js";

/** Bytes of a WebAssembly page. */
export const WASM_PAGE = 65536;
/** malloc's alignment: wasm32's max_align_t (long double is 16 bytes). */
export const MALLOC_ALIGN = 16;
/** errno values of wasi-libc (and Emscripten): what posix_memalign returns. */
export const EINVAL = 28;
export const ENOMEM = 48;

/** What a misuse by the module does: throw into its call (it traps), or log and go on. */
export type MisuseAction = "throw" | "log";

/** Where allocations beyond the object allocator's sizes come from (see the header). */
export type LargeRoute = "pages" | "vmem";

/** large "vmem": the smallest span the arena imports from the buddy allocator. */
export const LARGE_SPAN = 1 << 20;

/** The least a grow adds: 16 WebAssembly pages (1 MiB). */
export const GROW_STEP = 16;

/** Options of {@link WasmHeap.create}. */
export interface WasmHeapOptions {
  /** The memory to manage (the module's, or one it will import). Default: a new one. */
  memory?: WasmMemory;
  /**
   * Where the module's heap starts: its `__heap_base` (link with
   * `-Wl,--export=__heap_base`). Default: learnt from the instance by {@link WasmHeap.bind}.
   */
  heapBase?: number;
  /** Pages (64 KiB) of a new memory. Default 256 (16 MiB). */
  initial?: number;
  /**
   * Pages (64 KiB) the memory may grow to: a new memory's maximum, and the room the mem_map
   * keeps for them. Default: `initial` (a new memory), the memory's size (one given).
   */
  maximum?: number;
  /** Create a shared memory (a SharedArrayBuffer: workers open it with attach). Default false. */
  shared?: boolean;
  /** The object allocator behind malloc: "slub" (default), "slab" or "slob". */
  slab?: "slub" | "slab" | "slob";
  /** kmem's page size: a power of two, 1 KiB..64 KiB (the largest alignment served). Default 4096. */
  pageSize?: number;
  /** Orders 0..maxOrder-1: the largest block, hence the largest malloc. Default: the heap's size. */
  maxOrder?: number;
  /** Contexts (the main thread and workers) that may use the heap at once. Default 1. */
  cpus?: number;
  /** slub_debug letters for the slab caches (red zones, poisoning...): catches overruns. */
  debug?: string;
  /** Large allocations: "pages" (default), or "vmem" (one context only). */
  large?: LargeRoute;
  /** What a double or invalid free does: "throw" (default) or "log". */
  misuse?: MisuseAction;
  /** Where reports go with misuse "log". Default: console.error. */
  log?: (message: string) => void;
  /**
   * KASAN (as `new Kmem({ kasan })`: true, or `{ quarantine, stacks }`): the heap's objects
   * poisoned and unpoisoned, freed ones quarantined, and the loads and stores of a module
   * instrumented with `wasm-opt --instrument-memory` checked (the imports it adds are in
   * `imports.env`). The shadow takes 1/8 of `maximum` from the memory. Needs slab "slub".
   */
  kasan?: boolean | KasanOptions;
}

/** Options of {@link WasmHeap.attach}. */
export interface WasmHeapAttachOptions {
  /** The module's `__heap_base`, as the heap was created with. */
  heapBase: number;
  misuse?: MisuseAction;
  log?: (message: string) => void;
}

/** The malloc family as a module imports it from `env`. */
export interface MallocImports {
  memory: WasmMemory;
  malloc(size: number): number;
  free(ptr: number): void;
  calloc(count: number, size: number): number;
  realloc(ptr: number, size: number): number;
  aligned_alloc(alignment: number, size: number): number;
  posix_memalign(memptr: number, alignment: number, size: number): number;
  malloc_usable_size(ptr: number): number;
}

/** Calls counted by this context (see {@link WasmHeap.counts}). */
export interface MallocCounts {
  /** Successful allocations: malloc, calloc, aligned_alloc, posix_memalign. */
  mallocs: number;
  /** Frees of a live block (free(NULL) not counted). */
  frees: number;
  /** Successful reallocs of a live block (realloc(NULL, n) counts as a malloc). */
  reallocs: number;
  /** Allocations that returned NULL. */
  failures: number;
  /** Misuses reported. */
  misuses: number;
  /** mallocs - frees: blocks live now (this context's count). */
  live: number;
}

const OPTION_KEYS = [
  "memory",
  "heapBase",
  "initial",
  "maximum",
  "shared",
  "slab",
  "pageSize",
  "maxOrder",
  "cpus",
  "debug",
  "large",
  "misuse",
  "log",
  "kasan",
];

const KMALLOC_MAX_ORDER = 20;

export class WasmHeap {
  /** The module's memory. */
  readonly memory: WasmMemory;
  /**
   * What the module imports: `{ env: { memory, malloc, free, ... } }`; with `kasan`, also
   * the imports of `wasm-opt --instrument-memory` (load_ptr, store_ptr, ...).
   */
  readonly imports: { env: MallocImports & Partial<InstrumentImports> };
  /** The memory's maximum in pages (the mem_map's room). */
  readonly maximum: number;
  private readonly options: WasmHeapOptions;
  private readonly misuse: MisuseAction;
  private readonly log: (message: string) => void;
  private mm: Kmem | null = null;
  /** The byte of memory that is kmem's address 0. */
  private base = 0;
  /** Pointers below this (kmem's header and mem_map, the module's data) are never malloc's. */
  private firstPtr = 0;
  private endPtr = 0;
  /** The heap's managed bytes once grown to `maximum`: no request larger is served. */
  private maxHeapBytes = 0;
  /** kmem's totalPages when the bounds above were taken. */
  private seenPages = 0;
  /** Times this context grew the memory. */
  private nGrow = 0;
  private slob = false;
  /** slab "slob": the malloc-N caches by N / 16, made on first use. */
  private readonly slobCaches: (KmemCache | null)[] = [];
  private slobMax = 0;
  private pow2Only = false;
  /** large "vmem": the arena, the sizes of its live allocations, and the smallest size it serves. */
  private arena: VmemArena | null = null;
  private readonly arenaSizes = new Map<number, number>();
  private largeMin = 0;
  private pageMask = 0;
  private nMalloc = 0;
  private nFree = 0;
  private nRealloc = 0;
  private nFail = 0;
  private nMisuse = 0;
  /** KASAN of this context (kasan on), and the checker module's exports. */
  private kasan: Kasan | null = null;
  private checker: Record<string, unknown> | null = null;
  /** The function of each access site (the instrumentation's id) the slow path met. */
  private readonly sites = new Map<number, string>();
  /** The sites that made a report. */
  private readonly reported = new Set<number>();

  private constructor(memory: WasmMemory, maximum: number, options: WasmHeapOptions) {
    this.memory = memory;
    this.maximum = maximum;
    this.options = options;
    this.misuse = options.misuse ?? "throw";
    this.log = options.log ?? ((message: string) => console.error(message));
    const env: MallocImports = {
      memory,
      malloc: (size) => this.malloc(size >>> 0),
      free: (ptr) => this.free(ptr >>> 0),
      calloc: (count, size) => this.calloc(count >>> 0, size >>> 0),
      realloc: (ptr, size) => this.realloc(ptr >>> 0, size >>> 0),
      aligned_alloc: (alignment, size) => this.alignedAlloc(alignment >>> 0, size >>> 0),
      posix_memalign: (memptr, alignment, size) =>
        this.posixMemalign(memptr >>> 0, alignment >>> 0, size >>> 0),
      malloc_usable_size: (ptr) => this.usableSize(ptr >>> 0),
    };
    this.imports = { env };
    if (options.kasan !== undefined && options.kasan !== false) this.makeChecker();
  }

  /**
   * A heap over `memory` (adopted) or a new memory of `initial` pages. With `heapBase` it is
   * laid out at once; without, at {@link WasmHeap.bind}, once the module is instantiated.
   */
  static create(options: WasmHeapOptions = {}): WasmHeap {
    checkOptions(options);
    let memory = options.memory;
    let maximum: number;
    if (memory === undefined) {
      const initial = options.initial ?? 256;
      maximum = options.maximum ?? initial;
      if (maximum < initial) {
        throw new RangeError(`maximum (${maximum} pages) must be at least initial (${initial})`);
      }
      memory = new wasmApi.Memory({ initial, maximum, shared: options.shared === true });
    } else {
      const pages = memory.buffer.byteLength / WASM_PAGE;
      maximum = options.maximum ?? pages;
      if (maximum < pages) {
        throw new RangeError(`maximum (${maximum} pages) is below the memory's ${pages} pages`);
      }
    }
    const heap = new WasmHeap(memory, maximum, options);
    if (options.heapBase !== undefined) heap.layOut(options.heapBase);
    return heap;
  }

  /**
   * Opens the heap another context created over a shared `memory` (a worker's view of it),
   * as a cpu of its own (see Kmem.attach).
   */
  static attach(memory: WasmMemory, options: WasmHeapAttachOptions): WasmHeap {
    if (!isMemory(memory)) {
      throw new TypeError(`memory must be a WebAssembly.Memory, got ${describe(memory)}`);
    }
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`WasmHeap.attach options must be an object, got ${describe(options)}`);
    }
    checkHeapBase(options.heapBase);
    const buffer = memory.buffer;
    const heap = new WasmHeap(memory, 65536, {
      ...(options.misuse === undefined ? {} : { misuse: options.misuse }),
      ...(options.log === undefined ? {} : { log: options.log }),
    });
    // The heap starts at the heap base rounded up to its page size: try each page size.
    let last: unknown = null;
    for (let pageSize = 1024; pageSize <= 65536; pageSize *= 2) {
      const offset = alignUp(options.heapBase, pageSize);
      if (offset >= buffer.byteLength || !headerAt(buffer, offset, pageSize)) continue;
      try {
        const mm = Kmem.attach(buffer, { offset });
        // This context renews its views from the memory after another grew it.
        mm.onlineMemory(memory);
        heap.adopt(mm, offset);
        return heap;
      } catch (err) {
        last = err;
      }
    }
    throw last ?? new Error(`WasmHeap.attach: no heap above heap base ${hex(options.heapBase)}`);
  }

  /**
   * Lays the heap out at the instance's `__heap_base` (exported with
   * `-Wl,--export=__heap_base`), before the module runs; or at `heapBase` given as a number.
   */
  bind(source: WasmInstance | number): this {
    if (this.mm !== null) throw new Error("WasmHeap.bind: the heap is laid out already");
    let heapBase: unknown = source;
    if (isInstance(source) || (typeof source === "object" && source !== null)) {
      const g = (source as WasmInstance).exports?.__heap_base;
      if (!isGlobal(g)) {
        throw new TypeError(
          "WasmHeap.bind: the instance exports no __heap_base global (link with -Wl,--export=__heap_base, or pass heapBase)",
        );
      }
      heapBase = g.value;
    }
    this.layOut(heapBase);
    return this;
  }

  private layOut(heapBase: unknown): void {
    checkHeapBase(heapBase);
    const o = this.options;
    const pageSize = o.pageSize ?? 4096;
    const buffer = this.memory.buffer;
    const offset = alignUp(heapBase, typeof pageSize === "number" ? pageSize : 4096);
    if (offset >= buffer.byteLength) {
      throw new RangeError(
        `the memory (${buffer.byteLength / WASM_PAGE} pages) ends at ${hex(buffer.byteLength)}, below the heap base ${hex(heapBase)}: give it more pages`,
      );
    }
    // Room for the maximum, in one window of addresses (physmem.ts, "Growth").
    const room = Math.min(this.maximum * WASM_PAGE - offset, MAX_GROWABLE_BYTES);
    const maxOrder =
      o.maxOrder ??
      Math.min(KMALLOC_MAX_ORDER, Math.max(11, Math.floor(Math.log2(room / pageSize)) + 1));
    const mm = new Kmem({
      memory: buffer,
      offset,
      pageSize,
      maxOrder,
      minFreeBytes: 0,
      slab: o.slab ?? "slub",
      ...(room > buffer.byteLength - offset ? { maxMemory: room } : {}),
      ...(o.cpus === undefined ? {} : { cpus: o.cpus }),
      ...(o.debug === undefined ? {} : { debug: o.debug }),
      ...(o.kasan === undefined || o.kasan === false ? {} : { kasan: o.kasan }),
    });
    if (room > buffer.byteLength - offset) mm.onlineMemory(this.memory);
    this.adopt(mm, offset);
  }

  private adopt(mm: Kmem, offset: number): void {
    this.mm = mm;
    this.base = offset;
    const reserved = (mm.totalPages - mm.managedPages) * mm.pageSize;
    this.firstPtr = offset + reserved;
    this.adoptKasan(mm, offset, reserved);
    this.maxHeapBytes = (mm.maxPages - (mm.totalPages - mm.managedPages)) * mm.pageSize;
    // Attached: the memory may grow as far as the mem_map has room.
    const most = Math.floor((offset + mm.maxPages * mm.pageSize) / WASM_PAGE);
    if (most > this.maximum || this.maximum === 65536) {
      (this as { maximum: number }).maximum = Math.max(
        most,
        this.memory.buffer.byteLength / WASM_PAGE,
      );
    }
    this.bounds();
    this.slob = mm.slabAllocator === "slob";
    // SLOB: caches up to a page (beyond a page less its tag and alignment, an object has a
    // page of its own); larger requests are kmalloc_large's pages.
    this.slobMax = mm.pageSize;
    // Red zones shift the objects of the classes that are not powers of two (alignment 8)
    // off 16 bytes; their requests go to the next power of two.
    this.pow2Only = mm.debug.includes("Z");
    this.pageMask = mm.pageSize - 1;
    if (this.options.large === "vmem") {
      if (mm.cpus > 1) {
        throw new RangeError(
          'large "vmem" keeps its records in this context: it needs a heap of one context (cpus 1)',
        );
      }
      this.largeMin = this.slob ? mm.pageSize : 2 * mm.pageSize;
      const pageSize = mm.pageSize;
      const order = (bytes: number): number => Math.ceil(Math.log2(Math.ceil(bytes / pageSize)));
      this.arena = new VmemArena({
        name: "malloc-large",
        base: 0,
        size: 0,
        quantum: pageSize,
        minImport: LARGE_SPAN,
        importFn: (bytes) => {
          const a = order(bytes) < mm.maxOrder ? mm.allocPages(order(bytes), GFP_NOWAIT) : 0;
          // KASAN: a span's free space is poisoned until the arena hands it out.
          if (a !== 0) this.kasan?.blockFreed(a, pageSize << order(bytes));
          return a === 0 ? -1 : a;
        },
        releaseFn: (start, bytes) => mm.freePages(start, order(bytes)),
      });
    }
  }

  /** The heap's bounds from kmem's present pages (again after memory was brought online). */
  private bounds(): void {
    const mm = this.mm as Kmem;
    this.seenPages = mm.totalPages;
    this.endPtr = this.base + mm.totalPages * mm.pageSize;
  }

  /**
   * Grows the memory for a request of `size` bytes that kmem could not serve (see the
   * header): false when it cannot grow (its maximum, or the engine refuses).
   */
  private grow(size: number): boolean {
    const mm = this.heap();
    // No block of pages is that large: growing would not help.
    if (size > mm.pageSize * 2 ** (mm.maxOrder - 1)) return false;
    // Memory another context brought online first: the request may fit now.
    if (mm.onlineMemory(this.memory) > 0) {
      this.bounds();
      return true;
    }
    const now = this.memory.buffer.byteLength / WASM_PAGE;
    const want = Math.max(GROW_STEP, Math.ceil((2 * size + mm.pageSize) / WASM_PAGE));
    const delta = Math.min(want, this.maximum - now);
    if (delta <= 0) return false;
    const added = mm.growMemory(this.memory, delta);
    if (added === 0) return false;
    this.nGrow++;
    this.bounds();
    return true;
  }

  /** The memory's pages (64 KiB) now, the maximum, and the times this context grew it. */
  growth(): { pages: number; maximum: number; grows: number } {
    return {
      pages: this.memory.buffer.byteLength / WASM_PAGE,
      maximum: this.maximum,
      grows: this.nGrow,
    };
  }

  /** The kmem instance behind the heap: verify(), stats(), report("slabinfo")... */
  get kmem(): Kmem {
    return this.mm ?? this.notLaidOut();
  }

  /** The byte of memory that is kmem address 0: pointer p is kmem address p - offset. */
  get offset(): number {
    if (this.mm === null) this.notLaidOut();
    return this.base;
  }

  /** Calls counted by this context. */
  counts(): MallocCounts {
    return {
      mallocs: this.nMalloc,
      frees: this.nFree,
      reallocs: this.nRealloc,
      failures: this.nFail,
      misuses: this.nMisuse,
      live: this.nMalloc - this.nFree,
    };
  }

  /* ------------------------------------------------------------------ the imports */

  /** malloc: 16-byte aligned; malloc(0) returns a block of its own (as dlmalloc's). */
  malloc(size: number): number {
    const a = this.allocate(size, 0);
    if (a === 0) {
      this.nFail++;
      return 0;
    }
    this.nMalloc++;
    return a + this.base;
  }

  /** calloc: zeroed; NULL when count * size overflows size_t. */
  calloc(count: number, size: number): number {
    const bytes = count * size;
    const a = bytes > 0xffffffff ? 0 : this.allocate(bytes, __GFP_ZERO);
    if (a === 0) {
      this.nFail++;
      return 0;
    }
    this.nMalloc++;
    return a + this.base;
  }

  /** free: free(NULL) does nothing; a misuse is reported (see the file's header). */
  free(ptr: number): void {
    if (ptr === 0) return;
    const mm = this.heap();
    if ((ptr < this.firstPtr || ptr >= this.endPtr) && !this.grownTo(ptr)) {
      return this.outside("free", ptr);
    }
    try {
      this.release(mm, ptr - this.base);
    } catch (err) {
      return this.reportMisuse("free", ptr, err);
    }
    this.nFree++;
  }

  /**
   * realloc: realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL (as
   * dlmalloc and glibc); in place while the block holds n bytes and is not twice too large;
   * on failure NULL, the block left as it was.
   */
  realloc(ptr: number, size: number): number {
    if (ptr === 0) return this.malloc(size);
    if (size === 0) {
      this.free(ptr);
      return 0;
    }
    const usable = this.usable("realloc", ptr);
    if (usable === 0) return 0; // misuse, reported
    if (size <= usable && (size > usable >>> 1 || usable <= MALLOC_ALIGN)) {
      if (this.kasan !== null) this.kasanResized(ptr - this.base, size, usable);
      this.nRealloc++;
      return ptr;
    }
    const a = this.allocate(size, 0);
    if (a === 0) {
      if (size <= usable) {
        if (this.kasan !== null) this.kasanResized(ptr - this.base, size, usable);
        this.nRealloc++;
        return ptr; // shrinking never fails: keep the block
      }
      this.nFail++;
      return 0;
    }
    const from = ptr - this.base;
    this.heap().memory.copyWithin(a, from, from + Math.min(size, usable));
    this.release(this.heap(), from);
    this.nRealloc++;
    return a + this.base;
  }

  /** aligned_alloc: NULL for an alignment that is not a power of two or exceeds the page size. */
  alignedAlloc(alignment: number, size: number): number {
    const a = this.allocateAligned(alignment, size);
    if (a === 0) {
      this.nFail++;
      return 0;
    }
    this.nMalloc++;
    return a + this.base;
  }

  /**
   * posix_memalign: EINVAL unless the alignment is a power of two multiple of sizeof(void *)
   * (4); ENOMEM when memory is short (also for an alignment above the page size); else 0,
   * the block's address stored at `memptr`.
   */
  posixMemalign(memptr: number, alignment: number, size: number): number {
    if (alignment < 4 || (alignment & (alignment - 1)) !== 0) return EINVAL;
    const a = this.allocateAligned(alignment, size);
    if (a === 0) {
      this.nFail++;
      return ENOMEM;
    }
    new DataView(this.memory.buffer).setUint32(memptr, a + this.base, true);
    this.nMalloc++;
    return 0;
  }

  /** malloc_usable_size: the bytes usable at ptr (0 for NULL). */
  usableSize(ptr: number): number {
    if (ptr === 0) return 0;
    const n = this.usable("malloc_usable_size", ptr);
    // KASAN: the program may use what it was told it has (Linux's ksize unpoisons it too).
    if (this.kasan !== null && n !== 0) this.kasanResized(ptr - this.base, n, n);
    return n;
  }

  /** The usable size of the block at `ptr` (not NULL), or 0 with the misuse reported. */
  private usable(call: string, ptr: number): number {
    const mm = this.heap();
    if ((ptr < this.firstPtr || ptr >= this.endPtr) && !this.grownTo(ptr)) {
      this.outside(call, ptr);
      return 0;
    }
    try {
      const a = ptr - this.base;
      if (this.arena !== null && (a & this.pageMask) === 0) {
        const n = this.arenaSizes.get(a);
        if (n !== undefined) return n;
      }
      return mm.ksize(a);
    } catch (err) {
      this.reportMisuse(call, ptr, this.arenaMisuse(ptr - this.base) ?? err);
      return 0;
    }
  }

  /* ------------------------------------------------------------------ kmem */

  /**
   * Whether `ptr`, beyond the heap this context knew, lies in memory brought online since
   * (by another context): then the bounds are renewed.
   */
  private grownTo(ptr: number): boolean {
    if (ptr < this.endPtr || this.mm === null) return false;
    this.mm.onlineMemory(this.memory);
    if (this.mm.totalPages !== this.seenPages) this.bounds();
    return ptr < this.endPtr;
  }

  /** A kmem address of `size` bytes, 16-byte aligned (0 when memory is short, even grown). */
  private allocate(size: number, gfp: number): number {
    for (;;) {
      const a = this.allocateOnce(size, gfp);
      if (a !== 0 || !this.grow(size)) {
        return a === 0 || this.kasan === null ? a : this.kasanAllocated(a, size);
      }
    }
  }

  private allocateOnce(size: number, gfp: number): number {
    const mm = this.heap();
    // More than the heap can ever hold is never served (and SLOB's unit arithmetic is 32-bit).
    if (size > this.maxHeapBytes) return 0;
    // A multiple of 16 (max_align_t): kmalloc's 24-, 40- and 56-byte classes are 8-aligned,
    // and C's malloc owes 16 bytes of alignment to every request of 16 bytes or more. The
    // classes above 64 bytes are multiples of 16.
    const n = size <= MALLOC_ALIGN ? MALLOC_ALIGN : size <= 64 ? (size + 15) & ~15 : size;
    if (this.slob && n <= this.slobMax) {
      const c = this.slobCache((n + MALLOC_ALIGN - 1) >>> 4);
      return c === null ? 0 : c.alloc(GFP_NOWAIT | gfp);
    }
    if (this.arena !== null && n > this.largeMin) return this.allocateLarge(n, gfp);
    if (this.pow2Only && n <= 2 * mm.pageSize)
      return mm.kmalloc(2 ** Math.ceil(Math.log2(n)), GFP_NOWAIT | gfp);
    return mm.kmalloc(n, GFP_NOWAIT | gfp);
  }

  /**
   * An allocation aligned to `alignment` (a power of two up to the page size): a power-of-two
   * kmalloc size is naturally aligned (up to the page size), pages are page-aligned.
   */
  private allocateAligned(alignment: number, size: number): number {
    if (alignment === 0 || (alignment & (alignment - 1)) !== 0) return 0;
    if (alignment <= MALLOC_ALIGN) return this.allocate(size, 0);
    for (;;) {
      const a = this.allocateAlignedOnce(alignment, size);
      if (a !== 0 || alignment > this.heap().pageSize || !this.grow(size)) {
        return a === 0 || this.kasan === null ? a : this.kasanAllocated(a, size);
      }
    }
  }

  private allocateAlignedOnce(alignment: number, size: number): number {
    const mm = this.heap();
    if (alignment > mm.pageSize || size > this.maxHeapBytes) return 0;
    const n = Math.max(size, alignment);
    if (this.arena !== null && n > this.largeMin) return this.allocateLarge(n, 0);
    // Up to the largest class a power of two (classes between are 8- or 16-byte aligned);
    // above it whole pages (a kmalloc of whole pages takes pages, page-aligned).
    const pages = Math.ceil(n / mm.pageSize) * mm.pageSize;
    return mm.kmalloc(n <= 2 * mm.pageSize ? 2 ** Math.ceil(Math.log2(n)) : pages, GFP_NOWAIT);
  }

  /**
   * large "vmem": whole pages from the arena (zeroed for calloc); where it can import no span
   * (none of LARGE_SPAN is free), a block of pages as with "pages".
   */
  private allocateLarge(size: number, gfp: number): number {
    const n = (size + this.pageMask) & ~this.pageMask;
    const a = (this.arena as VmemArena).alloc(n);
    if (a < 0) return this.heap().kmalloc(size, GFP_NOWAIT | gfp);
    this.arenaSizes.set(a, n);
    if ((gfp & __GFP_ZERO) !== 0) this.heap().memory.fill(0, a, a + size);
    return a;
  }

  /** Frees kmem address `a`: the arena's, or kmem's (which reports a misuse). */
  private release(mm: Kmem, a: number): void {
    if (this.arena !== null && (a & this.pageMask) === 0) {
      const n = this.arenaSizes.get(a);
      if (n !== undefined) {
        this.arenaSizes.delete(a);
        this.arena.free(a, n);
        this.kasan?.blockFreed(a, n, n);
        return;
      }
    }
    try {
      mm.kfree(a);
    } catch (err) {
      throw this.arenaMisuse(a) ?? err;
    }
  }

  /**
   * What kmem refused to free or size at `a`, when `a` lies in one of the arena's spans (a
   * large block's): its own finding, or null when the address is none of the arena's.
   */
  private arenaMisuse(a: number): KmemError | null {
    if (this.arena === null) return null;
    for (const seg of this.arena.segments()) {
      if (seg.type === "span" || a < seg.base || a >= seg.base + seg.size) continue;
      if (seg.type === "free")
        return new KmemError("DOUBLE_FREE", "the large block is already free");
      for (const [b, n] of this.arenaSizes) {
        if (b <= a && a < b + n) {
          return new KmemError("INVALID_FREE", `inside the large block at ${hex(b)} (${n} bytes)`);
        }
      }
    }
    return null;
  }

  /**
   * Checks the heap: kmem's verify() (every structure, from the bytes), and with large
   * "vmem" the arena's own and that each of its allocations lies in a span it imported.
   */
  verify(): void {
    const mm = this.heap();
    mm.verify();
    const arena = this.arena;
    if (arena === null) return;
    arena.verify();
    let inUse = 0;
    for (const n of this.arenaSizes.values()) inUse += n;
    if (inUse !== arena.stats().inUse) {
      throw new KmemError(
        "CORRUPTION",
        `the large arena holds ${arena.stats().inUse} in use, its allocations add up to ${inUse}`,
      );
    }
  }

  /** SLOB's cache of `units` * 16 bytes, aligned to 16. */
  private slobCache(units: number): KmemCache | null {
    const c = this.slobCaches[units];
    if (c !== undefined && c !== null) return c;
    const mm = this.heap();
    const name = `malloc-${units * MALLOC_ALIGN}`;
    const made = mm.findCache(name) ?? mm.createCache(name, units * MALLOC_ALIGN, { align: 16 });
    this.slobCaches[units] = made;
    return made;
  }

  private heap(): Kmem {
    const mm = this.mm;
    if (mm === null) return this.notLaidOut();
    if (mm.memory.length === 0) this.detached();
    return mm;
  }

  private notLaidOut(): never {
    throw new Error(
      "WasmHeap: the heap is not laid out yet: pass heapBase to WasmHeap.create, or call heap.bind(instance) before the module runs",
    );
  }

  private detached(): never {
    throw new Error(
      "WasmHeap: the memory grew (memory.grow) under the heap, not through it, and its buffer was replaced with kmem's views of it: let the heap grow it (malloc does), or share the memory",
    );
  }

  /* ------------------------------------------------------------------ KASAN */

  /** The checker module (kasan.ts) and the instrumentation's imports in `imports.env`. */
  private makeChecker(): void {
    if (this.checker !== null) return;
    const shared =
      typeof SharedArrayBuffer !== "undefined" && this.memory.buffer instanceof SharedArrayBuffer;
    const instance = new wasmApi.Instance(new wasmApi.Module(checkerModule(shared)), {
      env: { memory: this.memory },
      kasan: {
        slow: (id: number, bytes: number, a: number, write: number): void =>
          this.kasanSlow(id, bytes >>> 0, a >>> 0, write !== 0),
      },
    });
    const ex = instance.exports;
    const env = this.imports.env as unknown as Record<string, unknown>;
    for (const n of INSTRUMENT_IMPORTS) env[n] = ex[n];
    this.checker = ex;
  }

  /** With KASAN on in `mm` (created with it, or attached to a heap that has it): checks on. */
  private adoptKasan(mm: Kmem, offset: number, reserved: number): void {
    // The facade keeps its sanitizers to itself; the heap is part of the library.
    const san = (mm as unknown as { sanitizers: Sanitizers | null }).sanitizers;
    const kasan = san?.kasan ?? null;
    if (kasan === null) return;
    this.kasan = kasan;
    this.makeChecker();
    const ex = this.checker as Record<string, unknown>;
    const values = [offset, kasan.sh.length * 8, reserved, kasan.sh.byteOffset];
    CHECKER_GLOBALS.forEach((g, i) => {
      (ex[g] as WasmGlobal).value = values[i] as number;
    });
  }

  /** A block handed out for `size` bytes: the rest of it poisoned (a red zone). */
  private kasanAllocated(a: number, size: number): number {
    const n = this.arena === null ? undefined : this.arenaSizes.get(a);
    this.kasanResized(a, size, n ?? this.heap().ksize(a));
    return a;
  }

  /** The block at kmem address `a` (of `usable` bytes) is now `size` bytes. */
  private kasanResized(a: number, size: number, usable: number): void {
    const slab = usable <= 2 * this.heap().pageSize && !this.arenaSizes.has(a);
    (this.kasan as Kasan).resized(a, size, usable, slab);
  }

  /**
   * The checker's slow path: an access of `bytes` at kmem address `a` that the shadow did
   * not pass at once. KASAN's full check finds it good, or reports it.
   */
  private kasanSlow(id: number, bytes: number, a: number, write: boolean): void {
    const kasan = this.kasan;
    if (kasan === null) return;
    let fn = this.sites.get(id);
    if (fn === undefined) {
      fn = wasmCaller() ?? `${write ? "store" : "load"} #${id}`;
      this.sites.set(id, fn);
    }
    if (!write && wordAtATime(fn) && this.wordRead(a, bytes)) return;
    try {
      if (a < this.firstPtr - this.base) {
        kasan.wild(a, bytes, write, fn, "kmem's header and mem_map, in no allocation");
      }
      kasan.check(a, bytes, write, fn);
    } catch (err) {
      // Logged, a site reports once (a loop over a bad pointer would report at every turn).
      if (this.misuse === "log" && this.reported.has(id)) {
        if (!(err instanceof KmemError)) throw err;
        this.nMisuse++;
        return;
      }
      this.reported.add(id);
      this.reportKasan(err, null);
    }
  }

  /**
   * A read of an aligned word whose first byte is accessible: a C library's string function
   * reading a word at a time, the word holding the string's end (Linux exempts its own such
   * reads, read_word_at_a_time, from KASAN).
   */
  private wordRead(a: number, bytes: number): boolean {
    if ((bytes !== 4 && bytes !== 8) || (a & (bytes - 1)) !== 0) return false;
    const v = (this.kasan as Kasan).sh[a >>> 3] as number;
    return v === 0 || (v < 8 && (a & 7) < v);
  }

  /**
   * A KASAN report with the module's addresses (kmem's plus `offset`), the checker's own
   * frames left out, in `call` when given: thrown, or logged (the access goes on).
   */
  private reportKasan(err: unknown, call: string | null): void {
    if (!(err instanceof KmemError) || err.code !== "KASAN") throw err;
    this.nMisuse++;
    const prefix = "KASAN: ";
    const text = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    const cut = text.indexOf("\nCall trace:");
    const head = cut < 0 ? text : text.slice(0, cut);
    const trace = cut < 0 ? "" : text.slice(cut);
    const span = this.kasan === null ? 0 : this.kasan.sh.length * 8;
    let out = head.replace(/\b[0-9a-f]{8}\b/g, (h) => {
      const a = parseInt(h, 16);
      return a < span ? addrHex(a + this.base) : h;
    });
    if (call !== null) out = out.replace(/^(BUG: KASAN: \S+ in )\S+/, `$1${call}`);
    out += trace
      .split("\n")
      .filter((line) => !line.includes(CHECKER_PREFIX))
      .join("\n");
    const report = new KmemError("KASAN", out);
    if (this.misuse === "log") this.log(report.message);
    else throw report;
  }

  /* ------------------------------------------------------------------ misuse */

  /** A pointer outside the heap: below it (the module's data, kmem's metadata) or beyond. */
  private outside(call: string, ptr: number): void {
    // (The code kmem gives an address that is not an allocation's, whichever call it reached.)
    const where =
      ptr < this.base
        ? "below the heap (the module's data and stack)"
        : ptr < this.firstPtr
          ? "inside the heap's metadata (kmem's header and mem_map)"
          : "beyond the end of the heap";
    this.reportMisuse(
      call,
      ptr,
      new KmemError("INVALID_FREE", `not an address malloc returned: it lies ${where}`),
    );
  }

  /**
   * Reports kmem's finding about `ptr` with the module's addresses (kmem's are relative to
   * `offset`): throws it, or logs it and returns.
   */
  private reportMisuse(call: string, ptr: number, err: unknown): void {
    if (!(err instanceof KmemError)) throw err;
    if (err.code === "KASAN") {
      // KASAN's double-free, invalid-free, use-after-free: in the module's call.
      return this.reportKasan(err, call);
    }
    this.nMisuse++;
    const prefix = `${err.code}: `;
    let text = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    const lo = this.firstPtr - this.base;
    const hi = this.endPtr - this.base;
    text = text.replace(/0x[0-9a-f]+/g, (h) => {
      const a = parseInt(h, 16);
      return a >= lo && a < hi ? hex(a + this.base) : h;
    });
    // kmem's own call name gives way to the module's.
    text = text.replace(/^k(?:free|size)\(0x[0-9a-f]+\): /, "");
    const report = new KmemError(err.code, `${call}(${hex(ptr)}): ${text}`);
    if (this.misuse === "log") this.log(report.message);
    else throw report;
  }
}

/**
 * The C library's (wasi-libc's, musl's) functions that read strings a word at a time, the
 * last word past the string's end (never past the word holding it).
 */
const WORD_AT_A_TIME = new Set([
  "strlen",
  "strchrnul",
  "__strchrnul",
  "strchr",
  "memchr",
  "strnlen",
  "stpcpy",
  "__stpcpy",
  "strcpy",
  "stpncpy",
  "__stpncpy",
  "strncpy",
  "strlcpy",
  "memccpy",
]);

/**
 * Whether the function `fn` may read a word at a time: one of WORD_AT_A_TIME, or any when
 * the module has no names (then any aligned word read whose first byte is good passes).
 */
function wordAtATime(fn: string): boolean {
  return WORD_AT_A_TIME.has(fn) || fn.startsWith("wasm-function[") || fn.includes(" #");
}

/**
 * The innermost function of the WebAssembly module on the stack (its name, with a name
 * section: `wasm-opt -g` keeps it), past the checker's own frames; null when none.
 */
function wasmCaller(): string | null {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  const stack = new Error().stack ?? "";
  Error.stackTraceLimit = limit;
  for (const line of stack.split("\n")) {
    if (!line.includes("wasm://") || line.includes(CHECKER_PREFIX)) continue;
    const named = /at (\S+) \(wasm:/.exec(line);
    if (named !== null) return named[1] as string;
    const index = /wasm-function\[(\d+)\]/.exec(line);
    return index === null ? null : `wasm-function[${index[1]}]`;
  }
  return null;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

function checkHeapBase(heapBase: unknown): asserts heapBase is number {
  if (
    typeof heapBase !== "number" ||
    !Number.isInteger(heapBase) ||
    heapBase < 0 ||
    heapBase >= 2 ** 32
  ) {
    throw new TypeError(
      `heapBase must be an address (an integer in 0..2^32-1), got ${describe(heapBase)}`,
    );
  }
}

/** Whether a kmem header of this page size starts at `offset` ("kmem" magic, pageShift). */
function headerAt(buffer: ArrayBufferLike, offset: number, pageSize: number): boolean {
  if (offset + 16 > buffer.byteLength) return false;
  const h = new Int32Array(buffer, offset, 4);
  return h[Hdr.MAGIC] === Layout.MAGIC && h[Hdr.PAGE_SHIFT] === Math.log2(pageSize);
}

function checkOptions(options: unknown): asserts options is WasmHeapOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`WasmHeap options must be an object, got ${describe(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new TypeError(
        `WasmHeap: unknown option ${JSON.stringify(key)} (known: ${OPTION_KEYS.join(", ")})`,
      );
    }
  }
  if (o.memory !== undefined && !isMemory(o.memory)) {
    throw new TypeError(`memory must be a WebAssembly.Memory, got ${describe(o.memory)}`);
  }
  if (o.memory !== undefined && (o.initial !== undefined || o.shared !== undefined)) {
    throw new TypeError("initial and shared describe a new memory: leave them out with memory");
  }
  for (const key of ["initial", "maximum"]) {
    const v = o[key];
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65536)) {
      throw new RangeError(
        `${key} must be a number of 64 KiB pages in 1..65536, got ${describe(v)}`,
      );
    }
  }
  if (o.heapBase !== undefined) checkHeapBase(o.heapBase);
  if (o.shared !== undefined && typeof o.shared !== "boolean") {
    throw new TypeError(`shared must be a boolean, got ${describe(o.shared)}`);
  }
  if (o.large !== undefined && o.large !== "pages" && o.large !== "vmem") {
    throw new RangeError(`large must be "pages" or "vmem", got ${describe(o.large)}`);
  }
  if (o.misuse !== undefined && o.misuse !== "throw" && o.misuse !== "log") {
    throw new RangeError(`misuse must be "throw" or "log", got ${describe(o.misuse)}`);
  }
  if (o.log !== undefined && typeof o.log !== "function") {
    throw new TypeError(`log must be a function, got ${describe(o.log)}`);
  }
  checkKasan(o.kasan, o.slab);
}

/** `kasan`: a boolean or { quarantine, stacks } (as new Kmem's), over SLUB only. */
function checkKasan(kasan: unknown, slab: unknown): void {
  if (kasan === undefined || kasan === false) return;
  if (kasan !== true) {
    if (typeof kasan !== "object" || kasan === null || Array.isArray(kasan)) {
      throw new TypeError(
        `kasan must be a boolean or { quarantine, stacks }, got ${describe(kasan)}`,
      );
    }
    for (const key of Object.keys(kasan)) {
      if (key !== "quarantine" && key !== "stacks") {
        throw new TypeError(
          `kasan: unknown option ${JSON.stringify(key)} (known: quarantine, stacks)`,
        );
      }
    }
  }
  if (slab !== undefined && slab !== "slub") {
    throw new RangeError(`kasan needs slab "slub", got ${describe(slab)}`);
  }
}
