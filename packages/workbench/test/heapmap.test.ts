/*
 * The heap map: snapshots at the ops asked for, decoded back to what was seen (pages of a
 * kmem layer, blocks of a peer's heap), a size that depends on the snapshots and not on the
 * ops, and at most MAX_CELLS cells whatever the memory.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { findAllocator } from "../src/allocators.js";
import { CELL_KIND_NAMES, CellKind, decodeHeapMap, MAX_CELLS } from "../src/heapmap.js";
import { replay } from "../src/replay.js";
import { findWorkload } from "../src/workloads/index.js";

const MiB = 2 ** 20;
const opts = { memoryBytes: 16 * MiB, timingScale: 0.02, heapMapFrames: 10 };

function kinds(cells: Uint16Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const v of cells) m.set(v >>> 12, (m.get(v >>> 12) ?? 0) + 1);
  return m;
}

describe("heap map", () => {
  it("a kmem layer: pages by owner, slabs by cache, the payload peak among the snapshots", async () => {
    const source = findWorkload("kernel-mix").generate(6000, 1);
    const { detail, result } = await replay(source, findAllocator("slub"), opts);
    const m = detail.heapMap;
    assert.ok(m !== null);
    assert.equal(m.view, "pages");
    assert.equal(m.cells, 4096);
    assert.equal(m.cellBytes, 4096);
    const frames = decodeHeapMap(m, gunzipSync);
    assert.equal(frames.length, m.samples.op.length);
    assert.ok(frames.length >= 11 && frames.length <= 13, `${frames.length} snapshots`);
    assert.equal(m.samples.op[0], 0);
    assert.equal(m.samples.op.at(-1), result.ops);
    assert.equal(m.samples.op[m.peakSample], source.info.peakPayloadOp);
    assert.equal(m.samples.payloadBytes[m.peakSample], source.info.peakPayloadBytes);
    const first = kinds(frames[0] as Uint16Array);
    const peak = kinds(frames[m.peakSample] as Uint16Array);
    assert.ok((first.get(CellKind.RESERVED) ?? 0) > 0);
    assert.ok((peak.get(CellKind.SLAB) ?? 0) > (first.get(CellKind.SLAB) ?? 0));
    assert.ok(
      m.caches.some((c) => c.startsWith("kmalloc-")),
      m.caches.join(" "),
    );
    // Slab cells name a cache the series lists.
    for (const v of frames[m.peakSample] as Uint16Array) {
      if (v >>> 12 === CellKind.SLAB) assert.ok((v & 0xff) >= 1 && (v & 0xff) <= m.caches.length);
    }
    // Free pages and buddyinfo agree in every snapshot.
    m.samples.freeByOrder.forEach((blocks, i) => {
      const pages = blocks.reduce((s, n, o) => s + n * 2 ** o, 0);
      assert.ok(pages * 4096 <= (m.samples.freeBytes[i] as number));
    });
  });

  it("a kmem layer: the kmalloc heap's chunks by their fill, freed large runs kept cached", async () => {
    // Rounds of 24 .. 65,600-byte blocks: 1,040 and 4,100 bytes from the heap, 16,400 and
    // 65,600 bytes as large runs, which the large-run cache keeps once freed.
    const source = findWorkload("fragmenter").generate(6000, 1);
    const { detail } = await replay(source, findAllocator("slub"), opts);
    const m = detail.heapMap;
    assert.ok(m !== null);
    const frames = decodeHeapMap(m, gunzipSync);
    const seen = new Map<number, number>();
    const fills = new Set<number>();
    for (const f of frames) {
      for (const v of f) {
        seen.set(v >>> 12, (seen.get(v >>> 12) ?? 0) + 1);
        if (v >>> 12 === CellKind.KHEAP) fills.add((v >>> 8) & 15);
      }
    }
    assert.ok((seen.get(CellKind.KHEAP) ?? 0) > 0, "heap chunks");
    assert.ok((seen.get(CellKind.KMALLOC_CACHED) ?? 0) > 0, "cached large runs");
    assert.ok((seen.get(CellKind.KMALLOC) ?? 0) > 0, "large runs in use");
    assert.ok(fills.size > 1, `heap chunks at several fills: ${[...fills].join(" ")}`);
    assert.ok([...fills].some((x) => x > 0));
  });

  it("the kinds fit a cell's four bits, named one by one", () => {
    assert.equal(CELL_KIND_NAMES.length, Object.keys(CellKind).length);
    assert.ok(CELL_KIND_NAMES.length <= 16);
    assert.deepEqual(
      Object.values(CellKind).sort((a, b) => a - b),
      CELL_KIND_NAMES.map((_, i) => i),
    );
  });

  it("a peer: live blocks, its own free blocks, and what lies past its top", async () => {
    const source = findWorkload("fragmenter").generate(6000, 1);
    const { detail } = await replay(source, findAllocator("@thi.ng/malloc"), opts);
    const m = detail.heapMap;
    assert.ok(m !== null);
    assert.equal(m.view, "heap");
    const frames = decodeHeapMap(m, gunzipSync);
    const peak = kinds(frames[m.peakSample] as Uint16Array);
    assert.ok((peak.get(CellKind.USED) ?? 0) > 0);
    assert.ok((peak.get(CellKind.UNTOUCHED) ?? 0) > 0, "16 MiB is more than the heap reached");
    const end = kinds(frames.at(-1) as Uint16Array);
    assert.ok((end.get(CellKind.FREE) ?? 0) + (end.get(CellKind.UNTOUCHED) ?? 0) > 0);
    assert.ok(
      m.samples.freeBytes.some((b) => b > 0),
      "the free list is read",
    );
  });

  it("its size depends on the snapshots, not on the ops", async () => {
    const series = await Promise.all(
      [3000, 30_000].map(async (n) => {
        const { detail } = await replay(
          findWorkload("random").generate(n, 2),
          findAllocator("slub"),
          {
            ...opts,
            timed: false,
          },
        );
        return detail.heapMap;
      }),
    );
    for (const m of series) assert.ok(m !== null && m.samples.op.length <= 13);
  });

  it("large memories: at most MAX_CELLS cells, several pages to a cell", async () => {
    const source = findWorkload("random").generate(2000, 1);
    const { detail } = await replay(source, findAllocator("buddy"), {
      ...opts,
      memoryBytes: 256 * MiB,
      timed: false,
      heapMapFrames: 2,
    });
    const m = detail.heapMap;
    assert.ok(m !== null);
    assert.equal(m.cells, MAX_CELLS);
    assert.equal(m.cellBytes, 4 * 4096);
    assert.equal(decodeHeapMap(m, gunzipSync).length, m.samples.op.length);
  });
});
