/*
 * NUMA nodes: construction and its errors, placement by memory policy and by node
 * argument, zonelist fallback in distance order, __GFP_THISNODE, per-node slabs (SLUB and
 * SLOB), numastat counters and the per-node reports. verify() after every scenario.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  __GFP_THISNODE,
  GFP_KERNEL,
  GFP_NOWAIT,
  Kmem,
  type KmemCache,
  KmemError,
  SLAB_NO_MERGE,
  type KmemOptions,
} from "../../src/index.js";
import { Desc, NodeRec, nodeRecIndex } from "../../src/slub/index.js";
import { allMemory, assertMisuse } from "../helpers.js";

const MiB = 1 << 20;
const PAGE = 4096;

function numa(nodes: number[], extra: Partial<KmemOptions> = {}): Kmem {
  return new Kmem({ nodes, maxOrder: 8, ...extra });
}

/** Allocates order-0 pages until the allocator says no; returns their addresses. */
function drain(alloc: () => number, limit = 100000): number[] {
  const out: number[] = [];
  for (let i = 0; i < limit; i++) {
    const a = alloc();
    if (a === 0) break;
    out.push(a);
  }
  return out;
}

/** The runs of nodes in `addrs` order: [node, count][]. */
function runs(mm: Kmem, addrs: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const a of addrs) {
    const n = mm.nodeOf(a);
    const last = out[out.length - 1];
    if (last !== undefined && last[0] === n) last[1]++;
    else out.push([n, 1]);
  }
  return out;
}

