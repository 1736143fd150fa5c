/*
 * The parts of the WebAssembly JavaScript API the heap uses, typed here: TypeScript's ES libs
 * and @types/node 20 do not declare the WebAssembly namespace (the DOM lib does). A real
 * WebAssembly.Memory, Global or Instance fits these shapes.
 */

/** A WebAssembly.Memory. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(delta: number): number;
}

/** A WebAssembly.Global (an exported `__heap_base`). */
export interface WasmGlobal {
  value: unknown;
}

/** A WebAssembly.Instance: its exports. */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface MemoryDescriptor {
  initial: number;
  maximum?: number;
  shared?: boolean;
}

interface WebAssemblyApi {
  Memory: { new (descriptor: MemoryDescriptor): WasmMemory; prototype: WasmMemory };
  Global: { prototype: WasmGlobal };
  Instance: {
    new (module: object, imports: Record<string, Record<string, unknown>>): WasmInstance;
    prototype: WasmInstance;
  };
  Module: new (bytes: Uint8Array) => object;
}

/** The global WebAssembly object (Node 20+ and every browser have one). */
export const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

export function isMemory(value: unknown): value is WasmMemory {
  return value instanceof (wasmApi.Memory as unknown as new () => object);
}

export function isGlobal(value: unknown): value is WasmGlobal {
  return value instanceof (wasmApi.Global as unknown as new () => object);
}

export function isInstance(value: unknown): value is WasmInstance {
  return value instanceof (wasmApi.Instance as unknown as new () => object);
}
