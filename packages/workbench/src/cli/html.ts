/*
 * The HTML report the commands write (demo, replay --html, recommend --html): one page for
 * any traces, with the machine and the date it was made on.
 */

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join } from "node:path";
import { DEFAULT_FRAMES } from "../heapmap.js";
import { renderHtml, type ReportWorkload } from "../html-report.js";
import type { ReplayOutcome } from "../replay.js";
import type { TraceSource } from "../source.js";
import { formatBytes, formatInt } from "./format.js";
import { writeOutput } from "./output.js";
import { shortName } from "./run.js";

/** Heap-map snapshots per replay in a report (see heapmap.ts for what that costs). */
export const REPORT_FRAMES = DEFAULT_FRAMES;

/** The source of Chart.js's UMD build, from the installed package. */
export async function chartJsSource(): Promise<string> {
  const main = createRequire(import.meta.url).resolve("chart.js");
  return readFile(join(dirname(main), "chart.umd.min.js"), "utf8");
}

/** The machine and engine the numbers were made on, and the date. */
export function machineLine(): string {
  const cpus = os.cpus();
  return (
    `Node ${process.version} on ${cpus[0]?.model.trim() ?? "unknown cpu"} (${cpus.length} cores, ` +
    `${formatBytes(os.totalmem())}), ${os.platform()} ${os.release()}, ` +
    `${new Date().toISOString().slice(0, 10)}`
  );
}

/** A trace's section of the report from its outcomes (and its run under pressure). */
export function reportTrace(
  source: TraceSource,
  description: string,
  memoryBytes: number,
  outcomes: readonly ReplayOutcome[],
  extra: Pick<ReportWorkload, "pressure" | "recommendation"> = {},
): ReportWorkload {
  const i = source.info;
  return {
    name: shortName(source.name),
    description,
    ops: i.header.ops,
    peakPayloadBytes: i.peakPayloadBytes,
    memoryBytes,
    outcomes: outcomes.map((o) => ({ result: o.result, detail: o.detail })),
    ...extra,
  };
}

/** A trace file's description line: its op mix. */
export function traceDescription(source: TraceSource): string {
  const i = source.info;
  return (
    `trace ${source.name} (${formatInt(i.allocs)} a, ${formatInt(i.frees)} f, ` +
    `${formatInt(i.reallocs)} r, ${formatInt(i.leftoverBlocks)} blocks left live)`
  );
}

/** Writes the report of `traces` to `file`. */
export async function writeReport(
  file: string,
  title: string,
  what: string,
  traces: ReportWorkload[],
): Promise<void> {
  const html = renderHtml(
    { title, subtitle: `${what}; ${machineLine()}`, workloads: traces },
    await chartJsSource(),
  );
  await writeOutput(file, html);
}
