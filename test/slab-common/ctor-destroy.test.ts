/*
 * A constructor that destroys a cache (its own or another) while its cache builds a slab
 * (SLUB) or an object (SLOB) is refused: BUSY, and alloc() never returns an object of a
 * destroyed cache.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, KmemError, type KmemCache, SLAB_NO_MERGE } from "../../src/index.js";

for (const slab of ["slub", "slob"] as const) {
  describe(`constructors that destroy caches (${slab})`, () => {
    it("destroy() of its own cache or another from a constructor: BUSY, the caches stay", () => {
      const mm = new Kmem({ memory: 2 << 20, slab, minFreeBytes: 0 });
      const other = mm.createCache("other", 24, { flags: SLAB_NO_MERGE });
      assert.ok(other !== null);
      const seen: unknown[] = [];
      let self: KmemCache | null = null;
      self = mm.createCache("self", 32, {
        flags: SLAB_NO_MERGE,
        ctor: () => {
          for (const c of [self, other]) {
            try {
              c?.destroy();
              seen.push("destroyed");
            } catch (err) {
              seen.push(err instanceof KmemError ? err.code : err);
            }
          }
        },
      });
      assert.ok(self !== null);
      const obj = self.alloc();
      assert.notEqual(obj, 0);
      assert.ok(seen.length > 0);
      assert.ok(
        seen.every((x) => x === "BUSY"),
        String(seen),
      );
      mm.verify();
      self.free(obj);
      assert.notEqual(other.alloc(), 0);
      assert.ok(mm.createCache("next", 32, { flags: SLAB_NO_MERGE }) !== null);
      mm.verify();
    });
  });
}
