/*
 * zstd through node:zlib, where the runtime has it (zstdCompressSync from Node 22.15 and
 * 23.8; Node 20 has none). Looked up with process.getBuiltinModule, so that the library
 * imports nothing and loads in browsers and workers alike; absent, "zstd" is simply not an
 * algorithm this runtime offers. Each call makes a Buffer (node:zlib's sync API has no
 * output-into form): zstd trades the LZ4 codec's speed for ratio.
 */

import { KmemError } from "../errors.js";

/** The node:zlib calls used (a subset of its types, so that nothing else is imported). */
export interface ZstdZlib {
  zstdCompressSync(data: Uint8Array, options?: object): Uint8Array;
  zstdDecompressSync(data: Uint8Array, options?: object): Uint8Array;
  constants: Record<string, number>;
}

/** zstd's default level (ZSTD_CLEVEL_DEFAULT), which Linux's zstd backend uses too. */
export const ZSTD_DEFAULT_LEVEL = 3;

/** node:zlib with zstd, or null. */
export function zstdZlib(): ZstdZlib | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const zlib = proc?.getBuiltinModule?.("node:zlib") as Partial<ZstdZlib> | undefined;
  if (
    zlib === undefined ||
    typeof zlib.zstdCompressSync !== "function" ||
    typeof zlib.zstdDecompressSync !== "function" ||
    zlib.constants === undefined
  ) {
    return null;
  }
  return zlib as ZstdZlib;
}

export class Zstd {
  readonly name = "zstd";
  private readonly zlib: ZstdZlib;
  private readonly options: object;

  constructor(zlib: ZstdZlib, level = ZSTD_DEFAULT_LEVEL) {
    this.zlib = zlib;
    const key = zlib.constants.ZSTD_c_compressionLevel ?? 100;
    this.options = { params: { [key]: level } };
  }

  compress(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    dstCap: number,
  ): number {
    const out = this.zlib.zstdCompressSync(src.subarray(srcOff, srcOff + len), this.options);
    if (out.length > dstCap || dstOff + out.length > dst.length) return 0;
    dst.set(out, dstOff);
    return out.length;
  }

  decompress(
    src: Uint8Array,
    srcOff: number,
    srcLen: number,
    dst: Uint8Array,
    dstOff: number,
    dstLen: number,
  ): void {
    let out: Uint8Array;
    try {
      out = this.zlib.zstdDecompressSync(src.subarray(srcOff, srcOff + srcLen), {
        maxOutputLength: dstLen,
      });
    } catch (err) {
      throw new KmemError("CORRUPTION", `zstd: corrupted stream: ${(err as Error).message}`);
    }
    if (out.length !== dstLen) {
      throw new KmemError("CORRUPTION", `zstd: the output is ${out.length} bytes, not ${dstLen}`);
    }
    dst.set(out, dstOff);
  }
}
