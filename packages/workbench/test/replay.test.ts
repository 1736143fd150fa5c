/*
 * The replay engine against every registered allocator: the numbers are sane, leftovers and
 * failures are counted, and an allocator that breaks a rule (overlapping blocks, a failing
 * verify(), an exception) is caught and named.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ByteAllocator } from "kmem";
import {
  ALLOCATORS,
  type AllocatorEntry,
  findAllocator,
  UnknownNameError,
} from "../src/allocators.js";
import { defaultMemoryBytes, medianCI95, replay, warmSettled } from "../src/replay.js";
import type { TraceSource } from "../src/source.js";
import { TraceBuilder } from "../src/workloads/builder.js";
import { findWorkload } from "../src/workloads/index.js";

const MiB = 2 ** 20;

/** A small trace: allocations of mixed sizes, reallocs that grow and shrink, leftovers. */
function mixed(): TraceSource {
  const b = new TraceBuilder(3000);
  const live: number[] = [];
  let k = 0;
  while (!b.full) {
    k++;
    if (live.length > 40 && k % 3 === 0) b.free(live.splice(k % live.length, 1)[0] as number);
    else if (live.length > 0 && k % 7 === 0)
      b.realloc(live[k % live.length] as number, 8 + ((k * 37) % 9000));
    else live.push(b.alloc(1 + ((k * 131) % 5000)));
  }
  return b.finish("mixed");
}

const opts = { memoryBytes: 16 * MiB, timeLimitMs: 10_000, timingScale: 0.05 };

describe("replay: the warm-up", () => {
  it("is over once two runs in a row agree within 5% of the larger rate", () => {
    assert.equal(warmSettled(100, 104), true);
    assert.equal(warmSettled(104, 100), true);
    assert.equal(warmSettled(100, 95), true);
    assert.equal(warmSettled(100, 94.9), false);
    assert.equal(warmSettled(50, 100), false, "still compiling: twice as fast");
    assert.equal(warmSettled(0, 0), false, "nothing ran");
  });
});

