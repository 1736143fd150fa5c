/*
 * `fragmenter`: adversarial for the buddy allocator and for first fit (after Robson's
 * worst-case construction). Rounds of one size each:
 *
 *   round k, size s_k:  free what is left of round k-2; allocate blocks of s_k until the
 *                       round holds BUDGET bytes (at most MAX_BLOCKS blocks); then free every
 *                       other block of the round, pinning the rest
 *
 *   memory after a round:  [s][  ][s][  ][s][  ]...     holes of exactly s_k bytes
 *
 * Sizes grow about 4x a round and are each just past a power of two (24, 72, 264, 1040, 4100,
 * 16400, 65600), then start over. First fit cannot put a block of s_{k+1} into a hole of s_k,
 * so the heap grows every round, and the small rounds that follow split the big holes so the
 * next big round cannot use them either. The buddy allocator rounds 4100 bytes up to 8 KiB and
 * 65600 to 128 KiB (half the memory wasted), and since every other block of a round is pinned,
 * no freed block's buddy is ever free: nothing coalesces.
 */

import { Prng } from "../prng.js";
import type { TraceSource } from "../source.js";
import { TraceBuilder } from "./builder.js";

const SIZES = [24, 72, 264, 1040, 4100, 16400, 65600];
const BUDGET = 2 << 20;
const MAX_BLOCKS = 4096;

export function generateFragmenter(ops: number, seed: number): TraceSource {
  const rng = new Prng(seed);
  const b = new TraceBuilder(ops);
  const rounds: number[][] = [];
  // The seed picks where the cycle of sizes starts and jitters each size by up to 7 bytes
  // (staying past the same power of two).
  const start = rng.below(SIZES.length);
  for (let k = 0; !b.full; k++) {
    const old = rounds[k - 2];
    if (old !== undefined) for (const id of old) if (b.isLive(id)) b.free(id);
    const s = (SIZES[(start + k) % SIZES.length] as number) + rng.below(8);
    const n = Math.max(2, Math.min(MAX_BLOCKS, Math.floor(BUDGET / s)));
    const ids: number[] = [];
    for (let i = 0; i < n && !b.full; i++) ids.push(b.alloc(s));
    for (let i = 1; i < ids.length && !b.full; i += 2) b.free(ids[i] as number);
    rounds[k] = ids.filter((_, i) => i % 2 === 0);
  }
  return b.finish("fragmenter");
}
