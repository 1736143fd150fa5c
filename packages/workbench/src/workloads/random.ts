/*
 * `random`: the baseline. Sizes log-uniform in 8..16384 bytes, lifetimes exponential with a
 * mean of 1,000 allocations (so about 1,000 blocks live), and one op in twenty a realloc of a
 * live block to a new random size. No structure for an allocator to exploit.
 */

import { Prng } from "../prng.js";
import type { TraceSource } from "../source.js";
import { TraceBuilder, EventQueue } from "./builder.js";
import { exponential, IdSet, logUniform } from "./dist.js";

const MEAN_LIFE = 1000;
const REALLOC_SHARE = 0.05;

export function generateRandom(ops: number, seed: number): TraceSource {
  const rng = new Prng(seed);
  const b = new TraceBuilder(ops);
  const live = new IdSet();
  const deaths = new EventQueue();
  const ev = new Int32Array(2);
  let now = 0;
  while (!b.full) {
    now++;
    while (deaths.peekTime() <= now && !b.full) {
      deaths.pop(ev);
      const id = ev[1] as number;
      live.remove(id);
      b.free(id);
    }
    if (live.size > 0 && rng.next() < REALLOC_SHARE) {
      b.realloc(live.pick(rng), logUniform(rng, 8, 16384));
      continue;
    }
    const id = b.alloc(logUniform(rng, 8, 16384));
    if (id < 0) break;
    live.add(id);
    deaths.push(now + exponential(rng, MEAN_LIFE), 0, id);
  }
  return b.finish("random");
}
