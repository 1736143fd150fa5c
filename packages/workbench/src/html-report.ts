/*
 * The comparison report as one self-contained HTML file: the charting library (Chart.js, its
 * UMD build) and the data are inlined, so the file opens offline and can be mailed around.
 *
 * Charts: utilization and throughput per allocator and workload; per workload, footprint over
 * the run, the latency distribution (share of ops at most x ns), and buddyinfo (free blocks
 * per order) at the end for the kmem layers. Chart configurations are built here as plain
 * JSON; the page's own script only hands each to `new Chart` and marks the page done
 * (`document.body.dataset.charts` = the number of charts drawn).
 */

import type { ReplayDetail, ReplayResult } from "./replay.js";

export interface ReportWorkload {
  name: string;
  description: string;
  ops: number;
  peakPayloadBytes: number;
  memoryBytes: number;
  outcomes: { result: ReplayResult; detail: ReplayDetail }[];
  /** Ranking and its reason, if the workload was ranked. */
  recommendation?: { ranking: { allocator: string; score: number }[]; reason: string };
}

export interface ReportData {
  title: string;
  /** One line on how the numbers were made (machine, Node, seed, ops). */
  subtitle: string;
  workloads: ReportWorkload[];
}

interface ChartSpec {
  id: string;
  config: unknown;
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"];

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
  dashed?: boolean;
}

function lineChart(
  id: string,
  title: string,
  datasets: Line[],
  xTitle: string,
  yTitle: string,
  logX = false,
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
          borderWidth: 1.5,
          pointRadius: 0,
          stepped: logX ? "before" : false,
          borderDash: d.dashed === true ? [6, 4] : [],
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        plugins: { title: { display: true, text: title } },
        scales: {
          x: axis(xTitle, { type: logX ? "logarithmic" : "linear" }),
          y: axis(yTitle, { beginAtZero: true }),
        },
      },
    },
  };
}

function resultsTable(w: ReportWorkload): string {
  const head = [
    "allocator",
    "ops/s",
    "utilization",
    "internal frag.",
    "overhead",
    "peak footprint",
    "failures",
    "p50 ns",
    "p99 ns",
    "p99.9 ns",
    "max ns",
    "leftovers",
  ];
  const rows = w.outcomes.map(({ result: r }) => {
    const cells = [
      esc(r.allocator) + (r.error !== null ? " (error)" : r.complete ? "" : " (stopped)"),
      (r.opsPerSec / 1e6).toFixed(2) + " M",
      r.utilization.toFixed(3),
      r.internalFragmentation === null ? "-" : `${(100 * r.internalFragmentation).toFixed(1)}%`,
      r.overheadFraction === null ? "-" : `${(100 * r.overheadFraction).toFixed(1)}%`,
      `${mib(r.peakFootprintBytes).toFixed(2)} MiB`,
      `${r.failures} / ${r.requests}`,
      String(r.latencyNs.p50),
      String(r.latencyNs.p99),
      String(r.latencyNs.p999),
      String(r.latencyNs.max),
      String(r.leftovers.blocks),
    ];
    return `<tr>${cells.map((c, i) => (i === 0 ? `<th>${c}</th>` : `<td>${c}</td>`)).join("")}</tr>`;
  });
  const errors = w.outcomes
    .filter((o) => o.result.error !== null)
    .map((o) => `<p class="error">${esc(o.result.error as string)}</p>`);
  return (
    `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table>${errors.join("")}`
  );
}

