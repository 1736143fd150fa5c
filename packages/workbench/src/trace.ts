/*
 * Allocation traces in the CMU malloc-lab `.rep` format, read as a stream (plain or gzip) into
 * compact typed-array chunks, and validated on the way.
 *
 *   20000          suggested heap size (a legacy field: read, never trusted)
 *   6              number of ids: every id is in 0..ids-1
 *   12             number of ops: exactly that many op lines follow
 *   1              weight
 *   a 0 2040       allocate 2040 bytes as id 0
 *   r 0 4000       resize id 0 to 4000 bytes
 *   f 0            free id 0
 *
 * Blank lines are skipped (the classic files end with one); `\r\n` line ends are accepted.
 *
 * Invariants of a trace that passes (each violation is a TraceError `file:line: what`):
 *   TRACE-1  the header is four non-negative integers; ids <= MAX_IDS
 *   TRACE-2  every op line is `a id size`, `f id` or `r id size`, with 0 <= id < ids and
 *            0 <= size <= MAX_SIZE
 *   TRACE-3  `a` names an id that is not live; `f` and `r` name a live id
 *   TRACE-4  the number of op lines equals the header's
 * Blocks still live at the end are allowed (recorded programs never free at exit): they are
 * the trace's leftovers.
 *
 * Parsing happens outside any timed section: ops are decoded into OpChunks of CHUNK_OPS ops
 * (17 bytes an op), handed on one chunk at a time, so memory stays bounded whatever the length
 * of the trace (plus two arrays indexed by id, sized by the header).
 */

import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createGunzip } from "node:zlib";

/** Op codes of {@link OpChunk.op}. */
export const enum Op {
  Alloc = 0,
  Free = 1,
  Realloc = 2,
}

/** Ops decoded from a trace: `length` valid entries in each array. */
export interface OpChunk {
  length: number;
  op: Uint8Array;
  id: Int32Array;
  /** Bytes asked for (`a`, `r`); 0 for `f`. */
  size: Int32Array;
  /** Line of the op in its file (1-based), for messages. */
  line: Int32Array;
}

/** The four header fields. */
export interface TraceHeader {
  heapSize: number;
  ids: number;
  ops: number;
  weight: number;
}

/** What a full pass over a trace found. */
export interface TraceInfo {
  /** The file's path, or a workload's name. */
  name: string;
  header: TraceHeader;
  allocs: number;
  frees: number;
  reallocs: number;
  /** Largest sum of the sizes of live blocks at any point. */
  peakPayloadBytes: number;
  /** Ops done when the payload first reached its peak (0 for a trace that allocates nothing). */
  peakPayloadOp: number;
  /** Largest single request. */
  maxRequestBytes: number;
  /** Blocks the trace leaves live at its end, and their bytes. */
  leftoverBlocks: number;
  leftoverBytes: number;
}

/** A malformed trace: `file:line: what is wrong`. */
export class TraceError extends Error {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, what: string) {
    super(`${file}:${line}: ${what}`);
    this.name = "TraceError";
    this.file = file;
    this.line = line;
  }
}

/** Ops per chunk. */
export const CHUNK_OPS = 16384;
/** Largest id count a header may declare (two 4-byte arrays per id are kept). */
export const MAX_IDS = 1 << 26;
/** Largest size of one request. */
export const MAX_SIZE = 0x7fffffff;

export function newChunk(capacity = CHUNK_OPS): OpChunk {
  return {
    length: 0,
    op: new Uint8Array(capacity),
    id: new Int32Array(capacity),
    size: new Int32Array(capacity),
    line: new Int32Array(capacity),
  };
}

const HEADER_FIELDS = ["suggested heap size", "number of ids", "number of ops", "weight"];
const enum Ch {
  Tab = 9,
  Lf = 10,
  Cr = 13,
  Space = 32,
  Minus = 45,
  Zero = 48,
  Nine = 57,
}
const enum Live {
  Never = 0,
  Live = 1,
  Freed = 2,
}

