/*
 * Model-based test of the resource map: random alloc / allocAt / free (of whole or partial
 * allocations, and of random ranges) against a reference array of units. After every step
 * the map's segments are exactly the model's maximal free runs, first fit picked exactly the
 * model's first run that is large enough, misuse threw the right code, and verify() passes.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { KmemError, ResourceMap, type Segment } from "../../src/index.js";

type Op =
  | { kind: "alloc"; size: number }
  | { kind: "allocAt"; at: number; size: number }
  | { kind: "free"; pick: number; from: number; len: number }
  | { kind: "freeAny"; at: number; size: number };

function opArb(range: number): fc.Arbitrary<Op> {
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant("alloc" as const),
        size: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: range })),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("allocAt" as const),
        at: fc.integer({ min: -3, max: range + 3 }),
        size: fc.integer({ min: 1, max: 8 }),
      }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant("free" as const),
        pick: fc.nat(),
        from: fc.nat(),
        len: fc.nat(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("freeAny" as const),
        at: fc.integer({ min: -3, max: range + 3 }),
        size: fc.integer({ min: 1, max: 8 }),
      }),
    },
  );
}

/** Maximal free runs of the model, as segments. */
function runs(used: Uint8Array, base: number): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < used.length;) {
    if (used[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < used.length && !used[j]) j++;
    out.push({ base: base + i, size: j - i });
    i = j;
  }
  return out;
}

function run(ops: Op[], base: number, range: number, capacity: number | undefined): void {
  const map = new ResourceMap(
    capacity === undefined ? { base, size: range } : { base, size: range, capacity },
  );
  const used = new Uint8Array(range);
  const live: { start: number; size: number }[] = [];
  const check = () => {
    map.verify();
    const expected = runs(used, base);
    assert.deepEqual(map.segments(), expected);
    assert.equal(map.available, used.length - used.reduce((a, b) => a + b, 0));
  };
  const tryFree = (start: number, size: number): "ok" | "full" | "INVALID_FREE" | "DOUBLE_FREE" => {
    const i = start - base;
    if (i < 0 || i + size > range) return "INVALID_FREE";
    for (let k = i; k < i + size; k++) if (!used[k]) return "DOUBLE_FREE";
    const joinsBefore = i > 0 && !used[i - 1];
    const joinsAfter = i + size < range && !used[i + size];
    if (
      capacity !== undefined &&
      !joinsBefore &&
      !joinsAfter &&
      runs(used, base).length >= capacity
    ) {
      return "full";
    }
    return "ok";
  };
  const doFree = (start: number, size: number) => {
    const expect = tryFree(start, size);
    if (expect === "INVALID_FREE" || expect === "DOUBLE_FREE") {
      const before = map.segments();
      assert.throws(
        () => map.free(start, size),
        (err: unknown) => err instanceof KmemError && err.code === expect,
      );
      assert.deepEqual(map.segments(), before);
      return false;
    }
    const ok = map.free(start, size);
    assert.equal(ok, expect === "ok", `free(${start}, ${size})`);
    if (ok) used.fill(0, start - base, start - base + size);
    return ok;
  };

  for (const op of ops) {
    switch (op.kind) {
      case "alloc": {
        const fit = runs(used, base).find((s) => s.size >= op.size);
        const got = map.alloc(op.size);
        assert.equal(got, fit === undefined ? -1 : fit.base, `first fit for ${op.size}`);
        if (got !== -1) {
          used.fill(1, got - base, got - base + op.size);
          live.push({ start: got, size: op.size });
        }
        break;
      }
      case "allocAt": {
        const i = op.at - base;
        const free =
          i >= 0 && i + op.size <= range && used.subarray(i, i + op.size).every((u) => u === 0);
        const splits = free && i > 0 && !used[i - 1] && i + op.size < range && !used[i + op.size];
        const fits =
          free && !(splits && capacity !== undefined && runs(used, base).length >= capacity);
        assert.equal(map.allocAt(op.at, op.size), fits ? op.at : -1);
        if (fits) {
          used.fill(1, i, i + op.size);
          live.push({ start: op.at, size: op.size });
        }
        break;
      }
      case "free": {
        if (live.length === 0) break;
        const k = op.pick % live.length;
        const a = live[k] as { start: number; size: number };
        // Free all of it, or its front, or its back: SVR4 maps allow any part.
        const from = op.from % 3 === 0 ? 0 : op.from % a.size;
        const len = from === 0 && op.len % 2 === 0 ? a.size : 1 + (op.len % (a.size - from));
        if (!doFree(a.start + from, len)) break;
        const rest: { start: number; size: number }[] = [];
        if (from > 0) rest.push({ start: a.start, size: from });
        if (from + len < a.size)
          rest.push({ start: a.start + from + len, size: a.size - from - len });
        live.splice(k, 1, ...rest);
        break;
      }
      case "freeAny": {
        // A random range: usually misuse; when it happens to be all allocated, a real free.
        if (doFree(op.at, op.size)) {
          const lo = op.at;
          const hi = op.at + op.size;
          const next: { start: number; size: number }[] = [];
          for (const a of live) {
            if (a.start + a.size <= lo || a.start >= hi) next.push(a);
            else {
              if (a.start < lo) next.push({ start: a.start, size: lo - a.start });
              if (a.start + a.size > hi) next.push({ start: hi, size: a.start + a.size - hi });
            }
          }
          live.splice(0, live.length, ...next);
        }
        break;
      }
    }
    check();
  }
  for (const a of live) doFree(a.start, a.size);
  check();
}

describe("resource map model", () => {
  it("is first fit, coalescing and exact against a unit array", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1000, max: 1000 }),
        fc.integer({ min: 1, max: 120 }),
        fc.array(opArb(120), { minLength: 20, maxLength: 200, size: "max" }),
        // A range never contains -1 (the failure value): negative bases end below it.
        (base, range, ops) =>
          run(ops, base < 0 ? Math.min(base, -1 - range) : base, range, undefined),
      ),
      { numRuns: 200 },
    );
  });

  it("with a small fixed capacity, refuses exactly the frees that need an entry too many", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(opArb(60), { minLength: 20, maxLength: 200, size: "max" }),
        (capacity, ops) => run(ops, 0, 60, capacity),
      ),
      { numRuns: 150 },
    );
  });
});