/** The charts of the report, in page order. */
export function reportCharts(data: ReportData): {
  overall: ChartSpec[];
  perWorkload: ChartSpec[][];
} {
  const names = allocatorsOf(data);
  const color = (name: string): string => PALETTE[names.indexOf(name) % PALETTE.length] as string;
  const labels = data.workloads.map((w) => w.name);
  const metric = (
    pick: (r: ReplayResult) => number,
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
      "Utilization (peak payload / peak footprint)",
      labels,
      metric((r) => Math.round(r.utilization * 1000) / 1000),
      "utilization",
    ),
    barChart(
      "chart-throughput",
      "Throughput (million ops per second, log scale)",
      labels,
      metric((r) => Math.round(r.opsPerSec / 1e3) / 1e3),
      "M ops/s",
      true,
    ),
  ];
  const perWorkload = data.workloads.map((w, k) => {
    const specs: ChartSpec[] = [];
    const payloadFrom = w.outcomes.find((o) => o.result.failures === 0) ?? w.outcomes[0];
    const footprint: Line[] = w.outcomes.map((o) => ({
      label: o.result.allocator,
      color: color(o.result.allocator),
      points: o.detail.timeline.op.map((x, i) => ({
        x,
        y: mib(o.detail.timeline.footprintBytes[i] as number),
      })),
    }));
    if (payloadFrom !== undefined) {
      footprint.push({
        label: "payload (bytes asked for)",
        color: "#555555",
        points: payloadFrom.detail.timeline.op.map((x, i) => ({
          x,
          y: mib(payloadFrom.detail.timeline.payloadBytes[i] as number),
        })),
        dashed: true,
      });
    }
    specs.push(
      lineChart(
        `chart-footprint-${k}`,
        `${w.name}: footprint over the run`,
        footprint,
        "op",
        "MiB",
      ),
    );
    const latency = w.outcomes.map((o) => {
      const total = o.detail.latencyBuckets.reduce((s, b) => s + b[2], 0);
      let seen = 0;
      return {
        label: o.result.allocator,
        color: color(o.result.allocator),
        points: o.detail.latencyBuckets.map(([, high, n]) => {
          seen += n;
          return {
            x: Math.max(1, high),
            y: Math.round((seen / Math.max(1, total)) * 10000) / 10000,
          };
        }),
      };
    });
    specs.push(
      lineChart(
        `chart-latency-${k}`,
        `${w.name}: latency distribution (share of ops taking at most x ns)`,
        latency,
        "ns (log scale)",
        "share of ops",
        true,
      ),
    );
    const kmem = w.outcomes.filter((o) => o.detail.buddyinfo !== null);
    if (kmem.length > 0) {
      const orders = (kmem[0]?.detail.buddyinfo ?? []).map((_, i) => String(i));
      specs.push(
        barChart(
          `chart-buddyinfo-${k}`,
          `${w.name}: buddyinfo at the end (free blocks per order)`,
          orders,
          kmem.map((o) => ({
            label: o.result.allocator,
            color: color(o.result.allocator),
            data: o.detail.buddyinfo ?? [],
          })),
          "free blocks",
        ),
      );
    }
    return specs;
  });
  return { overall, perWorkload };
}

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1180px; color: #222; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #ddd; }
.sub { color: #666; margin-top: 0; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.chart { position: relative; height: 300px; border: 1px solid #eee; border-radius: 6px; padding: 8px; }
table { border-collapse: collapse; margin: 12px 0; font-size: 13px; }
th, td { padding: 3px 9px; border-bottom: 1px solid #eee; text-align: right; } thead th { background: #f6f6f6; }
tbody th { text-align: left; font-weight: 600; }
.reason { background: #f7f9fc; border-left: 3px solid #1f77b4; padding: 8px 12px; }
.error { color: #b00; }
`;

/** The whole page. `chartJs` is the source of Chart.js's UMD build. */
export function renderHtml(data: ReportData, chartJs: string): string {
  const { overall, perWorkload } = reportCharts(data);
  const all = [...overall, ...perWorkload.flat()];
  const canvas = (c: ChartSpec): string =>
    `<div class="chart"><canvas id="${c.id}"></canvas></div>`;
  const sections = data.workloads.map((w, k) => {
    const rec = w.recommendation;
    const ranking =
      rec === undefined
        ? ""
        : `<p><b>Ranking:</b> ${rec.ranking
            .map((x, i) => `${i + 1}. ${esc(x.allocator)} (${x.score.toFixed(2)})`)
            .join(", ")}</p><p class="reason">${esc(rec.reason)}</p>`;
    return (
      `<section><h2>${esc(w.name)}</h2><p class="sub">${esc(w.description)}: ` +
      `${w.ops.toLocaleString("en-US")} ops, peak payload ${mib(w.peakPayloadBytes).toFixed(2)} MiB, ` +
      `memory ${mib(w.memoryBytes)} MiB</p>${resultsTable(w)}${ranking}` +
      `<div class="grid">${(perWorkload[k] ?? []).map(canvas).join("")}</div></section>`
    );
  });
  // Inlined text must not close the script element early.
  const json = JSON.stringify(all).replace(/</g, "\\u003c");
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
<div class="grid">${overall.map(canvas).join("")}</div>
${sections.join("\n")}
<h2>How to read this</h2>
<p>Utilization is the peak payload (bytes the trace asked for, live at once) over the peak
footprint (memory the allocator held: pages with their descriptors for kmem, the heap's
high-water mark for the npm peers, the WebAssembly memory's size for tlsf), as malloc-lab
defines it. Internal fragmentation is the
share of the bytes reserved for live blocks that nobody asked for, overhead the share of the
footprint that is neither (metadata and free memory held), both at the payload peak. Throughput
comes from a separate pass that does nothing but replay; latencies time every op on its own
(the clock's own cost subtracted), so the maximum includes the JavaScript engine's pauses.</p>
<script>${lib}</script>
<script>
const SPECS = ${json};
let drawn = 0;
for (const spec of SPECS) {
  new Chart(document.getElementById(spec.id), spec.config);
  drawn++;
}
document.body.dataset.charts = String(drawn);
</script>
</body>
</html>
`;
}
