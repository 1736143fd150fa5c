/*
 * `kmem replay TRACE... [--allocator NAME]... [--memory BYTES] [--json | --csv [FILE]]
 * [--html FILE]`: every trace against every allocator named (all by default); a table per
 * trace and, for several traces, the cross-trace summary; or one JSON array, or CSV; and the
 * HTML report with the heap maps.
 */

import { ALLOCATORS, type AllocatorEntry, findAllocator } from "../allocators.js";
import { resultsCsv } from "../csv.js";
import { defaultMemoryBytes, type ReplayOutcome, type ReplayResult } from "../replay.js";
import { MACHINE_WORKLOADS, WORKLOADS } from "../workloads/index.js";
import { CliError, Exit } from "./exit.js";
import { formatBytes } from "./format.js";
import { REPORT_FRAMES, reportTrace, traceDescription, writeReport } from "./html.js";
import { type MachineOptions, machineSetup } from "./machine.js";
import { checkOutputPath, writeOutput } from "./output.js";
import { resultsTable } from "./results.js";
import { type Pair, resolveSources, runPairs, shortName } from "./run.js";
import { summaryText } from "./summary.js";

export interface ReplayCommandOptions extends MachineOptions {
  allocator: string[];
  memory?: number;
  json: boolean;
  /** true: CSV on standard output; a string: CSV to that file. */
  csv?: boolean | string;
  html?: string;
  check: boolean;
  timeLimit: number;
  quick: boolean;
  seed: number;
  ops: number;
  /** Each kmem layer again under KASAN, beside its plain run. */
  kasan?: boolean;
  /** Each kmem layer again under KFENCE (true: sampling one allocation in 100; a number: in that many). */
  kfence?: boolean | number;
}

/**
 * The entries with their sanitized variants after each kmem layer that can run under them
 * (`slub`, then `slub+kasan`, `slub+kfence`): the cost of a sanitizer is its row beside the
 * plain one.
 */
function withSanitized(
  entries: readonly AllocatorEntry[],
  options: Pick<ReplayCommandOptions, "kasan" | "kfence">,
): AllocatorEntry[] {
  if (options.kasan !== true && options.kfence === undefined) return [...entries];
  const out: AllocatorEntry[] = [];
  for (const e of entries) {
    out.push(e);
    if (e.sanitized === undefined) continue;
    const add = (v: AllocatorEntry | null): void => {
      if (v !== null) out.push(v);
    };
    if (options.kasan === true) add(e.sanitized({ kasan: true }, "kasan"));
    if (options.kfence !== undefined && options.kfence !== false) {
      const interval = options.kfence === true ? 100 : options.kfence;
      add(e.sanitized({ kfence: { sampleInterval: interval } }, "kfence"));
    }
  }
  if (out.length === entries.length) {
    const layers = ALLOCATORS.filter((a) => a.sanitized !== undefined).map((a) => a.name);
    throw new CliError(
      Exit.Usage,
      `--kasan and --kfence need a kmem layer that can run under them: ${layers.join(", ")}`,
    );
  }
  return out;
}

/** Under the table: each sanitized run's speed and footprint relative to its plain run. */
export function sanitizerCost(results: readonly ReplayResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const plus = r.allocator.lastIndexOf("+");
    if (plus < 0) continue;
    const base = results.find((p) => p.allocator === r.allocator.slice(0, plus));
    if (base === undefined) continue;
    const speed =
      r.opsPerSec !== null && base.opsPerSec !== null && base.opsPerSec > 0
        ? `ops/s ${(r.opsPerSec / base.opsPerSec).toFixed(2)}×`
        : "ops/s -";
    const mem =
      base.peakFootprintBytes > 0
        ? `peak footprint ${(r.peakFootprintBytes / base.peakFootprintBytes).toFixed(2)}×`
        : "peak footprint -";
    lines.push(`  ${r.allocator.padEnd(14)} ${speed}, ${mem} of ${base.allocator}'s`);
  }
  return lines.length === 0
    ? ""
    : `Under the sanitizers (beside the plain run; KASAN's footprint counts its shadow):\n${lines.join("\n")}\n\n`;
}

/**
 * The entries named (comma lists allowed), in registry order; all when none is named. One
 * that cannot run here (native code without a compiler) is left out of "all" with a line on
 * standard error, and is a failure when named.
 */
