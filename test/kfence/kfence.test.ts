/*
 * KFENCE, translated from Linux's mm/kfence/kfence_test.c: out-of-bounds reads and writes
 * into the guard pages on either side, use after free, double and invalid frees, canary
 * damage found at free with its byte map, zeroing and least-recently-freed reuse, the
 * pool bound; deterministic sampling by allocation count.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, KmemError } from "../../src/index.js";

const MiB = 1 << 20;
const P = 4096;

function kfence(fn: () => unknown, title: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KmemError && err.code === "KFENCE", String(err));
    assert.match(err.message, /BUG: KFENCE: /);
    assert.match(err.message, title);
    return true;
  });
}

function mk(extra: object = {}): Kmem {
  return new Kmem({ memory: 8 * MiB, kfence: { sampleInterval: 1, objects: 15 }, ...extra });
}

/** A sampled object at the right edge of its page (odd samples) or the left (even). */
function sampled(mm: Kmem, size: number, right: boolean): number {
  for (;;) {
    const p = mm.kmalloc(size);
    if ((p % P) + size > P - 8 === right) return p;
    mm.kfree(p);
  }
}

describe("KFENCE", () => {
  it("samples every N-th allocation, deterministically", () => {
    const mm = new Kmem({ memory: 8 * MiB, kfence: { sampleInterval: 4 } });
    const ps = Array.from({ length: 12 }, () => mm.kmalloc(32));
    const inPool = ps.map((p) => /kfence/.test(mm.report("kfence")) && p);
    assert.equal(inPool.length, 12);
    assert.match(mm.report("kfence"), /total allocations: 3\n/);
    assert.match(mm.report("kfence"), /currently allocated: 3\n/);
    for (const p of ps) mm.kfree(p);
    assert.match(mm.report("kfence"), /currently allocated: 0\n/);
    mm.verify();
  });

  it("test_out_of_bounds_read: the byte left of a right-edge object", () => {
    const mm = mk();
    const p = sampled(mm, 32, true);
    mm.getUint8(p);
    kfence(
      () => mm.getUint8(p + 32),
      /out-of-bounds read in getUint8\n\nOut-of-bounds read at 0x[0-9a-f]+ \(1B right of kfence-#\d+\):/,
    );
    const q = sampled(mm, 32, false);
    kfence(
      () => mm.getUint8(q - 1),
      /Out-of-bounds read at 0x[0-9a-f]+ \(1B left of kfence-#\d+\):/,
    );
    kfence(() => mm.setUint32(q - 4, 1), /out-of-bounds write in setUint32/);
    assert.match(mm.report("kfence"), /size=32, cache=kmalloc-32/);
  });

  it("test_use_after_free_read", () => {
    const mm = mk();
    const p = mm.kmalloc(32);
    mm.kfree(p);
    kfence(() => mm.getUint8(p), /use-after-free read in getUint8\n\nUse-after-free read at/);
    kfence(() => mm.write(p, new Uint8Array(1)), /use-after-free write in write/);
  });

  it("test_double_free and test_invalid_addr_free", () => {
    const mm = mk();
    const p = mm.kmalloc(32);
    mm.kfree(p);
    kfence(() => mm.kfree(p), /invalid free in kfree\n\nInvalid free of 0x/);
    const q = mm.kmalloc(32);
    kfence(() => mm.kfree(q + 1), /invalid free in kfree/);
    mm.kfree(q);
  });

  it("test_corruption: canary damage reported at free with its byte map", () => {
    const mm = mk();
    const p = sampled(mm, 32, false);
    mm.setUint8(p + 32, 0xac);
    kfence(
      () => mm.kfree(p),
      /memory corruption in kfree\n\nCorrupted memory at 0x[0-9a-f]+ \[ 0xac \. \. /,
    );
    // The object was freed all the same.
    kfence(() => mm.getUint8(p), /use-after-free read/);
  });

  it("test_kmalloc_aligned_oob_write: kmalloc(73) at the right edge, the slack is canary", () => {
    const mm = mk();
    const p = sampled(mm, 73, true);
    // Aligned down to 8: up to 7 bytes of canary after the object, then the guard page.
    const slack = P - ((p % P) + 73);
    assert.ok(slack >= 0 && slack < 8);
    if (slack > 0) mm.setUint8(p + 73, 0);
    kfence(() => mm.getUint8(p + 73 + slack), /out-of-bounds read/);
    if (slack > 0) kfence(() => mm.kfree(p), /memory corruption/);
  });

  it("test_gfpzero: a reused slot is zero", () => {
    const mm = mk({ kfence: { sampleInterval: 1, objects: 1 } });
    const p = mm.kmalloc(64);
    mm.write(p, new Uint8Array(64).fill(0xff));
    mm.kfree(p);
    const q = mm.kzalloc(64);
    assert.equal(q - (q % P), p - (p % P));
    assert.deepEqual(mm.read(q, 64), new Uint8Array(64));
    mm.kfree(q);
  });

  it("the pool bound: no more live objects than the pool has; the rest come from SLUB", () => {
    const mm = mk({ kfence: { sampleInterval: 1, objects: 3 } });
    const ps = Array.from({ length: 10 }, () => mm.kmalloc(16));
    assert.match(mm.report("kfence"), /currently allocated: 3\n/);
    assert.equal(new Set(ps).size, 10);
    for (const p of ps) mm.kfree(p);
    mm.verify();
  });

  it("cache objects, krealloc and ksize through the pool", () => {
    const mm = mk();
    const c = mm.createCache("kf", 100);
    assert.ok(c !== null);
    const o = c.alloc();
    assert.equal(mm.ksize(o), 100);
    c.free(o);
    const p = mm.kmalloc(100);
    mm.setUint8(p + 50, 9);
    const q = mm.krealloc(p, 60);
    assert.equal(q, p);
    assert.equal(mm.getUint8(q + 50), 9);
    const r = mm.krealloc(q, 3000);
    assert.equal(mm.getUint8(r + 50), 9);
    mm.kfree(r);
  });

  it("options are checked", () => {
    assert.throws(() => new Kmem({ memory: 8 * MiB, kfence: { sampleInterval: 0 } }), RangeError);
    assert.throws(() => new Kmem({ memory: 8 * MiB, kfence: { objects: 500 } }), RangeError);
    assert.throws(() => new Kmem({ memory: 8 * MiB, kfence: true as never }), TypeError);
  });

  it("with KASAN too: the guard pages are KFENCE's, the canary side KASAN's", () => {
    const mm = mk({ kasan: true });
    const p = sampled(mm, 32, false);
    kfence(() => mm.getUint8(p - 1), /out-of-bounds read/);
    assert.throws(
      () => mm.getUint8(p + 32),
      (e: unknown) => e instanceof KmemError && e.code === "KASAN",
    );
    mm.kfree(p);
    kfence(() => mm.getUint8(p), /use-after-free/);
  });
});

describe("KFENCE over SLAB, and its countdown", () => {
  it("SLAB's allocations are sampled as SLUB's: guard pages, use after free", () => {
    const mm = mk({ slab: "slab" });
    const p = sampled(mm, 32, true);
    kfence(() => mm.getUint8(p + 32), /out-of-bounds read/);
    mm.kfree(p);
    kfence(() => mm.getUint8(p), /use-after-free read/);
    mm.verify();
  });

  it("exactly every N-th slab allocation is sampled, the others untouched by KFENCE", () => {
    const mm = new Kmem({ memory: 8 * MiB, kfence: { sampleInterval: 5, objects: 15 } });
    const total = (): number =>
      Number(/total allocations: (\d+)/.exec(mm.report("kfence"))?.[1] ?? -1);
    const seen: number[] = [];
    for (let i = 1; i <= 20; i++) {
      mm.kmalloc(24);
      seen.push(total());
    }
    assert.deepEqual(seen, [0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4]);
  });
});
