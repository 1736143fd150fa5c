/*
 * Kmem.reopen: an instance none of whose contexts runs any more (a snapshot of its buffers,
 * or a buffer whose workers have exited) is opened again as cpu 0, the other cpus drained.
 * Contents, caches and every allocation survive; a snapshot taken inside a call of cpu 0 is
 * refused, the locks of the other cpus are recovered.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GFP_KERNEL, Kmem, SLAB_NO_MERGE } from "../../src/index.js";
import { Hdr } from "../../src/memory/index.js";
import { Desc } from "../../src/slub/index.js";

const MiB = 1 << 20;

/** A copy of a buffer, of the same kind. */
function copy<T extends ArrayBuffer | SharedArrayBuffer>(b: T): T {
  const out = (
    b instanceof ArrayBuffer ? new ArrayBuffer(b.byteLength) : new SharedArrayBuffer(b.byteLength)
  ) as T;
  new Uint8Array(out).set(new Uint8Array(b));
  return out;
}

describe("Kmem.reopen", () => {
  it("reopens a snapshot of a one-cpu instance: contents, caches and allocations intact", () => {
    const mm = new Kmem({ memory: 2 * MiB });
    const c = mm.createCache("points", 24, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const objs = Array.from({ length: 50 }, (_, i) => {
      const a = c.alloc();
      mm.setUint32(a, i * 7);
      return a;
    });
    const big = mm.kmalloc(10000);
    mm.write(big, new TextEncoder().encode("snapshot"));
    const page = mm.allocPages(2);
    mm.freePages(mm.allocPages(0), 0); // a page on cpu 0's per-cpu list
    const snap = copy(mm.buffer as ArrayBuffer);
    // The original goes on, unaffected by what happens to the copy.
    mm.kfree(big);

    const r = Kmem.reopen(snap);
    assert.equal(r.cpu, 0);
    r.verify();
    assert.equal(new TextDecoder().decode(r.read(big, 8)), "snapshot");
    const rc = r.findCache("points");
    assert.ok(rc !== null);
    objs.forEach((a, i) => assert.equal(r.getUint32(a), i * 7));
    for (const a of objs) rc.free(a);
    r.kfree(big);
    r.freePages(page, 2);
    rc.destroy();
    r.verify();
    mm.verify();
    assert.equal(mm.read(page, 1).length, 1, "the original still holds its page");
  });

  it("drains the per-cpu pages and objects of every other cpu of a shared instance", () => {
    const a = new Kmem({ memory: 4 * MiB, cpus: 3 });
    const b = Kmem.attach(a.buffer);
    const c = Kmem.attach(a.buffer);
    const kept: number[] = [];
    for (const ctx of [b, c]) {
      const pages = Array.from({ length: 20 }, () => ctx.allocPages(0));
      for (const p of pages) ctx.freePages(p, 0); // onto the cpu's per-cpu list
      for (let i = 0; i < 100; i++) ctx.kfree(ctx.kmalloc(64)); // a cpu slab
      const k = ctx.kmalloc(200);
      ctx.setUint32(k, 0xfeed);
      kept.push(k);
    }
    assert.ok(b.stats().pcpPages > 0);
    const snap = copy(a.buffer as SharedArrayBuffer);

    const r = Kmem.reopen(snap);
    assert.equal(r.cpu, 0);
    r.verify();
    for (const k of kept) assert.equal(r.getUint32(k), 0xfeed);
    for (const k of kept) r.kfree(k);
    // Cpus 1 and 2 were drained and are free again.
    const r1 = Kmem.attach(snap);
    const r2 = Kmem.attach(snap);
    assert.deepEqual([r1.cpu, r2.cpu], [1, 2]);
    r.shrinkSlabs();
    r.drainPages();
    r.verify();
    const st = r.stats();
    const boot = st.caches.find((x) => x.name === "kmem_cache");
    assert.equal(st.slabPages, (boot?.slabs ?? 0) * (boot?.pagesPerSlab ?? 1));
    assert.equal(st.freePages + st.slabPages, st.managedPages, "every page came back");
  });

  it("reopens NUMA nodes that are buffers of their own, from copies of all of them", () => {
    const mm = new Kmem({ nodes: [MiB, MiB] });
    const far = mm.kmallocNode(100, GFP_KERNEL, 1);
    assert.equal(mm.nodeOf(far), 1);
    mm.view(far, 100).fill(9);
    const r = Kmem.reopen(mm.buffers.map((b) => copy(b as ArrayBuffer)));
    assert.ok(r.read(far, 100).every((x) => x === 9));
    assert.notEqual(r.buffers[1], mm.buffers[1]);
    r.kfree(far);
    r.verify();
    assert.throws(() => Kmem.reopen(copy(mm.buffer as ArrayBuffer)), /attach with all of them/);
  });

  it("refuses a snapshot taken inside a call of cpu 0, bad options and what is no instance", () => {
    const mm = new Kmem({ memory: MiB, cpus: 2 });
    const snap = copy(mm.buffer as SharedArrayBuffer);
    new Int32Array(snap)[Hdr.LOCK_SLAB] = 1; // cpu 0, the context reopening, inside slab_mutex
    const before = new Uint8Array(snap).slice();
    assert.throws(
      () => Kmem.reopen(snap),
      /slab_mutex is held \(by cpu 0\): the snapshot was taken inside a call/,
    );
    assert.ok(Buffer.from(new Uint8Array(snap)).equals(Buffer.from(before)), "snapshot untouched");
    // A lock of another cpu, whose context is gone: released (as offlineCpu does).
    new Int32Array(snap)[Hdr.LOCK_SLAB] = 2;
    const again = Kmem.reopen(snap);
    assert.equal(new Int32Array(snap)[Hdr.LOCK_SLAB], 0);
    again.verify();
    const c = mm.createCache("locked", 32, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const snap2 = copy(mm.buffer as SharedArrayBuffer);
    new Int32Array(snap2)[(c.desc >>> 2) + Desc.LOCK] = 2;
    const reopened = Kmem.reopen(snap2);
    assert.equal(new Int32Array(snap2)[(c.desc >>> 2) + Desc.LOCK], 0);
    reopened.verify();
    assert.ok(reopened.findCache("locked")?.alloc() !== 0);
    const good = copy(mm.buffer as SharedArrayBuffer);
    const pristine = new Uint8Array(good).slice();
    assert.throws(
      () => Kmem.reopen(good, 5 as unknown as object),
      /Kmem.reopen options must be an object/,
    );
    assert.throws(() => Kmem.reopen(good, { cpu: 1 } as unknown as object), /cpu/);
    assert.throws(() => Kmem.reopen(good, { node: 3 }), RangeError);
    assert.ok(Buffer.from(new Uint8Array(good)).equals(Buffer.from(pristine)), "still untouched");
    assert.throws(() => Kmem.reopen(new ArrayBuffer(MiB)), /not a kmem instance/);
    assert.throws(() => Kmem.reopen("x" as unknown as ArrayBuffer), TypeError);
    Kmem.reopen(good).verify();
  });
});