export async function selectAllocators(names: readonly string[]): Promise<AllocatorEntry[]> {
  const wanted = names.flatMap((n) => n.split(",")).filter((n) => n !== "");
  const picked =
    wanted.length === 0
      ? [...ALLOCATORS]
      : ((set) => ALLOCATORS.filter((a) => set.has(a)))(
          new Set(wanted.map((n) => findAllocator(n))),
        );
  const usable: AllocatorEntry[] = [];
  for (const entry of picked) {
    const why = (await entry.available?.()) ?? null;
    if (why === null) usable.push(entry);
    else if (wanted.length > 0)
      throw new CliError(Exit.Failure, `${entry.name} is not available: ${why}`);
    else process.stderr.write(`kmem: ${entry.name} skipped: ${why}\n`);
  }
  return usable;
}

/** A workload's description, or a trace file's op mix. */
export function describeSource(
  name: string,
  source: Parameters<typeof traceDescription>[0],
): string {
  return (
    [...WORKLOADS, ...MACHINE_WORKLOADS].find((w) => w.name === name)?.description ??
    traceDescription(source)
  );
}

export async function replayCommand(
  traces: readonly string[],
  options: ReplayCommandOptions,
  out: (text: string) => void,
): Promise<Exit> {
  const machine = machineSetup(traces, options);
  const targets = machine?.targets ?? traces;
  if (targets.length === 0)
    throw new CliError(Exit.Usage, "replay: give traces or workloads, or --machine");
  const entries = withSanitized(await selectAllocators(options.allocator), options);
  // Output files are checked before anything runs: a typo costs no replay.
  if (options.html !== undefined) checkOutputPath(options.html);
  if (typeof options.csv === "string") checkOutputPath(options.csv);
  const sources = await resolveSources(targets, options);
  const pairs: Pair[] = [];
  for (const source of sources) {
    const memoryBytes =
      machine?.memoryBytes ?? options.memory ?? defaultMemoryBytes(source.info.peakPayloadBytes);
    for (const entry of entries) pairs.push({ source, entry, memoryBytes, timed: true });
  }
  const outcomes = await runPairs(pairs, {
    check: options.check,
    timeLimitMs: options.timeLimit * 1000,
    timingScale: options.quick ? 0.1 : 1,
    heapMapFrames: options.html !== undefined ? REPORT_FRAMES : 0,
  });
  const results: ReplayResult[] = outcomes.map((o) => o.result);
  const perTrace = sources.map((source, k) => ({
    source,
    outcomes: outcomes.slice(k * entries.length, (k + 1) * entries.length),
  }));
  if (options.json) {
    out(`${JSON.stringify(results, null, 2)}\n`);
  } else if (options.csv === true) {
    out(resultsCsv(results));
  } else {
    if (machine !== null) out(`${machine.line}\n\n`);
    for (const { source, outcomes: mine } of perTrace) {
      const i = source.info;
      out(
        `${shortName(source.name)}: ${i.header.ops.toLocaleString("en-US")} ops, peak payload ` +
          `${formatBytes(i.peakPayloadBytes)}, memory ${formatBytes((mine[0] as ReplayOutcome).result.memoryBytes)}\n`,
      );
      out(
        `${resultsTable(
          mine.map((o) => o.result),
          false,
        )}\n\n`,
      );
      out(sanitizerCost(mine.map((o) => o.result)));
    }
    out(
      summaryText(
        perTrace.map((t) => ({ trace: t.source.name, results: t.outcomes.map((o) => o.result) })),
      ),
    );
  }
  if (typeof options.csv === "string") await writeOutput(options.csv, resultsCsv(results));
  if (options.html !== undefined) {
    await writeReport(
      options.html,
      sources.length === 1
        ? `kmem replay: ${shortName(sources[0]?.name ?? "")}`
        : `kmem replay: ${sources.length} traces`,
      `${sources.length} trace${sources.length === 1 ? "" : "s"} × ${entries.length} allocators`,
      perTrace.map(({ source, outcomes: mine }, k) =>
        reportTrace(
          source,
          describeSource(targets[k] ?? "", source),
          (mine[0] as ReplayOutcome).result.memoryBytes,
          mine,
        ),
      ),
    );
    const where = options.json || options.csv === true ? process.stderr : null;
    const line = `report: ${options.html} (self-contained, opens offline)\n`;
    if (where !== null) where.write(line);
    else out(line);
  }
  return results.some((r) => r.error !== null) ? Exit.AllocatorFault : Exit.Ok;
}
