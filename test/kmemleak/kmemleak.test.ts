/*
 * kmemleak, from Linux's Documentation/dev-tools/kmemleak.rst: an object no root reaches
 * is reported as "unreferenced object 0x... (size N)"; a pointer to its start or into its
 * middle keeps it; not-a-leak objects are never reported and are scanned; clear forgets
 * the leaks seen so far; freed objects are forgotten; vmalloc areas and kmalloc_large
 * blocks are tracked too.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem } from "../../src/index.js";

const MiB = 1 << 20;

function mk(): Kmem {
  return new Kmem({ memory: 8 * MiB, kmemleak: true });
}

describe("kmemleak", () => {
  it("orphan detection: an object nothing points to is reported, in kmemleak's form", () => {
    const mm = mk();
    const kept = mm.kmalloc(64);
    const lost = mm.kmalloc(48);
    mm.write(lost, new TextEncoder().encode("leaked!"));
    const leaks = mm.kmemleakScan([kept]);
    assert.deepEqual(
      leaks.map((l) => l.addr),
      [lost],
    );
    const l = leaks[0];
    assert.ok(l !== undefined);
    assert.equal(l.size, 48);
    assert.equal(l.cache, "kmalloc-48");
    assert.match(l.report, /^unreferenced object 0x[0-9a-f]{8} \(size 48\):\n/);
    assert.match(
      l.report,
      /hex dump \(first 32 bytes\):\n {4}6c 65 61 6b 65 64 21 00 .* {2}leaked!\.+\n/,
    );
    assert.match(l.report, /backtrace \(crc 0\):\n.*kmemleak\.test/);
    const text = mm.report("kmemleak");
    assert.ok(text.startsWith(l.report));
    assert.match(
      text.slice(l.report.length),
      /^kmemleak: \d+ objects tracked; last scan: \d+ objects scanned, \d+ referenced, 1 unreferenced, 1 new suspected memory leaks\n$/,
    );
  });

  it("a pointer into the middle of an object keeps it; chains are followed", () => {
    const mm = mk();
    const a = mm.kmalloc(64);
    const b = mm.kmalloc(64);
    const c = mm.kmalloc(64);
    mm.setUint32(a + 8, b + 40);
    mm.setUint32(b + 4, c);
    assert.deepEqual(mm.kmemleakScan([a]), []);
    mm.setUint32(b + 4, 0);
    assert.deepEqual(
      mm.kmemleakScan([a]).map((l) => l.addr),
      [c],
    );
  });

  it("roots may be ranges of memory", () => {
    const mm = mk();
    const table = mm.allocPages(0);
    const a = mm.kmalloc(100);
    mm.setUint32(table + 12, a);
    assert.deepEqual(mm.kmemleakScan([{ addr: table, size: 16 }]), []);
    assert.equal(mm.kmemleakScan([]).length, 1);
  });

  it("kmemleak_not_leak: never reported, and what it points to is kept", () => {
    const mm = mk();
    const a = mm.kmalloc(32);
    const b = mm.kmalloc(32);
    mm.setUint32(a, b);
    mm.kmemleakNotLeak(a);
    assert.deepEqual(mm.kmemleakScan(), []);
    assert.throws(() => mm.kmemleakNotLeak(a + 4096 * 100), /not an object/);
  });

  it("clear, then scan: only new leaks", () => {
    const mm = mk();
    mm.kmalloc(32);
    assert.equal(mm.kmemleakScan().length, 1);
    mm.kmemleakClear();
    assert.equal(mm.kmemleakScan().length, 0);
    const n = mm.kmalloc(32);
    assert.deepEqual(
      mm.kmemleakScan().map((l) => l.addr),
      [n],
    );
  });

  it("freed objects are forgotten; vmalloc and kmalloc_large are tracked", () => {
    const mm = mk();
    const a = mm.kmalloc(32);
    mm.kfree(a);
    const v = mm.vmalloc(10000);
    const big = mm.kmalloc(20000);
    const found = mm.kmemleakScan().map((l) => [l.addr, l.cache]);
    assert.deepEqual(found, [
      [v, "vmalloc"],
      [big, "kmalloc_large"],
    ]);
    // A pointer stored inside the vmalloc area keeps the large block.
    mm.setUint32(v + 8192, big);
    assert.deepEqual(mm.kmemleakScan([v]), []);
    mm.vfree(v);
    mm.kfree(big);
    assert.deepEqual(mm.kmemleakScan(), []);
  });

  it("off unless asked; roots are checked", () => {
    const plain = new Kmem({ memory: 8 * MiB });
    assert.throws(() => plain.kmemleakScan(), TypeError);
    assert.equal(plain.report("kmemleak"), "kmemleak: off\n");
    const mm = mk();
    assert.throws(() => mm.kmemleakScan("x" as never), TypeError);
    assert.throws(() => mm.kmemleakScan([{ addr: 1 }] as never), TypeError);
  });
});

describe("kmemleak over SLAB and SLOB", () => {
  it("finds the object nothing points to, not the one a root reaches", () => {
    for (const slab of ["slab", "slob"] as const) {
      const mm = new Kmem({ memory: 8 * MiB, kmemleak: true, slab });
      const kept = mm.kmalloc(64);
      mm.setUint32(kept, mm.kmalloc(32));
      const lost = mm.kmalloc(48);
      const freed = mm.kmalloc(16);
      mm.kfree(freed);
      const leaks = mm.kmemleakScan([kept]);
      assert.deepEqual(
        leaks.map((l) => l.addr),
        [lost],
        slab,
      );
      assert.equal(leaks[0]?.size, 48);
    }
  });
});