/**
 * Incremental parser and validator: `push` bytes as they arrive, `end` at the end of input.
 * Complete chunks go to `onChunk`; the chunk object is reused after the callback returns
 * unless `keepChunks` is set.
 */
export class RepParser {
  private readonly file: string;
  private readonly onChunk: (chunk: OpChunk) => void;
  private readonly keepChunks: boolean;
  private lineNo = 0;
  private carry: Uint8Array | null = null;
  private readonly headerValues: number[] = [];
  private header: TraceHeader | null = null;
  private state = new Uint8Array(0);
  private sizes = new Int32Array(0);
  private allocLine = new Int32Array(0);
  private chunk: OpChunk = newChunk();
  private opsSeen = 0;
  private payload = 0;
  private readonly info: Omit<TraceInfo, "name" | "header" | "leftoverBlocks" | "leftoverBytes">;
  private leftoverBlocks = 0;
  private idsLine = 0;
  private readonly tok = new Int32Array(8);

  constructor(file: string, onChunk: (chunk: OpChunk) => void, keepChunks = false) {
    this.file = file;
    this.onChunk = onChunk;
    this.keepChunks = keepChunks;
    this.info = {
      allocs: 0,
      frees: 0,
      reallocs: 0,
      peakPayloadBytes: 0,
      peakPayloadOp: 0,
      maxRequestBytes: 0,
    };
  }

  /** Lines consumed so far. */
  get line(): number {
    return this.lineNo;
  }

  push(bytes: Uint8Array): void {
    let pos = 0;
    if (this.carry !== null) {
      const nl = bytes.indexOf(Ch.Lf);
      if (nl < 0) {
        this.carry = concat(this.carry, bytes);
        return;
      }
      const line = concat(this.carry, bytes.subarray(0, nl));
      this.carry = null;
      this.parseLine(line, 0, line.length);
      pos = nl + 1;
    }
    const n = bytes.length;
    while (pos < n) {
      const nl = bytes.indexOf(Ch.Lf, pos);
      if (nl < 0) {
        this.carry = bytes.slice(pos);
        return;
      }
      this.parseLine(bytes, pos, nl);
      pos = nl + 1;
    }
  }

  /** Ends the input: parses a last line without newline, checks the op count, returns the info. */
  end(): TraceInfo {
    if (this.carry !== null) {
      const line = this.carry;
      this.carry = null;
      this.parseLine(line, 0, line.length);
    }
    const header = this.header;
    if (header === null) {
      const missing = HEADER_FIELDS[this.headerValues.length] as string;
      const at = Math.max(1, this.lineNo);
      throw new TraceError(
        this.file,
        at,
        this.lineNo === 0
          ? "empty file: expected the header (heap size, ids, ops, weight)"
          : `the file ends inside the header: expected the ${missing}`,
      );
    }
    if (this.opsSeen !== header.ops) {
      throw new TraceError(
        this.file,
        Math.max(1, this.lineNo),
        `the file ends after ${this.opsSeen} ops, the header declares ${header.ops} (truncated?)`,
      );
    }
    if (this.chunk.length > 0) this.emit();
    let leftoverBytes = 0;
    for (let id = 0; id < this.state.length; id++) {
      if (this.state[id] === Live.Live) leftoverBytes += this.sizes[id] as number;
    }
    return {
      name: this.file,
      header,
      ...this.info,
      leftoverBlocks: this.leftoverBlocks,
      leftoverBytes,
    };
  }

  private emit(): void {
    this.onChunk(this.chunk);
    if (this.keepChunks) this.chunk = newChunk();
    else this.chunk.length = 0;
  }

  private fail(what: string): never {
    throw new TraceError(this.file, this.lineNo, what);
  }

