/*
 * The resource map of SVR4 (`rmalloc`/`rmfree`; Vahalia, "UNIX Internals" §12.3; Lions §5.2):
 * a sorted table of the free segments of an integer range, allocated first fit and coalesced
 * on free. It hands out integers, not memory: ids, ports, blocks of a device, offsets into a
 * GPU buffer. 0 and negative numbers are valid resources; failure is -1, which is therefore
 * never inside a map's range.
 *
 * The map is one Float64Array of <base, size> pairs, ascending by base:
 *
 *   entry     0                 1                         count-1
 *           +--------+--------+--------+--------+-- ... --+--------+--------+
 *   map     | base 0 | size 0 | base 1 | size 1 |         | base n | size n |  (f64)
 *           +--------+--------+--------+--------+-- ... --+--------+--------+
 *
 * Allocation scans from entry 0 for the first segment large enough and takes its low end
 * (the entry shrinks, or goes when it is used up). Freeing finds its place by binary search
 * and merges with the segment before, after, or both; only a free touching neither needs a
 * new entry. SVR4's map has a fixed number of entries, and a free that needs one more loses
 * the resource ("rmfree map overflow"). Here the map grows by default; with a fixed
 * `capacity` such a free is refused instead (returns false, the caller still holds the
 * range), so nothing is ever lost.
 *
 * Invariants (verify() reports these ids):
 *  RMAP-1: 0 <= count <= capacity; every segment lies inside [base, base + size)
 *  RMAP-2: segments ascend and never touch: base(i) + size(i) < base(i + 1) (touching ones
 *          are merged)
 *  RMAP-3: every size is an integer >= 1, and the sizes sum to `available`
 */

import { KmemError, describe } from "../errors.js";

/** Fields of a map entry, in f64 slots. */
const enum Entry {
  BASE = 0,
  SIZE = 1,
  WORDS = 2,
}

const INITIAL_ENTRIES = 16;

/** Options of {@link ResourceMap}. */
export interface ResourceMapOptions {
  /**
   * First integer of the range: any safe integer, negative included, as long as the range
   * does not contain -1 (the failure value of alloc).
   */
  base: number;
  /** Number of integers in the range (>= 0); all of them start free. */
  size: number;
  /**
   * Most free segments the map may hold (SVR4's map size), >= 1. Default: no limit (the
   * table grows). With a limit, a free that would need one more segment returns false and
   * changes nothing; SVR4 would lose the freed range.
   */
  capacity?: number;
}

/** Counters and totals of a {@link ResourceMap}. */
export interface ResourceMapStats {
  /** Integers in the range. */
  size: number;
  /** Free integers. */
  available: number;
  /** Allocated integers (`size - available`). */
  inUse: number;
  /** Free segments in the map. */
  segments: number;
  /** Size of the largest free segment (0 when none). */
  largest: number;
  /** Entry limit, or null when the table grows. */
  capacity: number | null;
  /** Successful allocations, frees, failed allocations, frees refused because the map was full. */
  allocs: number;
  frees: number;
  fails: number;
  overflows: number;
}

/** A free segment: `size` integers from `base`. */
export interface Segment {
  base: number;
  size: number;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Throws the TypeError/RangeError for a malformed integer argument (cold path). */
function badInteger(name: string, value: unknown, min: number, max: number): never {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
  throw new RangeError(`${name} must be in ${min}..${max}, got ${value}`);
}

/** SVR4 resource map over the integers [base, base + size). */
export class ResourceMap {
  /** First integer of the range. */
  readonly base: number;
  /** Number of integers in the range. */
  readonly size: number;
  /** Entry limit, or null when the table grows. */
  readonly capacity: number | null;

  private readonly limit: number;
  private map: Float64Array;
  private count = 0;
  private freeUnits = 0;
  private allocs = 0;
  private frees = 0;
  private fails = 0;
  private overflows = 0;

