/*
 * The WebAssembly JavaScript API, typed for the workbench: TypeScript's ES libs and
 * @types/node 20 do not declare it (the DOM lib does).
 */

import type { WasmInstance, WasmMemory } from "kmem/wasm";

/** A compiled module (WebAssembly.Module). */
export type WasmModule = object;

interface ModuleImport {
  module: string;
  name: string;
  kind: "function" | "table" | "memory" | "global";
}

interface Api {
  Module: {
    new (bytes: Uint8Array): WasmModule;
    imports(module: WasmModule): ModuleImport[];
    exports(module: WasmModule): { name: string; kind: string }[];
  };
  Instance: new (module: WasmModule, imports: object) => WasmInstance;
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  compile(bytes: Uint8Array): Promise<WasmModule>;
}

export const WA = (globalThis as unknown as { WebAssembly: Api }).WebAssembly;
export type { ModuleImport, WasmInstance, WasmMemory };
