/* Numbers as tables and paragraphs print them: durations, rates, bytes, shares. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { explain, rank } from "../src/recommend.js";
import {
  formatBytes,
  formatLatency,
  formatNs,
  formatOpsPerSec,
  formatPct,
  formatRate,
  formatShare,
} from "../src/units.js";
import { result } from "./results.js";

describe("units", () => {
  it("durations keep about three digits in the unit that fits", () => {
    const cases: [number, string][] = [
      [0, "0 ns"],
      [87, "87 ns"],
      [999, "999 ns"],
      [1200, "1.2 µs"],
      [35_400, "35 µs"],
      [999_949, "1000 µs"],
      [999_950, "1.0 ms"],
      // What the report and recommend printed as `8258 µs` and `max ns 28315348`.
      [8_258_000, "8.3 ms"],
      [28_315_348, "28 ms"],
      [1.4e9, "1.4 s"],
    ];
    for (const [ns, text] of cases) assert.equal(formatNs(ns), text, String(ns));
  });

  it("rates: k and M with three digits; null is not measured", () => {
    assert.equal(formatRate(3000), "3.00k");
    assert.equal(formatRate(456_789), "457k");
    assert.equal(formatRate(12_345_678), "12.3M");
    assert.equal(formatRate(87), "87");
    assert.equal(formatRate(null), "-");
    assert.equal(formatOpsPerSec(3000), "3.00 k ops/s");
    assert.equal(formatOpsPerSec(2.5e6), "2.50 M ops/s");
    assert.equal(formatOpsPerSec(40), "40 ops/s");
    assert.equal(formatOpsPerSec(null), "not measured");
  });

  it("bytes and shares", () => {
    assert.equal(formatBytes(64 << 20), "64 MiB");
    assert.equal(formatBytes(1536), "1.5 KiB");
    assert.equal(formatPct(0.1234), "12.3%");
    assert.equal(formatPct(null), "-");
    assert.equal(formatShare(0.004), "0.40%");
  });

  it("the reason paragraph says 3.00 k ops/s, not 0.00 M ops/s, and 8.3 ms, not 8258 µs", () => {
    const slow = result("slow", {
      opsPerSec: 3000,
      latencyNs: { p50: 100, p99: 400, p999: 8_258_000, max: 9e6, samples: 1000, floorNs: 10 },
    });
    const text = explain(rank([slow], [slow]), "t.rep", 1 << 20);
    assert.match(text, /runs at 3\.00 k ops\/s/);
    assert.match(text, /takes 8\.3 ms at the 99\.9th percentile/);
    assert.doesNotMatch(text, /0\.00 M ops\/s|µs/);
  });
});

describe("latency against the clock's floor", () => {
  it("below the floor an op cannot be told from 0: '<10 ns', not '0 ns' or '1 ns'", () => {
    assert.equal(formatLatency(0, 10), "<10 ns");
    assert.equal(formatLatency(1, 10), "<10 ns");
    assert.equal(formatLatency(10, 10), "10 ns");
    assert.equal(formatLatency(8_258_000, 10), "8.3 ms");
  });
});
