/*
 * A trace's replay in a loop, for instruction counts per op under callgrind (the timed loops
 * of timed-loops.ts: kmem's kmalloc, kfree and krealloc called directly, or TLSF's heap):
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --no-concurrent-recompilation dist/bench/trace-instructions.js kmem|tlsf TRACE OPS RUNS
 *
 * replays ops [0, OPS) of TRACE (0: every op) twice to compile, then RUNS times, each run on
 * a fresh instance. Run it with RUNS 1 and 3 and halve the difference of the totals: what is
 * left is one run of the prefix (start-up, reading the trace and compilation cancel out).
 */

import { KMEM, TLSF, type Timed } from "./timed-loops.js";
import { flatTrace } from "./traces.js";

const [which, file, opsArg, runsArg] = process.argv.slice(2);
if ((which !== "kmem" && which !== "tlsf") || file === undefined) {
  process.stderr.write("usage: trace-instructions.js kmem|tlsf TRACE [OPS] [RUNS]\n");
  process.exit(2);
}
const t = await flatTrace(file);
const ops = Number(opsArg ?? 0) > 0 ? Math.min(t.ops, Number(opsArg)) : t.ops;
const runs = Number(runsArg ?? 1);

async function replay<A>(x: Timed<A>, n: number): Promise<void> {
  for (let r = 0; r < n; r++) x.run(await x.fresh(), t, new Int32Array(t.ids), 0, ops);
}

async function main<A>(x: Timed<A>): Promise<void> {
  await replay(x, 2);
  await replay(x, runs);
}

await (which === "kmem" ? main(KMEM) : main(TLSF));
process.stdout.write(`${t.name}: ${ops} ops, ${runs} runs\n`);
