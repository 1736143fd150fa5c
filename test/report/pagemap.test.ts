/*
 * The page map: every frame's kind agrees with the counters the allocators keep (free pages,
 * per-cpu pages, slab, vmalloc and page-table pages), blocks are marked whole with their
 * order, slabs carry their cache and fill, and a NUMA hole is a hole.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Kmem, PAGE_KIND_NAMES, PageKind, type PageMap } from "../../src/index.js";
import type { KmallocApi } from "../../src/kmalloc/index.js";

function count(map: PageMap, kind: number): number {
  let n = 0;
  for (const k of map.kind) if (k === kind) n++;
  return n;
}

/** The map agrees with stats(): every counter the allocators keep, frame for frame. */
function assertAgrees(mm: Kmem, map: PageMap): void {
  const s = mm.stats();
  assert.equal(map.totalPages, mm.totalPages);
  assert.equal(map.kind.length, mm.totalPages);
  // stats() counts the holes between NUMA windows as reserved: frames with no memory.
  assert.equal(count(map, PageKind.RESERVED) + count(map, PageKind.HOLE), s.reservedPages);
  assert.equal(count(map, PageKind.FREE), s.buddyFreePages);
  assert.equal(count(map, PageKind.PCP), s.pcpPages);
  assert.equal(count(map, PageKind.SLAB) + count(map, PageKind.SLOB), s.slabPages);
  assert.equal(count(map, PageKind.VMALLOC), s.vmallocPages);
  assert.equal(count(map, PageKind.KMALLOC_CACHED), s.kmallocCachedPages);
  // A heap chunk's frames: its allocated blocks' bytes, the sum of every chunk's the heap's.
  const heap = (mm as unknown as { km: KmallocApi }).km.heapStats?.() ?? null;
  let chunks = 0;
  let used = 0;
  for (let pfn = 0; pfn < map.totalPages; pfn++) {
    if (map.kind[pfn] !== PageKind.KHEAP) continue;
    if (pfn % 2 ** (map.order[pfn] as number) === 0) {
      chunks++;
      used += (map.used[pfn] as number) * 16;
    }
    assert.equal(map.capacity[pfn], (map.pageSize * 2 ** (map.order[pfn] as number)) / 16);
  }
  assert.equal(chunks, heap?.chunks ?? 0, "one head frame per chunk");
  assert.equal(used, heap?.used ?? 0, "the chunks' blocks in 16-byte units");
  assert.equal(count(map, PageKind.PGTABLE), s.pageTablePages);
  // Free blocks per order: the buddyinfo numbers, counted from the map's head frames.
  const blocks = new Array<number>(mm.maxOrder).fill(0);
  for (let pfn = 0; pfn < map.totalPages;) {
    const o = map.order[pfn] as number;
    if (map.kind[pfn] === PageKind.FREE) {
      assert.equal(pfn % 2 ** o, 0, `free block at ${pfn} aligned to its order ${o}`);
      blocks[o] = (blocks[o] as number) + 1;
      pfn += 2 ** o;
    } else pfn++;
  }
  assert.deepEqual(blocks, s.freeByOrder);
}

