/*
 * Constrained allocation, vmem_xalloc: each constraint alone, together, inconsistent ones
 * refused, and a property test checking every result against its constraints and every
 * failure (and every best-fit choice) against a brute-force search of the free segments.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { VmemArena, type XallocOptions } from "../../src/index.js";
import {
  type Constraints,
  assertBadArgument,
  fittingSegments,
  freeSegments,
  meets,
} from "./helpers.js";

function arena() {
  const a = new VmemArena({ name: "x", base: 0, size: 1024, quantum: 16 });
  a.alloc(96); // [0, 96) taken
  return a;
}

describe("xalloc constraints", () => {
  it("align: the start is a multiple of align", () => {
    const a = arena();
    assert.equal(a.xalloc(64, { align: 256 }), 256);
    assert.equal(a.xalloc(16, { align: 64 }), 128);
    a.verify();
  });

  it("phase: the start is phase past a multiple of align", () => {
    const a = arena();
    assert.equal(a.xalloc(64, { align: 256, phase: 32 }), 288);
    assert.equal(a.xalloc(16, { align: 128, phase: 112 }), 112);
    a.verify();
  });

  it("nocross: the result does not straddle a multiple of nocross", () => {
    const a = arena();
    assert.equal(a.xalloc(64, { nocross: 128 }), 128, "[96, 160) would cross 128");
    assert.equal(a.xalloc(32, { nocross: 128 }), 96, "[96, 128) touches 128 without crossing");
    a.verify();
  });

  it("minaddr and maxaddr: the result lies in [minaddr, maxaddr)", () => {
    const a = arena();
    assert.equal(a.xalloc(16, { minaddr: 500 }), 512, "rounded up to the quantum");
    assert.equal(a.xalloc(16, { maxaddr: 112 }), 96, "maxaddr is exclusive");
    assert.equal(a.xalloc(16, { maxaddr: 112 }), -1);
    assert.equal(a.xalloc(16, { minaddr: 1008, maxaddr: 1024 }), 1008);
    assert.equal(a.xalloc(16, { minaddr: 2000 }), -1, "beyond every span");
    a.verify();
  });

  it("all of them at once", () => {
    const a = arena();
    const opts = { align: 64, phase: 16, nocross: 256, minaddr: 200, maxaddr: 600 };
    const got: number[] = [];
    for (;;) {
      const t = a.xalloc(96, opts);
      if (t === -1) break;
      got.push(t);
    }
    // Starts are 16 mod 64 from 200 up: [208, 304) would cross 256, so 272; then 400;
    // [528, 624) would pass maxaddr.
    assert.deepEqual(got, [272, 400]);
    for (const t of got) assert.ok(meets(t, 96, opts));
    a.verify();
  });

  it("best fit over the constraints takes the smallest segment that can hold the result", () => {
    const a = new VmemArena({ name: "b", base: 0, size: 4096, quantum: 16 });
    const big = a.alloc(1024);
    const fence = a.alloc(16);
    const small = a.alloc(256);
    a.alloc(16);
    a.free(big, 1024);
    a.free(small, 256);
    assert.ok(fence > 0);
    // Both free segments hold 64 units aligned to 128; the 256-unit one is the better fit.
    assert.equal(a.xalloc(64, { align: 128, policy: "bestfit" }), 1152);
    assert.equal(a.xalloc(64, { align: 128 }), 0, "instant fit: the first that can hold it");
    a.verify();
  });

  it("xfree frees what xalloc returned, and so does free", () => {
    const a = arena();
    const t = a.xalloc(32, { align: 512 });
    const u = a.xalloc(32, { align: 256, phase: 16 });
    a.xfree(t, 32);
    a.free(u, 32);
    assert.equal(a.stats().inUse, 96);
    a.verify();
  });

  it("refuses inconsistent constraints with RangeError, naming them", () => {
    const a = arena();
    assertBadArgument(a, RangeError, /align must be a power of two/, () =>
      a.xalloc(16, { align: 48 }),
    );
    assertBadArgument(a, RangeError, /multiple of the quantum 16, got 8/, () =>
      a.xalloc(16, { align: 8 }),
    );
    assertBadArgument(
      a,
      RangeError,
      /phase must be a multiple of the quantum 16 below align 64, got 64/,
      () => a.xalloc(16, { align: 64, phase: 64 }),
    );
    assertBadArgument(a, RangeError, /phase .* got 8/, () => a.xalloc(16, { align: 64, phase: 8 }));
    assertBadArgument(a, RangeError, /nocross must be 0 or a power of two/, () =>
      a.xalloc(16, { nocross: 96 }),
    );
    assertBadArgument(a, RangeError, /overconstrained/, () =>
      a.xalloc(16, { align: 256, nocross: 128 }),
    );
    assertBadArgument(a, RangeError, /overconstrained/, () =>
      a.xalloc(112, { align: 64, phase: 32, nocross: 128 }),
    );
    assertBadArgument(a, RangeError, /maxaddr must be in 101\.\./, () =>
      a.xalloc(16, { minaddr: 100, maxaddr: 100 }),
    );
    assertBadArgument(a, RangeError, /minaddr must be in 0\.\./, () =>
      a.xalloc(16, { minaddr: -16 }),
    );
    assertBadArgument(a, TypeError, /align must be an integer, got "64"/, () =>
      a.xalloc(16, { align: "64" } as unknown as XallocOptions),
    );
    assertBadArgument(a, TypeError, /unknown option "aligne"/, () =>
      a.xalloc(16, { aligne: 64 } as unknown as XallocOptions),
    );
    assertBadArgument(a, RangeError, /policy must be one of/, () =>
      a.xalloc(16, { policy: "worstfit" } as unknown as XallocOptions),
    );
  });
});

interface Req {
  size: number;
  alignLog: number;
  phasePick: number;
  nocrossLog: number;
  min: number;
  span: number;
  best: boolean;
}

const reqArb: fc.Arbitrary<Req> = fc.record({
  size: fc.integer({ min: 1, max: 40 }),
  alignLog: fc.integer({ min: 0, max: 6 }),
  phasePick: fc.nat(),
  nocrossLog: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 8 })),
  min: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1100 })),
  span: fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 600 })),
  best: fc.boolean(),
});

describe("xalloc model", () => {
  it("every result meets its constraints; failures and best fits match a brute-force search", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 4, 16),
        fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 0, maxLength: 40, size: "max" }),
        fc.array(reqArb, { minLength: 1, maxLength: 60, size: "max" }),
        (q, fill, reqs) => {
          const a = new VmemArena({ name: "m", base: 0, size: 512 * q, quantum: q });
          a.add(1024 * q, 256 * q);
          // Fragment: allocate, then free every other allocation.
          const taken = fill.map((n) => [a.alloc(n * q), n * q] as const).filter(([t]) => t !== -1);
          taken.forEach(([t, n], i) => i % 2 === 0 && a.free(t, n));
          for (const r of reqs) {
            const size = r.size * q;
            const align = q << r.alignLog;
            const phase = (r.phasePick % (align / q)) * q;
            const nocross = r.nocrossLog < 0 ? 0 : q << r.nocrossLog;
            const minaddr = r.min;
            const maxaddr = r.span < 0 ? Infinity : minaddr + r.span;
            const c: Constraints = { align, phase, nocross, minaddr, maxaddr };
            const opts: XallocOptions = {
              align,
              phase,
              nocross,
              minaddr,
              policy: r.best ? "bestfit" : "instantfit",
            };
            if (maxaddr !== Infinity) opts.maxaddr = maxaddr;
            const rounded = Math.ceil(phase / align + size / align) * align;
            if (nocross !== 0 && (align > nocross || rounded > nocross)) {
              assert.throws(() => a.xalloc(size, opts), /overconstrained/);
              continue;
            }
            const fits = fittingSegments(a, size, c);
            const before = freeSegments(a);
            const t = a.xalloc(size, opts);
            if (t === -1) {
              assert.deepEqual(
                fits,
                [],
                `-1 although a segment fits ${JSON.stringify(c)} size ${size}`,
              );
            } else {
              assert.ok(meets(t, size, c), `${t} breaks ${JSON.stringify(c)}`);
              assert.equal(t % q, 0);
              const home = before.find((s) => s.base <= t && t + size <= s.base + s.size);
              assert.ok(home !== undefined, `${t}+${size} is not inside a free segment`);
              if (r.best) assert.equal(home.size, Math.min(...fits), "best fit");
            }
            a.verify();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
