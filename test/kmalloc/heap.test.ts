/*
 * The kmalloc heap (src/kmalloc/heap.ts): kmalloc's requests above 1 KiB in the fine
 * classes. Against a model (contents intact, no overlap, verify() after every step), misuse
 * of every kind refused before anything changes, krealloc in place, chunks given back,
 * fault injection, instances opened with heap blocks live, and the cache of freed blocks
 * (the same checks on cached blocks, its bounds, its flushes, recovery).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { __GFP_ZERO, GFP_ATOMIC, GFP_KERNEL, Kmem, PageKind } from "../../src/index.js";
import {
  CHUNK_BYTES,
  CHUNK_MIN_BYTES,
  HEAP_MIN,
  type Kmalloc,
  type KmallocHeap,
} from "../../src/kmalloc/index.js";
import { Hdr } from "../../src/memory/index.js";
import { expectKmemError } from "../helpers.js";

function mm(memory = 8 << 20, extra: object = {}): Kmem {
  return new Kmem({ memory, minFreeBytes: 0, ...extra });
}

function km(k: Kmem): Kmalloc {
  return (k as unknown as { km: Kmalloc }).km;
}

function header(k: Kmem): Int32Array {
  return new Int32Array(k.buffer, 0, Hdr.PCP);
}

/** Whether `addr` lies in a heap chunk (the page map's KHEAP). */
function inChunk(k: Kmem, addr: number): boolean {
  return k.pageMap().kind[Math.floor(addr / k.pageSize)] === PageKind.KHEAP;
}

/** Stamps every 61st byte of [p, p + n) and its last 16. */
function stamp(k: Kmem, p: number, n: number, tag: number): void {
  for (let i = 0; i < n; i += 61) k.memory[p + i] = (tag + i) & 255;
  for (let i = Math.max(0, n - 16); i < n; i++) k.memory[p + i] = (tag + i) & 255;
}

/** Whether the first `n` bytes of a stamp are intact. */
function stamped(k: Kmem, p: number, n: number, tag: number): boolean {
  for (let i = 0; i < n; i += 61) if (k.memory[p + i] !== ((tag + i) & 255)) return false;
  return true;
}

describe("kmalloc heap: routes", () => {
  it("serves sizes above 1 KiB that are not powers of two, 16-byte aligned, in chunks", () => {
    const k = mm();
    assert.ok(header(k)[Hdr.KHEAP] !== 0);
    for (const size of [HEAP_MIN + 1, 1500, 3000, 4097, 7000, 12000]) {
      const p = k.kmalloc(size);
      assert.equal(p % 16, 0);
      assert.ok(inChunk(k, p), `kmalloc(${size})`);
      assert.equal(k.ksize(p), Math.ceil(size / 16) * 16);
    }
    for (const size of [100, HEAP_MIN, 2048, 4096, 8192]) {
      assert.ok(!inChunk(k, k.kmalloc(size)), `kmalloc(${size}) is a slab object`);
    }
    assert.ok(!inChunk(k, k.kmalloc(CHUNK_BYTES)), "a chunk's size takes pages");
    k.verify();
  });

  it("is not there with Linux's classes, SLOB, or a sanitizer", () => {
    for (const extra of [
      { sizeClasses: "linux" },
      { slab: "slob" },
      { kasan: true },
      { kmemleak: true },
      { kfence: { objects: 4 } },
    ]) {
      const k = mm(8 << 20, extra);
      assert.equal(header(k)[Hdr.KHEAP], 0, JSON.stringify(extra));
      const p = k.kmalloc(3000);
      assert.ok(!inChunk(k, p));
      k.kfree(p);
      k.verify();
    }
  });

  it("zeroes with __GFP_ZERO (kzalloc) even reused memory", () => {
    const k = mm();
    const p = k.kmalloc(3000);
    k.memory.fill(0xaa, p, p + 3000);
    k.kfree(p);
    const q = k.kmalloc(3000, GFP_KERNEL | __GFP_ZERO);
    assert.ok(k.memory.subarray(q, q + k.ksize(q)).every((x) => x === 0));
  });

  it("keeps one empty chunk, gives the others back, and shrinkSlabs the last", () => {
    const k = mm();
    k.drainPages();
    const before = k.stats().freePages;
    const blocks = Array.from({ length: 40 }, () => k.kmalloc(12000));
    k.verify();
    for (const p of blocks) k.kfree(p);
    k.verify();
    const h = km(k).heapStats();
    assert.equal(h?.chunks, 1);
    assert.equal(h?.live, 0);
    k.drainPages();
    assert.equal(k.stats().freePages, before - (h?.bytes ?? 0) / k.pageSize);
    k.shrinkSlabs();
    k.drainPages();
    assert.equal(k.stats().freePages, before);
    k.verify();
  });

  it("fail_page_alloc when a chunk is needed: kmalloc returns 0 and nothing is lost", () => {
    const k = mm();
    const kept = k.kmalloc(3000);
    k.drainPages();
    const before = k.stats().freePages;
    k.setFault("fail_page_alloc", {
      probability: 100,
      times: -1,
      verbose: 0,
      ignoreGfpWait: false,
    });
    // The first chunk has room for a few; then a new one is needed, and refused.
    const got: number[] = [];
    for (let i = 0; i < 30; i++) {
      const p = k.kmalloc(9000);
      if (p === 0) break;
      got.push(p);
    }
    assert.ok(got.length < 30);
    assert.equal(k.krealloc(kept, 40000), 0, "a move that needs pages fails, the block kept");
    k.setFault("fail_page_alloc", null);
    k.verify();
    for (const p of got) k.kfree(p);
    k.drainPages();
    assert.equal(k.stats().freePages, before);
    assert.notEqual(k.kmalloc(9000), 0);
    k.verify();
  });
});

