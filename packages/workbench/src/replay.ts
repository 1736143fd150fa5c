/*
 * The replay engine: runs a trace against one allocator and measures it.
 *
 * Two passes, each on a fresh, empty instance of the allocator:
 *
 *  1. Timed pass (throughput). Chunks of decoded ops run in a tight loop with a clock read
 *     before and after each chunk, nothing else: ops/s = ops / the sum of those times.
 *     - The memory's pages are touched once before, so the operating system's first touch of
 *       a page is not counted (a WebAssembly allocator's memory, which cannot be that buffer,
 *       is its own, touched once and whole: `create(..., timed)`).
 *     - Uncounted warm-up runs of the whole trace come first, each on a fresh instance, until
 *       two in a row ran at rates within WARM_AGREE of each other and WARM_OPS ops were run
 *       (at most MAX_RUNS runs and WARM_MS): without them a trace of 200,000 ops measures
 *       the engine's compiler more than the allocator (10x), and on a loaded machine the
 *       optimizing compiler, short of a core, may still be at work well after a fixed count;
 *       an allocator's rare paths (a new slab, the page allocator) run a few hundred times a
 *       run of a small trace, and the engine compiles them only after many runs.
 *     - A trace of fewer than MIN_TIMED_OPS ops then runs several times (for at most
 *       REPEAT_BUDGET_MS), each on a fresh instance over the same buffer; the median run counts,
 *       and with 6 runs or more the 95% confidence interval of that median is given.
 *     - Only ops the allocator carried out count: a failed allocation, and the free of a
 *       block that failed to allocate, are not ops served (an allocator that refuses
 *       everything does no work, and would otherwise look fastest).
 *     - The loop is compiled anew for every allocator (`freshTimedLoop`), so the engine's type
 *       feedback from one allocator does not slow the calls of the next.
 *  2. Measured pass (everything else, untimed as a whole). Every op is timed on its own with a
 *     clock read before and after (the median cost of an empty pair of reads subtracted) into
 *     a latency histogram; after every op the payload (bytes asked for by live blocks) and,
 *     after every allocation, the footprint are read; blocks are filled with a pattern and
 *     checked when freed (contents check); verify() runs after every chunk.
 *
 * Each pass stops at a chunk boundary once it has run `timeLimitMs` (the timed pass, the
 * measured pass, and a pressure run alike); the result then covers the ops of the measured
 * pass (`complete` false).
 *
 * Op semantics, for every allocator alike:
 *   a id n   alloc(max(n, 1)); a failure (-1) is counted and the id marked failed
 *   f id     free(handle, n); nothing for a failed id
 *   r id n   the allocator's realloc, or alloc + copy min(old, new) bytes + free when it has
 *            none (a range allocator copies nothing); a failure is counted and the old block
 *            stays; a failed id is allocated anew
 *
 * Definitions (the result's fields):
 *   utilization            peak payload / peak footprint (malloc-lab: the most bytes ever
 *                          asked for at once over the most memory ever held)
 *   internalFragmentation  at the payload peak: 1 - payload / usable bytes of the live blocks
 *   overheadFraction       at the payload peak: 1 - usable bytes / footprint: metadata, and
 *                          free memory the allocator holds
 *   leftovers              blocks still live after the last op (the trace never freed them)
 */

import type { ByteAllocator } from "kmem";
import type { AllocatorEntry, Candidate } from "./allocators.js";
import { HeapMapRecorder, type HeapMapSeries, type LiveBlocks } from "./heapmap.js";
import { clockCost, LatencyHistogram } from "./latency.js";
import type { TraceSource } from "./source.js";
import { Op, type OpChunk } from "./trace.js";