  private parseLine(b: Uint8Array, start: number, end: number): void {
    this.lineNo++;
    if (end > start && b[end - 1] === Ch.Cr) end--;
    // Token boundaries: up to four tokens (a fourth is only ever an error).
    const tok = this.tok;
    let count = 0;
    let i = start;
    while (i < end && count < 4) {
      const c = b[i] as number;
      if (c === Ch.Space || c === Ch.Tab) {
        i++;
        continue;
      }
      tok[2 * count] = i;
      while (i < end && b[i] !== Ch.Space && b[i] !== Ch.Tab) i++;
      tok[2 * count + 1] = i;
      count++;
    }
    if (count === 0) return; // blank line
    if (this.header === null) {
      this.headerLine(b, count, end);
      return;
    }
    const t0s = tok[0] as number;
    const t0e = tok[1] as number;
    const opChar = t0e - t0s === 1 ? (b[t0s] as number) : -1;
    let op: Op;
    if (opChar === 0x61) op = Op.Alloc;
    else if (opChar === 0x66) op = Op.Free;
    else if (opChar === 0x72) op = Op.Realloc;
    else this.fail(`unknown op ${quote(b, t0s, t0e)} (expected a, f or r)`);
    const opName = op === Op.Alloc ? "a" : op === Op.Free ? "f" : "r";
    const want = op === Op.Free ? 2 : 3;
    if (count < want) {
      this.fail(
        op === Op.Free
          ? `"f" needs an id: "f <id>"`
          : `"${opName}" needs an id and a size: "${opName} <id> <bytes>"`,
      );
    }
    if (count > want)
      this.fail(`unexpected ${quote(b, tok[2 * want] as number, end)} after the op`);
    const header = this.header;
    if (this.opsSeen >= header.ops) {
      this.fail(`more ops than the ${header.ops} the header declares`);
    }
    const t1s = tok[2] as number;
    const t1e = tok[3] as number;
    const id = parseUint(b, t1s, t1e);
    if (id < 0) this.fail(`id ${quote(b, t1s, t1e)} is not a non-negative integer`);
    if (id >= header.ids) {
      this.fail(
        `id ${id} is out of range: the header declares ${header.ids} ids` +
          (header.ids > 0 ? ` (0..${header.ids - 1})` : ""),
      );
    }
    let size = 0;
    if (op !== Op.Free) {
      const t2s = tok[4] as number;
      const t2e = tok[5] as number;
      if (b[t2s] === Ch.Minus && parseUint(b, t2s + 1, t2e) >= 0) {
        this.fail(`negative size ${quote(b, t2s, t2e)}`);
      }
      size = parseUint(b, t2s, t2e);
      if (size < 0) this.fail(`size ${quote(b, t2s, t2e)} is not a non-negative integer`);
      if (size > MAX_SIZE) this.fail(`size ${size} is too large (at most ${MAX_SIZE} bytes)`);
    }
    const st = this.state[id] as number;
    if (op === Op.Alloc) {
      if (st === Live.Live) {
        this.fail(
          `id ${id} is allocated again, but its block from line ${this.allocLine[id]} is live`,
        );
      }
      this.state[id] = Live.Live;
      this.sizes[id] = size;
      this.allocLine[id] = this.lineNo;
      this.payload += size;
      this.leftoverBlocks++;
      this.info.allocs++;
    } else {
      if (st !== Live.Live) {
        const why = st === Live.Never ? "never allocated" : "already freed";
        this.fail(`${op === Op.Free ? "free" : "realloc"} of id ${id}, which is ${why}`);
      }
      if (op === Op.Free) {
        this.state[id] = Live.Freed;
        this.payload -= this.sizes[id] as number;
        this.leftoverBlocks--;
        this.info.frees++;
      } else {
        this.payload += size - (this.sizes[id] as number);
        this.sizes[id] = size;
        this.info.reallocs++;
      }
    }
    if (this.payload > this.info.peakPayloadBytes) {
      this.info.peakPayloadBytes = this.payload;
      this.info.peakPayloadOp = this.opsSeen + 1;
    }
    if (size > this.info.maxRequestBytes) this.info.maxRequestBytes = size;
    const c = this.chunk;
    const k = c.length;
    c.op[k] = op;
    c.id[k] = id;
    c.size[k] = size;
    c.line[k] = this.lineNo;
    c.length = k + 1;
    this.opsSeen++;
    if (c.length === c.op.length) this.emit();
  }

