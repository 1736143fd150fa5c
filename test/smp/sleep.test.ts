/*
 * Sleeping allocations: with memory exhausted, a GFP_KERNEL allocation in a worker waits
 * (Atomics.wait on the free wait queue) and is woken by a free in another worker; without a
 * free it gives up after its bound; __GFP_NOFAIL waits past the bound; the Promise variants
 * wait without blocking the main thread. Ordering is checked with a shared flag raised just
 * before the free (no timing assertions).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { __GFP_MEMALLOC, __GFP_NOFAIL, GFP_KERNEL, GFP_NOWAIT, Kmem } from "../../src/index.js";
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
    const base = { buffer, flag, order: 0, gfp: GFP_KERNEL, waitMs: 60000, delayMs: 0, pages: [] };
    const sleeper = start({ ...base, kind: "alloc" });
    const give = taken.splice(0, 2);
    const waker = start({ ...base, kind: "free", delayMs: 300, pages: give });
    const [a, b] = await Promise.all([sleeper, waker]);
    assert.notEqual(a.addr, 0, "the sleeper got memory");
    assert.equal(a.flagged, true, "only after the other worker freed some");
    assert.ok((a.stalls ?? 0) > 0);
    release(mm, [a, b], taken);
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
      delayMs: 0,
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
    const base = { buffer, flag, order: 0, waitMs: 10, delayMs: 0, pages: [] };
    const sleeper = start({ ...base, kind: "alloc", gfp: GFP_KERNEL | __GFP_NOFAIL });
    const waker = start({ ...base, kind: "free", gfp: 0, delayMs: 400, pages: taken.splice(0, 1) });
    const [a, b] = await Promise.all([sleeper, waker]);
    assert.notEqual(a.addr, 0);
    assert.equal(a.flagged, true);
    release(mm, [a, b], taken);
  });

  it("kmalloc sleeps for the page of a new slab", async () => {
    const { mm, taken } = full();
    const flag = new SharedArrayBuffer(12);
    const buffer = mm.buffer as SharedArrayBuffer;
    const base = { buffer, flag, order: 0, gfp: GFP_KERNEL, waitMs: 60000, delayMs: 0, pages: [] };
    const sleeper = start({ ...base, kind: "kmalloc" });
    const waker = start({ ...base, kind: "free", delayMs: 300, pages: taken.splice(0, 2) });
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
      delayMs: 300,
      pages: taken.splice(0, 4),
    });
    // Waiting needs someone who could free: let the worker attach first.
    while (Atomics.load(f, 2) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
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