export interface ReplayOptions {
  /** Memory for the allocator: kmem's physical memory, a peer's heap, a range's span. */
  memoryBytes: number;
  /** Fill blocks with a pattern and check it at free (default true). */
  check?: boolean;
  /**
   * Stop a run after this long (at a chunk boundary); the result then covers the ops done
   * (`complete` false), and the measured pass replays the same ops.
   */
  timeLimitMs?: number;
  /** Run the timed pass (default true); without it opsPerSec is null (not measured). */
  timed?: boolean;
  /**
   * Keep the measured pass's allocator in the outcome (default false), for /proc reports of
   * its final state. Without it a replay holds none of its memory once it returns.
   */
  keepCandidate?: boolean;
  /**
   * Scale of the warm-up and repeated runs (default 1): 0.1 warms up and repeats a tenth as
   * long, for quick checks where the ops/s figure is not the point.
   */
  timingScale?: number;
  /** Footprint and payload samples kept for charts (default 200). */
  timelinePoints?: number;
  /**
   * Heap-map snapshots taken over the measured pass (heapmap.ts), besides the first, the
   * payload peak's and the last; default 0, none.
   */
  heapMapFrames?: number;
  /** Called after each chunk with the ops done in the current pass. */
  onProgress?: (pass: 1 | 2, opsDone: number) => void;
}

/** The numbers of one (trace, allocator) pair; field names as `kmem replay --json` prints them. */
export interface ReplayResult {
  trace: string;
  allocator: string;
  memoryBytes: number;
  /** Ops the figures cover: all of the trace's unless `complete` is false. */
  ops: number;
  complete: boolean;
  /**
   * Ops served per second in the timed pass (median run): failed allocations and the frees
   * of blocks that failed are not counted. null when not measured (a pressure run, or no op
   * was served).
   */
  opsPerSec: number | null;
  /** 95% confidence interval of the median rate over the timed runs (6 runs or more), else null. */
  opsPerSecCI95: [number, number] | null;
  /** Timed runs counted (after the uncounted warm-up). */
  runs: number;
  /** Time of the median timed run, ms. */
  elapsedMs: number;
  peakPayloadBytes: number;
  peakFootprintBytes: number;
  utilization: number;
  internalFragmentation: number | null;
  overheadFraction: number | null;
  /** Allocation and realloc requests, and how many of them failed. */
  requests: number;
  failures: number;
  /**
   * Per-op latency: percentiles (p999 = 99.9th), the slowest op, how many ops were timed, and
   * the clock's floor (ops below it are indistinguishable from 0: shown as "< floor").
   */
  latencyNs: {
    p50: number;
    p99: number;
    p999: number;
    max: number;
    samples: number;
    floorNs: number;
  };
  leftovers: { blocks: number; bytes: number };
  /** True if every freed block's contents were checked. */
  contentsChecked: boolean;
  /** Why they were not (`contentsChecked` false), else null. */
  contentsNotChecked: string | null;
  /** What went wrong when the allocator misbehaved (threw, failed a check); else null. */
  error: string | null;
}

/** What charts need beyond the numbers. */
export interface ReplayDetail {
  /** Op index, footprint and payload bytes at evenly spaced points. */
  timeline: { op: number[]; footprintBytes: number[]; payloadBytes: number[] };
  /** Latency histogram buckets: [low ns, high ns, count]. */
  latencyBuckets: [number, number, number][];
  /** Free blocks per order at the end (kmem layers only). */
  buddyinfo: number[] | null;
  /** Pictures of memory over the measured pass (with `heapMapFrames`), else null. */
  heapMap: HeapMapSeries | null;
}

export interface ReplayOutcome {
  result: ReplayResult;
  detail: ReplayDetail;
  /** The allocator of the measured pass, in its final state (with `keepCandidate` only). */
  candidate?: Candidate;
}

/** An allocator broke a rule the workbench checks (contents, verify(), an exception). */
export class AllocatorFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AllocatorFault";
  }
}

/** A trace shorter than this is timed over several runs... */
const MIN_TIMED_OPS = 1_000_000;
/**
 * ...after uncounted warm-up runs of the trace, at least this many ops in all (with 200,000,
 * a trace of 54,449 ops still had the engine compiling an allocator's rarer paths, its page
 * allocator's among them, in the 9th to 16th run: kmem measured 16-32 M ops/s from one
 * process to the next, 27-36 with a million; BENCHMARKS.md, "Four more programs")...
 */
