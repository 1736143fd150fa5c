/*
 * WasmHeap: the malloc family with C's semantics over a WebAssembly memory, called as a module
 * calls its imports (i32 arguments, signed), misuse reported with the module's addresses and
 * the memory left as it was, workers over a shared memory, and a real wasm boundary.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { EINVAL, ENOMEM, KmemError, WasmHeap, type WasmHeapOptions } from "../../src/wasm/index.js";
import { runWorker } from "../helpers.js";
import { tinyModule } from "./tiny-module.js";
import { WA, type WasmInstance } from "./wasm-api.js";

/** A heap base like a small C program's (data from 1024, a 64 KiB stack after it). */
const HEAP_BASE = 70304;

type Kind = { slab: "slub" | "slob"; debug?: string; large?: "pages" | "vmem" };
const KINDS: Kind[] = [
  { slab: "slub" },
  { slab: "slob" },
  { slab: "slub", debug: "FZPU" },
  { slab: "slub", large: "vmem" },
  { slab: "slob", large: "vmem" },
];
const label = (k: Kind) =>
  k.slab +
  (k.debug === undefined ? "" : ` debug ${k.debug}`) +
  (k.large === undefined ? "" : `, large ${k.large}`);

function heapOf(options: WasmHeapOptions = {}): WasmHeap {
  const heap = WasmHeap.create({ heapBase: HEAP_BASE, initial: 64, ...options });
  // The module's data and stack: a pattern that nothing of the heap's may touch.
  new Uint8Array(heap.memory.buffer, 0, HEAP_BASE).fill(0xd5);
  return heap;
}

function moduleDataIntact(heap: WasmHeap): boolean {
  return new Uint8Array(heap.memory.buffer, 0, HEAP_BASE).every((b) => b === 0xd5);
}

const bytes = (heap: WasmHeap) => new Uint8Array(heap.memory.buffer);

/** Runs `fn`, which must report misuse `code` naming `ptr`, with memory left byte for byte. */
function assertReported(
  heap: WasmHeap,
  code: string | string[],
  ptr: number,
  fn: () => unknown,
): KmemError {
  const before = bytes(heap).slice();
  let caught: unknown = null;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof KmemError, `expected KmemError ${code}, got ${String(caught)}`);
  assert.ok(([] as string[]).concat(code).includes(caught.code), caught.message);
  assert.ok(caught.message.includes(`(0x${ptr.toString(16)})`), caught.message);
  assert.deepEqual(bytes(heap), before, "the report changed memory");
  heap.verify();
  return caught;
}

