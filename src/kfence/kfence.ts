/*
 * KFENCE (Linux mm/kfence/core.c, report.c): a sampled few slab allocations come from a
 * pool of pages, each object alone on its page between guard pages, at the page's left
 * or right edge; the rest of its page is a canary pattern checked when it is freed. An
 * access through the checked accessors to a guard page, or to a freed object's page, is
 * reported at once; damage to the canary at free. One allocation in `sampleInterval` (per
 * context, counted: deterministic), or the first after `sampleMs` (the clock read every
 * CLOCK_STRIDE allocations), is sampled; objects larger than a page and caches with
 * constructors are never sampled. An allocation not sampled costs the hook a decrement of
 * `left` and a compare (Linux: kfence_alloc's static key and kfence_allocation_gate).
 *
 * The pool (2^order pages from the page allocator at construction, Hdr.KFENCE_POOL):
 *
 *   page  0         1          2        3          4        ...  2N-1       2N
 *        +---------+----------+--------+----------+--------+----+----------+--------+
 *        | meta    | object 0 | guard  | object 1 | guard  |    | obj N-1  | guard  |
 *        | (guard) |          |        |          |        |    |          |        |
 *        +---------+----------+--------+----------+--------+----+----------+--------+
 *   object page:  | obj |  canary ...   |     or     |  ... canary  | obj |
 *                 left edge (even allocation)         right edge (odd allocation)
 *
 * Page 0 holds the metadata, i32 words: [0] sequence counter, then 8 words per object:
 * state (0 never used, 1 allocated, 2 freed), address, size, cache id, allocation and free
 * sequence numbers, allocating and freeing cpu. A free slot is taken least recently freed
 * first (never used ones first of all); its state word is claimed with compareExchange,
 * so contexts sharing the pool never hand out one slot twice.
 *
 * Invariants (checked by tests):
 *   - an allocated object's page, outside the object, holds the canary
 *     0xaa ^ (address & 7) until the object is freed
 *   - no more than N objects are allocated at once; each slot's address lies in
 *     its page
 *
 * Locks: none; the state word is claimed atomically and only its owner writes the rest.
 */

import { KmemError } from "../errors.js";
import type { PhysMem } from "../memory/index.js";
import type { KmemCache } from "../slab-common/index.js";
import { addrHex, callerStack, captureStack, ReportLog, RULE, stackLines } from "../kasan/index.js";

const enum Meta {
  SEQ = 0,
  /** First object's words. */
  FIRST = 8,
  WORDS = 8,
  STATE = 0,
  ADDR = 1,
  SIZE = 2,
  CACHE = 3,
  ALLOC_SEQ = 4,
  FREE_SEQ = 5,
  ALLOC_CPU = 6,
  FREE_CPU = 7,
}

const enum State {
  UNUSED = 0,
  ALLOCATED = 1,
  FREED = 2,
}

/** The canary byte at `addr` (KFENCE_CANARY_PATTERN_U8). */
function canary(addr: number): number {
  return 0xaa ^ (addr & 7);
}

/** With `sampleMs`: allocations between two reads of the clock. */
const CLOCK_STRIDE = 16;

/** Pages of a pool of `objects` objects, to a power of two: its order. */
export function kfencePoolOrder(objects: number): number {
  return Math.ceil(Math.log2(2 * objects + 1));
}

/** Largest pool for a page size: its metadata must fit page 0. */
export function kfenceMaxObjects(pageSize: number): number {
  return Math.min(127, pageSize / 4 / Meta.WORDS - 1);
}

export interface KfenceSettings {
  sampleInterval: number;
  sampleMs: number;
  cpu: number;
  fresh: boolean;
}

export class Kfence {
  readonly log = new ReportLog();
  readonly pool: number;
  readonly objects: number;
  private readonly bytes: number;
  private readonly words: Int32Array;
  private readonly mem: Uint8Array;
  private readonly meta: number;
  private readonly ps: number;
  private readonly interval: number;
  private readonly ms: number;
  private readonly cpu: number;
  private next = 0;
  /** The canary of a page (the pattern repeats every 8 bytes), and its two words. */
  private readonly canaryPage: Uint8Array;
  private readonly canaryWords: Int32Array;
  /**
   * Slab allocations left until the next sampling decision (kfence_allocation_gate): the
   * allocation hook decrements it and calls {@link rearm} only when it reaches 0, so an
   * allocation that is not sampled costs a decrement and a compare.
   */
  left: number;
  /** Allocations served by the pool from this context, and the sampling decisions made. */
  allocated = 0;
  sampled = 0;
  /** Allocation and free stacks by slot (this context's). */
  private readonly stacks = new Map<number, { alloc: Error; free: Error | null }>();
  /** Cache names by real id, as seen at allocation. */
  private readonly cacheNames = new Map<number, string>();

