/*
 * `desktop`: a desktop session on a small board, a mix with no single shape. Small strings
 * and UI objects that live briefly, medium buffers (a decoded icon, a text layout) that live
 * for a while, and now and then a large surface (a window's pixels, 64 to 256 KiB) that
 * lives long; occasional reallocs of growing strings. Lifetimes are exponential in ops, with
 * a mean that grows with the size.
 */

import { Prng } from "../prng.js";
import type { TraceSource } from "../source.js";
import { EventQueue, TraceBuilder } from "./builder.js";
import { exponential, logUniform, pickWeighted } from "./dist.js";

/** Size classes: small objects, medium buffers, large surfaces. */
const WEIGHTS = [81, 18, 1];
const MEAN_LIFE = [40, 400, 1000];

export function generateDesktop(ops: number, seed: number): TraceSource {
  const rng = new Prng(seed);
  const b = new TraceBuilder(ops);
  const q = new EventQueue();
  const ev = new Int32Array(2);
  let now = 0;
  while (!b.full) {
    // Free whatever died by now, oldest first.
    while (q.size > 0 && q.peekTime() <= now && !b.full) {
      q.pop(ev);
      b.free(ev[1] as number);
    }
    if (b.full) break;
    const kind = pickWeighted(rng, WEIGHTS);
    const size =
      kind === 0
        ? logUniform(rng, 8, 256)
        : kind === 1
          ? logUniform(rng, 512, 16384)
          : logUniform(rng, 65536, 262144);
    const id = b.alloc(size);
    if (id < 0) break;
    if (kind === 0 && rng.next() < 0.05 && !b.full) b.realloc(id, size * 2);
    q.push(now + exponential(rng, MEAN_LIFE[kind] as number), 0, id);
    now++;
  }
  return b.finish("desktop");
}