describe("WasmHeap: creating and laying out", () => {
  it("creates a memory and manages it from the heap base, rounded up to a page", () => {
    const heap = heapOf();
    assert.equal(heap.memory.buffer.byteLength, 64 * 65536);
    assert.equal(heap.offset, 73728);
    assert.equal(heap.imports.env.memory, heap.memory);
    assert.deepEqual(Object.keys(heap.imports.env).sort(), [
      "aligned_alloc",
      "calloc",
      "free",
      "malloc",
      "malloc_usable_size",
      "memory",
      "posix_memalign",
      "realloc",
    ]);
    assert.equal(heap.kmem.totalPages, (64 * 65536 - 73728) / 4096);
    heap.verify();
  });

  it("adopts a memory, and lays out at bind(instance) from its __heap_base", async () => {
    const memory = new WA.Memory({ initial: 8 });
    const heap = WasmHeap.create({ memory });
    assert.throws(() => heap.imports.env.malloc(8), /not laid out yet/);
    const { instance } = await WA.instantiate(tinyModule(HEAP_BASE), heap.imports);
    heap.bind(instance);
    assert.equal(heap.offset, 73728);
    assert.throws(() => heap.bind(instance), /laid out already/);
    const m = instance.exports as { malloc(n: number): number; free(p: number): void };
    const p = m.malloc(100);
    assert.ok(p >= heap.offset && p % 16 === 0);
    m.free(p);
    assert.deepEqual(heap.counts(), {
      mallocs: 1,
      frees: 1,
      reallocs: 0,
      failures: 0,
      misuses: 0,
      live: 0,
    });
  });

  it("takes size_t arguments as a module passes them (i32, negative from 2^31)", async () => {
    const heap = WasmHeap.create({ initial: 8 });
    const { instance } = await WA.instantiate(tinyModule(HEAP_BASE), heap.imports);
    heap.bind(instance);
    const m = instance.exports as { malloc(n: number): number; free(p: number): void };
    assert.equal(m.malloc(-1), 0, "malloc(SIZE_MAX)");
    assert.equal(m.malloc(0x80000000), 0, "malloc(2 GiB)");
    assert.equal(heap.imports.env.calloc(-1, -1), 0);
    assert.equal(heap.counts().failures, 3);
  });

  it("throws a misuse through the module's call: the module traps, its caller catches", async () => {
    const heap = WasmHeap.create({ initial: 8 });
    const { instance } = await WA.instantiate(tinyModule(HEAP_BASE), heap.imports);
    heap.bind(instance);
    const m = instance.exports as { malloc(n: number): number; free(p: number): void };
    const p = m.malloc(40);
    m.free(p);
    const err = assertReported(heap, "DOUBLE_FREE", p, () => m.free(p));
    assert.match(
      err.message,
      /^DOUBLE_FREE: free\(0x[0-9a-f]+\): kmalloc-48: object 0x[0-9a-f]+ is already free$/,
    );
    assert.ok(
      err.message.includes(`object 0x${p.toString(16)} `),
      "kmem's address is the module's",
    );
  });

  it("refuses to go on once the memory grew under it (and its buffer was replaced)", async () => {
    const heap = WasmHeap.create({ initial: 8, maximum: 16 });
    const { instance } = await WA.instantiate(tinyModule(HEAP_BASE), heap.imports);
    heap.bind(instance);
    const m = instance.exports as { malloc(n: number): number; grow(n: number): number };
    assert.notEqual(m.malloc(10), 0);
    assert.equal(m.grow(1), 8);
    assert.throws(() => m.malloc(10), /memory grew/);
  });

  it("gives the mem_map room for the maximum, and grows into it as far as the maximum", () => {
    const heap = WasmHeap.create({ heapBase: HEAP_BASE, initial: 16, maximum: 256 });
    const plain = WasmHeap.create({ heapBase: HEAP_BASE, initial: 16 });
    const kmem = heap.kmem;
    assert.equal(kmem.totalPages, plain.kmem.totalPages);
    const room = (256 * 65536 - heap.offset) / 4096 - kmem.totalPages;
    assert.equal(plain.kmem.managedPages - kmem.managedPages, (room * 32) / 4096);
    const got: number[] = [];
    for (let p; (p = heap.imports.env.malloc(4000)) !== 0;) got.push(p);
    const end = heap.memory.buffer.byteLength;
    assert.equal(end, 256 * 65536, "grown to the maximum");
    assert.ok(got.length > 16 * 16 && got.every((p) => p + 4000 <= end));
    for (const p of got) heap.imports.env.free(p);
    kmem.verify();
  });

  it('large "vmem": exact pages from spans; "pages" keeps exact pages too, but each needs a free 2^order block', () => {
    const fit = (large: "pages" | "vmem") => {
      const heap = WasmHeap.create({ heapBase: HEAP_BASE, initial: 64, large });
      const got: number[] = [];
      const before = heap.kmem.usedPages;
      for (let p; (p = heap.imports.env.malloc(300 << 10)) !== 0;) got.push(p);
      const sizes = got.map((p) => heap.imports.env.malloc_usable_size(p));
      assert.ok(got.every((p) => p % 4096 === 0));
      // From the arena's spans while one is free, then kmalloc_large's pages, which give the
      // tail of their 128-page block back (alloc_pages_exact): 300 KiB either way.
      assert.ok(
        sizes.every((n) => n === 300 << 10),
        sizes.join(" "),
      );
      for (const p of got) heap.imports.env.free(p);
      heap.verify();
      assert.equal(heap.kmem.usedPages, before, "the spans went back (the caches' slabs remain)");
      return got.length;
    };
    const pages = fit("pages");
    const vmem = fit("vmem");
    assert.ok(vmem > pages, `${vmem} blocks of 300 KiB with "vmem", ${pages} with "pages"`);
  });

  it("checks its options", () => {
    assert.throws(() => WasmHeap.create({ nope: 1 } as WasmHeapOptions), /unknown option "nope"/);
    assert.throws(
      () => WasmHeap.create({ memory: new ArrayBuffer(8) as never }),
      /WebAssembly\.Memory/,
    );
    assert.throws(() => WasmHeap.create({ initial: 0 }), /initial must be/);
    assert.throws(() => WasmHeap.create({ initial: 4, maximum: 2 }), /at least initial/);
    assert.throws(() => WasmHeap.create({ heapBase: -4 }), /heapBase must be/);
    assert.throws(() => WasmHeap.create({ heapBase: 1.5 }), /heapBase must be/);
    assert.throws(
      () => WasmHeap.create({ heapBase: 8 * 65536, initial: 8 }),
      /below the heap base/,
    );
    assert.throws(() => WasmHeap.create({ heapBase: 8 * 65536 - 8192, initial: 8 }), /too small/);
    assert.throws(() => WasmHeap.create({ misuse: "ignore" as never }), /misuse must be/);
    assert.throws(() => WasmHeap.create({ large: "huge" as never }), /large must be/);
    assert.throws(
      () => WasmHeap.create({ heapBase: 0, shared: true, cpus: 2, large: "vmem" }),
      /one context/,
    );
    assert.throws(() => WasmHeap.create({ slab: "slub2" as never, heapBase: 0 }), /slab must be/);
    const memory = new WA.Memory({ initial: 2 });
    assert.throws(() => WasmHeap.create({ memory, initial: 4 }), /leave them out/);
    assert.throws(() => WasmHeap.create({ memory, maximum: 1 }), /below the memory's 2 pages/);
    const heap = WasmHeap.create({ initial: 2 });
    assert.throws(() => heap.bind({ exports: {} } as WasmInstance), /no __heap_base/);
    assert.throws(() => heap.bind(-1), /heapBase must be/);
  });
});

for (const kind of KINDS) {
  describe(`WasmHeap over ${label(kind)}: C semantics`, () => {
    const make = () => heapOf(kind);

    it("malloc: every size 16-byte aligned, blocks apart, malloc(0) a block of its own", () => {
      const heap = make();
      const { malloc, free, malloc_usable_size } = heap.imports.env;
      const blocks: [number, number][] = [];
      for (let n = 0; n <= 9000; n += n < 300 ? 1 : 97) {
        const p = malloc(n);
        assert.notEqual(p, 0, `malloc(${n})`);
        assert.equal(p % 16, 0, `malloc(${n}) = ${p}`);
        assert.ok(malloc_usable_size(p) >= Math.max(n, 1));
        blocks.push([p, Math.max(n, 1)]);
      }
      blocks.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < blocks.length; i++) {
        const [p, n] = blocks[i - 1] as [number, number];
        assert.ok(p + n <= (blocks[i] as [number, number])[0], "blocks overlap");
      }
      for (const [p] of blocks) free(p);
      assert.equal(heap.counts().live, 0);
      heap.verify();
      assert.ok(moduleDataIntact(heap));
    });

    it("free(NULL) does nothing; malloc fails with NULL when memory is short, and goes on", () => {
      const heap = make();
      const { malloc, free } = heap.imports.env;
      free(0);
      assert.equal(malloc(64 * 65536), 0, "more than the memory");
      for (const n of [0x7fffffff, 0x80000000, 0xfffffff0])
        assert.equal(malloc(n), 0, `malloc(${n})`);
      const got: number[] = [];
      for (let p; (p = malloc(3000)) !== 0;) got.push(p);
      assert.ok(got.length > 100);
      assert.equal(malloc(3000), 0);
      for (const p of got) free(p);
      assert.notEqual(malloc(3000), 0);
      assert.ok(heap.counts().failures >= 3);
      heap.verify();
    });

    it("calloc: zeroed (also where freed blocks were dirty), NULL on overflow", () => {
      const heap = make();
      const { malloc, calloc, free } = heap.imports.env;
      const mem = bytes(heap);
      for (const n of [8, 100, 1000, 5000, 20000]) {
        const dirty = malloc(n);
        mem.fill(0xee, dirty, dirty + n);
        free(dirty);
        const p = calloc(n, 1);
        assert.ok(
          mem.subarray(p, p + n).every((b) => b === 0),
          `calloc(${n}, 1)`,
        );
        free(p);
      }
      assert.equal(calloc(65536, 65537), 0, "65536 * 65537 overflows size_t");
      assert.equal(calloc(0x80000000, 2), 0);
      const z = calloc(0, 100);
      assert.notEqual(z, 0, "calloc of 0 bytes is a block of its own");
      free(z);
      heap.verify();
    });

    it("realloc: NULL is malloc, (p, 0) frees, contents kept, NULL on failure with p intact", () => {
      const heap = make();
      const { malloc, realloc, free, malloc_usable_size } = heap.imports.env;
      const mem = bytes(heap);
      const fill = (p: number, n: number) => {
        for (let i = 0; i < n; i++) mem[p + i] = (i * 13) & 0xff;
      };
      const kept = (p: number, n: number) => {
        for (let i = 0; i < n; i++) if (mem[p + i] !== ((i * 13) & 0xff)) return false;
        return true;
      };
      let p = realloc(0, 50);
      assert.ok(p !== 0 && p % 16 === 0);
      fill(p, 50);
      for (const n of [60, 200, 5000, 40000, 300, 20, 3]) {
        const q = realloc(p, n);
        assert.ok(q !== 0 && q % 16 === 0, `realloc to ${n}`);
        assert.ok(kept(q, Math.min(n, 50)), `contents after realloc to ${n}`);
        p = q;
        if (n < 50) break;
      }
      // A block shrunk to much less than it holds moves to a smaller one.
      const big = malloc(40000);
      const small = realloc(big, 100);
      assert.notEqual(small, big);
      assert.ok(malloc_usable_size(small) < 1000);
      // Shrinking a little stays in place.
      const same = realloc(small, 90);
      assert.equal(same, small);
      // Growing beyond memory fails and leaves the block as it was.
      fill(same, 90);
      assert.equal(realloc(same, 64 * 65536), 0);
      assert.equal(realloc(same, 0xffffffbf), 0, "SIZE_MAX - 64");
      assert.ok(kept(same, 90));
      const before = heap.counts();
      assert.equal(realloc(same, 0), 0, "realloc(p, 0) frees p and returns NULL");
      assert.equal(heap.counts().frees, before.frees + 1);
      free(p);
      assert.equal(heap.counts().live, 0);
      heap.verify();
    });

    it("aligned_alloc: any power of two up to the page size; NULL for others", () => {
      const heap = make();
      const { aligned_alloc, free, malloc_usable_size } = heap.imports.env;
      for (let align = 1; align <= 4096; align *= 2) {
        for (const n of [1, align, 3 * align + 5, 10000]) {
          const p = aligned_alloc(align, n);
          assert.ok(
            p !== 0 && p % Math.max(align, 16) === 0,
            `aligned_alloc(${align}, ${n}) = ${p}`,
          );
          assert.ok(malloc_usable_size(p) >= n);
          free(p);
        }
      }
      for (const align of [0, 3, 24, 8192, 65536]) assert.equal(aligned_alloc(align, 64), 0);
      assert.equal(heap.counts().live, 0);
      heap.verify();
    });

    it("posix_memalign: EINVAL, ENOMEM or 0 with the block stored at memptr", () => {
      const heap = make();
      const { posix_memalign, free } = heap.imports.env;
      const memptr = 2048; // in the module's data
      const word = () => new DataView(heap.memory.buffer).getUint32(memptr, true);
      const mark = 0xd5d5d5d5;
      for (const align of [0, 1, 2, 3, 12, 24]) {
        assert.equal(posix_memalign(memptr, align, 64), EINVAL, `alignment ${align}`);
        assert.equal(word(), mark, "memptr untouched");
      }
      assert.equal(posix_memalign(memptr, 16, 64 * 65536), ENOMEM);
      assert.equal(posix_memalign(memptr, 65536, 64), ENOMEM, "beyond the page size");
      assert.equal(word(), mark);
      for (const align of [4, 8, 64, 4096]) {
        assert.equal(posix_memalign(memptr, align, 100), 0);
        const p = word();
        assert.ok(p >= heap.offset && p % align === 0);
        free(p);
      }
      assert.equal(posix_memalign(memptr, 16, 0), 0, "size 0: a block of its own");
      free(word());
      new DataView(heap.memory.buffer).setUint32(memptr, mark, true);
      assert.equal(heap.counts().live, 0);
      assert.ok(moduleDataIntact(heap));
    });

    it("malloc_usable_size: 0 for NULL, at least the size, kmem's ksize", () => {
      const heap = make();
      const { malloc, malloc_usable_size, free } = heap.imports.env;
      assert.equal(malloc_usable_size(0), 0);
      for (const n of [1, 17, 100, 1000, 4000, 9000, 100000]) {
        const p = malloc(n);
        const u = malloc_usable_size(p);
        const arena = kind.large === "vmem" && n > (kind.slab === "slob" ? 4096 : 8192);
        const expected = arena ? Math.ceil(n / 4096) * 4096 : heap.kmem.ksize(p - heap.offset);
        assert.ok(u >= n && u === expected, `${n}: ${u}`);
        free(p);
      }
    });

    it("keeps every block's bytes under random use (a model), verify() after every step", () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.tuple(
              fc.constantFrom("malloc", "calloc", "realloc", "free", "aligned"),
              fc.integer({ min: 0, max: 30000 }),
              fc.nat(),
            ),
            { maxLength: 80 },
          ),
          (ops) => {
            const heap = make();
            const env = heap.imports.env;
            const mem = bytes(heap);
            const live = new Map<number, { n: number; tag: number }>();
            let tag = 1;
            const stamp = (p: number, n: number) => {
              const t = tag++ & 0xff;
              mem.fill(t, p, p + n);
              live.set(p, { n, tag: t });
            };
            const pick = (k: number) => [...live.keys()][k % live.size] as number;
            for (const [op, n, k] of ops) {
              if (op === "free" && live.size > 0) {
                const p = pick(k);
                live.delete(p);
                env.free(p);
              } else if (op === "realloc" && live.size > 0) {
                const p = pick(k);
                const old = live.get(p) as { n: number; tag: number };
                const q = env.realloc(p, n);
                if (n === 0) {
                  assert.equal(q, 0);
                  live.delete(p);
                } else if (q !== 0) {
                  const m = Math.min(n, old.n);
                  assert.ok(
                    mem.subarray(q, q + m).every((b) => b === old.tag),
                    "realloc kept",
                  );
                  live.delete(p);
                  stamp(q, n);
                }
              } else {
                const p =
                  op === "calloc"
                    ? env.calloc(n, 1)
                    : op === "aligned"
                      ? env.aligned_alloc(2 ** (k % 13), n)
                      : env.malloc(n);
                if (p === 0) continue;
                if (op === "calloc") assert.ok(mem.subarray(p, p + n).every((b) => b === 0));
                assert.ok(!live.has(p));
                stamp(p, n);
              }
              heap.verify();
            }
            for (const [p, { n, tag: t }] of live) {
              assert.ok(
                mem.subarray(p, p + n).every((b) => b === t),
                "a block was overwritten",
              );
              env.free(p);
            }
            assert.equal(heap.counts().live, 0);
            assert.ok(moduleDataIntact(heap));
          },
        ),
        { numRuns: 25, seed: 20 },
      );
    });

    it("reports misuse with the module's address and leaves memory as it was", () => {
      const heap = make();
      const { malloc, free, realloc, malloc_usable_size } = heap.imports.env;
      const p = malloc(100);
      const big = malloc(50000);
      assertReported(heap, "INVALID_FREE", p + 16, () => free(p + 16));
      assertReported(heap, "INVALID_FREE", big + 4096, () => free(big + 4096));
      assertReported(heap, "INVALID_FREE", 1024, () => free(1024));
      assertReported(heap, "INVALID_FREE", heap.offset + 16, () => free(heap.offset + 16));
      assertReported(heap, "INVALID_FREE", 0xfffffff0, () => free(-16));
      free(p);
      assertReported(heap, "DOUBLE_FREE", p, () => free(p));
      // A freed block's size asked for: kmem's ksize calls it an invalid address (SLUB) or a
      // free one (SLOB).
      const freed = ["INVALID_FREE", "DOUBLE_FREE"];
      assert.match(
        assertReported(heap, freed, p, () => realloc(p, 200)).message,
        /^\w+: realloc\(/,
      );
      assertReported(heap, freed, p, () => malloc_usable_size(p));
      free(big);
      assertReported(heap, "DOUBLE_FREE", big, () => free(big));
      assert.equal(heap.counts().misuses, 9);
      assert.equal(heap.counts().live, 0);
    });

    it('misuse "log": the report goes to log, the call is ignored, memory as it was', () => {
      const logged: string[] = [];
      const heap = heapOf({ ...kind, misuse: "log", log: (m) => logged.push(m) });
      const { malloc, free, realloc, malloc_usable_size } = heap.imports.env;
      const p = malloc(100);
      free(p);
      const before = bytes(heap).slice();
      free(p);
      assert.equal(realloc(p, 10), 0);
      assert.equal(malloc_usable_size(p), 0);
      free(100);
      assert.deepEqual(bytes(heap), before);
      assert.equal(logged.length, 4);
      assert.match(logged[0] as string, new RegExp(`^DOUBLE_FREE: free\\(0x${p.toString(16)}\\)`));
      assert.match(logged[3] as string, /^INVALID_FREE: free\(0x64\): .*below the heap/);
      assert.equal(heap.counts().misuses, 4);
      heap.verify();
      // The heap goes on as before.
      free(malloc(10));
    });
  });
}

