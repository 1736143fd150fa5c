/*
 * A WebAssembly module written byte by byte, so that the heap is tested across a real wasm
 * boundary without a C compiler. Its text form:
 *
 *   (module
 *     (import "env" "memory" (memory 2))
 *     (import "env" "malloc" (func $malloc (param i32) (result i32)))
 *     (import "env" "free" (func $free (param i32)))
 *     (global (export "__heap_base") i32 (i32.const HEAP_BASE))
 *     (func (export "malloc") (param i32) (result i32) (call $malloc (local.get 0)))
 *     (func (export "free") (param i32) (call $free (local.get 0)))
 *     (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
 */

import { name, section, uleb, vec } from "../../src/wasm/encode.js";

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const I32 = 0x7f;

/** The module's bytes, its `__heap_base` at `heapBase`. */
export function tinyModule(heapBase: number): Uint8Array {
  const types = vec([
    [0x60, 1, I32, 1, I32], // 0: (i32) -> i32
    [0x60, 1, I32, 0], // 1: (i32) -> ()
  ]);
  const imports = vec([
    [...name("env"), ...name("memory"), 0x02, 0x00, 2],
    [...name("env"), ...name("malloc"), 0x00, 0],
    [...name("env"), ...name("free"), 0x00, 1],
  ]);
  const funcs = vec([[0], [1], [0]]);
  const globals = vec([[I32, 0x00, 0x41, ...sleb(heapBase), 0x0b]]);
  const exports = vec([
    [...name("__heap_base"), 0x03, 0],
    [...name("malloc"), 0x00, 2],
    [...name("free"), 0x00, 3],
    [...name("grow"), 0x00, 4],
  ]);
  const body = (code: number[]): number[] => [...uleb(code.length + 1), 0, ...code];
  const code = vec([
    body([0x20, 0, 0x10, 0, 0x0b]), // local.get 0; call $malloc
    body([0x20, 0, 0x10, 1, 0x0b]), // local.get 0; call $free
    body([0x20, 0, 0x40, 0, 0x0b]), // local.get 0; memory.grow 0
  ]);
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, types),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(6, globals),
    ...section(7, exports),
    ...section(10, code),
  ]);
}