describe("kmalloc heap: chunks that grow with the heap", () => {
  function heap(k: Kmem): KmallocHeap {
    return km(k).heap as KmallocHeap;
  }

  /** The bytes of each chunk the heap takes while `alloc` runs `n` times, in order. */
  function chunksTaken(
    k: Kmem,
    n: number,
    alloc: () => number,
  ): { sizes: number[]; blocks: number[] } {
    const sizes: number[] = [];
    const blocks: number[] = [];
    for (let i = 0; i < n; i++) {
      const before = heap(k).stats().bytes;
      const p = alloc();
      assert.notEqual(p, 0);
      blocks.push(p);
      const grown = heap(k).stats().bytes - before;
      if (grown !== 0) sizes.push(grown);
    }
    return { sizes, blocks };
  }

  it("doubles its chunks from 16 KiB to 64 KiB as it grows, each block found in its own", () => {
    const k = mm();
    const { sizes, blocks } = chunksTaken(k, 60, () => k.kmalloc(3000));
    const K = 1024;
    assert.deepEqual(sizes.slice(0, 5), [16 * K, 16 * K, 32 * K, 64 * K, 64 * K]);
    assert.ok(sizes.every((b) => b <= CHUNK_BYTES));
    for (const p of blocks) {
      assert.ok(inChunk(k, p));
      assert.equal(k.ksize(p), 3008);
    }
    k.verify();
    for (const p of blocks) k.kfree(p);
    assert.equal(heap(k).stats().chunks, 1, "one spare kept");
    k.verify();
  });

  it("takes the least chunk that holds a request the growth order cannot", () => {
    const k = mm();
    const p = k.kmalloc(16300); // 16,320 bytes with its header: more than 16 KiB less the bitmap
    assert.ok(inChunk(k, p));
    assert.equal(heap(k).stats().bytes, 32 * 1024);
    k.verify();
  });

  it("puts every chunk at a 64 KiB boundary: a smaller one gives the rest of its block back", () => {
    const k = mm();
    k.drainPages();
    const free = k.stats().freePages;
    const p = k.kmalloc(3000);
    k.drainPages();
    // A 16 KiB chunk: 4 pages taken, the order-4 block's other 12 back at once.
    assert.equal(free - k.stats().freePages, CHUNK_MIN_BYTES / k.pageSize);
    const c = p - (p % CHUNK_BYTES);
    assert.ok(inChunk(k, c) && inChunk(k, c + CHUNK_MIN_BYTES - 1));
    assert.ok(!inChunk(k, c + CHUNK_MIN_BYTES), "the page after the chunk is not the heap's");
    // A page of the given-back tail, when allocated, is nobody's block to kfree.
    const pages: number[] = [];
    for (let q = k.allocPages(0); q !== 0 && pages.length < 4096; q = k.allocPages(0)) {
      pages.push(q);
      if (q >= c + CHUNK_MIN_BYTES && q < c + CHUNK_BYTES) break;
    }
    const tail = pages.at(-1) as number;
    assert.ok(tail >= c + CHUNK_MIN_BYTES && tail < c + CHUNK_BYTES, "a tail page allocated");
    expectKmemError("INVALID_FREE", () => k.kfree(tail + 64));
    for (const q of pages) k.freePages(q, 0);
    k.verify();
    k.kfree(p);
    k.verify();
  });

  it("fences a smaller chunk's end: its last block is checked and cannot grow past it", () => {
    const k = mm();
    // 16 KiB less the start bitmap (512 bytes), the block's header and the fence's (16 each).
    const n = CHUNK_MIN_BYTES - 512 - 16 - 16;
    const p = k.kmalloc(n);
    assert.deepEqual([heap(k).stats().chunks, heap(k).stats().bytes], [1, CHUNK_MIN_BYTES]);
    assert.equal(heap(k).stats().free, 0, "one block fills the chunk");
    assert.equal(k.ksize(p), n);
    const end = p + n;
    assert.equal(end % CHUNK_BYTES, CHUNK_MIN_BYTES - 16, "the fence: the chunk's last 16 bytes");
    stamp(k, p, n, 7);
    // The fence stops krealloc from growing past the chunk: the block moves instead.
    const q = k.krealloc(p, n + 64);
    assert.notEqual(q, p);
    assert.ok(stamped(k, q, n, 7));
    k.verify();
    k.kfree(q);
    // A write over the fence is found, as a write over any header is.
    const r = k.kmalloc(n);
    assert.equal(r, p, "the chunk's one block again");
    const saved = k.memory.slice(end, end + 16);
    k.memory.fill(0xaa, end, end + 16);
    assert.match(expectKmemError("CORRUPTION", () => k.verify()).message, /HEAP-2/);
    k.memory.set(saved, end);
    k.verify();
    k.kfree(r);
    k.verify();
  });

  it("with no free block to grow by, serves a request with whole pages, and warns of nothing", () => {
    const lines: string[] = [];
    const k = mm(4 << 20, { log: (l: string) => lines.push(l) });
    const mine = chunksTaken(k, 24, () => k.kmalloc(3000)).blocks;
    // Every free page taken as 16 KiB blocks, then every other one given back: free memory
    // is 16 KiB blocks whose buddies are held, none of 32 KiB or more.
    const held: number[] = [];
    for (let p = k.allocPages(2, GFP_ATOMIC); p !== 0; p = k.allocPages(2, GFP_ATOMIC)) {
      held.push(p);
    }
    const back = held.filter((p) => ((p / (4 * k.pageSize)) & 1) === 0);
    for (const p of back) k.freePages(p, 2);
    k.drainPages();
    assert.ok(back.length >= 4);
    const bytes = heap(k).stats().bytes;
    lines.length = 0; // the failure that ended the loop above
    const blocks: number[] = [];
    for (let i = 0; i < 8; i++) {
      const p = k.kmalloc(12000);
      assert.notEqual(p, 0, `request ${i}`);
      stamp(k, p, 12000, i);
      blocks.push(p);
    }
    assert.equal(heap(k).stats().bytes, bytes, "no chunk could be taken");
    const paged = blocks.filter((p) => !inChunk(k, p));
    assert.ok(paged.length > 0);
    for (const p of paged) assert.equal(k.ksize(p), 3 * k.pageSize);
    assert.deepEqual(
      lines.filter((l) => /allocation failure/.test(l)),
      [],
    );
    k.verify();
    blocks.forEach((p, i) => assert.ok(stamped(k, p, 12000, i)));
    for (const p of [...blocks, ...mine]) k.kfree(p);
    for (const p of held) if (!back.includes(p)) k.freePages(p, 2);
    k.verify();
  });

  it("verify() reports a page count that is not its chunks' (HEAP-1); recover() rebuilds it", () => {
    const k = mm();
    const blocks = chunksTaken(k, 12, () => k.kmalloc(3000)).blocks;
    const pagesWord = new Int32Array(k.buffer, (header(k)[Hdr.KHEAP] as number) + 21 * 4, 1);
    const pages = pagesWord[0] as number;
    assert.equal(pages * k.pageSize, heap(k).stats().bytes);
    pagesWord[0] = pages + 4;
    const err = expectKmemError("CORRUPTION", () => k.verify());
    assert.match(err.message, /HEAP-1/);
    heap(k).recover(0);
    assert.equal(pagesWord[0], pages);
    k.verify();
    for (const p of blocks) k.kfree(p);
    k.verify();
  });
});

