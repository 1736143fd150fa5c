/*
 * Memory growth as memory hotplug: the heap grows its WebAssembly.Memory when kmem runs out
 * and the page allocator brings the new pages online (zone span, managed pages, watermarks,
 * buddy lists, the reports); the maximum is respected and a refused grow is malloc's NULL
 * with nothing lost; contents survive every grow; a worker that opened the heap before a grow
 * allocates from the grown memory afterwards; a plain Kmem over a WebAssembly.Memory grows
 * with growMemory, and the other contexts of its thread see it.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import fc from "fast-check";
import { Kmem } from "../../src/index.js";
import { WasmHeap } from "../../src/wasm/index.js";
import { tinyModule } from "./tiny-module.js";
import { WA } from "./wasm-api.js";

const HEAP_BASE = 70304;
const WASM_PAGE = 65536;

/** The number after `field` in a report's line. */
function field(report: string, name: string): number {
  const m = new RegExp(`^\\s*${name}:?\\s+(\\d+)`, "m").exec(report);
  assert.ok(m !== null, `${name} in\n${report}`);
  return Number(m[1]);
}

/** Fills [p, p + n) with a pattern of `seed`, and checks it. */
function fill(mem: Uint8Array, p: number, n: number, seed: number): void {
  for (let i = 0; i < n; i++) mem[p + i] = (seed * 31 + i) & 0xff;
}
function intact(mem: Uint8Array, p: number, n: number, seed: number): boolean {
  for (let i = 0; i < n; i++) if (mem[p + i] !== ((seed * 31 + i) & 0xff)) return false;
  return true;
}

/** The worker's next message; its error, or an exit before it, rejects. */
function next<T>(w: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (): void => {
      w.off("message", onMessage);
      w.off("error", reject);
      w.off("exit", onExit);
    };
    const onMessage = (m: T): void => {
      done();
      resolve(m);
    };
    const onExit = (code: number): void => {
      done();
      reject(new Error(`the worker exited (${code}) without replying`));
    };
    w.on("message", onMessage);
    w.on("error", reject);
    w.on("exit", onExit);
  });
}