describe("replay", () => {
  for (const entry of ALLOCATORS) {
    it(`${entry.name}: sane numbers, leftovers counted, contents checked`, async () => {
      const source = mixed();
      const { result: r, detail } = await replay(source, entry, opts);
      assert.equal(r.error, null);
      assert.equal(r.allocator, entry.name);
      assert.equal(r.trace, "mixed");
      assert.equal(r.ops, 3000);
      assert.equal(r.complete, true);
      assert.ok((r.opsPerSec ?? 0) > 0);
      // The pool's elements are 1 KiB: larger requests fail, by design.
      if (entry.name === "mempool") assert.ok(r.failures > 0);
      else assert.equal(r.failures, 0);
      assert.equal(r.requests, source.info.allocs + source.info.reallocs);
      // What failed was never live: the pool's payload and leftovers are smaller.
      const pool = entry.name === "mempool";
      if (!pool) assert.equal(r.peakPayloadBytes, source.info.peakPayloadBytes);
      assert.ok(r.peakFootprintBytes >= r.peakPayloadBytes, "footprint covers the payload");
      assert.ok(r.utilization > 0 && r.utilization <= 1, `utilization ${r.utilization}`);
      assert.ok(r.internalFragmentation !== null && r.internalFragmentation >= 0);
      assert.ok(r.internalFragmentation < 1);
      assert.ok(r.overheadFraction !== null && r.overheadFraction >= 0 && r.overheadFraction < 1);
      if (!pool)
        assert.deepEqual(r.leftovers, {
          blocks: source.info.leftoverBlocks,
          bytes: source.info.leftoverBytes,
        });
      assert.equal(r.contentsChecked, entry.kind !== "range");
      const l = r.latencyNs;
      // Every op is timed in the measured pass (frees of what failed to allocate are skipped).
      if (pool) assert.ok(l.samples > 0 && l.samples < 3000);
      else assert.equal(l.samples, 3000, "every op is timed in the measured pass");
      assert.ok(l.p50 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max);
      assert.equal(detail.timeline.op.at(-1), 3000);
      assert.equal(detail.timeline.op.length, detail.timeline.footprintBytes.length);
      assert.equal(
        detail.latencyBuckets.reduce((s, b) => s + b[2], 0),
        l.samples,
      );
      assert.equal(detail.buddyinfo === null, entry.kind !== "kmem");
    });
  }

  it("counts failures when memory runs out, and goes on", async () => {
    const source = findWorkload("random").generate(4000, 3);
    const { result: r } = await replay(source, findAllocator("buddy"), {
      memoryBytes: 1 * MiB,
      timingScale: 0.05,
    });
    assert.equal(r.error, null);
    assert.ok(r.failures > 0);
    assert.ok(r.peakPayloadBytes < source.info.peakPayloadBytes, "failed blocks are no payload");
    assert.equal(r.ops, 4000);
  });

  it("stops a pass at the time limit and says so", async () => {
    const source = findWorkload("random").generate(40_000, 1);
    const slow: AllocatorEntry = {
      ...findAllocator("malloc"),
      name: "slow",
      async create(bytes) {
        const c = await findAllocator("malloc").create(bytes);
        const a = c.allocator;
        const alloc = (size: number): number => {
          const until = performance.now() + 0.02;
          while (performance.now() < until);
          return a.alloc(size);
        };
        return { ...c, allocator: { ...a, alloc } };
      },
    };
    const { result: r } = await replay(source, slow, {
      memoryBytes: 16 * MiB,
      timeLimitMs: 50,
      timingScale: 0.05,
    });
    assert.equal(r.complete, false);
    assert.ok(r.ops < 40_000 && r.ops > 0);
    assert.equal(r.latencyNs.samples, r.ops, "the measured pass covers the same ops");
  });

  /** An entry whose allocator is slub's with `patch` applied. */
  function broken(
    name: string,
    patch: (a: ByteAllocator) => Partial<ByteAllocator>,
  ): AllocatorEntry {
    const slub = findAllocator("slub");
    return {
      ...slub,
      name,
      async create(bytes, reuse) {
        const c = await slub.create(bytes, reuse);
        return { ...c, allocator: { ...c.allocator, ...patch(c.allocator) } };
      },
    };
  }

  it("catches an allocator that hands out overlapping blocks", async () => {
    let last = -1;
    const overlapping = broken("overlapping", (a) => ({
      alloc(size: number): number {
        const h = a.alloc(size);
        // Every fifth block starts 8 bytes into the block before it.
        const k = last;
        last = h;
        return k > 0 && h % 5 === 0 ? k + 8 : h;
      },
      free(): void {},
      realloc: undefined,
      usableSize: (_addr: number, size: number) => size,
    }));
    const { result: r } = await replay(mixed(), overlapping, opts);
    assert.match(
      r.error ?? "",
      /^overlapping: mixed:\d+: contents check failed (at free|before realloc): block of id \d+ at 0x[0-9a-f]+ \(\d+ bytes\), byte \d+ is 0x[0-9a-f]+, expected 0x[0-9a-f]+/,
    );
    assert.equal(r.complete, false);
    assert.equal(r.contentsChecked, false);
  });

  it("catches a verify() that fails, and an exception, naming the line", async () => {
    const bad = broken("bad-verify", () => ({
      verify(): void {
        throw new Error("CORRUPTION: made up");
      },
    }));
    const { result: v } = await replay(mixed(), bad, opts);
    assert.match(
      v.error ?? "",
      /^bad-verify: mixed:\d+: verify\(\) failed after this op: CORRUPTION: made up$/,
    );
    const throwing = broken("throwing", (a) => ({
      free(addr: number, size: number): void {
        if (size % 2 === 1) throw new Error("odd");
        a.free(addr, size);
      },
    }));
    const { result: t } = await replay(mixed(), throwing, opts);
    assert.match(t.error ?? "", /^throwing: threw during the timed pass: odd$/);
  });

  it("without a contents check, nothing is written into blocks", async () => {
    const { result: r } = await replay(mixed(), findAllocator("malloc"), { ...opts, check: false });
    assert.equal(r.contentsChecked, false);
    assert.equal(r.error, null);
  });

  it("a measured pass alone (timed: false) reports no speed: null, not 0", async () => {
    const { result: r } = await replay(mixed(), findAllocator("slub"), { ...opts, timed: false });
    assert.equal(r.opsPerSec, null);
    assert.equal(r.opsPerSecCI95, null);
    assert.equal(r.runs, 0);
    assert.equal(r.ops, 3000);
  });

  it("counts only ops served: a pool refusing every request has no speed to show", async () => {
    // Every request is larger than the pool's 1 KiB elements: all refused, nothing served.
    const b = new TraceBuilder(4000);
    while (!b.full) b.free(b.alloc(2000));
    const { result: r } = await replay(b.finish("big"), findAllocator("mempool"), opts);
    assert.equal(r.failures, r.requests);
    assert.equal(r.opsPerSec, null, "refused ops are no throughput");
    // Half refused: the rate counts the other half only, so it stays a rate of work done.
    const h = new TraceBuilder(4000);
    let k = 0;
    while (!h.full) h.free(h.alloc(k++ % 2 === 0 ? 2000 : 100));
    const { result: half } = await replay(h.finish("half"), findAllocator("mempool"), opts);
    assert.equal(half.failures, 1000);
    assert.ok((half.opsPerSec ?? 0) > 0);
  });

  it("the time limit stops the measured pass too (a pressure run, a slow measured pass)", async () => {
    const source = findWorkload("random").generate(40_000, 1);
    const { result: r } = await replay(source, findAllocator("slub"), {
      memoryBytes: 16 * MiB,
      timed: false,
      timeLimitMs: 0,
    });
    assert.equal(r.complete, false);
    assert.ok(r.ops > 0 && r.ops < 40_000, `${r.ops} ops`);
    assert.equal(r.latencyNs.samples, r.ops);
  });

  it("keeps no allocator once it returns, unless asked (the /proc reports ask)", async () => {
    const slub = findAllocator("slub");
    const plain = await replay(mixed(), slub, opts);
    assert.equal(plain.candidate, undefined);
    const kept = await replay(mixed(), slub, { ...opts, keepCandidate: true });
    assert.ok(kept.candidate?.kmem !== undefined);
  });

  it("says why contents were not checked", async () => {
    const [range, off, on] = await Promise.all([
      replay(mixed(), findAllocator("rmap"), opts),
      replay(mixed(), findAllocator("slub"), { ...opts, check: false }),
      replay(mixed(), findAllocator("slub"), opts),
    ]);
    assert.match(
      range.result.contentsNotChecked ?? "",
      /^a range allocator: its handles are numbers/,
    );
    assert.match(off.result.contentsNotChecked ?? "", /turned off \(--no-check\)/);
    assert.equal(on.result.contentsNotChecked, null);
  });

  it("the median rate's 95% interval from order statistics, from 6 runs on", () => {
    assert.equal(medianCI95([1, 2, 3, 4, 5]), null);
    const runs = Array.from({ length: 20 }, (_, i) => 100 + i);
    const [lo, hi] = medianCI95(runs) ?? [0, 0];
    assert.ok(lo < 110 && hi > 110 && lo >= 100 && hi <= 119, `${lo}..${hi}`);
    assert.deepEqual(medianCI95([5, 5, 5, 5, 5, 5]), [5, 5]);
  });
});

