/* verify() of the vmem arena (src/vmem/verify.ts) finding corrupted records by invariant id. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KmemError, VmemArena } from "../../src/index.js";

describe("VmemArena verify", () => {
  interface Raw {
    segs: Int32Array;
    bounds: Float64Array;
    buckets: Int32Array;
    flHead: Int32Array;
    memInUse: number;
  }
  function setup() {
    const a = new VmemArena({ name: "v", base: 0, size: 1024, quantum: 16 });
    const x = a.alloc(64);
    a.alloc(64);
    a.free(x, 64);
    a.verify();
    return { a, raw: a as unknown as Raw };
  }
  const expectCorrupt = (a: VmemArena, id: string) =>
    assert.throws(
      () => a.verify(),
      (err: unknown) =>
        err instanceof KmemError && err.code === "CORRUPTION" && err.message.includes(id),
    );

  it("finds a broken arena list (VMEM-1)", () => {
    const { a, raw } = setup();
    // Record 2 is the span marker; its successor's back link now points elsewhere.
    const next = raw.segs[2 * 6 + 1] as number;
    raw.segs[next * 6 + 2] = 0;
    expectCorrupt(a, "VMEM-1");
  });

  it("finds segments that do not tile their span (VMEM-2)", () => {
    const { a, raw } = setup();
    const span = raw.segs[0 * 6 + 3] as number;
    const first = raw.segs[span * 6 + 1] as number;
    raw.bounds[first * 2 + 1] = (raw.bounds[first * 2 + 1] as number) - 16;
    expectCorrupt(a, "VMEM-2");
  });

  it("finds a free segment on the wrong freelist (VMEM-4) or missing from the hash (VMEM-5)", () => {
    const { a, raw } = setup();
    const k = raw.flHead.findIndex((h) => h !== -1);
    raw.flHead[k + 1] = raw.flHead[k] as number;
    expectCorrupt(a, "VMEM-4");
    raw.flHead[k + 1] = -1;
    a.verify();
    const b = raw.buckets.findIndex((h) => h !== -1);
    const seg = raw.buckets[b] as number;
    raw.buckets[b] = -1;
    expectCorrupt(a, "VMEM-5");
    raw.buckets[b] = seg;
    a.verify();
  });

  it("finds totals that disagree with the segments (VMEM-6)", () => {
    const { a, raw } = setup();
    raw.memInUse += 16;
    expectCorrupt(a, "VMEM-6");
  });
});