describe("NUMA nodes: construction", () => {
  it("gives each node a buffer and an address window of its own, and reports them", () => {
    const mm = numa([2 * MiB, 1 * MiB, 1 * MiB]);
    assert.equal(mm.nrNodes, 3);
    assert.deepEqual(
      mm.buffers.map((b) => b.byteLength),
      [2 * MiB, MiB, MiB],
    );
    assert.equal(mm.buffer, mm.buffers[0]);
    // Windows of 2 MiB (the largest node): node 1 at 2 MiB, node 2 at 4 MiB, a hole between.
    assert.equal(mm.totalPages, (5 * MiB) / PAGE);
    const nodes = mm.stats().nodes;
    assert.equal(nodes.length, 3);
    assert.equal(nodes[1]?.startPfn, (2 * MiB) / PAGE);
    assert.equal(nodes[1]?.endPfn, (3 * MiB) / PAGE);
    assert.equal(nodes[2]?.startPfn, (4 * MiB) / PAGE);
    assert.equal(nodes[2]?.endPfn, mm.totalPages);
    assert.equal(
      nodes.reduce((s, n) => s + n.managedPages, 0),
      mm.managedPages,
    );
    assert.equal(
      nodes.reduce((s, n) => s + n.freePages, 0),
      mm.stats().buddyFreePages,
    );
    assert.equal(mm.distance(0, 0), 10);
    assert.equal(mm.distance(0, 2), 20);
    const info = mm.report("buddyinfo").trimEnd().split("\n");
    assert.equal(info.length, 3);
    assert.match(info[2] as string, /^Node 2, zone {3}Normal /);
    assert.equal(mm.report("extfrag_index").trimEnd().split("\n").length, 3);
    assert.equal(mm.node, 0);
    mm.verify();
  });

  it("keeps a node's bytes in its own buffer: views, accessors and frees work on every node", () => {
    // Node 0 of 512 KiB, node 1 of 1 MiB (and a partial page, unused): windows of 1 MiB.
    const buffers = [new ArrayBuffer(MiB / 2), new ArrayBuffer(MiB + 100)];
    new Uint8Array(buffers[1] as ArrayBuffer).fill(0x5a);
    const mm = new Kmem({ nodes: buffers, maxOrder: 6 });
    assert.equal(mm.buffers[1], buffers[1], "node 1 is the buffer given");
    const page = mm.allocPagesNode(1, 0);
    assert.equal(mm.nodeOf(page), 1);
    const off = page - 2 ** 20; // node 1's window starts at 1 MiB
    mm.write(page, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...new Uint8Array(buffers[1] as ArrayBuffer, off, 3)], [1, 2, 3]);
    mm.setFloat64(page + 8, 2.5);
    assert.equal(new DataView(buffers[1] as ArrayBuffer).getFloat64(off + 8, true), 2.5);
    const v = mm.view(page, PAGE);
    assert.equal(v.buffer, buffers[1], "view() is a live view of the node's buffer");
    v[100] = 9;
    assert.equal(mm.getUint8(page + 100), 9);
    // kmalloc objects, a krealloc that moves across nodes, and vmalloc over both nodes.
    const a = mm.kmallocNode(100, GFP_KERNEL, 1);
    mm.view(a, 100).fill(7);
    const b = mm.krealloc(a, 3000);
    assert.ok(
      mm.read(b, 100).every((x) => x === 7),
      "krealloc copied the contents",
    );
    mm.setPolicy({ mode: "interleave", nodes: [0, 1] });
    const vm = mm.vmalloc(8 * PAGE);
    const data = Uint8Array.from({ length: 8 * PAGE }, (_, i) => i * 7);
    mm.write(vm + 1, data.subarray(0, 8 * PAGE - 1));
    assert.deepEqual(mm.read(vm + 1, 8 * PAGE - 1), data.subarray(0, 8 * PAGE - 1));
    assert.equal(mm.getUint32(vm + PAGE - 2), new DataView(data.buffer).getUint32(PAGE - 3, true));
    mm.setPolicy({ mode: "local" });
    // A node's window ends with its buffer: the hole after it faults, frees there are refused.
    const end = MiB / 2;
    assert.throws(
      () => mm.read(end - 2, 4),
      (e: unknown) => {
        return (
          e instanceof KmemError && e.code === "FAULT" && /past the end of node 0/.test(e.message)
        );
      },
    );
    assert.throws(
      () => mm.view(page, PAGE * 1000),
      (e: unknown) => e instanceof KmemError,
    );
    assert.throws(() => mm.view(vm, 8), /vmalloc address has no single view/);
    assert.throws(
      () => mm.freePages(end, 0),
      (e: unknown) => e instanceof KmemError,
    );
    mm.vfree(vm);
    mm.kfree(b);
    mm.freePages(page, 0);
    mm.verify();
  });

  it("view(): a live view of one node's bytes; bad arguments and ranges are refused", () => {
    const mm = new Kmem({ nodes: [MiB, MiB], maxOrder: 6 });
    const a = mm.allocPagesNode(1, 1);
    const before = allMemory(mm);
    assert.throws(() => mm.view(a, -1), RangeError);
    assert.throws(() => mm.view(a, 1.5), TypeError);
    assert.throws(() => mm.view(a, "8" as unknown as number), TypeError);
    assert.throws(() => mm.view(-4, 8), RangeError);
    assert.throws(() => mm.view(0.5, 8), TypeError);
    assert.throws(() => mm.view(NaN, 8), TypeError);
    for (const [addr, len, why] of [
      [0, 8, /NULL page/],
      [PAGE, 8, /reserved region/],
      [2 * MiB - 4, 8, /hole between physical memory \(ends 0x200000\) and the vmalloc space/],
      [MiB - 4, 8, /node 1 starts there, in a buffer of its own/],
    ] as const) {
      assert.throws(
        () => mm.view(addr, len),
        (e: unknown) => e instanceof KmemError && e.code === "FAULT" && why.test(e.message),
        `${addr}+${len}`,
      );
    }
    assert.ok(Buffer.from(allMemory(mm)).equals(Buffer.from(before)), "nothing changed");
    assert.equal(mm.view(a, 2 * PAGE).length, 2 * PAGE);
    assert.equal(mm.view(a, 0).length, 0);
    mm.freePages(a, 1);
    mm.verify();
  });

  it("misuse at a hole or a node's edge is refused with a KmemError, every buffer intact", () => {
    // Node 0 of 512 KiB in a 1 MiB window: [512 KiB, 1 MiB) is a hole.
    const mm = new Kmem({ nodes: [MiB / 2, MiB], maxOrder: 6 });
    const hole = MiB / 2 + 4 * PAGE;
    const c = mm.createCache("edge", 64);
    assert.ok(c !== null);
    const live = [mm.kmallocNode(64, GFP_KERNEL, 1), c.allocNode(GFP_KERNEL, 1)];
    const pool = mm.createMempool(2, 128);
    assert.ok(pool !== null);
    const page1 = mm.allocPagesNode(1, 0);
    for (const [what, code, fn] of [
      ["kfree", "INVALID_FREE", () => mm.kfree(hole)],
      ["kfree of a free page of node 1", "DOUBLE_FREE", () => mm.kfree(page1 + 2 * PAGE)],
      ["ksize", "INVALID_FREE", () => mm.ksize(hole)],
      ["krealloc", "INVALID_FREE", () => mm.krealloc(hole, 10)],
      ["cache free", "INVALID_FREE", () => c.free(hole)],
      ["freePages", "INVALID_FREE", () => mm.freePages(hole, 0)],
      ["freePages of node 1 twice", "DOUBLE_FREE", () => mm.freePages(page1 + PAGE, 0)],
      ["vfree", "INVALID_FREE", () => mm.vfree(hole)],
      ["pool free", "INVALID_FREE", () => pool.free(hole)],
      ["getUint32", "FAULT", () => mm.getUint32(hole)],
      ["write", "FAULT", () => mm.write(MiB / 2 - 2, new Uint8Array(4))],
    ] as const) {
      assert.doesNotThrow(() => {
        assertMisuse(mm, code, fn, true);
      }, what);
    }
    assert.throws(() => mm.vmap([hole]), /pages\[0\] \(0x84000\) is in no node/);
    for (const a of live.slice(0, 1)) mm.kfree(a);
    c.free(live[1] as number);
    pool.destroy();
    mm.freePages(page1, 0);
    mm.verify();
  });

  it("a cache's list_lock on another node's buffer still knows its owner's cpu state", () => {
    // Two contexts in one thread over unshared node buffers: a lock the other context holds
    // can never be released meanwhile, which the owner check (cpu states in node 0's
    // header) reports as such.
    const a = new Kmem({ nodes: [new ArrayBuffer(MiB), new ArrayBuffer(MiB)], cpus: 2 });
    const b = Kmem.attach(a.buffers);
    a.setPolicy({ mode: "bind", nodes: [1] });
    let c = null;
    for (let i = 0; i < 64 && c === null; i++) {
      const k = a.createCache(`far${i}`, 40, { flags: SLAB_NO_MERGE });
      if (k !== null && a.nodeOf(k.desc) === 1) c = k;
    }
    assert.ok(c !== null, "a cache whose descriptor is on node 1");
    a.setPolicy({ mode: "local" });
    const lockAt = c.desc + Desc.LOCK * 4 - MiB;
    new DataView(a.buffers[1] as ArrayBuffer).setInt32(lockAt, b.cpu + 1, true);
    assert.throws(
      () => {
        for (let i = 0; i < 1000; i++) c.alloc(); // the slow path takes the list_lock
      },
      (err: unknown) =>
        err instanceof KmemError &&
        err.code === "DEADLOCK" &&
        /list_lock of cache far\d+ is held by cpu 1 of this thread/.test(err.message),
    );
    new DataView(a.buffers[1] as ArrayBuffer).setInt32(lockAt, 0, true);
  });

  it("each node has its own list_lock per cache: one node's held lock stops no other", () => {
    // Two contexts in one thread over unshared buffers, as above: a held lock is reported.
    const a = new Kmem({ nodes: [new ArrayBuffer(2 * MiB), new ArrayBuffer(2 * MiB)], cpus: 2 });
    const b = Kmem.attach(a.buffers);
    const c = a.findCache("kmalloc-64") as KmemCache;
    const desc = c.desc >>> 2;
    const lockWord = (nid: number) => {
      const at = (desc + nodeRecIndex(a.cpus, nid, NodeRec.LOCK)) * 4;
      const bytes = a.view(at, 4);
      return new DataView(bytes.buffer, bytes.byteOffset, 4);
    };
    assert.equal(a.nodeOf(lockWord(1).byteOffset), 0, "the descriptor is on node 0");
    // Context b holds node 1's list_lock and cannot let go meanwhile (same thread).
    lockWord(1).setInt32(0, b.cpu + 1, true);
    const objects: number[] = [];
    for (let i = 0; i < 3000; i++) objects.push(a.kmalloc(64)); // new slabs, node 0's lock
    assert.ok(objects.every((o) => o !== 0 && a.nodeOf(o) === 0));
    for (const o of objects) a.kfree(o); // partial and empty slabs, node 0's lock
    assert.throws(
      () => a.kmallocNode(64, GFP_KERNEL | __GFP_THISNODE, 1),
      (err: unknown) =>
        err instanceof KmemError &&
        err.code === "DEADLOCK" &&
        /the node 1 list_lock of cache kmalloc-64 is held by cpu 1 of this thread/.test(
          err.message,
        ),
    );
    lockWord(1).setInt32(0, 0, true);
    const far = a.kmallocNode(64, GFP_KERNEL | __GFP_THISNODE, 1);
    assert.equal(a.nodeOf(far), 1);
    a.kfree(far);
    // And node 0's lock held stops node 0's slow paths, not node 1's.
    lockWord(0).setInt32(0, b.cpu + 1, true);
    const far2 = a.kmallocNode(64, GFP_KERNEL | __GFP_THISNODE, 1);
    assert.equal(a.nodeOf(far2), 1);
    a.kfree(far2);
    const near: number[] = [];
    assert.throws(() => {
      for (let i = 0; i < 3000; i++) near.push(a.kmalloc(64));
    }, /the node 0 list_lock of cache kmalloc-64 is held by cpu 1/);
    lockWord(0).setInt32(0, 0, true);
    for (const o of near) a.kfree(o);
    a.verify();
    // verify() takes every node's lock of every cache: one it cannot have (node 1's) makes
    // it fail, giving back node 0's it took first.
    lockWord(1).setInt32(0, b.cpu + 1, true);
    assert.throws(() => a.verify(), /the node 1 list_lock of cache kmalloc-64 is held by cpu 1/);
    assert.equal(lockWord(0).getInt32(0, true), 0, "node 0's list_lock was released");
    lockWord(1).setInt32(0, 0, true);
    a.verify();
  });

  it("splits one memory into nodes at consecutive addresses when memory is given", () => {
    const mm = new Kmem({ memory: 4 * MiB, nodes: [2 * MiB, 1 * MiB, 1 * MiB], maxOrder: 8 });
    assert.equal(mm.buffers.length, 1);
    assert.equal(mm.totalPages, (4 * MiB) / PAGE);
    const nodes = mm.stats().nodes;
    assert.equal(nodes[1]?.startPfn, (2 * MiB) / PAGE);
    assert.equal(nodes[2]?.startPfn, (3 * MiB) / PAGE);
    assert.equal(nodes[2]?.endPfn, mm.totalPages);
    const a = mm.allocPagesNode(2, 0);
    assert.equal(mm.nodeOf(a), 2);
    assert.equal(mm.view(a, PAGE).buffer, mm.buffer);
    mm.verify();
  });

  it("one node without the option, exactly as before", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    assert.equal(mm.nrNodes, 1);
    assert.equal(mm.stats().nodes.length, 1);
    assert.match(mm.report("buddyinfo"), /^Node 0, zone {3}Normal /);
    assert.match(mm.report("numastat"), /^ {27}node0\nnuma_hit /);
  });

  it("splits a given buffer, and gives a context its node", () => {
    const buffer = new ArrayBuffer(3 * MiB);
    const mm = new Kmem({ memory: buffer, nodes: [2 * MiB, 1 * MiB], node: 1 });
    assert.equal(mm.node, 1);
    const a = mm.allocPages(0);
    assert.equal(mm.nodeOf(a), 1);
    mm.verify();
  });

  it("rejects bad node options with a clear error, touching no buffer", () => {
    const bad: [Partial<KmemOptions>, RegExp][] = [
      [{ nodes: [] }, /nodes must be an array of 1\.\.8/],
      [{ nodes: [MiB, 1000] }, /nodes\[1\] must be a positive multiple of the page size/],
      [
        { nodes: [MiB, PAGE] },
        /nodes\[1\] is 4096 bytes of whole pages; a node needs at least 4 pages/,
      ],
      [{ nodes: [MiB, "1M" as unknown as number] }, /nodes\[1\] must be a byte count or a buffer/],
      [
        { memory: 2 * MiB, nodes: [MiB, new ArrayBuffer(MiB)] },
        /nodes\[1\] is a buffer, but memory is given too/,
      ],
      [
        { nodes: [new ArrayBuffer(MiB), new SharedArrayBuffer(MiB)] },
        /nodes mix SharedArrayBuffers and ArrayBuffers/,
      ],
      [
        {
          nodes: [
            MiB,
            new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(MiB, {
              maxByteLength: 2 * MiB,
            }),
          ],
        },
        /nodes\[1\] must not be a resizable ArrayBuffer/,
      ],
      [
        { nodes: [MiB, new ArrayBuffer(3 * PAGE + 100)] },
        /nodes\[1\] is 12288 bytes of whole pages/,
      ],
      [{ nodes: new Array(9).fill(MiB) }, /nodes must be an array of 1\.\.8/],
      [
        { memory: 3 * MiB, nodes: [MiB, MiB] },
        /nodes add up to 2097152 bytes but the memory has 3145728/,
      ],
      [{ nodes: [MiB, MiB], distances: [[10, 20]] }, /distances must be a 2 x 2 array/],
      [
        {
          nodes: [MiB, MiB],
          distances: [
            [10, 20],
            [20, 11],
          ],
        },
        /distances\[1\]\[1\] must be 10/,
      ],
      [
        {
          nodes: [MiB, MiB],
          distances: [
            [10, 5],
            [20, 10],
          ],
        },
        /distances\[0\]\[1\] must be an integer in 11\.\.255/,
      ],
      [{ nodes: [MiB, MiB], node: 2 }, /node must be/],
      [{ nodes: [4 * PAGE, MiB] }, /node 0 of 16384 bytes is too small/],
      [{}, /memory must be given/],
    ];
    for (const [opts, re] of bad) {
      assert.throws(() => new Kmem(opts as KmemOptions), re, JSON.stringify(opts));
    }
    const one = new ArrayBuffer(MiB);
    assert.throws(() => new Kmem({ nodes: [one, one] }), /nodes\[1\] is a buffer already given/);
    const nodeBufs = [new ArrayBuffer(MiB), new ArrayBuffer(MiB)];
    for (const b of nodeBufs) new Uint8Array(b).fill(3);
    assert.throws(() => new Kmem({ nodes: nodeBufs, node: 5 }), /node must be/);
    assert.ok(
      nodeBufs.every((b) => new Uint8Array(b).every((x) => x === 3)),
      "node buffers are untouched",
    );
    const buffer = new ArrayBuffer(2 * MiB);
    new Uint8Array(buffer).fill(7);
    assert.throws(() => new Kmem({ memory: buffer, nodes: [MiB, MiB], node: 9 }), /node must be/);
    assert.ok(
      new Uint8Array(buffer).every((b) => b === 7),
      "the buffer is untouched",
    );
  });

  it("attach: a context's node is checked, and a bad one gives its cpu back", () => {
    const mm = new Kmem({ nodes: [MiB, MiB], cpus: 3 });
    assert.throws(() => Kmem.attach(mm.buffers, { node: 2 }), /node must be .*0\.\.1/);
    assert.throws(() => Kmem.attach(mm.buffers, { node: -1 }), RangeError);
    // A buffer per node: attach needs all of them, in node order.
    assert.throws(() => Kmem.attach(mm.buffer), /keeps its 2 nodes in 2 buffers; attach with all/);
    assert.throws(
      () => Kmem.attach([mm.buffers[1] as ArrayBuffer, mm.buffers[0] as ArrayBuffer]),
      /not a kmem instance/,
    );
    assert.throws(() => Kmem.attach([mm.buffer]), /attach with all of them/);
    assert.throws(() => Kmem.attach([mm.buffer, 5 as unknown as ArrayBuffer]), TypeError);
    const b = Kmem.attach(mm.buffers);
    assert.equal(b.cpu, 1, "the failed attaches took no cpu");
    assert.equal(b.node, 1, "default: cpu id modulo the nodes");
    const c = Kmem.attach(mm.buffers, { node: 0 });
    assert.equal(c.node, 0);
    assert.equal(b.nodeOf(b.allocPages(0)), 1);
    mm.verify();
  });

  it("rejects bad node arguments and policies, changing nothing", () => {
    const mm = numa([MiB, MiB]);
    // A cache to misuse, made first: its descriptor may take a page.
    const c = mm.createCache("thing", 40);
    assert.ok(c !== null);
    const before = mm.stats();
    assert.throws(() => mm.allocPagesNode(2, 0), RangeError);
    assert.throws(() => mm.allocPagesNode(-2, 0), RangeError);
    assert.throws(() => mm.allocPagesNode(0.5, 0), RangeError);
    assert.throws(() => mm.allocPagesNode(0, 99), RangeError);
    assert.throws(() => mm.kmallocNode(64, GFP_KERNEL, 7), RangeError);
    assert.throws(() => mm.kmallocNode(64, GFP_KERNEL, "1" as unknown as number), RangeError);
    assert.throws(() => c.allocNode(GFP_KERNEL, 3), /node must be an integer in -1\.\.1/);
    assert.throws(() => mm.setPolicy({ mode: "bind" }), /needs at least one node/);
    assert.throws(() => mm.setPolicy({ mode: "local", nodes: [1] }), /takes no nodes/);
    assert.throws(() => mm.setPolicy({ mode: "wide" as "local" }), /policy mode must be one of/);
    assert.throws(() => mm.setPolicy({ mode: "bind", nodes: [2] }), RangeError);
    assert.throws(() => mm.setPolicy(null as unknown as { mode: "local" }), TypeError);
    assert.deepEqual(mm.getPolicy(), { mode: "local" });
    assert.throws(() => mm.distance(0, 2), RangeError);
    assert.throws(() => mm.nodeOf(0), KmemError);
    assert.deepEqual(mm.stats().nodes, before.nodes);
    mm.verify();
  });
});

