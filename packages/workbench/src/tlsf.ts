/*
 * `tlsf`: AssemblyScript's TLSF allocator (two-level segregated fit, from the assemblyscript
 * package's standard library, std/assembly/rt/tlsf.ts) as WebAssembly. The build compiles
 * assembly/tlsf.ts with `--runtime minimal -O3 --noAssert` (scripts/wasm.js) to tlsf.wasm
 * beside this module, and the package ships it: using it needs no compiler. The module is
 * compiled once per process; each heap is a fresh instance over its own WebAssembly.Memory.
 *
 * The memory starts at one 64 KiB page and may grow to the heap's size: TLSF grows it when
 * no free block fits, asking first for as many pages again as it has (doubling it), else for
 * what the request needs. Its footprint is the memory's size (the pages grown, its static
 * data and TLSF's root of free lists included): what it took from the system, as a C
 * program's heap top is. Every block has a 4-byte header (its size and two tag bits) and
 * is 16-byte aligned: a block holds the size asked for rounded up to 16n - 4 bytes (at least
 * 12). An allocation takes the head of the first non-empty free list whose blocks all fit
 * (lists by size, 16 per power of two), split when the rest can hold a block.
 *
 * A timed run (replay's first pass) starts instead with all of the heap's memory, every page
 * touched once, as every other allocator's timed run starts with its buffer touched: one
 * memory for all the timed runs of a replay (the buffer the replay hands its runs is its
 * key: an empty one, as the entry's ownTimedMemory asks), a fresh instance over it each
 * run, which takes the whole memory as one free block when it starts. Otherwise each run
 * paid what the others do not: the operating system's first touch of every page it grew
 * into, and the grows themselves (a trace that only allocates, 15 MB mostly in 2 KiB
 * blocks: 1.3 M ops/s against 36 over touched memory; BENCHMARKS.md, "TLSF's timed runs
 * over touched memory"). A memory that large cannot be had at once (the engine refuses
 * it): the run grows its own, as the measured pass does.
 *
 * With --noAssert, TLSF checks nothing on free: a double or invalid free corrupts its heap,
 * as with C's malloc. Out of memory, growing traps (`unreachable`) before TLSF changes
 * anything, so an allocation or a moving realloc that fails leaves the heap as it was.
 */

import { readFile } from "node:fs/promises";
import type { PeerHeap } from "./peers.js";
import { prefault } from "./replay.js";

const WASM_PAGE = 65536;
/** TLSF's block header (BLOCK_OVERHEAD): one word before each block's data. */
const BLOCK_OVERHEAD = 4;
/** TLSF's largest block (BLOCK_MAXSIZE): a larger request would throw inside the module. */
const BLOCK_MAXSIZE = 2 ** 30 - BLOCK_OVERHEAD;
/** The tag bits of a block header (FREE, LEFTFREE). */
const TAGS_MASK = 3;

/*
 * The project's lib (ES2022) and @types/node 20 declare no WebAssembly global: this module
 * types the little it uses.
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
type WasmModule = object;
interface WasmApi {
  RuntimeError: new () => Error;
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(
    module: WasmModule,
    imports: Record<string, Record<string, unknown>>,
  ): Promise<{ exports: Record<string, unknown> }>;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface TlsfExports {
  alloc(size: number): number;
  free(ptr: number): void;
  realloc(ptr: number, size: number): number;
}

/** The compiled module's file, beside this one (dist/src/tlsf.wasm). */
export const TLSF_WASM = new URL("./tlsf.wasm", import.meta.url);

let compiled: Promise<WasmModule> | undefined;

async function compile(): Promise<WasmModule> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(TLSF_WASM);
  } catch (err) {
    throw new Error(
      `${TLSF_WASM.pathname} cannot be read (${(err as Error).message}): the build ` +
        "(npm run build) makes it from assembly/tlsf.ts",
    );
  }
  return wasm.compile(bytes);
}

