/*
 * Failure part-way through vmalloc and vmap leaks nothing: fail_page_alloc and failslab
 * made to fail the n-th page, table or record allocation of a call, for every n; after each
 * failed call the counters are what they were before it and verify() passes.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GFP_KERNEL, Kmem } from "../../src/index.js";

const MiB = 1 << 20;
const P = 4096;

/** What a failed call must leave as it found. */
function counters(mm: Kmem) {
  mm.drainPages();
  const s = mm.stats();
  return {
    freePages: s.freePages,
    vmallocPages: s.vmallocPages,
    pageTablePages: s.pageTablePages,
    slabPages: s.slabPages,
    objects: s.caches.map((c) => `${c.name}:${c.activeObjects}`).join(" "),
    vmallocinfo: mm.report("vmallocinfo"),
  };
}

/** Makes the n-th allocation of `point` from now fail, whatever its gfp and order. */
function failNth(mm: Kmem, point: "fail_page_alloc" | "failslab", n: number): void {
  const knobs = { probability: 100, interval: n, times: 1, ignoreGfpWait: false, verbose: 0 };
  mm.setFault(point, point === "fail_page_alloc" ? { ...knobs, minOrder: 0 } : knobs);
}

/**
 * Runs `call` with the n-th allocation of kind `point` failing, for n = 1, 2, ... until a
 * call succeeds; every failure must leave `counters` unchanged. Returns the calls that failed.
 */
function sweep(mm: Kmem, point: "fail_page_alloc" | "failslab", call: () => number): number {
  for (let n = 1; ; n++) {
    const before = counters(mm);
    failNth(mm, point, n);
    const addr = call();
    mm.setFault(point, null);
    if (addr !== 0) return n - 1;
    assert.deepEqual(counters(mm), before, `${point}: failing allocation ${n} leaked`);
    mm.verify();
  }
}

describe("fault injection inside vmalloc", () => {
  it("a page or page table failing at any point gives back everything taken", () => {
    // 1 KiB pages: three levels of tables, so a call can fail on a pmd, a pte table or a page.
    const mm = new Kmem({ memory: 64 * MiB, pageSize: 1024, minFreeBytes: 0 });
    mm.vfree(mm.vmalloc(1024)); // sets the layer up; its pmd and pte table go again
    const failed = sweep(mm, "fail_page_alloc", () => mm.vmalloc(300 * 1024, GFP_KERNEL));
    // The pmd, the pte tables for pages 0..255 and 256..511, and 300 pages: each failed once.
    assert.equal(failed, 3 + 300);
    assert.equal(mm.stats().events.vmalloc_fail, failed);
    mm.verify();
  });

  it("a record failing (failslab) leaks nothing either", () => {
    const mm = new Kmem({ memory: 4 * MiB, minFreeBytes: 0 });
    mm.vfree(mm.vmalloc(P));
    const a = mm.vmalloc(P);
    const b = mm.vmalloc(P);
    mm.vfree(a); // a 2-page hole: an area of 3 pages splits the free space after b
    assert.equal(
      sweep(mm, "failslab", () => mm.vmalloc(2 * P)),
      1,
    );
    mm.vfree(b);
    mm.verify();
  });

  it("the first vmalloc fails cleanly at every step of setting the layer up", () => {
    const reference = new Kmem({ memory: 4 * MiB, minFreeBytes: 0 });
    reference.vfree(reference.vmalloc(4 * P));
    const expected = counters(reference);
    for (const point of ["fail_page_alloc", "failslab"] as const) {
      let n = 1;
      for (; ; n++) {
        const mm = new Kmem({ memory: 4 * MiB, minFreeBytes: 0 });
        failNth(mm, point, n);
        const addr = mm.vmalloc(4 * P);
        mm.setFault(point, null);
        mm.verify();
        if (addr !== 0) break;
        // What a failed first call leaves (at most the set-up, which stays) is what a
        // successful one would: nothing else.
        mm.vfree(mm.vmalloc(4 * P));
        assert.deepEqual(counters(mm), expected, `${point} ${n}`);
      }
      // Pages: the slabs of the descriptor and of the records, the pgd, a pte table, four
      // pages. Objects: the descriptor and the two records.
      assert.equal(n - 1, point === "fail_page_alloc" ? 8 : 3, point);
    }
  });

  it("vmap failing on a table leaks nothing", () => {
    const mm = new Kmem({ memory: 4 * MiB, minFreeBytes: 0 });
    mm.vfree(mm.vmalloc(P));
    const pages = [mm.allocPages(0), mm.allocPages(0), mm.allocPages(0)];
    assert.equal(
      sweep(mm, "fail_page_alloc", () => mm.vmap(pages)),
      1,
    );
    mm.verify();
  });
});
