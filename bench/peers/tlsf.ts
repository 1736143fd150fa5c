/*
 * AssemblyScript's TLSF allocator as WebAssembly: compiled once per process from
 * tlsf-source.ts (in memory, about a second), then instantiated per heap over an imported
 * WebAssembly.Memory that starts at one page and may grow to the heap's size.
 */

import asc from "assemblyscript/asc";
import { TLSF_ENTRY, TLSF_SOURCE } from "./tlsf-source.js";

const WASM_PAGE = 65536;

/*
 * The project's lib (ES2022) and @types/node 20 declare no WebAssembly global, so this file
 * types the little it uses locally rather than adding global declarations to the program.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
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

/** Compiler options: -O3, the minimal runtime (TLSF + a GC that is never entered), asserts kept. */
const COMPILER_OPTIONS = {
  optimizeLevel: 3,
  shrinkLevel: 0,
  runtime: "minimal",
  importMemory: true,
  initialMemory: 1,
  noAssert: false,
} as const;

export interface TlsfInstance {
  /** TLSF `__alloc` via `heap.alloc`; returns the address, or 0 when it trapped (out of memory). */
  alloc(size: number): number;
  /** TLSF `__free` via `heap.free`; traps (throws) on a pointer that is not a used block. */
  free(ptr: number): void;
  readonly memory: WasmMemory;
}

interface TlsfExports {
  alloc(size: number): number;
  free(ptr: number): void;
}

/** What the module's `abort` import throws: a failed TLSF assert, or a `throw` in AssemblyScript. */
export class TlsfAbort extends Error {
  override name = "TlsfAbort";
}

let compiled: Promise<WasmModule> | undefined;

async function compile(): Promise<WasmModule> {
  const result = await asc.compileString({ [TLSF_ENTRY]: TLSF_SOURCE }, COMPILER_OPTIONS);
  if (result.error !== null || result.binary === null) {
    throw new Error(
      `AssemblyScript compilation of the TLSF peer failed: ${result.error?.message ?? "no binary"}\n${result.stderr.toString()}`,
    );
  }
  return wasm.compile(result.binary);
}

/** The compiled TLSF module, compiled on first use and shared by every instance after. */
export function tlsfModule(): Promise<WasmModule> {
  compiled ??= compile();
  return compiled;
}

/** Reads an AssemblyScript string (UTF-16LE, byte length in the word before it). */
function readString(memory: WasmMemory, ptr: number): string {
  if (ptr === 0) return "";
  const bytes = new Uint32Array(memory.buffer, (ptr >>> 0) - 4, 1)[0] ?? 0;
  return String.fromCharCode(...new Uint16Array(memory.buffer, ptr >>> 0, bytes >>> 1));
}

/** A fresh TLSF heap that may grow to `heapBytes` (rounded up to whole 64 KiB pages). */
export async function createTlsf(heapBytes: number): Promise<TlsfInstance> {
  const maximum = Math.max(1, Math.ceil(heapBytes / WASM_PAGE));
  const memory = new wasm.Memory({ initial: 1, maximum });
  const instance = await wasm.instantiate(await tlsfModule(), {
    env: {
      memory,
      abort(msg: number, file: number, line: number, column: number): never {
        throw new TlsfAbort(
          `${readString(memory, msg) || "assertion failed"} at ${readString(memory, file)}:${line}:${column}`,
        );
      },
    },
  });
  const ex = instance.exports as unknown as TlsfExports;
  const wasmAlloc = ex.alloc;
  const wasmFree = ex.free;
  return {
    memory,
    alloc(size: number): number {
      try {
        return wasmAlloc(size) >>> 0;
      } catch (e) {
        // Out of memory: memory.grow refused, so growMemory hit `unreachable` before TLSF
        // changed anything; or the size is over TLSF's 1 GiB block limit (it throws). Any
        // other abort is a failed TLSF assert (a corrupted heap) and goes on up.
        if (e instanceof wasm.RuntimeError) return 0;
        if (e instanceof TlsfAbort && e.message.startsWith("Allocation too large")) return 0;
        throw e;
      }
    },
    free(ptr: number): void {
      wasmFree(ptr);
    },
  };
}
