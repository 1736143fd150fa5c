/* The cross-trace summary: winners per trace and criterion, geometric means, who may win. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { summarize } from "../src/summary.js";
import { result } from "./results.js";

describe("summarize", () => {
  it("geometric means per allocator; a run that refused requests wins no memory criterion", () => {
    const s = summarize([
      {
        trace: "a",
        results: [
          result("x", { trace: "a", opsPerSec: 1e6, utilization: 0.5, peakFootprintBytes: 4000 }),
          // Smallest footprint, by refusing half the requests.
          result("refuser", { trace: "a", failures: 250, peakFootprintBytes: 100 }),
        ],
      },
      {
        trace: "b",
        results: [
          result("x", { trace: "b", opsPerSec: 4e6, utilization: 0.8, peakFootprintBytes: 1000 }),
          result("refuser", { trace: "b", peakFootprintBytes: 2000 }),
        ],
      },
    ]);
    const x = s.rows.find((r) => r.allocator === "x");
    assert.ok(Math.abs((x?.geoOpsPerSec ?? 0) - 2e6) < 1e-6, "sqrt(1e6 * 4e6)");
    assert.ok(Math.abs((x?.geoUtilization ?? 0) - Math.sqrt(0.4)) < 1e-12);
    assert.equal(s.perTrace[0]?.winners.footprint?.allocator, "x");
    assert.equal(s.perTrace[1]?.winners.footprint?.allocator, "x");
    assert.equal(s.overall.footprint, "x");
    assert.equal(s.perTrace[0]?.winners.failures?.allocator, "x");
    assert.equal(s.perTrace[1]?.winners.failures?.tied, 1, "both failed nothing on b");
    assert.equal(s.rows.find((r) => r.allocator === "x")?.wins.failures, 1, "a tie is no win");
  });

  it("a run stopped at the time limit is left out of the means and counted", () => {
    const s = summarize([
      { trace: "a", results: [result("x"), result("y", { complete: false, opsPerSec: 9e9 })] },
      { trace: "b", results: [result("x"), result("y")] },
    ]);
    const y = s.rows.find((r) => r.allocator === "y");
    assert.equal(y?.traces, 1);
    assert.equal(y?.incomplete, 1);
    assert.equal(s.perTrace[0]?.winners.speed?.allocator, "x");
    assert.equal(s.overall.speed, "x", "only those that finished every trace");
    assert.equal(s.overall.failures, "x", "y did not finish a: only x competes");
    const both = summarize([{ trace: "a", results: [result("x"), result("y")] }]);
    assert.equal(both.overall.failures, "none failed");
    assert.equal(both.overall.utilization, "x = y");
    const some = summarize([
      { trace: "a", results: [result("x"), result("y"), result("z", { failures: 3 })] },
    ]);
    assert.equal(some.overall.failures, "2 of 3 failed none");
  });
});
