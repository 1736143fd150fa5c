/* The report's page as text: colours, structure, units (the browser test draws it). */
/* eslint-disable @typescript-eslint/no-explicit-any -- chart configurations are plain JSON */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALLOCATORS } from "../src/allocators.js";
import {
  latencyPoints,
  NINES,
  renderHtml,
  reportCharts,
  type ReportData,
  type ReportWorkload,
} from "../src/html-report.js";
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

describe("report charts", () => {
  const chart = (spec: { config: unknown } | undefined): Record<string, any> =>
    (spec?.config ?? {}) as Record<string, any>;

  it("latency by percentile: each nine as wide as the one before, no point below the clock's floor", () => {
    // 99.9% of ops at 0..10 ns, 0.1% at 28 ms: the old CDF over ns gave the tail 60% of the width.
    const buckets: [number, number, number][] = [
      [0, 0, 500],
      [10, 10, 499_500],
      [27_262_976, 28_311_551, 1000],
    ];
    const points = latencyPoints(buckets, 10);
    assert.equal(points[0]?.x, 0);
    assert.equal(points.at(-1)?.x, NINES);
    for (const p of points) assert.ok(p.y >= 10, `y ${p.y} below the floor`);
    const tail = points.filter((p) => p.x >= 3);
    const width = (tail.at(-1)?.x ?? 0) - (tail[0]?.x ?? 0);
    assert.ok(width <= NINES / 4, `the last 0.1% takes ${width} of ${NINES}`);
    const detail = { ...DETAIL, latencyBuckets: buckets };
    const d: ReportData = data(["slub"]);
    (d.workloads[0] as ReportWorkload).outcomes[0] = {
      result: result("slub", {
        latencyNs: { p50: 10, p99: 10, p999: 10, max: 28e6, samples: 501_000, floorNs: 10 },
      }),
      detail,
    };
    const latency = chart(reportCharts(d).perWorkload[0]?.[1]);
    assert.equal(latency.options.scales.x.max, NINES);
    assert.equal(latency.options.scales.y.type, "logarithmic");
    assert.equal(latency.options.scales.y.min, 10);
  });

  it("buddyinfo on a log scale; footprint lines told apart, an identical one named", () => {
    const d = data(["slub", "rmap", "vmem"]);
    const w = d.workloads[0] as ReportWorkload;
    w.outcomes[0] = { result: result("slub"), detail: { ...DETAIL, buddyinfo: [900, 3, 0, 1] } };
    const [footprint, , buddyinfo] = reportCharts(d).perWorkload[0] ?? [];
    assert.equal(chart(buddyinfo).options.scales.y.type, "logarithmic");
    const lines = chart(footprint).data.datasets as {
      label: string;
      borderDash: number[];
      borderWidth: number;
    }[];
    assert.deepEqual(
      lines.map((l) => l.label),
      ["slub", "rmap (= slub)", "vmem (= slub)", "payload (bytes asked for)"],
    );
    const looks = new Set(lines.map((l) => `${l.borderDash.join(",")}|${l.borderWidth}`));
    assert.equal(looks.size, lines.length, "no two lines drawn alike");
  });

  it("the page: contents and how-to-read before the traces, units in the tables, the pressure table", () => {
    const d = data(["slub", "malloc"]);
    const w = d.workloads[0] as ReportWorkload;
    w.outcomes[0] = {
      result: result("slub", {
        latencyNs: {
          p50: 5,
          p99: 400,
          p999: 8_258_000,
          max: 28_315_348,
          samples: 1000,
          floorNs: 10,
        },
      }),
      detail: DETAIL,
    };
    w.pressure = {
      memoryBytes: 1 << 20,
      results: [result("slub", { failures: 7, opsPerSec: null })],
    };
    const page = renderHtml(d, "/* chart.js */");
    const at = (s: string): number => page.indexOf(s);
    assert.ok(at('<nav aria-label="contents">') < at('<section id="trace-0">'));
    assert.ok(at('<section id="summary">') < at('<section id="trace-0">'));
    assert.ok(at('<section id="how">') < at('<section id="trace-0">'));
    assert.match(page, /<td>28 ms<\/td>/);
    assert.match(page, /<td>8\.3 ms<\/td>/);
    assert.match(page, /<td>&lt;10 ns<\/td>/);
    assert.doesNotMatch(page, /28315348|max ns/);
    assert.match(page, /Under pressure: 1 MiB \(1\.5× the peak payload\)/);
    assert.match(page, /<td>7 \/ 500<\/td>/);
    assert.match(
      page,
      /grid-template-columns: repeat\(auto-fit, minmax\(min\(100%, 460px\), 1fr\)\)/,
    );
  });
});
