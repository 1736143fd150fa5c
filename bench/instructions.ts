/*
 * A hot pair in a loop, for instruction counts under callgrind (wall-clock time on a shared
 * machine is too noisy to compare builds within a few percent):
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --no-concurrent-recompilation dist/bench/instructions.js KIND N [CPUS] [LAYOUT]
 *
 *   KIND    kmalloc (kmalloc(64)+kfree), pages (allocPages(0)+freePages), access
 *           (setUint32+getUint32 on a kmalloc block), vaccess (the same on a vmalloc area),
 *           churn (1000 live blocks of 8..512 bytes: free one, allocate one; seeded);
 *           heap (kmalloc(3000) twice, then both freed: the kmalloc heap's pair, counted
 *           per operation: a quarter of the loop); heap-churn (200 live blocks of 1,025..
 *           12,000 bytes: free one, allocate one; seeded; per operation: half a step);
 *           realloc (kmalloc(24), krealloc to 40 bytes: a move to the next class, then
 *           kfree: per operation, a third of the loop)
 *           large (kmalloc of 20,000..48,000 bytes, seeded, then its kfree: whole pages, the
 *           large-run cache's route; per pair: run it at 100,000 and 300,000, a pair costs
 *           thousands of instructions when it misses the cache); large-hit (kmalloc(20000)
 *           + kfree: the large-run cache's hit; per pair)
 *           harness-pair, harness-churn: kmalloc(64)+kfree and the churn called as the
 *           mitata benchmarks call them (bench/kmalloc.ts: an adapter object, the workload
 *           compiled per case; 256 MiB, LAYOUT ignored)
 *   LAYOUT  one (64 MiB, one node), ranges (two nodes of 32 MiB splitting one buffer),
 *           buffers (two nodes of 32 MiB, a buffer each), slab (as one, with Linux's SLAB
 *           behind kmalloc: slab: "slab"); kasan, kfence: one with that sanitizer on (kfence
 *           sampling one allocation in 100; kfence-rare: never, so that only its hooks count);
 *           slob (as one, with SLOB: slab: "slob")
 *
 * Run it at two iteration counts (1,000,000 and 3,000,000) and divide the difference of the
 * totals by the difference of the counts: start-up cancels out, what is left is one pair.
 * Each loop is a function of its own: optimised code, not the module's top level.
 */

import { Kmem, type KmemOptions } from "../src/index.js";

const kind = process.argv[2] ?? "kmalloc";
const n = Number(process.argv[3] ?? 1000000);
const cpus = Number(process.argv[4] ?? 1);
const layout = process.argv[5] ?? "one";
const MiB = 2 ** 20;
const half = 32 * MiB;
const options: KmemOptions =
  layout === "buffers"
    ? { nodes: [half, half], cpus }
    : layout === "ranges"
      ? { memory: 2 * half, nodes: [half, half], cpus }
      : layout === "slab"
        ? { memory: 2 * half, cpus, slab: "slab" }
        : layout === "kasan"
          ? { memory: 2 * half, cpus, kasan: true }
          : layout === "kfence"
            ? { memory: 2 * half, cpus, kfence: { sampleInterval: 100 } }
            : layout === "kfence-rare"
              ? { memory: 2 * half, cpus, kfence: { sampleInterval: 2 ** 31 - 1 } }
              : layout === "slob"
                ? { memory: 2 * half, cpus, slab: "slob" }
                : { memory: 2 * half, cpus };
const mm = new Kmem(options);

function kmallocPairs(mm: Kmem, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const a = mm.kmalloc(64);
    mm.kfree(a);
    sink += a & 1;
  }
  return sink;
}

function pagePairs(mm: Kmem, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const a = mm.allocPages(0);
    mm.freePages(a, 0);
    sink += a & 1;
  }
  return sink;
}

function accessPairs(mm: Kmem, at: number, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const a = at + ((i & 255) << 2);
    mm.setUint32(a, i);
    sink += mm.getUint32(a);
  }
  return sink;
}

function churn(mm: Kmem, n: number): number {
  const live = new Int32Array(1000);
  let seed = 1;
  const next = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 8;
  };
  for (let i = 0; i < live.length; i++) live[i] = mm.kmalloc(8 + (next() % 505));
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const j = next() % live.length;
    mm.kfree(live[j] as number);
    const a = mm.kmalloc(8 + (next() % 505));
    live[j] = a;
    sink += a & 1;
  }
  return sink;
}

function heapPairs(mm: Kmem, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i += 4) {
    const a = mm.kmalloc(3000);
    const b = mm.kmalloc(3000);
    mm.kfree(a);
    mm.kfree(b);
    sink += (a ^ b) & 1;
  }
  return sink;
}

function reallocs(mm: Kmem, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i += 3) {
    const a = mm.krealloc(mm.kmalloc(24), 40);
    mm.kfree(a);
    sink += a & 1;
  }
  return sink;
}

function heapChurn(mm: Kmem, n: number): number {
  const live = new Int32Array(200);
  let seed = 1;
  const next = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 8;
  };
  for (let i = 0; i < live.length; i++) live[i] = mm.kmalloc(1025 + (next() % 10976));
  let sink = 0;
  for (let i = 0; i < n; i += 2) {
    const j = next() % live.length;
    mm.kfree(live[j] as number);
    const a = mm.kmalloc(1025 + (next() % 10976));
    live[j] = a;
    sink += a & 1;
  }
  return sink;
}

function largePairs(mm: Kmem, n: number): number {
  let seed = 1;
  let sink = 0;
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const a = mm.kmalloc(20000 + ((seed >>> 8) % 28001));
    mm.kfree(a);
    sink += a & 1;
  }
  return sink;
}

function largeHits(mm: Kmem, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const a = mm.kmalloc(20000);
    mm.kfree(a);
    sink += a & 1;
  }
  return sink;
}

async function harness(workload: "pair" | "churn", n: number): Promise<number> {
  // Imported here only: importing the benchmark module (and its peers) at the top made the
  // other kinds' counts some 15% higher.
  const { churnState, compile, KmemAllocator, PAIRS } = await import("./kmalloc.js");
  const a = new KmemAllocator(256 * MiB, "slub", cpus);
  const run = compile(workload);
  const state = workload === "pair" ? { size: 64 } : churnState(a, 1000, 1);
  for (let i = 0; i < n; i += PAIRS) run(a, state);
  return 0;
}

const sink =
  kind === "harness-pair" || kind === "harness-churn"
    ? await harness(kind === "harness-pair" ? "pair" : "churn", n)
    : kind === "kmalloc"
      ? kmallocPairs(mm, n)
      : kind === "pages"
        ? pagePairs(mm, n)
        : kind === "churn"
          ? churn(mm, n)
          : kind === "heap"
            ? heapPairs(mm, n)
            : kind === "heap-churn"
              ? heapChurn(mm, n)
              : kind === "realloc"
                ? reallocs(mm, n)
                : kind === "large"
                  ? largePairs(mm, n)
                  : kind === "large-hit"
                    ? largeHits(mm, n)
                    : accessPairs(
                        mm,
                        kind === "vaccess" ? mm.vmalloc(1 << 16) : mm.kmalloc(4096),
                        n,
                      );
if (sink === 12345) console.log(sink);
