/* Ranking and its reason from measurements, and the latency histogram behind the percentiles. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { LatencyHistogram } from "../src/latency.js";
import { explain, pressureMemoryBytes, rank } from "../src/recommend.js";
import { result } from "./results.js";

describe("rank", () => {
  it("ranks a run stopped at the time limit after the complete ones, and says so", () => {
    // The partial run looks best on every figure: it stopped before the trace's peak.
    const partial = result("partial", { complete: false, ops: 10, opsPerSec: 9e6, utilization: 1 });
    const done = result("done", { opsPerSec: 1e6, utilization: 0.5 });
    const ranked = rank([partial, done], [result("partial"), result("done")]);
    assert.deepEqual(
      ranked.map((x) => [x.allocator, x.complete]),
      [
        ["done", true],
        ["partial", false],
      ],
    );
    assert.equal(ranked[0]?.scores.speed, 1, "scored against the complete runs");
    const text = explain(ranked, "t.rep", 1 << 20);
    assert.match(
      text,
      /partial did not finish within the time limit \(its replay stopped after 10 ops\): ranked after/,
    );
    assert.doesNotMatch(text, /partial comes second/);
  });

  it("puts the candidate that is better on every criterion first, with a score of 1", () => {
    const good = result("good", { opsPerSec: 5e6, utilization: 0.9, overheadFraction: 0.05 });
    const bad = result("bad", {
      opsPerSec: 5e4,
      utilization: 0.3,
      latencyNs: { p50: 1000, p99: 9000, p999: 20000, max: 1e6, samples: 1000, floorNs: 10 },
    });
    const ranked = rank([bad, good], [bad, good]);
    assert.deepEqual(
      ranked.map((x) => x.allocator),
      ["good", "bad"],
    );
    assert.equal(ranked[0]?.score, 1);
    assert.ok((ranked[1]?.score ?? 1) < 0.5);
    assert.equal(ranked[1]?.scores.speed, 0, "100x slower scores 0");
  });

  it("weighs failures under pressure heavily, and a misbehaving allocator scores 0", () => {
    const fast = result("fast", { opsPerSec: 4e6 });
    const steady = result("steady", { opsPerSec: 2e6 });
    const pressured = [result("fast", { failures: 100 }), result("steady")];
    const ranked = rank([fast, steady], pressured);
    assert.equal(ranked[0]?.allocator, "steady");
    const broken = result("broken", { error: "broken: contents check failed", opsPerSec: 9e9 });
    const r2 = rank([broken, steady], [broken, steady]);
    assert.equal(r2[1]?.allocator, "broken");
    assert.equal(r2[1]?.score, 0);
  });

  it("changes the winner with the goal", () => {
    const quick = result("quick", { opsPerSec: 8e6, utilization: 0.6 });
    const dense = result("dense", { opsPerSec: 1e6, utilization: 0.95, overheadFraction: 0.02 });
    assert.equal(rank([quick, dense], [quick, dense], "speed")[0]?.allocator, "quick");
    assert.equal(rank([quick, dense], [quick, dense], "memory")[0]?.allocator, "dense");
  });

  it("explains with the numbers: the winner, its figures, the others' largest loss", () => {
    const a = result("alpha", { opsPerSec: 6e6, utilization: 0.85 });
    const b = result("beta", { opsPerSec: 1.5e6, utilization: 0.9 });
    const c = result("gamma", { opsPerSec: 5e6, utilization: 0.2 });
    const pressure = [a, b, result("gamma", { failures: 250 })];
    const ranked = rank([a, b, c], pressure);
    const text = explain(ranked, "t.rep", pressureMemoryBytes(1000));
    assert.match(text, /^alpha is the best fit for t\.rep \(score 0\.\d\d of 1\)/);
    assert.match(text, /It runs at 6\.00 M ops\/s, uses its memory at 0\.85 utilization/);
    assert.match(
      text,
      /beta comes second \(0\.\d\d\): it does better on utilization \(it uses its memory at 0\.90 utilization\), but loses more on speed \(it runs at 1\.50 M ops\/s\)/,
    );
    assert.match(text, /gamma \(0\.\d\d\) loses most on (utilization|failures)/);
    assert.match(text, /gamma failed 250 of 500 requests/);
    assert.match(text, /alpha is 4\.0× as fast as beta here/);
  });

  it("pressure memory is 1.5x the peak payload in 64 KiB steps, at least 1 MiB", () => {
    assert.equal(pressureMemoryBytes(1000), 1 << 20);
    assert.equal(pressureMemoryBytes(4 << 20), 6 << 20);
    assert.equal(pressureMemoryBytes((4 << 20) + 1), (6 << 20) + 65536);
  });
});

describe("LatencyHistogram", () => {
  it("quantiles within 1/32 of the exact ones, max exact", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5_000_000 }), {
          minLength: 1,
          maxLength: 400,
          size: "max",
        }),
        fc.constantFrom(0.5, 0.9, 0.99, 0.999),
        (values, q) => {
          const h = new LatencyHistogram();
          for (const v of values) h.record(v);
          const sorted = [...values].sort((x, y) => x - y);
          const exact = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
          const got = h.quantile(q);
          assert.ok(
            got >= exact && got <= Math.max(exact * (1 + 1 / 32), exact + 1),
            `${got} vs ${exact}`,
          );
          assert.equal(h.maxNs, sorted[sorted.length - 1]);
          assert.equal(h.count, values.length);
        },
      ),
    );
  });

  it("clamps negative samples to 0 and lists non-empty buckets", () => {
    const h = new LatencyHistogram();
    h.record(-5);
    h.record(40);
    h.record(40);
    assert.equal(h.quantile(0.01), 0);
    assert.deepEqual(h.buckets(), [
      [0, 0, 1],
      [40, 40, 2],
    ]);
  });
});
