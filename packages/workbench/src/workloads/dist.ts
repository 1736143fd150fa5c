/* Distributions the workload generators draw from, over the seeded Prng. */

import type { Prng } from "../prng.js";

/** Exponentially distributed with the given mean (memoryless lifetimes, arrivals). */
export function exponential(rng: Prng, mean: number): number {
  return -mean * Math.log(1 - rng.next());
}

/** Index drawn with probability proportional to `weights[i]`. */
export function pickWeighted(rng: Prng, weights: readonly number[], total?: number): number {
  const sum = total ?? weights.reduce((s, w) => s + w, 0);
  let r = rng.next() * sum;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i] as number;
    if (r < 0) return i;
  }
  return weights.length - 1;
}

/** Integer log-uniform in [lo, hi]: as many requests of 8..16 bytes as of 4K..8K. */
export function logUniform(rng: Prng, lo: number, hi: number): number {
  return Math.min(hi, Math.floor(lo * (hi / lo) ** rng.next()));
}

/** Integer uniform in [lo, hi]. */
export function uniform(rng: Prng, lo: number, hi: number): number {
  return lo + rng.below(hi - lo + 1);
}

/**
 * A set of live ids with O(1) insertion, removal and uniform random choice (swap-remove over
 * an array, with each id's position kept in a second array).
 */
export class IdSet {
  private ids = new Int32Array(256);
  private pos = new Int32Array(256).fill(-1);
  private n = 0;

  get size(): number {
    return this.n;
  }

  add(id: number): void {
    if (id < 0) return;
    if (this.n === this.ids.length) {
      const ids = new Int32Array(this.n * 2);
      ids.set(this.ids);
      this.ids = ids;
    }
    if (id >= this.pos.length) {
      const pos = new Int32Array(Math.max(id + 1, this.pos.length * 2)).fill(-1);
      pos.set(this.pos);
      this.pos = pos;
    }
    this.pos[id] = this.n;
    this.ids[this.n++] = id;
  }

  has(id: number): boolean {
    return id >= 0 && id < this.pos.length && (this.pos[id] as number) >= 0;
  }

  remove(id: number): void {
    const i = this.pos[id] as number;
    const last = this.ids[--this.n] as number;
    this.ids[i] = last;
    this.pos[last] = i;
    this.pos[id] = -1;
  }

  /** The i-th id in insertion-and-removal order (0 <= i < size). */
  at(i: number): number {
    return this.ids[i] as number;
  }

  /** A uniformly chosen id (the set must not be empty). */
  pick(rng: Prng): number {
    return this.ids[rng.below(this.n)] as number;
  }
}
