/*
 * Linux's SLAB (src/slab): enable_cpucache's defaults, tunables that take effect and are
 * refused as Linux refuses them, cache_reap, the reclaim path, alien frees, adaptive
 * magazines, and the arrays' invariants (ASLAB-1..4). The model, misuse, debug, failslab,
 * worker and NUMA suites run SLAB beside SLUB (test/slub, test/smp, test/numa).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GFP_KERNEL, Kmem, KmemError, SLAB_NO_MERGE, SLAB_RED_ZONE } from "../../src/index.js";
import type { SlabAllocator } from "../../src/slab/index.js";

const MiB = 1 << 20;
/** Words of an array cache's header (src/slab/layout.ts, Ac). */
const AVAIL = 0;
const LIMIT = 1;
const BLOCK_FAILS = 10;

function slabOf(mm: Kmem): SlabAllocator {
  return (mm as unknown as { slab: SlabAllocator }).slab;
}

/** This context's array cache of cache `name`. */
function arrayOf(mm: Kmem, name: string): Int32Array {
  const c = mm.findCache(name);
  assert.ok(c !== null);
  const v = slabOf(mm).arraysOf(c);
  assert.ok(v !== null);
  return v.ac;
}

/** The header of cache `name`'s array block. */
function blockOf(mm: Kmem, name: string): Int32Array {
  const c = mm.findCache(name);
  assert.ok(c !== null);
  const v = slabOf(mm).arraysOf(c);
  assert.ok(v !== null);
  return v.hdr;
}

/** slabinfo's tunables and sharedavail of cache `name`. */
function tunables(mm: Kmem, name: string): number[] {
  const line = mm
    .report("slabinfo")
    .split("\n")
    .find((l) => l.startsWith(`${name} `));
  assert.ok(line !== undefined, `slabinfo has ${name}`);
  const m = /: tunables +(\d+) +(\d+) +(\d+) : slabdata +\d+ +\d+ +(\d+)/.exec(line);
  assert.ok(m !== null);
  return m.slice(1).map(Number);
}

function churn(mm: Kmem, name: string, n: number): void {
  const c = mm.findCache(name);
  assert.ok(c !== null);
  const objs = Array.from({ length: n }, () => c.alloc());
  assert.ok(objs.every((a) => a !== 0));
  for (const a of objs) c.free(a);
}

describe("SLAB: enable_cpucache defaults", () => {
  it("limit by object size, batchcount half of it, shared 8 only with several cpus", () => {
    const mm = new Kmem({ memory: 8 * MiB, slab: "slab" });
    for (const [size, limit] of [
      [64, 120],
      [512, 54],
      [2048, 24],
      [8192, 8],
    ] as const) {
      mm.createCache(`d${size}`, size, { flags: SLAB_NO_MERGE });
      churn(mm, `d${size}`, 3);
      assert.deepEqual(tunables(mm, `d${size}`), [limit, (limit + 1) >> 1, 0, 0], `${size}`);
    }
    const smp = new Kmem({ memory: 8 * MiB, slab: "slab", cpus: 2 });
    smp.createCache("s64", 64);
    churn(smp, "s64", 3);
    assert.deepEqual(tunables(smp, "s64").slice(0, 3), [120, 60, 8]);
    smp.verify();
  });

  it("a cache with red zones has no arrays (checked object by object) and prints zeros", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab" });
    mm.createCache("rz", 64, { flags: SLAB_RED_ZONE });
    churn(mm, "rz", 10);
    assert.deepEqual(tunables(mm, "rz"), [0, 0, 0, 0]);
    assert.throws(() => mm.tuneCache("rz", { limit: 4, batchcount: 2, shared: 0 }), RangeError);
    mm.verify();
  });
});

