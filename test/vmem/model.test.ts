/*
 * Model-based test of the vmem arena: random alloc (every policy), xalloc (constrained),
 * free, add and reap, with and without quantum caches and a source arena, against a
 * reference map of live allocations. After every step: verify() on every arena, no two
 * allocations overlap, the arena's walk agrees with the model (each allocation is an
 * allocated segment of exactly its size, or inside a quantum-cache slab; no free segment
 * overlaps an allocation), and without a source a failure means there really was no room.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { VmemArena, type VmemPolicy } from "../../src/index.js";
import { type Constraints, fittingSegments, meets } from "./helpers.js";

type Op =
  | { kind: "alloc"; size: number; policy: VmemPolicy }
  | {
      kind: "xalloc";
      size: number;
      alignLog: number;
      phasePick: number;
      nocrossLog: number;
      min: number;
    }
  | { kind: "free"; pick: number }
  | { kind: "add"; units: number }
  | { kind: "reap" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("alloc" as const),
      size: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 300 })),
      policy: fc.constantFrom<VmemPolicy>("instantfit", "bestfit", "nextfit"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("xalloc" as const),
      size: fc.integer({ min: 1, max: 40 }),
      alignLog: fc.integer({ min: 0, max: 5 }),
      phasePick: fc.nat(),
      nocrossLog: fc.oneof(fc.constant(-1), fc.integer({ min: 5, max: 8 })),
      min: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 600 })),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("add" as const),
      units: fc.integer({ min: 1, max: 64 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reap" as const) }) },
);

interface Config {
  quantum: number;
  qcache: boolean;
  source: boolean;
}

function run(ops: Op[], cfg: Config): void {
  const q = cfg.quantum;
  const heap = cfg.source
    ? new VmemArena({ name: "heap", base: 0, size: 4096 * q, quantum: 64 * q })
    : null;
  const arena = new VmemArena({
    name: "model",
    base: 0,
    size: heap ? 0 : 512 * q,
    quantum: q,
    qcacheMax: cfg.qcache ? 4 * q : 0,
    ...(heap ? { source: heap } : {}),
  });
  let nextSpan = 8192 * q; // spans added by "add" go above everything else
  const live = new Map<number, { size: number; x: boolean }>();
  const rounded = (n: number) => Math.ceil(n / q) * q;

  const check = () => {
    arena.verify();
    heap?.verify();
    const segs = arena.segments();
    const allocs = new Map(segs.filter((s) => s.type === "alloc").map((s) => [s.base, s.size]));
    const slabs = segs.filter((s) => s.type === "slab");
    // Allocations and free segments, by start: any overlap shows between neighbours.
    const ranges: [number, number][] = segs
      .filter((s) => s.type === "free")
      .map((s) => [s.base, s.size]);
    for (const [t, a] of live) {
      ranges.push([t, a.size]);
      if (allocs.get(t) === a.size) allocs.delete(t);
      else {
        const inSlab = slabs.some((s) => s.base <= t && t + a.size <= s.base + s.size);
        assert.ok(inSlab, `allocation ${t}+${a.size} is neither a segment nor in a slab`);
      }
    }
    ranges.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < ranges.length; i++) {
      const [b0, n0] = ranges[i - 1] as [number, number];
      assert.ok(b0 + n0 <= (ranges[i] as [number, number])[0], `${b0}+${n0} overlaps the next`);
    }
    assert.equal(allocs.size, 0, `segments ${[...allocs.keys()]} belong to no allocation`);
  };

  for (const op of ops) {
    switch (op.kind) {
      case "alloc": {
        const t = arena.alloc(op.size, op.policy);
        if (t === -1) {
          if (!heap)
            assert.ok(arena.stats().largestFree < rounded(op.size), `-1 for ${op.size} with room`);
        } else {
          assert.equal(t % q, 0);
          live.set(t, { size: rounded(op.size), x: false });
        }
        break;
      }
      case "xalloc": {
        const align = q << op.alignLog;
        const c: Constraints = {
          align,
          phase: (op.phasePick % (align / q)) * q,
          nocross: op.nocrossLog < 0 ? 0 : q << op.nocrossLog,
          minaddr: op.min * q,
          maxaddr: Infinity,
        };
        const size = op.size * q;
        if (c.nocross !== 0 && Math.ceil((c.phase + size) / align) * align > c.nocross) break;
        const t = arena.xalloc(size, {
          align: c.align,
          phase: c.phase,
          nocross: c.nocross,
          minaddr: c.minaddr,
        });
        if (t === -1) {
          if (!heap) assert.deepEqual(fittingSegments(arena, size, c), [], "xalloc -1 with room");
        } else {
          assert.ok(meets(t, size, c));
          live.set(t, { size, x: true });
        }
        break;
      }
      case "free": {
        if (live.size === 0) break;
        const keys = [...live.keys()];
        const t = keys[op.pick % keys.length] as number;
        const a = live.get(t) as { size: number; x: boolean };
        if (a.x) arena.xfree(t, a.size);
        else arena.free(t, a.size);
        live.delete(t);
        break;
      }
      case "add": {
        arena.add(nextSpan, op.units * q);
        nextSpan += (op.units + 64) * q;
        break;
      }
      case "reap":
        arena.reap();
        break;
    }
    check();
  }
  for (const [t, a] of live) {
    if (a.x) arena.xfree(t, a.size);
    else arena.free(t, a.size);
  }
  live.clear();
  arena.reap();
  check();
  assert.equal(arena.stats().inUse, 0, "everything back");
  arena.destroy(); // (the next-fit rotor may hold an imported span until now)
  arena.verify();
  if (heap) assert.equal(heap.stats().inUse, 0, "every import released");
}

describe("vmem model", () => {
  for (const cfg of [
    { quantum: 1, qcache: false, source: false },
    { quantum: 16, qcache: false, source: false },
    { quantum: 1, qcache: true, source: false },
    { quantum: 16, qcache: true, source: false },
    { quantum: 16, qcache: false, source: true },
    { quantum: 16, qcache: true, source: true },
  ]) {
    it(`quantum ${cfg.quantum}${cfg.qcache ? ", quantum caches" : ""}${cfg.source ? ", importing" : ""}`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 20, maxLength: 250, size: "max" }), (ops) =>
          run(ops, cfg),
        ),
        { numRuns: 40 },
      );
    });
  }
});