describe("kmalloc heap: krealloc", () => {
  it("grows into a free next block, shrinks by splitting, moves only when it must", () => {
    const k = mm();
    const a = k.kmalloc(3000);
    const b = k.kmalloc(3000);
    const c = k.kmalloc(3000);
    stamp(k, a, 3000, 1);
    k.kfree(b); // into the cache of freed blocks: krealloc takes it out
    const a2 = k.krealloc(a, 5000);
    assert.equal(a2, a, "grown in place");
    assert.ok(k.ksize(a) >= 5000);
    assert.ok(stamped(k, a, 3000, 1));
    k.verify();
    const a3 = k.krealloc(a, 1500);
    assert.equal(a3, a, "shrunk in place");
    assert.equal(k.ksize(a), 1504);
    k.verify();
    // The tail went back: a block of its size fits there.
    const d = k.kmalloc(3000);
    assert.ok(d > a && d < c, "the freed tail is reused");
    stamp(k, c, 3000, 7);
    const c2 = k.krealloc(c, 60000);
    assert.notEqual(c2, 0);
    assert.ok(stamped(k, c2, 3000, 7), "moved with its contents");
    k.verify();
  });

  it("zeroes what a krealloc with __GFP_ZERO adds", () => {
    const k = mm();
    const a = k.kmalloc(3000);
    const b = k.kmalloc(3000);
    k.memory.fill(0xcc, a, a + 3000);
    k.memory.fill(0xdd, b, b + 3000);
    k.kfree(b);
    assert.equal(k.krealloc(a, 5000, GFP_KERNEL | __GFP_ZERO), a);
    assert.ok(k.memory.subarray(a + 3000, a + 5000).every((x) => x === 0));
  });
});

