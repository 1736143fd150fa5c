/*
 * Quantum caches: small sizes served from slabs the caches take from the arena, objects
 * reused, one spare slab kept per cache, reap, the fallback to the arena when no aligned
 * slab can be had, reaping before failing, and misuse of cached objects.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KmemError, VmemArena } from "../../src/index.js";
import { assertMisuse } from "./helpers.js";

/** Caches of 16, 32, 48, 64; slabs of 256 (16, 8, 5 and 4 objects). */
function cached(size = 4096, base = 0) {
  return new VmemArena({ name: "qc", base, size, quantum: 16, qcacheMax: 64 });
}

describe("quantum caches", () => {
  it("serve sizes up to qcacheMax from aligned slabs", () => {
    const a = cached();
    assert.equal(a.qcacheMax, 64);
    const x = a.alloc(1);
    const y = a.alloc(16);
    const z = a.alloc(40);
    assert.equal(y - x, 16, "the next object of the 16-unit slab");
    assert.equal(z % 256, 0, "a 48-unit object opens a slab of its own");
    assert.deepEqual(
      a.segments().filter((s) => s.type === "slab"),
      [
        { base: 0, size: 256, type: "slab" },
        { base: 256, size: 256, type: "slab" },
      ],
    );
    const qc = a.stats().qcaches;
    assert.deepEqual(
      qc.map((c) => [c.size, c.slabs, c.inUse, c.free]),
      [
        [16, 1, 2, 14],
        [32, 0, 0, 0],
        [48, 1, 1, 4],
        [64, 0, 0, 0],
      ],
    );
    assert.equal(a.stats().allocs, 2, "the arena saw two slab allocations, not three requests");
    assert.ok(a.alloc(65) >= 512, "above qcacheMax: the arena itself");
    a.verify();
  });

  it("hand the lowest free object out again", () => {
    const a = cached();
    const objs = Array.from({ length: 5 }, () => a.alloc(32));
    a.free(objs[3] as number, 32);
    a.free(objs[1] as number, 17); // any size of the same class
    assert.equal(a.alloc(32), objs[1]);
    assert.equal(a.alloc(32), objs[3]);
    a.verify();
  });

  it("keep one empty slab per cache, give the others back, and reap() returns the spares", () => {
    const a = cached();
    const objs = Array.from({ length: 48 }, () => a.alloc(16)); // three full slabs
    assert.equal(a.stats().qcaches[0]?.slabs, 3);
    for (const t of objs) a.free(t, 16);
    assert.equal(a.stats().qcaches[0]?.slabs, 1, "one spare kept");
    assert.equal(a.stats().inUse, 256);
    a.verify();
    assert.equal(a.reap(), 1);
    assert.equal(a.stats().inUse, 0);
    assert.equal(a.reap(), 0);
    a.verify();
  });

  it("fall back to the arena when no aligned slab fits, and reap before failing", () => {
    const small = cached(240, 16); // [16, 256): no 256-aligned slab fits
    const t = small.alloc(16);
    assert.equal(t, 16);
    assert.equal(small.stats().qcaches[0]?.fallbacks, 1);
    assert.deepEqual(small.segments()[1], { base: 16, size: 16, type: "alloc" });
    small.free(t, 16);
    small.verify();

    const a = cached(1024);
    const objs = Array.from({ length: 64 }, () => a.alloc(16)); // all four slabs
    assert.equal(a.alloc(16), -1);
    for (const o of objs) a.free(o, 16);
    assert.equal(a.stats().inUse, 256, "a spare slab");
    assert.equal(a.alloc(1024), 0, "the spare was reaped to make room");
    a.verify();
  });

  it("round qcacheMax down to the quantum and cap it at 16 quanta", () => {
    assert.equal(
      new VmemArena({ name: "a", base: 0, size: 0, quantum: 16, qcacheMax: 100 }).qcacheMax,
      96,
    );
    assert.equal(
      new VmemArena({ name: "b", base: 0, size: 0, quantum: 16, qcacheMax: 1 << 20 }).qcacheMax,
      256,
    );
    assert.equal(
      new VmemArena({ name: "c", base: 0, size: 0, quantum: 16, qcacheMax: 15 }).qcacheMax,
      0,
    );
  });

  it("find misuse of cached objects, changing nothing", () => {
    const a = cached();
    const x = a.alloc(48); // slab [0, 256), objects at 0, 48, ..., 192
    const y = a.alloc(48);
    a.free(y, 48);
    let err = assertMisuse(a, "DOUBLE_FREE", () => a.free(y, 48));
    assert.match(err.message, /0x30 is already free \(quantum cache of 48\)/);
    err = assertMisuse(a, "INVALID_FREE", () => a.free(x, 16));
    assert.match(err.message, /is an object of 48, freed with size 16/);
    err = assertMisuse(a, "INVALID_FREE", () => a.free(x + 16, 48));
    assert.match(err.message, /not the start of an object/);
    assertMisuse(a, "INVALID_FREE", () => a.free(240, 48)); // past the last object
    err = assertMisuse(a, "INVALID_FREE", () => a.xfree(y, 48));
    assert.match(err.message, /0x30 is inside the quantum-cache slab \[0x0, 0x100\)/);
    err = assertMisuse(a, "INVALID_FREE", () => a.free(0, 256));
    assert.match(err.message, /is a quantum-cache slab, not an allocation/);
    assertMisuse(a, "INVALID_FREE", () => a.free(x, 64));
    a.free(x, 48);
    a.verify();
  });

  it("verify() finds a slab whose bitmap disagrees with its count (QCACHE-2)", () => {
    const a = cached();
    a.alloc(16);
    const raw = (a as unknown as { qc: { slabs: Int32Array } }).qc.slabs;
    raw[4] = (raw[4] as number) | 2; // mark object 1 allocated behind the counters' back
    assert.throws(
      () => a.verify(),
      (err: unknown) => err instanceof KmemError && /QCACHE-2/.test(err.message),
    );
  });
});
