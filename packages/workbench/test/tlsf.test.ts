/*
 * The `tlsf` allocator (AssemblyScript's TLSF as WebAssembly, built into dist/src/tlsf.wasm):
 * blocks keep their contents and never overlap while the heap grows under them, realloc keeps
 * the bytes it promises, usable sizes cover the request, and running out of memory (or a size
 * no heap could hold) fails with 0 and leaves every block as it was. The replay engine's own
 * tests (replay.test.ts) run it on traces with leftovers like every registered allocator.
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type AllocatorEntry, findAllocator } from "../src/allocators.js";
import type { PeerHeap } from "../src/peers.js";
import { replay } from "../src/replay.js";
import { TLSF_WASM, tlsfHeap } from "../src/tlsf.js";
import { findWorkload } from "../src/workloads/index.js";

const MiB = 2 ** 20;

interface Live {
  handle: number;
  size: number;
  tag: number;
}

function byte(tag: number, i: number): number {
  return (Math.imul(tag, 0x9e3779b1) + Math.imul(i, 0x85ebca6b)) >>> 24;
}

function fill(heap: PeerHeap, b: Live): void {
  const m = heap.memory;
  for (let i = 0; i < b.size; i++) m[b.handle + i] = byte(b.tag, i);
}

/** Every live block holds its pattern, lies in the heap, is 16-aligned, and none overlap. */
function check(heap: PeerHeap, live: Iterable<Live>, when: string): void {
  const m = heap.memory;
  const blocks = [...live].sort((a, b) => a.handle - b.handle);
  let end = 0;
  for (const b of blocks) {
    assert.equal(b.handle % 16, 0, `${when}: ${b.handle} is not 16-byte aligned`);
    assert.ok(b.handle >= end, `${when}: block at ${b.handle} overlaps the one before`);
    assert.ok(heap.usableSize(b.handle) >= b.size, `${when}: usable size under ${b.size}`);
    end = b.handle + b.size;
    assert.ok(end <= heap.footprint(), `${when}: block past the footprint`);
    for (let i = 0; i < b.size; i++) {
      if (m[b.handle + i] !== byte(b.tag, i))
        assert.fail(`${when}: byte ${i} of the block at ${b.handle} (${b.size} bytes) changed`);
    }
  }
}

