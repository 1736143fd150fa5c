/*
 * Sleeping allocations: with memory exhausted, a GFP_KERNEL allocation in a worker waits
 * (Atomics.wait on the free wait queue) and is woken by a free in another worker; without a
 * free it gives up after its bound; __GFP_NOFAIL waits past the bound; the Promise variants
 * wait without blocking the main thread.
 *
 * Nothing here depends on how fast a worker starts or runs: a freeing worker frees only when
 * the main thread lets it (a word of the flag buffer), once the sleeper is counted among the
 * free wait queue's waiters (Hdr.FREE_WAITERS). A shared flag raised just before the free
 * shows which side of it an allocation returned on.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { __GFP_MEMALLOC, __GFP_NOFAIL, GFP_KERNEL, GFP_NOWAIT, Kmem } from "../../src/index.js";
import { Hdr } from "../../src/memory/index.js";
import { runWorker } from "../helpers.js";

const WORKER = new URL("./sleep.worker.js", import.meta.url);

interface Reply {
  cpu: number;
  addr?: number;
  flagged?: boolean;
  stalls?: number;
}

function start(job: Record<string, unknown>): Promise<Reply> {
  return runWorker<Reply>(WORKER, job);
}

/** An instance with every page taken (by the main thread, cpu 0), and those pages. */
function full(allocWaitMs = 100): { mm: Kmem; taken: number[] } {
  const mm = new Kmem({ memory: 1 << 20, cpus: 4, minFreeBytes: 0, allocWaitMs });
  const taken: number[] = [];
  for (;;) {
    const a = mm.allocPages(0, __GFP_MEMALLOC | GFP_NOWAIT);
    if (a === 0) break;
    taken.push(a);
  }
  mm.drainPages();
  assert.equal(mm.allocPages(0, GFP_NOWAIT), 0);
  return { mm, taken };
}

/** Polls `ready` every few ms, however long it takes (a busy machine only makes it slower). */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Contexts sleeping on the free wait queue. */
function freeWaiters(mm: Kmem): number {
  return Atomics.load(new Int32Array(mm.buffer, 0, Hdr.FREE_WAITERS + 1), Hdr.FREE_WAITERS);
}

/** Until a context sleeps for a free, then lets the freeing worker free. */
async function freeOnceSleeping(mm: Kmem, flag: SharedArrayBuffer): Promise<void> {
  await until(() => freeWaiters(mm) > 0);
  letFree(flag);
}

/** Until the freeing worker is attached (a sleeper asks every online cpu for its pages). */
function attached(flag: SharedArrayBuffer): Promise<void> {
  const f = new Int32Array(flag);
  return until(() => Atomics.load(f, 2) !== 0);
}

/** Lets the freeing worker free now. */
function letFree(flag: SharedArrayBuffer): void {
  const f = new Int32Array(flag);
  Atomics.store(f, 1, 1);
  Atomics.notify(f, 1);
}

function release(mm: Kmem, replies: Reply[], taken: number[]): void {
  for (const r of replies) mm.offlineCpu(r.cpu);
  for (const p of taken) mm.freePages(p, 0);
  mm.verify();
}

