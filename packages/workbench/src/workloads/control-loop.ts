/*
 * `control-loop`: a real-time loop at a fixed rate (a motor controller or an audio callback).
 * Every tick allocates the same three objects (a 64-byte sample record, a 256-byte frame, a
 * 32-byte command) and frees those of the tick DELAY ticks before, so the live set is fixed
 * and each size's allocations and frees alternate exactly. Every 100th tick also logs a
 * 1 KiB record that lives 10 ticks. What matters is the worst op (p99, max), never the bytes.
 */

import { Prng } from "../prng.js";
import type { TraceSource } from "../source.js";
import { TraceBuilder } from "./builder.js";

const DELAY = 32;
const PER_TICK = [64, 256, 32];
const LOG_EVERY = 100;
const LOG_BYTES = 1024;
const LOG_LIFE = 10;

export function generateControlLoop(ops: number, seed: number): TraceSource {
  const rng = new Prng(seed);
  const b = new TraceBuilder(ops);
  const ring = new Int32Array(DELAY * PER_TICK.length).fill(-1);
  const logs = new Int32Array(LOG_LIFE).fill(-1);
  // The seed moves the phase of the log records only: the loop itself is fixed.
  const phase = rng.below(LOG_EVERY);
  for (let tick = 0; !b.full; tick++) {
    const slot = (tick % DELAY) * PER_TICK.length;
    for (let k = 0; k < PER_TICK.length && !b.full; k++) {
      const old = ring[slot + k] as number;
      if (old >= 0) b.free(old);
      ring[slot + k] = -1;
      if (!b.full) ring[slot + k] = b.alloc(PER_TICK[k] as number);
    }
    const l = tick % LOG_LIFE;
    const oldLog = logs[l] as number;
    if (oldLog >= 0 && !b.full) {
      b.free(oldLog);
      logs[l] = -1;
    }
    if (tick % LOG_EVERY === phase && !b.full) logs[l] = b.alloc(LOG_BYTES);
  }
  return b.finish("control-loop");
}