describe("NUMA nodes: placement", () => {
  it("local policy: a context's pages come from its node, then the nearest other", () => {
    // Node 0's zonelist by distance is 0, 2, 1.
    const distances = [
      [10, 30, 20],
      [30, 10, 20],
      [20, 20, 10],
    ];
    const mm = numa([MiB, MiB, MiB], { distances, minFreeBytes: 0 });
    const free = mm.stats().freePages;
    const got = drain(() => mm.allocPages(0, GFP_NOWAIT));
    assert.deepEqual(
      runs(mm, got).map(([n]) => n),
      [0, 2, 1],
    );
    assert.equal(got.length, free);
    mm.verify();
  });

  it("falls back per zone watermark: the low mark of each zone is kept before moving on", () => {
    const mm = numa([2 * MiB, 2 * MiB]);
    const got = drain(() => mm.allocPages(0, GFP_NOWAIT));
    const order = runs(mm, got).map(([n]) => n);
    // Node 0 down to its low mark, node 1 to its low mark, then both down to their reserves.
    assert.deepEqual(order.slice(0, 2), [0, 1]);
    const nodes = mm.stats().nodes;
    for (const n of nodes) assert.ok(n.freePages + n.pcpPages >= 0);
    mm.verify();
  });

  it("__GFP_THISNODE: only that node, failing while others have memory", () => {
    const mm = numa([MiB, MiB], { minFreeBytes: 0 });
    const got = drain(() => mm.allocPagesNode(1, 0, GFP_KERNEL | __GFP_THISNODE));
    assert.ok(got.length > 0);
    assert.ok(got.every((a) => mm.nodeOf(a) === 1));
    assert.equal(got.length, mm.stats().nodes[1]?.managedPages);
    assert.ok(mm.stats().nodes[0]!.freePages > 0);
    // Without __GFP_THISNODE the request falls back to node 0.
    const a = mm.allocPagesNode(1, 0, GFP_KERNEL);
    assert.equal(mm.nodeOf(a), 0);
    mm.verify();
  });

  it("bind: only the policy's nodes, failing when they are full", () => {
    const mm = numa([MiB, MiB, MiB], { minFreeBytes: 0 });
    mm.setPolicy({ mode: "bind", nodes: [1, 2] });
    assert.deepEqual(mm.getPolicy(), { mode: "bind", nodes: [1, 2] });
    const got = drain(() => mm.allocPages(0, GFP_KERNEL));
    const nodes = new Set(got.map((a) => mm.nodeOf(a)));
    assert.deepEqual([...nodes].sort(), [1, 2]);
    assert.ok(mm.stats().nodes[0]!.freePages > 100, "node 0 is left alone");
    mm.setPolicy({ mode: "local" });
    assert.equal(mm.nodeOf(mm.allocPages(0)), 0);
    mm.verify();
  });

  it("preferred: the policy's node first, others after", () => {
    const mm = numa([MiB, MiB], { minFreeBytes: 0 });
    mm.setPolicy({ mode: "preferred", nodes: [1] });
    const got = drain(() => mm.allocPages(0, GFP_KERNEL));
    assert.deepEqual(
      runs(mm, got).map(([n]) => n),
      [1, 0],
    );
    mm.verify();
  });

  it("interleave: page by page over the policy's nodes, counted as interleave hits", () => {
    const mm = numa([MiB, MiB, MiB]);
    mm.setPolicy({ mode: "interleave", nodes: [0, 2] });
    const got = Array.from({ length: 10 }, () => mm.allocPages(0));
    assert.deepEqual(
      got.map((a) => mm.nodeOf(a)),
      [0, 2, 0, 2, 0, 2, 0, 2, 0, 2],
    );
    const n = mm.stats().nodes;
    assert.equal(n[0]?.numa[3], 5);
    assert.equal(n[2]?.numa[3], 5);
    // vmalloc's pages follow the policy too: a virtually contiguous area over both nodes.
    const v = mm.vmalloc(8 * PAGE);
    const spread = new Set(Array.from({ length: 8 }, (_, i) => mm.nodeOf(v + i * PAGE)));
    assert.deepEqual([...spread].sort(), [0, 2]);
    mm.vfree(v);
    for (const a of got) mm.freePages(a, 0);
    mm.verify();
  });

  it("higher orders and frees: blocks never cross a node boundary", () => {
    // Node sizes that are not multiples of the largest block.
    const mm = numa([MiB + 3 * PAGE, MiB + 5 * PAGE, MiB], { minFreeBytes: 0 });
    const used = mm.usedPages;
    const held: [number, number][] = [];
    for (let order = 7; order >= 0; order--) {
      for (;;) {
        const a = mm.allocPages(order, GFP_NOWAIT);
        if (a === 0) break;
        const n = mm.nodeOf(a);
        assert.equal(mm.nodeOf(a + (PAGE << order) - 1), n, "a block lies in one node");
        held.push([a, order]);
      }
    }
    mm.verify();
    for (const [a, o] of held) mm.freePages(a, o);
    mm.verify();
    assert.equal(mm.usedPages, used);
  });
});

