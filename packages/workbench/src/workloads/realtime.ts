/*
 * `realtime`: the memory-pool case. Messages of three fixed sizes (64-byte control messages,
 * 256-byte sample frames, 1 KiB bulk frames) pass through a bounded queue: a producer
 * allocates, a consumer frees the oldest message (FIFO), and the queue never holds more than
 * QUEUE messages, so the live set is bounded and known in advance. What matters here is the
 * worst-case time of an op and never failing, not the bytes.
 */

import { Prng } from "../prng.js";
import type { TraceSource } from "../source.js";
import { TraceBuilder } from "./builder.js";
import { pickWeighted } from "./dist.js";

const QUEUE = 256;
const SIZES = [64, 256, 1024];
const WEIGHTS = [0.5, 0.4, 0.1];

export function generateRealtime(ops: number, seed: number): TraceSource {
  const rng = new Prng(seed);
  const b = new TraceBuilder(ops);
  const ring = new Int32Array(QUEUE);
  let head = 0; // oldest
  let count = 0;
  // The producer runs in bursts (a frame of sensor samples), the consumer drains steadily.
  let burst = 0;
  while (!b.full) {
    const produce = count === 0 || (count < QUEUE && (burst > 0 || rng.next() < 0.48));
    if (produce) {
      if (burst > 0) burst--;
      else if (rng.next() < 0.02) burst = 8 + rng.below(32);
      const id = b.alloc(SIZES[pickWeighted(rng, WEIGHTS, 1)] as number);
      if (id < 0) break;
      ring[(head + count) % QUEUE] = id;
      count++;
    } else {
      b.free(ring[head] as number);
      head = (head + 1) % QUEUE;
      count--;
    }
  }
  return b.finish("realtime");
}
