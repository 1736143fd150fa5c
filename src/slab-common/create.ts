/*
 * kmem_cache_create's arguments, checked as every object allocator checks them (Linux
 * mm/slab_common.c): a name, a size, and the options align, flags and ctor.
 */

import { checkInteger, checkIntegerRange, checkKnownKeys, describe, hex } from "../errors.js";
import type { Ctor } from "./cache.js";
import { SLAB_USER_FLAGS } from "./flags.js";

/** Options of createCache. */
export interface CacheOptions {
  /** Alignment of objects: a power of two (default 8). */
  align?: number;
  /** SLAB_* flags. */
  flags?: number;
  /** Called once per object when a slab is built; a freed object keeps its constructed state. */
  ctor?: Ctor;
}

/** A cache name in a descriptor: UTF-8, NUL padded, in BYTES bytes (so at most BYTES - 1). */
export const enum CacheName {
  BYTES = 48,
}

/** createCache's arguments, validated (what SLUB and SLOB both accept). */
export interface CacheArgs {
  name: string;
  /** The name as UTF-8, as descriptors store it. */
  nameBytes: Uint8Array;
  size: number;
  align: number;
  flags: number;
  ctor: Ctor | null;
}

const CREATE_KEYS = ["align", "flags", "ctor"] as const;

/**
 * Checks createCache's arguments: a name of at most CacheName.BYTES - 1 bytes, a size in
 * 1..maxSize, known option keys, a power-of-two align up to a page (default 8), known flags,
 * a ctor function. Throws TypeError/RangeError naming the argument.
 */
export function parseCacheArgs(
  name: unknown,
  size: unknown,
  options: unknown,
  pageSize: number,
  maxSize: number,
): CacheArgs {
  const nameBytes = encodeCacheName(name);
  checkInteger("size", size);
  if (size < 1 || size > maxSize) {
    throw new RangeError(`size must be in 1..${maxSize}, got ${size}`);
  }
  let opts: { align?: unknown; flags?: unknown; ctor?: unknown } = {};
  if (options !== undefined) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`createCache options must be an object, got ${describe(options)}`);
    }
    checkKnownKeys("createCache", options, CREATE_KEYS);
    opts = options as typeof opts;
  }
  const align = opts.align === undefined ? 8 : checkAlign(opts.align, pageSize);
  let flags = 0;
  if (opts.flags !== undefined) {
    checkInteger("flags", opts.flags);
    if (opts.flags < 0 || opts.flags > 0xffffffff || (opts.flags & ~SLAB_USER_FLAGS) !== 0) {
      // Checked before any bit operation: flags of 2^32 and more would lose their high bits.
      throw new RangeError(
        `flags has unknown bits: ${opts.flags < 0 || opts.flags > 0xffffffff ? opts.flags : hex(opts.flags)}`,
      );
    }
    flags = opts.flags;
  }
  const ctor = checkCtor(opts.ctor);
  return { name: name as string, nameBytes, size, align, flags, ctor };
}

/** Checks a ctor option. */
export function checkCtor(ctor: unknown): Ctor | null {
  if (ctor === undefined || ctor === null) return null;
  if (typeof ctor !== "function") {
    throw new TypeError(`ctor must be a function, got ${describe(ctor)}`);
  }
  return ctor as Ctor;
}

const UTF8 = new TextEncoder();

/** Validates createCache's name: 1..47 bytes of UTF-8. Returns the encoded bytes. */
export function encodeCacheName(name: unknown): Uint8Array {
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError(`cache name must be a non-empty string, got ${describe(name)}`);
  }
  const bytes = UTF8.encode(name);
  if (bytes.length >= CacheName.BYTES) {
    throw new RangeError(
      `cache name must be at most ${CacheName.BYTES - 1} bytes of UTF-8, got ${bytes.length} (${JSON.stringify(name)})`,
    );
  }
  return bytes;
}

/** Validates an alignment: a power of two from 1 to `max`. */
export function checkAlign(align: unknown, max: number): number {
  checkIntegerRange("align", align, 1, max);
  if ((align & (align - 1)) !== 0) {
    throw new RangeError(`align must be a power of two, got ${align}`);
  }
  return align;
}
