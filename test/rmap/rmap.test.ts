/*
 * The resource map: first-fit order, coalescing in each of its four cases, allocAt, a fixed
 * capacity that refuses rather than loses, bad input, and misuse leaving the map unchanged.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type KmemError, type KmemErrorCode, ResourceMap } from "../../src/index.js";
import { assertBadArgumentOf, assertMisuseOf } from "../helpers.js";

const snapshot = (map: ResourceMap) => ({ segments: map.segments(), stats: map.stats() });

function assertMisuse(map: ResourceMap, code: KmemErrorCode, fn: () => unknown): KmemError {
  return assertMisuseOf(map, snapshot, code, fn);
}

function assertBadArgument(
  map: ResourceMap,
  type: typeof TypeError | typeof RangeError,
  pattern: RegExp,
  fn: () => unknown,
): void {
  assertBadArgumentOf(map, snapshot, type, pattern, fn);
}

describe("ResourceMap first fit", () => {
  it("takes the low end of the lowest segment that is large enough", () => {
    const map = new ResourceMap({ base: 100, size: 100 });
    assert.equal(map.alloc(10), 100);
    assert.equal(map.alloc(10), 110);
    assert.equal(map.alloc(10), 120);
    map.free(100, 10); // hole [100, 110)
    map.free(120, 5); // hole [120, 125)
    assert.deepEqual(map.segments(), [
      { base: 100, size: 10 },
      { base: 120, size: 5 },
      { base: 130, size: 70 },
    ]);
    assert.equal(map.alloc(7), 100, "the first hole is large enough");
    assert.equal(map.alloc(5), 120, "the second hole, used up exactly, leaves the map");
    assert.equal(map.alloc(4), 130, "3 left in the first hole is too small");
    assert.deepEqual(map.segments(), [
      { base: 107, size: 3 },
      { base: 134, size: 66 },
    ]);
    map.verify();
  });

  it("returns -1 when no segment is large enough, even with enough in total", () => {
    const map = new ResourceMap({ base: 0, size: 30 });
    const a = map.alloc(10);
    map.alloc(10);
    map.alloc(10);
    assert.equal(map.alloc(1), -1, "full");
    map.free(a, 10);
    map.free(25, 5);
    assert.equal(map.available, 15);
    assert.equal(map.largest, 10);
    assert.equal(map.alloc(11), -1);
    assert.equal(map.stats().fails, 2);
    map.verify();
  });

  it("manages negative and large integers, where 0 is an ordinary resource", () => {
    const neg = new ResourceMap({ base: -15, size: 14 });
    assert.equal(neg.alloc(5), -15);
    assert.equal(neg.alloc(9), -10);
    assert.equal(neg.alloc(1), -1, "full: -1 is the failure, never a resource");
    const zero = new ResourceMap({ base: 0, size: 1 });
    assert.equal(zero.alloc(1), 0);
    assert.throws(() => new ResourceMap({ base: -5, size: 10 }), /must not contain -1/);
    const big = new ResourceMap({ base: 2 ** 52, size: 2 ** 52 - 1 });
    assert.equal(big.alloc(2 ** 40), 2 ** 52);
    assert.equal(big.alloc(2 ** 52), -1);
    big.free(2 ** 52, 2 ** 40);
    assert.deepEqual(big.segments(), [{ base: 2 ** 52, size: 2 ** 52 - 1 }]);
    big.verify();
  });
});

describe("ResourceMap coalescing", () => {
  // [0,10) A, [10,20) B, [20,30) C allocated; [30,40) free.
  function setup() {
    const map = new ResourceMap({ base: 0, size: 40 });
    for (let i = 0; i < 3; i++) map.alloc(10);
    return map;
  }

  it("joins neither neighbour: a new entry", () => {
    const map = setup();
    map.free(10, 10);
    assert.deepEqual(map.segments(), [
      { base: 10, size: 10 },
      { base: 30, size: 10 },
    ]);
  });

  it("joins the segment after it", () => {
    const map = setup();
    map.free(20, 10);
    assert.deepEqual(map.segments(), [{ base: 20, size: 20 }]);
  });

  it("joins the segment before it", () => {
    const map = setup();
    map.free(0, 10);
    map.free(10, 10);
    assert.deepEqual(map.segments(), [
      { base: 0, size: 20 },
      { base: 30, size: 10 },
    ]);
  });

  it("joins both, removing an entry", () => {
    const map = setup();
    map.free(0, 10);
    map.free(20, 10);
    assert.equal(map.segmentCount, 2);
    map.free(10, 10);
    assert.deepEqual(map.segments(), [{ base: 0, size: 40 }]);
    map.verify();
  });

  it("frees part of an allocation, as SVR4 allows", () => {
    const map = new ResourceMap({ base: 0, size: 100 });
    const a = map.alloc(50);
    map.free(a + 10, 20);
    assert.deepEqual(map.segments(), [
      { base: 10, size: 20 },
      { base: 50, size: 50 },
    ]);
    map.free(a + 30, 20);
    assert.deepEqual(map.segments(), [{ base: 10, size: 90 }]);
    map.verify();
  });
});

describe("ResourceMap allocAt", () => {
  it("takes exactly the range asked for, from any part of a segment", () => {
    const map = new ResourceMap({ base: 0, size: 100 });
    assert.equal(map.allocAt(40, 10), 40, "middle: the segment splits");
    assert.equal(map.allocAt(0, 5), 0, "front");
    assert.equal(map.allocAt(95, 5), 95, "back");
    assert.equal(map.allocAt(50, 45), 50, "all of a segment");
    assert.deepEqual(map.segments(), [{ base: 5, size: 35 }]);
    assert.equal(map.allocAt(38, 5), -1, "part of it is allocated");
    assert.equal(map.allocAt(200, 1), -1, "outside the range");
    assert.equal(map.allocAt(-1, 1), -1);
    map.verify();
  });
});

describe("ResourceMap with a fixed capacity", () => {
  it("refuses a free that needs an entry the map does not have, and loses nothing", () => {
    const map = new ResourceMap({ base: 0, size: 10, capacity: 2 });
    for (let i = 0; i < 10; i++) assert.equal(map.alloc(1), i);
    assert.equal(map.free(1, 1), true);
    assert.equal(map.free(5, 1), true);
    assert.equal(map.segmentCount, 2);
    assert.equal(map.free(8, 1), false, "a third segment does not fit");
    assert.deepEqual(map.segments(), [
      { base: 1, size: 1 },
      { base: 5, size: 1 },
    ]);
    assert.equal(map.stats().overflows, 1);
    assert.equal(map.free(2, 1), true, "joining a neighbour needs no entry");
    assert.equal(map.free(6, 1), true);
    assert.equal(map.free(3, 2), true, "joining both frees an entry");
    assert.equal(map.free(8, 1), true, "now there is room");
    assert.equal(map.available, 7);
    assert.equal(map.allocAt(4, 1), -1, "splitting a segment needs an entry too");
    map.verify();
  });
});

describe("ResourceMap introspection", () => {
  it("reports totals, the allocated extent and its metadata", () => {
    const map = new ResourceMap({ base: 10, size: 90 });
    assert.equal(map.allocatedEnd(), 10, "nothing allocated");
    const a = map.alloc(20);
    const b = map.alloc(20);
    assert.equal(map.allocatedEnd(), 50);
    map.free(a, 20);
    assert.equal(map.allocatedEnd(), 50);
    map.free(b, 20);
    assert.equal(map.allocatedEnd(), 10);
    map.allocAt(90, 10);
    assert.equal(map.allocatedEnd(), 100, "the top is allocated");
    assert.equal(map.metadataBytes(), 16);
    assert.deepEqual(map.stats(), {
      size: 90,
      available: 80,
      inUse: 10,
      segments: 1,
      largest: 80,
      capacity: null,
      allocs: 3,
      frees: 2,
      fails: 0,
      overflows: 0,
    });
  });

  it("verify() names the invariant a corrupted map breaks", () => {
    const map = new ResourceMap({ base: 0, size: 100 });
    map.alloc(10);
    map.free(0, 5);
    const raw = (map as unknown as { map: Float64Array }).map;
    raw[2] = 3; // second segment now starts inside the first
    assert.throws(() => map.verify(), /CORRUPTION: resource map: RMAP-2/);
    raw[2] = 10;
    raw[3] = 91; // runs past the range
    assert.throws(() => map.verify(), /RMAP-1/);
    raw[3] = 89;
    assert.throws(() => map.verify(), /RMAP-3/, "sizes do not sum to available");
    raw[3] = 90;
    map.verify();
  });
});

describe("ResourceMap misuse", () => {
  it("DOUBLE_FREE for a range any of which is free, nothing changed", () => {
    const map = new ResourceMap({ base: 0, size: 100 });
    const a = map.alloc(10);
    map.alloc(10);
    map.free(a, 10);
    assertMisuse(map, "DOUBLE_FREE", () => map.free(a, 10));
    assertMisuse(map, "DOUBLE_FREE", () => map.free(a + 5, 10));
    const err = assertMisuse(map, "DOUBLE_FREE", () => map.free(15, 10));
    assert.match(err.message, /overlaps the free segment \[20, 100\)/);
    assertMisuse(map, "DOUBLE_FREE", () => map.free(50, 1));
  });

  it("INVALID_FREE outside the map's range", () => {
    const map = new ResourceMap({ base: 10, size: 10 });
    map.alloc(10);
    assertMisuse(map, "INVALID_FREE", () => map.free(5, 6));
    assertMisuse(map, "INVALID_FREE", () => map.free(19, 2));
    assertMisuse(map, "INVALID_FREE", () => map.free(-100, 1));
  });

  it("bad arguments name the argument and the value", () => {
    const map = new ResourceMap({ base: 0, size: 100 });
    map.alloc(10);
    assertBadArgument(map, TypeError, /size must be an integer, got 1\.5/, () => map.alloc(1.5));
    assertBadArgument(map, RangeError, /size must be in 1\.\.\d+, got 0/, () => map.alloc(0));
    assertBadArgument(map, RangeError, /size must be in 1\.\.\d+, got -3/, () => map.free(0, -3));
    assertBadArgument(map, TypeError, /size must be an integer, got NaN/, () => map.free(0, NaN));
    assertBadArgument(map, TypeError, /start must be an integer, got "1"/, () =>
      map.free("1" as unknown as number, 1),
    );
    assertBadArgument(map, TypeError, /start must be an integer, got 0\.5/, () =>
      map.allocAt(0.5, 1),
    );
    assert.throws(() => new ResourceMap({ base: 0, size: -1 }), /size must be in 0\.\.\d+, got -1/);
    assert.throws(() => new ResourceMap({ base: 0.5, size: 1 }), TypeError);
    assert.throws(
      () => new ResourceMap({ base: 2 ** 53, size: 1 }),
      /base must be in -\d+\.\.\d+, got 9007199254740992/,
    );
    assert.throws(() => new ResourceMap({ base: 2 ** 52, size: 2 ** 52 }), RangeError);
    assert.throws(
      () => new ResourceMap({ base: 0, size: 1, capacity: 0 }),
      /capacity must be in 1\.\./,
    );
    assert.throws(
      () =>
        new ResourceMap({ base: 0, size: 1, sise: 2 } as unknown as { base: number; size: number }),
      /unknown option "sise"/,
    );
    assert.throws(
      () => new ResourceMap(null as unknown as { base: number; size: number }),
      TypeError,
    );
  });
});
