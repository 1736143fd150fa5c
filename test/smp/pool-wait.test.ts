/*
 * mempool_alloc's wait: a GFP_KERNEL pool allocation that finds allocator and reserve dry
 * sleeps on the pool's wait queue until another worker frees an element, gives up after
 * allocWaitMs, waits past it with __GFP_NOFAIL, does not wait without __GFP_DIRECT_RECLAIM
 * or where nobody could free; allocAsync waits without blocking the main thread; destroy
 * refuses while someone waits. failslab keeps the allocator failing in the allocating
 * context, so only the reserve can serve.
 *
 * Nothing here depends on how fast a worker starts or runs: a freeing worker frees only when
 * the main thread tells it to (a word of the flag buffer), and the main thread tells it only
 * once the order the test needs has happened -- the sleeper counted among the pool's
 * waiters (the descriptor's wait queue), or the non-sleeper returned. A shared flag raised
 * just before the free shows which side of it an allocation returned on.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  __GFP_MEMALLOC,
  __GFP_NOFAIL,
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOWAIT,
  Kmem,
  type KmemCache,
  KmemError,
  type Mempool,
} from "../../src/index.js";
import { runWorker } from "../helpers.js";

const WORKER = new URL("./pool-wait.worker.js", import.meta.url);
const failAll = { probability: 100, interval: 1, times: -1, ignoreGfpWait: false };

interface Reply {
  cpu: number;
  addr?: number;
  flagged?: boolean;
}

function start(job: Record<string, unknown>): Promise<Reply> {
  return runWorker<Reply>(WORKER, job);
}

/** A shared instance with a pool of two elements whose reserve the main thread has taken. */
function drained(allocWaitMs = 100): {
  mm: Kmem;
  cache: KmemCache;
  pool: Mempool;
  taken: number[];
  flag: SharedArrayBuffer;
} {
  const mm = new Kmem({ memory: 1 << 20, cpus: 4, allocWaitMs });
  const cache = mm.createCache("bio", 200) as KmemCache;
  const pool = mm.createMempool(2, cache) as Mempool;
  mm.setFault("failslab", failAll);
  const taken = [pool.alloc(GFP_ATOMIC), pool.alloc(GFP_ATOMIC)];
  assert.ok(taken.every((a) => a !== 0));
  assert.equal(pool.currNr, 0);
  mm.setFault("failslab", null);
  return { mm, cache, pool, taken, flag: new SharedArrayBuffer(12) };
}

function job(
  mm: Kmem,
  pool: Mempool,
  flag: SharedArrayBuffer,
  fields: Partial<{
    kind: string;
    gfp: number;
    waitMs: number;
    elements: number[];
  }>,
): Record<string, unknown> {
  return {
    buffer: mm.buffer,
    flag,
    pool: pool.address,
    kind: "alloc",
    gfp: GFP_KERNEL,
    waitMs: 60000,
    elements: [],
    ...fields,
  };
}

/** Polls `ready` every few ms, however long it takes (a busy machine only makes it slower). */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** `n` workers are attached once the flag's third word counts them. */
function attached(flag: SharedArrayBuffer, n: number): Promise<void> {
  const f = new Int32Array(flag);
  return until(() => Atomics.load(f, 2) >= n);
}

/** Contexts counted among the pool's waiters (the descriptor's WAITERS word, 9). */
function waiters(mm: Kmem, pool: Mempool): number {
  return mm.getInt32(pool.address + 9 * 4);
}

/** Until a context sleeps on the pool's wait queue. */
function sleeping(mm: Kmem, pool: Mempool): Promise<void> {
  return until(() => waiters(mm, pool) > 0);
}

/** Lets the freeing worker free now. */
function release(flag: SharedArrayBuffer): void {
  const f = new Int32Array(flag);
  Atomics.store(f, 1, 1);
  Atomics.notify(f, 1);
}

function finish(mm: Kmem, pool: Mempool, cache: KmemCache, replies: Reply[], held: number[]): void {
  for (const r of replies) mm.offlineCpu(r.cpu);
  for (const el of held) pool.free(el);
  assert.equal(pool.currNr, 2, "the reserve is whole again");
  pool.destroy();
  cache.destroy();
  mm.verify();
}