describe("kmalloc heap: misuse is refused before anything changes", () => {
  it("an address inside a block, in its header, in free space, in the bitmap: INVALID_FREE", () => {
    const k = mm();
    const a = k.kmalloc(3000);
    const b = k.kmalloc(3000);
    k.kfree(b);
    const chunk = a - (a % CHUNK_BYTES);
    for (const bad of [a + 16, a + 8, a - 16, a + 1, b + 32, chunk + 64, chunk]) {
      expectKmemError("INVALID_FREE", () => k.kfree(bad));
      expectKmemError("INVALID_FREE", () => k.ksize(bad));
      expectKmemError("INVALID_FREE", () => k.krealloc(bad, 5000));
      k.verify();
    }
    assert.equal(k.ksize(a), 3008);
  });

  it("a block freed twice: DOUBLE_FREE, also after it merged with a neighbour; a stale address inside a block: INVALID_FREE", () => {
    const k = mm();
    const a = k.kmalloc(3000);
    const b = k.kmalloc(3000);
    k.kmalloc(3000);
    k.kfree(b);
    expectKmemError("DOUBLE_FREE", () => k.kfree(b));
    k.kfree(a);
    // Both cached; then flushed: b's header is inside the merged free block, intact.
    expectKmemError("DOUBLE_FREE", () => k.kfree(b));
    k.verify();
    k.shrinkSlabs();
    expectKmemError("DOUBLE_FREE", () => k.kfree(b));
    expectKmemError("DOUBLE_FREE", () => k.kfree(a));
    // Reused: a new block covers a and b, written; b is inside it.
    const c = k.kmalloc(5000);
    assert.equal(c, a);
    k.memory.fill(7, c, c + 5000);
    const e = expectKmemError("INVALID_FREE", () => k.kfree(b));
    assert.match(e.message, /not the start/);
    k.verify();
  });

  it("an overflow that rewrites the next block's header: CORRUPTION at the next free and at verify()", () => {
    const k = mm();
    const a = k.kmalloc(3000);
    const b = k.kmalloc(3000);
    const c = k.kmalloc(3000);
    k.memory.fill(0x41, a, a + k.ksize(a) + 8); // 8 bytes into b's header
    expectKmemError("CORRUPTION", () => k.kfree(a));
    expectKmemError("CORRUPTION", () => k.kfree(b));
    expectKmemError("CORRUPTION", () => k.verify());
    assert.equal(k.ksize(c), 3008, "the rest of the heap is served");
  });

  it("a previous-size word rewritten alone (size and check word intact): CORRUPTION at the free, nothing changed", () => {
    const k = mm();
    const a = k.kmalloc(3000);
    const b = k.kmalloc(3000);
    k.kmalloc(3000);
    const words = new Int32Array(k.buffer);
    const at = (b - 16 + 4) >>> 2; // b's header, word 1
    const prev = words[at] as number;
    for (const bad of [prev + 16, prev - 16, 32]) {
      words[at] = bad;
      expectKmemError("CORRUPTION", () => k.kfree(b));
      expectKmemError("CORRUPTION", () => k.verify());
    }
    words[at] = prev;
    k.verify();
    k.kfree(b);
    k.kfree(a);
    k.verify();
  });

  it("stats() counts the allocated blocks and their bytes, not the cached ones", () => {
    const k = mm();
    const sizes = [1100, 3000, 5000, 9000, 3000];
    const blocks = sizes.map((n) => k.kmalloc(n));
    const used = (): number => blocks.reduce((sum, p) => sum + k.ksize(p) + 16, 0);
    let s = km(k).heapStats();
    assert.equal(s?.live, blocks.length);
    assert.equal(s?.used, used());
    k.kfree(blocks.pop() as number); // into the cache
    s = km(k).heapStats();
    assert.ok((s?.cached ?? 0) > 0);
    assert.equal(s?.live, blocks.length);
    assert.equal(s?.used, used());
    k.verify();
  });

  it("kmem's own metadata is refused by kfree; heap blocks by kfreeOwn", () => {
    const k = mm();
    const own = km(k).kmallocOwn(3000, GFP_KERNEL);
    assert.ok(!inChunk(k, own));
    expectKmemError("INVALID_FREE", () => k.kfree(own));
    const p = k.kmalloc(3000);
    expectKmemError("INVALID_FREE", () => km(k).kfreeOwn(p));
    k.verify();
    km(k).kfreeOwn(own);
    k.kfree(p);
    k.verify();
  });
});