describe("pageMap", () => {
  it("a fresh instance: the header and mem_map reserved, the rest free but the boot slab", () => {
    const mm = new Kmem({ memory: 4 << 20 });
    const map = mm.pageMap();
    assertAgrees(mm, map);
    assert.equal(map.firstManagedPfn, mm.totalPages - mm.managedPages);
    assert.equal(map.pageSize, 4096);
    assert.deepEqual(
      map.caches.map((c) => c.name),
      ["kmem_cache"],
    );
    assert.equal(PAGE_KIND_NAMES[PageKind.SLAB], "slab");
    assert.equal(PAGE_KIND_NAMES.length, Object.keys(PageKind).length);
  });

  it("allocPages, large kmalloc, vmalloc: whole blocks of their kind and order", () => {
    const mm = new Kmem({ memory: 8 << 20 });
    const pages = mm.allocPages(3);
    const large = mm.kmalloc(5 * 4096); // above the kmalloc heap's largest block
    const v = mm.vmalloc(64 * 1024);
    const map = mm.pageMap();
    assertAgrees(mm, map);
    const at = (addr: number): number => addr >>> 12;
    for (let k = 0; k < 8; k++) {
      assert.equal(map.kind[at(pages) + k], PageKind.PAGES);
      assert.equal(map.order[at(pages) + k], 3);
    }
    // Five pages: the last three of the order-3 block went back (alloc_pages_exact).
    for (let k = 0; k < 5; k++) assert.equal(map.kind[at(large) + k], PageKind.KMALLOC);
    assert.notEqual(map.kind[at(large) + 5], PageKind.KMALLOC);
    assert.equal(map.kind[at(mm.virtToPhys(v))], PageKind.VMALLOC);
    assert.equal(count(map, PageKind.VMALLOC), 16);
    assert.ok(count(map, PageKind.PGTABLE) >= 1);
    mm.vfree(v);
    mm.kfree(large);
    mm.freePages(pages, 3);
    mm.shrinkSlabs(); // the freed large run, kept in kmalloc's large-run cache
    mm.drainPages();
    const after = mm.pageMap();
    assertAgrees(mm, after);
    assert.equal(count(after, PageKind.VMALLOC), 0);
    assert.equal(count(after, PageKind.KMALLOC), 0);
    assert.equal(count(after, PageKind.PAGES), 0);
  });

  it("the kmalloc heap's chunks with their fill, and freed large runs kept for reuse", () => {
    const mm = new Kmem({ memory: 8 << 20 });
    const blocks = Array.from({ length: 20 }, (_, i) => mm.kmalloc(1500 + 100 * i));
    const run = mm.kmalloc(6 * 4096); // six pages: a large run
    const map = mm.pageMap();
    assertAgrees(mm, map);
    const chunk = (blocks[0] as number) >>> 12;
    const head = chunk - (chunk % 2 ** (map.order[chunk] as number));
    assert.equal(map.kind[head], PageKind.KHEAP);
    assert.ok(
      (map.used[head] as number) > 0 && (map.used[head] as number) < (map.capacity[head] as number),
    );
    assert.equal(map.kind[run >>> 12], PageKind.KMALLOC);
    // Freed: the run stays whole in the large-run cache (not free to the page allocator),
    // and the chunk's fill falls with its blocks.
    mm.kfree(run);
    for (const b of blocks.slice(1, 4)) mm.kfree(b); // blocks[0]'s neighbours in its chunk
    const after = mm.pageMap();
    assertAgrees(mm, after);
    for (let k = 0; k < 6; k++) assert.equal(after.kind[(run >>> 12) + k], PageKind.KMALLOC_CACHED);
    assert.equal(count(after, PageKind.KMALLOC_CACHED), 6);
    assert.ok((after.used[head] as number) < (map.used[head] as number));
    // Dropped by shrink: free pages again.
    mm.shrinkSlabs();
    const shrunk = mm.pageMap();
    assertAgrees(mm, shrunk);
    assert.equal(count(shrunk, PageKind.KMALLOC_CACHED), 0);
    for (const b of [blocks[0] as number, ...blocks.slice(4)]) mm.kfree(b);
    mm.shrinkSlabs();
    assertAgrees(mm, mm.pageMap());
    mm.verify();
  });

  it("a SLUB slab names its cache and how many of its objects are in use", () => {
    // No per-cpu caching: frees go straight back to their slab, so inuse is exact.
    const mm = new Kmem({ memory: 8 << 20, percpu: false });
    const objs: number[] = [];
    for (let i = 0; i < 64; i++) objs.push(mm.kmalloc(512));
    const slabOf = (addr: number): number => addr >>> 12;
    const first = slabOf(objs[0] as number);
    const map = mm.pageMap();
    assertAgrees(mm, map);
    const c = map.caches.find((x) => x.id === map.cache[first]);
    assert.equal(c?.name, "kmalloc-512");
    assert.equal(map.kind[first], PageKind.SLAB);
    const perSlab = map.capacity[first] as number;
    assert.equal(perSlab, c?.objectsPerSlab);
    // Free every object of the first object's slab but that one: its slab keeps one in use.
    const head = first - (first % 2 ** (map.order[first] as number));
    const mates = objs.filter((a) => {
      const p = slabOf(a);
      return p - (p % 2 ** (map.order[first] as number)) === head;
    });
    assert.equal(mates.length, perSlab, "the slab was filled");
    for (const a of mates.slice(1)) mm.kfree(a);
    const after = mm.pageMap();
    assertAgrees(mm, after);
    for (let k = 0; k < 2 ** (after.order[head] as number); k++) {
      assert.equal(after.used[head + k], 1);
      assert.equal(after.capacity[head + k], perSlab);
      assert.equal(after.cache[head + k], map.cache[first]);
    }
  });

  it("SLOB pages: units in use of the page's units; a big object's block names its cache", () => {
    const mm = new Kmem({ memory: 4 << 20, slab: "slob" });
    const a = mm.kmalloc(100);
    const map = mm.pageMap();
    assertAgrees(mm, map);
    const pfn = a >>> 12;
    assert.equal(map.kind[pfn], PageKind.SLOB);
    assert.equal(map.capacity[pfn], 2048);
    assert.ok((map.used[pfn] as number) >= 52, `${map.used[pfn]} units in use`);
    const big = mm.createCache("big", 6000);
    const obj = big?.alloc() ?? 0;
    const m2 = mm.pageMap();
    assertAgrees(mm, m2);
    assert.equal(m2.kind[obj >>> 12], PageKind.SLOB);
    assert.equal(m2.caches.find((c) => c.id === m2.cache[obj >>> 12])?.name, "big");
    assert.equal(m2.used[obj >>> 12], 1);
  });

  it("zsmalloc pages are its own", () => {
    const mm = new Kmem({ memory: 4 << 20 });
    const pool = mm.createZsPool("pages");
    const handles: number[] = [];
    for (let i = 0; i < 64; i++) handles.push(pool?.malloc(1000) ?? 0);
    const map = mm.pageMap();
    assertAgrees(mm, map);
    assert.ok(count(map, PageKind.ZSMALLOC) >= 16, `${count(map, PageKind.ZSMALLOC)} zspage pages`);
    for (const h of handles) pool?.free(h);
    const after = mm.pageMap();
    assertAgrees(mm, after);
    assert.ok(count(after, PageKind.ZSMALLOC) < count(map, PageKind.ZSMALLOC));
  });

  it("NUMA nodes in buffers of their own: the frames between windows are holes", () => {
    const mm = new Kmem({ nodes: [3 << 20, 2 << 20] });
    const map = mm.pageMap();
    assertAgrees(mm, map);
    assert.ok(count(map, PageKind.HOLE) > 0);
    assert.equal(count(map, PageKind.HOLE) + mm.managedPages + map.firstManagedPfn, mm.totalPages);
  });

  it("agrees with the counters after any sequence of page, kmalloc and vmalloc calls", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 20000 })), {
          maxLength: 60,
        }),
        (ops) => {
          const mm = new Kmem({ memory: 4 << 20 });
          const live: [number, number][] = [];
          for (const [op, n] of ops) {
            if (op === 0) {
              const a = mm.allocPages(n % 4);
              if (a !== 0) live.push([0, a + (n % 4)]);
            } else if (op === 1) {
              const a = mm.kmalloc(n);
              if (a !== 0) live.push([1, a]);
            } else if (op === 2) {
              const a = mm.vmalloc(n);
              if (a !== 0) live.push([2, a]);
            } else if (live.length > 0) {
              const [kind, a] = live.splice(n % live.length, 1)[0] as [number, number];
              if (kind === 0) mm.freePages(a - (a & 3), a & 3);
              else if (kind === 1) mm.kfree(a);
              else mm.vfree(a);
            }
          }
          assertAgrees(mm, mm.pageMap());
        },
      ),
      { numRuns: 40 },
    );
  });
});
