/*
 * Several contexts over one buffer, driven from one thread (so every interleaving is exact
 * and repeatable): attach and its errors, caches found by name, constructors registered per
 * context, remote frees, cpu hotplug, and a lock left held by a cpu that went offline.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, KmemError } from "../../src/index.js";
import { Hdr, Layout, Pcp, Zone, zoneBase } from "../../src/memory/index.js";

const MiB = 1 << 20;

function instance(cpus = 3, memory: number | SharedArrayBuffer = 4 * MiB): Kmem {
  return new Kmem({ memory, cpus });
}

function header(mm: Kmem): Int32Array {
  return new Int32Array(mm.buffer, 0, zoneBase(mm.cpus, 1));
}

describe("Kmem.attach", () => {
  it("gives each context its own cpu id, and fails once all are taken", () => {
    const a = instance(3);
    assert.ok(a.buffer instanceof SharedArrayBuffer, "cpus > 1 creates a SharedArrayBuffer");
    const b = Kmem.attach(a.buffer);
    const c = Kmem.attach(a.buffer);
    assert.deepEqual([a.cpu, b.cpu, c.cpu], [0, 1, 2]);
    assert.equal(b.cpus, 3);
    assert.equal(b.pageSize, a.pageSize);
    assert.equal(b.managedPages, a.managedPages);
    assert.throws(
      () => Kmem.attach(a.buffer),
      (err: unknown) =>
        err instanceof Error && /all 3 cpus of the instance are in use/.test(err.message),
    );
    a.offlineCpu(2);
    assert.equal(Kmem.attach(a.buffer).cpu, 2, "an offline cpu id is reused");
  });

  it("works over an unshared ArrayBuffer too (contexts in one thread)", () => {
    const buffer = new ArrayBuffer(2 * MiB);
    const a = new Kmem({ memory: buffer, cpus: 2 });
    const b = Kmem.attach(buffer);
    const p = b.kmalloc(100);
    a.kfree(p);
    a.verify();
  });

  it("refuses a buffer that holds no kmem instance, or another layout version", () => {
    const notKmem = new SharedArrayBuffer(MiB);
    assert.throws(
      () => Kmem.attach(notKmem),
      (err: unknown) =>
        err instanceof Error &&
        !(err instanceof TypeError) &&
        /is not a kmem instance/.test(err.message),
    );
    assert.throws(() => Kmem.attach(new SharedArrayBuffer(16)), /is not a kmem instance/);
    const a = instance(2);
    header(a)[Hdr.VERSION] = Layout.VERSION - 1;
    assert.throws(
      () => Kmem.attach(a.buffer),
      new RegExp(`layout version ${Layout.VERSION - 1}; this kmem reads version ${Layout.VERSION}`),
    );
    assert.throws(() => Kmem.attach(new Uint8Array(8) as never), TypeError);
    assert.throws(() => Kmem.attach(a.buffer, { nope: 1 } as never), /unknown option "nope"/);
    assert.throws(() => Kmem.attach(a.buffer, { ctors: { x: 1 } } as never), /ctor must be/);
  });

  it("checks the cpus option", () => {
    assert.throws(() => new Kmem({ memory: MiB, cpus: 0 }), /cpus must be in 1\.\.64, got 0/);
    assert.throws(() => new Kmem({ memory: MiB, cpus: 65 }), RangeError);
    assert.throws(() => new Kmem({ memory: MiB, cpus: 1.5 }), TypeError);
  });

  it("can switch per-cpu caching off, to measure what it buys", () => {
    const mm = new Kmem({ memory: 4 * MiB, cpus: 2, percpu: false });
    const other = Kmem.attach(mm.buffer);
    other.freePages(other.allocPages(0), 0);
    assert.equal(mm.stats().pcpPages, 0, "a freed page goes straight to the buddy lists");
    const c = mm.createCache("c", 64);
    assert.ok(c !== null);
    const objs = Array.from({ length: 200 }, () => c.alloc());
    for (const o of objs) other.kfree(o);
    mm.verify();
    assert.throws(() => new Kmem({ memory: MiB, percpu: 1 as never }), /percpu must be a boolean/);
  });

  it("follows the options the instance was made with", () => {
    const a = new Kmem({ memory: 4 * MiB, cpus: 2, debug: "FZ", initOnFree: true });
    const b = Kmem.attach(a.buffer);
    assert.equal(b.debug, "FZ");
    const p = b.kmalloc(32);
    b.memory[p + 32] = 1; // into the red zone
    assert.throws(
      () => b.kfree(p),
      (err: unknown) => err instanceof KmemError && err.code === "REDZONE",
    );
    const s = new Kmem({ memory: MiB, cpus: 2, slab: "slob" });
    assert.equal(Kmem.attach(s.buffer).slabAllocator, "slob");
    const t = new Kmem({ memory: MiB, cpus: 2, slab: "slab", adaptive: true });
    assert.equal(Kmem.attach(t.buffer).slabAllocator, "slab");
  });
});

describe("caches across contexts", () => {
  it("finds a cache made elsewhere by name; objects are freed from any context", () => {
    const a = instance(2);
    const b = Kmem.attach(a.buffer);
    const made = a.createCache("inode", 200);
    assert.ok(made !== null);
    const seen = b.findCache("inode");
    assert.ok(seen !== null);
    assert.equal(seen.objectSize, 200);
    assert.equal(seen.size, made.size);
    assert.equal(b.findCache("nothing"), null);
    const objs: number[] = [];
    for (let i = 0; i < 100; i++) objs.push(i % 2 === 0 ? made.alloc() : seen.alloc());
    // Each context frees what the other allocated: remote frees.
    objs.forEach((o, i) => (i % 2 === 0 ? seen.free(o) : made.free(o)));
    a.verify();
    assert.equal(a.stats().caches.find((c) => c.name === "inode")?.activeObjects, 0);
    assert.throws(() => b.createCache("inode", 8), /a cache named "inode" exists already/);
  });

  it("sees merges, aliases and destruction done elsewhere", () => {
    const a = instance(2);
    const b = Kmem.attach(a.buffer);
    const x = a.createCache("x", 100);
    const y = a.createCache("y", 100); // merged into x
    assert.ok(x !== null && y !== null);
    const by = b.findCache("y");
    assert.ok(by !== null);
    const o = by.alloc();
    assert.throws(
      () => x.free(o + 8),
      (err: unknown) => err instanceof KmemError && err.code === "INVALID_FREE",
    );
    x.free(o); // one cache behind both names
    y.destroy();
    assert.equal(b.findCache("y"), null);
    assert.throws(() => by.alloc(), { code: "DESTROYED", message: /cache "y" was destroyed/ });
    x.destroy();
    assert.equal(b.findCache("x"), null);
    const z = a.createCache("z", 64);
    assert.ok(z !== null);
    const p = z.alloc();
    b.kfree(p); // b learns of z from the slab
    a.verify();
    b.verify();
  });

  it("runs a constructor registered per context, and refuses to build slabs without it", () => {
    const a = instance(3);
    const b = Kmem.attach(a.buffer);
    const vec = a.createCache("vec", 12, {
      ctor: (addr) => new Float32Array(a.memory.buffer, addr, 3).fill(1),
    });
    assert.ok(vec !== null);
    const bvec = b.findCache("vec");
    assert.ok(bvec !== null);
    const before = b.stats();
    assert.throws(() => bvec.alloc(), /register it in this one with registerCtor\("vec", fn\)/);
    const after = b.stats();
    assert.equal(after.freePages, before.freePages, "no slab was built");
    assert.deepEqual(after.caches, before.caches);
    b.registerCtor("vec", (addr) => new Float32Array(b.memory.buffer, addr, 3).fill(2));
    const v = bvec.alloc();
    assert.deepEqual([...new Float32Array(b.memory.buffer, v, 3)], [2, 2, 2]);
    bvec.free(v);
    const c = Kmem.attach(a.buffer, {
      ctors: { vec: (addr) => new Float32Array(a.memory.buffer, addr, 3).fill(3) },
    });
    const cv = c.findCache("vec")?.alloc() ?? 0;
    assert.deepEqual([...new Float32Array(c.memory.buffer, cv, 3)], [3, 3, 3]);
    a.verify();
  });

  it("opens a memory pool made in another context", () => {
    const a = instance(2);
    const b = Kmem.attach(a.buffer);
    const cache = a.createCache("req", 256);
    assert.ok(cache !== null);
    const pool = a.createMempool(4, cache);
    assert.ok(pool !== null);
    const other = b.openMempool(pool.address);
    assert.equal(other.currNr, 4);
    const el = other.alloc();
    pool.free(el);
    assert.equal(pool.currNr, 4);
    assert.throws(() => b.openMempool(pool.address + 4), /no memory pool at/);
    other.destroy();
    assert.throws(() => pool.alloc(), { code: "DESTROYED", message: /the mempool was destroyed/ });
    a.verify();
  });
});

describe("cpu hotplug", () => {
  it("offlineCpu drains the per-cpu pages, cpu slabs and sheaves of a departed context", () => {
    const a = instance(2);
    const b = Kmem.attach(a.buffer);
    const cache = b.createCache("obj", 128);
    assert.ok(cache !== null);
    const objs: number[] = [];
    for (let i = 0; i < 500; i++) objs.push(cache.alloc());
    const pages: number[] = [];
    for (let i = 0; i < 20; i++) pages.push(b.allocPages(0));
    for (const p of pages) b.freePages(p, 0); // onto b's per-cpu list
    for (let i = 0; i < 500; i += 2) b.kfree(objs[i] as number); // into b's sheaf and slabs
    const pcp = header(a)[Hdr.PCP + Pcp.WORDS * b.cpu + Pcp.COUNT] as number;
    assert.ok(pcp > 0);
    const before = a.stats();
    a.offlineCpu(b.cpu);
    const after = a.stats();
    assert.equal(header(a)[Hdr.PCP + Pcp.WORDS * 1 + Pcp.COUNT], 0);
    assert.ok(after.buddyFreePages >= before.buddyFreePages + pcp);
    a.verify();
    // What b allocated is still allocated, and can be freed by anyone.
    for (let i = 1; i < 500; i += 2) a.kfree(objs[i] as number);
    assert.equal(a.findCache("obj")?.shrink() !== undefined, true);
    a.verify();
    assert.equal(a.stats().caches.find((c) => c.name === "obj")?.activeObjects, 0);
  });

  it("checks its argument", () => {
    const a = instance(3);
    Kmem.attach(a.buffer);
    assert.throws(() => a.offlineCpu(0), /a context cannot take its own cpu offline/);
    assert.throws(() => a.offlineCpu(2), /cpu 2 is not online \(state offline\)/);
    assert.throws(() => a.offlineCpu(3), /cpu must be in 0\.\.2, got 3/);
    assert.throws(() => a.offlineCpu(-1), RangeError);
    assert.throws(() => a.offlineCpu(1.5), TypeError);
  });

  it("takes over and repairs the zone lock of a cpu that died holding it", () => {
    const a = instance(2);
    const b = Kmem.attach(a.buffer);
    b.freePages(b.allocPages(0), 0); // a page on b's per-cpu list: offlining takes the lock
    const free = a.stats().buddyFreePages + a.stats().pcpPages;
    const h = header(a);
    // b dies inside the page allocator, holding the zone lock.
    h[zoneBase(2, 0) + Zone.LOCK] = b.cpu + 1;
    const report = a.offlineCpu(b.cpu);
    assert.equal(report.cpu, 1);
    assert.deepEqual(report.unrecovered, []);
    assert.equal(report.recovered.length, 1);
    assert.match(report.recovered[0] as string, /^the zone lock: free lists rebuilt from mem_map/);
    assert.equal(h[zoneBase(2, 0) + Zone.LOCK], 0);
    a.verify();
    assert.equal(a.stats().buddyFreePages + a.stats().pcpPages, free);
    // The id is free again, and a context that gets it works (no hang, no DEADLOCK).
    const c = Kmem.attach(a.buffer);
    assert.equal(c.cpu, 1);
    const p = c.allocPages(5);
    assert.ok(p !== 0);
    assert.ok(a.allocPages(5) !== 0);
    c.freePages(p, 5);
    a.verify();
  });

  it("repairs slab_mutex of a dead cpu that changed no cache", () => {
    const a = instance(2);
    const b = Kmem.attach(a.buffer);
    header(a)[Hdr.LOCK_SLAB] = b.cpu + 1;
    const report = a.offlineCpu(b.cpu);
    assert.deepEqual(report.recovered, ["slab_mutex: no registry change was under way"]);
    assert.deepEqual(report.unrecovered, []);
    assert.equal(header(a)[Hdr.LOCK_SLAB], 0);
    a.verify();
  });

  it("attach refuses, naming the lock and the cpu, while a dead cpu holds slab_mutex or SLOB's lock", () => {
    for (const slab of ["slub", "slob"] as const) {
      const a = new Kmem({ memory: 4 * MiB, cpus: 3, slab });
      const b = Kmem.attach(a.buffer);
      // b's worker died inside createCache: its lock word names it, its cpu still online.
      const at = slab === "slob" ? Hdr.LOCK_SLOB : Hdr.LOCK_SLAB;
      const name = slab === "slob" ? "the SLOB lock" : "slab_mutex";
      header(a)[at] = b.cpu + 1;
      assert.throws(
        () => Kmem.attach(a.buffer, { lockWaitMs: 0 }),
        (err: unknown) =>
          err instanceof KmemError &&
          err.code === "BUSY" &&
          err.message.includes(`${name} is held by cpu 1`) &&
          err.message.includes("offlineCpu(1)"),
      );
      assert.throws(() => Kmem.attach(a.buffer, { lockWaitMs: -1 }), RangeError);
      // The failed attach gave its cpu back; the fix the message names works.
      a.offlineCpu(b.cpu);
      assert.equal(header(a)[at], 0);
      const c = Kmem.attach(a.buffer, { lockWaitMs: 0 });
      assert.equal(c.cpu, 1);
      c.kfree(c.kmalloc(64));
      a.verify();
    }
  });

  it("releases, and reports, a lock of a dead cpu whose repair fails", () => {
    const a = instance(2);
    const b = Kmem.attach(a.buffer);
    // slab_mutex held, its intent record damaged (an operation that does not exist).
    header(a)[Hdr.LOCK_SLAB] = b.cpu + 1;
    header(a)[Hdr.SLAB_INTENT] = 99;
    const report = a.offlineCpu(b.cpu);
    assert.deepEqual(report.recovered, []);
    assert.equal(report.unrecovered.length, 1);
    assert.match(
      report.unrecovered[0] as string,
      /^slab_mutex: released; recovery failed: .*CORRUPTION/,
    );
    assert.equal(header(a)[Hdr.LOCK_SLAB], 0);
    header(a)[Hdr.SLAB_INTENT] = 0;
    const c = a.createCache("after", 40);
    assert.ok(c !== null);
    c.free(c.alloc());
    c.destroy();
    a.verify();
    assert.equal(Kmem.attach(a.buffer).cpu, 1);
  });

  it("reports a lock taken again by its own context", () => {
    const a = instance(2);
    Kmem.attach(a.buffer);
    header(a)[zoneBase(2, 0) + Zone.LOCK] = a.cpu + 1;
    assert.throws(
      () => a.allocPages(3),
      (err: unknown) =>
        err instanceof KmemError &&
        err.code === "DEADLOCK" &&
        /the zone lock is already held by this context/.test(err.message),
    );
  });
});

describe("vmalloc across contexts", () => {
  it("an area made in one context is read, written and freed in another", () => {
    const a = instance(2);
    const b = Kmem.attach(a.buffer as SharedArrayBuffer);
    const v = b.vmalloc(3 * a.pageSize); // b sets the layer up
    a.write(v + a.pageSize - 2, new Uint8Array([1, 2, 3, 4])); // across a page end
    assert.deepEqual([...b.read(v + a.pageSize - 2, 4)], [1, 2, 3, 4]);
    assert.equal(a.virtToPhys(v), b.virtToPhys(v));
    const w = a.vmalloc(a.pageSize); // a takes b's descriptor, not a second one
    assert.notEqual(w, v);
    assert.match(b.report("vmallocinfo"), /pages=1 vmalloc/);
    a.vfree(v);
    assert.throws(
      () => b.read(v, 1),
      (e: unknown) => e instanceof KmemError && e.code === "FAULT",
    );
    b.vfree(w);
    a.verify();
    b.verify();
    assert.equal(a.stats().vmallocPages, 0);
  });
});
