/*
 * The report as one self-contained HTML file: the charting library (Chart.js, its UMD build),
 * the data and the heap map viewer are inlined, so the file opens offline and can be mailed.
 *
 * In page order:
 *
 *   contents        links to every section
 *   summary         the winner of each criterion per trace; over several traces, per
 *                   allocator the geometric means, the traces won and the runs not finished
 *   how to read     what each figure means and how it was measured
 *   overview        utilization and throughput per allocator and trace (bar charts)
 *   per trace       the results table (units read at a glance, ops/s with its 95% interval,
 *                   latencies against the clock's floor), the run under pressure as a table,
 *                   the ranking and its reason; charts of footprint over the run (dash
 *                   patterns, identical lines named), latency by percentile (HdrHistogram's
 *                   plot: each "nine" as wide as the one before, up to p99.99), free blocks
 *                   per order (log scale); the heap map with its timeline
 *   allocators      name, colour, kind and description of each
 *   method          machine, engine, how throughput, latency and memory were measured
 *
 * Chart configurations are built here as plain JSON; the page's own script hands each to
 * `new Chart` (attaching the tick formatters a JSON configuration cannot hold) and sets
 * `document.body.dataset.charts` to the number drawn; the heap map viewer (heapmap-view.ts)
 * sets `dataset.heapmaps`. The browser test waits for both.
 */

import { ALLOCATORS } from "./allocators.js";
import type { HeapMapSeries } from "./heapmap.js";
import { HEAPMAP_SCRIPT } from "./heapmap-view.js";
import { seriesStyles } from "./palette.js";
import type { ReplayDetail, ReplayResult } from "./replay.js";
import { SUMMARY_CRITERIA, summarize, type TraceResults } from "./summary.js";
import {
  formatBytes,
  formatInt,
  formatLatency,
  formatOpsPerSec,
  formatPct,
  formatRate,
} from "./units.js";

export interface ReportWorkload {
  name: string;
  description: string;
  ops: number;
  peakPayloadBytes: number;
  memoryBytes: number;
  outcomes: { result: ReplayResult; detail: ReplayDetail }[];
  /** The same replays with memory cut to `memoryBytes` (recommend, demo). */
  pressure?: { memoryBytes: number; results: ReplayResult[] };
  /** Ranking and its reason, if the trace was ranked. */
  recommendation?: {
    goal?: string;
    ranking: { allocator: string; score: number; complete?: boolean }[];
    reason: string;
  };
}

export interface ReportData {
  title: string;
  /** One line on how the numbers were made (machine, Node, seed, ops, date). */
  subtitle: string;
  workloads: ReportWorkload[];
}

interface ChartSpec {
  id: string;
  config: unknown;
}

function esc(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

function mib(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 1000) / 1000;
}

function allocatorsOf(data: ReportData): string[] {
  const names: string[] = [];
  for (const w of data.workloads) {
    for (const o of w.outcomes)
      if (!names.includes(o.result.allocator)) names.push(o.result.allocator);
  }
  return names;
}

function axis(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { title: { display: true, text: title }, ...extra };
}

