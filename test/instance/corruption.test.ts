/*
 * Damage that used to hang, abort or slip through: every walk of a list read from the buffer
 * is bounded and cycle-checked, and a value read from it is range-checked before it is used.
 * Each case ends in KmemError CORRUPTION naming what is wrong (never a hang, an engine error
 * or overlapping objects).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, KmemError, SLAB_NO_MERGE } from "../../src/index.js";
import { Hdr, HdrOption } from "../../src/memory/index.js";
import { Desc } from "../../src/slub/index.js";

/** SLOB's cache descriptor words (src/slob/slob.ts CacheDesc). */
const SLOB_ALIGN = 2;
const SLOB_NEXT = 5;

function words(mm: Kmem): Int32Array {
  return new Int32Array(mm.buffer, mm.memory.byteOffset, mm.memory.byteLength >>> 2);
}

function expectCorruption(fn: () => unknown, pattern?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof KmemError && caught.code === "CORRUPTION",
    `expected CORRUPTION, got ${String(caught)}`,
  );
  if (pattern !== undefined) assert.match(caught.message, pattern);
}

describe("SLOB cache descriptors", () => {
  it("a damaged ALIGN word: verify() and alloc() say CORRUPTION, no overlapping objects", () => {
    for (const bad of [0, 3, 24, 1 << 20, -8]) {
      const mm = new Kmem({ memory: 1 << 20, slab: "slob" });
      const c = mm.createCache("a", 40, { flags: SLAB_NO_MERGE });
      assert.ok(c !== null);
      c.alloc();
      words(mm)[(c.desc >>> 2) + SLOB_ALIGN] = bad;
      expectCorruption(() => mm.verify(), /SLOB-5.*alignment/);
      expectCorruption(() => c.alloc(), /alignment/);
    }
  });

  it("a damaged NEXT link or a two-descriptor cycle: reopen and verify say CORRUPTION", () => {
    const mm = new Kmem({ memory: 1 << 20, slab: "slob" });
    const a = mm.createCache("a", 40);
    const b = mm.createCache("b", 40);
    assert.ok(a !== null && b !== null);
    const snapshot = mm.buffer.slice(0);
    // One byte of b's NEXT (b is newest: its NEXT is a).
    const w = words(mm);
    w[(b.desc >>> 2) + SLOB_NEXT] = ((w[(b.desc >>> 2) + SLOB_NEXT] as number) ^ 0x40) | 0;
    expectCorruption(() => mm.verify(), /SLOB-5/);
    expectCorruption(() => Kmem.reopen(mm.buffer.slice(0)));
    // A cycle: a's NEXT back to b.
    const copy = snapshot.slice(0);
    const cw = new Int32Array(copy, 0, 1 << 18);
    cw[(a.desc >>> 2) + SLOB_NEXT] = b.desc;
    expectCorruption(() => Kmem.reopen(copy));
  });
});

describe("the boot cache and the options word", () => {
  it("a damaged boot-cache descriptor id: reopen says CORRUPTION; a live 2-cpu verify() too", () => {
    for (const id of [1 << 30, 70000, -5]) {
      const mm = new Kmem({ memory: 2 << 20, cpus: 2 });
      mm.createCache("x", 64);
      const boot = (words(mm)[Hdr.BOOT_CACHE] as number) >>> 2;
      const snap = mm.buffer.slice(0);
      new Int32Array(snap)[boot + Desc.ID] = id;
      expectCorruption(() => Kmem.reopen(snap));
      words(mm)[boot + Desc.ID] = id;
      expectCorruption(() => mm.verify());
    }
  });

  it("a forged SLOB bit in a SLUB snapshot (or a cleared one in SLOB's): CORRUPTION at reopen", () => {
    const slub = new Kmem({ memory: 1 << 20 });
    slub.kfree(slub.kmalloc(100));
    const s1 = slub.buffer.slice(0);
    const w1 = new Int32Array(s1);
    w1[Hdr.OPTIONS] = (w1[Hdr.OPTIONS] as number) | HdrOption.SLOB;
    expectCorruption(() => Kmem.reopen(s1), /SLOB/);
    const slob = new Kmem({ memory: 1 << 20, slab: "slob" });
    const s2 = slob.buffer.slice(0);
    const w2 = new Int32Array(s2);
    w2[Hdr.OPTIONS] = (w2[Hdr.OPTIONS] as number) & ~HdrOption.SLOB;
    expectCorruption(() => Kmem.reopen(s2));
  });
});

describe("a cache descriptor's flags", () => {
  // POISON, RED_ZONE, STORE_USER: debug checks the slots were not laid out for.
  for (const [name, bit] of [
    ["POISON", 1 << 2],
    ["RED_ZONE", 1 << 1],
    ["STORE_USER", 1 << 4],
    ["an unknown bit", 1 << 20],
  ] as const) {
    it(`a debug flag set by damage (${name}) is CORRUPTION (SLAB-7), not a POISON or REDZONE of the objects`, () => {
      const mm = new Kmem({ memory: 1 << 20, minFreeBytes: 0 });
      const c = mm.findCache("kmalloc-80");
      assert.ok(c !== null);
      for (let i = 0; i < 10; i++) mm.kfree(mm.kmalloc(70 + i));
      const keep = mm.kmalloc(72);
      const snap = mm.buffer.slice(0);
      const w = (c.desc >>> 2) + Desc.FLAGS;
      new Int32Array(snap)[w]! ^= bit;
      expectCorruption(() => Kmem.reopen(snap), /SLAB-7/);
      words(mm)[w]! ^= bit;
      expectCorruption(() => mm.verify(), /SLAB-7/);
      words(mm)[w]! ^= bit;
      mm.kfree(keep);
      mm.verify();
    });
  }
});
