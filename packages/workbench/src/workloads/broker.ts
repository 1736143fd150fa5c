/*
 * `broker`: an IoT message broker on a small board (an MQTT broker's shape). Sensors publish
 * fixed-size messages (a 128-byte telemetry record, now and then a 512-byte status record) to
 * a few topics; each topic keeps a bounded queue, and subscribers drain the oldest messages
 * in batches, a little slower than they fill, so the queues run near full. Queue churn of one
 * or two object sizes: the case object caches and fixed-size pools were made for.
 */

import { Prng } from "../prng.js";
import type { TraceSource } from "../source.js";
import { TraceBuilder } from "./builder.js";

const TOPICS = 8;
const QUEUE = 128;
const TELEMETRY = 128;
const STATUS = 512;

export function generateBroker(ops: number, seed: number): TraceSource {
  const rng = new Prng(seed);
  const b = new TraceBuilder(ops);
  const ring = new Int32Array(TOPICS * QUEUE);
  const head = new Int32Array(TOPICS);
  const count = new Int32Array(TOPICS);
  while (!b.full) {
    const t = rng.below(TOPICS);
    const n = count[t] as number;
    if (n < QUEUE && (n === 0 || rng.next() < 0.9)) {
      // A publish: one message into topic t.
      const id = b.alloc(rng.next() < 0.9 ? TELEMETRY : STATUS);
      if (id < 0) break;
      ring[t * QUEUE + (((head[t] as number) + n) % QUEUE)] = id;
      count[t] = n + 1;
    } else {
      // A subscriber's batch: up to 16 of the oldest messages of topic t delivered and freed.
      const batch = Math.min(n, 1 + rng.below(16));
      for (let i = 0; i < batch && !b.full; i++) {
        const h = head[t] as number;
        b.free(ring[t * QUEUE + h] as number);
        head[t] = (h + 1) % QUEUE;
        count[t] = (count[t] as number) - 1;
      }
    }
  }
  return b.finish("broker");
}
