/*
 * The stress workload that the main thread and each worker run at once over one instance
 * (test/smp/workers.test.ts): seeded random kmalloc/kfree, cache alloc/free, page
 * alloc/free, vmalloc/vfree and the elements of a shared mempool, and objects passed to the next participant through a ring in a
 * SharedArrayBuffer, who frees them (a remote free). Every object carries a stamp (owner,
 * serial, address) written at allocation and checked at free: an object handed out twice
 * at once, or freed while another context still writes it, shows up as a broken stamp.
 *
 *   ring (i32):  0 head (consumer)  1 tail (producer)  2 done (producer)  3 cap
 *                4.. slots: address, stamp
 */

import { Kmem, type KmemCache } from "../../src/index.js";
import { Prng } from "../prng.js";

export const enum Ring {
  HEAD = 0,
  TAIL = 1,
  DONE = 2,
  CAP = 3,
  SLOTS = 4,
}

export function newRing(cap: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer((Ring.SLOTS + 2 * cap) * 4);
  new Int32Array(sab)[Ring.CAP] = cap;
  return sab;
}

export interface StressResult {
  who: number;
  allocs: number;
  frees: number;
  sent: number;
  received: number;
  failures: number;
  /** Broken stamps found (must be 0). */
  broken: string[];
}

export interface StressConfig {
  who: number;
  seed: number;
  ops: number;
  /** Stop early past this time (ms since the epoch); the run stays correct. */
  deadline: number;
  /** Ring this participant sends into, and the one it receives from. */
  out: SharedArrayBuffer;
  in: SharedArrayBuffer;
  cacheNames: string[];
  /** The shared memory pool (pool.address in the main thread), opened by each participant. */
  poolAddress: number;
}

interface Held {
  addr: number;
  kind: 0 | 1 | 2 | 3 | 4; // kmalloc, cache, pages, vmalloc, mempool
  cache: number;
  order: number;
  stamp: number;
}

const CACHE_SIZES = [64, 200];

/** The caches the participants share (made once, by the main thread). */
export function makeCaches(mm: Kmem): string[] {
  const names = ["stress64", "stress200"];
  names.forEach((n, i) => mm.createCache(n, CACHE_SIZES[i] as number));
  return names;
}

function stampWord(who: number, serial: number): number {
  return ((who & 0xff) << 24) | (serial & 0xffffff);
}

/** Runs one participant's share to the end, then gives back everything it holds. */
export function stress(mm: Kmem, cfg: StressConfig): StressResult {
  const rng = new Prng(cfg.seed);
  const caches = cfg.cacheNames.map((n) => mm.findCache(n) as KmemCache);
  const pool = mm.openMempool(cfg.poolAddress);
  const out = new Int32Array(cfg.out);
  const inn = new Int32Array(cfg.in);
  const held: Held[] = [];
  const r: StressResult = {
    who: cfg.who,
    allocs: 0,
    frees: 0,
    sent: 0,
    received: 0,
    failures: 0,
    broken: [],
  };
  let serial = 0;

  const stampIt = (addr: number): number => {
    const s = stampWord(cfg.who, ++serial);
    // Through the accessors: with NUMA nodes in buffers of their own, any node's bytes.
    mm.setInt32(addr, s);
    mm.setInt32(addr + 4, addr ^ 0x5a5a5a5a);
    return s;
  };
  const check = (addr: number, stamp: number, what: string): void => {
    if (mm.getInt32(addr) !== stamp || mm.getInt32(addr + 4) !== (addr ^ 0x5a5a5a5a)) {
      if (r.broken.length < 5) {
        r.broken.push(
          `${what} at 0x${addr.toString(16)}: stamp ${mm.getInt32(addr)} expected ${stamp}`,
        );
      }
    }
  };
  const release = (h: Held): void => {
    check(h.addr, h.stamp, `participant ${cfg.who}`);
    if (h.kind === 0) mm.kfree(h.addr);
    else if (h.kind === 1) (caches[h.cache] as KmemCache).free(h.addr);
    else if (h.kind === 2) mm.freePages(h.addr, h.order);
    else if (h.kind === 3) mm.vfree(h.addr);
    else pool.free(h.addr);
    r.frees++;
  };
  const receive = (): boolean => {
    const head = Atomics.load(inn, Ring.HEAD);
    if (head === Atomics.load(inn, Ring.TAIL)) return false;
    const cap = inn[Ring.CAP] as number;
    const slot = Ring.SLOTS + 2 * (head % cap);
    const addr = inn[slot] as number;
    const stamp = inn[slot + 1] as number;
    Atomics.store(inn, Ring.HEAD, head + 1);
    check(addr, stamp, `received by ${cfg.who}`);
    mm.kfree(addr);
    r.received++;
    return true;
  };

  for (let i = 0; i < cfg.ops; i++) {
    if ((i & 255) === 0 && Date.now() > cfg.deadline) break;
    const dice = rng.below(100);
    if (dice < 30 || held.length === 0) {
      // Allocate: kmalloc of a random size, an object of a cache, pages, a vmalloc area of
      // one to three pages, or a mempool element.
      const kind = dice < 14 ? 0 : dice < 24 ? 1 : dice < 27 ? 2 : dice < 28 ? 3 : 4;
      let addr = 0;
      let cache = 0;
      let order = 0;
      if (kind === 0) addr = mm.kmalloc(8 + rng.below(2000));
      else if (kind === 1) {
        cache = rng.below(caches.length);
        addr = (caches[cache] as KmemCache).alloc();
      } else if (kind === 2) {
        order = rng.below(3);
        addr = mm.allocPages(order);
      } else if (kind === 3) {
        addr = mm.vmalloc(4096 * (1 + rng.below(3)) - rng.below(100));
      } else {
        addr = pool.alloc();
      }
      if (addr === 0) {
        r.failures++;
        continue;
      }
      r.allocs++;
      held.push({ addr, kind: kind as Held["kind"], cache, order, stamp: stampIt(addr) });
    } else if (dice < 55) {
      // Free one of ours (the same cpu, mostly).
      const k = rng.below(held.length);
      const h = held[k] as Held;
      held[k] = held[held.length - 1] as Held;
      held.pop();
      release(h);
    } else if (dice < 80) {
      // Send a kmalloc object to the next participant, who frees it.
      const addr = mm.kmalloc(16 + rng.below(300));
      if (addr === 0) {
        r.failures++;
        continue;
      }
      r.allocs++;
      const stamp = stampIt(addr);
      const tail = out[Ring.TAIL] as number;
      const cap = out[Ring.CAP] as number;
      if (tail - Atomics.load(out, Ring.HEAD) >= cap) {
        held.push({ addr, kind: 0, cache: 0, order: 0, stamp });
        continue;
      }
      const slot = Ring.SLOTS + 2 * (tail % cap);
      out[slot] = addr;
      out[slot + 1] = stamp;
      Atomics.store(out, Ring.TAIL, tail + 1);
      r.sent++;
    } else {
      receive();
    }
  }
  // Done producing; give back what we hold, then take in the rest of what was sent to us.
  Atomics.store(out, Ring.DONE, 1);
  for (const h of held) release(h);
  held.length = 0;
  for (;;) {
    if (receive()) continue;
    if (Atomics.load(inn, Ring.DONE) === 1 && !receive()) break;
  }
  return r;
}
