/*
 * zstd compiled to WebAssembly (clients/build.js: zstd-kmem, zstd-libc) driven from
 * JavaScript: the data goes into blocks from the module's malloc, zstd allocates its
 * contexts and tables with the same malloc, and every block is freed again. And the data the
 * tests and the benchmark compress: JSON pages, as a web server's cache would hold.
 */

import { Prng } from "../prng.js";
import type { Program } from "./program.js";

type Fn = (...args: number[]) => number;

export class Zstd {
  private readonly fns: Record<string, Fn>;
  private readonly program: Program;

  constructor(program: Program) {
    this.program = program;
    this.fns = program.exports as Record<string, Fn>;
    for (const name of ["ZSTD_compress", "ZSTD_decompress", "malloc", "free"]) {
      if (typeof this.fns[name] !== "function") throw new Error(`the module exports no ${name}`);
    }
  }

  /** zstd's version, e.g. 10507 for 1.5.7. */
  get version(): number {
    return this.call("ZSTD_versionNumber");
  }

  private call(name: string, ...args: number[]): number {
    return (this.fns[name] as Fn)(...args) >>> 0;
  }

  private bytes(): Uint8Array {
    return new Uint8Array(this.program.memory.buffer);
  }

  /** Copies `data` into a block from the module's malloc. */
  private put(data: Uint8Array): number {
    const p = this.call("malloc", data.length);
    if (p === 0) throw new Error(`malloc(${data.length}) failed`);
    this.bytes().set(data, p);
    return p;
  }

  private check(n: number, what: string): number {
    if (this.call("ZSTD_isError", n) !== 0) {
      const at = this.call("ZSTD_getErrorName", n);
      const end = this.bytes().indexOf(0, at);
      throw new Error(`${what}: ${Buffer.from(this.bytes().subarray(at, end)).toString()}`);
    }
    return n;
  }

  /**
   * Compresses `data` at `level`: one shot (ZSTD_compress allocates a context and frees it),
   * or with a context of the caller's (ZSTD_createCCtx) when `cctx` is given.
   */
  compress(data: Uint8Array, level = 3, cctx = 0): Uint8Array {
    const src = this.put(data);
    const bound = this.call("ZSTD_compressBound", data.length);
    const dst = this.call("malloc", bound);
    if (dst === 0) throw new Error(`malloc(${bound}) failed`);
    const n = this.check(
      cctx === 0
        ? this.call("ZSTD_compress", dst, bound, src, data.length, level)
        : this.call("ZSTD_compressCCtx", cctx, dst, bound, src, data.length, level),
      "ZSTD_compress",
    );
    const out = this.bytes().slice(dst, dst + n);
    this.call("free", dst);
    this.call("free", src);
    return out;
  }

  /** Decompresses a frame of `size` bytes of content (with a context, when `dctx` is given). */
  decompress(frame: Uint8Array, size: number, dctx = 0): Uint8Array {
    const src = this.put(frame);
    const dst = this.call("malloc", size);
    if (dst === 0) throw new Error(`malloc(${size}) failed`);
    const n = this.check(
      dctx === 0
        ? this.call("ZSTD_decompress", dst, size, src, frame.length)
        : this.call("ZSTD_decompressDCtx", dctx, dst, size, src, frame.length),
      "ZSTD_decompress",
    );
    const out = this.bytes().slice(dst, dst + n);
    this.call("free", dst);
    this.call("free", src);
    return out;
  }

  createCCtx(): number {
    return this.call("ZSTD_createCCtx");
  }

  freeCCtx(cctx: number): void {
    this.call("ZSTD_freeCCtx", cctx);
  }

  createDCtx(): number {
    return this.call("ZSTD_createDCtx");
  }

  freeDCtx(dctx: number): void {
    this.call("ZSTD_freeDCtx", dctx);
  }
}

const WORDS = ["id", "name", "price", "tags", "stock", "rating", "seller", "updated", "ship"];

/** `count` JSON pages of records, 2 to 60 KiB each, the same for a seed. */
export function jsonPages(count: number, seed = 1): Uint8Array[] {
  const rng = new Prng(seed);
  const enc = new TextEncoder();
  const pages: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const records: string[] = [];
    const n = 8 + rng.below(300);
    for (let r = 0; r < n; r++) {
      const fields = WORDS.slice(0, 3 + rng.below(WORDS.length - 2)).map((w) =>
        w === "tags"
          ? `"tags":[${Array.from({ length: rng.below(4) }, () => `"t${rng.below(50)}"`).join(",")}]`
          : `"${w}":${rng.below(3) === 0 ? `"${w}-${rng.below(10000)}"` : rng.below(100000)}`,
      );
      records.push(`{${fields.join(",")}}`);
    }
    pages.push(enc.encode(`{"page":${i},"items":[${records.join(",\n")}]}`));
  }
  return pages;
}
