/*
 * `kmem demo` (and `npm start`): the question kmem answers, on the built-in workloads. Generates
 * each workload, replays it against every allocator (and again under memory pressure), prints
 * the comparison and the ranking, and writes a self-contained HTML report with the charts.
 */

import { mkdir } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import type { ReportWorkload } from "../html-report.js";
import { writeRep } from "../rep-writer.js";
import { WORKLOADS } from "../workloads/index.js";
import { Exit } from "./exit.js";
import { formatBytes, formatInt } from "./format.js";
import { REPORT_FRAMES, reportTrace, writeReport } from "./html.js";
import { recommendFor } from "./recommend.js";
import { selectAllocators } from "./replay.js";
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

export async function demoCommand(
  options: DemoOptions,
  out: (text: string) => void,
): Promise<Exit> {
  const started = performance.now();
  const outDir = resolve(options.output);
  const traceDir = join(outDir, "traces");
  await mkdir(traceDir, { recursive: true });
  const entries = await selectAllocators([]);
  out(
    `kmem demo: ${WORKLOADS.length} built-in workloads, ${formatInt(options.ops)} ops each ` +
      `(seed ${options.seed}), against ${entries.map((a) => a.name).join(", ")}\n` +
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
        heapMapFrames: options.html ? REPORT_FRAMES : 0,
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
    workloads.push(
      reportTrace(source, w.description, rec.memoryBytes, rec.outcomes, {
        pressure: { memoryBytes: rec.pressureMemoryBytes, results: rec.pressure },
        recommendation: {
          goal: rec.goal,
          ranking: rec.ranking.map((x) => ({
            allocator: x.allocator,
            score: x.score,
            complete: x.complete,
          })),
          reason: rec.reason,
        },
      }),
    );
  }
  out(
    `traces: ${shown(traceDir)}/ (replay one: kmem replay ${shown(join(traceDir, "webserver.rep"))})\n`,
  );
  if (options.html) {
    const file = join(outDir, "report.html");
    await writeReport(
      file,
      "kmem: which allocator, and why",
      `${WORKLOADS.length} workloads × ${entries.length} allocators, ${formatInt(options.ops)} ops ` +
        `each, seed ${options.seed}`,
      workloads,
    );
    out(`report: ${shown(file)} (self-contained, opens offline)\n`);
  }
  out(`done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return faulty ? Exit.AllocatorFault : Exit.Ok;
}
