/*
 * Bonwick's comparison, redone: every allocator of the registry on the same workloads, in the
 * shape of the table of "The Slab Allocator: An Object-Caching Kernel Memory Allocator"
 * (Bonwick, USENIX Summer 1994, §4): the time of an allocate + free pair, the memory wasted
 * (total fragmentation) on each workload, and the overhead, with the figures the literature
 * published beside kmem's measured ones and a sentence saying which orderings still hold.
 *
 *   time       the timed pass of a replay of `pairs`: a live set of PAIRS_LIVE blocks, then
 *              pairs of free-one, allocate-one (sizes log-uniform in 16..1024 bytes, where
 *              McKusick & Karels found 95-98% of kernel requests); ns per pair = 2 / ops/s
 *   waste      1 - peak payload / peak footprint on each workload (and trace): what Bonwick
 *              called total fragmentation, measured as malloc-lab measures utilization
 *   overhead   at the payload peak, the footprint that is neither a live block's usable bytes:
 *              metadata and free memory held (the mean over the workloads)
 *
 * Bonwick's workloads (boot, a memory spike, find, kenbus) and his SPARCstation are not to be
 * had; the built-in workloads stand in for them, and times are compared by their order only.
 */

import { ALLOCATORS, type AllocatorEntry } from "./allocators.js";
import { Prng } from "./prng.js";
import { defaultMemoryBytes, replay, type ReplayResult } from "./replay.js";
import type { TraceSource } from "./source.js";
import { TraceBuilder } from "./workloads/builder.js";
import { logUniform } from "./workloads/dist.js";

/** Blocks live during the timed pairs. */
export const PAIRS_LIVE = 512;

/** One allocator of the literature and what it measured. */
export interface PublishedFigure {
  /** As the paper names it. */
  allocator: string;
  /** Where the figures come from. */
  source: string;
  /** kmem's allocators that play it, the first present one compared. */
  kmem: readonly string[];
  /** Allocate + free time, µs (Bonwick 1994, SPARCstation). */
  pairUs?: number;
  /** Total fragmentation, %, after boot / a spike / find / kenbus (Bonwick 1994, 16 MB). */
  waste?: readonly [number, number, number, number];
  /** Fragmentation after a week of desktop use, % (Bonwick 1994, 32 MB). */
  weekWaste?: number;
}

/** The figures of the literature (kernel-anchors.md §2; second-wave.md §3). */
export const PUBLISHED: readonly PublishedFigure[] = [
  {
    allocator: "SunOS 5.4 slab",
    source: "Bonwick 1994",
    kmem: ["slab", "slub"],
    pairUs: 3.8,
    waste: [11, 13, 14, 14],
    weekWaste: 9,
  },
  {
    allocator: "4.4BSD (McKusick-Karels)",
    source: "Bonwick 1994",
    kmem: ["mckusick-karels"],
    pairUs: 4.1,
    waste: [20, 43, 43, 45],
    weekWaste: 38,
  },
  {
    allocator: "SVr4 lazy buddy",
    source: "Bonwick 1994",
    kmem: ["lazy-buddy"],
    pairUs: 9.4,
    waste: [23, 45, 45, 46],
    weekWaste: 35,
  },
  {
    allocator: "SunOS 4.1.3 sequential fit",
    source: "Bonwick 1994",
    kmem: ["rmap"],
    pairUs: 25.0,
    waste: [7, 19, 19, 27],
    weekWaste: 17,
  },
];

/** The other published numbers the report quotes (McKusick & Karels 1988; Bonwick 1994). */
export const PUBLISHED_NOTES: readonly string[] = [
  "Bonwick 1994: slab allocate + free through kmem_alloc (not the object cache) 4.7 µs; a mutex enter/exit pair 1.0 µs.",
  'McKusick & Karels 1988: memory allocation at most 4% of kernel time (3% before the new allocator, 6% with every call through the function); 4 KB of kmemusage bookkeeping per MB of arena with 1 KB pages; 95-98% of requests 1 KB or less; 50% utilization "considered good".',
];