  constructor(phys: PhysMem, pool: number, objects: number, s: KfenceSettings) {
    this.pool = pool;
    this.objects = objects;
    this.ps = phys.pageSize;
    this.bytes = (2 * objects + 1) * phys.pageSize;
    this.words = phys.words;
    this.mem = phys.bytes;
    this.meta = pool >>> 2;
    this.interval = s.sampleInterval;
    this.ms = s.sampleMs;
    this.cpu = s.cpu;
    this.left = this.ms >= 0 ? 1 : this.interval;
    this.canaryPage = new Uint8Array(this.ps);
    for (let a = 0; a < this.ps; a++) this.canaryPage[a] = canary(a);
    this.canaryWords = new Int32Array(this.canaryPage.buffer, 0, 2);
    if (s.fresh) this.words.fill(0, this.meta, this.meta + this.ps / 4);
  }

  /**
   * The countdown ({@link left}) reached 0: whether this allocation is sampled, the
   * countdown set again. Counted: every `interval`-th allocation. By the clock: the clock
   * is read every CLOCK_STRIDE allocations, and the first read at least `sampleMs` after
   * the last sample samples (Linux's timer opens the gate, the next allocation takes it).
   */
  rearm(): boolean {
    if (this.ms >= 0) {
      this.left = CLOCK_STRIDE;
      const now = Date.now();
      if (now < this.next) return false;
      this.next = now + this.ms;
    } else {
      this.left = this.interval;
    }
    this.sampled++;
    return true;
  }

  /** Whether this allocation is sampled: the countdown and {@link rearm} in one call. */
  sample(): boolean {
    return --this.left === 0 && this.rearm();
  }

  /** The first byte of [from, to) in an object page whose canary is damaged, or -1. */
  private damaged(from: number, to: number): number {
    const m = this.mem;
    const w = this.words;
    const cw = this.canaryWords;
    let a = from;
    for (; a < to && (a & 3) !== 0; a++) if (m[a] !== canary(a)) return a;
    for (; a + 4 <= to; a += 4) if (w[a >>> 2] !== cw[(a >>> 2) & 1]) break;
    for (; a < to; a++) if (m[a] !== canary(a)) return a;
    return -1;
  }

  /** Whether `addr` lies in the pool. */
  owns(addr: number): boolean {
    return (addr - this.pool) >>> 0 < this.bytes;
  }

  private w(i: number, field: number): number {
    return this.words[this.meta + Meta.FIRST + i * Meta.WORDS + field] as number;
  }

  private setW(i: number, field: number, v: number): void {
    this.words[this.meta + Meta.FIRST + i * Meta.WORDS + field] = v;
  }

  /** An object of `size` bytes for cache `c` from the pool, or 0 (pool full, too large). */
  alloc(c: KmemCache, size: number): number {
    if (size > this.ps || size === 0 || c.hasCtor) return 0;
    // Least recently freed first; never used slots have free sequence 0.
    let slot = -1;
    for (;;) {
      let best = -1;
      let bestSeq = Infinity;
      for (let i = 0; i < this.objects; i++) {
        if (this.w(i, Meta.STATE) === State.ALLOCATED) continue;
        const seq = this.w(i, Meta.FREE_SEQ);
        if (seq < bestSeq) {
          best = i;
          bestSeq = seq;
        }
      }
      if (best < 0) return 0;
      const at = this.meta + Meta.FIRST + best * Meta.WORDS + Meta.STATE;
      const old = this.words[at] as number;
      if (
        old !== State.ALLOCATED &&
        Atomics.compareExchange(this.words, at, old, State.ALLOCATED) === old
      ) {
        slot = best;
        break;
      }
    }
    const seq = Atomics.add(this.words, this.meta + Meta.SEQ, 1) + 1;
    const page = this.pool + (2 * slot + 1) * this.ps;
    const core = c.coreObjectSize;
    const align = (core & (core - 1)) === 0 ? Math.min(core, this.ps) : 8;
    // Left and right edges in turn (Linux picks at random), by this context's count.
    const right = (this.allocated & 1) === 1;
    const addr = right ? page + Math.floor((this.ps - size) / align) * align : page;
    const m = this.mem;
    m.set(this.canaryPage, page);
    // Zeroed whatever the flags (__GFP_ZERO, init_on_alloc): no stale data of the slot.
    m.fill(0, addr, addr + size);
    this.setW(slot, Meta.ADDR, addr);
    this.setW(slot, Meta.SIZE, size);
    this.setW(slot, Meta.CACHE, c.realId);
    this.setW(slot, Meta.ALLOC_SEQ, seq);
    this.setW(slot, Meta.ALLOC_CPU, this.cpu);
    this.stacks.set(slot, { alloc: captureStack(), free: null });
    this.cacheNames.set(c.realId, c.name);
    this.allocated++;
    return addr;
  }

