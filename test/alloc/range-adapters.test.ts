/* The resource map and the vmem arena behind the ByteAllocator interface. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KmemError, rmapAllocator, vmemAllocator } from "../../src/index.js";

describe("rmapAllocator", () => {
  it("hands out 16-byte units from offset 0, footprint following the highest one", () => {
    const a = rmapAllocator(1 << 16);
    assert.equal(a.name, "rmap");
    assert.equal(a.footprint(), 16, "nothing allocated: one map entry");
    const x = a.alloc(100);
    const y = a.alloc(1);
    assert.equal(x, 0, "0 is a valid handle");
    assert.equal(y, 112);
    assert.equal(a.usableSize?.(x, 100), 112);
    assert.equal(a.footprint(), 128 + 16);
    a.free(x, 100);
    assert.equal(a.footprint(), 128 + 32, "a hole below: two entries");
    a.free(y, 1);
    assert.equal(a.alloc(1 << 17), -1);
    a.verify?.();
  });

  it("passes misuse through as KmemError", () => {
    const a = rmapAllocator(4096, { quantum: 64 });
    const x = a.alloc(10);
    a.free(x, 10);
    assert.throws(
      () => a.free(x, 10),
      (e: unknown) => e instanceof KmemError && e.code === "DOUBLE_FREE",
    );
    assert.throws(
      () => a.free(3, 10),
      (e: unknown) => e instanceof KmemError && e.code === "INVALID_FREE",
    );
    assert.throws(() => rmapAllocator(4096, { quantum: 24 }), /quantum must be a power of two/);
  });
});

describe("vmemAllocator", () => {
  it("allocates by instant fit, footprint = extent + segment records", () => {
    const a = vmemAllocator(1 << 16);
    assert.equal(a.name, "vmem");
    const empty = a.footprint();
    const x = a.alloc(100);
    assert.equal(x, 0);
    assert.equal(a.usableSize?.(x, 100), 112);
    assert.equal(a.footprint(), 112 + empty + 40);
    a.free(x, 100);
    assert.equal(a.footprint(), empty);
    assert.equal(a.alloc(1 << 17), -1);
    a.verify?.();
  });

  it("takes a policy, quantum caches and a name", () => {
    const a = vmemAllocator(1 << 16, { policy: "bestfit", qcacheMax: 256, name: "vmem-bestfit" });
    assert.equal(a.name, "vmem-bestfit");
    const objs = Array.from({ length: 100 }, (_, i) => a.alloc(8 + i));
    a.verify?.();
    objs.forEach((t, i) => a.free(t, 8 + i));
    assert.throws(() => a.free(objs[0] as number, 8), KmemError);
    a.verify?.();
  });
});
