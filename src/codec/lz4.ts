/*
 * An LZ4 block codec (the LZ4 block format, lz4_Block_format.md) for one page at a time:
 * compress and decompress between byte ranges of any Uint8Array, the managed buffer's
 * views included (a SharedArrayBuffer too), with no allocation per call.
 *
 *   sequence:  token | [literal length bytes] | literals | offset (2 bytes LE) | [match length bytes]
 *   token:     literal length (4 high bits, 15 = more bytes follow) | match length - 4 (4 low bits)
 *   lengths:   15 + the extension bytes, each 255 meaning another follows
 *   end:       the last sequence has literals only; the last 5 bytes are literals
 *              (LASTLITERALS), and no match starts in the last 12 bytes (MFLIMIT)
 *
 * The compressor is LZ4's fast one (LZ4_compress_generic, acceleration 1): a 4096-entry
 * hash table of 4-byte sequences, the skip step growing every 64 misses, a match extended
 * backwards over equal bytes. The table holds absolute positions from a counter that
 * advances by each input's length, so entries of an earlier call are recognisably stale
 * and the table is never cleared per page (clearing 16 KiB per 4 KiB page measured about
 * a third of the time).
 *
 * The decompressor trusts nothing: every length is checked against what is left of the
 * input and of the output before a byte moves, a match offset must point inside what was
 * written, and the output must come out exactly `dstLen` bytes. Every loop consumes input,
 * so a corrupted stream ends in a KmemError CORRUPTION, never a write out of bounds or a
 * hang. Output is deterministic: the same input gives the same bytes, in any context.
 */

import { KmemError } from "../errors.js";

const MINMATCH = 4;
const LASTLITERALS = 5;
const MFLIMIT = 12;
/** Inputs shorter than this are stored as literals (LZ4_minLength). */
const MIN_LENGTH = MFLIMIT + 1;
const HASH_LOG = 12;
const HASH_SHIFT = 32 - HASH_LOG;
const SKIP_TRIGGER = 6;
const MAX_DISTANCE = 65535;
/** Positions are absolute below this; past it the table is cleared and counting restarts. */
const POSITION_LIMIT = 0x40000000;

/** LZ4_compressBound: the largest output an input of `n` bytes can give. */
export function lz4Bound(n: number): number {
  return n + ((n / 255) | 0) + 16;
}

export class Lz4 {
  readonly name = "lz4";
  /** Hash of a 4-byte sequence -> its absolute position (valid when >= `base` of a call). */
  private readonly table = new Int32Array(1 << HASH_LOG);
  /** Absolute position of the next input's first byte. */
  private next = 1;

  /**
   * Compresses `src[srcOff, srcOff + len)` into `dst[dstOff, dstOff + dstCap)`. Returns the
   * compressed length, or 0 when it does not fit in `dstCap` bytes (an incompressible page:
   * the caller stores it as it is).
   */
  compress(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    dstCap: number,
  ): number {
    if (srcOff + len > src.length || len < 0) {
      throw new RangeError(
        `lz4: input ${srcOff}+${len} is outside its array (${src.length} bytes)`,
      );
    }
    if (this.next + len >= POSITION_LIMIT) {
      this.table.fill(0);
      this.next = 1;
    }
    const t = this.table;
    const cur = this.next;
    this.next = cur + len + 1;
    // An entry e of this call names position e - base; entries below `cur` are stale.
    const base = cur - srcOff;
    const end = srcOff + len;
    const oend = Math.min(dstOff + dstCap, dst.length);
    let op = dstOff;
    let anchor = srcOff;
    if (len >= MIN_LENGTH) {
      const mflimit = end - MFLIMIT;
      const matchlimit = end - LASTLITERALS;
      let ip = srcOff;
      t[hash(src, ip)] = ip + base;
      ip++;
      let forwardH = hash(src, ip);
      outer: for (;;) {
        // Find a match: step forward, faster the longer nothing matches.
        let ref = 0;
        let forwardIp = ip;
        let step = 1;
        let searchMatchNb = 1 << SKIP_TRIGGER;
        for (;;) {
          const h = forwardH;
          ip = forwardIp;
          forwardIp += step;
          step = searchMatchNb++ >>> SKIP_TRIGGER;
          if (forwardIp > mflimit) break outer;
          const e = t[h] as number;
          forwardH = hash(src, forwardIp);
          t[h] = ip + base;
          if (e < cur) continue;
          ref = e - base;
          if (ref + MAX_DISTANCE >= ip && read32(src, ref) === read32(src, ip)) break;
        }
        // Extend backwards over equal bytes.
        while (ip > anchor && ref > srcOff && src[ip - 1] === src[ref - 1]) {
          ip--;
          ref--;
        }
        // Literals.
        const litLen = ip - anchor;
        if (op + litLen + 8 + ((litLen / 255) | 0) > oend) return 0;
        let token = op++;
        if (litLen >= 15) {
          dst[token] = 15 << 4;
          let n = litLen - 15;
          for (; n >= 255; n -= 255) dst[op++] = 255;
          dst[op++] = n;
        } else {
          dst[token] = litLen << 4;
        }
        for (let i = anchor; i < ip; i++) dst[op++] = src[i] as number;
        for (;;) {
          // Offset, then the match's length.
          const offset = ip - ref;
          dst[op++] = offset & 0xff;
          dst[op++] = offset >>> 8;
          ip += MINMATCH;
          ref += MINMATCH;
          const start = ip;
          while (ip < matchlimit && src[ip] === src[ref]) {
            ip++;
            ref++;
          }
          let matchLen = ip - start;
          if (op + 1 + LASTLITERALS + ((matchLen / 255) | 0) > oend) return 0;
          if (matchLen >= 15) {
            dst[token] = (dst[token] as number) + 15;
            matchLen -= 15;
            for (; matchLen >= 255; matchLen -= 255) dst[op++] = 255;
            dst[op++] = matchLen;
          } else {
            dst[token] = (dst[token] as number) + matchLen;
          }
          anchor = ip;
          if (ip >= mflimit) break outer;
          t[hash(src, ip - 2)] = ip - 2 + base;
          // A match right here: a sequence without literals.
          const h = hash(src, ip);
          const e = t[h] as number;
          t[h] = ip + base;
          if (e >= cur) {
            ref = e - base;
            if (ref + MAX_DISTANCE >= ip && read32(src, ref) === read32(src, ip)) {
              token = op++;
              if (op > oend) return 0;
              dst[token] = 0;
              continue;
            }
          }
          break;
        }
        ip++;
        forwardH = hash(src, ip);
      }
    }
    // The last literals.
    const litLen = end - anchor;
    if (op + 1 + litLen + (((litLen + 255 - 15) / 255) | 0) > oend) return 0;
    if (litLen >= 15) {
      dst[op++] = 15 << 4;
      let n = litLen - 15;
      for (; n >= 255; n -= 255) dst[op++] = 255;
      dst[op++] = n;
    } else {
      dst[op++] = litLen << 4;
    }
    for (let i = anchor; i < end; i++) dst[op++] = src[i] as number;
    return op - dstOff;
  }

