/*
 * The McKusick-Karels allocator: the model run, faults, misuse, and what defines it (the size
 * found from the page, not from a header; page-multiple first fit above two pages; pages
 * that never change bucket; per-type limits and waiting callers).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Kmem,
  M_NOWAIT,
  M_WAITOK,
  type McKusickKarelsAllocator,
  type McKusickKarelsOptions,
} from "../../src/index.js";
import { assertMisuse, expectArgumentError, expectKmemError } from "../helpers.js";
import { modelProperty, runUnderFaults } from "./harness.js";

const make = (mm: Kmem): McKusickKarelsAllocator | null => mm.createAllocator("mckusick-karels");

function fresh(options?: McKusickKarelsOptions): { mm: Kmem; a: McKusickKarelsAllocator } {
  const mm = new Kmem({ memory: 4 << 20, minFreeBytes: 0 });
  const a = mm.createAllocator("mckusick-karels", options);
  assert.ok(a !== null);
  return { mm, a };
}

describe("mckusick-karels", () => {
  it("model: random alloc/free/realloc keep contents, never overlap, verify() clean", () => {
    modelProperty(make);
  });

  it("model with single-page arena chunks (every large request a chunk of its own)", () => {
    modelProperty((mm) => mm.createAllocator("mckusick-karels", { arenaChunkPages: 1 }), 30);
  });

  it("under page-allocator faults: failures return 0 and nothing live is lost", () => {
    assert.ok(runUnderFaults(make, 11) > 0);
  });

  it("finds the size from the page: pieces carry no header", () => {
    const { mm, a } = fresh();
    const p = a.alloc(64);
    const q = a.alloc(40); // also the 64-byte bucket
    assert.equal(q, p + 64, "pieces of a bucket are packed, no header between them");
    assert.equal(a.usableSize(p), 64);
    assert.deepEqual(a.pageInfo(p), { kind: "bucket", size: 64, free: 62, pages: 1 });
    // Every byte of both pieces is the caller's: no header to overwrite.
    mm.memory.fill(0xff, p, p + 128);
    a.free(q);
    a.free(p);
    assert.deepEqual(a.pageInfo(p), { kind: "bucket", size: 64, free: 64, pages: 1 });
    a.verify();
    // A power of two costs exactly itself (4.2BSD's header would have doubled it).
    const r = a.alloc(1024);
    assert.equal(a.usableSize(r), 1024);
    assert.deepEqual(a.pageInfo(r), { kind: "bucket", size: 1024, free: 3, pages: 1 });
  });

  it("serves up to two pages from buckets, larger requests in whole pages, first fit", () => {
    const { a } = fresh();
    const two = a.alloc(8192);
    assert.deepEqual(a.pageInfo(two), { kind: "bucket", size: 8192, free: 0, pages: 2 });
    const five = a.alloc(5 * 4096 - 100);
    assert.deepEqual(a.pageInfo(five), { kind: "large", size: 5 * 4096, free: 0, pages: 5 });
    assert.equal(a.usableSize(five), 5 * 4096, "5 pages, not 8");
    const three = a.alloc(3 * 4096);
    a.free(five);
    // First fit: the freed 5-page run is the first that holds 4 pages.
    const four = a.alloc(4 * 4096);
    assert.equal(four, five);
    a.free(three);
    a.free(four);
    a.verify();
    // The large pages coalesced with the rest of their chunk; only the bucket page pins it.
    const s = a.stats();
    assert.equal(s.arena.freeRuns, 1);
    assert.equal(s.arena.chunks, 1);
    a.free(two);
    a.verify();
  });

  it("gives an arena chunk back when all of its pages are free, never a bucket's page", () => {
    const { mm, a } = fresh();
    const pagesBefore = mm.stats().freePages;
    const big = a.alloc(20 * 4096); // its own chunk of 32 pages
    assert.equal(a.stats().arena.chunks, 1);
    a.free(big);
    assert.equal(a.stats().arena.chunks, 0);
    // All back to the page allocator but a page of kmemusage, the table's spare.
    assert.equal(mm.stats().freePages, pagesBefore - 1);
    const small = Array.from({ length: 64 }, () => a.alloc(64));
    for (const p of small) a.free(p);
    const s = a.stats();
    assert.equal(s.arena.chunks, 1, "the bucket's page keeps its chunk");
    assert.deepEqual(
      s.buckets.map((b) => [b.size, b.total, b.free]),
      [[64, 64, 64]],
    );
    a.verify();
  });

  it("counts per type and holds each to its limit: M_NOWAIT gets 0, M_WAITOK is served", () => {
    const { a } = fresh({ types: [{ name: "temp" }, { name: "namei", limit: 2048 }] });
    const got = [a.malloc(1024, 1), a.malloc(1024, 1)];
    assert.ok(got.every((p) => p !== 0));
    assert.equal(a.malloc(16, 1, M_NOWAIT), 0, "at its limit");
    const waited = a.malloc(16, 1, M_WAITOK);
    assert.notEqual(waited, 0, "a waiting caller always succeeds");
    const namei = a.stats().types[1];
    assert.deepEqual(
      [namei?.inUse, namei?.memUse, namei?.atLimit, namei?.limBlocks],
      [3, 2064, 1, 1],
    );
    for (const p of got) a.free(p, 1);
    a.free(waited, 1);
    assert.equal(a.stats().types[1]?.memUse, 0);
    assert.equal(a.stats().types[1]?.maxUsed, 2064);
    a.verify();
    // A free given the wrong type skews the counts: verify() says so.
    const p = a.malloc(100, 1);
    a.free(p, 0);
    expectKmemError("CORRUPTION", () => a.verify());
  });

  it("waiting callers dip into the reserve (__GFP_NOFAIL) where others fail", () => {
    // 2 MiB: with 1 MiB, whether the reserve holds four free pages in one block depends on
    // how many pages the cache descriptors take.
    const mm = new Kmem({ memory: 2 << 20 });
    const a = mm.createAllocator("mckusick-karels");
    assert.ok(a !== null);
    const held: number[] = [];
    while (true) {
      const p = a.alloc(16384);
      if (p === 0) break;
      held.push(p);
    }
    assert.equal(a.malloc(16384, 0, M_NOWAIT), 0);
    assert.notEqual(a.malloc(16384, 0, M_WAITOK), 0);
    a.verify();
  });

  it("realloc stays in place within a bucket or the same pages, moves otherwise", () => {
    const { mm, a } = fresh();
    const p = a.alloc(100);
    mm.memory.fill(7, p, p + 100);
    assert.equal(a.realloc(p, 128), p);
    const q = a.realloc(p, 129);
    assert.notEqual(q, p);
    assert.ok(mm.memory.subarray(q, q + 100).every((x) => x === 7));
    const big = a.alloc(3 * 4096);
    assert.equal(a.realloc(big, 3 * 4096 - 500), big);
    assert.notEqual(a.realloc(big, 4 * 4096), big);
    a.verify();
  });
});

describe("mckusick-karels misuse", () => {
  it("refuses what is not the start of a piece or a large allocation, changing nothing", () => {
    const { mm, a } = fresh();
    const p = a.alloc(64);
    const big = a.alloc(3 * 4096);
    const two = a.alloc(8192);
    const page = mm.allocPages(0);
    for (const bad of [p + 8, p + 1, big + 4096, big + 64, two + 4096, page, 0, mm.memory.length]) {
      assertMisuse(mm, "INVALID_FREE", () => a.free(bad), true);
    }
    assertMisuse(mm, "INVALID_FREE", () => a.usableSize(p + 4), true);
    a.free(big);
    assertMisuse(mm, "DOUBLE_FREE", () => a.free(big), true);
    a.free(two);
    assertMisuse(mm, "DOUBLE_FREE", () => a.free(two), true);
    a.verify();
  });

  it("finds a double free when the page's free count would pass its pieces (4.3BSD's panic)", () => {
    const { mm, a } = fresh();
    const p = a.alloc(2048); // 2 pieces a page
    const q = a.alloc(2048);
    a.free(p);
    // Undetectable while q is allocated: the page's count stays within its pieces.
    a.free(q);
    assertMisuse(mm, "DOUBLE_FREE", () => a.free(q), true);
    a.verify();
  });

  it("rejects malformed arguments", () => {
    const { a } = fresh();
    expectArgumentError(TypeError, /size must be a non-negative integer/, () => a.alloc(0.5));
    expectArgumentError(RangeError, /type must be an integer in 0\.\.0/, () => a.malloc(8, 1));
    expectArgumentError(RangeError, /flags must be M_WAITOK/, () => a.malloc(8, 0, 2));
    expectArgumentError(RangeError, /type must be/, () => a.free(a.alloc(8), 3));
    expectArgumentError(RangeError, /arenaChunkPages must be a power of two/, () =>
      new Kmem({ memory: 1 << 20 }).createAllocator("mckusick-karels", { arenaChunkPages: 3 }),
    );
    expectArgumentError(TypeError, /unknown option "chunk"/, () =>
      new Kmem({ memory: 1 << 20 }).createAllocator("mckusick-karels", {
        chunk: 1,
      } as unknown as McKusickKarelsOptions),
    );
  });
});