/**
 * The workload of the time column: PAIRS_LIVE allocations, then free-one, allocate-one pairs
 * until `ops`, sizes log-uniform in 16..1024 bytes, the block freed picked at random.
 */
export function pairsWorkload(ops: number, seed: number): TraceSource {
  const rng = new Prng(seed);
  const b = new TraceBuilder(ops);
  const live: number[] = [];
  while (live.length < PAIRS_LIVE && !b.full) live.push(b.alloc(logUniform(rng, 16, 1024)));
  while (!b.full) {
    const k = rng.below(live.length);
    b.free(live[k] as number);
    live[k] = b.alloc(logUniform(rng, 16, 1024));
  }
  return b.finish("pairs");
}

/** Options of {@link compareAllocators}. */
export interface CompareOptions {
  /** The workloads and traces of the waste columns. */
  sources: readonly TraceSource[];
  /** Ops of the pairs workload (the time column). */
  pairOps: number;
  seed: number;
  /** Allocators to compare (default: every one the registry knows that can run here). */
  allocators?: readonly AllocatorEntry[];
  /** Memory for every allocator on a source (default: 4x its peak payload, 16 MiB..1 GiB). */
  memoryBytes?: number;
  /** Scale of warm-up and repeated timing runs (1; 0.1 for a quick look). */
  timingScale?: number;
  timeLimitMs?: number;
  /** Called before each replay with what runs, and after the last with null. */
  onStep?: (label: string | null, done: number, total: number) => void;
}

/** One allocator's row. */
export interface CompareRow {
  allocator: string;
  /** ns per allocate + free pair (0 when the timed pass failed). */
  pairNs: number;
  /** 1 - utilization per source, in the order of `sources`; null where the replay failed. */
  waste: (number | null)[];
  /** Mean waste over the sources that ran. */
  meanWaste: number | null;
  /** Mean overhead at the payload peak. */
  overhead: number | null;
  /** Requests it could not serve, over all sources. */
  failures: number;
  /** The published figure it plays, if any. */
  published: PublishedFigure | null;
  /** What went wrong, per failed replay. */
  errors: string[];
}

export interface Comparison {
  sources: string[];
  memoryBytes: number[];
  pairOps: number;
  rows: CompareRow[];
}

/** Replays the pairs workload and every source against every allocator. */
export async function compareAllocators(options: CompareOptions): Promise<Comparison> {
  const entries = options.allocators ?? (await runnable(ALLOCATORS));
  const pairs = pairsWorkload(options.pairOps, options.seed);
  const memories = options.sources.map(
    (s) => options.memoryBytes ?? defaultMemoryBytes(s.info.peakPayloadBytes),
  );
  const pairMemory = options.memoryBytes ?? defaultMemoryBytes(pairs.info.peakPayloadBytes);
  const total = entries.length * (1 + options.sources.length);
  let done = 0;
  const rows: CompareRow[] = [];
  const claimed = new Set<PublishedFigure>();
  for (const entry of entries) {
    options.onStep?.(`pairs on ${entry.name}`, done++, total);
    const timed = await replay(pairs, entry, {
      memoryBytes: pairMemory,
      check: false,
      timingScale: options.timingScale ?? 1,
      timeLimitMs: options.timeLimitMs ?? 120_000,
    });
    const errors: string[] = [];
    if (timed.result.error !== null) errors.push(timed.result.error);
    const results: ReplayResult[] = [];
    for (let i = 0; i < options.sources.length; i++) {
      const source = options.sources[i] as TraceSource;
      options.onStep?.(`${source.name} on ${entry.name}`, done++, total);
      const { result } = await replay(source, entry, {
        memoryBytes: memories[i] as number,
        timed: false,
        timeLimitMs: options.timeLimitMs ?? 120_000,
      });
      if (result.error !== null) errors.push(result.error);
      results.push(result);
    }
    const waste = results.map((r) => (r.error === null ? 1 - r.utilization : null));
    const ran = waste.filter((x): x is number => x !== null);
    const over = results
      .filter((r) => r.error === null && r.overheadFraction !== null)
      .map((r) => r.overheadFraction as number);
    const t = timed.result;
    const published =
      PUBLISHED.find(
        (p) =>
          !claimed.has(p) && p.kmem.includes(entry.name) && firstPresent(p, entries) === entry.name,
      ) ?? null;
    if (published !== null) claimed.add(published);
    rows.push({
      allocator: entry.name,
      pairNs: t.error === null && t.opsPerSec !== null && t.opsPerSec > 0 ? 2e9 / t.opsPerSec : 0,
      waste,
      meanWaste: ran.length > 0 ? ran.reduce((a, b) => a + b, 0) / ran.length : null,
      overhead: over.length > 0 ? over.reduce((a, b) => a + b, 0) / over.length : null,
      failures: results.reduce((s, r) => s + r.failures, 0),
      published,
      errors,
    });
  }
  options.onStep?.(null, total, total);
  return {
    sources: options.sources.map((s) => s.name),
    memoryBytes: memories,
    pairOps: pairs.info.header.ops,
    rows,
  };
}

