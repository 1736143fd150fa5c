/*
 * KASAN for a WebAssembly module (docs/sanitizers.md, "WebAssembly clients"): binaryen's
 * `wasm-opt --instrument-memory` rewrites every load and store of a module to call `env`
 * imports first, each with a site id (1, 2, ... in the order the pass met them):
 *
 *   import                                 called                          returns
 *   load_ptr(id, bytes, offset, ptr)       before a load of `bytes` at     the address to use
 *   store_ptr(id, bytes, offset, ptr)      ptr + offset (the memarg's)     (ptr, unchanged here)
 *   load_val_{i32,i64,f32,f64}(id, value)  after a load, with the value    the value
 *   store_val_{i32,i64,f32,f64}(id, value) before a store, with the value  the value
 *
 * Newer binaryen (not Debian's 108) also wraps memory.grow: memory_grow_pre(id, delta) and
 * memory_grow_post(id, result), each returning its value. (A v128 access calls
 * load_ptr/store_ptr only; atomics and memory.copy/fill are not rewritten.) The heap serves them from a small module of its own, written here byte by
 * byte over the same memory, so that the check of an access is wasm calling wasm, never a
 * call into JavaScript:
 *
 *   a = ptr + offset - base                  kmem's address of the access
 *   a >= span                                below the heap (the module's data and stack)
 *                                            or beyond the shadow's room: passes
 *   a < lo                                   kmem's header and mem_map: slow path
 *   shadow[a >> 3], and the next granule     0, or a partial value covering the access:
 *   when the access crosses into it          passes; anything else: slow path
 *
 * The slow path is `kasan.slow(id, bytes, a, write)`, in JavaScript (WasmHeap): KASAN's
 * full check there reports the access or finds it good (an access over three granules).
 * The values `base`, `span`, `lo` and `shadow` are mutable globals the heap sets once laid
 * out (before, `span` is 0: everything passes, as nothing is allocated).
 *
 * The value hooks return their value: they cost a call each (wasm to wasm).
 */

import { name, section, uleb, vec } from "./encode.js";

/** The imports `wasm-opt --instrument-memory` adds to a module (all from `env`). */
export interface InstrumentImports {
  memory_grow_pre(id: number, delta: number): number;
  memory_grow_post(id: number, result: number): number;
  load_ptr(id: number, bytes: number, offset: number, ptr: number): number;
  store_ptr(id: number, bytes: number, offset: number, ptr: number): number;
  load_val_i32(id: number, value: number): number;
  load_val_i64(id: number, value: bigint): bigint;
  load_val_f32(id: number, value: number): number;
  load_val_f64(id: number, value: number): number;
  store_val_i32(id: number, value: number): number;
  store_val_i64(id: number, value: bigint): bigint;
  store_val_f32(id: number, value: number): number;
  store_val_f64(id: number, value: number): number;
}

/** The names of {@link InstrumentImports}. */
export const INSTRUMENT_IMPORTS: readonly (keyof InstrumentImports)[] = [
  "memory_grow_pre",
  "memory_grow_post",
  "load_ptr",
  "store_ptr",
  "load_val_i32",
  "load_val_i64",
  "load_val_f32",
  "load_val_f64",
  "store_val_i32",
  "store_val_i64",
  "store_val_f32",
  "store_val_f64",
];

/** The checker's function names (in its name section): frames of it are not the program's. */
export const CHECKER_PREFIX = "kmem_kasan_";

const I32 = 0x7f;
const I64 = 0x7e;
const F32 = 0x7d;
const F64 = 0x7c;

/* Opcodes. */
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const GLOBAL_GET = 0x23;
const LOAD8_U = 0x2d;
const CONST = 0x41;
const EQZ = 0x45;
const LT_U = 0x49;
const LE_U = 0x4d;
const ADD = 0x6a;
const SUB = 0x6b;
const AND = 0x71;
const OR = 0x72;
const SHR_U = 0x76;
const IF = 0x04;
const ELSE = 0x05;
const END = 0x0b;
const CALL = 0x10;
const VOID = 0x40;

/* Globals, in order. */
const G_BASE = 0;
const G_SPAN = 1;
const G_LO = 2;
const G_SHADOW = 3;

/** The globals the heap sets: their export names, in order. */
export const CHECKER_GLOBALS = ["base", "span", "lo", "shadow"] as const;

/*
 * load_ptr / store_ptr: params 0 id, 1 bytes, 2 offset, 3 ptr; locals 4 a, 5 s (a shadow
 * byte), 6 last (the access's end within its first granule, 1..), 7 the shadow byte's address.
 */
