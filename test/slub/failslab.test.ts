/* failslab (mm/failslab.c): which slab allocations may be failed, and that failures leak nothing. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  __GFP_NOFAIL,
  GFP_ATOMIC,
  GFP_KERNEL,
  Kmem,
  SLAB_FAILSLAB,
  SLAB_NO_MERGE,
} from "../../src/index.js";
import { SLAB_ALLOCATORS, type SlabAllocatorName } from "../helpers.js";

/** The suite, for one of the allocators built on SLUB's slabs. */
function suite(slab: SlabAllocatorName): void {
  function mm() {
    return new Kmem({ slab, memory: 4 << 20, minFreeBytes: 0 });
  }

  describe("failslab", () => {
    it("fails slab allocations with Linux's defaults: once, and never GFP_KERNEL", () => {
      const k = mm();
      k.setFault("failslab", { probability: 100 });
      assert.notEqual(k.kmalloc(64, GFP_KERNEL), 0, "ignoreGfpWait spares requests that may sleep");
      assert.equal(k.kmalloc(64, GFP_ATOMIC), 0);
      assert.notEqual(k.kmalloc(64, GFP_ATOMIC), 0, "times defaults to 1");
      assert.equal(k.stats().events.fault_injected, 1);
      k.verify();
    });

    it("ignoreGfpWait false fails GFP_KERNEL too; __GFP_NOFAIL never fails", () => {
      const k = mm();
      k.setFault("failslab", { probability: 100, times: -1, ignoreGfpWait: false });
      assert.equal(k.kmalloc(64, GFP_KERNEL), 0);
      assert.notEqual(k.kmalloc(64, GFP_KERNEL | __GFP_NOFAIL), 0);
    });

    it("space is a budget in bytes of object size", () => {
      const k = mm();
      k.setFault("failslab", { probability: 100, times: -1, space: 200 });
      // kmalloc-64: 200 -> 136 -> 72 -> 8, then 8 is not > 64.
      const got = [1, 2, 3, 4, 5].map(() => k.kmalloc(64, GFP_ATOMIC) !== 0);
      assert.deepEqual(got, [true, true, true, false, false]);
    });

    it("cacheFilter fails only caches created with SLAB_FAILSLAB", () => {
      const k = mm();
      const marked = k.createCache("marked", 48, { flags: SLAB_FAILSLAB });
      const plain = k.createCache("plain", 48, { flags: SLAB_NO_MERGE });
      assert.ok(marked !== null && plain !== null);
      k.setFault("failslab", { probability: 100, times: -1, cacheFilter: true });
      assert.equal(marked.alloc(GFP_ATOMIC), 0);
      assert.notEqual(plain.alloc(GFP_ATOMIC), 0);
      assert.notEqual(k.kmalloc(48, GFP_ATOMIC), 0);
    });

    it("does not apply to large kmalloc, which fail_page_alloc covers", () => {
      const k = mm();
      k.setFault("failslab", { probability: 100, times: -1 });
      assert.notEqual(k.kmalloc(100000, GFP_ATOMIC), 0);
      k.setFault("fail_page_alloc", { probability: 100, times: -1 });
      assert.equal(k.kmalloc(100000, GFP_ATOMIC), 0);
    });

    it("loses nothing across many injected failures", () => {
      const k = mm();
      const c = k.createCache("churn", 72, { flags: SLAB_NO_MERGE });
      assert.ok(c !== null);
      k.setFault("failslab", { probability: 30, times: -1, seed: 11 });
      const live: Array<[number, boolean]> = [];
      let failed = 0;
      for (let i = 0; i < 5000; i++) {
        if (i % 3 === 2 && live.length > 0) {
          const [addr, fromCache] = live.splice((i * 7919) % live.length, 1)[0] as [
            number,
            boolean,
          ];
          if (fromCache) c.free(addr);
          else k.kfree(addr);
          continue;
        }
        const fromCache = i % 2 === 0;
        const addr = fromCache ? c.alloc(GFP_ATOMIC) : k.kmalloc(8 + (i % 500), GFP_ATOMIC);
        if (addr === 0) failed++;
        else live.push([addr, fromCache]);
      }
      assert.ok(failed > 500, `${failed} failures`);
      k.verify();
      const active = k
        .stats()
        .caches.reduce((n, x) => n + (x.name === "kmem_cache" ? 0 : x.activeObjects), 0);
      assert.equal(active, live.length);
      for (const [addr, fromCache] of live) {
        if (fromCache) c.free(addr);
        else k.kfree(addr);
      }
      k.verify();
    });
  });
}

for (const slab of SLAB_ALLOCATORS) describe(slab, () => suite(slab));