  private headerLine(b: Uint8Array, count: number, end: number): void {
    const field = HEADER_FIELDS[this.headerValues.length] as string;
    const s = this.tok[0] as number;
    const value = count === 1 ? parseUint(b, s, this.tok[1] as number) : -1;
    if (value < 0) {
      this.fail(
        `bad header: expected the ${field} (a non-negative integer), got ${quote(b, s, end)}`,
      );
    }
    this.headerValues.push(value);
    if (this.headerValues.length === 2) this.idsLine = this.lineNo;
    if (this.headerValues.length < 4) return;
    const [heapSize, ids, ops, weight] = this.headerValues as [number, number, number, number];
    if (ids > MAX_IDS) {
      throw new TraceError(
        this.file,
        this.idsLine,
        `bad header: ${ids} ids is more than the ${MAX_IDS} a trace may declare`,
      );
    }
    this.header = { heapSize, ids, ops, weight };
    this.state = new Uint8Array(ids);
    this.sizes = new Int32Array(ids);
    this.allocLine = new Int32Array(ids);
  }
}

/** Decimal digits in b[s..e) as a number; -1 if empty, not all digits, or past 2^53. */
function parseUint(b: Uint8Array, s: number, e: number): number {
  if (s < 0 || e <= s) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = b[i] as number;
    if (c < Ch.Zero || c > Ch.Nine) return -1;
    v = v * 10 + (c - Ch.Zero);
  }
  return Number.isSafeInteger(v) ? v : -1;
}

function quote(b: Uint8Array, s: number, e: number): string {
  const text = Buffer.from(b.subarray(s, Math.min(e, s + 40))).toString("latin1");
  return JSON.stringify(e - s > 40 ? `${text}...` : text);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** True if the file starts with the gzip magic bytes 1f 8b. */
export async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const magic = new Uint8Array(2);
    const { bytesRead } = await fh.read(magic, 0, 2, 0);
    return bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/**
 * Reads and validates the trace at `path` (gzip by its magic bytes; a name ending in .gz must
 * be gzip, else TraceError rather than gzip bytes parsed as text), handing each chunk of ops
 * to `onChunk` as it is decoded. Throws TraceError on the first malformed line; the chunks
 * handed on before it must then be disregarded. I/O errors are thrown as they are.
 */
export async function readTrace(
  path: string,
  onChunk: (chunk: OpChunk) => void,
  options: { keepChunks?: boolean; highWaterMark?: number } = {},
): Promise<TraceInfo> {
  const gzip = await isGzip(path);
  if (!gzip && /\.gz$/i.test(path)) {
    throw new TraceError(
      path,
      1,
      "not gzip data: the name ends in .gz, but the file does not start with gzip's magic bytes 1f 8b",
    );
  }
  const parser = new RepParser(path, onChunk, options.keepChunks ?? false);
  const raw = createReadStream(path, { highWaterMark: options.highWaterMark ?? 1 << 16 });
  const stream = gzip ? raw.pipe(createGunzip()) : raw;
  if (gzip) raw.on("error", (err) => stream.destroy(err));
  try {
    for await (const piece of stream as AsyncIterable<Buffer>) parser.push(piece);
  } catch (err) {
    if (err instanceof TraceError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (gzip && typeof code === "string" && code.startsWith("Z_")) {
      const what =
        code === "Z_BUF_ERROR"
          ? "the gzip data ends early (truncated file)"
          : `the gzip data is corrupt (${(err as Error).message})`;
      throw new TraceError(path, parser.line + 1, what);
    }
    throw err;
  } finally {
    raw.destroy();
  }
  return parser.end();
}