/** The compiled TLSF module, compiled on first use and shared by every heap after. */
export function tlsfModule(): Promise<WasmModule> {
  compiled ??= compile();
  return compiled;
}

/** Memories of timed runs, by the buffer their replay reuses: `heapBytes`, touched once. */
const timedMemories = new WeakMap<ArrayBuffer, WasmMemory>();

/** A memory of `pages` pages, each touched once; null if the engine will not make one. */
function touchedMemory(pages: number): WasmMemory | null {
  let memory: WasmMemory;
  try {
    memory = new wasm.Memory({ initial: pages, maximum: pages });
  } catch {
    return null;
  }
  prefault(memory.buffer);
  return memory;
}

/**
 * A fresh TLSF heap that may grow to `heapBytes` (rounded up to whole 64 KiB pages, at most
 * 4 GiB); for a timed run (`timed`, with the replay's `reuse` buffer), a fresh instance over
 * the replay's touched memory of that size instead, whose footprint means nothing. `malloc`
 * and `realloc` return 0 when the heap cannot grow enough (or the size is over TLSF's 1 GiB
 * block limit); `realloc` is TLSF's own (__realloc): in place when the
 * block, or it and a free block after it, hold the new size, else allocate, copy, free.
 * `memory` is a view of the heap as it is now: taken again after the heap grew.
 */
export async function tlsfHeap(
  heapBytes: number,
  reuse?: ArrayBuffer,
  timed = false,
): Promise<PeerHeap> {
  const maximum = Math.min(65536, Math.max(1, Math.ceil(heapBytes / WASM_PAGE)));
  let memory: WasmMemory | null = null;
  if (timed && reuse !== undefined) {
    memory = timedMemories.get(reuse) ?? touchedMemory(maximum);
    if (memory !== null) timedMemories.set(reuse, memory);
  }
  memory ??= new wasm.Memory({ initial: 1, maximum });
  const instance = await wasm.instantiate(await tlsfModule(), {
    env: {
      memory,
      // Reached only by a `throw` in the module, which the size checks below keep it from.
      abort(): never {
        throw new Error("tlsf: the module aborted");
      },
    },
  });
  const ex = instance.exports as unknown as TlsfExports;
  const wasmAlloc = ex.alloc;
  const wasmFree = ex.free;
  const wasmRealloc = ex.realloc;
  const RuntimeError = wasm.RuntimeError;
  let u8 = new Uint8Array(memory.buffer);
  let u32 = new Uint32Array(memory.buffer);
  const fresh = (): void => {
    // Growing detaches the old buffer (its views have length 0).
    if (u8.byteLength === 0) {
      u8 = new Uint8Array(memory.buffer);
      u32 = new Uint32Array(memory.buffer);
    }
  };
  return {
    name: "tlsf",
    get memory(): Uint8Array {
      fresh();
      return u8;
    },
    malloc(size: number): number {
      // Above the limit (and from 2^32 on, where the size would wrap to 32 bits) nothing fits.
      if (size > BLOCK_MAXSIZE) return 0;
      try {
        return wasmAlloc(size) >>> 0;
      } catch (e) {
        // memory.grow refused: TLSF traps before it changes anything.
        if (e instanceof RuntimeError) return 0;
        throw e;
      }
    },
    free(handle: number): void {
      wasmFree(handle);
    },
    realloc(handle: number, size: number): number {
      if (size > BLOCK_MAXSIZE) return 0;
      try {
        return wasmRealloc(handle, size) >>> 0;
      } catch (e) {
        if (e instanceof RuntimeError) return 0;
        throw e;
      }
    },
    footprint: () => memory.buffer.byteLength,
    usableSize(handle: number): number {
      fresh();
      return ((u32[(handle - BLOCK_OVERHEAD) >>> 2] as number) & ~TAGS_MASK) >>> 0;
    },
  };
}
