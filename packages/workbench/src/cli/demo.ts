/*
 * `kmem demo` (and `npm start`): the question kmem answers, on the built-in workloads. Generates
 * each workload, replays it against every allocator (and again under memory pressure), prints
 * the comparison and the ranking, and writes a self-contained HTML report with the charts.
 * With --machine (--ram, --scale, --workers): the machine's workloads at its memory, scaled,
 * then those that run on every cpu on its cpus (smp.ts).
 */

import { mkdir } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import type { ReportWorkload } from "../html-report.js";
import { writeRep } from "../rep-writer.js";
import { findWorkload, WORKLOADS } from "../workloads/index.js";
import { Exit } from "./exit.js";
import { formatBytes, formatInt } from "./format.js";
import { REPORT_FRAMES, reportTrace, writeReport } from "./html.js";
import { machineSetup } from "./machine.js";
import { recommendFor } from "./recommend.js";
import { selectAllocators } from "./replay.js";
import { resultsTable } from "./results.js";
import { runSmp, smpAllocators, smpText } from "./smp.js";

export interface DemoOptions {
  output: string;
  ops: number;
  seed: number;
  memory?: number;
  machine?: string;
  ram?: number;
  scale?: number;
  workers?: number;
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
  const machine = machineSetup([], options);
  const chosen = machine === null ? WORKLOADS : machine.targets.map((t) => findWorkload(t));
  const memory = machine?.memoryBytes ?? options.memory;
  out(
    `kmem demo: ${chosen.length} ${machine === null ? "built-in" : "machine"} workloads, ${formatInt(options.ops)} ops each ` +
      `(seed ${options.seed}), against ${entries.map((a) => a.name).join(", ")}\n` +
      (machine === null ? "" : `${machine.line}\n`) +
      `each replayed with the memory shown, and again with 1.5× its peak payload (pressure)\n\n`,
  );
  const workloads: ReportWorkload[] = [];
  let faulty = false;
  for (const w of chosen) {
    const source = w.generate(options.ops, options.seed);
    await writeRep(join(traceDir, `${w.name}.rep`), source);
    const rec = await recommendFor(
      source,
      [],
      memory,
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
  const workers = options.workers ?? machine?.json.cpus ?? 0;
  if (machine !== null && workers > 1 && smpAllocators([]).length > 0) {
    for (const target of machine.smpWorkloads) {
      const s = await runSmp(
        target,
        [],
        workers,
        machine.memoryBytes,
        Math.max(1000, Math.floor(options.ops / workers)),
        options.seed,
      );
      out(`${smpText(s)}\n`);
      faulty ||= s.results.some((r) => r.all.error !== null || r.one.error !== null);
    }
  }
  out(
    `traces: ${shown(traceDir)}/ (replay one: kmem replay ${shown(join(traceDir, "webserver.rep"))})\n`,
  );
  if (options.html) {
    const file = join(outDir, "report.html");
    await writeReport(
      file,
      "kmem: which allocator, and why",
      `${chosen.length} workloads × ${entries.length} allocators, ${formatInt(options.ops)} ops ` +
        `each, seed ${options.seed}`,
      workloads,
    );
    out(`report: ${shown(file)} (self-contained, opens offline)\n`);
  }
  out(`done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return faulty ? Exit.AllocatorFault : Exit.Ok;
}
