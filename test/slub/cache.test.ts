/* Slab caches: exact scenarios of createCache, alloc/free, constructors, alignment, merging,
 * partial lists, shrinking and destroying. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  __GFP_ZERO,
  GFP_KERNEL,
  Kmem,
  KmemError,
  SLAB_HWCACHE_ALIGN,
  SLAB_NO_MERGE,
  SLAB_RECLAIM_ACCOUNT,
  type KmemCache,
} from "../../src/index.js";
import type { CacheGeometry } from "../../src/slab-common/index.js";
import { calculateGeometry, calculateOrder, objectsPerSlab } from "../../src/slub/layout.js";
import { assertMisuse } from "../helpers.js";

function mk(bytes = 4 << 20, cpus = 1) {
  return new Kmem({ memory: bytes, minFreeBytes: 0, cpus });
}

function cache(mm: Kmem, ...args: Parameters<Kmem["createCache"]>): KmemCache {
  const c = mm.createCache(...args);
  assert.ok(c !== null);
  return c;
}

describe("slab caches", () => {
  it("hands out distinct, aligned objects inside slab pages, and takes them back", () => {
    const mm = mk();
    const c = cache(mm, "obj100", 100, { flags: SLAB_NO_MERGE });
    assert.equal(c.name, "obj100");
    assert.equal(c.objectSize, 100);
    assert.equal(c.size, 104, "rounded up to the 8-byte minimum alignment");
    const seen = new Set<number>();
    const objs: number[] = [];
    for (let i = 0; i < 500; i++) {
      const a = c.alloc();
      assert.notEqual(a, 0);
      assert.equal(a % 8, 0);
      assert.ok(!seen.has(a));
      seen.add(a);
      objs.push(a);
      mm.memory.fill(i & 0xff, a, a + 100);
    }
    objs.forEach((a, i) => {
      assert.ok(
        mm.memory.subarray(a, a + 100).every((b) => b === (i & 0xff)),
        "contents intact",
      );
    });
    mm.verify();
    const s = mm.stats().caches.find((x) => x.name === "obj100");
    assert.equal(s?.activeObjects, 500);
    for (const a of objs) c.free(a);
    assert.equal(mm.stats().caches.find((x) => x.name === "obj100")?.activeObjects, 0);
    mm.verify();
  });

  it("runs the constructor once per object when a slab is built, never on reuse", () => {
    const mm = mk();
    const calls: number[] = [];
    const c = cache(mm, "ctor", 48, {
      ctor: (addr) => {
        calls.push(addr);
        mm.memory.fill(0x42, addr, addr + 48);
      },
    });
    const first = c.alloc();
    const perSlab = calls.length;
    assert.ok(perSlab > 1, "the whole slab is constructed at once");
    assert.ok(calls.includes(first));
    assert.ok(mm.memory.subarray(first, first + 48).every((b) => b === 0x42));
    // The user changes the object and frees it: it keeps its state (the free pointer lives
    // outside the object for caches with a constructor).
    mm.memory[first + 10] = 0x99;
    c.free(first);
    const again = c.alloc();
    assert.equal(again, first);
    assert.equal(mm.memory[again + 10], 0x99);
    assert.ok(mm.memory.subarray(again, again + 10).every((b) => b === 0x42));
    assert.equal(calls.length, perSlab, "no constructor call on reuse");
    mm.verify();
  });

  it("a constructor that throws loses nothing: the slab goes back", () => {
    const mm = mk();
    const free = mm.stats().freePages;
    const c = cache(mm, "bad", 64, {
      ctor: () => {
        throw new Error("ctor failed");
      },
    });
    const afterCreate = mm.stats().freePages;
    assert.throws(() => c.alloc(), /ctor failed/);
    assert.equal(mm.stats().freePages, afterCreate);
    mm.verify();
    c.destroy();
    assert.ok(mm.stats().freePages <= free);
  });

  it("aligns as asked: align, SLAB_HWCACHE_ALIGN (64, halved while the object fits twice)", () => {
    const mm = mk();
    const a = cache(mm, "a256", 40, { align: 256 });
    assert.equal(a.size, 256);
    for (let i = 0; i < 40; i++) assert.equal(a.alloc() % 256, 0);
    const hw = cache(mm, "hw", 100, { flags: SLAB_HWCACHE_ALIGN });
    assert.equal(hw.size, 128);
    assert.equal(hw.alloc() % 64, 0);
    const small = cache(mm, "hw-small", 20, { flags: SLAB_HWCACHE_ALIGN | SLAB_NO_MERGE });
    assert.equal(small.size, 32, "20 bytes fit twice in 64: the line halves to 32");
    mm.verify();
  });

  it("merges a compatible cache into an existing one (SLUB aliasing), with its own handle", () => {
    const mm = mk();
    const base = cache(mm, "base64", 64);
    const mine = cache(mm, "my_60", 60);
    assert.equal(mine.objectSize, 60);
    assert.equal(mine.size, 64);
    assert.deepEqual(mm.stats().caches.find((c) => c.name === "base64")?.aliases, ["my_60"]);
    const a = mine.alloc();
    base.free(a); // the same cache: no WRONG_CACHE between aliases
    // kmalloc caches never take merges (hardened usercopy): WRONG_CACHE and BUSY stay exact.
    assert.deepEqual(mm.stats().caches.find((c) => c.name === "kmalloc-64")?.aliases, []);
    // Not merged: a different reclaim class.
    const r = cache(mm, "reclaim_60", 60, { flags: SLAB_RECLAIM_ACCOUNT });
    assert.ok(mm.stats().caches.some((c) => c.name === "reclaim_60"));
    r.alloc();
    assert.ok(/SReclaimable: +4 kB/.test(mm.report("meminfo")));
    mine.destroy();
    assert.deepEqual(mm.stats().caches.find((c) => c.name === "base64")?.aliases, []);
    mm.verify();
  });

  it("merged caches can be destroyed in any order; the cache goes with the last name", () => {
    const mm = mk();
    const a = cache(mm, "a100", 100);
    const b = cache(mm, "b100", 100);
    const x = b.alloc();
    a.destroy(); // b still uses the cache
    assert.throws(() => a.alloc(), { code: "DESTROYED" });
    const y = b.alloc();
    mm.verify();
    assert.throws(
      () => b.destroy(),
      (e: unknown) =>
        e instanceof KmemError && e.code === "BUSY" && /2 live object/.test(e.message),
    );
    b.free(x);
    b.free(y);
    const free = mm.stats().freePages;
    b.destroy();
    assert.ok(!mm.stats().caches.some((c) => c.name === "a100"));
    assert.ok(mm.stats().freePages > free);
    mm.verify();
  });

  it("a larger cache merged in raises the object size: zeroing and ksize cover it", () => {
    const mm = mk();
    cache(mm, "a100", 100);
    const b = cache(mm, "b104", 104);
    const x = b.alloc();
    mm.memory.fill(0xee, x, x + 104);
    b.free(x);
    const y = b.alloc(GFP_KERNEL | __GFP_ZERO);
    assert.equal(y, x);
    assert.ok(mm.memory.subarray(y, y + 104).every((v) => v === 0));
    mm.verify();
  });

  it("keeps up to min_partial empty slabs, gives back the rest, and shrink() gives back all", () => {
    const mm = mk(8 << 20);
    const c = cache(mm, "big", 1024, { flags: SLAB_NO_MERGE });
    const info = () => mm.stats().caches.find((x) => x.name === "big");
    const objs: number[] = [];
    for (let i = 0; i < 400; i++) objs.push(c.alloc());
    const slabs = info()?.slabs as number;
    assert.equal(slabs, Math.ceil(400 / (info()?.objectsPerSlab as number)));
    for (const a of objs) c.free(a);
    const left = info()?.slabs as number;
    // min_partial for 1 KiB objects is 5 (ilog2(1024)/2 clamped to 5..10), plus the cpu slab,
    // plus the slabs of the (at most 8) objects left in the cpu sheaf.
    assert.ok(left <= 6 + 2 && left >= 1, `${left} slabs kept`);
    const pages = c.shrink();
    assert.equal(pages, left * (info()?.pagesPerSlab as number));
    assert.equal(info()?.slabs, 0);
    mm.verify();
  });

  it("destroy(): BUSY while objects live, and the cache stays usable; afterwards the handle is dead", () => {
    const mm = mk();
    const c = cache(mm, "mine", 72, { flags: SLAB_NO_MERGE });
    const a = c.alloc();
    assert.throws(
      () => c.destroy(),
      (e: unknown) =>
        e instanceof KmemError && e.code === "BUSY" && /1 live object/.test(e.message),
    );
    mm.verify();
    const b = c.alloc();
    c.free(a);
    c.free(b);
    const free = mm.stats().freePages;
    c.destroy();
    assert.ok(mm.stats().freePages > free, "its slabs went back");
    assert.ok(!mm.stats().caches.some((x) => x.name === "mine"));
    assert.throws(() => c.alloc(), { code: "DESTROYED" });
    assert.throws(() => c.free(a), { code: "DESTROYED" });
    // The name can be used again.
    const again = cache(mm, "mine", 72);
    assert.notEqual(again.alloc(), 0);
    mm.verify();
  });

  it("rejects a duplicate name and bad arguments, creating nothing", () => {
    const mm = mk();
    cache(mm, "dup", 32, { flags: SLAB_NO_MERGE });
    const before = mm.stats().caches.length;
    const bad: Array<[unknown[], RegExp]> = [
      [["dup", 32], /exists already/],
      [["", 32], /non-empty string/],
      [[5, 32], /non-empty string/],
      [["x".repeat(48), 32], /at most 47 bytes/],
      [["n", 0], /size must be in 1\.\./],
      [["n", 1.5], /size must be an integer/],
      [["n", -8], /size must be in/],
      [["n", 2 ** 30], /size must be in/],
      [["n", 32, { align: 3 }], /align must be a power of two/],
      [["n", 32, { align: 0 }], /align must be in/],
      [["n", 32, { flags: 1 << 20 }], /flags has unknown bits/],
      [["n", 32, { ctor: 5 }], /ctor must be a function/],
      [["n", 32, { colour: 1 }], /unknown option "colour"/],
      [["n", 32, 7], /options must be an object/],
    ];
    for (const [args, pattern] of bad) {
      assert.throws(
        () => mm.createCache(...(args as Parameters<Kmem["createCache"]>)),
        (e: unknown) =>
          (e instanceof TypeError || e instanceof RangeError) && pattern.test((e as Error).message),
        JSON.stringify(args),
      );
    }
    assert.equal(mm.stats().caches.length, before);
    mm.verify();
  });

  it("returns null, not an exception, when memory for the descriptor cannot be had", () => {
    const mm = new Kmem({ memory: 256 << 10, minFreeBytes: 0 });
    // Fill memory, then exhaust the descriptor slab.
    while (mm.allocPages(0) !== 0);
    let made = 0;
    for (let i = 0; i < 100; i++) {
      const c = mm.createCache(`c${i}`, 8 * (i + 1) + 1000, { flags: SLAB_NO_MERGE });
      if (c === null) break;
      made++;
    }
    assert.ok(made < 100);
    mm.verify();
  });
});

describe("slab geometry (calculate_order, objects per slab)", () => {
  it("chooses SLUB's orders for the kmalloc classes", () => {
    const orders = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192].map((s) =>
      calculateOrder(s, 4096, 11),
    );
    assert.deepEqual(orders, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 3]);
  });

  it("keeps the bitmap in the frame up to 32 objects, at the slab's end beyond", () => {
    assert.equal(objectsPerSlab(4096, 128), 32);
    assert.equal(objectsPerSlab(4096, 64), 63, "64 objects would leave no room for 8 bitmap bytes");
    assert.equal(objectsPerSlab(32768, 8192), 4);
  });

  it("spends under 2% of memory on metadata for 64-byte objects, one cpu or several", () => {
    for (const dual of [false, true]) {
      const g = calculateGeometry(64, 8, 0, false, 4096, 11, dual);
      assert.ok(g !== null);
      const slabBytes = 4096 << g.order;
      const bitmap = slabBytes - g.bitmap;
      const frame = 32 * (1 << g.order);
      const metadata = (bitmap + frame) / slabBytes;
      assert.ok(metadata < 0.02, `metadata ${(metadata * 100).toFixed(2)}%`);
    }
  });

  it("with several cpus, gives a slab of more than 32 objects a second (remote) bitmap", () => {
    const one = calculateGeometry(8, 8, 0, false, 4096, 11) as CacheGeometry;
    const two = calculateGeometry(8, 8, 0, false, 4096, 11, true) as CacheGeometry;
    assert.equal(one.objects, 504);
    assert.equal(one.remote, 0);
    assert.equal(two.objects, 496, "496 * 8 + 2 bitmaps of 16 words fill the page");
    assert.equal(two.remote, 16);
    assert.equal(two.bitmap, 4096 - 2 * 16 * 4);
    const big = calculateGeometry(128, 8, 0, false, 4096, 11, true) as CacheGeometry;
    assert.deepEqual(
      [big.objects, big.bitmap, big.remote],
      [32, -1, 0],
      "32: one word, in the frame",
    );
    assert.equal(objectsPerSlab(4096, 64, true), 63);
  });
});

describe("re-entry", () => {
  it("a constructor that allocates from its own cache loses nothing", () => {
    const mm = new Kmem({ memory: 4 << 20, minFreeBytes: 0 });
    const inner: number[] = [];
    let depth = 0;
    const c = mm.createCache("selfish", 256, {
      ctor: () => {
        // While the first slab is being built, take one object from the same cache.
        if (depth === 0 && inner.length === 0) {
          depth++;
          inner.push(c?.alloc() ?? 0);
          depth--;
        }
      },
    });
    assert.ok(c !== null);
    const outer: number[] = [];
    for (let i = 0; i < 40; i++) outer.push(c.alloc());
    assert.notEqual(inner[0], 0);
    const all = new Set([...inner, ...outer]);
    assert.equal(all.size, inner.length + outer.length, "no object handed out twice");
    mm.verify();
    for (const a of [...inner, ...outer]) c.free(a);
    mm.verify();
    assert.equal(mm.stats().caches.find((x) => x.name === "selfish")?.activeObjects, 0);
  });
});

describe("cpu sheaves", () => {
  it("with one cpu, a full sheaf sends the next frees to their slabs at once (no flush)", () => {
    const mm = mk();
    const c = cache(mm, "onecpu", 256, { flags: SLAB_NO_MERGE });
    const info = () => mm.stats().caches.find((x) => x.name === "onecpu");
    const objs: number[] = [];
    for (let i = 0; i < 64; i++) objs.push(c.alloc()); // four slabs of 16
    const slow = () => mm.stats().events.slab_free_slowpath as number;
    const before = slow();
    // The first three slabs are no longer the cpu slab: 32 frees fill the sheaf, the next
    // 16 (the third slab, emptied) go to their slab, and the sheaf is not flushed.
    for (let i = 0; i < 48; i++) c.free(objs[i] as number);
    assert.equal(slow(), before + 16, "the frees past the sheaf's 32, to their slab");
    mm.verify();
    // A second free is caught in the sheaf and on a slab's freelist alike, nothing changed.
    assertMisuse(mm, "DOUBLE_FREE", () => c.free(objs[3] as number), true);
    assertMisuse(mm, "DOUBLE_FREE", () => c.free(objs[40] as number), true);
    // The sheaf serves the next allocation, the last object it took first.
    assert.equal(c.alloc(), objs[31]);
    assert.equal(info()?.activeObjects, 17);
    for (const a of [objs[31] as number, ...objs.slice(48)]) c.free(a);
    c.shrink();
    assert.equal(info()?.activeObjects, 0);
    assert.equal(info()?.slabs, 0);
    mm.verify();
  });

  it("with one cpu and nodes in one buffer: a free to a slab of either node files it on that node", () => {
    const mm = new Kmem({ memory: 8 << 20, nodes: [4 << 20, 4 << 20], minFreeBytes: 0 });
    const c = cache(mm, "nosheaf-numa", 128, { flags: SLAB_NO_MERGE });
    const far = Array.from({ length: 96 }, () => c.allocNode(GFP_KERNEL, 1));
    const near = Array.from({ length: 96 }, () => c.allocNode(GFP_KERNEL, 0));
    assert.ok(far.every((a) => mm.nodeOf(a) === 1) && near.every((a) => mm.nodeOf(a) === 0));
    // Every other object of each node: full slabs become partial on their own node's list.
    for (let i = 0; i < 96; i += 2) {
      c.free(far[i] as number);
      c.free(near[i] as number);
    }
    mm.verify();
    const again = Array.from({ length: 40 }, () => c.allocNode(GFP_KERNEL, 1));
    assert.ok(
      again.every((a) => mm.nodeOf(a) === 1),
      "node 1's partial slabs serve node 1",
    );
    for (const a of [
      ...again,
      ...far.filter((_, i) => i % 2 === 1),
      ...near.filter((_, i) => i % 2 === 1),
    ])
      c.free(a);
    c.shrink();
    assert.equal(mm.stats().caches.find((x) => x.name === "nosheaf-numa")?.activeObjects, 0);
    mm.verify();
  });

  it("take frees of objects of other slabs and serve the next allocations from them (several cpus)", () => {
    const mm = mk(4 << 20, 2);
    const c = cache(mm, "sh", 256, { flags: SLAB_NO_MERGE });
    const objs: number[] = [];
    for (let i = 0; i < 64; i++) objs.push(c.alloc()); // four slabs of 16
    const slow = () => mm.stats().events.slab_free_slowpath as number;
    const before = slow();
    // The first slab is no longer the cpu slab: its objects go to the sheaf, not the slab.
    for (let i = 0; i < 8; i++) c.free(objs[i] as number);
    assert.equal(slow(), before, "no slow-path free");
    mm.verify();
    // LIFO: the last freed comes back first.
    assert.equal(c.alloc(), objs[7]);
    // A double free of an object sitting in the sheaf is caught, nothing changed.
    assertMisuse(mm, "DOUBLE_FREE", () => c.free(objs[3] as number), true);
    // A full sheaf (32 objects of 256 bytes) gives its older half back to the slabs.
    for (let i = 16; i < 48; i++) c.free(objs[i] as number);
    assert.ok(slow() > before, "overflow went to the slabs");
    mm.verify();
    // shrink() empties the sheaf before giving empty slabs back.
    for (const a of objs.slice(48)) c.free(a);
    for (const a of objs.slice(7, 16)) c.free(a);
    c.shrink();
    const info = mm.stats().caches.find((x) => x.name === "sh");
    assert.equal(info?.activeObjects, 0);
    assert.equal(info?.slabs, 0);
    mm.verify();
  });

  it("a flush gives a run of objects back to their slabs: full slabs become partial, empty ones go past min_partial", () => {
    const mm = mk(8 << 20, 2);
    const c = cache(mm, "flush", 256, { flags: SLAB_NO_MERGE });
    const info = () => mm.stats().caches.find((x) => x.name === "flush");
    const events = () => mm.stats().events;
    const objs: number[] = [];
    for (let i = 0; i < 16 * 12; i++) objs.push(c.alloc()); // twelve slabs of 16
    // A new slab hands its objects out in address order (its freelist as carved).
    for (let i = 1; i < 16; i++) assert.equal(objs[i], (objs[0] as number) + i * 256);
    assert.equal(info()?.slabs, 12);
    const discarded = events().slab_discard as number;
    const slow = events().slab_free_slowpath as number;
    // Ten full slabs freed in allocation order, through the sheaf (32 objects) and its
    // flushes of 16: each slab's objects go back together.
    for (let i = 0; i < 160; i++) c.free(objs[i] as number);
    mm.verify();
    const flushed = (events().slab_free_slowpath as number) - slow;
    assert.ok(flushed >= 160 - 32 && flushed % 16 === 0, `${flushed} objects flushed`);
    // Every emptied slab past min_partial (5 for 256 bytes) went back to the page allocator.
    const gone = (events().slab_discard as number) - discarded;
    assert.ok(gone >= flushed / 16 - 5 && gone <= flushed / 16, `${gone} slabs discarded`);
    assert.equal(info()?.slabs, 12 - gone);
    // Half a slab's objects back: that slab is partial, and the next allocations reuse it.
    for (let i = 168; i < 176; i++) c.free(objs[i] as number);
    for (let i = 0; i < 64; i++) c.free(c.alloc());
    mm.verify();
    for (const a of objs.slice(160, 168)) c.free(a);
    for (const a of objs.slice(176)) c.free(a);
    c.shrink();
    assert.equal(info()?.activeObjects, 0);
    assert.equal(info()?.slabs, 0);
    mm.verify();
  });

  it("verify() finds a sheaf entry that is not a free object (SLAB-10)", () => {
    const mm = mk(4 << 20, 2);
    const c = cache(mm, "sh2", 128, { flags: SLAB_NO_MERGE });
    const objs = Array.from({ length: 80 }, () => c.alloc());
    c.free(objs[0] as number); // into the sheaf
    mm.verify();
    // The sheaf sits in the descriptor's cpu slot: overwrite its entry with a live object.
    const words = new Int32Array(mm.buffer);
    const at = words.indexOf(objs[0] as number, (c.desc as number) >>> 2);
    words[at] = objs[1] as number;
    assert.throws(
      () => mm.verify(),
      (e: unknown) => e instanceof KmemError && /SLAB-10/.test(e.message),
    );
  });

  for (const cpus of [1, 2]) {
    it(`an allocation refuses a sheaf entry that is not a free object of its cache (SLAB-10, ${cpus} cpu${cpus > 1 ? "s" : ""})`, () => {
      const mm = mk(4 << 20, cpus);
      const c = cache(mm, "sh3", 128, { flags: SLAB_NO_MERGE });
      const other = cache(mm, "sh3-other", 128, { flags: SLAB_NO_MERGE });
      const objs = Array.from({ length: 80 }, () => c.alloc());
      const foreign = other.alloc();
      const words = new Int32Array(mm.buffer);
      // A live object of the cache, an object of another cache, an address in no slab, and
      // an address inside an object: each refused before anything changes, the entry kept.
      for (const bad of [objs[1] as number, foreign, 8, (objs[2] as number) + 8]) {
        c.free(objs[0] as number); // into the sheaf (its slab is not the cpu slab)
        const at = words.indexOf(objs[0] as number, (c.desc as number) >>> 2);
        words[at] = bad;
        assert.throws(
          () => c.alloc(),
          (e: unknown) =>
            e instanceof KmemError && e.code === "CORRUPTION" && /SLAB-10/.test(e.message),
        );
        assert.throws(() => mm.verify(), /SLAB-10/, "the entry stays for verify() to report");
        words[at] = objs[0] as number; // mended: the sheaf serves it again
        mm.verify();
        assert.equal(c.alloc(), objs[0]);
      }
      mm.verify();
    });
  }

  it("are off for debug caches: every free is checked on the spot (several cpus)", () => {
    const mm = new Kmem({ memory: 4 << 20, debug: "FZP", cpus: 2 });
    const c = cache(mm, "dbg", 256, { flags: SLAB_NO_MERGE });
    const objs = Array.from({ length: 40 }, () => c.alloc());
    const before = mm.stats().events.slab_free_slowpath as number;
    c.free(objs[0] as number);
    assert.equal(mm.stats().events.slab_free_slowpath, before + 1);
    mm.verify();
  });
});
