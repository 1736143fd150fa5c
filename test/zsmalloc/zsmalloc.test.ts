/*
 * zsmalloc: Linux's class arithmetic, a model of random mallocs, frees, writes and
 * compactions against a reference map (contents identical, verify() after every step),
 * fault injection on its page and handle allocations, and misuse.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GFP_KERNEL, Kmem, type ZsPool } from "../../src/index.js";
import { Frame, Hdr } from "../../src/memory/index.js";
import { Intent, intentAt, zsGeometry } from "../../src/zsmalloc/index.js";
import { ZsInfo, ZsPg } from "../../src/zsmalloc/layout.js";
import { assertMisuse, expectArgumentError, expectKmemError, memMap } from "../helpers.js";

const MiB = 1 << 20;

function fill(mm: Kmem, pool: ZsPool, h: number, size: number, seed: number): void {
  const a = pool.map(h, "wo");
  for (let j = 0; j < size; j++) mm.memory[a + j] = (seed * 31 + j) & 255;
  pool.unmap(h);
}

function check(mm: Kmem, pool: ZsPool, h: number, size: number, seed: number): void {
  const a = pool.map(h, "ro");
  for (let j = 0; j < size; j++) {
    if (mm.memory[a + j] !== ((seed * 31 + j) & 255)) {
      pool.unmap(h);
      assert.fail(`object ${h} byte ${j} changed`);
    }
  }
  pool.unmap(h);
}

describe("zsmalloc classes", () => {
  it("are Linux's: 255 classes of 32 + 16 i, merged to 69/119/192, huge from 3257/3625/3833", () => {
    for (const [chain, distinct, huge] of [
      [4, 69, 3257],
      [8, 119, 3625],
      [16, 192, 3833],
    ] as const) {
      const g = zsGeometry(4096, chain, 16384);
      assert.equal(g.nrClasses, 255);
      assert.equal(g.size.length, distinct, `chain ${chain}`);
      assert.equal(g.hugeClassSize, huge, `chain ${chain}`);
    }
    // zsmalloc.rst: with chain 4, a 1568-byte object lands in class #100 (1632 B, two pages
    // of five objects); with chain 8 its class chains 7 pages of 18 objects.
    const mm = new Kmem({ memory: 4 * MiB });
    const p4 = mm.createZsPool("c4", { chainSize: 4 })!;
    assert.equal(p4.classIndex(1568), 100);
    const c4 = p4.stats().classes.find((c) => c.index === 100)!;
    assert.deepEqual([c4.size, c4.pagesPerZspage, c4.objsPerZspage], [1632, 2, 5]);
    const p8 = mm.createZsPool("c8")!;
    const c8 = p8.stats().classes.find((c) => c.index === p8.classIndex(1568))!;
    assert.deepEqual([c8.pagesPerZspage, c8.objsPerZspage], [7, 18]);
    // 13 such objects: three zspages of 2 pages with chain 4, one of 7 with chain 8.
    for (let i = 0; i < 13; i++) {
      assert.notEqual(p4.malloc(1568), 0);
      assert.notEqual(p8.malloc(1568), 0);
    }
    assert.equal(p4.totalPages, 6);
    assert.equal(p8.totalPages, 7);
    mm.verify();
  });

  it("keeps an object of hugeClassSize or more alone in a page; more than a page fails", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const pool = mm.createZsPool("huge")!;
    assert.equal(pool.hugeClassSize, 3625);
    const h = pool.malloc(4096);
    assert.notEqual(h, 0);
    assert.equal(pool.objectSize(h), 4096);
    assert.equal(pool.totalPages, 1);
    assert.equal(pool.malloc(4097), 0);
    assert.equal(pool.malloc(0), 0);
    const a = pool.map(h);
    assert.equal(a % 4096, 0, "a huge object is its page");
    pool.unmap(h);
    pool.free(h);
    assert.equal(pool.totalPages, 0);
    mm.verify();
  });

  it("prints debugfs classes as Linux does", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const pool = mm.createZsPool("zram0")!;
    for (let i = 0; i < 10; i++) pool.malloc(100);
    const text = pool.report("classes");
    const lines = text.split("\n");
    assert.match(
      lines[0]!,
      /^ class {2}size {7}10% {7}20% .* 99% {6}100% obj_allocated {3}obj_used pages_used pages_per_zspage freeable$/,
    );
    // 100 + 8 bytes: class 5 (112 B), 7 pages of 256 objects; 10 in use is the 10% group.
    assert.equal(pool.classIndex(100), 5);
    const row = lines.find((l) => /^ +5 +112 /.test(l));
    assert.ok(row, text);
    assert.deepEqual(
      row.trim().split(/ +/).map(Number),
      [5, 112, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 256, 10, 7, 7, 0],
    );
    assert.match(lines.at(-2)!, /^ Total {7}/);
  });
});

describe("zsmalloc model", () => {
  it("random mallocs, frees, rewrites and compactions keep every object's bytes", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant("malloc" as const),
              size: fc.integer({ min: 1, max: 4096 }),
            }),
            fc.record({ op: fc.constant("free" as const), pick: fc.nat() }),
            fc.record({ op: fc.constant("write" as const), pick: fc.nat() }),
            fc.record({ op: fc.constant("compact" as const) }),
          ),
          { maxLength: 120 },
        ),
        fc.constantFrom(4, 8, 16),
        (ops, chainSize) => {
          const mm = new Kmem({ memory: 8 * MiB });
          const pool = mm.createZsPool("model", { chainSize })!;
          const live: { h: number; size: number; seed: number }[] = [];
          let seed = 0;
          for (const op of ops) {
            if (op.op === "malloc") {
              const h = pool.malloc(op.size, GFP_KERNEL);
              assert.notEqual(h, 0);
              fill(mm, pool, h, op.size, ++seed);
              live.push({ h, size: op.size, seed });
            } else if (op.op === "free" && live.length > 0) {
              const [o] = live.splice(op.pick % live.length, 1);
              check(mm, pool, o!.h, o!.size, o!.seed);
              pool.free(o!.h);
            } else if (op.op === "write" && live.length > 0) {
              const o = live[op.pick % live.length]!;
              o.seed = ++seed;
              fill(mm, pool, o.h, o.size, o.seed);
            } else if (op.op === "compact") {
              const before = pool.totalPages;
              const freed = pool.compact();
              assert.equal(pool.totalPages, before - freed);
            }
            mm.verify();
          }
          for (const o of live) check(mm, pool, o.h, o.size, o.seed);
          const s = pool.stats();
          assert.equal(s.objUsed, live.length);
          for (const o of live) pool.free(o.h);
          assert.equal(pool.totalPages, 0);
          pool.destroy();
          mm.verify();
        },
      ),
      { numRuns: 60 },
    );
  });

  it("compaction frees what zs_can_compact promised and counts it", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    const pool = mm.createZsPool("compact")!;
    const hs: number[] = [];
    for (let i = 0; i < 400; i++) hs.push(pool.malloc(200 + (i % 5) * 300));
    for (let i = 0; i < hs.length; i++) if (i % 4 !== 0) pool.free(hs[i]!);
    const freeable = pool.stats().classes.reduce((n, c) => n + c.freeable, 0);
    assert.ok(freeable > 0);
    const freed = pool.compact();
    assert.equal(freed, freeable);
    assert.equal(pool.stats().pagesCompacted, freed);
    assert.equal(pool.compact(), 0);
    mm.verify();
  });

  it("does not move an object out of a mapped zspage", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    const pool = mm.createZsPool("mapped")!;
    const hs: number[] = [];
    for (let i = 0; i < 64; i++) hs.push(pool.malloc(1000));
    for (let i = 1; i < hs.length; i++) if (i % 8 !== 0) pool.free(hs[i]!);
    const a = pool.map(hs[0]!);
    mm.memory[a] = 42;
    pool.compact();
    mm.verify();
    assert.equal(mm.memory[a], 42, "the mapping still shows the object");
    pool.unmap(hs[0]!);
    assert.ok(pool.compact() >= 0);
    mm.verify();
  });

  it("is compacted by reclaim through its shrinker", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const pool = mm.createZsPool("shrink")!;
    const hs: number[] = [];
    for (let i = 0; i < 300; i++) hs.push(pool.malloc(700));
    for (let i = 0; i < hs.length; i++) if (i % 3 !== 0) pool.free(hs[i]!);
    const before = pool.totalPages;
    mm.shrinkSlabs();
    // Background reclaim runs every shrinker, ours included.
    const pages: number[] = [];
    for (;;) {
      const p = mm.allocPages(0);
      if (p === 0) break;
      pages.push(p);
    }
    assert.ok(pool.totalPages < before, `${pool.totalPages} < ${before}`);
    for (const p of pages) mm.freePages(p, 0);
    mm.verify();
  });
});

describe("zsmalloc under fault injection", () => {
  it("a failed page or handle allocation returns 0 and leaks nothing", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    const pool = mm.createZsPool("faults")!;
    const base = mm.stats().freePages;
    for (const name of ["fail_page_alloc", "failslab"] as const) {
      mm.setFault(
        name,
        name === "fail_page_alloc"
          ? { probability: 30, interval: 1, times: -1, ignoreGfpWait: false, minOrder: 0 }
          : { probability: 30, interval: 1, times: -1, ignoreGfpWait: false },
      );
      const live: number[] = [];
      let failed = 0;
      for (let i = 0; i < 500; i++) {
        const h = pool.malloc(1 + ((i * 97) % 4096));
        if (h === 0) failed++;
        else live.push(h);
        if (i % 7 === 0) pool.compact();
      }
      mm.setFault(name, null);
      assert.ok(failed > 0, `${name} failed some`);
      mm.verify();
      for (const h of live) pool.free(h);
      assert.equal(pool.totalPages, 0);
      mm.verify();
    }
    mm.shrinkSlabs();
    assert.equal(mm.stats().freePages, base, "every page came back");
  });
});

describe("zsmalloc misuse", () => {
  it("double free, bad handles, foreign handles: KmemError, nothing changed", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const a = mm.createZsPool("a")!;
    const b = mm.createZsPool("b")!;
    const h = a.malloc(500);
    const k = a.malloc(3000);
    const other = b.malloc(500);
    a.free(k);
    assertMisuse(mm, "DOUBLE_FREE", () => a.free(k), true);
    assertMisuse(mm, "INVALID_FREE", () => a.free(other), true);
    assertMisuse(mm, "INVALID_FREE", () => a.free(h + 4), true);
    assertMisuse(mm, "INVALID_FREE", () => a.free(3), true);
    assertMisuse(mm, "INVALID_FREE", () => a.free(0), true);
    const plain = mm.kzalloc(8);
    assertMisuse(mm, "INVALID_FREE", () => a.free(plain), true);
    assertMisuse(mm, "INVALID_FREE", () => a.unmap(h), true);
    a.map(h);
    assertMisuse(mm, "BUSY", () => a.free(h), true);
    assertMisuse(mm, "BUSY", () => b.map(other), true);
    a.unmap(h);
    expectArgumentError(TypeError, /handle must be an integer/, () => a.free(1.5));
    expectArgumentError(RangeError, /map mode/, () => a.map(h, "x" as "ro"));
    expectArgumentError(RangeError, /exists already/, () => mm.createZsPool("a"));
    expectArgumentError(RangeError, /chainSize/, () => mm.createZsPool("c", { chainSize: 3 }));
    expectArgumentError(RangeError, /name must be/, () => mm.createZsPool(""));
    assertMisuse(mm, "BUSY", () => a.destroy(), true);
    a.free(h);
    a.destroy();
    assert.match(expectKmemError("DESTROYED", () => a.malloc(10)).message, /was destroyed/);
    assert.equal(mm.findZsPool("a"), null);
    assert.equal(mm.findZsPool("b"), b);
    mm.verify();
  });

  it("verify() finds a damaged header, handle or list", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const pool = mm.createZsPool("v")!;
    const h = pool.malloc(100);
    const a = pool.map(h, "ro");
    pool.unmap(h);
    const words = new Int32Array(mm.buffer);
    const header = (a - 8) >>> 2;
    const saved = words[header]!;
    words[header] = saved + 8;
    assert.throws(() => mm.verify(), /ZS-4/);
    words[header] = saved;
    const obj = words[h >>> 2]!;
    words[h >>> 2] = obj + 1;
    assert.throws(() => mm.verify(), /ZS-4/);
    words[h >>> 2] = obj;
    mm.verify();
  });

  it("verify() finds a zspage's mapping count the cpus' records do not give (ZS-7)", () => {
    const mm = new Kmem({ memory: 4 * MiB, cpus: 2 });
    const pool = mm.createZsPool("m")!;
    const h = pool.malloc(100);
    pool.map(h, "ro");
    mm.verify();
    const words = new Int32Array(mm.buffer);
    const reg = (words[Hdr.ZS] as number) >>> 2;
    const rec = reg + intentAt(2, 0);
    const first = words[rec + Intent.MAP] as number;
    assert.ok(first > 0);
    const f = memMap(mm);
    const pw = first * Frame.WORDS + ZsPg.POOL;
    const saved = f[pw]!;
    // Counted twice, or not at all, while one cpu has it mapped.
    f[pw] = saved + ZsInfo.MAPCOUNT_ONE;
    assert.throws(() => mm.verify(), /ZS-7: .* mapped 2 times, the cpus' records name it 1 times/);
    f[pw] = saved - ZsInfo.MAPCOUNT_ONE;
    assert.throws(() => mm.verify(), /ZS-7: .* mapped 0 times, the cpus' records name it 1 times/);
    f[pw] = saved;
    pool.unmap(h);
    mm.verify();
    // A record of cpu 1 naming a mapping the count does not have, then a zspage that is not.
    const other = reg + intentAt(2, 1);
    words[other + Intent.MAP_POOL] = pool.address;
    words[other + Intent.MAP] = first;
    assert.throws(() => mm.verify(), /ZS-7: .* mapped 0 times, the cpus' records name it 1 times/);
    words[other + Intent.MAP] = first + 1000;
    assert.throws(() => mm.verify(), /ZS-7: .* no zspage of it/);
    words[other + Intent.MAP_POOL] = pool.address + 64;
    assert.throws(() => mm.verify(), /ZS-7: cpu 1's intent record names a mapping of .*, no pool/);
    words[other + Intent.MAP] = 0;
    words[other + Intent.MAP_POOL] = 0;
    mm.verify();
    pool.free(h);
  });
});

describe("zsmalloc regressions", () => {
  it("an object whose header ends its page maps and unmaps whole (1 and 2 KiB pages)", () => {
    for (const pageSize of [1024, 2048]) {
      const mm = new Kmem({ memory: 16 * MiB, pageSize });
      const pool = mm.createZsPool("edge")!;
      // Every class, a zspage and a half of objects: every offset a class can start at.
      const live: { h: number; size: number; seed: number }[] = [];
      for (const c of pool.stats().classes) {
        if (c.size > pageSize) continue;
        const size = Math.min(c.size - 8, pageSize);
        for (let k = 0; k < c.objsPerZspage * 1.5; k++) {
          const h = pool.malloc(size);
          assert.notEqual(h, 0);
          fill(mm, pool, h, size, live.length);
          live.push({ h, size, seed: live.length });
        }
      }
      for (const o of live) check(mm, pool, o.h, o.size, o.seed);
      mm.verify();
    }
  });
});