describe("kmalloc heap: against a model", () => {
  it("random kmalloc, krealloc, kfree: contents intact, no overlap, verify() clean at every step", () => {
    const size = fc.oneof(
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: HEAP_MIN - 8, max: 9000 }),
      fc.integer({ min: 9000, max: 40000 }),
      // Sizes that repeat, so that blocks go through the cache of freed blocks.
      fc.constantFrom(1100, 1104, 3000, 3050, 5000, 12000),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), size, fc.nat()), { maxLength: 80 }),
        (ops) => {
          const k = mm(4 << 20);
          const live: { p: number; n: number; tag: number }[] = [];
          let tag = 1;
          for (const [op, n, pick] of ops) {
            if (op < 5 || live.length === 0) {
              const p = k.kmalloc(n);
              assert.notEqual(p, 0);
              live.push({ p, n, tag });
              stamp(k, p, n, tag++);
            } else if (op < 7) {
              const b = live[pick % live.length] as { p: number; n: number; tag: number };
              const q = k.krealloc(b.p, n);
              assert.notEqual(q, 0);
              assert.ok(stamped(k, q, Math.min(n, b.n), b.tag), "krealloc keeps the contents");
              b.p = q;
              b.n = n;
              stamp(k, q, n, (b.tag = tag++));
            } else {
              const i = pick % live.length;
              k.kfree((live[i] as { p: number }).p);
              live[i] = live[live.length - 1] as { p: number; n: number; tag: number };
              live.pop();
            }
            k.verify();
            const spans = live.map((b) => [b.p, b.p + k.ksize(b.p)] as const);
            spans.sort((x, y) => x[0] - y[0]);
            for (let i = 1; i < spans.length; i++) {
              assert.ok((spans[i - 1] as readonly number[])[1]! <= spans[i]![0], "no overlap");
            }
            for (const b of live) assert.ok(stamped(k, b.p, b.n, b.tag), "contents intact");
          }
        },
      ),
      { numRuns: process.env["KMEM_SLOW"] === "1" ? 300 : 25 },
    );
  });
});

