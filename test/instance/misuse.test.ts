/*
 * Lower-severity misuse at the facade: a buffer holding an instance is not silently rebuilt,
 * a log callback that allocates does not recurse, BigInt and Symbol arguments give a
 * TypeError naming the argument at every entry point, createCache flags beyond 32 bits are
 * refused, and a freed object gives the same code to kfree, krealloc and ksize.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, KmemError, SLAB_NO_MERGE } from "../../src/index.js";
import { allMemory, assertMisuse, expectArgumentError } from "../helpers.js";

describe("new Kmem over a buffer holding an instance", () => {
  it("is refused (BUSY, the buffer untouched) unless reinit: true", () => {
    const buf = new SharedArrayBuffer(1 << 20);
    const a = new Kmem({ memory: buf, cpus: 2 });
    const x = a.kmalloc(100);
    const before = Buffer.from(allMemory(a));
    let caught: unknown;
    try {
      new Kmem({ memory: buf, cpus: 2 });
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof KmemError && caught.code === "BUSY", String(caught));
    assert.match(caught.message, /reinit: true/);
    assert.ok(Buffer.from(allMemory(a)).equals(before));
    const b = Kmem.attach(buf);
    assert.notEqual(b.kmalloc(100), x);
    expectArgumentError(
      TypeError,
      /reinit must be a boolean/,
      () => new Kmem({ memory: buf, reinit: 1 as unknown as boolean }),
    );
    const c = new Kmem({ memory: buf, reinit: true });
    c.verify();
  });
});

describe("a log callback that allocates", () => {
  it("gets the outer report; the nested one is dropped, no unbounded recursion", () => {
    const lines: string[] = [];
    let mm: Kmem | null = null;
    mm = new Kmem({
      memory: 1 << 20,
      minFreeBytes: 0,
      log: (line) => {
        lines.push(line);
        mm?.kmalloc(1 << 30);
        mm?.allocPages(10);
      },
    });
    mm.setFault("failslab", { probability: 100, times: -1, verbose: 1, ignoreGfpWait: false });
    assert.equal(mm.kmalloc(64), 0);
    mm.setFault("failslab", null);
    assert.ok(lines.length >= 1);
    mm.verify();
  });
});

describe("BigInt and Symbol arguments", () => {
  it("give a TypeError naming the argument at every entry point", () => {
    const mm = new Kmem({ memory: 2 << 20 });
    const c = mm.createCache("c", 32, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const pool = mm.createMempool(1, 64);
    assert.ok(pool !== null);
    for (const bad of [1n, Symbol("x")] as unknown as number[]) {
      const calls: [string, () => unknown][] = [
        ["kmalloc", () => mm.kmalloc(bad)],
        ["kmalloc gfp", () => mm.kmalloc(8, bad)],
        ["kzalloc", () => mm.kzalloc(bad)],
        ["kcalloc", () => mm.kcalloc(bad, 8)],
        ["krealloc", () => mm.krealloc(bad, 8)],
        ["krealloc size", () => mm.krealloc(0, bad)],
        ["kfree", () => mm.kfree(bad)],
        ["ksize", () => mm.ksize(bad)],
        ["allocPages", () => mm.allocPages(bad)],
        ["freePages", () => mm.freePages(bad, 0)],
        ["freePages order", () => mm.freePages(4096, bad)],
        ["vmalloc", () => mm.vmalloc(bad)],
        ["vfree", () => mm.vfree(bad)],
        ["kvmalloc", () => mm.kvmalloc(bad)],
        ["kvfree", () => mm.kvfree(bad)],
        ["cache.alloc", () => c.alloc(bad)],
        ["cache.free", () => c.free(bad)],
        ["pool.alloc", () => pool.alloc(bad)],
        ["pool.free", () => pool.free(bad)],
        ["createCache size", () => mm.createCache("d", bad)],
        ["createCache flags", () => mm.createCache("d", 8, { flags: bad })],
        ["createMempool", () => mm.createMempool(bad, 8)],
      ];
      for (const [what, fn] of calls) {
        assert.throws(
          fn,
          (err: unknown) =>
            (err instanceof TypeError || err instanceof RangeError) &&
            !/Cannot (mix|convert)/.test((err as Error).message) &&
            /must|got/.test((err as Error).message),
          what,
        );
      }
    }
    mm.verify();
  });
});

describe("createCache flags", () => {
  it("flags of 2^32 and more, negative or fractional, are refused, not truncated", () => {
    const mm = new Kmem({ memory: 1 << 20 });
    for (const flags of [2 ** 32, 2 ** 32 + SLAB_NO_MERGE, 2 ** 40, -1, 1.5]) {
      assert.throws(
        () => mm.createCache("f", 8, { flags }),
        (err: unknown) => err instanceof TypeError || err instanceof RangeError,
      );
      assert.equal(mm.findCache("f"), null);
    }
  });
});

describe("error codes of a freed object", () => {
  for (const slab of ["slub", "slob"] as const) {
    it(`kfree, krealloc and ksize of a freed object: DOUBLE_FREE (${slab})`, () => {
      const mm = new Kmem({ memory: 2 << 20, slab });
      for (const size of [100, 20000]) {
        const k = mm.kmalloc(size);
        mm.kfree(k);
        assertMisuse(mm, "DOUBLE_FREE", () => mm.kfree(k), true);
        assertMisuse(mm, "DOUBLE_FREE", () => mm.krealloc(k, 500), true);
        assertMisuse(mm, "DOUBLE_FREE", () => mm.ksize(k), true);
      }
    });
  }
});