function barChart(
  id: string,
  title: string,
  labels: string[],
  datasets: { label: string; data: (number | null)[]; color: string }[],
  yTitle: string,
  logY = false,
): ChartSpec {
  return {
    id,
    config: {
      type: "bar",
      data: {
        labels,
        datasets: datasets.map((d) => ({
          label: d.label,
          data: d.data,
          backgroundColor: d.color,
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { title: { display: true, text: title } },
        scales: { y: axis(yTitle, logY ? { type: "logarithmic" } : { beginAtZero: true }) },
      },
    },
  };
}

interface Line {
  label: string;
  points: { x: number; y: number }[];
  color: string;
  dash?: readonly number[];
  width?: number;
}

function lineChart(
  id: string,
  title: string,
  datasets: Line[],
  x: Record<string, unknown>,
  y: Record<string, unknown>,
  stepped: false | "before" | "after" = false,
): ChartSpec {
  return {
    id,
    config: {
      type: "line",
      data: {
        datasets: datasets.map((d) => ({
          label: d.label,
          data: d.points,
          borderColor: d.color,
          backgroundColor: d.color,
          borderWidth: d.width ?? 1.5,
          pointRadius: 0,
          stepped,
          borderDash: d.dash ?? [],
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        plugins: {
          title: { display: true, text: title },
          // Legend keys as short lines, so that their dash patterns show.
          legend: { labels: { boxWidth: 28, boxHeight: 3 } },
        },
        scales: { x, y },
      },
    },
  };
}

/** Percentile axis of the latency plot: x = -log10(1 - q), 4 = p99.99. */
export const NINES = 4;

/**
 * Latency by percentile from histogram buckets: a step per bucket at x = -log10(1 - q) of
 * the share of ops below it, y the bucket's upper bound, raised to the clock's floor (an op
 * below it cannot be told from 0). Stops at p99.99: the maximum is in the table.
 */
export function latencyPoints(
  buckets: readonly [number, number, number][],
  floorNs: number,
): { x: number; y: number }[] {
  const total = buckets.reduce((s, b) => s + b[2], 0);
  const points: { x: number; y: number }[] = [];
  let seen = 0;
  for (const [, high, n] of buckets) {
    const x = Math.max(
      0,
      Math.min(NINES, -Math.log10(Math.max(1e-12, 1 - seen / Math.max(1, total)))),
    );
    points.push({ x: Math.round(x * 1e4) / 1e4, y: Math.max(floorNs, high, 1) });
    seen += n;
    if (x >= NINES) break;
  }
  const last = points.at(-1);
  if (last !== undefined && last.x < NINES) points.push({ x: NINES, y: last.y });
  return points;
}

/** The charts of the report, in page order. */
export function reportCharts(data: ReportData): {
  overall: ChartSpec[];
  perWorkload: ChartSpec[][];
} {
  const names = allocatorsOf(data);
  const styles = seriesStyles(names);
  const color = (name: string): string => styles.get(name)?.color ?? "#000000";
  const labels = data.workloads.map((w) => w.name);
  const metric = (
    pick: (r: ReplayResult) => number | null,
  ): { label: string; data: (number | null)[]; color: string }[] =>
    names.map((name) => ({
      label: name,
      color: color(name),
      data: data.workloads.map((w) => {
        const o = w.outcomes.find((x) => x.result.allocator === name);
        return o === undefined ? null : pick(o.result);
      }),
    }));
  const overall = [
    barChart(
      "chart-utilization",
      "Utilization (peak payload / peak footprint; higher is better)",
      labels,
      metric((r) => Math.round(r.utilization * 1000) / 1000),
      "utilization",
    ),
    barChart(
      "chart-throughput",
      "Throughput (million ops served per second, log scale; higher is better)",
      labels,
      metric((r) => (r.opsPerSec === null ? null : Math.round(r.opsPerSec / 1e3) / 1e3)),
      "M ops/s",
      true,
    ),
  ];
  const perWorkload = data.workloads.map((w, k) => {
    const specs: ChartSpec[] = [];
    const payloadFrom = w.outcomes.find((o) => o.result.failures === 0) ?? w.outcomes[0];
    // Lines of equal values are drawn widest first, each with its dash, and named in the legend.
    const seen: { name: string; key: string }[] = [];
    const footprint: Line[] = w.outcomes.map((o, i) => {
      const t = o.detail.timeline;
      const key = `${t.op.join(",")}|${t.footprintBytes.join(",")}`;
      const same = seen.find((s) => s.key === key);
      seen.push({ name: o.result.allocator, key });
      return {
        label: same === undefined ? o.result.allocator : `${o.result.allocator} (= ${same.name})`,
        color: color(o.result.allocator),
        dash: styles.get(o.result.allocator)?.dash ?? [],
        width: Math.max(1.25, 4 - (2.75 * i) / Math.max(1, w.outcomes.length - 1)),
        points: t.op.map((x, j) => ({ x, y: mib(t.footprintBytes[j] as number) })),
      };
    });
    if (payloadFrom !== undefined) {
      footprint.push({
        label: "payload (bytes asked for)",
        color: "#555555",
        points: payloadFrom.detail.timeline.op.map((x, i) => ({
          x,
          y: mib(payloadFrom.detail.timeline.payloadBytes[i] as number),
        })),
        dash: [2, 3],
        width: 1.5,
      });
    }
    specs.push(
      lineChart(
        `chart-footprint-${k}`,
        `${w.name}: footprint over the run (MiB)`,
        footprint,
        axis("op", { type: "linear" }),
        axis("MiB", { beginAtZero: true }),
      ),
    );
    const floor = Math.max(1, ...w.outcomes.map((o) => o.result.latencyNs.floorNs));
    const latency = w.outcomes.map((o) => ({
      label: o.result.allocator,
      color: color(o.result.allocator),
      dash: styles.get(o.result.allocator)?.dash ?? [],
      points: latencyPoints(o.detail.latencyBuckets, o.result.latencyNs.floorNs),
    }));
    specs.push(
      lineChart(
        `chart-latency-${k}`,
        `${w.name}: latency of one op by percentile (log; below ${floor} ns the clock cannot tell)`,
        latency,
        axis("percentile", {
          type: "linear",
          min: 0,
          max: NINES,
          ticks: { stepSize: 1 },
          kmem: "nines",
        }),
        axis("ns (log scale)", { type: "logarithmic", min: floor, kmem: "ns" }),
        "after",
      ),
    );
    const kmem = w.outcomes.filter((o) => o.detail.buddyinfo !== null);
    if (kmem.length > 0) {
      const orders = (kmem[0]?.detail.buddyinfo ?? []).map((_, i) => String(i));
      specs.push(
        barChart(
          `chart-buddyinfo-${k}`,
          `${w.name}: free blocks per order at the end (buddyinfo, log scale)`,
          orders,
          kmem.map((o) => ({
            label: o.result.allocator,
            color: color(o.result.allocator),
            data: (o.detail.buddyinfo ?? []).map((n) => (n > 0 ? n : null)),
          })),
          "free blocks",
          true,
        ),
      );
    }
    return specs;
  });
  return { overall, perWorkload };
}

function table(head: string[], rows: string[][], cls = ""): string {
  return (
    `<div class="scroll"><table${cls === "" ? "" : ` class="${cls}"`}><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${c}</th>` : `<td>${c}</td>`)).join("")}</tr>`).join("")}</tbody></table></div>`
  );
}

function swatch(color: string): string {
  return `<i class="sw" style="background:${color}"></i>`;
}

function rateCell(r: ReplayResult): string {
  if (r.opsPerSec === null) return "-";
  const ci = r.opsPerSecCI95;
  return (
    formatRate(r.opsPerSec) +
    (ci === null ? "" : `<small> [${formatRate(ci[0])}, ${formatRate(ci[1])}]</small>`)
  );
}

function resultsTable(w: ReportWorkload, color: (n: string) => string): string {
  const head = [
    "allocator",
    "ops",
    "ops/s (95% CI)",
    "utilization",
    "internal frag.",
    "overhead",
    "peak footprint",
    "failures",
    "p50",
    "p99",
    "p99.9",
    "max",
    "leftovers",
  ];
  const rows = w.outcomes.map(({ result: r }) => {
    const l = r.latencyNs;
    const mark = r.error !== null ? " !" : r.complete ? "" : " *";
    return [
      `${swatch(color(r.allocator))}${esc(r.allocator)}${mark}`,
      formatInt(r.ops),
      rateCell(r),
      r.utilization.toFixed(3),
      formatPct(r.internalFragmentation),
      formatPct(r.overheadFraction),
      formatBytes(r.peakFootprintBytes),
      `${formatInt(r.failures)} / ${formatInt(r.requests)}`,
      esc(formatLatency(l.p50, l.floorNs)),
      esc(formatLatency(l.p99, l.floorNs)),
      esc(formatLatency(l.p999, l.floorNs)),
      esc(formatLatency(l.max, l.floorNs)),
      formatInt(r.leftovers.blocks),
    ];
  });
  const notes = w.outcomes.flatMap(({ result: r }) =>
    r.error !== null
      ? [`<p class="error">! ${esc(r.error)}</p>`]
      : r.complete
        ? []
        : [
            `<p class="note">* ${esc(r.allocator)} stopped at the time limit after ${formatInt(r.ops)} of ${formatInt(w.ops)} ops: its figures cover those ops only.</p>`,
          ],
  );
  const unchecked = w.outcomes
    .filter((o) => o.result.contentsNotChecked !== null && o.result.error === null)
    .map((o) => `${esc(o.result.allocator)} (${esc(o.result.contentsNotChecked ?? "")})`);
  if (unchecked.length > 0)
    notes.push(`<p class="note">Contents not checked: ${unchecked.join("; ")}.</p>`);
  return table(head, rows, "results") + notes.join("");
}

function pressureTable(w: ReportWorkload, color: (n: string) => string): string {
  const p = w.pressure;
  if (p === undefined) return "";
  const rows = p.results.map((r) => [
    `${swatch(color(r.allocator))}${esc(r.allocator)}${r.error !== null ? " !" : r.complete ? "" : " *"}`,
    `${formatInt(r.failures)} / ${formatInt(r.requests)}`,
    r.requests > 0 ? formatPct(r.failures / r.requests) : "-",
    formatBytes(r.peakPayloadBytes),
    formatBytes(r.peakFootprintBytes),
    r.utilization.toFixed(3),
  ]);
  return (
    `<h4>Under pressure: ${formatBytes(p.memoryBytes)} (1.5× the peak payload)</h4>` +
    table(
      ["allocator", "failed / requests", "failed", "peak payload", "peak footprint", "utilization"],
      rows,
      "pressure",
    )
  );
}

function summarySection(data: ReportData, color: (n: string) => string): string {
  const traces: TraceResults[] = data.workloads.map((w) => ({
    trace: w.name,
    results: w.outcomes.map((o) => o.result),
  }));
  const s = summarize(traces);
  const head = ["trace", ...SUMMARY_CRITERIA.map((c) => c.label)];
  if (data.workloads.some((w) => w.recommendation !== undefined)) head.push("recommended");
  const rows = s.perTrace.map((p, i) => {
    const w = data.workloads[i] as ReportWorkload;
    const cells = [
      `<a href="#trace-${i}">${esc(p.trace)}</a>`,
      ...SUMMARY_CRITERIA.map((c) => {
        const win = p.winners[c.key];
        if (win === null) return "-";
        if (c.key === "failures" && win.value === 0 && win.tied > 0)
          return "<small>none failed</small>";
        const tied = win.tied > 0 ? ` <small>(+${win.tied} tied)</small>` : "";
        return `${swatch(color(win.allocator))}${esc(win.allocator)} <small>${esc(win.text)}</small>${tied}`;
      }),
    ];
    if (head.length > SUMMARY_CRITERIA.length + 1) {
      const first = w.recommendation?.ranking[0];
      cells.push(
        first === undefined
          ? "-"
          : `${swatch(color(first.allocator))}${esc(first.allocator)} <small>${first.score.toFixed(2)}</small>`,
      );
    }
    return cells;
  });
  let html =
    `<p>The best of each criterion per trace, among the runs that finished without error and ` +
    `served every request (a run that refused some did less work in less memory) ` +
    `(throughput and utilization: higher is better; footprint, latency and failures: lower).</p>` +
    table(head, rows, "summary");
  if (data.workloads.length > 1) {
    const geo = s.rows.map((r) => [
      `${swatch(color(r.allocator))}${esc(r.allocator)}`,
      `${r.traces}${r.incomplete > 0 ? ` <small>(${r.incomplete} not finished)</small>` : ""}${r.errors > 0 ? ` <small>(${r.errors} errors)</small>` : ""}`,
      r.geoOpsPerSec === null ? "-" : formatOpsPerSec(r.geoOpsPerSec),
      r.geoUtilization === null ? "-" : r.geoUtilization.toFixed(3),
      r.geoFootprintBytes === null ? "-" : formatBytes(Math.round(r.geoFootprintBytes)),
      r.geoP999Ns === null ? "-" : esc(formatLatency(r.geoP999Ns, 0)),
      formatPct(r.failureRate),
      SUMMARY_CRITERIA.map((c) => r.wins[c.key]).join(" / "),
      r.meanScore === null ? "-" : `${r.meanScore.toFixed(2)} (${r.rankedFirst} first)`,
    ]);
    const best = SUMMARY_CRITERIA.map((c) => {
      const a = s.overall[c.key];
      const named = s.rows.some((r) => r.allocator === a);
      return `${c.label}: ${a === null ? "-" : named ? `${swatch(color(a))}<b>${esc(a)}</b>` : esc(a)}`;
    }).join("; ");
    html +=
      `<h3>Across the ${data.workloads.length} traces</h3>` +
      `<p>Geometric means over the traces each allocator finished without error (a mean of ` +
      `ratios that does not depend on which allocator is the reference); wins are the traces ` +
      `where it led the criterion. Best over all traces (among those that finished every one): ${best}.</p>` +
      table(
        [
          "allocator",
          "traces",
          "throughput",
          "utilization",
          "peak footprint",
          "p99.9",
          "failed",
          "wins <small>thr/util/foot/lat/fail</small>",
          "mean score",
        ],
        geo,
        "geo",
      );
  }
  return html;
}

function allocatorsSection(names: readonly string[], color: (n: string) => string): string {
  const rows = names.map((n) => {
    const e = ALLOCATORS.find((a) => a.name === n);
    return [`${swatch(color(n))}${esc(n)}`, esc(e?.kind ?? "-"), esc(e?.description ?? "")];
  });
  return table(["allocator", "kind", "what it is"], rows, "allocators");
}

function heapMapBlock(w: ReportWorkload, k: number, color: (n: string) => string): string {
  const maps = w.outcomes.filter((o) => o.detail.heapMap !== null);
  if (maps.length === 0) return "";
  const without = w.outcomes
    .filter((o) => o.detail.heapMap === null)
    .map((o) => esc(o.result.allocator));
  const none =
    without.length === 0
      ? ""
      : ` No map for ${without.join(", ")}: native code's memory is in a process of its own.`;
  const buttons = maps
    .map(
      (o) =>
        `<button class="hm-alloc" type="button">${swatch(color(o.result.allocator))}${esc(o.result.allocator)}</button>`,
    )
    .join("");
  return (
    `<h4 id="heapmap-${k}">Heap map</h4>` +
    `<p class="sub">Every page a cell (kmem's allocators; for the others their heap in 4 KiB cells), ` +
    `by what holds it, over the run: scrub the slider or play. Hover a cell to see what holds it.${none}</p>` +
    `<div class="heapmap" data-trace="${k}">` +
    `<div class="hm-bar">${buttons}</div>` +
    `<div class="hm-bar"><button class="hm-play" type="button">▶ play</button>` +
    `<button class="hm-peak" type="button">payload peak</button>` +
    `<input class="hm-slider" type="range" min="0" max="0" value="0" aria-label="snapshot"></div>` +
    `<div class="hm-stats"></div>` +
    `<div class="hm-body"><div><canvas class="hm-map"></canvas><div class="hm-tip"></div></div>` +
    `<div class="hm-side"><canvas class="hm-timeline"></canvas>` +
    `<p class="hm-key-line"><span style="color:#777">- - payload</span> · <b>—</b> footprint · ` +
    `<span style="color:#e08214">··· external fragmentation (0..1)</span> · ` +
    `<span style="color:#2c7fb8">-·- slab fill (0..1)</span> · <span style="color:#d62728">●</span> payload peak</p>` +
    `<canvas class="hm-orders"></canvas><div class="hm-legend"></div></div></div></div>`
  );
}

const HOW_TO_READ = `
<p><b>Utilization</b> is the peak payload (bytes the trace asked for, live at once) over the peak
footprint (memory the allocator held: pages with their descriptors for kmem, the heap's
high-water mark for the npm peers, the WebAssembly memory's size for tlsf, the highest byte handed out plus the metadata for the range
allocators, the C library's own figures for glibc), as malloc-lab defines it: 1 is perfect.
<b>Internal fragmentation</b> is the share of the bytes reserved for live blocks that nobody
asked for, <b>overhead</b> the share of the footprint that is neither payload nor reserved for
it (metadata, and free memory held), both at the payload peak.</p>
<p><b>Throughput</b> comes from a pass that does nothing but replay, after uncounted warm-up
runs; a short trace is replayed several times and the median run counts, with the 95%
confidence interval of that median in brackets (6 runs or more). Only ops the allocator
carried out count: a refused allocation is no work. <b>Latencies</b> time every op on its own
in a second pass, the clock's own cost subtracted; an op faster than the clock's floor (the
spread of that cost) reads "&lt;floor", and the maximum includes the JavaScript engine's pauses
(garbage collection, compilation). The latency chart puts each "nine" of the percentiles at the
same width (p90, p99, p99.9, p99.99), so that the tail is neither hidden nor allowed to take
the whole chart.</p>
<p><b>Under pressure</b>, the trace is replayed again with memory cut to 1.5× its peak payload:
what fails there is what a tight system would see. A run marked * stopped at the time limit
(its figures cover a prefix of the trace; rankings put it after the runs that finished), one
marked ! misbehaved (its error is below the table).</p>
<p>The <b>heap map</b> shows memory itself: for kmem's allocators every page frame, coloured by
what holds it (free blocks by order, each slab cache in a hue of its own and darker the fuller
its slab, large kmalloc, vmalloc, page tables, the header and mem_map); for the others their
heap, in cells of 4 KiB, by live blocks (darker: fuller), the free blocks the allocator's own
lists name, and what lies past its top. Beside it, over the ops: footprint and payload, the
external fragmentation (1 − largest free block / free memory), and the slab fill (objects in
use over objects the slabs hold; a cpu slab counts as full).</p>
`;

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1180px; color: #222; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #ddd; }
h3 { font-size: 16px; margin-top: 24px; } h4 { font-size: 14px; margin: 18px 0 6px; }
.sub { color: #666; margin-top: 0; }
nav ol { columns: 2; margin: 8px 0; } nav { background: #fafafa; border: 1px solid #eee; border-radius: 6px; padding: 6px 14px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 460px), 1fr)); gap: 16px; }
.chart { position: relative; height: 320px; border: 1px solid #eee; border-radius: 6px; padding: 8px; min-width: 0; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 10px 0; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 9px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; } thead th { background: #f6f6f6; }
tbody th { text-align: left; font-weight: 600; }
small { color: #666; font-weight: normal; }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: baseline; }
.reason { background: #f7f9fc; border-left: 3px solid #1f77b4; padding: 8px 12px; }
.error { color: #b00; } .note { color: #555; font-size: 13px; margin: 2px 0; }
details.how { background: #fcfcf6; border: 1px solid #eee; border-radius: 6px; padding: 4px 14px; }
details.how summary { cursor: pointer; font-weight: 600; }
.heapmap { border: 1px solid #eee; border-radius: 6px; padding: 10px; }
.hm-bar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-bottom: 6px; }
.hm-bar button { font: inherit; font-size: 13px; border: 1px solid #ccc; background: #fff; border-radius: 4px; padding: 2px 8px; cursor: pointer; }
.hm-bar button.on { border-color: #333; background: #f0f0f0; font-weight: 600; }
.hm-slider { flex: 1; min-width: 160px; }
.hm-stats { font-size: 13px; color: #333; margin: 4px 0 8px; }
.hm-body { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap: 12px; }
.hm-map, .hm-timeline, .hm-orders { max-width: 100%; height: auto; image-rendering: pixelated; }
.hm-tip { font-size: 12px; color: #444; min-height: 1.4em; }
.hm-key-line { font-size: 12px; margin: 2px 0 8px; }
.hm-legend { font-size: 12px; line-height: 1.9; }
.hm-key { margin-right: 12px; white-space: nowrap; } .hm-key i { display: inline-block; width: 11px; height: 11px; border: 1px solid #999; margin-right: 4px; vertical-align: -1px; }
.hm-note { color: #777; }
`;

/** The page's chart script: tick formatters by name, each chart drawn, the count set. */
const CHART_SCRIPT = `
const fmtNs = (v) => { const [d, u] = v >= 1e9 ? [1e9, "s"] : v >= 1e6 ? [1e6, "ms"] : v >= 1e3 ? [1e3, "µs"] : [1, "ns"]; return Math.round(v / d) + " " + u; };
const NINE_LABELS = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"];
let drawn = 0;
for (const spec of SPECS) {
  for (const axis of Object.values(spec.config.options.scales || {})) {
    if (axis.kmem === "ns") axis.ticks = { callback: (v) => { const l = Math.log10(v); return Math.abs(l - Math.round(l)) < 1e-9 ? fmtNs(v) : ""; } };
    if (axis.kmem === "nines") axis.ticks = { stepSize: 1, callback: (v) => NINE_LABELS[v] ?? "" };
  }
  new Chart(document.getElementById(spec.id), spec.config);
  drawn++;
}
document.body.dataset.charts = String(drawn);
`;

/** The whole page. `chartJs` is the source of Chart.js's UMD build. */
export function renderHtml(data: ReportData, chartJs: string): string {
  const { overall, perWorkload } = reportCharts(data);
  const names = allocatorsOf(data);
  const styles = seriesStyles(names);
  const color = (n: string): string => styles.get(n)?.color ?? "#000000";
  const all = [...overall, ...perWorkload.flat()];
  const canvas = (c: ChartSpec): string =>
    `<div class="chart"><canvas id="${c.id}"></canvas></div>`;
  const sections = data.workloads.map((w, k) => {
    const rec = w.recommendation;
    const ranking =
      rec === undefined
        ? ""
        : `<h4>Ranking${rec.goal === undefined ? "" : ` (goal ${esc(rec.goal)})`}</h4><p>${rec.ranking
            .map(
              (x, i) =>
                `${i + 1}. ${swatch(color(x.allocator))}${esc(x.allocator)} (${x.score.toFixed(2)})${x.complete === false ? " *" : ""}`,
            )
            .join(", ")}</p><p class="reason">${esc(rec.reason)}</p>`;
    return (
      `<section id="trace-${k}"><h2>${esc(w.name)}</h2><p class="sub">${esc(w.description)}: ` +
      `${formatInt(w.ops)} ops, peak payload ${formatBytes(w.peakPayloadBytes)}, ` +
      `memory ${formatBytes(w.memoryBytes)}</p>${resultsTable(w, color)}${pressureTable(w, color)}${ranking}` +
      `<div class="grid">${(perWorkload[k] ?? []).map(canvas).join("")}</div>` +
      `${heapMapBlock(w, k, color)}</section>`
    );
  });
  const toc = [
    `<li><a href="#summary">Summary</a></li>`,
    `<li><a href="#how">How to read this</a></li>`,
    `<li><a href="#overview">Overview charts</a></li>`,
    ...data.workloads.map(
      (w, k) =>
        `<li><a href="#trace-${k}">${esc(w.name)}</a>${w.outcomes.some((o) => o.detail.heapMap !== null) ? ` (<a href="#heapmap-${k}">heap map</a>)` : ""}</li>`,
    ),
    `<li><a href="#allocators">Allocators</a></li>`,
  ];
  const heapMaps = data.workloads.map((w) => ({
    maps: w.outcomes
      .filter((o) => o.detail.heapMap !== null)
      .map((o) => ({
        allocator: o.result.allocator,
        color: color(o.result.allocator),
        series: o.detail.heapMap as HeapMapSeries,
      })),
  }));
  // Inlined text must not close the script element early.
  const json = (v: unknown): string => JSON.stringify(v).replace(/</g, "\\u003c");
  const lib = chartJs.replace(/<\/script/gi, "<\\/script");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(data.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${esc(data.title)}</h1>
<p class="sub">${esc(data.subtitle)}</p>
<nav aria-label="contents"><b>Contents</b><ol>${toc.join("")}</ol></nav>
<section id="summary"><h2>Summary</h2>${summarySection(data, color)}</section>
<section id="how"><h2>How to read this</h2><details class="how" open><summary>Definitions and method</summary>${HOW_TO_READ}</details></section>
<section id="overview"><h2>Overview</h2><div class="grid">${overall.map(canvas).join("")}</div></section>
${sections.join("\n")}
<section id="allocators"><h2>Allocators</h2>${allocatorsSection(names, color)}</section>
<script>${lib}</script>
<script>
const SPECS = ${json(all)};
${CHART_SCRIPT}
</script>
<script>
const HEAPMAPS = ${json(heapMaps)};
${HEAPMAP_SCRIPT}
</script>
</body>
</html>
`;
}