const WARM_OPS = 1_000_000;
/** ...until two runs in a row agree within this fraction of their rate (the engine is done)... */
const WARM_AGREE = 0.05;
/** ...or for at most this long (a slow allocator, or a rate that never settles). */
const WARM_MS = 2000;
const MAX_RUNS = 20;
/** Repeated runs stop after this long (a single run has `timeLimitMs`). */
const REPEAT_BUDGET_MS = 1000;

/** The timing rules above, for replayers outside this process (native.ts). */
export const NATIVE_TIMING = {
  minTimedOps: MIN_TIMED_OPS,
  warmOps: WARM_OPS,
  warmMs: WARM_MS,
  repeatMs: REPEAT_BUDGET_MS,
};

/**
 * Per-id state of the timed loop. Handles are kept as the 32-bit words they are (stored in
 * an Int32Array, read back with `>>> 0`) and liveness in the size, so that the loop passes
 * every allocator small integers, as a C program passes its pointers: a Float64Array of
 * handles made each call pass a double, which kmem's call chain took as a HeapNumber
 * (sqlite3-workload: 391 -> 363 JavaScript instructions an op; BENCHMARKS.md, "The
 * harness's handles, and frees to other slabs").
 */
export interface Blocks {
  /** Handle of each live id, as an i32 (a handle is below 2^32). */
  handle: Int32Array;
  /**
   * Size passed to the allocator for each live id; 0 when not live (never allocated, freed,
   * or its alloc failed: a request is at least 1 byte).
   */
  size: Int32Array;
}

export function newBlocks(ids: number): Blocks {
  return { handle: new Int32Array(ids), size: new Int32Array(ids) };
}

/**
 * The timed loop over one chunk; returns the ops not served (failed requests, and frees of
 * blocks that failed). It must not refer to anything outside its parameters: `freshTimedLoop`
 * recompiles it from its source text.
 */
function timedChunk(
  a: ByteAllocator,
  mem: Uint8Array | null,
  c: OpChunk,
  handle: Int32Array,
  sizes: Int32Array,
): number {
  const ops = c.op;
  const ids = c.id;
  const req = c.size;
  const n = c.length;
  let unserved = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i] as number;
    const op = ops[i] as number;
    if (op === 0) {
      const size = (req[i] as number) || 1;
      const h = a.alloc(size);
      if (h >= 0) {
        handle[id] = h;
        sizes[id] = size;
      } else {
        sizes[id] = 0;
        unserved++;
      }
    } else if (op === 1) {
      const old = sizes[id] as number;
      if (old !== 0) {
        a.free((handle[id] as number) >>> 0, old);
        sizes[id] = 0;
      } else unserved++;
    } else {
      const size = (req[i] as number) || 1;
      const old = sizes[id] as number;
      const h = (handle[id] as number) >>> 0;
      let moved: number;
      if (old === 0) moved = a.alloc(size);
      else if (a.realloc !== undefined) moved = a.realloc(h, old, size);
      else {
        moved = a.alloc(size);
        if (moved >= 0) {
          if (mem !== null) mem.copyWithin(moved, h, h + (old < size ? old : size));
          a.free(h, old);
        }
      }
      if (moved < 0) unserved++;
      else {
        handle[id] = moved;
        sizes[id] = size;
      }
    }
  }
  return unserved;
}

/**
 * The buffer every timed run of `entry` is made over (create(memoryBytes, buffer, true)):
 * `memoryBytes`, every page touched once; an empty one, the key of its own memory, for an
 * allocator whose timed runs keep memory of their own (ownTimedMemory); none for a range
 * allocator (no memory).
 */
export function timedBuffer(entry: AllocatorEntry, memoryBytes: number): ArrayBuffer | undefined {
  if (entry.kind === "range") return undefined;
  return entry.ownTimedMemory === true
    ? new ArrayBuffer(0)
    : prefault(new ArrayBuffer(memoryBytes));
}

/** The timed loop's signature: (allocator, memory or null, chunk, handles, sizes) -> unserved. */
export type TimedLoop = typeof timedChunk;
const loops = new Map<string, TimedLoop>();