describe("registry", () => {
  it("names the known allocators when asked for an unknown one", () => {
    assert.throws(
      () => findAllocator("dlmalloc"),
      (err: unknown) =>
        err instanceof UnknownNameError &&
        err.message ===
          'unknown allocator "dlmalloc" (known: slub, slab, slob, buddy, mempool, p2, mckusick-karels, lazy-buddy, mach-zone, dynix, rmap, vmem, tlsf, @thi.ng/malloc, malloc, glibc (native))',
    );
  });

  it("gives fresh, empty instances, also over a reused buffer", async () => {
    // Native code replays whole traces in a process of its own: it makes no instance here.
    for (const entry of ALLOCATORS.filter((a) => a.kind !== "native")) {
      const a = await entry.create(4 * MiB);
      const h = a.allocator.alloc(100);
      assert.ok(h >= 0, entry.name);
      const b = await entry.create(4 * MiB, a.memory?.buffer as ArrayBuffer);
      const before = b.allocator.footprint();
      // A memory pool holds its reserve from the start (256 elements of 1 KiB); tlsf's
      // WebAssembly memory starts at one 64 KiB page.
      const limit = entry.name === "mempool" ? 300 * 1024 : 64 * 1024;
      assert.ok(before <= limit, `${entry.name}: an empty instance holds ${before} bytes`);
      assert.ok(b.allocator.alloc(100) >= 0);
    }
  });

  it("sizes memory from the peak payload", () => {
    assert.equal(defaultMemoryBytes(1000), 16 * MiB);
    assert.equal(defaultMemoryBytes(14_629_036), 64 * MiB);
    assert.equal(defaultMemoryBytes(2 ** 31), 2 ** 30);
  });
});
