/*
 * The vmem arena in exact scenarios: segments and boundary tags, quantum rounding, 0 as a
 * resource, coalescing, spans, the introspection calls and destroy.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VmemArena } from "../../src/index.js";
import { assertMisuse } from "./helpers.js";

describe("VmemArena basics", () => {
  it("hands out 0 as a resource and -1 on failure", () => {
    const ids = new VmemArena({ name: "ids", base: 0, size: 3, quantum: 1 });
    assert.equal(ids.alloc(1), 0);
    assert.equal(ids.alloc(1), 1);
    assert.equal(ids.alloc(1), 2);
    assert.equal(ids.alloc(1), -1);
    ids.free(0, 1);
    assert.equal(ids.alloc(1), 0);
    assert.equal(ids.stats().fails, 1);
    ids.verify();
  });

  it("rounds sizes up to the quantum and tiles the span with boundary tags", () => {
    const a = new VmemArena({ name: "a", base: 4096, size: 4096, quantum: 16 });
    const x = a.alloc(100);
    const y = a.alloc(1);
    assert.equal(x, 4096);
    assert.equal(y, 4096 + 112);
    assert.deepEqual(a.segments(), [
      { base: 4096, size: 4096, type: "span", imported: false },
      { base: 4096, size: 112, type: "alloc" },
      { base: 4208, size: 16, type: "alloc" },
      { base: 4224, size: 3968, type: "free" },
    ]);
    a.free(x, 97); // any size that rounds to the same number of quanta
    a.free(y, 16);
    assert.deepEqual(a.segments(), [
      { base: 4096, size: 4096, type: "span", imported: false },
      { base: 4096, size: 4096, type: "free" },
    ]);
    a.verify();
  });

  it("coalesces a freed segment with the free segment before, after, or both", () => {
    const a = new VmemArena({ name: "a", base: 0, size: 64, quantum: 1 });
    const p = [a.alloc(16), a.alloc(16), a.alloc(16), a.alloc(16)];
    a.free(p[1] as number, 16);
    a.free(p[3] as number, 16);
    assert.equal(a.stats().freeSegments, 2);
    a.free(p[2] as number, 16); // joins both
    assert.deepEqual(
      a.segments().filter((s) => s.type === "free"),
      [{ base: 16, size: 48, type: "free" }],
    );
    a.free(p[0] as number, 16); // joins the one after
    assert.deepEqual(a.stats().freeSegments, 1);
    a.verify();
  });

  it("keeps spans apart: segments never coalesce across a span boundary", () => {
    const a = new VmemArena({ name: "a", base: 0, size: 32, quantum: 1 });
    assert.equal(a.add(32, 32), 32, "an adjacent span");
    a.add(128, 64);
    assert.equal(a.alloc(48), 128, "no single segment of [0, 64) holds 48");
    // Both 32-unit spans are on the same freelist; instant fit takes its head (the newer).
    assert.deepEqual([a.alloc(32), a.alloc(32)].sort(), [0, 32]);
    assert.deepEqual(
      a.segments().filter((s) => s.type === "span"),
      [
        { base: 0, size: 32, type: "span", imported: false },
        { base: 32, size: 32, type: "span", imported: false },
        { base: 128, size: 64, type: "span", imported: false },
      ],
    );
    assert.equal(a.stats().total, 128);
    a.free(0, 32);
    a.free(32, 32);
    assert.equal(a.stats().freeSegments, 3, "[0,32) and [32,64) stay two segments");
    assert.ok(a.contains(0, 32));
    assert.ok(!a.contains(16, 32), "across two spans is not inside one");
    assert.ok(!a.contains(64));
    a.verify();
  });

  it("adds spans in address order, whatever the order of the calls", () => {
    const a = new VmemArena({ name: "a", base: 1000, size: 10, quantum: 1 });
    a.add(0, 10);
    a.add(500, 10);
    assert.deepEqual(
      a
        .segments()
        .filter((s) => s.type === "span")
        .map((s) => s.base),
      [0, 500, 1000],
    );
    a.verify();
  });

  it("handles resources up to 2^53", () => {
    const big = 2 ** 52;
    const a = new VmemArena({ name: "big", base: big, size: big - 4096, quantum: 4096 });
    const x = a.alloc(2 ** 40);
    assert.equal(x, big);
    const y = a.xalloc(4096, { align: 2 ** 45 });
    assert.equal(y % 2 ** 45, 0);
    a.free(x, 2 ** 40);
    a.free(y, 4096);
    assert.equal(a.alloc(big), -1, "more than the arena");
    assert.equal(a.alloc(Number.MAX_SAFE_INTEGER), -1);
    a.verify();
  });

  it("grows its record table and hash as allocations pile up", () => {
    const a = new VmemArena({ name: "many", base: 0, size: 1 << 20, quantum: 1 });
    const got: number[] = [];
    for (let i = 0; i < 5000; i++) got.push(a.alloc(1 + (i % 7)));
    a.verify();
    assert.equal(a.stats().allocatedSegments, 5000);
    for (let i = 0; i < 5000; i += 2) a.free(got[i] as number, 1 + (i % 7));
    a.verify();
    for (let i = 1; i < 5000; i += 2) a.free(got[i] as number, 1 + (i % 7));
    assert.deepEqual(a.stats().freeSegments, 1);
    assert.ok(a.stats().lookups < 5000, "hash chains stay short");
    a.verify();
  });
});

describe("VmemArena introspection", () => {
  it("stats() follows vmem's kstats", () => {
    const a = new VmemArena({ name: "k", base: 0, size: 1024, quantum: 16 });
    const x = a.alloc(100);
    a.alloc(200);
    a.free(x, 100);
    const s = a.stats();
    assert.equal(s.name, "k");
    assert.equal(s.quantum, 16);
    assert.equal(s.total, 1024);
    assert.equal(s.inUse, 208);
    assert.equal(s.free, 816);
    assert.equal(s.imported, 0);
    assert.equal(s.spans, 1);
    assert.equal(s.freeSegments, 2);
    assert.equal(s.allocatedSegments, 1);
    assert.equal(s.largestFree, 704);
    assert.equal(s.allocs, 2);
    assert.equal(s.frees, 1);
    assert.deepEqual(s.qcaches, []);
  });

  it("allocatedEnd() is one past the highest allocated unit", () => {
    const a = new VmemArena({ name: "e", base: 256, size: 1024, quantum: 16 });
    assert.equal(a.allocatedEnd(), 256, "nothing allocated: the lowest span start");
    const x = a.alloc(64);
    const y = a.alloc(64);
    assert.equal(a.allocatedEnd(), 384);
    a.free(y, 64);
    assert.equal(a.allocatedEnd(), 320);
    a.free(x, 64);
    assert.equal(a.allocatedEnd(), 256);
    assert.equal(new VmemArena({ name: "none", base: 0, size: 0, quantum: 1 }).allocatedEnd(), 0);
  });

  it("metadataBytes() counts records in use, hash buckets and freelist heads", () => {
    const a = new VmemArena({ name: "m", base: 0, size: 1024, quantum: 16 });
    const empty = a.metadataBytes();
    a.alloc(16);
    assert.equal(a.metadataBytes() - empty, 40, "one more segment record");
  });
});

describe("VmemArena destroy", () => {
  it("refuses while anything is allocated, then empties the arena", () => {
    const a = new VmemArena({ name: "d", base: 0, size: 256, quantum: 16, policy: "nextfit" });
    a.add(512, 256);
    const x = a.alloc(32);
    const err = assertMisuse(a, "BUSY", () => a.destroy());
    assert.match(err.message, /32 units allocated/);
    a.free(x, 32);
    a.destroy();
    assert.deepEqual(a.segments(), []);
    assert.equal(a.stats().total, 0);
    a.verify();
    a.add(0, 64);
    assert.equal(a.alloc(64), 0, "still usable");
  });
});