/**
 * A copy of `timedChunk` compiled for `key` alone. V8 keeps type feedback per function, so
 * with one shared loop the first allocator's calls would be monomorphic and the later ones'
 * polymorphic, and the order of allocators would change their speed. Exported for the
 * instruction counts of a replay (bench/trace-instructions.ts), which run this loop as is.
 */
export function freshTimedLoop(key: string): TimedLoop {
  let loop = loops.get(key);
  if (loop === undefined) {
    loop = new Function(`return ${timedChunk.toString()}`)() as TimedLoop;
    loops.set(key, loop);
  }
  return loop;
}

/**
 * Whether two warm-up runs in a row ran at rates (any unit) within WARM_AGREE of the larger:
 * the engine has compiled what the trace needs, and the timed runs can start.
 */
export function warmSettled(before: number, rate: number): boolean {
  const top = Math.max(before, rate);
  return top > 0 && Math.abs(rate - before) <= WARM_AGREE * top;
}

/** Pattern byte of a block: never 0, differs between neighbouring ids and generations. */
function tagOf(id: number, generation: number): number {
  return ((Math.imul(id + 1, 0x9e3779b1) + Math.imul(generation, 0x85ebca6b)) >>> 24) | 1;
}

const CHECK_STRIDE = 61;

/** Offset of the first byte of [at, at+len) that is not `tag`, checked sparsely; or -1. */
function checkBlock(mem: Uint8Array, at: number, len: number, tag: number): number {
  if (len <= 0) return -1;
  if (mem[at] !== tag) return 0;
  if (mem[at + len - 1] !== tag) return len - 1;
  for (let k = CHECK_STRIDE; k < len - 1; k += CHECK_STRIDE) if (mem[at + k] !== tag) return k;
  return -1;
}

/**
 * Touches every 4 KiB page of `buffer` once, so a timed run does not pay the first touch
 * (tlsf.ts touches its WebAssembly memory for timed runs with it too).
 */