describe("NUMA nodes: numastat", () => {
  it("counts hits, misses, foreign, local and other allocations per node", () => {
    const mm = numa([MiB, MiB], { minFreeBytes: 0 });
    const [hit, miss, foreign, , local, other] = [0, 1, 2, 3, 4, 5];
    const start = mm.stats().nodes;
    mm.allocPages(0); // node 0, local, hit
    mm.allocPagesNode(1, 0); // node 1 as asked: hit, from a cpu of node 0: other
    const s = mm.stats().nodes;
    const delta = (n: number, k: number) => s[n]!.numa[k]! - start[n]!.numa[k]!;
    assert.equal(delta(0, hit), 1);
    assert.equal(delta(0, local), 1);
    assert.equal(delta(1, hit), 1);
    assert.equal(delta(1, other), 1);
    assert.equal(delta(1, local), 0);
    // Fill node 1, then ask for it again: the page comes from node 0, a miss there and a
    // foreign allocation for node 1.
    drain(() => mm.allocPagesNode(1, 0, GFP_KERNEL | __GFP_THISNODE));
    const before = mm.stats().nodes;
    const a = mm.allocPagesNode(1, 0);
    assert.equal(mm.nodeOf(a), 0);
    const after = mm.stats().nodes;
    assert.equal(after[0]!.numa[miss]! - before[0]!.numa[miss]!, 1);
    assert.equal(after[1]!.numa[foreign]! - before[1]!.numa[foreign]!, 1);
    const text = mm.report("numastat");
    assert.match(text, /^ {27}node0 {11}node1\n/);
    for (const name of [
      "numa_hit",
      "numa_miss",
      "numa_foreign",
      "interleave_hit",
      "local_node",
      "other_node",
    ]) {
      assert.match(text, new RegExp(`^${name} +\\d+ +\\d+$`, "m"));
    }
  });
});