  /** The slot whose object page holds `addr`, or -1 (a guard page, the metadata page). */
  private slotOf(addr: number): number {
    const page = Math.floor((addr - this.pool) / this.ps);
    return (page & 1) === 1 ? (page - 1) >>> 1 : -1;
  }

  /** Frees a pool object; returns its size. Reports invalid frees and canary damage. */
  free(addr: number, c: KmemCache | null, fn: string): number {
    const i = this.slotOf(addr);
    if (i < 0 || this.w(i, Meta.STATE) !== State.ALLOCATED || this.w(i, Meta.ADDR) !== addr) {
      const j = i < 0 ? this.nearest(addr) : i;
      this.report(
        `invalid free in ${fn}`,
        `Invalid free of 0x${addrHex(addr)} (in kfence-#${j}):`,
        j,
      );
    }
    if (c !== null && c.realId !== this.w(i, Meta.CACHE)) {
      throw new KmemError(
        "WRONG_CACHE",
        `object 0x${addrHex(addr)} belongs to cache ${JSON.stringify(this.cacheNames.get(this.w(i, Meta.CACHE)) ?? "?")}, not ${JSON.stringify(c.name)}`,
      );
    }
    const size = this.w(i, Meta.SIZE);
    const page = this.pool + (2 * i + 1) * this.ps;
    const m = this.mem;
    let bad = this.damaged(page, addr);
    if (bad < 0) bad = this.damaged(addr + size, page + this.ps);
    const seq = Atomics.add(this.words, this.meta + Meta.SEQ, 1) + 1;
    this.setW(i, Meta.FREE_SEQ, seq);
    this.setW(i, Meta.FREE_CPU, this.cpu);
    const st = this.stacks.get(i);
    if (st !== undefined) st.free = captureStack();
    Atomics.store(this.words, this.meta + Meta.FIRST + i * Meta.WORDS + Meta.STATE, State.FREED);
    if (bad >= 0) {
      const map: string[] = [];
      const end = bad < addr ? addr : page + this.ps;
      for (let a = bad; a < Math.min(end, bad + 16); a++) {
        map.push(m[a] === canary(a) ? "." : `0x${(m[a] as number).toString(16).padStart(2, "0")}`);
      }
      this.report(
        `memory corruption in ${fn}`,
        `Corrupted memory at 0x${addrHex(bad)} [ ${map.join(" ")} ] (in kfence-#${i}):`,
        i,
      );
    }
    return size;
  }

  /** ksize of a pool object. */
  ksize(addr: number, fn: string): number {
    const i = this.slotOf(addr);
    if (i < 0 || this.w(i, Meta.STATE) !== State.ALLOCATED || this.w(i, Meta.ADDR) !== addr) {
      const j = i < 0 ? this.nearest(addr) : i;
      this.report(
        `invalid read in ${fn}`,
        `Invalid read at 0x${addrHex(addr)} (in kfence-#${j}):`,
        j,
      );
    }
    return this.w(i, Meta.SIZE);
  }

  /** krealloc in place (to a size no larger): the bytes given up become canary again. */
  resize(addr: number, size: number, zero: boolean): void {
    const i = this.slotOf(addr);
    const old = this.w(i, Meta.SIZE);
    for (let a = addr + size; a < addr + old; a++) this.mem[a] = canary(a);
    if (zero && size > old) this.mem.fill(0, addr + old, addr + size);
    this.setW(i, Meta.SIZE, size);
  }

