/* SLUB's reserve of empty slabs: kept within its bound, counted in stats, taken before the
 * page allocator, given back by shrink() and under memory pressure, checked by verify()
 * (SLAB-11) and rebuilt from mem_map. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GFP_KERNEL, Kmem, SLAB_NO_MERGE, type KmemCache } from "../../src/index.js";
import { NodeRec, nodeRecIndex, RESERVE_MAX, reserveBound } from "../../src/slub/layout.js";
import { recoverNode } from "../../src/slub/recover.js";
import type { SlubAllocator } from "../../src/slub/index.js";

const MiB = 1 << 20;

function setup(memory = 8 * MiB, cpus?: number) {
  const mm = new Kmem({ memory, minFreeBytes: 0, ...(cpus === undefined ? {} : { cpus }) });
  const c = mm.createCache("r256", 256, { flags: SLAB_NO_MERGE });
  assert.ok(c !== null);
  const info = () => {
    const x = mm.stats().caches.find((y) => y.name === "r256");
    assert.ok(x !== undefined);
    return x;
  };
  return { mm, c, info };
}

/** Allocates `n` objects of `c`, then frees them all. */
function wave(c: KmemCache, n: number): void {
  const objs: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = c.alloc(GFP_KERNEL);
    assert.notEqual(a, 0);
    objs.push(a);
  }
  for (const a of objs) c.free(a);
}

