/*
 * Allocate + free pairs of one allocator in a loop, for instruction counts under callgrind:
 * the time column of Bonwick's comparison (`kmem compare`) without the noise of a shared
 * machine. Each allocator runs in a process of its own, through its ByteAllocator (as the
 * workbench drives it), so every call site sees one allocator.
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --no-concurrent-recompilation dist/bench/classic-instructions.js NAME KIND N
 *
 *   NAME   slub (kmalloc), rmap, a classic allocator (p2, mckusick-karels, lazy-buddy,
 *          mach-zone, dynix), or floor (the loop alone, to subtract)
 *   KIND   pair: alloc(64) + free; pairs: the pairs workload of `kmem compare` (512 live
 *          blocks of 16..1024 bytes, log-uniform, seeded: free one at random, allocate one)
 *
 * Run it at two counts and divide the difference of the totals by the difference of the
 * counts (start-up cancels out): scripts in BENCHMARKS.md, "The classic allocators".
 */

import {
  type ByteAllocator,
  CLASSIC_NAMES,
  type ClassicName,
  classicAllocator,
  Kmem,
  kmallocAllocator,
  rmapAllocator,
} from "../src/index.js";

const name = process.argv[2] ?? "p2";
const kind = process.argv[3] ?? "pair";
const n = Number(process.argv[4] ?? 1_000_000);
const MEMORY = 64 * 2 ** 20;

/** The loop with no allocator behind it: what each count includes besides the allocator. */
const FLOOR: ByteAllocator = {
  name: "floor",
  alloc: (size) => 8 + (size & 1),
  free: () => {},
  footprint: () => 0,
};

function make(): ByteAllocator {
  if (name === "floor") return FLOOR;
  if (name === "slub") return kmallocAllocator(new Kmem({ memory: MEMORY }));
  if (name === "rmap") return rmapAllocator(MEMORY);
  if ((CLASSIC_NAMES as readonly string[]).includes(name)) {
    return classicAllocator(new Kmem({ memory: MEMORY }), name as ClassicName);
  }
  throw new RangeError(`unknown allocator ${JSON.stringify(name)}`);
}

function pairs(a: ByteAllocator, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const p = a.alloc(64);
    a.free(p, 64);
    sink += p & 1;
  }
  return sink;
}

const LIVE = 512;

function churn(a: ByteAllocator, n: number): number {
  const live = new Float64Array(LIVE);
  const size = new Int32Array(LIVE);
  let seed = 12345;
  const next = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  // Log-uniform in 16..1024: 16 * 64^u.
  const pick = (): number => Math.floor(16 * 64 ** ((next() >>> 8) / 16777216));
  for (let k = 0; k < LIVE; k++) {
    size[k] = pick();
    live[k] = a.alloc(size[k] as number);
  }
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const k = next() % LIVE;
    a.free(live[k] as number, size[k] as number);
    const s = pick();
    size[k] = s;
    live[k] = a.alloc(s);
    sink += (live[k] as number) & 1;
  }
  return sink;
}

const a = make();
const sink = kind === "pairs" ? churn(a, n) : pairs(a, n);
if (sink < 0) process.stdout.write("impossible\n");
