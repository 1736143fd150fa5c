/*
 * Building a trace op by op, as the workload generators do, into the same OpChunks the .rep
 * reader produces. Ids are handed out in order and never reused (as in malloc-lab's traces);
 * the builder stops taking ops once `limit` is reached, so a generator can run its model
 * until `full` without counting.
 *
 * Invariants (those of a valid trace, trace.ts TRACE-1..4): every free or realloc names a live
 * id; the header's ids and ops are exactly the ids allocated and the ops taken.
 */

import { memorySource, type TraceSource } from "../source.js";
import { newChunk, Op, type OpChunk, type TraceInfo } from "../trace.js";

/** Lines before the first op in a written .rep: the four header lines. */
export const HEADER_LINES = 4;

export class TraceBuilder {
  readonly limit: number;
  private readonly chunks: OpChunk[] = [newChunk()];
  private sizes = new Int32Array(1024);
  private live = new Uint8Array(1024);
  private nextId = 0;
  private opCount = 0;
  private payload = 0;
  private peak = 0;
  private peakOp = 0;
  private allocs = 0;
  private frees = 0;
  private reallocs = 0;
  private maxRequest = 0;
  private nLive = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** True once `limit` ops were taken: every further op is ignored. */
  get full(): boolean {
    return this.opCount >= this.limit;
  }

  get ops(): number {
    return this.opCount;
  }

  /** Bytes asked for by live blocks. */
  get livePayload(): number {
    return this.payload;
  }

  /** Blocks live now. */
  get liveBlocks(): number {
    return this.nLive;
  }

  /** Size of a live id. */
  sizeOf(id: number): number {
    return this.sizes[id] as number;
  }

  isLive(id: number): boolean {
    return id >= 0 && this.live[id] === 1;
  }

  /** `a id size` with a new id; returns the id, or -1 when the builder is full. */
  alloc(size: number): number {
    if (this.full) return -1;
    const id = this.nextId++;
    if (id >= this.sizes.length) {
      const sizes = new Int32Array(this.sizes.length * 2);
      sizes.set(this.sizes);
      this.sizes = sizes;
      const live = new Uint8Array(this.live.length * 2);
      live.set(this.live);
      this.live = live;
    }
    this.sizes[id] = size;
    this.live[id] = 1;
    this.nLive++;
    this.allocs++;
    this.payload += size;
    if (size > this.maxRequest) this.maxRequest = size;
    this.push(Op.Alloc, id, size);
    return id;
  }

  /** `f id`; ignored for -1 (an alloc refused when full) or once full. */
  free(id: number): void {
    if (this.full || id < 0) return;
    if (this.live[id] !== 1) throw new Error(`workload bug: free of id ${id}, which is not live`);
    this.live[id] = 0;
    this.nLive--;
    this.frees++;
    this.payload -= this.sizes[id] as number;
    this.push(Op.Free, id, 0);
  }

  /** `r id size`; ignored for -1 or once full. */
  realloc(id: number, size: number): void {
    if (this.full || id < 0) return;
    if (this.live[id] !== 1)
      throw new Error(`workload bug: realloc of id ${id}, which is not live`);
    this.payload += size - (this.sizes[id] as number);
    this.sizes[id] = size;
    this.reallocs++;
    if (size > this.maxRequest) this.maxRequest = size;
    this.push(Op.Realloc, id, size);
  }

  private push(op: Op, id: number, size: number): void {
    let c = this.chunks[this.chunks.length - 1] as OpChunk;
    if (c.length === c.op.length) {
      c = newChunk();
      this.chunks.push(c);
    }
    const k = c.length;
    c.op[k] = op;
    c.id[k] = id;
    c.size[k] = size;
    c.line[k] = HEADER_LINES + this.opCount + 1;
    c.length = k + 1;
    this.opCount++;
    if (this.payload > this.peak) {
      this.peak = this.payload;
      this.peakOp = this.opCount;
    }
  }

  /** The finished trace. Its header's heap size is 2 x the peak payload, to a power of two. */
  finish(name: string): TraceSource {
    let leftoverBytes = 0;
    for (let id = 0; id < this.nextId; id++) {
      if (this.live[id] === 1) leftoverBytes += this.sizes[id] as number;
    }
    const info: TraceInfo = {
      name,
      header: {
        heapSize: 2 ** Math.ceil(Math.log2(Math.max(2, 2 * this.peak))),
        ids: this.nextId,
        ops: this.opCount,
        weight: 1,
      },
      allocs: this.allocs,
      frees: this.frees,
      reallocs: this.reallocs,
      peakPayloadBytes: this.peak,
      peakPayloadOp: this.peakOp,
      maxRequestBytes: this.maxRequest,
      leftoverBlocks: this.nLive,
      leftoverBytes,
    };
    const chunks = this.chunks.filter((c) => c.length > 0);
    return memorySource(name, info, chunks);
  }
}

/**
 * Events ordered by time (ties in the order they were scheduled, so a seed gives one order):
 * a binary heap over typed arrays. An event is two integers the workload interprets.
 */
export class EventQueue {
  private time = new Float64Array(256);
  private seq = new Float64Array(256);
  private kind = new Int32Array(256);
  private arg = new Int32Array(256);
  private n = 0;
  private counter = 0;

  get size(): number {
    return this.n;
  }

  /** Time of the earliest event (Infinity when empty). */
  peekTime(): number {
    return this.n === 0 ? Infinity : (this.time[0] as number);
  }

  push(time: number, kind: number, arg: number): void {
    if (this.n === this.time.length) this.grow();
    let i = this.n++;
    const s = this.counter++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(time, s, parent)) break;
      this.move(parent, i);
      i = parent;
    }
    this.time[i] = time;
    this.seq[i] = s;
    this.kind[i] = kind;
    this.arg[i] = arg;
  }

  /** Removes the earliest event; returns [kind, arg] in `out`. */
  pop(out: Int32Array): number {
    const t = this.time[0] as number;
    out[0] = this.kind[0] as number;
    out[1] = this.arg[0] as number;
    const last = --this.n;
    const lt = this.time[last] as number;
    const ls = this.seq[last] as number;
    const lk = this.kind[last] as number;
    const la = this.arg[last] as number;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= last) break;
      if (c + 1 < last && this.less(c + 1, c)) c++;
      if (!this.before(this.time[c] as number, this.seq[c] as number, i, lt, ls)) break;
      this.move(c, i);
      i = c;
    }
    this.time[i] = lt;
    this.seq[i] = ls;
    this.kind[i] = lk;
    this.arg[i] = la;
    return t;
  }

  /** Is (time, seq) earlier than slot j (or than the given pair)? */
  private before(time: number, seq: number, j: number, jt?: number, js?: number): boolean {
    const t = jt ?? (this.time[j] as number);
    const s = js ?? (this.seq[j] as number);
    return time < t || (time === t && seq < s);
  }

  private less(a: number, b: number): boolean {
    return this.before(this.time[a] as number, this.seq[a] as number, b);
  }

  private move(from: number, to: number): void {
    this.time[to] = this.time[from] as number;
    this.seq[to] = this.seq[from] as number;
    this.kind[to] = this.kind[from] as number;
    this.arg[to] = this.arg[from] as number;
  }

  private grow(): void {
    const m = this.time.length * 2;
    const time = new Float64Array(m);
    time.set(this.time);
    this.time = time;
    const seq = new Float64Array(m);
    seq.set(this.seq);
    this.seq = seq;
    const kind = new Int32Array(m);
    kind.set(this.kind);
    this.kind = kind;
    const arg = new Int32Array(m);
    arg.set(this.arg);
    this.arg = arg;
  }
}
