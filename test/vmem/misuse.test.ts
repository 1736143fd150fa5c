/*
 * Bad input and misuse of the vmem arena: TypeError/RangeError naming the argument and the
 * value; KmemError for frees that match no allocation, with the arena exactly as it was.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VmemArena, type VmemOptions, type VmemPolicy } from "../../src/index.js";
import { assertBadArgument, assertMisuse } from "./helpers.js";

function setup() {
  const a = new VmemArena({ name: "mis", base: 4096, size: 4096, quantum: 16 });
  const x = a.alloc(100); // [4096, 4208)
  const y = a.alloc(64); // [4208, 4272)
  const z = a.xalloc(32, { align: 1024 }); // [5120, 5152)
  a.free(y, 64);
  a.add(16384, 1024);
  return { a, x, y, z };
}

describe("vmem misuse", () => {
  it("DOUBLE_FREE for a free segment, wherever in it", () => {
    const { a, y } = setup();
    const err = assertMisuse(a, "DOUBLE_FREE", () => a.free(y, 64));
    assert.match(
      err.message,
      /vmem mis: free\(0x1070, 64\): 0x1070 is free \(in \[0x1070, 0x1400\)\)/,
    );
    assertMisuse(a, "DOUBLE_FREE", () => a.free(y + 16, 16));
    assertMisuse(a, "DOUBLE_FREE", () => a.xfree(16384, 16));
  });

  it("INVALID_FREE for the wrong size, naming the size allocated", () => {
    const { a, x, z } = setup();
    const err = assertMisuse(a, "INVALID_FREE", () => a.free(x, 64));
    assert.match(err.message, /wrong size: the segment at 0x1000 has 112 units/);
    assertMisuse(a, "INVALID_FREE", () => a.free(x, 113));
    assertMisuse(a, "INVALID_FREE", () => a.xfree(z, 48));
    a.free(x, 97); // rounds to the same 112
    a.verify();
  });

  it("INVALID_FREE inside an allocation, outside every span, or unaligned", () => {
    const { a, x } = setup();
    let err = assertMisuse(a, "INVALID_FREE", () => a.free(x + 16, 16));
    assert.match(
      err.message,
      /0x1010 is inside the allocated segment \[0x1000, 0x1070\), not its start/,
    );
    err = assertMisuse(a, "INVALID_FREE", () => a.free(0, 16));
    assert.match(err.message, /0x0 is in no span of the arena/);
    assertMisuse(a, "INVALID_FREE", () => a.free(x + 1, 16));
    assertMisuse(a, "INVALID_FREE", () => a.free(-16, 16));
    assertMisuse(a, "INVALID_FREE", () => a.free(2 ** 50, 16));
  });

  it("bad arguments of alloc, xalloc, free and add name the argument and the value", () => {
    const { a, x } = setup();
    assertBadArgument(a, TypeError, /size must be an integer, got 1\.5/, () => a.alloc(1.5));
    assertBadArgument(a, RangeError, /size must be in 1\.\.\d+, got 0/, () => a.alloc(0));
    assertBadArgument(a, RangeError, /size must be in 1\.\.\d+, got -16/, () => a.xalloc(-16));
    assertBadArgument(a, TypeError, /size must be an integer, got undefined/, () =>
      a.alloc(undefined as unknown as number),
    );
    assertBadArgument(
      a,
      RangeError,
      /policy must be one of "instantfit", "bestfit", "nextfit", got "firstfit"/,
      () => a.alloc(16, "firstfit" as VmemPolicy),
    );
    assertBadArgument(a, TypeError, /policy must be one of .* got 1/, () =>
      a.alloc(16, 1 as unknown as VmemPolicy),
    );
    assertBadArgument(a, TypeError, /addr must be an integer, got NaN/, () => a.free(NaN, 16));
    assertBadArgument(a, TypeError, /size must be an integer, got "16"/, () =>
      a.free(x, "16" as unknown as number),
    );
    assertBadArgument(a, RangeError, /size must be in 1\.\.\d+, got 0/, () => a.xfree(x, 0));
    assertBadArgument(a, TypeError, /xalloc options must be an object, got 5/, () =>
      a.xalloc(16, 5 as unknown as object),
    );
    assertBadArgument(
      a,
      RangeError,
      /add: base 100 and size 16 must be multiples of the quantum 16/,
      () => a.add(100, 16),
    );
    assertBadArgument(
      a,
      RangeError,
      /add of \[16384, 16400\) overlaps the span \[16384, 17408\)/,
      () => a.add(16384, 16),
    );
    assertBadArgument(a, RangeError, /overlaps the span \[4096, 8192\)/, () => a.add(0, 4112));
    assertBadArgument(a, RangeError, /size must be in 1\.\./, () => a.add(65536, 0));
    assertBadArgument(a, RangeError, /base must be in 0\.\./, () => a.add(-16, 16));
  });

  it("bad options of the constructor", () => {
    const make = (o: Partial<VmemOptions>) => () =>
      new VmemArena({ name: "a", base: 0, size: 1024, quantum: 16, ...o } as VmemOptions);
    assert.throws(
      make({ quantum: 24 }),
      /quantum must be a power of two in 1\.\.1073741824, got 24/,
    );
    assert.throws(make({ quantum: 0 }), RangeError);
    assert.throws(make({ quantum: 2 ** 31 }), /quantum must be a power of two/);
    assert.throws(make({ quantum: 1.5 }), /quantum must be an integer, got 1\.5/);
    assert.throws(make({ base: 8 }), /multiples of the quantum 16, got base 8, size 1024/);
    assert.throws(make({ size: 1000 }), /multiples of the quantum/);
    assert.throws(make({ base: -16 }), /base must be in 0\.\.\d+, got -16/);
    assert.throws(make({ size: -16 }), /size must be in 0\.\./);
    assert.throws(make({ name: 5 as unknown as string }), /name must be a string, got 5/);
    assert.throws(make({ policy: "worst" as VmemPolicy }), /policy must be one of/);
    assert.throws(make({ qcacheMax: -1 }), /qcacheMax must be in 0\.\.268435456, got -1/);
    assert.throws(make({ qcacheMax: 2 ** 29 }), RangeError);
    assert.throws(make({ minImport: 0.5 }), /minImport must be an integer, got 0\.5/);
    assert.throws(
      make({ source: {} as VmemArena }),
      /source must be a VmemArena, got \[object Object\]/,
    );
    assert.throws(
      make({ importFn: 3 as unknown as () => number }),
      /importFn must be a function, got 3/,
    );
    assert.throws(
      make({ releaseFn: "x" as unknown as () => void }),
      /releaseFn must be a function/,
    );
    assert.throws(make({ qcache: 64 } as Partial<VmemOptions>), /unknown option "qcache"/);
    assert.throws(
      () => new VmemArena(undefined as unknown as VmemOptions),
      /options must be an object/,
    );
  });
});