describe("kmalloc heap: instances opened with blocks live", () => {
  it("Kmem.attach frees and resizes the other context's blocks; Kmem.reopen of a copy serves them", () => {
    const a = new Kmem({ memory: 4 << 20, cpus: 2 });
    const blocks = [a.kmalloc(3000), a.kmalloc(5000), a.kmalloc(7000)];
    blocks.forEach((p, i) => stamp(a, p, 3000, i + 1));
    const b = Kmem.attach(a.buffer);
    assert.ok(stamped(b, blocks[0] as number, 3000, 1));
    b.kfree(blocks[1] as number);
    assert.equal(b.krealloc(blocks[0] as number, 8000), blocks[0], "grown into the freed block");
    const mine = b.kmalloc(4000);
    a.verify();
    b.verify();
    const copy = new SharedArrayBuffer(a.buffer.byteLength);
    new Uint8Array(copy).set(new Uint8Array(a.buffer));
    const r = Kmem.reopen(copy);
    r.verify();
    assert.ok(stamped(r, blocks[2] as number, 3000, 3));
    r.kfree(mine);
    r.kfree(blocks[0] as number);
    expectKmemError("DOUBLE_FREE", () => r.kfree(blocks[1] as number));
    r.kfree(blocks[2] as number);
    r.verify();
    b.kfree(mine);
    a.offlineCpu(b.cpu);
    a.verify();
  });
});

