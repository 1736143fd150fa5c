/*
 * The workbench's timed loop alone: a trace replayed as `kmem replay` times it (replay.ts,
 * the same loop, warm-up and timed runs), against an allocator that does nothing (a handle
 * from a counter; free and realloc keep nothing; a range allocator's kind: no memory, so no
 * touched buffer of its own either). Its ops/s is the loop's own cost, the ceiling of every
 * allocator's speed on that trace, and its spread from one process to the next is the
 * engine's and the machine's, not an allocator's: bench/replay.ts runs it once a round
 * beside the program traces.
 *
 *   node dist/bench/loop-alone.js TRACE    prints the ReplayResult as JSON
 */

import type { ByteAllocator } from "kmem";
import { type AllocatorEntry, loadTrace, replay } from "kmem-workbench";

/** Handles from a counter, 16 bytes apart: the loop stores and passes them as it would. */
class NoAllocator implements ByteAllocator {
  readonly name = "none";
  private next = 16;

  alloc(_size: number): number {
    const h = this.next;
    this.next = (h + 16) & 0x3fffffff;
    return h;
  }

  free(_addr: number, _size: number): void {}

  realloc(addr: number, _oldSize: number, _newSize: number): number {
    return addr;
  }

  footprint(): number {
    return 0;
  }
}

const NONE: AllocatorEntry = {
  name: "none",
  kind: "range",
  description: "no allocator: the timed loop alone",
  create: () => Promise.resolve({ allocator: new NoAllocator() }),
};

const [file] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write("usage: loop-alone.js TRACE\n");
  process.exit(2);
}
const { result } = await replay(await loadTrace(file), NONE, {
  memoryBytes: 0,
  check: false,
  timeLimitMs: 30_000,
});
process.stdout.write(`${JSON.stringify(result)}\n`);
