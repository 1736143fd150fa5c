/*
 * KASAN for a WebAssembly module (src/wasm/kasan.ts, WasmHeap's `kasan`): clients/kasan/bugs.c
 * built by clients/build.js and instrumented by binaryen's wasm-opt --instrument-memory
 * (bugs-kasan). A planted heap out-of-bounds write is caught at the store, before it is
 * made; a use after free and a read left of a block at the load; ordinary work passes;
 * memory the heap grows into is covered. Skipped where clang or wasm-opt is absent (never
 * under CI, whose .ci/run installs both).
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { KmemError } from "../../src/errors.js";
import { type WasmInstance, WasmHeap, type WasmHeapOptions } from "../../src/wasm/index.js";

const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object, imports: object) => WasmInstance;
    };
  }
).WebAssembly;

const BUILD = fileURLToPath(new URL("../../../clients/build.js", import.meta.url));

/** The modules' bytes by name, or why they cannot be built here. */
function build(...names: string[]): Record<string, Uint8Array> | string {
  const r = spawnSync(process.execPath, [BUILD, "--json", ...names], {
    encoding: "utf8",
    timeout: 600_000,
  });
  if (r.status === 2 && process.env.CI === undefined) {
    return `no WebAssembly toolchain: ${r.stderr.trim().replace(/^clients\/build\.js: /, "")}`;
  }
  if (r.status !== 0) throw new Error(`clients/build.js failed (${r.status}): ${r.stderr}`);
  const paths = JSON.parse(r.stdout) as Record<string, string>;
  return Object.fromEntries(Object.entries(paths).map(([n, p]) => [n, readFileSync(p)]));
}

const built = build("bugs-kasan", "bugs-kmem");
const skip = typeof built === "string" ? built : false;

type Exports = Record<string, (...args: number[]) => number>;

/** bugs-kasan (or `name`) on a heap with `options`, initialised. */
function run(options: WasmHeapOptions, name = "bugs-kasan"): { heap: WasmHeap; ex: Exports } {
  const bytes = (built as Record<string, Uint8Array>)[name] as Uint8Array;
  const heap = WasmHeap.create({ initial: 64, ...options });
  const instance = new wasm.Instance(new wasm.Module(bytes), heap.imports);
  heap.bind(instance);
  const ex = instance.exports as Exports;
  (ex._initialize as () => void)();
  return { heap, ex };
}

/** The KASAN report `fn` throws. */
function reportOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof KmemError, String(err));
    assert.equal(err.code, "KASAN");
    return err.message;
  }
  assert.fail("no KASAN report");
}

/** The region [start, end) a report names, in the module's addresses. */
function region(report: string): [number, number] {
  const m = /region \[([0-9a-f]{8}), ([0-9a-f]{8})\)/.exec(report);
  assert.ok(m !== null, report);
  return [parseInt(m[1] as string, 16), parseInt(m[2] as string, 16)];
}