describe("WasmHeap over a shared memory", () => {
  it("serves a worker that attaches to the memory, as a cpu of its own", async () => {
    const heap = WasmHeap.create({ heapBase: HEAP_BASE, initial: 64, shared: true, cpus: 2 });
    assert.ok(heap.memory.buffer instanceof SharedArrayBuffer);
    const mine = heap.imports.env.malloc(1000);
    const reply = await runWorker<{ cpu: number; blocks: number[] }>(
      new URL("./heap.worker.js", import.meta.url),
      { memory: heap.memory, heapBase: HEAP_BASE, count: 50, freeing: mine },
    );
    assert.equal(reply.cpu, 1);
    const mem = bytes(heap);
    for (const [i, p] of reply.blocks.entries()) {
      assert.equal(p % 16, 0);
      assert.ok(
        mem.subarray(p, p + 100).every((b) => b === (i & 0xff)),
        "the worker's bytes",
      );
      heap.imports.env.free(p);
    }
    assertReported(heap, "DOUBLE_FREE", mine, () => heap.imports.env.free(mine));
    heap.kmem.offlineCpu(1);
    heap.verify();
  });

  it("attach finds the heap by its base, whatever its page size", () => {
    const heap = WasmHeap.create({ heapBase: HEAP_BASE, shared: true, cpus: 2, pageSize: 16384 });
    const other = WasmHeap.attach(heap.memory, { heapBase: HEAP_BASE });
    assert.equal(other.offset, heap.offset);
    assert.equal(other.offset, 81920);
    const p = other.imports.env.malloc(30);
    heap.imports.env.free(p);
    assert.throws(() => WasmHeap.attach(heap.memory, { heapBase: 200000 }), /no heap above/);
  });
});