describe("mempool waits for a free (workers)", () => {
  it("a GFP_KERNEL allocation is woken by a free to the pool in another worker", async () => {
    const { mm, cache, pool, taken, flag } = drained();
    const sleeper = start(job(mm, pool, flag, {}));
    const waker = start(job(mm, pool, flag, { kind: "free", elements: [taken[0] as number] }));
    await sleeping(mm, pool);
    release(flag);
    const [a, b] = await Promise.all([sleeper, waker]);
    assert.equal(a.addr, taken[0], "the sleeper got the element the other worker freed");
    assert.equal(a.flagged, true, "only after that free");
    finish(mm, pool, cache, [a, b], taken.slice(1));
  });

  it("gives up after allocWaitMs when nothing is freed", async () => {
    const { mm, cache, pool, taken, flag } = drained();
    // Someone else must be online for a wait to make sense: a waker with nothing to free.
    const idle = start(job(mm, pool, flag, { kind: "free" }));
    await attached(flag, 1);
    const r = await start(job(mm, pool, flag, { waitMs: 50 }));
    assert.equal(r.addr, 0);
    assert.equal(Atomics.load(new Int32Array(flag), 0), 0, "it returned before anything was freed");
    release(flag);
    const i = await idle;
    finish(mm, pool, cache, [r, i], taken);
  });

  it("__GFP_NOFAIL waits past allocWaitMs until an element comes", async () => {
    const { mm, cache, pool, taken, flag } = drained();
    // failslab passes __GFP_NOFAIL requests: make the allocator fail for real, every
    // object of the cache and every page taken.
    const hog: number[] = [];
    for (let a = cache.alloc(GFP_NOWAIT); a !== 0; a = cache.alloc(GFP_NOWAIT)) hog.push(a);
    const pages: number[] = [];
    for (let p = mm.allocPages(0, GFP_NOWAIT | __GFP_MEMALLOC); p !== 0;) {
      pages.push(p);
      p = mm.allocPages(0, GFP_NOWAIT | __GFP_MEMALLOC);
    }
    mm.drainPages();
    const sleeper = start(job(mm, pool, flag, { gfp: GFP_KERNEL | __GFP_NOFAIL, waitMs: 10 }));
    const waker = start(job(mm, pool, flag, { kind: "free", elements: [taken[1] as number] }));
    await sleeping(mm, pool);
    // Five times its allocWaitMs asleep: a sleeper that stopped at the bound is gone by now
    // (the waiter count shows it), one with __GFP_NOFAIL still waits.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(waiters(mm, pool), 1, "still waiting past allocWaitMs");
    release(flag);
    const [a, b] = await Promise.all([sleeper, waker]);
    assert.equal(a.addr, taken[1]);
    assert.equal(a.flagged, true);
    for (const p of pages) mm.freePages(p, 0);
    for (const o of hog) cache.free(o);
    finish(mm, pool, cache, [a, b], taken.slice(0, 1));
  });

  it("GFP_ATOMIC does not wait", async () => {
    const { mm, cache, pool, taken, flag } = drained();
    const waker = start(job(mm, pool, flag, { kind: "free", elements: [taken[0] as number] }));
    await attached(flag, 1);
    const a = await start(job(mm, pool, flag, { gfp: GFP_ATOMIC }));
    assert.equal(a.addr, 0);
    assert.equal(a.flagged, false, "it returned before the free");
    release(flag);
    const b = await waker;
    finish(mm, pool, cache, [a, b], taken.slice(1));
  });

  it("destroy refuses while a worker waits, and changes nothing", async () => {
    const { mm, cache, pool, taken, flag } = drained(60000);
    const sleeper = start(job(mm, pool, flag, { waitMs: 60000 }));
    await sleeping(mm, pool);
    assert.throws(
      () => pool.destroy(),
      (err: unknown) => err instanceof KmemError && err.code === "BUSY",
    );
    assert.match(String(pool), /0\/2/);
    mm.verify();
    pool.free(taken[0] as number);
    const a = await sleeper;
    assert.equal(a.addr, taken[0]);
    finish(mm, pool, cache, [a], taken.slice(1));
  });

  it("allocAsync waits without blocking the main thread", async () => {
    const { mm, cache, pool, taken, flag } = drained(60000);
    const waker = start(job(mm, pool, flag, { kind: "free", elements: [taken[0] as number] }));
    await attached(flag, 1);
    let ticks = 0;
    // The free is let go from a timer of the main thread while allocAsync waits: that the
    // timer ran at all is the proof that the wait did not block the thread.
    const timer = setInterval(() => {
      ticks++;
      if (waiters(mm, pool) > 0) release(flag);
    }, 5);
    mm.setFault("failslab", failAll);
    const el = await pool.allocAsync();
    mm.setFault("failslab", null);
    clearInterval(timer);
    const b = await waker;
    assert.equal(el, taken[0]);
    assert.equal(Atomics.load(new Int32Array(flag), 0), 1, "after the free");
    assert.ok(ticks > 0, "the main thread ran meanwhile");
    finish(mm, pool, cache, [b], [el, taken[1] as number]);
  });
});