describe("tlsf", () => {
  it("the build made its module", () => {
    assert.ok(existsSync(fileURLToPath(TLSF_WASM)), fileURLToPath(TLSF_WASM));
  });

  it("keeps contents and never overlaps, as the heap grows, under any sequence", async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("alloc" as const), size: fc.integer({ min: 1, max: 70_000 }) }),
      fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
      fc.record({
        kind: fc.constant("realloc" as const),
        pick: fc.nat(),
        size: fc.integer({ min: 1, max: 70_000 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 120 }), async (ops) => {
        const heap = await tlsfHeap(16 * MiB);
        const live = new Map<number, Live>();
        let tag = 1;
        let grew = 0;
        let last = heap.footprint();
        for (const o of ops) {
          const blocks = [...live.values()];
          if (o.kind === "alloc") {
            const h = heap.malloc(o.size);
            assert.ok(h > 0);
            const b = { handle: h, size: o.size, tag: tag++ };
            fill(heap, b);
            live.set(h, b);
          } else if (blocks.length > 0) {
            const b = blocks[o.pick % blocks.length] as Live;
            live.delete(b.handle);
            if (o.kind === "free") heap.free(b.handle);
            else {
              const h = heap.realloc?.(b.handle, o.size) ?? 0;
              assert.ok(h > 0);
              const kept = Math.min(b.size, o.size);
              const m = heap.memory;
              for (let i = 0; i < kept; i++) assert.equal(m[h + i], byte(b.tag, i));
              const moved = { handle: h, size: o.size, tag: tag++ };
              fill(heap, moved);
              live.set(h, moved);
            }
          }
          if (heap.footprint() > last) grew++;
          last = heap.footprint();
        }
        check(heap, live.values(), `after ${ops.length} ops (grew ${grew} times)`);
      }),
      { numRuns: 40, seed: 16 },
    );
  });

  it("fails with 0 when the heap is full, and every block stays as it was", async () => {
    const heap = await tlsfHeap(1 * MiB);
    const live: Live[] = [];
    let tag = 1;
    for (;;) {
      const h = heap.malloc(40_000);
      if (h === 0) break;
      const b = { handle: h, size: 40_000, tag: tag++ };
      fill(heap, b);
      live.push(b);
    }
    assert.ok(live.length >= 20 && live.length < 27, `${live.length} blocks of 40,000 in 1 MiB`);
    assert.equal(heap.footprint(), 1 * MiB, "grown to the heap's size and no further");
    // Too large for what is left, for any heap, and sizes that would wrap to 32 bits.
    for (const size of [100_000, 2 * MiB, 2 ** 30, 2 ** 32 + 16, 2 ** 40]) {
      assert.equal(heap.malloc(size), 0, `malloc(${size})`);
    }
    const first = live[0] as Live;
    assert.equal(heap.realloc?.(first.handle, 500_000), 0, "a realloc that cannot move");
    check(heap, live, "after the failures");
    // Freed room is used again.
    heap.free(first.handle);
    live.shift();
    const h = heap.malloc(30_000);
    assert.equal(h, first.handle, "the freed block serves the next request");
    const b = { handle: h, size: 30_000, tag: tag++ };
    fill(heap, b);
    live.push(b);
    check(heap, live, "after reuse");
  });

  it("grows and shrinks in place when it can", async () => {
    const heap = await tlsfHeap(4 * MiB);
    const a = heap.malloc(100);
    const after = heap.malloc(100);
    heap.free(after);
    // The free block after `a` (and the rest of the page) let it grow where it is.
    assert.equal(heap.realloc?.(a, 1000), a);
    assert.equal(heap.realloc?.(a, 50), a);
    assert.ok(heap.usableSize(a) >= 50 && heap.usableSize(a) < 100);
  });

  it("starts a timed run with its whole memory, touched, and the next run over it afresh", async () => {
    const reuse = new ArrayBuffer(4 * MiB);
    const first = await tlsfHeap(4 * MiB, reuse, true);
    assert.equal(first.footprint(), 4 * MiB, "the whole memory from the start");
    const live: Live[] = [];
    for (let k = 0; k < 200; k++) {
      const b = { handle: first.malloc(9000 + k), size: 9000 + k, tag: k + 1 };
      assert.notEqual(b.handle, 0);
      fill(first, b);
      live.push(b);
    }
    check(first, live, "timed run");
    // The next timed run: the same memory (no growth, no first touch), a heap with nothing in
    // it: its first block is where the first run's was.
    const second = await tlsfHeap(4 * MiB, reuse, true);
    assert.equal(second.memory.buffer, first.memory.buffer);
    assert.equal(second.malloc(9000), live[0]?.handle);
    // Not timed (the measured pass): a memory of its own, grown as needed from one page.
    const measured = await tlsfHeap(4 * MiB, reuse);
    assert.equal(measured.footprint(), 64 * 1024);
    assert.notEqual(measured.memory.buffer, first.memory.buffer);
  });

  it("a replay gives its timed runs an empty buffer as the key of their memory, not one of the memory's size", async () => {
    const tlsf = findAllocator("tlsf");
    assert.equal(tlsf.ownTimedMemory, true);
    assert.equal(findAllocator("malloc").ownTimedMemory, undefined);
    const seen: [number, boolean][] = [];
    const spy = (e: AllocatorEntry): AllocatorEntry => ({
      ...e,
      create: (bytes: number, reuse?: ArrayBuffer, timed?: boolean) => {
        seen.push([reuse?.byteLength ?? -1, timed === true]);
        return e.create(bytes, reuse, timed);
      },
    });
    const source = findWorkload("random").generate(2000, 5);
    for (const e of [tlsf, findAllocator("malloc")]) {
      seen.length = 0;
      const { result } = await replay(source, spy(e), { memoryBytes: 4 * MiB, timingScale: 0.05 });
      assert.equal(result.error, null);
      const keys = new Set(seen.map(([n]) => n));
      // TLSF: one key of no bytes for every run, timed or measured; a peer over the replay's
      // buffer: the buffer of the memory's size.
      assert.deepEqual([...keys], [e === tlsf ? 0 : 4 * MiB], e.name);
      assert.ok(seen.some(([, timed]) => timed) && seen.some(([, timed]) => !timed));
    }
  });

  it("replays a workload into too little memory: failures counted, no fault", async () => {
    const source = findWorkload("random").generate(4000, 3);
    const { result: r } = await replay(source, findAllocator("tlsf"), {
      memoryBytes: 1 * MiB,
      timingScale: 0.05,
    });
    assert.equal(r.error, null);
    assert.ok(r.failures > 0);
    assert.ok(r.peakFootprintBytes <= 1 * MiB);
    assert.equal(r.contentsChecked, true);
  });
});
