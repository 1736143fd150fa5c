/*
 * Allocation bitmaps with several cpus, driven from one thread so that every interleaving is
 * exact: a slab of more than 32 objects has two bitmaps (the cpu slab owner's, flipped with
 * plain stores, and the remote one, flipped by every other cpu with compareExchange; an
 * object is allocated when its two bits differ), a slab of at most 32 objects one word in
 * its frame flipped with Atomics. For both kinds, every order of allocation and free by the
 * owner and by another cpu is accepted when legal and refused with DOUBLE_FREE otherwise,
 * all else intact, and ksize and verify() agree with the state.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem } from "../../src/index.js";
import { assertMisuse } from "../helpers.js";

const MiB = 1 << 20;

/** Two contexts over one unshared buffer: cpu 0 (a) and cpu 1 (b). */
function pair(): { a: Kmem; b: Kmem } {
  const a = new Kmem({ memory: new ArrayBuffer(4 * MiB), cpus: 2 });
  return { a, b: Kmem.attach(a.buffer) };
}

for (const size of [64, 256]) {
  const kind = size === 64 ? "two bitmaps (63 objects)" : "one frame word (16 objects)";
  describe(`cross-cpu frees of kmalloc-${size}: ${kind}`, () => {
    it("the owner allocates, the other cpu frees; a second free on either cpu is refused", () => {
      const { a, b } = pair();
      const x = a.kmalloc(size);
      b.kfree(x); // a remote free of an object of a's cpu slab
      assertMisuse(a, "DOUBLE_FREE", () => a.kfree(x));
      assertMisuse(a, "DOUBLE_FREE", () => b.kfree(x));
      assertMisuse(a, "DOUBLE_FREE", () => a.ksize(x)); // ksize: "already free"
      a.verify();
    });

    it("the owner frees its own object; a free of it on the other cpu is refused", () => {
      const { a, b } = pair();
      const keep = a.kmalloc(size); // keeps the cpu slab a's
      const x = a.kmalloc(size);
      a.kfree(x);
      assertMisuse(a, "DOUBLE_FREE", () => b.kfree(x));
      assert.equal(a.kmalloc(size), x, "the owner's freelist gives it back");
      b.kfree(x);
      a.kfree(keep);
      a.verify();
    });

    it("an object freed remotely, reused from the other cpu's sheaf, then freed by the owner", () => {
      const { a, b } = pair();
      const objs = [a.kmalloc(size), a.kmalloc(size), a.kmalloc(size)];
      const x = objs[1] as number;
      b.kfree(x); // into b's sheaf
      const y = b.kmalloc(size); // b's sheaf hands x out again
      assert.equal(y, x);
      assert.equal(a.ksize(x), size, "allocated again");
      a.kfree(x); // the owner frees what b allocated: legal
      assertMisuse(a, "DOUBLE_FREE", () => b.kfree(x));
      for (const o of [objs[0], objs[2]]) b.kfree(o as number);
      a.verify();
      // Every object of every slab comes back and verify agrees after a flush.
      a.shrinkSlabs();
      b.shrinkSlabs();
      a.verify();
    });

    it("many objects through both cpus in every order keep verify() and the counts exact", () => {
      const { a, b } = pair();
      const ctx = [a, b];
      const live = new Set<number>();
      let seed = 7;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      for (let step = 0; step < 4000; step++) {
        const m = ctx[rand(2)] as Kmem;
        if (live.size > 0 && rand(3) === 0) {
          const arr = [...live];
          const x = arr[rand(arr.length)] as number;
          m.kfree(x);
          live.delete(x);
          if (rand(4) === 0) assertMisuse(a, "DOUBLE_FREE", () => (ctx[rand(2)] as Kmem).kfree(x));
        } else {
          const x = m.kmalloc(size);
          assert.ok(x !== 0 && !live.has(x));
          live.add(x);
        }
        if (step % 500 === 0) a.verify();
      }
      const active = a.stats().caches.find((c) => c.name === `kmalloc-${size}`)?.activeObjects;
      assert.ok(active !== undefined && active >= live.size);
      for (const x of live) (ctx[rand(2)] as Kmem).kfree(x);
      a.verify();
    });
  });
}