describe("SLUB: the reserve of empty slabs", () => {
  it("keeps empty slabs up to its bound, counted in stats, and reuses them before new ones", () => {
    const { mm, c, info } = setup();
    const perSlab = info().objectsPerSlab;
    const slabs = 320;
    wave(c, slabs * perSlab);
    const kept = info().emptySlabs as number;
    // The bound: a sixteenth of the slabs the cache had as it emptied (more than min_partial).
    assert.ok(kept > 10 && kept <= RESERVE_MAX, `${kept} empty slabs kept`);
    assert.ok(info().slabs >= kept, "the reserve's slabs count among the cache's slabs");
    assert.ok(info().slabs <= kept + 3, `${info().slabs} slabs left beside ${kept} in reserve`);
    mm.verify();
    // A second, smaller wave takes the reserve's slabs: no slab from the page allocator.
    const made = mm.stats().events.slab_new as number;
    wave(c, Math.floor(kept / 2) * perSlab);
    assert.equal(mm.stats().events.slab_new, made, "the wave was served from the reserve");
    mm.verify();
  });

  it("bounds the reserve: min_partial's rule, a sixteenth of the slabs, at most RESERVE_MAX", () => {
    assert.equal(reserveBound(5, 0, 0), 5);
    assert.equal(reserveBound(5, 3, 8), 2);
    assert.equal(reserveBound(5, 9, 16), 1);
    assert.equal(reserveBound(5, 9, 160), 10);
    assert.equal(reserveBound(5, 9, 320), 20);
    assert.equal(reserveBound(10, 0, 100_000), RESERVE_MAX);
    const { mm, c, info } = setup(32 * MiB);
    wave(c, 2200 * info().objectsPerSlab);
    assert.equal(info().emptySlabs, RESERVE_MAX);
    mm.verify();
  });

  it("shrink() and shrinkSlabs() give the reserve back", () => {
    const { mm, c, info } = setup();
    wave(c, 100 * info().objectsPerSlab);
    const kept = info().emptySlabs as number;
    assert.ok(kept > 0);
    const free = mm.stats().freePages;
    const pages = c.shrink();
    assert.ok(pages >= kept * info().pagesPerSlab, `${pages} pages given back`);
    assert.equal(info().emptySlabs, 0);
    assert.equal(info().slabs, 0);
    assert.equal(mm.stats().freePages, free + pages);
    mm.verify();
    wave(c, 100 * info().objectsPerSlab);
    assert.ok((info().emptySlabs as number) > 0);
    assert.ok(mm.shrinkSlabs() > 0);
    assert.equal(info().emptySlabs, 0);
    mm.verify();
  });

  it("is given back under memory pressure (the shrinker, from direct reclaim)", () => {
    const { mm, c, info } = setup(4 * MiB);
    wave(c, 200 * info().objectsPerSlab);
    assert.ok((info().emptySlabs as number) > 0);
    // Take every free page: the last allocations need the reserve's pages.
    const pages: number[] = [];
    for (;;) {
      const p = mm.allocPages(0, GFP_KERNEL);
      if (p === 0) break;
      pages.push(p);
    }
    assert.equal(info().emptySlabs, 0, "reclaim emptied the reserve");
    mm.verify();
    for (const p of pages) mm.freePages(p, 0);
    mm.verify();
  });

  it("serves slabs from the reserve while the page allocator fails (fail_page_alloc)", () => {
    const { mm, c, info } = setup();
    wave(c, 40 * info().objectsPerSlab);
    const kept = info().emptySlabs as number;
    assert.ok(kept > 2);
    mm.setFault("fail_page_alloc", { probability: 100, times: -1 });
    const objs: number[] = [];
    for (;;) {
      const a = c.alloc(GFP_KERNEL);
      if (a === 0) break;
      objs.push(a);
    }
    mm.setFault("fail_page_alloc", null);
    // Every slab of the reserve was used, and the cpu slab's objects before them.
    assert.ok(objs.length >= kept * info().objectsPerSlab, `${objs.length} objects`);
    assert.equal(info().emptySlabs, 0);
    mm.verify();
    for (const a of objs) c.free(a);
    assert.ok((info().emptySlabs as number) > 0);
    mm.verify();
  });

  it("verify() reports a reserve count or a reserve bit that is wrong (SLAB-11)", () => {
    const { mm, c, info } = setup();
    wave(c, 40 * info().objectsPerSlab);
    assert.ok((info().emptySlabs as number) > 0);
    const at = nodeRecIndex(1, 0, NodeRec.NR_EMPTY);
    const saved = c.dv[at] as number;
    c.dv[at] = saved + 1;
    assert.throws(() => mm.verify(), /SLAB-11/);
    c.dv[at] = saved;
    mm.verify();
    c.dv[at] = RESERVE_MAX + 1;
    assert.throws(() => mm.verify(), /SLAB-11/);
    c.dv[at] = saved;
    mm.verify();
  });

  it("holds its state in the memory: another context attached sees it and takes from it", () => {
    const { mm, c, info } = setup(8 * MiB, 2);
    wave(c, 60 * info().objectsPerSlab);
    const kept = info().emptySlabs as number;
    assert.ok(kept > 0);
    const other = Kmem.attach(mm.buffer);
    const oc = other.findCache("r256");
    assert.ok(oc !== null);
    const made = other.stats().events.slab_new as number;
    const a = oc.alloc(GFP_KERNEL);
    assert.notEqual(a, 0);
    assert.equal(other.stats().events.slab_new, made, "its slab came from the reserve");
    assert.equal(info().emptySlabs, kept - 1);
    oc.free(a);
    other.verify();
  });

  it("keeps one reserve per node: a node's slabs serve that node's allocations", () => {
    const mm = new Kmem({ nodes: [4 * MiB, 4 * MiB], minFreeBytes: 0 });
    const c = mm.createCache("n256", 256, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const objs: number[] = [];
    for (let i = 0; i < 40 * 15; i++) objs.push(c.allocNode(GFP_KERNEL, 1));
    for (const a of objs) c.free(a);
    const kept = mm.stats().caches.find((x) => x.name === "n256")?.emptySlabs as number;
    assert.ok(kept > 0);
    mm.verify();
    const made = mm.stats().events.slab_new as number;
    const again: number[] = [];
    for (let i = 0; i < 15 * 2; i++) again.push(c.allocNode(GFP_KERNEL, 1));
    assert.equal(mm.stats().events.slab_new, made, "node 1's reserve served node 1");
    mm.verify();
    for (const a of again) c.free(a);
    assert.ok(c.shrink() > 0);
    assert.equal(mm.stats().caches.find((x) => x.name === "n256")?.emptySlabs, 0);
    mm.verify();
  });

  it("is rebuilt from mem_map by the list_lock recovery, half linked or uncounted", () => {
    const { mm, c, info } = setup(8 * MiB, 2);
    wave(c, 40 * info().objectsPerSlab);
    const kept = info().emptySlabs as number;
    assert.ok(kept > 1);
    // A death in the middle of filing: the head unlinked and the count not yet written.
    const head = nodeRecIndex(2, 0, NodeRec.EMPTY_HEAD);
    c.dv[head] = 0;
    c.dv[head + 1] = 0;
    assert.throws(() => mm.verify(), /SLAB-11/);
    const slub = c.slab as SlubAllocator;
    const what = recoverNode(slub, c, 0, 1);
    assert.match(what, new RegExp(`${kept} in reserve`));
    assert.equal(info().emptySlabs, kept);
    mm.verify();
    // The rebuilt reserve serves as before.
    const made = mm.stats().events.slab_new as number;
    wave(c, info().objectsPerSlab);
    assert.equal(mm.stats().events.slab_new, made);
    mm.verify();
  });
});
