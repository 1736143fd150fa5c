/*
 * Page codecs: compression of one page at a time, for zram and the compressed swap cache.
 * "lz4" (the project's own LZ4 block codec) everywhere; "zstd" where node:zlib has it.
 */

import { Lz4 } from "./lz4.js";
import { Zstd, zstdZlib } from "./zstd.js";

export { Lz4, lz4Bound } from "./lz4.js";
export { fillSame, sameFilled } from "./same.js";
export { Zstd, ZSTD_DEFAULT_LEVEL, type ZstdZlib, zstdZlib } from "./zstd.js";

/** A compressor of pages: what zram's per-cpu stream (zcomp) calls. */
export interface PageCodec {
  readonly name: string;
  /**
   * Compresses `src[srcOff, srcOff + len)` into `dst` at `dstOff`, at most `dstCap` bytes.
   * Returns the compressed length, or 0 when it does not fit.
   */
  compress(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    dstCap: number,
  ): number;
  /** Decompresses into exactly `dstLen` bytes; a bad stream is a KmemError CORRUPTION. */
  decompress(
    src: Uint8Array,
    srcOff: number,
    srcLen: number,
    dst: Uint8Array,
    dstOff: number,
    dstLen: number,
  ): void;
}

/** Algorithm ids as stored in memory (a zram device's descriptor). */
export const enum Algo {
  LZ4 = 1,
  ZSTD = 2,
}

export const ALGORITHMS = ["lz4", "zstd"] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** The algorithms this runtime offers. */
export function availableAlgorithms(): Algorithm[] {
  return zstdZlib() === null ? ["lz4"] : ["lz4", "zstd"];
}

/** A new codec for algorithm id `id`, or null when this runtime lacks it. */
export function codecFor(id: number): PageCodec | null {
  if (id === Algo.LZ4) return new Lz4();
  if (id === Algo.ZSTD) {
    const zlib = zstdZlib();
    return zlib === null ? null : new Zstd(zlib);
  }
  return null;
}

export function algoId(name: Algorithm): number {
  return name === "zstd" ? Algo.ZSTD : Algo.LZ4;
}

export function algoName(id: number): Algorithm {
  return id === Algo.ZSTD ? "zstd" : "lz4";
}