  /** Checks an access before it is made: guard pages and freed objects are reported. */
  check(addr: number, size: number, write: boolean, fn: string): void {
    if (
      typeof addr !== "number" ||
      ((addr + size - 1 - this.pool) >>> 0 >= this.bytes && (addr - this.pool) >>> 0 >= this.bytes)
    )
      return;
    const rw = write ? "write" : "read";
    for (let a = Math.max(addr, this.pool); a < addr + size && a < this.pool + this.bytes; a++) {
      const i = this.slotOf(a);
      if (i < 0) {
        const j = this.nearest(a);
        const start = this.w(j, Meta.ADDR);
        const end = start + this.w(j, Meta.SIZE);
        const where = a < start ? `${start - a}B left of` : `${a - end + 1}B right of`;
        this.report(
          `out-of-bounds ${rw} in ${fn}`,
          `Out-of-bounds ${rw} at 0x${addrHex(a)} (${where} kfence-#${j}):`,
          j,
        );
      }
      const state = this.w(i, Meta.STATE);
      if (state === State.FREED) {
        this.report(
          `use-after-free ${rw} in ${fn}`,
          `Use-after-free ${rw} at 0x${addrHex(a)} (in kfence-#${i}):`,
          i,
        );
      }
      if (state === State.UNUSED) {
        this.report(`invalid ${rw} in ${fn}`, `Invalid ${rw} at 0x${addrHex(a)}:`, i);
      }
      // An allocated object's page: the canary side is not guarded (checked at free).
      a = this.pool + (2 * i + 2) * this.ps - 1;
    }
  }

  /** The object whose guard page holds `addr`: the allocated neighbour, else the nearer. */
  private nearest(addr: number): number {
    const page = Math.floor((addr - this.pool) / this.ps);
    const left = page / 2 - 1;
    const right = page / 2;
    const ok = (i: number): boolean => i >= 0 && i < this.objects;
    if (!ok(left)) return right;
    if (!ok(right)) return left;
    const la = this.w(left, Meta.STATE) === State.ALLOCATED;
    const ra = this.w(right, Meta.STATE) === State.ALLOCATED;
    if (la !== ra) return la ? left : right;
    const dl = addr - (this.w(left, Meta.ADDR) + this.w(left, Meta.SIZE));
    const dr = this.w(right, Meta.ADDR) - addr;
    return dl <= dr ? left : right;
  }

  private report(title: string, what: string, i: number): never {
    const stack = callerStack();
    const lines = [RULE, `BUG: KFENCE: ${title}`, "", what, ...stack, ""];
    if (i >= 0 && i < this.objects) {
      const a = this.w(i, Meta.ADDR);
      const size = this.w(i, Meta.SIZE);
      const cache = this.cacheNames.get(this.w(i, Meta.CACHE)) ?? `#${this.w(i, Meta.CACHE)}`;
      lines.push(
        `kfence-#${i}: 0x${addrHex(a)}-0x${addrHex(a + Math.max(size, 1) - 1)}, size=${size}, cache=${cache}`,
      );
      const st = this.stacks.get(i);
      if (this.w(i, Meta.ALLOC_SEQ) !== 0) {
        lines.push(
          "",
          `allocated by task cpu${this.w(i, Meta.ALLOC_CPU)} (#${this.w(i, Meta.ALLOC_SEQ)}):`,
        );
        if (st !== undefined) lines.push(...stackLines(st.alloc));
      }
      if (this.w(i, Meta.STATE) === State.FREED) {
        lines.push(
          "",
          `freed by task cpu${this.w(i, Meta.FREE_CPU)} (#${this.w(i, Meta.FREE_SEQ)}):`,
        );
        if (st?.free) lines.push(...stackLines(st.free));
      }
    }
    lines.push(RULE, "");
    const text = lines.join("\n");
    this.log.add(text);
    throw new KmemError("KFENCE", text.slice(RULE.length + 1));
  }

  /** Objects allocated from the pool now, over all contexts. */
  live(): number {
    let n = 0;
    for (let i = 0; i < this.objects; i++) if (this.w(i, Meta.STATE) === State.ALLOCATED) n++;
    return n;
  }

  /** Linux's debugfs kfence/stats, with this context's sampling counters. */
  stats(): string {
    return [
      `enabled: 1`,
      `currently allocated: ${this.live()}`,
      `total allocations: ${this.allocated}`,
      `sampled allocations: ${this.sampled}`,
      `pool objects: ${this.objects}`,
      `bugs: ${this.log.count}`,
      "",
    ].join("\n");
  }
}
