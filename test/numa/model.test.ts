/*
 * Model-based test of NUMA placement: random page and object allocations over three nodes
 * (by policy, by node, with and without __GFP_THISNODE), frees, policy changes and two
 * contexts on different nodes of one shared instance. The model knows what each live
 * allocation holds (a stamp in its first and last byte) and which nodes each request may
 * land on; verify() runs every few steps and everything is freed at the end.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { __GFP_THISNODE, GFP_KERNEL, GFP_NOWAIT, Kmem, type MemPolicy } from "../../src/index.js";

const KiB = 1024;
const NODES = 3;
const DISTANCES = [
  [10, 20, 30],
  [20, 10, 20],
  [30, 20, 10],
];

type Op =
  | { kind: "pages"; ctx: number; order: number; nid: number; thisnode: boolean; nowait: boolean }
  | { kind: "kmalloc"; ctx: number; size: number; nid: number; thisnode: boolean }
  | { kind: "free"; ctx: number; pick: number }
  | { kind: "policy"; ctx: number; mode: MemPolicy["mode"]; nodes: number[] };

const ctx = fc.nat(1);
const nid = fc.integer({ min: -1, max: NODES - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("pages" as const),
      ctx,
      order: fc.nat(3),
      nid,
      thisnode: fc.boolean(),
      nowait: fc.boolean(),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("kmalloc" as const),
      ctx,
      size: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 8193, max: 20000 })),
      nid,
      thisnode: fc.boolean(),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("free" as const), ctx, pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("policy" as const),
      ctx,
      mode: fc.constantFrom("local", "preferred", "bind", "interleave") as fc.Arbitrary<
        MemPolicy["mode"]
      >,
      nodes: fc.uniqueArray(fc.nat(NODES - 1), { minLength: 1, maxLength: NODES }),
    }),
  },
);

interface Live {
  addr: number;
  /** Page order, or -1 for a kmalloc object. */
  order: number;
  bytes: number;
  stamp: number;
}

function run(ops: Op[], slab: "slub" | "slab" = "slub"): void {
  const main = new Kmem({
    slab,
    nodes: [512 * KiB, 256 * KiB, 256 * KiB],
    distances: DISTANCES,
    maxOrder: 6,
    cpus: 2,
  });
  const other = Kmem.attach(main.buffers, { node: 2 });
  const ctxs = [main, other];
  const policies: (MemPolicy | null)[] = [null, null];
  const live: Live[] = [];
  let stamp = 0;
  /** The nodes a request may land on; null when any. */
  const allowed = (
    c: number,
    op: { nid: number; thisnode: boolean },
    pages: boolean,
  ): number[] | null => {
    if (op.nid >= 0) return op.thisnode ? [op.nid] : null;
    const p = policies[c]!;
    // Bind holds for pages; kmalloc objects may come from a cpu slab an earlier request put
    // elsewhere (SLUB's node check applies only to requests with a node).
    if (pages && p?.mode === "bind") return p.nodes as number[];
    if (pages && op.thisnode && (p === null || p.mode === "local")) return [(ctxs[c] as Kmem).node];
    return null;
  };
  ops.forEach((op, step) => {
    const mm = ctxs[op.ctx] as Kmem;
    switch (op.kind) {
      case "pages":
      case "kmalloc": {
        const gfp =
          (op.kind === "pages" && op.nowait ? GFP_NOWAIT : GFP_KERNEL) |
          (op.thisnode ? __GFP_THISNODE : 0);
        let addr: number;
        let bytes: number;
        if (op.kind === "pages") {
          addr = mm.allocPagesNode(op.nid, op.order, gfp);
          bytes = mm.pageSize << op.order;
        } else {
          addr = mm.kmallocNode(op.size, gfp, op.nid);
          bytes = op.size;
        }
        if (addr === 0) break;
        const node = mm.nodeOf(addr);
        // A block or object lies in one node; with a node and __GFP_THISNODE, that node.
        assert.equal(mm.nodeOf(addr + bytes - 1), node, "one node per allocation");
        const may = allowed(op.ctx, op, op.kind === "pages");
        if (may !== null) assert.ok(may.includes(node), `step ${step}: node ${node} not in ${may}`);
        const s = ++stamp & 0xff;
        mm.setUint8(addr, s);
        mm.setUint8(addr + bytes - 1, s);
        live.push({ addr, order: op.kind === "pages" ? op.order : -1, bytes, stamp: s });
        break;
      }
      case "free": {
        if (live.length === 0) break;
        const i = op.pick % live.length;
        const l = live[i] as Live;
        live[i] = live[live.length - 1] as Live;
        live.pop();
        assert.equal(mm.getUint8(l.addr), l.stamp, "first byte intact");
        assert.equal(mm.view(l.addr, l.bytes)[l.bytes - 1], l.stamp, "last byte intact");
        // Frees from either context, whichever node the memory is on.
        if (l.order >= 0) mm.freePages(l.addr, l.order);
        else mm.kfree(l.addr);
        break;
      }
      case "policy": {
        const p: MemPolicy =
          op.mode === "local" ? { mode: "local" } : { mode: op.mode, nodes: op.nodes };
        mm.setPolicy(p);
        policies[op.ctx] = p;
        break;
      }
    }
    if (step % 16 === 15) main.verify();
  });
  for (const l of live) {
    if (l.order >= 0) main.freePages(l.addr, l.order);
    else main.kfree(l.addr);
  }
  main.verify();
  const s = main.stats();
  assert.equal(
    s.nodes.reduce((a, n) => a + n.freePages + n.pcpPages, 0),
    s.freePages,
    "the nodes' free pages add up",
  );
  main.offlineCpu(other.cpu);
  main.shrinkSlabs();
  main.drainPages();
  main.verify();
}

describe("NUMA model", () => {
  it("placement, contents and invariants under random traffic on three nodes", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 400, size: "max" }), (ops) => {
        run(ops);
      }),
      { numRuns: 40, seed: 20261202 },
    );
  });

  it("the same with SLAB (alien arrays for frees of another node's objects)", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 400, size: "max" }), (ops) => {
        run(ops, "slab");
      }),
      { numRuns: 25, seed: 20261206 },
    );
  });
});