describe("KASAN for WebAssembly clients", { skip }, () => {
  it("catches a heap out-of-bounds write at the store, before it is made", () => {
    const { heap, ex } = run({ kasan: { stacks: true } });
    const report = reportOf(() => ex.oob_write?.(13));
    assert.match(
      report,
      /^KASAN: BUG: KASAN: slab-out-of-bounds in oob_write\nWrite of size 1 at addr ([0-9a-f]{8}) by task cpu0\n/,
    );
    const addr = parseInt(
      (/at addr ([0-9a-f]{8})/.exec(report) as RegExpExecArray)[1] as string,
      16,
    );
    const [start, end] = region(report);
    assert.equal(end - start, 13);
    assert.equal(addr, end, "the byte just past the block, in the module's addresses");
    assert.ok(start >= heap.offset && start < heap.memory.buffer.byteLength);
    assert.match(report, /which belongs to the cache kmalloc-16 of size 16/);
    assert.match(report, /0 bytes to the right of\n allocated 13-byte region/);
    assert.match(report, /Allocated by task cpu0:\n at malloc \(wasm:/);
    assert.match(report, /Call trace:\n at oob_write \(wasm:/);
    assert.doesNotMatch(report, /kmem_kasan_/);
    // The store was refused: SLUB's red zone after the object is intact.
    heap.verify();
    assert.equal(heap.counts().misuses, 1);
  });

  it("catches a use after free and a read left of a block at the load", () => {
    const { heap, ex } = run({ kasan: true });
    const uaf = reportOf(() => ex.uaf_read?.());
    assert.match(uaf, /BUG: KASAN: slab-use-after-free in uaf_read\nRead of size 4 at addr/);
    assert.match(uaf, /located 12 bytes inside of\n freed 40-byte region/);
    const [start] = region(uaf);
    assert.match(uaf, new RegExp(`at addr ${(start + 12).toString(16).padStart(8, "0")} `));
    const left = reportOf(() => ex.underflow_read?.(24));
    assert.match(left, /BUG: KASAN: slab-out-of-bounds in underflow_read\nRead of size 1 /);
    assert.match(left, /1 bytes to the left of\n allocated 24-byte region/);
    heap.verify();
  });

  it("lets ordinary work run without a report, with the results of a heap without KASAN", () => {
    const { heap, ex } = run({ kasan: true });
    const plain = run({}, "bugs-kmem");
    const sum = ex.clean?.(3000);
    assert.equal(sum, plain.ex.clean?.(3000));
    const c = heap.counts();
    assert.equal(c.misuses, 0);
    assert.equal(c.live, 0);
    assert.match(heap.kmem.report("kasan"), /^kasan: 0 reports; quarantine \d+ objects/m);
    heap.verify();
  });

  it('with misuse "log" reports and lets the program go on', () => {
    const logged: string[] = [];
    const { heap, ex } = run({ kasan: true, misuse: "log", log: (m) => logged.push(m) });
    assert.equal(ex.oob_write?.(40), 0);
    assert.equal(ex.oob_write?.(24), 0, "the same store: counted, not logged again");
    assert.equal(ex.clean?.(100), run({}, "bugs-kmem").ex.clean?.(100));
    assert.equal(logged.length, 1);
    assert.match(logged[0] as string, /^KASAN: BUG: KASAN: slab-out-of-bounds in oob_write/);
    assert.equal(heap.counts().misuses, 2);
  });

  it("covers the memory the heap grows into", () => {
    // 48 pages (3 MiB): the module's data and stack, the shadow of 16 MiB, a little heap.
    const { heap, ex } = run({ initial: 48, maximum: 256, kasan: true });
    const n = 2 * 1024 * 1024 - 100; // a block of 2 MiB: the heap must grow for it
    const report = reportOf(() => ex.oob_write?.(n));
    assert.ok(heap.growth().grows >= 1, JSON.stringify(heap.growth()));
    assert.match(report, /BUG: KASAN: slab-out-of-bounds in oob_write\nWrite of size 1 /);
    const [start, end] = region(report);
    assert.equal(end - start, n);
    assert.ok(start >= 48 * 65536, `the block at ${start.toString(16)} lies in grown memory`);
    assert.equal(ex.clean?.(2000), run({}, "bugs-kmem").ex.clean?.(2000));
    heap.verify();
  });

  it("reports an access to kmem's own metadata as a wild access", () => {
    const { heap } = run({ kasan: true });
    const load = heap.imports.env.load_ptr as (...a: number[]) => number;
    const report = reportOf(() => load(7, 4, 0, heap.offset + 64));
    assert.match(report, /BUG: KASAN: wild-memory-access in load #7\nRead of size 4 /);
    assert.match(report, /kmem's header and mem_map/);
    // Below the heap (the module's data and stack) and in a live block: no report.
    assert.equal(load(8, 4, 16, 1024), 1024);
    const p = heap.imports.env.malloc(24);
    assert.equal(load(9, 8, 16, p), p);
    assert.match(
      reportOf(() => load(10, 1, 24, p)),
      /slab-out-of-bounds in load #10/,
    );
  });
});

describe("WasmHeap kasan option", () => {
  // The imports called from JavaScript as an instrumented module calls them (no toolchain).
  for (const options of [{}, { large: "vmem" as const }, { shared: true }]) {
    it(`poisons what malloc, realloc and malloc_usable_size hand out (${JSON.stringify(options)})`, () => {
      const heap = WasmHeap.create({ initial: 256, heapBase: 70000, kasan: true, ...options });
      const env = heap.imports.env;
      const load = env.load_ptr as (...a: number[]) => number;
      const store = env.store_ptr as (...a: number[]) => number;
      const big = env.malloc(100_000);
      assert.equal(load(1, 4, 99_996, big), big);
      const oob = reportOf(() => load(1, 4, 100_000, big));
      assert.match(oob, /BUG: KASAN: slab-out-of-bounds in load #1\nRead of size 4 /);
      if (options.large === undefined) {
        assert.deepEqual(region(oob), [big, big + 100_000], "the whole large block");
      }
      env.free(big);
      assert.match(
        reportOf(() => load(2, 4, 0, big)),
        /BUG: KASAN: use-after-free in load #2/,
      );
      const p = env.malloc(20);
      assert.equal(store(3, 4, 16, p), p);
      assert.match(
        reportOf(() => store(3, 4, 20, p)),
        /slab-out-of-bounds in store #3/,
      );
      assert.equal(env.realloc(p, 30), p, "in place");
      assert.equal(store(3, 2, 28, p), p);
      assert.deepEqual(region(reportOf(() => store(3, 1, 30, p))), [p, p + 30]);
      const q = env.realloc(p, 5);
      assert.notEqual(q, p);
      assert.deepEqual(region(reportOf(() => load(4, 1, 5, q))), [q, q + 5]);
      assert.equal(env.malloc_usable_size(q), 16);
      assert.equal(load(4, 1, 15, q), q, "what malloc_usable_size said the program has");
      const r = env.aligned_alloc(64, 40);
      assert.equal(r % 64, 0);
      assert.deepEqual(region(reportOf(() => store(5, 8, 40, r))), [r, r + 40]);
      env.free(r);
      env.free(q);
      assert.match(
        reportOf(() => env.free(q)),
        /^KASAN: BUG: KASAN: double-free in free\n/,
      );
      heap.verify();
    });
  }

  it("is on in a context attached to a heap that has it (one shadow for all)", () => {
    const heap = WasmHeap.create({
      initial: 64,
      heapBase: 70000,
      kasan: true,
      shared: true,
      cpus: 2,
    });
    const p = heap.imports.env.malloc(24);
    const other = WasmHeap.attach(heap.memory, { heapBase: 70000 });
    const load = other.imports.env.load_ptr as (...a: number[]) => number;
    assert.match(
      reportOf(() => load(1, 4, 24, p)),
      /slab-out-of-bounds in load #1\n.* by task cpu1\n/,
    );
    other.imports.env.free(p);
    const mine = heap.imports.env.load_ptr as (...a: number[]) => number;
    assert.match(
      reportOf(() => mine(1, 4, 0, p)),
      /slab-use-after-free in load #1\n.* by task cpu0\n/,
    );
  });

  it("is checked, and without it the heap has no instrumentation imports", () => {
    assert.throws(() => WasmHeap.create({ kasan: true, slab: "slob" }), RangeError);
    assert.throws(() => WasmHeap.create({ kasan: { bogus: 1 } as never }), TypeError);
    assert.throws(() => WasmHeap.create({ kasan: 1 as never }), TypeError);
    assert.equal("load_ptr" in WasmHeap.create({ initial: 16 }).imports.env, false);
    const heap = WasmHeap.create({ initial: 16, heapBase: 4096, kasan: true });
    assert.equal(typeof heap.imports.env.store_ptr, "function");
  });
});