describe("SLAB: tunables", () => {
  it("are refused as Linux refuses them, changing nothing", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab" });
    mm.createCache("t", 64);
    churn(mm, "t", 10);
    const before = tunables(mm, "t");
    for (const [limit, batchcount, shared] of [
      [0, 1, 0],
      [10, 0, 0],
      [10, 11, 0],
      [10, 5, -1],
    ]) {
      assert.throws(
        () => mm.tuneCache("t", { limit, batchcount, shared } as never),
        RangeError,
        `${limit} ${batchcount} ${shared}`,
      );
    }
    assert.throws(() => mm.tuneCache("t", { limit: 1.5, batchcount: 1, shared: 0 }), TypeError);
    assert.throws(() => mm.tuneCache("nope", { limit: 4, batchcount: 2, shared: 0 }), RangeError);
    assert.throws(
      () => mm.tuneCache("t", { limit: 4, batchcount: 2, shared: 0, extra: 1 } as never),
      TypeError,
    );
    assert.deepEqual(tunables(mm, "t"), before);
    const slub = new Kmem({ memory: 4 * MiB });
    slub.createCache("t", 64);
    assert.throws(() => slub.tuneCache("t", { limit: 4, batchcount: 2, shared: 0 }), RangeError);
    mm.verify();
  });

  it("take effect: the array never holds more than the limit", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab" });
    mm.createCache("t", 64);
    churn(mm, "t", 200);
    assert.ok((arrayOf(mm, "t")[AVAIL] as number) > 8);
    mm.tuneCache("t", { limit: 8, batchcount: 4, shared: 0 });
    assert.deepEqual(tunables(mm, "t"), [8, 4, 0, 0]);
    assert.ok((arrayOf(mm, "t")[AVAIL] as number) <= 8, "this cpu's array gave back the rest");
    churn(mm, "t", 200);
    assert.ok((arrayOf(mm, "t")[AVAIL] as number) <= 8);
    mm.verify();
    // Larger than the arrays have room for: a new block (one cpu online).
    mm.tuneCache("t", { limit: 300, batchcount: 150, shared: 0 });
    assert.deepEqual(tunables(mm, "t"), [300, 150, 0, 0]);
    churn(mm, "t", 400);
    assert.ok((arrayOf(mm, "t")[AVAIL] as number) > 120, "more than the old limit fits now");
    mm.verify();
  });

  it("with another cpu online: smaller limits apply to every cpu, larger ones are BUSY", () => {
    const a = new Kmem({ memory: 4 * MiB, slab: "slab", cpus: 2 });
    const b = Kmem.attach(a.buffer);
    a.createCache("t", 64);
    churn(b, "t", 150);
    a.tuneCache("t", { limit: 16, batchcount: 8, shared: 2 });
    assert.deepEqual(tunables(b, "t").slice(0, 3), [16, 8, 2]);
    assert.equal(arrayOf(b, "t")[LIMIT], 16);
    // b's array gives back what is over the new limit at its next flush.
    churn(b, "t", 40);
    assert.ok((arrayOf(b, "t")[AVAIL] as number) <= 16);
    assert.throws(
      () => a.tuneCache("t", { limit: 500, batchcount: 8, shared: 0 }),
      (e: unknown) => e instanceof KmemError && e.code === "BUSY",
    );
    a.verify();
    a.offlineCpu(b.cpu);
    a.tuneCache("t", { limit: 500, batchcount: 8, shared: 0 });
    a.verify();
  });
});

