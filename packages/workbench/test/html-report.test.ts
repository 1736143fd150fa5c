/* The report's page as text: colours, structure, units (the browser test draws it). */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALLOCATORS } from "../src/allocators.js";
import { reportCharts, type ReportData } from "../src/html-report.js";
import { deltaE, PALETTE, seriesStyles } from "../src/palette.js";
import type { ReplayDetail } from "../src/replay.js";
import { result } from "./results.js";

const DETAIL: ReplayDetail = {
  timeline: { op: [0, 10], footprintBytes: [0, 4096], payloadBytes: [0, 100] },
  latencyBuckets: [[10, 10, 5]],
  buddyinfo: null,
  heapMap: null,
};

function data(names: readonly string[]): ReportData {
  return {
    title: "t",
    subtitle: "s",
    workloads: [
      {
        name: "w",
        description: "d",
        ops: 10,
        peakPayloadBytes: 100,
        memoryBytes: 16 << 20,
        outcomes: names.map((n) => ({ result: result(n), detail: DETAIL })),
      },
    ],
  };
}

describe("report colours", () => {
  it("every allocator of the registry has a colour of its own (slub and malloc were both #1f77b4)", () => {
    const names = ALLOCATORS.map((a) => a.name);
    const { overall } = reportCharts(data(names));
    const config = overall[0]?.config as { data: { datasets: { backgroundColor: string }[] } };
    const colors = config.data.datasets.map((d) => d.backgroundColor);
    assert.equal(colors.length, names.length);
    assert.equal(new Set(colors).size, names.length, colors.join(" "));
  });

  it("sixteen allocators and more: colours far apart, stable by registry place", () => {
    const names = [...ALLOCATORS.map((a) => a.name)];
    for (let i = names.length; i < 16; i++) names.push(`new-${i}`);
    const styles = seriesStyles(names);
    const colors = names.map((n) => styles.get(n)?.color as string);
    for (let i = 0; i < colors.length; i++) {
      for (let j = i + 1; j < colors.length; j++) {
        const d = deltaE(colors[i] as string, colors[j] as string);
        assert.ok(d >= 20, `${names[i]} ${colors[i]} and ${names[j]} ${colors[j]}: ΔE ${d}`);
      }
    }
    // A report of two allocators gives them their colours of the full registry.
    const two = seriesStyles(["malloc", "slub"]);
    assert.equal(two.get("slub")?.color, styles.get("slub")?.color);
    assert.equal(two.get("malloc")?.color, styles.get("malloc")?.color);
    assert.ok(PALETTE.length >= 20);
  });
});