describe("WasmHeap: growth as memory hotplug", () => {
  it("grows the memory several times as a module's mallocs need it, contents kept", async () => {
    const heap = WasmHeap.create({ initial: 4, maximum: 96 });
    const { instance } = await WA.instantiate(tinyModule(HEAP_BASE), heap.imports);
    heap.bind(instance);
    const m = instance.exports as { malloc(n: number): number; free(p: number): void };
    const mm = heap.kmem;
    const total0 = mm.totalPages;
    const meminfo0 = field(mm.report("meminfo"), "MemTotal");
    const blocks: [number, number][] = [];
    for (let i = 0; i < 450; i++) {
      const n = 1000 + ((i * 7919) % 12000);
      const p = m.malloc(n);
      assert.notEqual(p, 0, `malloc ${i}`);
      fill(new Uint8Array(heap.memory.buffer), p, n, i);
      blocks.push([p, n]);
    }
    const g = heap.growth();
    assert.ok(g.grows >= 3, `grew ${g.grows} times`);
    assert.equal(g.pages, heap.memory.buffer.byteLength / WASM_PAGE);
    assert.ok(mm.totalPages > total0);
    const mem = new Uint8Array(heap.memory.buffer);
    for (const [i, [p, n]] of blocks.entries()) assert.ok(intact(mem, p, n, i), `block ${i}`);
    assert.ok(
      blocks.some(([p]) => p - heap.offset >= total0 * mm.pageSize),
      "a block in new memory",
    );
    // The reports see the pages online: meminfo's MemTotal, the zone's span, buddyinfo.
    assert.ok(field(mm.report("meminfo"), "MemTotal") > meminfo0);
    const zoneinfo = mm.report("zoneinfo");
    assert.equal(field(zoneinfo, "managed"), mm.managedPages);
    assert.equal(mm.stats().totalPages, mm.totalPages);
    heap.verify();
    for (const [p] of blocks) m.free(p);
    heap.verify();
    // Every page back: the per-cpu lists (large blocks' single pages go there) drained too.
    mm.drainPages();
    const after = mm.stats();
    assert.equal(after.pcpPages, 0);
    assert.equal(after.freePages, mm.managedPages - mm.usedPages);
  });

  it("respects the maximum: past it malloc returns NULL, every block intact", () => {
    const heap = WasmHeap.create({ heapBase: HEAP_BASE, initial: 4, maximum: 12 });
    const got: number[] = [];
    for (let p; (p = heap.imports.env.malloc(5000)) !== 0;) {
      fill(new Uint8Array(heap.memory.buffer), p, 5000, got.length);
      got.push(p);
    }
    assert.equal(heap.memory.buffer.byteLength, 12 * WASM_PAGE);
    assert.equal(heap.growth().pages, 12);
    assert.equal(heap.imports.env.malloc(16 << 20), 0, "more than the maximum holds");
    assert.equal(heap.imports.env.calloc(1000, 1000), 0);
    assert.equal(heap.memory.buffer.byteLength, 12 * WASM_PAGE, "never beyond it");
    const mem = new Uint8Array(heap.memory.buffer);
    for (const [i, p] of got.entries()) assert.ok(intact(mem, p, 5000, i));
    assert.ok(heap.counts().failures >= 3);
    heap.verify();
    for (const p of got) heap.imports.env.free(p);
    heap.verify();
  });

  it("a grow the engine refuses is malloc's NULL, nothing lost; the next one succeeds", () => {
    const heap = WasmHeap.create({ heapBase: HEAP_BASE, initial: 4, maximum: 64 });
    const memory = heap.memory as { grow(n: number): number };
    const real = memory.grow.bind(memory);
    let refused = 0;
    // Fault injection on the grow path: memory.grow throws, as an engine out of memory does.
    Object.defineProperty(memory, "grow", {
      configurable: true,
      value: () => {
        refused++;
        throw new RangeError("WebAssembly.Memory.grow(): Maximum memory size exceeded");
      },
    });
    const got: number[] = [];
    for (let p; (p = heap.imports.env.malloc(3000)) !== 0;) {
      fill(new Uint8Array(heap.memory.buffer), p, 3000, got.length);
      got.push(p);
    }
    assert.ok(refused >= 1);
    assert.equal(heap.memory.buffer.byteLength, 4 * WASM_PAGE);
    const before = heap.kmem.stats();
    assert.equal(heap.imports.env.realloc(got[0] as number, 200000), 0, "realloc: NULL");
    assert.equal(heap.kmem.stats().freePages, before.freePages);
    const mem = new Uint8Array(heap.memory.buffer);
    for (const [i, p] of got.entries()) assert.ok(intact(mem, p, 3000, i));
    heap.verify();
    Object.defineProperty(memory, "grow", { configurable: true, value: real });
    const p = heap.imports.env.malloc(3000);
    assert.notEqual(p, 0);
    assert.ok(heap.memory.buffer.byteLength > 4 * WASM_PAGE);
    const now = new Uint8Array(heap.memory.buffer);
    for (const [i, q] of got.entries()) assert.ok(intact(now, q, 3000, i));
    heap.verify();
  });

  it("model: malloc, free and realloc across grows keep every block's contents", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant("malloc" as const),
              size: fc.integer({ min: 0, max: 70000 }),
            }),
            fc.record({ op: fc.constant("free" as const), pick: fc.nat() }),
            fc.record({
              op: fc.constant("realloc" as const),
              pick: fc.nat(),
              size: fc.integer({ min: 1, max: 90000 }),
            }),
          ),
          { maxLength: 80 },
        ),
        fc.constantFrom("slub" as const, "slob" as const),
        (ops, slab) => {
          const heap = WasmHeap.create({ heapBase: HEAP_BASE, initial: 3, maximum: 40, slab });
          const env = heap.imports.env;
          const live = new Map<number, { n: number; seed: number }>();
          let seed = 1;
          for (const o of ops) {
            const keys = [...live.keys()];
            if (o.op === "malloc") {
              const p = env.malloc(o.size);
              if (p === 0) continue;
              assert.ok(!live.has(p));
              fill(new Uint8Array(heap.memory.buffer), p, o.size, ++seed);
              live.set(p, { n: o.size, seed });
            } else if (keys.length > 0) {
              const p = keys[o.pick % keys.length] as number;
              const b = live.get(p) as { n: number; seed: number };
              if (o.op === "free") {
                env.free(p);
                live.delete(p);
              } else {
                const q = env.realloc(p, o.size);
                if (q === 0) continue; // NULL: the block stays as it was
                const kept = Math.min(b.n, o.size);
                assert.ok(
                  intact(new Uint8Array(heap.memory.buffer), q, kept, b.seed),
                  "realloc kept the bytes",
                );
                live.delete(p);
                fill(new Uint8Array(heap.memory.buffer), q, o.size, ++seed);
                live.set(q, { n: o.size, seed });
              }
            }
          }
          const mem = new Uint8Array(heap.memory.buffer);
          for (const [p, b] of live) assert.ok(intact(mem, p, b.n, b.seed));
          heap.verify();
          for (const p of live.keys()) env.free(p);
          heap.verify();
          assert.equal(heap.counts().live, 0);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("a worker that opened the heap before the grow allocates from the grown memory", async () => {
    const heap = WasmHeap.create({
      heapBase: HEAP_BASE,
      initial: 8,
      maximum: 48,
      shared: true,
      cpus: 2,
    });
    const w = new Worker(new URL("./growth.worker.js", import.meta.url), {
      workerData: { memory: heap.memory, heapBase: HEAP_BASE, count: 300 },
    });
    try {
      const ready = await next<{ pages: number }>(w);
      const oldEnd = heap.offset + ready.pages * heap.kmem.pageSize;
      // The main thread fills the memory it has, then grows it (once) for the next block.
      const mine: number[] = [];
      while (heap.growth().grows === 0) mine.push(heap.imports.env.malloc(3000));
      const last = mine[mine.length - 1] as number;
      assert.ok(last >= oldEnd, "the last block lies in the grown memory");
      w.postMessage({ freeing: last });
      const reply = await next<{ cpu: number; pages: number; blocks: number[] }>(w);
      assert.equal(reply.cpu, 1);
      // The worker grew the memory further itself: this context catches up.
      heap.kmem.onlineMemory(heap.memory);
      assert.equal(reply.pages, heap.kmem.totalPages, "both see the pages online");
      assert.equal(reply.blocks.length, 300);
      const mem = new Uint8Array(heap.memory.buffer);
      for (const [i, p] of reply.blocks.entries()) {
        assert.ok(p >= heap.offset && p + 3000 <= mem.length);
        assert.ok(
          mem.subarray(p, p + 3000).every((b) => b === (i & 0xff)),
          `worker block ${i}`,
        );
      }
      assert.ok(
        reply.blocks.some((p) => p >= oldEnd),
        "the worker allocated in grown memory",
      );
      for (const p of reply.blocks) heap.imports.env.free(p);
      for (const p of mine.slice(0, -1)) heap.imports.env.free(p);
      heap.kmem.offlineCpu(1);
      heap.verify();
    } finally {
      await w.terminate();
    }
  });
});