describe("sleeping allocations", () => {
  it("a GFP_KERNEL allocation that found no memory is woken by a free in another worker", async () => {
    const { mm, taken } = full();
    const flag = new SharedArrayBuffer(12);
    const buffer = mm.buffer as SharedArrayBuffer;
    const base = { buffer, flag, order: 0, gfp: GFP_KERNEL, waitMs: 60000, pages: [] };
    const give = taken.splice(0, 2);
    const waker = start({ ...base, kind: "free", pages: give });
    await attached(flag);
    const sleeper = start({ ...base, kind: "alloc" });
    await freeOnceSleeping(mm, flag);
    const [a, b] = await Promise.all([sleeper, waker]);
    assert.notEqual(a.addr, 0, "the sleeper got memory");
    assert.equal(a.flagged, true, "only after the other worker freed some");
    assert.ok((a.stalls ?? 0) > 0);
    release(mm, [a, b], taken);
  });

  it("a worker that comes online while another sleeps frees to the buddy lists, not its pcp list", async () => {
    const { mm, taken } = full();
    const flag = new SharedArrayBuffer(12);
    const buffer = mm.buffer as SharedArrayBuffer;
    const base = { buffer, flag, order: 0, gfp: GFP_KERNEL, waitMs: 60000, pages: [] };
    // Someone must be online for the sleeper to wait at all.
    const idle = start({ ...base, kind: "free" });
    await attached(flag);
    const sleeper = start({ ...base, kind: "alloc" });
    await until(() => freeWaiters(mm) > 0);
    // The freeing worker attaches after the sleeper asked the cpus online then for their
    // pages: it is asked as it comes online, and frees at once.
    letFree(flag);
    const waker = start({ ...base, kind: "free", pages: taken.splice(0, 1) });
    const [a, b, c] = await Promise.all([sleeper, waker, idle]);
    assert.notEqual(a.addr, 0, "the sleeper got the page");
    release(mm, [a, b, c], taken);
  });

  it("gives up after allocWaitMs when nothing is freed", async () => {
    const { mm, taken } = full();
    const flag = new SharedArrayBuffer(12);
    const r = await start({
      buffer: mm.buffer,
      flag,
      kind: "alloc",
      order: 0,
      gfp: GFP_KERNEL,
      waitMs: 50,
      pages: [],
    });
    assert.equal(r.addr, 0);
    assert.ok((r.stalls ?? 0) > 0, "it waited");
    release(mm, [r], taken);
  });

  it("__GFP_NOFAIL waits past the bound until memory comes", async () => {
    const { mm, taken } = full();
    const flag = new SharedArrayBuffer(12);
    const buffer = mm.buffer as SharedArrayBuffer;
    const base = { buffer, flag, order: 0, waitMs: 10, pages: [] };
    const waker = start({ ...base, kind: "free", gfp: 0, pages: taken.splice(0, 1) });
    await attached(flag);
    const sleeper = start({ ...base, kind: "alloc", gfp: GFP_KERNEL | __GFP_NOFAIL });
    await until(() => freeWaiters(mm) > 0);
    // Five times its allocWaitMs asleep: a sleeper that stopped at the bound is gone by now
    // (the waiter count shows it), one with __GFP_NOFAIL still waits.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(freeWaiters(mm), 1, "still waiting past allocWaitMs");
    letFree(flag);
    const [a, b] = await Promise.all([sleeper, waker]);
    assert.notEqual(a.addr, 0);
    assert.equal(a.flagged, true);
    release(mm, [a, b], taken);
  });

  it("kmalloc sleeps for the page of a new slab", async () => {
    const { mm, taken } = full();
    const flag = new SharedArrayBuffer(12);
    const buffer = mm.buffer as SharedArrayBuffer;
    const base = { buffer, flag, order: 0, gfp: GFP_KERNEL, waitMs: 60000, pages: [] };
    const waker = start({ ...base, kind: "free", pages: taken.splice(0, 2) });
    await attached(flag);
    const sleeper = start({ ...base, kind: "kmalloc" });
    await freeOnceSleeping(mm, flag);
    const [a, b] = await Promise.all([sleeper, waker]);
    assert.notEqual(a.addr, 0);
    assert.equal(a.flagged, true);
    release(mm, [a, b], taken);
  });

  it("allocPagesAsync and kmallocAsync wait without blocking the main thread", async () => {
    const { mm, taken } = full(60000);
    const flag = new SharedArrayBuffer(12);
    const f = new Int32Array(flag);
    const waker = start({
      buffer: mm.buffer,
      flag,
      kind: "free",
      order: 0,
      gfp: 0,
      waitMs: 0,
      pages: taken.splice(0, 4),
    });
    // Waiting needs someone who could free: let the worker attach first.
    await attached(flag);
    let ticks = 0;
    // The free is let go from a timer of the main thread while both wait: that the timer
    // ran at all is the proof that the waits did not block the thread.
    const timer = setInterval(() => {
      ticks++;
      if (freeWaiters(mm) > 0) letFree(flag);
    }, 5);
    const page = mm.allocPagesAsync(0);
    const object = mm.kmallocAsync(100);
    const [p, o, b] = await Promise.all([page, object, waker]);
    clearInterval(timer);
    assert.notEqual(p, 0);
    assert.notEqual(o, 0);
    assert.equal(Atomics.load(f, 0), 1, "after the free");
    assert.ok(ticks > 0, "the main thread ran meanwhile");
    mm.freePages(p, 0);
    mm.kfree(o);
    release(mm, [b], taken);
  });

  it("the Promise variants resolve at once where nobody could free anything", async () => {
    const mm = new Kmem({ memory: 1 << 20, minFreeBytes: 0 });
    while (mm.allocPages(0, __GFP_MEMALLOC | GFP_NOWAIT) !== 0);
    assert.equal(await mm.allocPagesAsync(0), 0);
    assert.equal(await mm.allocPagesAsync(0, GFP_KERNEL | __GFP_NOFAIL), 0);
    await assert.rejects(mm.allocPagesAsync(99), RangeError);
    await assert.rejects(mm.kmallocAsync(-1), RangeError);
  });

  it("checks allocWaitMs", () => {
    assert.throws(() => new Kmem({ memory: 1 << 20, allocWaitMs: -1 }), /allocWaitMs must be in/);
    const mm = new Kmem({ memory: 1 << 20, cpus: 2 });
    assert.throws(() => Kmem.attach(mm.buffer, { allocWaitMs: 0.5 }), TypeError);
  });
});
