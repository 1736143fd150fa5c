/*
 * One replay in a process of its own, as `kmem replay` runs it (a timed pass, then a measured
 * one): node dist/bench/replay-one.js TRACE ALLOCATOR MEMORY_BYTES TIME_LIMIT_S prints the
 * ReplayResult as JSON. bench/replay.ts runs it once per (program trace, allocator), so that
 * no allocator runs on an engine another one has warmed or filled.
 */

import { findAllocator, loadTrace, replay } from "kmem-workbench";

const [file, name, memory, limit] = process.argv.slice(2);
if (file === undefined || name === undefined) {
  process.stderr.write("usage: replay-one.js TRACE ALLOCATOR [MEMORY_BYTES] [TIME_LIMIT_S]\n");
  process.exit(2);
}
const source = await loadTrace(file);
const { result } = await replay(source, findAllocator(name), {
  memoryBytes: Number(memory ?? 256 * 2 ** 20),
  timeLimitMs: Number(limit ?? 30) * 1000,
});
process.stdout.write(`${JSON.stringify(result)}\n`);
