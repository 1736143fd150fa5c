/*
 * A hot pair in a loop, for instruction counts under callgrind (wall-clock time on a shared
 * machine is too noisy to compare builds within a few percent):
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --no-concurrent-recompilation dist/bench/instructions.js kmalloc 200000 [cpus]
 *
 * Run it at two iteration counts and divide the difference of the totals by the difference
 * of the counts: start-up cancels out, what is left is the cost of one pair.
 */

import { Kmem } from "../src/index.js";

const kind = process.argv[2] ?? "kmalloc";
const n = Number(process.argv[3] ?? 200000);
const cpus = Number(process.argv[4] ?? 1);
const memory = 64 * 2 ** 20;
const mm = new Kmem({ memory: cpus > 1 ? new SharedArrayBuffer(memory) : memory, cpus });
let sink = 0;
if (kind === "kmalloc") {
  for (let i = 0; i < n; i++) {
    const a = mm.kmalloc(64);
    mm.kfree(a);
    sink += a & 1;
  }
} else {
  for (let i = 0; i < n; i++) {
    const a = mm.allocPages(0);
    mm.freePages(a, 0);
    sink += a & 1;
  }
}
if (sink === 12345) console.log(sink);