  /**
   * Decompresses the `srcLen` bytes at `src[srcOff]` into exactly `dstLen` bytes at
   * `dst[dstOff]`. A stream that is malformed, reads or writes out of its ranges, or does
   * not come out at exactly `dstLen` bytes is a KmemError CORRUPTION; `dst` may then hold
   * part of the output, never a byte outside its range.
   */
  decompress(
    src: Uint8Array,
    srcOff: number,
    srcLen: number,
    dst: Uint8Array,
    dstOff: number,
    dstLen: number,
  ): void {
    let ip = srcOff;
    const iend = srcOff + srcLen;
    let op = dstOff;
    const oend = dstOff + dstLen;
    if (srcLen <= 0 || iend > src.length || oend > dst.length) corrupt("the ranges", ip - srcOff);
    for (;;) {
      if (ip >= iend) corrupt("a token is missing", ip - srcOff);
      const token = src[ip++] as number;
      let litLen = token >>> 4;
      if (litLen === 15) {
        for (;;) {
          if (ip >= iend) corrupt("a literal length runs past the end", ip - srcOff);
          const s = src[ip++] as number;
          litLen += s;
          if (s !== 255) break;
        }
      }
      if (litLen > iend - ip) corrupt("literals run past the input", ip - srcOff);
      if (litLen > oend - op) corrupt("literals run past the output", ip - srcOff);
      for (const stop = ip + litLen; ip < stop;) dst[op++] = src[ip++] as number;
      if (ip === iend) {
        if (op !== oend) corrupt(`the output is ${op - dstOff} bytes, not ${dstLen}`, ip - srcOff);
        return;
      }
      if (iend - ip < 2) corrupt("an offset is cut short", ip - srcOff);
      const offset = (src[ip] as number) | ((src[ip + 1] as number) << 8);
      ip += 2;
      if (offset === 0 || offset > op - dstOff)
        corrupt(`offset ${offset} points before the output`, ip - srcOff);
      let matchLen = token & 15;
      if (matchLen === 15) {
        for (;;) {
          if (ip >= iend) corrupt("a match length runs past the end", ip - srcOff);
          const s = src[ip++] as number;
          matchLen += s;
          if (s !== 255) break;
        }
      }
      matchLen += MINMATCH;
      if (matchLen > oend - op) corrupt("a match runs past the output", ip - srcOff);
      let from = op - offset;
      if (offset < matchLen || matchLen < 32) {
        for (const stop = op + matchLen; op < stop;) dst[op++] = dst[from++] as number;
      } else {
        dst.copyWithin(op, from, from + matchLen);
        op += matchLen;
      }
    }
  }
}

function hash(b: Uint8Array, i: number): number {
  return Math.imul(read32(b, i), -1640531535) >>> HASH_SHIFT;
}

function read32(b: Uint8Array, i: number): number {
  return (
    (b[i] as number) |
    ((b[i + 1] as number) << 8) |
    ((b[i + 2] as number) << 16) |
    ((b[i + 3] as number) << 24)
  );
}

function corrupt(what: string, at: number): never {
  throw new KmemError("CORRUPTION", `lz4: corrupted stream at byte ${at}: ${what}`);
}