export function prefault(buffer: ArrayBuffer): ArrayBuffer {
  const u8 = new Uint8Array(buffer);
  for (let i = 0; i < u8.length; i += 4096) u8[i] = 0;
  return buffer;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Replays `source` against a fresh instance of `entry`, twice (timed, measured). */
export async function replay(
  source: TraceSource,
  entry: AllocatorEntry,
  options: ReplayOptions,
): Promise<ReplayOutcome> {
  if (entry.replayTrace !== undefined) return entry.replayTrace(source, options);
  const info = source.info;
  const ids = info.header.ids;
  const limit = options.timeLimitMs ?? Infinity;
  const check = options.check ?? true;
  let error: string | null = null;

  // Pass 1: throughput, over a buffer whose pages were touched once beforehand, after
  // uncounted warm-up runs of WARM_OPS ops in all.
  const buffer = options.timed === false ? undefined : timedBuffer(entry, options.memoryBytes);
  const ops = info.header.ops;
  const scale = options.timingScale ?? 1;
  const minTimedOps = MIN_TIMED_OPS * scale;
  const warmOps = WARM_OPS * scale;
  const runs =
    ops >= minTimedOps ? 1 : Math.min(MAX_RUNS, Math.ceil(minTimedOps / Math.max(1, ops)));
  const loop = freshTimedLoop(`${entry.name}\0${source.name}`);
  const perRun: { ms: number; rate: number }[] = [];
  let opsTimed = 0;
  let complete = true;
  // The loop's time in the last run and the ops it served (warm-up runs compare them).
  let lastMs = 0;
  let lastServed = 0;
  const runOnce = async (
    maxOps: number,
    counted: boolean,
    deadline = Infinity,
  ): Promise<number> => {
    const cand = await entry.create(options.memoryBytes, buffer, true);
    const ta = cand.allocator;
    const tmem = cand.memory ?? null;
    const tb = newBlocks(ids);
    const start = performance.now();
    let runMs = 0;
    let done = 0;
    let unserved = 0;
    await source.forEachChunk((chunk) => {
      const t0 = performance.now();
      unserved += loop(ta, tmem, chunk, tb.handle, tb.size);
      const t1 = performance.now();
      runMs += t1 - t0;
      done += chunk.length;
      if (counted) {
        if (runs === 1) options.onProgress?.(1, done);
        if (t1 - start > limit && done < ops) complete = false;
      }
      return done < maxOps && complete && t1 < deadline;
    });
    lastMs = runMs;
    lastServed = done - unserved;
    if (counted) {
      perRun.push({ ms: runMs, rate: runMs > 0 ? (done - unserved) / (runMs / 1000) : 0 });
      opsTimed = done;
    }
    return done;
  };
  const timedPass = async (): Promise<void> => {
    const warmDeadline = performance.now() + Math.min(WARM_MS * scale, limit);
    let warmed = 0;
    let before = -1;
    for (let run = 0; run < MAX_RUNS; run++) {
      warmed += await runOnce(ops, false, warmDeadline);
      const rate = lastMs > 0 ? lastServed / lastMs : 0;
      const settled = before >= 0 && warmSettled(before, rate);
      before = rate;
      if (performance.now() >= warmDeadline || (settled && warmed >= warmOps)) break;
    }
    const passStart = performance.now();
    for (let run = 0; run < runs; run++) {
      await runOnce(ops, true);
      if (runs > 1) options.onProgress?.(1, Math.round((ops * (run + 1)) / runs));
      if (!complete || performance.now() - passStart > REPEAT_BUDGET_MS * scale) break;
    }
  };
  try {
    if (options.timed === false) opsTimed = ops;
    else await timedPass();
  } catch (err) {
    error = `${entry.name}: threw during the timed pass: ${(err as Error).message}`;
    complete = false;
  }
  const rates = perRun.map((r) => r.rate).sort((x, y) => x - y);
  const ms = perRun.map((r) => r.ms).sort((x, y) => x - y);
  const elapsedMs = ms.length > 0 ? (ms[ms.length >> 1] as number) : 0;
  const medianRate = rates.length > 0 ? (rates[rates.length >> 1] as number) : 0;

  // Pass 2: everything else, over the same ops.
  const cand = await entry.create(options.memoryBytes, buffer);
  const a = cand.allocator;
  // A heap that grows detaches its old buffer (views of length 0): its view is taken again.
  let mem = check ? (cand.memory ?? null) : null;
  const view = (): Uint8Array | null => {
    if (mem !== null && mem.byteLength === 0) mem = cand.memory ?? null;
    return mem;
  };
  const usableOf = a.usableSize?.bind(a) ?? null;
  const handle = new Float64Array(ids).fill(-1);
  const sizes = new Int32Array(ids);
  const asked = new Float64Array(ids); // bytes the trace asked for (0 stays 0)
  const usable = usableOf !== null ? new Float64Array(ids) : null;
  const gen = new Uint32Array(ids);
  const hist = new LatencyHistogram();
  const clock = clockCost();
  const clockNs = clock.costNs;
  const passStart = performance.now();
  const stride = Math.max(1, Math.floor(opsTimed / (options.timelinePoints ?? 200)));
  const timeline = { op: [0], footprintBytes: [a.footprint()], payloadBytes: [0] };
  let payload = 0;
  let usableSum = 0;
  let peakPayload = 0;
  let peakFootprint = a.footprint();
  let usableAtPeak = 0;
  let footprintAtPeak = 0;
  let requests = 0;
  let failures = 0;
  let done = 0;
  let curLine = 0;
  // A heap seen through its blocks costs a walk over every id a snapshot: with tens of
  // millions of ids, fewer snapshots (at most 2e8 ids walked in all; kmem's page maps walk
  // pages, not ids).
  const asked0 = options.heapMapFrames ?? 0;
  const frames =
    cand.kmem !== undefined
      ? asked0
      : Math.min(asked0, Math.max(2, Math.floor(2e8 / Math.max(1, ids))));
  const maps =
    frames > 0
      ? new HeapMapRecorder(cand, options.memoryBytes, opsTimed, info.peakPayloadOp, frames)
      : null;
  const live: LiveBlocks = { handle, bytes: usable ?? sizes };
  maps?.sample(0, a.footprint(), 0, live);

  const fault = (what: string, line: number): never => {
    throw new AllocatorFault(`${entry.name}: ${source.name}:${line}: ${what}`);
  };
  const checked = (h: number, len: number, id: number, line: number, when: string): void => {
    const mem = view();
    if (mem === null) return;
    const tag = tagOf(id, gen[id] as number);
    const at = checkBlock(mem, h, len, tag);
    if (at >= 0) {
      fault(
        `contents check failed ${when}: block of id ${id} at ${hex(h)} (${len} bytes), byte ` +
          `${at} is ${hex(mem[h + at] as number)}, expected ${hex(tag)}: another block ` +
          "overlaps it, or the allocator wrote into it",
        line,
      );
    }
  };
  const fill = (h: number, len: number, id: number): void => {
    const mem = view();
    if (mem !== null) mem.fill(tagOf(id, gen[id] as number), h, h + len);
  };

  try {
    if (error !== null) throw new AllocatorFault(error);
    await source.forEachChunk((c) => {
      const n = Math.min(c.length, opsTimed - done);
      for (let i = 0; i < n; i++) {
        const id = c.id[i] as number;
        const op = c.op[i] as number;
        const want = c.size[i] as number;
        const line = c.line[i] as number;
        curLine = line;
        const size = want || 1;
        const h = handle[id] as number;
        if (op === Op.Alloc) {
          requests++;
          const t0 = performance.now();
          const got = a.alloc(size);
          const t1 = performance.now();
          hist.record((t1 - t0) * 1e6 - clockNs);
          if (got < 0) failures++;
          else {
            handle[id] = got;
            sizes[id] = size;
            asked[id] = want;
            payload += want;
            gen[id] = (gen[id] as number) + 1;
            fill(got, size, id);
            if (usable !== null && usableOf !== null) {
              const u = usableOf(got, size);
              usable[id] = u;
              usableSum += u;
            }
            const fp = a.footprint();
            if (fp > peakFootprint) peakFootprint = fp;
          }
        } else if (op === Op.Free) {
          if (h >= 0) {
            checked(h, sizes[id] as number, id, line, "at free");
            const t0 = performance.now();
            // Handles live in a Float64Array here: passed as the 32-bit integers they are.
            a.free(h >>> 0, sizes[id] as number);
            const t1 = performance.now();
            hist.record((t1 - t0) * 1e6 - clockNs);
            handle[id] = -1;
            payload -= asked[id] as number;
            if (usable !== null) usableSum -= usable[id] as number;
          }
        } else {
          requests++;
          const old = sizes[id] as number;
          if (h >= 0) checked(h, old, id, line, "before realloc");
          const t0 = performance.now();
          let moved: number;
          if (h < 0) moved = a.alloc(size);
          else if (a.realloc !== undefined) moved = a.realloc(h >>> 0, old, size);
          else {
            moved = a.alloc(size);
            if (moved >= 0) {
              if (cand.memory !== undefined) {
                cand.memory.copyWithin(moved, h, h + Math.min(old, size));
              }
              a.free(h >>> 0, old);
            }
          }
          const t1 = performance.now();
          hist.record((t1 - t0) * 1e6 - clockNs);
          if (moved < 0) {
            failures++;
          } else {
            if (h >= 0) {
              checked(moved, Math.min(old, size), id, line, "after realloc");
              payload -= asked[id] as number;
              if (usable !== null) usableSum -= usable[id] as number;
            }
            handle[id] = moved;
            sizes[id] = size;
            asked[id] = want;
            payload += want;
            gen[id] = (gen[id] as number) + 1;
            fill(moved, size, id);
            if (usable !== null && usableOf !== null) {
              const u = usableOf(moved, size);
              usable[id] = u;
              usableSum += u;
            }
            const fp = a.footprint();
            if (fp > peakFootprint) peakFootprint = fp;
          }
        }
        if (payload > peakPayload) {
          peakPayload = payload;
          usableAtPeak = usableSum;
          footprintAtPeak = a.footprint();
        }
        done++;
        if (maps !== null && done >= maps.next) maps.sample(done, a.footprint(), payload, live);
        if (done % stride === 0) {
          timeline.op.push(done);
          timeline.footprintBytes.push(a.footprint());
          timeline.payloadBytes.push(payload);
        }
      }
      if (check && a.verify !== undefined) {
        try {
          a.verify();
        } catch (err) {
          fault(`verify() failed after this op: ${(err as Error).message}`, c.line[n - 1] ?? 0);
        }
      }
      options.onProgress?.(2, done);
      if (done < opsTimed && performance.now() - passStart > limit) {
        complete = false;
        return false;
      }
      return done < opsTimed;
    });
  } catch (err) {
    if (err instanceof AllocatorFault) error = err.message;
    else error = `${entry.name}: ${source.name}:${curLine}: threw: ${(err as Error).message}`;
  }
  if (timeline.op[timeline.op.length - 1] !== done) {
    timeline.op.push(done);
    timeline.footprintBytes.push(a.footprint());
    timeline.payloadBytes.push(payload);
  }

  let leftBlocks = 0;
  let leftBytes = 0;
  for (let id = 0; id < ids; id++) {
    if ((handle[id] as number) >= 0) {
      leftBlocks++;
      leftBytes += asked[id] as number;
    }
  }
  const result: ReplayResult = {
    trace: source.name,
    allocator: entry.name,
    memoryBytes: options.memoryBytes,
    ops: done,
    complete: complete && error === null,
    opsPerSec: medianRate > 0 ? Math.round(medianRate) : null,
    opsPerSecCI95: medianCI95(rates),
    runs: perRun.length,
    elapsedMs: Math.round(elapsedMs * 1000) / 1000,
    peakPayloadBytes: peakPayload,
    peakFootprintBytes: peakFootprint,
    utilization: peakFootprint > 0 ? peakPayload / peakFootprint : 0,
    internalFragmentation:
      usable !== null && usableAtPeak > 0 ? 1 - peakPayload / usableAtPeak : null,
    overheadFraction:
      usable !== null && footprintAtPeak > 0 ? 1 - usableAtPeak / footprintAtPeak : null,
    requests,
    failures,
    latencyNs: {
      p50: hist.quantile(0.5),
      p99: hist.quantile(0.99),
      p999: hist.quantile(0.999),
      max: hist.maxNs,
      samples: hist.count,
      floorNs: clock.floorNs,
    },
    leftovers: { blocks: leftBlocks, bytes: leftBytes },
    contentsChecked: mem !== null && error === null,
    contentsNotChecked:
      mem !== null && error === null
        ? null
        : !check
          ? "the contents check was turned off (--no-check)"
          : cand.memory === undefined
            ? "a range allocator: its handles are numbers with no memory behind them to fill"
            : "the replay stopped at an error",
    error,
  };
  const detail: ReplayDetail = {
    timeline,
    latencyBuckets: hist.buckets(),
    buddyinfo: cand.kmem?.stats().freeByOrder ?? null,
    heapMap: maps?.finish(done, a.footprint(), payload, live) ?? null,
  };
  return options.keepCandidate === true ? { result, detail, candidate: cand } : { result, detail };
}

/**
 * The 95% confidence interval of the median of `sorted` (ascending), from order statistics
 * (the binomial distribution of the ranks, normal approximation): null below 6 values, where
 * the interval would be the whole range.
 */
export function medianCI95(sorted: readonly number[]): [number, number] | null {
  const n = sorted.length;
  if (n < 6) return null;
  const half = (1.96 * Math.sqrt(n)) / 2;
  const lo = Math.max(0, Math.floor(n / 2 - half) - 1);
  const hi = Math.min(n - 1, Math.ceil(n / 2 + half) - 1);
  return [Math.round(sorted[lo] as number), Math.round(sorted[hi] as number)];
}

/**
 * Default memory for replaying a trace: 4x its peak payload, as a power of two, at least
 * 16 MiB and at most 1 GiB. Roomy for allocators that round up (a slab allocator needs about
 * 1.3x), tight for one that rounds every request to pages.
 */
export function defaultMemoryBytes(peakPayloadBytes: number): number {
  const want = 2 ** Math.ceil(Math.log2(Math.max(1, 4 * peakPayloadBytes)));
  return Math.min(2 ** 30, Math.max(16 * 2 ** 20, want));
}
