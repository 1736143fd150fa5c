/*
 * zram: Linux's behaviours (same-filled pages cost nothing, incompressible pages are
 * stored whole, mm_stat's line), memLimit, a model of writes, reads, discards,
 * compactions and writeback against a reference map, fault injection on every
 * allocation, workers sharing one device by name, and misuse.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Kmem, KmemError, type Zram } from "../../src/index.js";
import { expectArgumentError, expectKmemError, runWorker } from "../helpers.js";
import { pageOf } from "./pages.js";

const MiB = 1 << 20;
const P = 4096;

function randomPage(seed: number): Uint8Array {
  const page = new Uint8Array(P);
  let x = seed | 1;
  for (let i = 0; i < P; i++) page[i] = (x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 1) >>> 24;
  return page;
}

function samePage(lo: number, hi: number): Uint8Array {
  const w = new Int32Array(P / 4);
  for (let i = 0; i < w.length; i += 2) {
    w[i] = lo;
    w[i + 1] = hi;
  }
  return new Uint8Array(w.buffer);
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

function memStore(pages: number) {
  const blocks = new Map<number, Uint8Array>();
  return {
    blocks,
    store: {
      pages,
      read: (b: number, into: Uint8Array) => into.set(blocks.get(b) ?? new Uint8Array(P)),
      write: (b: number, from: Uint8Array) => void blocks.set(b, from.slice()),
    },
  };
}

describe("zram", () => {
  it("stores a same-filled page as its value: same_pages + 1, no memory", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    const z = mm.createZram({ disksize: MiB })!;
    assert.equal(z.name, "zram0");
    const used = z.stats().memUsedTotal;
    assert.ok(z.write(3, new Uint8Array(P)));
    assert.ok(z.write(4, samePage(0x11223344, -7)));
    assert.equal(z.stats().samePages, 2);
    assert.equal(z.stats().memUsedTotal, used);
    assert.equal(z.slotState(4), "same");
    assert.ok(eq(z.read(4), samePage(0x11223344, -7)));
    assert.ok(eq(z.read(9), new Uint8Array(P)), "a sector never written reads as zeros");
    mm.verify();
  });

  it("stores an incompressible page as it is in the huge class: huge_pages + 1", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    const z = mm.createZram({ disksize: MiB })!;
    const page = randomPage(5);
    assert.ok(z.write(0, page));
    const s = z.stats();
    assert.deepEqual(
      [s.hugePages, s.hugePagesSince, s.comprDataSize, s.memUsedTotal],
      [1, 1, P, P],
    );
    assert.equal(z.slotState(0), "huge");
    assert.ok(eq(z.read(0), page));
    z.write(0, pageOf(1, 0, 0, P));
    assert.equal(z.stats().hugePages, 0);
    assert.equal(z.stats().hugePagesSince, 1);
    assert.equal(z.slotState(0), "compressed");
    mm.verify();
  });

  it("prints mm_stat, io_stat and bd_stat as Linux does", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    const z = mm.createZram({ disksize: MiB, memLimit: 64 * 1024 })!;
    z.write(0, new Uint8Array(P));
    z.write(1, randomPage(1));
    z.write(2, pageOf(1, 2, 0, P));
    const s = z.stats();
    const mm9 = z.report("mm_stat");
    assert.match(mm9, /^( {0,7}\d+ ){8} {0,7}\d+\n$/);
    assert.deepEqual(mm9.trim().split(/ +/).map(Number), [
      3 * P,
      s.comprDataSize,
      s.memUsedTotal,
      65536,
      s.memUsedMax,
      1,
      0,
      1,
      1,
    ]);
    assert.equal(z.report("io_stat"), "       0        0 0        0\n");
    assert.equal(z.report("bd_stat"), "       0        0        0\n");
    expectArgumentError(RangeError, /report name/, () => z.report("nope" as "mm_stat"));
  });

  it("refuses a write past memLimit, keeping the old contents (failed_writes + 1)", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    const z = mm.createZram({ disksize: MiB, memLimit: 8 * P })!;
    const kept: Uint8Array[] = [];
    let i = 0;
    for (; i < 64; i++) {
      const page = randomPage(i + 100);
      if (!z.write(i, page)) break;
      kept.push(page);
    }
    assert.equal(i, 8, "eight huge pages fill eight pages");
    assert.equal(z.stats().failedWrites, 1);
    assert.ok(!z.write(0, randomPage(999)));
    assert.ok(eq(z.read(0), kept[0]!), "the refused write left the old page");
    assert.ok(z.stats().memUsedTotal <= 8 * P);
    z.memLimit = 0;
    assert.ok(z.write(8, randomPage(1)));
    mm.verify();
  });

  it("writes back huge and idle pages to the caller's store and reads them from it", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    const z = mm.createZram({ disksize: MiB })!;
    const { blocks, store } = memStore(16);
    assert.ok(z.setBackingStore(store));
    const pages = [randomPage(1), pageOf(1, 1, 0, P), pageOf(1, 2, 0, P), new Uint8Array(P)];
    pages.forEach((p, i) => z.write(i, p));
    assert.equal(z.writeback("huge"), 1);
    assert.equal(z.slotState(0), "written back");
    z.read(1);
    z.markIdle();
    z.read(2); // accessed: no longer idle
    assert.equal(z.writeback("idle"), 1, "only sector 1: 2 was read since, 3 is same-filled");
    assert.equal(blocks.size, 2);
    pages.forEach((p, i) => assert.ok(eq(z.read(i), p), `sector ${i}`));
    const s = z.stats();
    assert.deepEqual([s.bdCount, s.bdWrites, s.bdReads], [2, 2, 2]);
    assert.equal(z.report("bd_stat"), "       2        2        2\n");
    z.discard(0);
    assert.equal(z.stats().bdCount, 1);
    mm.verify();
  });
});

describe("zram model", () => {
  it("random writes, reads, discards, compactions and writeback match a reference map", () => {
    const kinds = fc.constantFrom("text", "random", "zero", "same");
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant("write" as const),
              i: fc.nat(63),
              kind: kinds,
              seed: fc.nat(),
            }),
            fc.record({ op: fc.constant("read" as const), i: fc.nat(63) }),
            fc.record({ op: fc.constant("discard" as const), i: fc.nat(63) }),
            fc.record({ op: fc.constant("compact" as const) }),
            fc.record({
              op: fc.constant("writeback" as const),
              mode: fc.constantFrom("idle", "huge"),
            }),
            fc.record({ op: fc.constant("idle" as const) }),
          ),
          { maxLength: 80 },
        ),
        (ops) => {
          const mm = new Kmem({ memory: 8 * MiB });
          const z = mm.createZram({ disksize: 64 * P })!;
          z.setBackingStore(memStore(24).store);
          const ref = new Map<number, Uint8Array>();
          const out = new Uint8Array(P);
          for (const op of ops) {
            if (op.op === "write") {
              const page =
                op.kind === "text"
                  ? pageOf(op.seed % 5, op.i, op.seed, P)
                  : op.kind === "random"
                    ? randomPage(op.seed)
                    : op.kind === "zero"
                      ? new Uint8Array(P)
                      : samePage(op.seed, ~op.seed);
              assert.ok(z.write(op.i, page));
              ref.set(op.i, page);
            } else if (op.op === "read") {
              assert.ok(eq(z.read(op.i, out), ref.get(op.i) ?? new Uint8Array(P)));
            } else if (op.op === "discard") {
              z.discard(op.i);
              ref.delete(op.i);
            } else if (op.op === "compact") {
              z.compact();
            } else if (op.op === "writeback") {
              z.writeback(op.mode);
            } else {
              z.markIdle();
            }
            mm.verify();
          }
          for (let i = 0; i < 64; i++)
            assert.ok(eq(z.read(i, out), ref.get(i) ?? new Uint8Array(P)));
          assert.equal(z.stats().origDataSize, ref.size * P);
          z.destroy();
          mm.verify();
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("zram under fault injection", () => {
  for (const name of ["fail_page_alloc", "failslab"] as const) {
    it(`${name}: a failed write keeps the old page, and destroy gives every page back`, () => {
      const mm = new Kmem({ memory: 8 * MiB });
      // What stays once the first device is gone: the registry with its mapping areas,
      // the vmalloc descriptor and page directory.
      mm.createZram({ disksize: 128 * P })!.destroy();
      mm.shrinkSlabs();
      const base = mm.stats().freePages;
      const z = mm.createZram({ disksize: 128 * P })!;
      const ref = new Map<number, Uint8Array>();
      mm.setFault(
        name,
        name === "fail_page_alloc"
          ? { probability: 25, interval: 1, times: -1, ignoreGfpWait: false, minOrder: 0 }
          : { probability: 25, interval: 1, times: -1, ignoreGfpWait: false },
      );
      let failed = 0;
      for (let n = 0; n < 600; n++) {
        const i = (n * 37) % 128;
        const page = n % 5 === 0 ? randomPage(n) : pageOf(n % 3, i, n, P);
        if (z.write(i, page)) ref.set(i, page);
        else failed++;
        if (n % 50 === 0) z.compact();
        if (n % 9 === 0) z.discard((n * 11) % 128);
        if (n % 9 === 0) ref.delete((n * 11) % 128);
      }
      mm.setFault(name, null);
      assert.ok(failed > 0, "some writes failed");
      assert.equal(z.stats().failedWrites, failed);
      mm.verify();
      for (let i = 0; i < 128; i++)
        assert.ok(eq(z.read(i), ref.get(i) ?? new Uint8Array(P)), `sector ${i}`);
      z.destroy();
      mm.shrinkSlabs();
      mm.verify();
      assert.equal(mm.stats().freePages, base, "nothing leaked");
    });
  }
});

describe("zram with workers", () => {
  it("two workers find the device by name and share it; every page stays whole", async () => {
    const sab = new SharedArrayBuffer(32 * MiB);
    const mm = new Kmem({ memory: sab, cpus: 3 });
    const z = mm.createZram({ disksize: 256 * P, name: "shared" })!;
    for (let i = 0; i < 32; i++) assert.ok(z.write(i, pageOf(0, i, 0, P)));
    const common = { sab, name: "shared", mainPages: 32, shared: [200, 232], rounds: 4 };
    const replies = await Promise.all([
      runWorker<{ cpu: number; problems: string[] }>(
        new URL("./share.worker.js", import.meta.url),
        {
          ...common,
          me: 1,
          own: [64, 128],
        },
      ),
      runWorker<{ cpu: number; problems: string[] }>(
        new URL("./share.worker.js", import.meta.url),
        {
          ...common,
          me: 2,
          own: [128, 192],
        },
      ),
    ]);
    for (const r of replies) {
      assert.deepEqual(r.problems, []);
      mm.offlineCpu(r.cpu);
    }
    for (let i = 0; i < 32; i++) assert.ok(eq(z.read(i), pageOf(0, i, 0, P)));
    for (let i = 64; i < 192; i++)
      assert.ok(eq(z.read(i), pageOf(i < 128 ? 1 : 2, i, 3, P)), `sector ${i}`);
    for (let i = 200; i < 232; i++) {
      const got = z.read(i);
      assert.ok(eq(got, pageOf(1, i, 3, P)) || eq(got, pageOf(2, i, 3, P)), `shared sector ${i}`);
    }
    assert.equal(mm.findZram("shared"), z);
    mm.verify();
  });
});

describe("zram misuse", () => {
  it("bad arguments are errors that change nothing; a destroyed device refuses", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    const z: Zram = mm.createZram({ disksize: 16 * P })!;
    expectArgumentError(RangeError, /index must be in 0\.\.15/, () =>
      z.write(16, new Uint8Array(P)),
    );
    expectArgumentError(TypeError, /index must be an integer/, () => z.read(1.5));
    expectArgumentError(TypeError, /a page/, () => z.write(0, new Uint8Array(100)));
    expectArgumentError(RangeError, /disksize/, () => mm.createZram({ disksize: 10 }));
    expectArgumentError(RangeError, /algorithm/, () =>
      mm.createZram({ disksize: P, algorithm: "lzo" as "lz4" }),
    );
    expectArgumentError(TypeError, /unknown option/, () =>
      mm.createZram({ disksize: P, size: 1 } as never),
    );
    expectArgumentError(RangeError, /exists already/, () =>
      mm.createZram({ disksize: P, name: "zram0" }),
    );
    expectArgumentError(TypeError, /no backing store/, () => z.writeback("huge"));
    expectArgumentError(RangeError, /writeback mode/, () => z.writeback("all" as "idle"));
    z.write(0, pageOf(1, 0, 0, P));
    z.destroy();
    assert.match(expectKmemError("DESTROYED", () => z.read(0)).message, /was destroyed/);
    assert.equal(mm.findZram("zram0"), null);
    assert.equal(mm.findZsPool("zram0"), null);
    mm.verify();
  });

  it("a corrupted object reads as a KmemError CORRUPTION, counted in failed_reads", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    const z = mm.createZram({ disksize: 16 * P })!;
    z.write(0, pageOf(1, 0, 0, P));
    const pool = z.pool;
    // The first object of the pool: its bytes after the handle.
    const h = pool.stats().objUsed === 1 ? findHandle(mm) : 0;
    const a = pool.map(h, "rw");
    mm.memory.fill(0xff, a, a + 16);
    pool.unmap(h);
    const err = expectKmemError("CORRUPTION", () => z.read(0));
    assert.ok(err instanceof KmemError);
    assert.equal(z.stats().failedReads, 1);
    assert.equal(z.report("io_stat"), "       1        0 0        0\n");
    mm.verify();
  });
});

/** The handle of the only object in the instance's only zram (from its table, through read). */
function findHandle(mm: Kmem): number {
  const z = mm.findZram("zram0")!;
  const e = new Int32Array(4);
  (z as unknown as { entryWords(i: number, out: Int32Array): void }).entryWords(0, e);
  return e[0]! >>> 0;
}

