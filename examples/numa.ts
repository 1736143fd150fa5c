/*
 * NUMA nodes: three nodes, each a buffer of its own, with a distance table; where pages go
 * under each memory policy, kmalloc_node, __GFP_THISNODE, a node's bytes in its buffer, and
 * the numastat and buddyinfo reports.
 */
import { __GFP_THISNODE, GFP_KERNEL, Kmem } from "kmem";

const MiB = 1024 * 1024;
const mm = new Kmem({
  nodes: [4 * MiB, 2 * MiB, 2 * MiB], // a buffer each; node 0 holds the header and mem_map
  distances: [
    [10, 20, 30],
    [20, 10, 20],
    [30, 20, 10],
  ],
});
const nodesOf = (addrs: number[]) => addrs.map((a) => mm.nodeOf(a)).join(" ");

// The default policy: this context's node (0).
const local = [mm.allocPages(0), mm.allocPages(0)];
console.log(`local: ${nodesOf(local)}`);

// Interleave: page by page over the policy's nodes.
mm.setPolicy({ mode: "interleave", nodes: [1, 2] });
const spread = Array.from({ length: 6 }, () => mm.allocPages(0));
console.log(`interleave [1, 2]: ${nodesOf(spread)}`);

// Bind: only node 2; once it is full, allocations fail rather than leave it.
mm.setPolicy({ mode: "bind", nodes: [2] });
const bound: number[] = [];
for (let a = mm.allocPages(0); a !== 0; a = mm.allocPages(0)) bound.push(a);
console.log(
  `bind [2]: ${bound.length} pages, all on node ${[...new Set(nodesOf(bound).split(" "))]}`,
);
mm.setPolicy({ mode: "local" });

// A node argument: with __GFP_THISNODE only that node, without it the nearest with memory.
console.log(`allocPagesNode(2, THISNODE): ${mm.allocPagesNode(2, 0, GFP_KERNEL | __GFP_THISNODE)}`);
const near = mm.allocPagesNode(2, 0);
console.log(
  `allocPagesNode(2): node ${mm.nodeOf(near)} (distance ${mm.distance(2, mm.nodeOf(near))})`,
);

// kmalloc_node: objects from slabs of the node asked for.
const objs = [mm.kmallocNode(200, GFP_KERNEL, 1), mm.kmallocNode(200, GFP_KERNEL, 0)];
console.log(`kmallocNode(200, 1), (200, 0): ${nodesOf(objs)}`);

// Every node is a buffer of its own (mm.buffers, to post to workers for Kmem.attach);
// view() is a live Uint8Array over a block's bytes, in its node's buffer.
const page = mm.allocPagesNode(1, 0);
const bytes = mm.view(page, 5);
bytes.set(new TextEncoder().encode("hello"));
console.log(
  `buffers: ${mm.buffers.map((b) => `${b.byteLength / MiB} MiB`).join(", ")}; ` +
    `node 1's page is in buffer ${mm.buffers.indexOf(bytes.buffer)}: "${mm.read(page, 5).join(",")}"`,
);

for (const a of [...local, ...spread, ...bound, near, page]) mm.freePages(a, 0);
for (const a of objs) mm.kfree(a);
mm.verify();
console.log(mm.report("numastat").trimEnd());
console.log(mm.report("buddyinfo").trimEnd());
