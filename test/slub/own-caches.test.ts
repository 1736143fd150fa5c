/*
 * kmem's own caches and the cache list: a read-only call never changes a cache (the list
 * walk is bounded by what memory can hold, not by the page count), and no cache kmem uses
 * itself (kmalloc's size classes, the descriptors' cache kmem_cache) can be destroyed.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, SLAB_NO_MERGE } from "../../src/index.js";
import { allMemory, assertMisuse } from "../helpers.js";

describe("the cache list", () => {
  for (const cpus of [1, 2]) {
    it(`more caches than pages: stats, slabinfo, verify and findCache change nothing (cpus ${cpus})`, () => {
      const mm = new Kmem({ memory: 1 << 20, cpus, minFreeBytes: 0 });
      const caches = [];
      for (let i = 0; i < 300; i++) {
        const c = mm.createCache(`c${i}`, 32, { flags: SLAB_NO_MERGE });
        assert.ok(c !== null);
        caches.push(c);
      }
      assert.ok(caches.length > mm.totalPages);
      const obj = (caches[0] as NonNullable<(typeof caches)[0]>).alloc();
      const before = Buffer.from(allMemory(mm));
      mm.stats();
      mm.report("slabinfo");
      mm.verify();
      assert.equal(mm.findCache("c7"), caches[7]);
      assert.ok(Buffer.from(allMemory(mm)).equals(before), "a read-only call wrote memory");
      for (const c of caches) assert.ok(c !== null);
      const first = caches[0] as NonNullable<(typeof caches)[0]>;
      first.free(obj);
      assert.notEqual(first.alloc(), 0);
      mm.kfree(mm.kmalloc(8));
      mm.verify();
    });
  }
});

describe("kmem's own caches", () => {
  it("kmalloc size classes and kmem_cache cannot be destroyed: BUSY, nothing changed", () => {
    const mm = new Kmem({ memory: 2 << 20, minFreeBytes: 0 });
    const live = mm.kmalloc(64);
    const user = mm.createCache("mine", 64);
    assert.ok(user !== null);
    for (const name of ["kmalloc-64", "kmalloc-8", "kmalloc-8k", "kmem_cache"]) {
      const c = mm.findCache(name);
      assert.ok(c !== null, name);
      const err = assertMisuse(mm, "BUSY", () => c.destroy(), true);
      assert.match(err.message, /kmem's own/);
    }
    // kmalloc still serves from its classes and frees what it served; a user's alias goes.
    mm.kfree(live);
    mm.kfree(mm.kmalloc(64));
    user.destroy();
    assert.ok(mm.createCache("after", 200, { flags: SLAB_NO_MERGE }) !== null);
    mm.verify();
  });
});
