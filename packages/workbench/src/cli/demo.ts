/*
 * `kmem demo` (and `npm start`): the question kmem answers, on the built-in workloads. Generates
 * each workload, replays it against every allocator (and again under memory pressure), prints
 * the comparison and the ranking, and writes a self-contained HTML report with the charts.
 */

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { ALLOCATORS } from "../allocators.js";
import { renderHtml, type ReportData, type ReportWorkload } from "../html-report.js";
import { writeRep } from "../rep-writer.js";
import { WORKLOADS } from "../workloads/index.js";
import { Exit } from "./exit.js";
import { formatBytes, formatInt } from "./format.js";
import { recommendFor } from "./recommend.js";
import { resultsTable } from "./results.js";

export interface DemoOptions {
  output: string;
  ops: number;
  seed: number;
  memory?: number;
  html: boolean;
  check: boolean;
  timeLimit: number;
  quick: boolean;
}

/** A path as the user would type it: relative to the working directory when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

/** The source of Chart.js's UMD build, from the installed package. */
export async function chartJsSource(): Promise<string> {
  const main = createRequire(import.meta.url).resolve("chart.js");
  return readFile(join(dirname(main), "chart.umd.min.js"), "utf8");
}

export async function demoCommand(
  options: DemoOptions,
  out: (text: string) => void,
): Promise<Exit> {
  const started = performance.now();
  const outDir = resolve(options.output);
  const traceDir = join(outDir, "traces");
  await mkdir(traceDir, { recursive: true });
  out(
    `kmem demo: ${WORKLOADS.length} built-in workloads, ${formatInt(options.ops)} ops each ` +
      `(seed ${options.seed}), against ${ALLOCATORS.map((a) => a.name).join(", ")}\n` +
      `each replayed with the memory shown, and again with 1.5× its peak payload (pressure)\n\n`,
  );
  const workloads: ReportWorkload[] = [];
  let faulty = false;
  for (const w of WORKLOADS) {
    const source = w.generate(options.ops, options.seed);
    await writeRep(join(traceDir, `${w.name}.rep`), source);
    const rec = await recommendFor(
      source,
      [],
      options.memory,
      {
        check: options.check,
        timeLimitMs: options.timeLimit * 1000,
        timingScale: options.quick ? 0.1 : 1,
      },
      w.goal,
    );
    const i = source.info;
    const results = rec.outcomes.map((o) => o.result);
    faulty ||= rec.ranking.some((x) => x.result.error !== null || x.pressure.error !== null);
    out(
      `${w.name}: ${w.description}\n` +
        `${formatInt(i.header.ops)} ops, peak payload ${formatBytes(i.peakPayloadBytes)}, ` +
        `memory ${formatBytes(rec.memoryBytes)}\n${resultsTable(results, false)}\n` +
        `ranking (goal ${w.goal}): ${rec.ranking.map((x) => `${x.allocator} ${x.score.toFixed(2)}`).join(" > ")}` +
        ` (failures under pressure, ${formatBytes(rec.pressureMemoryBytes)}: ` +
        `${rec.ranking.map((x) => `${x.allocator} ${formatInt(x.pressure.failures)}`).join(", ")})\n\n`,
    );
    workloads.push({
      name: w.name,
      description: w.description,
      ops: i.header.ops,
      peakPayloadBytes: i.peakPayloadBytes,
      memoryBytes: rec.memoryBytes,
      outcomes: rec.outcomes.map((o) => ({ result: o.result, detail: o.detail })),
      recommendation: {
        ranking: rec.ranking.map((x) => ({ allocator: x.allocator, score: x.score })),
        reason: rec.reason,
      },
    });
  }
  out(
    `traces: ${shown(traceDir)}/ (replay one: kmem replay ${shown(join(traceDir, "webserver.rep"))})\n`,
  );
  if (options.html) {
    const data: ReportData = {
      title: "kmem: which allocator, and why",
      subtitle:
        `${WORKLOADS.length} workloads × ${ALLOCATORS.length} allocators, ${formatInt(options.ops)} ops ` +
        `each, seed ${options.seed}; Node ${process.version} on ${os.cpus()[0]?.model ?? "unknown cpu"} ` +
        `(${os.cpus().length} cores), ${new Date().toISOString().slice(0, 10)}`,
      workloads,
    };
    const file = join(outDir, "report.html");
    await writeFile(file, renderHtml(data, await chartJsSource()));
    out(`report: ${shown(file)} (self-contained, opens offline)\n`);
  }
  out(`done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return faulty ? Exit.AllocatorFault : Exit.Ok;
}