  constructor(options: ResourceMapOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`ResourceMap options must be an object, got ${describe(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (key !== "base" && key !== "size" && key !== "capacity") {
        throw new TypeError(
          `ResourceMap: unknown option ${JSON.stringify(key)} (known: base, size, capacity)`,
        );
      }
    }
    const { base, size, capacity } = options;
    if (!Number.isSafeInteger(base)) badInteger("base", base, -MAX_SAFE, MAX_SAFE);
    if (!Number.isSafeInteger(size) || size < 0 || base + size > MAX_SAFE) {
      badInteger("size", size, 0, MAX_SAFE - Math.max(base, 0));
    }
    if (base < 0 && base + size > -1) {
      throw new RangeError(
        `the range [${base}, ${base + size}) must not contain -1, the failure value of alloc`,
      );
    }
    if (capacity !== undefined && (!Number.isSafeInteger(capacity) || capacity < 1)) {
      badInteger("capacity", capacity, 1, MAX_SAFE);
    }
    if (capacity !== undefined && capacity > 2 ** 26) {
      throw new RangeError(`capacity must be in 1..${2 ** 26}, got ${capacity}`);
    }
    this.base = base;
    this.size = size;
    this.limit = base + size;
    this.capacity = capacity ?? null;
    this.map = new Float64Array((capacity ?? INITIAL_ENTRIES) * Entry.WORDS);
    if (size > 0) {
      this.map[Entry.BASE] = base;
      this.map[Entry.SIZE] = size;
      this.count = 1;
      this.freeUnits = size;
    }
  }

  /** Free integers. */
  get available(): number {
    return this.freeUnits;
  }

  /** Free segments in the map. */
  get segmentCount(): number {
    return this.count;
  }

  /** Size of the largest free segment (0 when none); a scan of the map. */
  get largest(): number {
    const map = this.map;
    let best = 0;
    for (let i = 0, end = this.count * Entry.WORDS; i < end; i += Entry.WORDS) {
      const s = map[i + Entry.SIZE] as number;
      if (s > best) best = s;
    }
    return best;
  }

  /**
   * Allocates `size` contiguous integers, first fit: the low end of the lowest free segment
   * that is large enough. Returns its first integer, or -1 when no segment is large enough.
   */
  alloc(size: number): number {
    if (!(size >= 1 && size <= MAX_SAFE && Number.isInteger(size))) {
      badInteger("size", size, 1, MAX_SAFE);
    }
    const map = this.map;
    const end = this.count * Entry.WORDS;
    for (let i = 0; i < end; i += Entry.WORDS) {
      const s = map[i + Entry.SIZE] as number;
      if (s < size) continue;
      const start = map[i + Entry.BASE] as number;
      if (s === size) {
        map.copyWithin(i, i + Entry.WORDS, end);
        this.count--;
      } else {
        map[i + Entry.BASE] = start + size;
        map[i + Entry.SIZE] = s - size;
      }
      this.freeUnits -= size;
      this.allocs++;
      return start;
    }
    this.fails++;
    return -1;
  }

  /**
   * Allocates exactly [start, start + size) if all of it is free (SVR4's `rmget`). Returns
   * `start`, or -1 when part of it is allocated, outside the range, or (with a fixed capacity)
   * taking it from the middle of a segment would need an entry the map does not have.
   */
  allocAt(start: number, size: number): number {
    if (!Number.isSafeInteger(start)) badInteger("start", start, -MAX_SAFE, MAX_SAFE);
    if (!(size >= 1 && size <= MAX_SAFE && Number.isInteger(size))) {
      badInteger("size", size, 1, MAX_SAFE);
    }
    const end = start + size;
    const i = this.segmentAtOrBefore(start);
    if (i < 0) {
      this.fails++;
      return -1;
    }
    const map = this.map;
    const at = i * Entry.WORDS;
    const segBase = map[at + Entry.BASE] as number;
    const segEnd = segBase + (map[at + Entry.SIZE] as number);
    if (end > segEnd) {
      this.fails++;
      return -1;
    }
    if (start === segBase && end === segEnd) {
      map.copyWithin(at, at + Entry.WORDS, this.count * Entry.WORDS);
      this.count--;
    } else if (start === segBase) {
      map[at + Entry.BASE] = end;
      map[at + Entry.SIZE] = segEnd - end;
    } else if (end === segEnd) {
      map[at + Entry.SIZE] = start - segBase;
    } else {
      if (!this.makeRoom()) {
        this.overflows++;
        this.fails++;
        return -1;
      }
      const m = this.map;
      m.copyWithin(at + 2 * Entry.WORDS, at + Entry.WORDS, this.count * Entry.WORDS);
      m[at + Entry.SIZE] = start - segBase;
      m[at + Entry.WORDS + Entry.BASE] = end;
      m[at + Entry.WORDS + Entry.SIZE] = segEnd - end;
      this.count++;
    }
    this.freeUnits -= size;
    this.allocs++;
    return start;
  }

  /**
   * Gives back [start, start + size): any allocated range, whole or part of what alloc
   * returned. Merges with the free neighbours. Returns true; false only with a fixed
   * capacity, when the range touches no free segment and the map is full (nothing changed:
   * the caller still holds the range, and may free it again once the map has room).
   *
   * Throws KmemError, changing nothing: INVALID_FREE when the range is not inside the map's
   * range, DOUBLE_FREE when any of it is already free.
   */
  free(start: number, size: number): boolean {
    if (!Number.isSafeInteger(start)) badInteger("start", start, -MAX_SAFE, MAX_SAFE);
    if (!(size >= 1 && size <= MAX_SAFE && Number.isInteger(size))) {
      badInteger("size", size, 1, MAX_SAFE);
    }
    const end = start + size;
    if (start < this.base || end > this.limit) this.invalidFree(start, size);
    const map = this.map;
    const n = this.count;
    // next = first segment above start; prev = the one before it.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((map[mid * Entry.WORDS + Entry.BASE] as number) <= start) lo = mid + 1;
      else hi = mid;
    }
    const next = lo * Entry.WORDS;
    const prev = next - Entry.WORDS;
    const prevEnd =
      prev >= 0
        ? (map[prev + Entry.BASE] as number) + (map[prev + Entry.SIZE] as number)
        : -Infinity;
    const nextBase = lo < n ? (map[next + Entry.BASE] as number) : Infinity;
    if (prevEnd > start || nextBase < end) this.doubleFree(start, size, prev, next);

    if (prevEnd === start) {
      if (nextBase === end) {
        map[prev + Entry.SIZE] =
          nextBase + (map[next + Entry.SIZE] as number) - (map[prev + Entry.BASE] as number);
        map.copyWithin(next, next + Entry.WORDS, n * Entry.WORDS);
        this.count = n - 1;
      } else {
        map[prev + Entry.SIZE] = (map[prev + Entry.SIZE] as number) + size;
      }
    } else if (nextBase === end) {
      map[next + Entry.BASE] = start;
      map[next + Entry.SIZE] = (map[next + Entry.SIZE] as number) + size;
    } else {
      if (!this.makeRoom()) {
        this.overflows++;
        return false;
      }
      const m = this.map;
      m.copyWithin(next + Entry.WORDS, next, n * Entry.WORDS);
      m[next + Entry.BASE] = start;
      m[next + Entry.SIZE] = size;
      this.count = n + 1;
    }
    this.freeUnits += size;
    this.frees++;
    return true;
  }

  /** The free segments in ascending order (a copy). */
  segments(): Segment[] {
    const out: Segment[] = [];
    for (let i = 0; i < this.count; i++) {
      out.push({
        base: this.map[i * Entry.WORDS + Entry.BASE] as number,
        size: this.map[i * Entry.WORDS + Entry.SIZE] as number,
      });
    }
    return out;
  }

  /**
   * One past the highest allocated integer (`base` when nothing is allocated): the extent a
   * caller mapping the range onto memory must back.
   */
  allocatedEnd(): number {
    const n = this.count;
    if (n === 0) return this.limit;
    const last = (n - 1) * Entry.WORDS;
    const lastBase = this.map[last + Entry.BASE] as number;
    if (lastBase + (this.map[last + Entry.SIZE] as number) !== this.limit) return this.limit;
    return n === 1 && lastBase === this.base ? this.base : lastBase;
  }

  /** Bytes of metadata in use: 16 per free segment (an f64 base and an f64 size). */
  metadataBytes(): number {
    return this.count * Entry.WORDS * Float64Array.BYTES_PER_ELEMENT;
  }

  /** Totals and counters. */
  stats(): ResourceMapStats {
    return {
      size: this.size,
      available: this.freeUnits,
      inUse: this.size - this.freeUnits,
      segments: this.count,
      largest: this.largest,
      capacity: this.capacity,
      allocs: this.allocs,
      frees: this.frees,
      fails: this.fails,
      overflows: this.overflows,
    };
  }

  /** Checks RMAP-1..3; throws KmemError CORRUPTION naming the first one broken. */
  verify(): void {
    const corrupt = (id: string, what: string): never => {
      throw new KmemError("CORRUPTION", `resource map: ${id}: ${what}`);
    };
    const n = this.count;
    if (n < 0 || n * Entry.WORDS > this.map.length)
      corrupt("RMAP-1", `count ${n} exceeds the table`);
    if (this.capacity !== null && n > this.capacity) {
      corrupt("RMAP-1", `count ${n} exceeds capacity ${this.capacity}`);
    }
    let sum = 0;
    let prevEnd = -Infinity;
    for (let i = 0; i < n; i++) {
      const b = this.map[i * Entry.WORDS + Entry.BASE] as number;
      const s = this.map[i * Entry.WORDS + Entry.SIZE] as number;
      if (!Number.isSafeInteger(s) || s < 1) corrupt("RMAP-3", `segment ${i} has size ${s}`);
      if (!Number.isSafeInteger(b) || b < this.base || b + s > this.limit) {
        corrupt("RMAP-1", `segment ${i} [${b}, ${b + s}) is outside [${this.base}, ${this.limit})`);
      }
      if (b <= prevEnd) {
        corrupt("RMAP-2", `segment ${i} at ${b} does not lie above the previous end ${prevEnd}`);
      }
      prevEnd = b + s;
      sum += s;
    }
    if (sum !== this.freeUnits)
      corrupt("RMAP-3", `segments hold ${sum}, available says ${this.freeUnits}`);
  }

  /** Index of the segment whose base is the greatest <= start, if it contains start; else -1. */
  private segmentAtOrBefore(start: number): number {
    const map = this.map;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((map[mid * Entry.WORDS + Entry.BASE] as number) <= start) lo = mid + 1;
      else hi = mid;
    }
    const i = lo - 1;
    if (i < 0) return -1;
    const b = map[i * Entry.WORDS + Entry.BASE] as number;
    return start < b + (map[i * Entry.WORDS + Entry.SIZE] as number) ? i : -1;
  }

  /** Ensures one more entry fits: grows the table, or false at a fixed capacity. */
  private makeRoom(): boolean {
    if ((this.count + 1) * Entry.WORDS <= this.map.length) return true;
    if (this.capacity !== null) return false;
    const bigger = new Float64Array(this.map.length * 2);
    bigger.set(this.map);
    this.map = bigger;
    return true;
  }

  private invalidFree(start: number, size: number): never {
    throw new KmemError(
      "INVALID_FREE",
      `resource map: free of [${start}, ${start + size}) outside the map's range [${this.base}, ${this.limit})`,
    );
  }

  private doubleFree(start: number, size: number, prev: number, next: number): never {
    const map = this.map;
    const at =
      prev >= 0 && (map[prev + Entry.BASE] as number) + (map[prev + Entry.SIZE] as number) > start
        ? prev
        : next;
    const b = map[at + Entry.BASE] as number;
    const e = b + (map[at + Entry.SIZE] as number);
    throw new KmemError(
      "DOUBLE_FREE",
      `resource map: free of [${start}, ${start + size}) overlaps the free segment [${b}, ${e})`,
    );
  }
}
