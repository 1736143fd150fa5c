/*
 * Latency of single operations: a clock read around each op, and a log-linear histogram of
 * the results (HDR-style), so percentiles over millions of ops take bounded memory.
 *
 * Buckets: values below 32 ns get one bucket a nanosecond; above, each power of two is split
 * into 32 buckets, so a percentile read from the histogram is within 1/32 (3%) of the true
 * value. Up to 2^40 ns (18 minutes); larger values land in the last bucket. The maximum is
 * kept exactly.
 *
 *   bucket index:  0 .. 31 | 32 .. 63 | 64 .. 95 | ...
 *   values (ns):   0 .. 31 | 32 .. 63 | 64 ..127 (2 ns wide) | ...
 *
 * The clock is performance.now() (a double in ms with sub-ns resolution in Node); reading it
 * costs 40..200 ns depending on the machine, so `clockCost()` measures an empty read pair and
 * that median is subtracted from every sample (values below it read as 0). Samples below the
 * spread of that cost (its floor) cannot be told from 0: reports show them as "< floor".
 */

const SUB_BITS = 5;
const SUB = 1 << SUB_BITS;
const MAX_EXP = 40;
const BUCKETS = (MAX_EXP - SUB_BITS + 1) * SUB;

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  maxNs = 0;

  record(ns: number): void {
    const v = ns < 0 ? 0 : Math.round(ns);
    if (v > this.maxNs) this.maxNs = v;
    this.count++;
    const b = bucketOf(v);
    this.counts[b] = (this.counts[b] as number) + 1;
  }

  /** The value at quantile q (0..1): the upper bound of the bucket it falls in, at most max. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b] as number;
      if (seen >= rank) return Math.min(bucketHigh(b), this.maxNs);
    }
    return this.maxNs;
  }

  /** Non-empty buckets as [low ns, high ns, count], for charts. */
  buckets(): [number, number, number][] {
    const out: [number, number, number][] = [];
    for (let b = 0; b < BUCKETS; b++) {
      const n = this.counts[b] as number;
      if (n > 0) out.push([bucketLow(b), bucketHigh(b), n]);
    }
    return out;
  }
}

function bucketOf(v: number): number {
  if (v < SUB) return v;
  const exp = Math.min(MAX_EXP, Math.floor(Math.log2(v)));
  if (exp >= MAX_EXP) return BUCKETS - 1;
  const sub = Math.floor(v / 2 ** (exp - SUB_BITS)) - SUB;
  return (exp - SUB_BITS + 1) * SUB + sub;
}

function bucketLow(b: number): number {
  if (b < SUB) return b;
  const exp = Math.floor(b / SUB) + SUB_BITS - 1;
  return (SUB + (b % SUB)) * 2 ** (exp - SUB_BITS);
}

function bucketHigh(b: number): number {
  if (b < SUB) return b;
  const exp = Math.floor(b / SUB) + SUB_BITS - 1;
  return (SUB + (b % SUB) + 1) * 2 ** (exp - SUB_BITS) - 1;
}

/** What a timed op carries on top of its own time, and what the clock cannot tell apart. */
export interface ClockCost {
  /** Median cost in ns of an empty pair of clock reads: subtracted from every sample. */
  costNs: number;
  /**
   * The spread of that cost (90th less 10th percentile, at least 1 ns): a sample below it is
   * indistinguishable from an op that took no time, and is shown as "< floor" rather than as
   * the 0 or 1 ns the subtraction leaves.
   */
  floorNs: number;
}

let clock: ClockCost | null = null;

/**
 * The clock's cost and floor (ClockCost), measured once per process after a warm-up: the
 * first few thousand reads run in unoptimized code and cost several times more. On the
 * machine of the docs' samples an empty pair costs 40 ns, give or take 10 ns.
 */
export function clockCost(): ClockCost {
  if (clock !== null) return clock;
  const pairs = 20001;
  const d = new Float64Array(pairs);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < pairs; i++) {
      const t0 = performance.now();
      const t1 = performance.now();
      d[i] = (t1 - t0) * 1e6;
    }
  }
  d.sort();
  const at = (q: number): number => d[Math.floor(q * (pairs - 1))] as number;
  clock = { costNs: at(0.5), floorNs: Math.max(1, Math.round(at(0.9) - at(0.1))) };
  return clock;
}

/** Median cost in ns of an empty pair of clock reads (clockCost().costNs). */
export function clockCostNs(): number {
  return clockCost().costNs;
}
