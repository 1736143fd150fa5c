/*
 * Fault injection with the semantics of Linux's lib/fault-inject.c (should_fail_ex) and the
 * scope filters of mm/fail_page_alloc.c and mm/failslab.c.
 *
 * Check order, exactly as the kernel's:
 *   1. probability == 0            -> never fail
 *   2. times == 0                  -> never fail (budget used up)
 *   3. space > size                -> space -= size, do not fail
 *   4. interval > 1                -> count++; fail only when count % interval == 0
 *   5. random(0..99) >= probability -> do not fail
 *   6. fail; times-- unless times == -1
 * Scope filters run before these: __GFP_NOFAIL is never failed; with ignoreGfpWait (the
 * default) requests that may reclaim (__GFP_DIRECT_RECLAIM, e.g. GFP_KERNEL) are never failed;
 * fail_page_alloc never fails orders below minOrder (default 1).
 *
 * The random source is a seeded xorshift32, so a failing test replays exactly.
 */

import { checkIntegerRange, checkKnownKeys, describe } from "../errors.js";

/** Knobs of one fault-injection point, as Linux's debugfs files. */
export interface FaultOptions {
  /** Percent of eligible calls that fail: an integer 0..100. Default 0. */
  probability?: number;
  /** Only every interval-th eligible call may fail. Default 1. */
  interval?: number;
  /** How many failures at most; -1 is unlimited. Default 1. */
  times?: number;
  /** Size budget consumed before failures start (pages for fail_page_alloc, bytes for failslab). Default 0. */
  space?: number;
  /** 0 silent; 1 or 2 log "FAULT_INJECTION: forcing a failure." through the `log` option. Default 2. */
  verbose?: number;
  /** Never fail requests that may reclaim (__GFP_DIRECT_RECLAIM). Default true. */
  ignoreGfpWait?: boolean;
  /** Never fail __GFP_HIGHMEM requests (fail_page_alloc only). Default true. */
  ignoreGfpHighmem?: boolean;
  /** Never fail orders below this (fail_page_alloc only). Default 1, so order 0 is immune. */
  minOrder?: number;
  /** Only fail caches created with SLAB_FAILSLAB (failslab only). Default false. */
  cacheFilter?: boolean;
  /** Seed of the random source. Default 1. */
  seed?: number;
}

const COMMON_KEYS = [
  "probability",
  "interval",
  "times",
  "space",
  "verbose",
  "ignoreGfpWait",
  "seed",
];
/** Each point's own knobs, as its debugfs directory has them. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  fail_page_alloc: [...COMMON_KEYS, "ignoreGfpHighmem", "minOrder"],
  failslab: [...COMMON_KEYS, "cacheFilter"],
};

function checkBoolean(name: string, value: unknown): asserts value is boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  }
}

/** The state of a fault-injection point, as `getFault` returns it. */
export interface FaultState {
  readonly name: string;
  readonly probability: number;
  readonly interval: number;
  /** Failures still allowed (-1: unlimited). */
  readonly times: number;
  readonly space: number;
  readonly verbose: number;
  readonly ignoreGfpWait: boolean;
  readonly ignoreGfpHighmem: boolean;
  readonly minOrder: number;
  readonly cacheFilter: boolean;
  /** Calls seen by the interval filter. */
  readonly count: number;
  /** Failures injected so far. */
  readonly injected: number;
}

export class FaultAttr {
  readonly name: string;
  probability = 0;
  interval = 1;
  times = 1;
  space = 0;
  verbose = 2;
  ignoreGfpWait = true;
  ignoreGfpHighmem = true;
  minOrder = 1;
  cacheFilter = false;
  /** Calls seen by the interval filter. */
  count = 0;
  /** Failures injected so far. */
  injected = 0;
  private rng = 1;

  /** `maxOrder` bounds `minOrder`; the options are validated field by field. */
  constructor(name: string, options: FaultOptions, maxOrder: number) {
    this.name = name;
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`${name} options must be an object or null, got ${describe(options)}`);
    }
    checkKnownKeys(name, options, KNOWN_KEYS[name] ?? COMMON_KEYS);
    if (options.probability !== undefined) {
      checkIntegerRange(`${name}.probability`, options.probability, 0, 100);
      this.probability = options.probability;
    }
    if (options.interval !== undefined) {
      checkIntegerRange(`${name}.interval`, options.interval, 1, 2 ** 31 - 1);
      this.interval = options.interval;
    }
    if (options.times !== undefined) {
      checkIntegerRange(`${name}.times`, options.times, -1, 2 ** 31 - 1);
      this.times = options.times;
    }
    if (options.space !== undefined) {
      checkIntegerRange(`${name}.space`, options.space, 0, Number.MAX_SAFE_INTEGER);
      this.space = options.space;
    }
    if (options.verbose !== undefined) {
      checkIntegerRange(`${name}.verbose`, options.verbose, 0, 2);
      this.verbose = options.verbose;
    }
    if (options.ignoreGfpWait !== undefined) {
      checkBoolean(`${name}.ignoreGfpWait`, options.ignoreGfpWait);
      this.ignoreGfpWait = options.ignoreGfpWait;
    }
    if (options.ignoreGfpHighmem !== undefined) {
      checkBoolean(`${name}.ignoreGfpHighmem`, options.ignoreGfpHighmem);
      this.ignoreGfpHighmem = options.ignoreGfpHighmem;
    }
    if (options.minOrder !== undefined) {
      checkIntegerRange(`${name}.minOrder`, options.minOrder, 0, maxOrder - 1);
      this.minOrder = options.minOrder;
    }
    if (options.cacheFilter !== undefined) {
      checkBoolean(`${name}.cacheFilter`, options.cacheFilter);
      this.cacheFilter = options.cacheFilter;
    }
    if (options.seed !== undefined) {
      checkIntegerRange(`${name}.seed`, options.seed, 0, 2 ** 32 - 1);
    }
    this.rng = (options.seed ?? 1) >>> 0 || 0x9e3779b9;
  }

  /** xorshift32: uniform in 0..99. */
  private random100(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng % 100;
  }

  /**
   * Linux's should_fail_ex(attr, size): steps 1-6 of the header comment. On a failure with
   * verbose set, `log` gets fail_dump's message (written before `times` is decremented).
   */
  shouldFail(size: number, log: ((line: string) => void) | null): boolean {
    if (this.probability === 0) return false;
    if (this.times === 0) return false;
    if (this.space > size) {
      this.space -= size;
      return false;
    }
    if (this.interval > 1) {
      this.count++;
      if (this.count % this.interval !== 0) return false;
    }
    if (this.probability < 100 && this.random100() >= this.probability) return false;
    if (this.verbose > 0 && log !== null) log(this.message());
    if (this.times !== -1) this.times--;
    this.injected++;
    return true;
  }

  /** A copy of the knobs and counters, for callers to read. */
  snapshot(): FaultState {
    return Object.freeze({
      name: this.name,
      probability: this.probability,
      interval: this.interval,
      times: this.times,
      space: this.space,
      verbose: this.verbose,
      ignoreGfpWait: this.ignoreGfpWait,
      ignoreGfpHighmem: this.ignoreGfpHighmem,
      minOrder: this.minOrder,
      cacheFilter: this.cacheFilter,
      count: this.count,
      injected: this.injected,
    });
  }

  /** The kernel's verbose report line. */
  message(): string {
    return (
      `FAULT_INJECTION: forcing a failure.\n` +
      `name ${this.name}, interval ${this.interval}, probability ${this.probability}, ` +
      `space ${this.space}, times ${this.times}`
    );
  }
}