describe("kmalloc heap: the cache of freed blocks", () => {
  function heap(k: Kmem): KmallocHeap {
    return km(k).heap as KmallocHeap;
  }

  it("a freed block is taken again by the next request of its size; verify() checks the cache", () => {
    const k = mm();
    const keep = k.kmalloc(3000);
    const a = k.kmalloc(3000);
    k.kfree(a);
    assert.equal(heap(k).stats().cached, 3024);
    k.verify();
    const b = k.kmalloc(2990); // same list, no larger than the cached block
    assert.equal(b, a);
    assert.equal(k.ksize(b), 3008);
    assert.equal(heap(k).stats().cached, 0);
    k.kfree(b);
    k.kfree(keep);
    k.verify();
  });

  it("a cached block freed again: DOUBLE_FREE; an address inside it: INVALID_FREE; nothing changes", () => {
    const k = mm();
    const keep = k.kmalloc(3000);
    const a = k.kmalloc(3000);
    k.kfree(a);
    expectKmemError("DOUBLE_FREE", () => k.kfree(a));
    expectKmemError("DOUBLE_FREE", () => k.ksize(a));
    expectKmemError("DOUBLE_FREE", () => k.krealloc(a, 4000));
    for (const bad of [a + 16, a + 32, a - 8, a + 1]) {
      expectKmemError("INVALID_FREE", () => k.kfree(bad));
    }
    k.verify();
    assert.equal(heap(k).stats().cached, 3024);
    assert.equal(k.kmalloc(3000), a);
    k.kfree(keep);
    k.verify();
  });

  it("an overflow into a cached block's header: CORRUPTION when it is taken and at verify()", () => {
    const k = mm();
    const a = k.kmalloc(3000);
    const b = k.kmalloc(3000);
    const c = k.kmalloc(3000);
    k.kfree(b);
    k.memory.fill(0x41, a, a + k.ksize(a) + 8); // 8 bytes into b's header
    expectKmemError("CORRUPTION", () => k.verify());
    expectKmemError("CORRUPTION", () => k.kmalloc(3000));
    assert.equal(k.ksize(c), 3008, "the rest of the heap is served");
  });

  it("is bounded (per bin and in bytes) and emptied by shrinkSlabs", () => {
    const k = mm();
    const blocks: number[] = [];
    const pinned: number[] = [];
    for (let i = 0; i < 40; i++) {
      blocks.push(k.kmalloc(1100 + (i % 3) * 500));
      if (i % 8 === 0) pinned.push(k.kmalloc(1500)); // no chunk empties
    }
    for (const p of blocks) k.kfree(p);
    const s = heap(k).stats();
    assert.ok(s.cached > 0 && s.cached <= CHUNK_BYTES / 4, `cached ${s.cached}`);
    k.verify(); // HEAP-6: at most 4 a bin, the counts right
    k.shrinkSlabs();
    assert.equal(heap(k).stats().cached, 0);
    k.verify();
    for (const p of pinned) k.kfree(p);
    k.verify();
  });

  it("is merged into the free lists before a new chunk is taken", () => {
    const k = mm();
    // The heap's first chunk (16 KiB) holds 5 blocks of 3,024 bytes and a tail too short
    // for 8,000.
    const blocks = Array.from({ length: 5 }, () => k.kmalloc(3000));
    assert.deepEqual([heap(k).stats().chunks, heap(k).stats().bytes], [1, CHUNK_MIN_BYTES]);
    for (const i of [1, 2, 3]) k.kfree(blocks[i] as number);
    assert.equal(heap(k).stats().cached, 3 * 3024);
    const big = k.kmalloc(8000);
    assert.equal(big, blocks[1], "the three cached blocks, merged");
    assert.equal(heap(k).stats().chunks, 1);
    assert.equal(heap(k).stats().cached, 0);
    k.verify();
    k.kfree(big);
    for (const [i, p] of blocks.entries()) if (i === 0 || i === 4) k.kfree(p);
    k.verify();
  });

  it("fail_page_alloc: a request the cache's blocks hold once merged is still served", () => {
    const k = mm();
    const first = Array.from({ length: 12 }, () => k.kmalloc(5000));
    const keep = k.kmalloc(1200);
    for (const p of first.slice(0, 3)) k.kfree(p);
    assert.ok(heap(k).stats().cached > 0);
    k.setFault("fail_page_alloc", {
      probability: 100,
      times: -1,
      verbose: 0,
      ignoreGfpWait: false,
    });
    const p = k.kmalloc(14000);
    k.setFault("fail_page_alloc", null);
    assert.notEqual(p, 0);
    k.verify();
    for (const q of [...first.slice(3), keep, p]) k.kfree(q);
    k.verify();
  });

  it("Kmem.attach and Kmem.reopen see the cached blocks: taken, refused as double frees", () => {
    const a = new Kmem({ memory: 4 << 20, cpus: 2 });
    const keep = a.kmalloc(3000);
    const x = a.kmalloc(3000);
    a.kfree(x);
    const b = Kmem.attach(a.buffer);
    expectKmemError("DOUBLE_FREE", () => b.kfree(x));
    b.verify();
    const copy = new SharedArrayBuffer(a.buffer.byteLength);
    new Uint8Array(copy).set(new Uint8Array(a.buffer));
    const r = Kmem.reopen(copy);
    r.verify();
    assert.equal(r.kmalloc(3000), x, "the reopened instance takes the cached block");
    r.verify();
    assert.equal(b.kmalloc(3000), x, "so does the attached context");
    b.kfree(x);
    b.kfree(keep);
    a.offlineCpu(b.cpu);
    a.verify();
  });

  it("recover() makes every cached block a free block, allocated blocks intact", () => {
    const k = mm();
    const live = Array.from({ length: 6 }, () => k.kmalloc(2000));
    live.forEach((p, i) => stamp(k, p, 2000, i + 1));
    const gone = [k.kmalloc(2000), k.kmalloc(3000), k.kmalloc(4000)];
    for (const p of gone) k.kfree(p);
    assert.ok(heap(k).stats().cached > 0);
    heap(k).recover(0);
    assert.equal(heap(k).stats().cached, 0);
    k.verify();
    live.forEach((p, i) => assert.ok(stamped(k, p, 2000, i + 1)));
    expectKmemError("DOUBLE_FREE", () => k.kfree(gone[0] as number));
    for (const p of live) k.kfree(p);
    k.verify();
  });
});