describe("SLAB: cache_reap and the reclaim path", () => {
  it("drains an untouched array by (limit + 4) / 5 per round, and empty slabs", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", minFreeBytes: 0 });
    mm.createCache("r", 64, { flags: SLAB_NO_MERGE });
    churn(mm, "r", 500);
    const ac = arrayOf(mm, "r");
    const start = ac[AVAIL] as number;
    assert.ok(start > 48);
    // Touched since the last round: kept, and marked untouched.
    mm.reap();
    assert.equal(ac[AVAIL], start);
    mm.reap();
    assert.equal(ac[AVAIL], start - 24, "(120 + 4) / 5 = 24 given back");
    mm.reap();
    assert.equal(ac[AVAIL], start - 48);
    let pages = 0;
    for (let i = 0; i < 10; i++) pages += mm.reap().pages;
    assert.equal(ac[AVAIL], 0);
    assert.ok(pages > 0, "empty slabs went back to the page allocator");
    mm.verify();
  });

  it("the reclaim path (shrinkSlabs, the shrinker) drains every array at once", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", minFreeBytes: 0 });
    mm.createCache("r", 64, { flags: SLAB_NO_MERGE });
    churn(mm, "r", 500);
    assert.ok((arrayOf(mm, "r")[AVAIL] as number) > 0);
    mm.shrinkSlabs();
    assert.equal(arrayOf(mm, "r")[AVAIL], 0);
    const info = mm.stats().caches.find((c) => c.name === "r");
    assert.equal(info?.slabs, 0);
    mm.verify();
  });

  it("under memory pressure, the arrays' objects come back for a page allocation", () => {
    const mm = new Kmem({ memory: MiB, slab: "slab", minFreeBytes: 0 });
    mm.createCache("r", 1024, { flags: SLAB_NO_MERGE });
    const c = mm.findCache("r");
    assert.ok(c !== null);
    const objs: number[] = [];
    for (;;) {
      const a = c.alloc(0);
      if (a === 0) break;
      objs.push(a);
    }
    for (const a of objs) c.free(a);
    assert.ok((arrayOf(mm, "r")[AVAIL] as number) > 0);
    // Every page is in slabs or arrays: an order-3 block needs the reclaim path.
    assert.notEqual(mm.allocPages(3, GFP_KERNEL), 0);
    mm.verify();
  });

  it("runs on a timer only when asked, a timer that keeps nothing alive", () => {
    const mm = new Kmem({ memory: MiB, slab: "slab" });
    const stop = mm.reapEvery(60000);
    stop();
    assert.throws(() => mm.reapEvery(0), RangeError);
    const slub = new Kmem({ memory: MiB });
    assert.deepEqual(slub.reap(), { objects: 0, pages: 0 });
  });
});

describe("SLAB: alien arrays", () => {
  it("a free of another node's object goes to the alien array, which drains at 12", () => {
    const mm = new Kmem({ nodes: [2 * MiB, 2 * MiB], node: 1, slab: "slab", minFreeBytes: 0 });
    const c = mm.createCache("al", 96, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const local = Array.from({ length: 50 }, () => c.alloc());
    assert.ok(local.every((a) => mm.nodeOf(a) === 1));
    const remote = Array.from({ length: 50 }, () => c.allocNode(GFP_KERNEL, 0));
    assert.ok(remote.every((a) => mm.nodeOf(a) === 0));
    const v = slabOf(mm).arraysOf(c);
    assert.ok(v !== null);
    const alien = v.alien[0] as Int32Array;
    for (let i = 0; i < 11; i++) c.free(remote[i] as number);
    assert.equal(alien[AVAIL], 11);
    mm.verify();
    c.free(remote[11] as number);
    c.free(remote[12] as number);
    assert.equal(alien[AVAIL], 1, "the full alien array drained to node 0");
    for (const a of remote.slice(13)) c.free(a);
    for (const a of local) c.free(a);
    mm.verify();
    // The local array holds only local objects.
    const again = Array.from({ length: 60 }, () => c.alloc());
    assert.ok(again.every((a) => mm.nodeOf(a) === 1));
    for (const a of again) c.free(a);
    mm.reap();
    assert.equal(alien[AVAIL], 0, "reap drains the alien arrays");
    mm.verify();
  });
});

describe("SLAB: adaptive magazines", () => {
  it("grow a size on contention above the threshold, shrink a size when idle", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", adaptive: true, cpus: 2 });
    mm.createCache("m", 64, { flags: SLAB_NO_MERGE });
    churn(mm, "m", 30);
    assert.deepEqual(tunables(mm, "m").slice(0, 2), [15, 8], "Bonwick's 15 rounds to start");
    const ac = arrayOf(mm, "m");
    const hdr = blockOf(mm, "m");
    // Failed trylocks of the shared layer (any cpu's), as workers hammering the cache make
    // them (test/slab/adaptive.test.ts makes them for real).
    hdr[BLOCK_FAILS] = (hdr[BLOCK_FAILS] as number) + 3;
    mm.reap();
    assert.equal(tunables(mm, "m")[0], 15, "3 is not above kmem_depot_contention");
    hdr[BLOCK_FAILS] = (hdr[BLOCK_FAILS] as number) + 4;
    churn(mm, "m", 30);
    mm.reap();
    assert.deepEqual(tunables(mm, "m").slice(0, 2), [31, 16]);
    for (const size of [47, 63, 95, 143, 143]) {
      hdr[BLOCK_FAILS] = (hdr[BLOCK_FAILS] as number) + 10;
      churn(mm, "m", 200);
      mm.reap();
      assert.equal(tunables(mm, "m")[0], size);
    }
    churn(mm, "m", 300);
    assert.ok((ac[AVAIL] as number) > 95, "the array holds more than the size below");
    // Idle: one size down per round, giving back what no longer fits, whatever the
    // contention other cpus meet meanwhile.
    mm.reap(); // touched: no step down
    for (const size of [95, 63, 47, 31, 15, 7, 3, 1, 1]) {
      hdr[BLOCK_FAILS] = (hdr[BLOCK_FAILS] as number) + 10;
      mm.reap();
      assert.equal(tunables(mm, "m")[0], size);
      assert.ok((ac[AVAIL] as number) <= size);
    }
    mm.verify();
  });

  it("is SLAB's option only", () => {
    assert.throws(() => new Kmem({ memory: MiB, adaptive: true }), /adaptive needs slab/);
    assert.throws(() => new Kmem({ memory: MiB, slab: "slab", adaptive: 1 as never }), TypeError);
  });
});