function checkBody(write: number): number[] {
  const slow = [LOCAL_GET, 0, LOCAL_GET, 1, LOCAL_GET, 4, CONST, write, CALL, 0];
  return [
    ...[1, 4, I32], // four i32 locals
    // a = ptr + offset - base; a < span?
    ...[LOCAL_GET, 3, LOCAL_GET, 2, ADD, GLOBAL_GET, G_BASE, SUB, LOCAL_TEE, 4],
    ...[GLOBAL_GET, G_SPAN, LT_U, IF, VOID],
    // a < lo: kmem's metadata
    ...[LOCAL_GET, 4, GLOBAL_GET, G_LO, LT_U, IF, VOID, ...slow, ELSE],
    // s = shadow[a >> 3]; last = (a & 7) + bytes
    ...[GLOBAL_GET, G_SHADOW, LOCAL_GET, 4, CONST, 3, SHR_U, ADD, LOCAL_TEE, 7],
    ...[LOAD8_U, 0, 0, LOCAL_SET, 5],
    ...[LOCAL_GET, 4, CONST, 7, AND, LOCAL_GET, 1, ADD, LOCAL_SET, 6],
    // within the granule: s == 0 | (s < 8 & last <= s)
    ...[LOCAL_GET, 6, CONST, 8, LE_U, IF, I32],
    ...[LOCAL_GET, 5, EQZ, LOCAL_GET, 5, CONST, 8, LT_U, LOCAL_GET, 6, LOCAL_GET, 5, LE_U],
    ...[AND, OR, ELSE],
    // into the next: s == 0 & last <= 16 & (s2 == 0 | (s2 < 8 & last - 8 <= s2))
    ...[LOCAL_GET, 5, EQZ, LOCAL_GET, 6, CONST, 16, LE_U, AND, IF, I32],
    ...[LOCAL_GET, 7, LOAD8_U, 0, 1, LOCAL_TEE, 5, EQZ],
    ...[LOCAL_GET, 5, CONST, 8, LT_U, LOCAL_GET, 6, CONST, 8, SUB, LOCAL_GET, 5, LE_U, AND, OR],
    ...[ELSE, CONST, 0, END],
    ...[END],
    ...[EQZ, IF, VOID, ...slow, END],
    ...[END], // a < lo
    ...[END], // a < span
    ...[LOCAL_GET, 3, END],
  ];
}

/** The checker module's bytes; `shared`: the memory it imports is a shared one. */
export function checkerModule(shared: boolean): Uint8Array {
  const types = vec([
    [0x60, 4, I32, I32, I32, I32, 1, I32], // 0: load_ptr, store_ptr
    [0x60, 4, I32, I32, I32, I32, 0], // 1: slow
    [0x60, 2, I32, I32, 1, I32], // 2..5: the value hooks
    [0x60, 2, I32, I64, 1, I64],
    [0x60, 2, I32, F32, 1, F32],
    [0x60, 2, I32, F64, 1, F64],
  ]);
  const memory = shared ? [0x03, 0, ...uleb(65536)] : [0x00, 0];
  const imports = vec([
    [...name("env"), ...name("memory"), 0x02, ...memory],
    [...name("kasan"), ...name("slow"), 0x00, 1],
  ]);
  // Functions 1 load_ptr, 2 store_ptr, 3..6 the value hooks (i32, i64, f32, f64).
  const funcs = vec([[0], [0], [2], [3], [4], [5]]);
  const globals = vec(CHECKER_GLOBALS.map(() => [I32, 0x01, CONST, 0, END]));
  const exports = vec([
    [...name("load_ptr"), 0x00, 1],
    [...name("store_ptr"), 0x00, 2],
    ...["i32", "i64", "f32", "f64"].flatMap((t, i) => [
      [...name(`load_val_${t}`), 0x00, 3 + i],
      [...name(`store_val_${t}`), 0x00, 3 + i],
    ]),
    [...name("memory_grow_pre"), 0x00, 3],
    [...name("memory_grow_post"), 0x00, 3],
    ...CHECKER_GLOBALS.map((g, i) => [...name(g), 0x03, i]),
  ]);
  const body = (code: number[]): number[] => [...uleb(code.length), ...code];
  const identity = body([0, LOCAL_GET, 1, END]);
  const code = vec([
    body(checkBody(0)),
    body(checkBody(1)),
    identity,
    identity,
    identity,
    identity,
  ]);
  const fnNames = vec([
    [1, ...name(`${CHECKER_PREFIX}load`)],
    [2, ...name(`${CHECKER_PREFIX}store`)],
  ]);
  const names = [...name("name"), 1, ...uleb(fnNames.length), ...fnNames];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, types),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(6, globals),
    ...section(7, exports),
    ...section(10, code),
    ...section(0, names),
  ]);
}