/** The entries that can run here (native code needs a compiler). */
async function runnable(entries: readonly AllocatorEntry[]): Promise<AllocatorEntry[]> {
  const out: AllocatorEntry[] = [];
  for (const e of entries) if (((await e.available?.()) ?? null) === null) out.push(e);
  return out;
}

/** The first of a figure's kmem allocators that is being compared. */
function firstPresent(p: PublishedFigure, entries: readonly AllocatorEntry[]): string | undefined {
  return p.kmem.find((name) => entries.some((e) => e.name === name));
}

/** Rows that play a published allocator, in the literature's order. */
function playing(c: Comparison): CompareRow[] {
  return PUBLISHED.map((p) => c.rows.find((r) => r.published === p)).filter(
    (r): r is CompareRow => r !== undefined,
  );
}

/**
 * Whether the literature's order of `value` (ascending) holds among kmem's rows: a sentence
 * naming the pairs that swapped.
 */
function orderSentence(
  rows: readonly CompareRow[],
  published: (p: PublishedFigure) => number | undefined,
  measured: (r: CompareRow) => number | null,
  what: string,
): string | null {
  const have = rows.filter((r) => {
    const p = r.published;
    const m = measured(r);
    return p !== null && published(p) !== undefined && m !== null && m > 0;
  });
  if (have.length < 2) return null;
  const lit = [...have].sort(
    (a, b) =>
      (published(a.published as PublishedFigure) as number) -
      (published(b.published as PublishedFigure) as number),
  );
  let pairs = 0;
  let held = 0;
  const swapped: string[] = [];
  for (let i = 0; i < lit.length; i++) {
    for (let j = i + 1; j < lit.length; j++) {
      pairs++;
      const a = lit[i] as CompareRow;
      const b = lit[j] as CompareRow;
      if ((measured(a) as number) <= (measured(b) as number)) held++;
      else swapped.push(`${b.allocator} beats ${a.allocator}`);
    }
  }
  const order = lit.map((r) => r.allocator).join(" < ");
  if (held === pairs)
    return `${what}: the literature's order ${order} still holds (all ${pairs} pairs).`;
  return `${what}: of the literature's order ${order}, ${held} of ${pairs} pairs still hold; reversed: ${swapped.join(", ")}.`;
}

/** The sentences saying which of the literature's orderings hold in kmem's measurements. */
export function orderings(c: Comparison): string[] {
  const rows = playing(c);
  const out: string[] = [];
  const speed = orderSentence(
    rows,
    (p) => p.pairUs,
    (r) => r.pairNs,
    "Speed (allocate + free)",
  );
  if (speed !== null) out.push(speed);
  const waste = orderSentence(
    rows,
    (p) => p.waste?.[3],
    (r) => r.meanWaste,
    "Waste (kenbus against the mean here)",
  );
  if (waste !== null) out.push(waste);
  const good = c.rows.filter((r) => r.waste.every((x) => x !== null && x <= 0.5));
  out.push(
    `Utilization of 50% or better on every workload ("considered good" in 1988): ${good.length} of ${c.rows.length} allocators (${good.map((r) => r.allocator).join(", ") || "none"}).`,
  );
  return out;
}
