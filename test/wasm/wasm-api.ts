/* The WebAssembly JavaScript API, typed for the tests (TypeScript's ES libs do not declare it). */

import type { WasmInstance, WasmMemory } from "../../src/wasm/index.js";

interface Api {
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: WasmInstance }>;
}

export const WA = (globalThis as unknown as { WebAssembly: Api }).WebAssembly;
export type { WasmInstance, WasmMemory };