describe("NUMA nodes: slab objects", () => {
  for (const slab of ["slub", "slab", "slob"] as const) {
    it(`${slab}: kmallocNode and cache.allocNode place objects on the node asked for`, () => {
      const mm = numa([2 * MiB, 2 * MiB], { slab });
      const objs: number[] = [];
      for (let i = 0; i < 300; i++) {
        const nid = i % 3 === 0 ? 1 : 0;
        const size = 8 + ((i * 37) % 500);
        const a = mm.kmallocNode(size, GFP_KERNEL, nid);
        assert.notEqual(a, 0);
        assert.equal(mm.nodeOf(a), nid, `object ${i} of ${size} bytes on node ${nid}`);
        mm.view(a, size).fill(i & 0xff);
        objs.push(a);
      }
      const big = mm.kmallocNode(20000, GFP_KERNEL, 1);
      assert.equal(mm.nodeOf(big), 1);
      const c = mm.createCache("node-objs", 200);
      assert.ok(c !== null);
      const cobjs = Array.from({ length: 50 }, (_, i) => c.allocNode(GFP_KERNEL, i % 2));
      cobjs.forEach((a, i) => assert.equal(mm.nodeOf(a), i % 2));
      // Plain kmalloc from a context of node 0 uses node 0 with SLUB (SLOB, as Linux's,
      // takes the first page with room, of any node).
      const plain = mm.kmalloc(64);
      if (slab !== "slob") assert.equal(mm.nodeOf(plain), 0);
      mm.verify();
      objs.forEach((a, i) => {
        const size = 8 + ((i * 37) % 500);
        assert.ok(
          mm.read(a, size).every((b) => b === (i & 0xff)),
          "contents intact",
        );
      });
      for (const a of objs) mm.kfree(a);
      for (const a of cobjs) c.free(a);
      mm.kfree(big);
      mm.kfree(plain);
      mm.verify();
      c.destroy();
      mm.shrinkSlabs();
      mm.verify();
    });
  }

  it("slub: __GFP_THISNODE fails when the node has no memory, the plain request falls back", () => {
    const mm = numa([2 * MiB, MiB], { minFreeBytes: 0 });
    const pages = drain(() => mm.allocPagesNode(1, 0, GFP_KERNEL | __GFP_THISNODE));
    assert.ok(pages.length > 0);
    assert.equal(mm.kmallocNode(128, GFP_KERNEL | __GFP_THISNODE, 1), 0);
    const a = mm.kmallocNode(128, GFP_KERNEL, 1);
    assert.notEqual(a, 0);
    assert.equal(mm.nodeOf(a), 0);
    mm.kfree(a);
    for (const p of pages) mm.freePages(p, 0);
    mm.verify();
  });

  it("slub, one cpu, a buffer per node: frees to other slabs fill the sheaf, and a full one frees to the slab", () => {
    const mm = numa([2 * MiB, 2 * MiB]);
    const objs = Array.from({ length: 200 }, () => mm.kmalloc(96));
    const slow = () => mm.stats().events.slab_free_slowpath as number;
    const before = slow();
    // The first 60 objects lie in slabs that are no longer the cpu slab: 32 (the sheaf's
    // capacity for 96 bytes) go into the sheaf, the other 28 to their slabs, no flush.
    for (let i = 0; i < 60; i++) mm.kfree(objs[i] as number);
    assert.equal(slow(), before + 28);
    mm.verify();
    // The sheaf serves the next allocation, the last object it took first.
    assert.equal(mm.kmalloc(96), objs[31]);
    for (const a of [objs[31] as number, ...objs.slice(60)]) mm.kfree(a);
    mm.verify();
  });

  for (const slab of ["slub", "slab"] as const)
    it(`${slab}: a context of node 1 fills its cpu slab (array) from node 1, and remote frees stay correct`, () => {
      const mm = numa([2 * MiB, 2 * MiB], { node: 1, slab });
      const local = Array.from({ length: 200 }, () => mm.kmalloc(96));
      assert.ok(local.every((a) => mm.nodeOf(a) === 1));
      const remote = Array.from({ length: 200 }, () => mm.kmallocNode(96, GFP_KERNEL, 0));
      assert.ok(remote.every((a) => mm.nodeOf(a) === 0));
      // Interleaved frees: node-1 objects may go to the cpu's sheaf, node-0 ones to their slabs.
      for (let i = 0; i < 200; i++) {
        mm.kfree(remote[i] as number);
        mm.kfree(local[i] as number);
      }
      mm.verify();
      const again = Array.from({ length: 100 }, () => mm.kmalloc(96));
      assert.ok(
        again.every((a) => mm.nodeOf(a) === 1),
        "the sheaf holds only local objects",
      );
      for (const a of again) mm.kfree(a);
      mm.verify();
    });
});
