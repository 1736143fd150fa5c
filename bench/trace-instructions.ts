/*
 * A trace's replay in a loop, for instruction counts per op under callgrind:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --no-concurrent-recompilation dist/bench/trace-instructions.js WHICH TRACE OPS RUNS [WARM]
 *
 *   WHICH   kmem, tlsf: the timed loops of timed-loops.ts (kmem's kmalloc, kfree and krealloc
 *           called directly, or TLSF's heap); kmem-replay, tlsf-replay: the workbench's own
 *           timed loop (replay.ts: freshTimedLoop) over its allocators slub and tlsf, made
 *           as `kmem replay` and `npm run bench -- programs` make them, called as they time them
 *
 * replays ops [0, OPS) of TRACE (0: every op) WARM times (default 2) to compile, then RUNS
 * times, each run on a fresh instance. Run it with RUNS 1 and 3 and halve the difference of
 * the totals: what is left is one run of the prefix (start-up, reading the trace and
 * compilation cancel out). For the instructions of each function V8 compiled, run it once
 * under callgrind with `--perf-basic-prof` and give the output and V8's map to
 * jit-instructions.js.
 */

import {
  CHUNK_OPS,
  findAllocator,
  freshTimedLoop,
  newBlocks,
  type OpChunk,
  timedBuffer,
} from "kmem-workbench";
import { HEAP, KMEM, TLSF, type Timed } from "./timed-loops.js";
import { type FlatTrace, flatTrace } from "./traces.js";

const WHICH = ["kmem", "tlsf", "kmem-replay", "tlsf-replay"];
const [which, file, opsArg, runsArg, warmArg] = process.argv.slice(2);
if (which === undefined || !WHICH.includes(which) || file === undefined) {
  process.stderr.write(
    `usage: trace-instructions.js ${WHICH.join("|")} TRACE [OPS] [RUNS] [WARM]\n`,
  );
  process.exit(2);
}
const t = await flatTrace(file);
const ops = Number(opsArg ?? 0) > 0 ? Math.min(t.ops, Number(opsArg)) : t.ops;
const runs = Number(runsArg ?? 1);
const warm = Number(warmArg ?? 2);

async function replay<A>(x: Timed<A>, n: number): Promise<void> {
  for (let r = 0; r < n; r++) x.run(await x.fresh(), t, new Int32Array(t.ids), 0, ops);
}

async function main<A>(x: Timed<A>): Promise<void> {
  await replay(x, warm);
  await replay(x, runs);
}

/**
 * The first `ops` ops in chunks of CHUNK_OPS, as the workbench's replay hands them to its
 * timed loop: the loop is entered once a chunk, so V8 optimizes it as a function (as in a
 * timed run), not only by on-stack replacement inside one long call.
 */
function chunksOf(f: FlatTrace): OpChunk[] {
  const out: OpChunk[] = [];
  for (let at = 0; at < ops; at += CHUNK_OPS) {
    const end = Math.min(ops, at + CHUNK_OPS);
    out.push({
      length: end - at,
      op: f.op.subarray(at, end),
      id: f.id.subarray(at, end),
      size: f.size.subarray(at, end),
      line: new Int32Array(0),
    });
  }
  return out;
}

/**
 * The workbench's timed loop over its allocator `name`, each run on a fresh one, made as
 * the replay makes a timed run's: over its timed buffer for every run (TLSF: one memory of
 * that size, touched once), not memory grown anew each run.
 */
async function workbenchLoop(name: string): Promise<void> {
  const entry = findAllocator(name);
  const loop = freshTimedLoop(name);
  const chunks = chunksOf(t);
  const buffer = timedBuffer(entry, HEAP);
  for (let r = 0; r < warm + runs; r++) {
    const b = newBlocks(t.ids);
    const a = (await entry.create(HEAP, buffer, true)).allocator;
    for (const chunk of chunks) loop(a, null, chunk, b.handle, b.size);
  }
}

if (which === "kmem") await main(KMEM);
else if (which === "tlsf") await main(TLSF);
else await workbenchLoop(which === "tlsf-replay" ? "tlsf" : "slub");
process.stdout.write(`${t.name}: ${ops} ops, ${runs} runs\n`);