describe("Kmem over a WebAssembly.Memory: growMemory and onlineMemory", () => {
  it("grows a memory with room and brings its pages online; an attached context sees them", () => {
    const memory = new WA.Memory({ initial: 16, maximum: 64, shared: true });
    const mm = new Kmem({ memory: memory.buffer, maxMemory: 64 * WASM_PAGE, cpus: 2 });
    const other = Kmem.attach(memory.buffer);
    assert.equal(mm.maxPages, 64 * 16);
    const total0 = mm.totalPages;
    const low0 = mm.watermarks.low;
    const added = mm.growMemory(memory, 16);
    assert.equal(added, 16 * 16);
    assert.equal(mm.totalPages, total0 + added);
    assert.ok(mm.watermarks.low >= low0);
    assert.equal(field(mm.report("meminfo"), "MemTotal") * 1024, mm.managedPages * mm.pageSize);
    // The attached context (this thread) was renewed with it.
    assert.equal(other.totalPages, mm.totalPages);
    const blocks: number[] = [];
    for (let a; (a = other.allocPages(7)) !== 0;) blocks.push(a);
    const big = blocks.find((a) => a >= total0 * mm.pageSize) ?? 0;
    assert.notEqual(big, 0, "a block of the new pages");
    other.write(big + 4096 * 127, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...mm.read(big + 4096 * 127, 3)], [1, 2, 3]);
    for (const a of blocks) mm.freePages(a, 7);
    mm.verify();
    other.verify();
    assert.equal(mm.growMemory(memory, 64), 0, "past the maximum: refused, nothing changed");
    assert.equal(mm.totalPages, total0 + added);
    assert.throws(() => mm.growMemory({} as never, 1), TypeError);
    assert.throws(() => mm.growMemory(memory, -1), RangeError);
    mm.verify();
  });

  it("a non-shared memory: views renewed after the grow detached the old buffer", () => {
    const memory = new WA.Memory({ initial: 16, maximum: 32 });
    const mm = new Kmem({ memory: memory.buffer, maxMemory: 32 * WASM_PAGE });
    const c = mm.createCache("thing", 200);
    assert.ok(c !== null);
    const objs: number[] = [];
    for (let i = 0; i < 100; i++) objs.push(c.alloc());
    for (const a of objs) mm.write(a, new Uint8Array(200).fill(a & 0xff));
    const old = memory.buffer;
    assert.equal(mm.growMemory(memory, 16), 16 * 16);
    assert.equal(old.byteLength, 0, "the old buffer is detached");
    assert.equal(mm.buffer, memory.buffer);
    for (const a of objs) assert.ok(mm.read(a, 200).every((b) => b === (a & 0xff)));
    for (let i = 0; i < 2000; i++) objs.push(c.alloc());
    assert.ok(objs.every((a) => a !== 0));
    const top = objs[objs.length - 1] as number;
    mm.write(top, new Uint8Array(200).fill(7));
    for (const a of objs) c.free(a);
    mm.verify();
  });

  it("onlineMemory: pages a program grew itself (shared) come online on request", () => {
    const memory = new WA.Memory({ initial: 16, maximum: 32, shared: true });
    const mm = new Kmem({ memory: memory.buffer, maxMemory: 32 * WASM_PAGE, cpus: 3 });
    const old = memory.buffer;
    const total0 = mm.totalPages;
    memory.grow(4);
    assert.equal(mm.totalPages, total0, "nothing online until asked");
    // attach takes a buffer longer than the pages online.
    const early = Kmem.attach(memory.buffer);
    assert.equal(early.totalPages, total0);
    assert.equal(mm.onlineMemory(memory), 64);
    assert.equal(mm.onlineMemory(memory), 0);
    assert.throws(() => Kmem.attach(old), /memory grew/);
    // The early context had no memory to renew from: given one, it catches up.
    assert.equal(early.onlineMemory(memory), 64);
    assert.equal(early.totalPages, mm.totalPages);
    early.verify();
    mm.verify();
    const buddy = mm.report("buddyinfo");
    assert.match(buddy, /Node 0/);
  });
});
