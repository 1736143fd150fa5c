/*
 * Running a program compiled to WebAssembly (a C program built as clients/build.js builds
 * them) with a chosen malloc: kmem's SLUB or SLOB through a WasmHeap (the module imports the
 * malloc family from env: linked with clients/kmem-malloc.c), or the module's own malloc
 * (wasi-libc's dlmalloc: "libc"), which grows the memory itself.
 */

import { type MallocImports, WasmHeap, type WasmHeapOptions } from "kmem/wasm";
import { ProcExit, Wasi } from "./wasi.js";
import {
  type ModuleImport,
  WA,
  type WasmInstance,
  type WasmMemory,
  type WasmModule,
} from "./webassembly.js";

/** Who serves malloc: kmem's object allocators, or the module's own. */
export type MallocKind = "slub" | "slab" | "slob" | "libc";

export const MALLOC_KINDS: readonly MallocKind[] = ["slub", "slab", "slob", "libc"];

/** The malloc family's names, as a module imports them from env. */
export const MALLOC_FAMILY = [
  "malloc",
  "free",
  "calloc",
  "realloc",
  "aligned_alloc",
  "posix_memalign",
  "malloc_usable_size",
] as const;

export interface ProgramOptions {
  malloc: MallocKind;
  /** argv (the program's name first). */
  args?: readonly string[];
  /**
   * Pages (64 KiB) of memory: the kmem heap's to start with (default 256, 16 MiB; it grows up
   * to heap.maximum, default the same), or the
   * libc module's to start with (default: what it asks for; it grows as it needs).
   */
  pages?: number;
  /** More WasmHeap options (kmem only). */
  heap?: Omit<WasmHeapOptions, "memory" | "initial" | "heapBase" | "slab" | "shared">;
  /** Wraps the malloc imports before the module gets them (a recorder, a meter). */
  wrap?: (env: MallocImports) => MallocImports;
  /** Receives what the program writes to fd 1 and 2; default: collected (Program.wasi.text). */
  write?: (fd: 1 | 2, bytes: Uint8Array) => void;
}

export interface Program {
  readonly instance: WasmInstance;
  readonly exports: Record<string, unknown>;
  readonly memory: WasmMemory;
  /** The kmem heap, or null for "libc". */
  readonly heap: WasmHeap | null;
  readonly wasi: Wasi;
  /** The module's __heap_base. */
  readonly heapBase: number;
}

/** The limits of the memory a module imports (`env.memory`), from its binary; null if none. */
export function importedMemory(bytes: Uint8Array): { min: number; max: number | null } | null {
  let at = 8;
  const uleb = (): number => {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[at++] as number;
      n += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return n;
      shift += 7;
    }
  };
  const skipName = (): void => {
    const len = uleb();
    at += len;
  };
  while (at < bytes.length) {
    const id = bytes[at++] as number;
    const size = uleb();
    const end = at + size;
    if (id === 2) {
      const count = uleb();
      for (let i = 0; i < count; i++) {
        skipName();
        skipName();
        const kind = bytes[at++] as number;
        if (kind === 0) uleb();
        else if (kind === 1) {
          at++;
          const flags = uleb();
          uleb();
          if (flags & 1) uleb();
        } else if (kind === 2) {
          const flags = uleb();
          const min = uleb();
          return { min, max: flags & 1 ? uleb() : null };
        } else at += 2; // a global: its type and mutability
      }
      return null;
    }
    at = end;
  }
  return null;
}

/**
 * Instantiates `bytes` with the malloc `options.malloc` names, as a command (run it with
 * runMain) or a library (call its exports; a reactor's _initialize has run).
 */
export function instantiate(bytes: Uint8Array, options: ProgramOptions): Program {
  const module: WasmModule = new WA.Module(bytes);
  const imports = WA.Module.imports(module);
  const wantsMalloc = imports.some((i: ModuleImport) => i.module === "env" && i.name === "malloc");
  const limits = importedMemory(bytes);
  if (limits === null) {
    throw new Error("the module imports no memory: link it with -Wl,--import-memory");
  }
  const wasi = new Wasi({
    ...(options.args === undefined ? {} : { args: options.args }),
    ...(options.write === undefined ? {} : { write: options.write }),
  });
  let heap: WasmHeap | null = null;
  let memory: WasmMemory;
  let env: Record<string, unknown>;
  if (options.malloc === "libc") {
    if (wantsMalloc) {
      throw new Error(
        "the module imports malloc from env (it was linked with kmem-malloc.c): it has no malloc of its own",
      );
    }
    const initial = Math.max(limits.min, options.pages ?? 0);
    memory = new WA.Memory({ initial, maximum: limits.max ?? 65536 });
    env = { memory };
  } else {
    if (!wantsMalloc) {
      throw new Error(
        "the module has its own malloc (it imports none from env): link it with clients/kmem-malloc.c for kmem to serve it",
      );
    }
    const pages = options.pages ?? 256;
    if (pages < limits.min) {
      throw new Error(
        `the module needs ${limits.min} pages of memory before its heap; ${pages} were given`,
      );
    }
    heap = WasmHeap.create({
      ...options.heap,
      initial: pages,
      // The heap grows up to heap.maximum (memory hotplug), within the module's own limit.
      maximum: Math.min(limits.max ?? 65536, Math.max(pages, options.heap?.maximum ?? pages)),
      slab: options.malloc,
    });
    memory = heap.memory;
    env = { ...(options.wrap?.(heap.imports.env) ?? heap.imports.env) };
  }
  wasi.setMemory(memory);
  const instance = new WA.Instance(module, {
    env,
    wasi_snapshot_preview1: wasi.imports(module),
  });
  const base = instance.exports.__heap_base as { value: number } | undefined;
  if (base === undefined) {
    throw new Error("the module exports no __heap_base: link it with -Wl,--export=__heap_base");
  }
  heap?.bind(base.value);
  const init = instance.exports._initialize;
  if (typeof init === "function") (init as () => void)();
  return { instance, exports: instance.exports, memory, heap, wasi, heapBase: base.value };
}

/** Runs a command's main (_start); returns its exit status. */
export function runMain(program: Program): number {
  const start = program.exports._start;
  if (typeof start !== "function") throw new Error("the module is not a command (no _start)");
  try {
    (start as () => void)();
    return 0;
  } catch (err) {
    if (err instanceof ProcExit) return err.code;
    throw err;
  }
}
