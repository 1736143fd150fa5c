/*
 * `webserver`: the slab case. Connections arrive in bursts (the arrival rate switches between
 * a busy and a quiet phase); each holds a connection object and a 1 KiB header buffer, and
 * serves a few keep-alive requests. A request allocates a request object, a handful of small
 * header strings, a response buffer, and network buffers (a 232-byte skb head and 2 KiB of data
 * per 1448-byte segment) that are freed as soon as they are acknowledged. Many objects of a
 * few sizes, most of them short-lived: what object caches are for.
 *
 * Time is in ticks; every event (arrival, request, close, a buffer's release) happens at a
 * tick drawn from exponential distributions, processed in time order.
 */

import { Prng } from "../prng.js";
import type { TraceSource } from "../source.js";
import { EventQueue, TraceBuilder } from "./builder.js";
import { exponential, logUniform, pickWeighted, uniform } from "./dist.js";

const enum Ev {
  Arrive = 0,
  Request = 1,
  Close = 2,
  Free = 3,
  Phase = 4,
}

const CONN_BYTES = 448;
const HEADER_BUFFER = 1024;
const REQUEST_BYTES = 1280;
const SKB_HEAD = 232;
const SKB_DATA = 2048;
const MSS = 1448;
const RESPONSE_SIZES = [4096, 8192, 16384, 32768, 65536];
const RESPONSE_WEIGHTS = [35, 30, 20, 10, 5];
const BUSY_RATE = 0.8; // arrivals per tick
const QUIET_RATE = 0.1;
const MEAN_PHASE = 300;
const MEAN_SERVICE = 10;
const MEAN_THINK = 40;
const MEAN_ACK = 8;
const KEEPALIVE = 0.75;

export function generateWebserver(ops: number, seed: number): TraceSource {
  const rng = new Prng(seed);
  const b = new TraceBuilder(ops);
  const q = new EventQueue();
  const ev = new Int32Array(2);
  // Connection c: its object and header buffer ids.
  let conns = new Int32Array(512);
  let nConns = 0;
  let busy = true;
  q.push(0, Ev.Arrive, 0);
  q.push(exponential(rng, MEAN_PHASE), Ev.Phase, 0);
  const freeAt = (t: number, id: number): void => {
    if (id >= 0) q.push(t, Ev.Free, id);
  };
  while (!b.full && q.size > 0) {
    const now = q.pop(ev);
    const arg = ev[1] as number;
    switch (ev[0]) {
      case Ev.Phase:
        busy = !busy;
        q.push(now + exponential(rng, MEAN_PHASE), Ev.Phase, 0);
        break;
      case Ev.Arrive: {
        if (2 * nConns + 2 > conns.length) {
          const next = new Int32Array(conns.length * 2);
          next.set(conns);
          conns = next;
        }
        const c = nConns++;
        conns[2 * c] = b.alloc(CONN_BYTES);
        conns[2 * c + 1] = b.alloc(HEADER_BUFFER);
        q.push(now + exponential(rng, 1), Ev.Request, c);
        q.push(now + exponential(rng, 1 / (busy ? BUSY_RATE : QUIET_RATE)), Ev.Arrive, 0);
        break;
      }
      case Ev.Request: {
        const done = now + exponential(rng, MEAN_SERVICE);
        freeAt(done, b.alloc(REQUEST_BYTES));
        const headers = uniform(rng, 4, 16);
        for (let i = 0; i < headers; i++) freeAt(done, b.alloc(logUniform(rng, 16, 256)));
        const response = RESPONSE_SIZES[pickWeighted(rng, RESPONSE_WEIGHTS)] as number;
        freeAt(done, b.alloc(response));
        const segments = Math.min(16, Math.ceil(response / MSS));
        for (let i = 0; i < segments; i++) {
          const sent = now + ((done - now) * (i + 1)) / segments;
          const acked = sent + exponential(rng, MEAN_ACK);
          freeAt(acked, b.alloc(SKB_HEAD));
          freeAt(acked, b.alloc(SKB_DATA));
        }
        if (rng.next() < KEEPALIVE) q.push(done + exponential(rng, MEAN_THINK), Ev.Request, arg);
        else q.push(done, Ev.Close, arg);
        break;
      }
      case Ev.Close:
        b.free(conns[2 * arg] as number);
        b.free(conns[2 * arg + 1] as number);
        break;
      case Ev.Free:
        b.free(arg);
        break;
    }
  }
  return b.finish("webserver");
}