describe("zram and zsmalloc creation under fault injection", () => {
  it("a pool or device that cannot be made is null, and takes nothing", () => {
    for (const name of ["fail_page_alloc", "failslab"] as const) {
      let refused = 0;
      for (let nth = 1; nth <= 8; nth++) {
        const mm = new Kmem({ memory: 8 * MiB });
        // What stays once a device was made and destroyed: the registry with its mapping
        // area, vmalloc's descriptor and page directory.
        const warm = mm.createZram({ disksize: 64 * P })!;
        warm.setBackingStore(memStore(8).store);
        warm.write(0, pageOf(1, 0, 0, P));
        warm.destroy();
        mm.shrinkSlabs();
        const base = mm.stats().freePages;
        // The nth allocation fails, the others do not.
        mm.setFault(
          name,
          name === "fail_page_alloc"
            ? { probability: 100, interval: nth, times: 1, ignoreGfpWait: false, minOrder: 0 }
            : { probability: 100, interval: nth, times: 1, ignoreGfpWait: false },
        );
        const z = mm.createZram({ disksize: 64 * P });
        const ok = z !== null && z.setBackingStore(memStore(8).store);
        mm.setFault(name, null);
        if (!ok) refused++;
        mm.verify();
        if (z !== null) {
          if (ok) z.write(0, pageOf(1, 0, 0, P));
          z.destroy();
        }
        assert.equal(mm.findZsPool("zram1"), null, `${name} #${nth}: no pool left behind`);
        mm.verify();
        mm.shrinkSlabs();
        assert.equal(mm.stats().freePages, base, `${name} #${nth}: nothing kept`);
      }
      assert.ok(refused > 0, `${name}: some creations failed`);
    }
  });
});

describe("zram state lives in the buffer", () => {
  it("a snapshot of the buffer reopened finds the device and its pages", () => {
    const mm = new Kmem({ memory: 8 * MiB });
    const z = mm.createZram({ disksize: 32 * P })!;
    for (let i = 0; i < 32; i++) z.write(i, i % 4 === 0 ? new Uint8Array(P) : pageOf(3, i, 0, P));
    const copy = Kmem.reopen((mm.buffer as ArrayBuffer).slice(0));
    const again = copy.findZram("zram0")!;
    assert.notEqual(again, null);
    for (let i = 0; i < 32; i++) {
      assert.ok(eq(again.read(i), i % 4 === 0 ? new Uint8Array(P) : pageOf(3, i, 0, P)));
    }
    assert.equal(again.report("mm_stat"), z.report("mm_stat"), "the same counters");
    copy.verify();
  });
});