describe("SLAB: verify() and misuse of the arrays", () => {
  it("reports a damaged array entry (ASLAB-3) and a damaged block (ASLAB-1)", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab" });
    mm.createCache("v", 64, { flags: SLAB_NO_MERGE });
    churn(mm, "v", 10);
    const ac = arrayOf(mm, "v");
    const saved = ac[8] as number;
    ac[8] = saved + 8; // inside an object
    assert.throws(() => mm.verify(), /ASLAB-3/);
    ac[8] = saved;
    mm.verify();
    const c = mm.findCache("v");
    assert.ok(c !== null);
    const v = slabOf(mm).arraysOf(c);
    assert.ok(v !== null);
    v.hdr[0] = 0;
    assert.throws(() => mm.verify(), /ASLAB-1/);
    v.hdr[0] = 0x61727279;
    mm.verify();
  });

  it("an array entry that is not a free object is refused at allocation", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab" });
    const c = mm.createCache("w", 64, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const live = c.alloc();
    const ac = arrayOf(mm, "w");
    const n = ac[AVAIL] as number;
    ac[8 + n - 1] = live; // the next allocation would hand out a live object
    assert.throws(
      () => c.alloc(),
      (e: unknown) => e instanceof KmemError && /ASLAB-3/.test(e.message),
    );
  });

  it("without per-cpu caching there are no arrays, and everything still works", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", percpu: false, cpus: 2 });
    mm.createCache("p", 64);
    churn(mm, "p", 100);
    assert.deepEqual(tunables(mm, "p"), [0, 0, 0, 0]);
    mm.verify();
  });

  it("offlining a cpu gives its arrays back; reopen drains the cpus whose contexts are gone", () => {
    const a = new Kmem({ memory: 4 * MiB, slab: "slab", cpus: 3, minFreeBytes: 0 });
    const b = Kmem.attach(a.buffer);
    a.createCache("o", 64, { flags: SLAB_NO_MERGE });
    churn(b, "o", 100);
    assert.ok((arrayOf(b, "o")[AVAIL] as number) > 0);
    a.offlineCpu(b.cpu);
    a.verify();
    a.shrinkSlabs();
    assert.equal(a.stats().caches.find((c) => c.name === "o")?.slabs, 0);
    const c = Kmem.attach(a.buffer);
    churn(c, "o", 50);
    const snapshot = (a.buffer as SharedArrayBuffer).slice(0);
    const r = Kmem.reopen(snapshot);
    r.verify();
    r.shrinkSlabs();
    assert.equal(r.stats().caches.find((x) => x.name === "o")?.slabs, 0);
  });
});
