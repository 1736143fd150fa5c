/*
 * Arenas importing spans from a source (vmem_create with a source, or import/release
 * functions of one's own): import sizes and alignment, minImport, release of a span that
 * is all free again, constrained requests that do not import, failing and broken imports,
 * and a three-level hierarchy.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ResourceMap, VmemArena } from "../../src/index.js";
import { snapshot } from "./helpers.js";

const PAGE = 4096;

function hierarchy(minImport = 0) {
  const heap = new VmemArena({ name: "heap", base: 0, size: 1 << 20, quantum: PAGE });
  const child = new VmemArena({
    name: "child",
    base: 0,
    size: 0,
    quantum: 16,
    source: heap,
    minImport,
  });
  return { heap, child };
}

describe("vmem import and release", () => {
  it("imports a span when it has no room, and releases it when all of it is free", () => {
    const { heap, child } = hierarchy();
    assert.equal(child.stats().total, 0);
    const x = child.alloc(100);
    assert.equal(x, 0);
    assert.equal(child.stats().imported, PAGE, "one page, the source's quantum");
    assert.equal(heap.stats().inUse, PAGE);
    const y = child.alloc(4000);
    assert.equal(y, PAGE, "3984 units left in the first span are not enough: a second import");
    const z = child.alloc(1000);
    assert.ok(z > 0 && z + 1000 <= 2 * PAGE, "from what the imports left");
    assert.equal(child.stats().imports, 2);
    child.free(x, 100);
    assert.equal(child.stats().releases, 0, "z still holds the first span");
    child.free(z, 1000);
    child.free(y, 4000);
    assert.equal(child.stats().releases, 2);
    assert.equal(child.stats().total, 0);
    assert.equal(heap.stats().inUse, 0, "every page back in the source");
    child.verify();
    heap.verify();
  });

  it("imports at least minImport", () => {
    const { heap, child } = hierarchy(65536);
    child.alloc(16);
    assert.equal(child.stats().imported, 65536);
    assert.equal(heap.stats().inUse, 65536);
  });

  it("imports enough to honour an alignment larger than the source's quantum", () => {
    const { heap, child } = hierarchy();
    const t = child.xalloc(100, { align: 4 * PAGE, phase: 32 });
    assert.equal(t % (4 * PAGE), 32);
    // 112 + 16384 - 16 (the phase is not a multiple of the source's quantum), in pages.
    assert.equal(child.stats().imported, 5 * PAGE);
    child.xfree(t, 100);
    assert.equal(heap.stats().inUse, 0);
  });

  it("does not import for requests constrained by nocross, minaddr or maxaddr", () => {
    const { child } = hierarchy();
    assert.equal(child.xalloc(16, { nocross: 256 }), -1);
    assert.equal(child.xalloc(16, { minaddr: 16 }), -1);
    assert.equal(child.xalloc(16, { maxaddr: 1 << 20 }), -1);
    assert.equal(child.stats().imports, 0);
    assert.equal(child.stats().fails, 3);
    assert.ok(child.xalloc(16, { align: 64 }) >= 0, "alignment alone does import");
  });

  it("fails with -1 when the source has nothing left", () => {
    const heap = new VmemArena({ name: "heap", base: 0, size: 2 * PAGE, quantum: PAGE });
    const child = new VmemArena({ name: "child", base: 0, size: 0, quantum: 16, source: heap });
    assert.equal(child.alloc(PAGE), 0);
    assert.equal(child.alloc(PAGE), PAGE);
    assert.equal(child.alloc(16), -1);
    assert.equal(heap.stats().fails, 1);
    child.verify();
  });

  it("imports through functions of its own (here from a resource map)", () => {
    const map = new ResourceMap({ base: 1 << 16, size: 1 << 16 });
    const released: [number, number][] = [];
    const arena = new VmemArena({
      name: "over-rmap",
      base: 0,
      size: 0,
      quantum: 64,
      importFn: (n) => map.alloc(n),
      releaseFn: (start, n) => {
        released.push([start, n]);
        map.free(start, n);
      },
    });
    const t = arena.alloc(1000);
    assert.equal(t, 1 << 16);
    assert.equal(map.available, (1 << 16) - 1024);
    arena.free(t, 1000);
    assert.deepEqual(released, [[1 << 16, 1024]]);
    assert.equal(map.available, 1 << 16);
  });

  it("refuses what a broken import function returns, with the arena unchanged", () => {
    const arena = new VmemArena({
      name: "broken",
      base: 0,
      size: 64,
      quantum: 16,
      importFn: () => 24,
    });
    arena.alloc(64);
    const before = snapshot(arena);
    assert.throws(
      () => arena.alloc(16),
      /import of 16 returned 24, not -1 or a start aligned to 16/,
    );
    assert.deepEqual(snapshot(arena), before);
    const overlapping = new VmemArena({
      name: "o",
      base: 0,
      size: 64,
      quantum: 16,
      importFn: () => 32,
    });
    overlapping.alloc(64);
    assert.throws(() => overlapping.alloc(16), /import of \[32, 48\) overlaps the span \[0, 64\)/);
    overlapping.verify();
  });

  it("releases through three levels", () => {
    const heap = new VmemArena({ name: "heap", base: 1 << 30, size: 1 << 24, quantum: PAGE });
    const va = new VmemArena({
      name: "va",
      base: 0,
      size: 0,
      quantum: PAGE,
      source: heap,
      minImport: 16 * PAGE,
    });
    const small = new VmemArena({ name: "small", base: 0, size: 0, quantum: 8, source: va });
    const got = Array.from({ length: 100 }, (_, i) => small.alloc(8 + i * 8));
    assert.ok(got.every((t) => t >= 1 << 30));
    assert.equal(va.stats().imported % (16 * PAGE), 0);
    got.forEach((t, i) => small.free(t, 8 + i * 8));
    for (const a of [small, va, heap]) a.verify();
    assert.equal(small.stats().total, 0);
    assert.equal(va.stats().total, 0);
    assert.equal(heap.stats().inUse, 0);
  });

  it("keeps a span the next-fit rotor sits beside until the rotor moves or destroy()", () => {
    const { heap, child } = hierarchy();
    const child2 = new VmemArena({
      name: "nf",
      base: 0,
      size: 0,
      quantum: 16,
      source: heap,
      policy: "nextfit",
    });
    const a = child2.alloc(16);
    const b = child2.alloc(16);
    child2.free(a, 16);
    child2.free(b, 16);
    assert.equal(child2.stats().imported, PAGE, "the rotor after b keeps the span");
    child2.verify();
    child2.destroy();
    assert.equal(child2.stats().imported, 0);
    assert.equal(heap.stats().inUse, 0);
    assert.equal(child.stats().total, 0);
  });
});
