/*
 * `kmem report NAME [--workload W | --trace FILE]`: replays a workload (or a trace file)
 * against a kmem layer and prints the /proc-style file NAME of the final state: blocks the
 * workload left live are still allocated, as on a running system. `kasan`, `kfence` and
 * `kmemleak` run it under that sanitizer instead (sanitize.ts) and print what it found and
 * its state, a bug planted first with `--plant`.
 */

import type { Kmem, ReportName } from "kmem";
import { ALLOCATORS, findAllocator, UnknownNameError } from "../allocators.js";
import { defaultMemoryBytes } from "../replay.js";
import {
  PLANTS,
  runSanitized,
  SANITIZERS,
  type SanitizerName,
  sanitizerOptions,
  withoutStacks,
} from "../sanitize.js";
import { CliError, Exit } from "./exit.js";
import { formatBytes } from "./format.js";
import { resolveSource, runPairs, shortName } from "./run.js";

export const REPORTS: readonly ReportName[] = [
  "buddyinfo",
  "slabinfo",
  "meminfo",
  "vmstat",
  "vmallocinfo",
  "unusable_index",
  "extfrag_index",
  "numastat",
  "zoneinfo",
];

/**
 * Files of a zram device (and its zsmalloc pool) that the workload's memory is written to:
 * a quarter of the managed pages, from the first, as reclaim would write them out.
 */
export const ZRAM_REPORTS = ["mm_stat", "io_stat", "bd_stat", "zsmalloc-classes"] as const;
type ZramReport = (typeof ZRAM_REPORTS)[number];

/** Why a report can be empty, after "is empty". */
const EMPTY: Partial<Record<ReportName, string>> = {
  vmallocinfo: ": no vmalloc or vmap area was in use at the end of the workload",
};

/**
 * Where Linux shows the file: /proc, debugfs for the fragmentation indices, sysfs and debugfs
 * for zram's; numastat is numactl's command, whose table this is.
 */
export function reportPath(name: ReportName | ZramReport): string {
  if (name === "numastat") return "numastat";
  if (name === "zsmalloc-classes") return "/sys/kernel/debug/zsmalloc/zram0/classes";
  if ((ZRAM_REPORTS as readonly string[]).includes(name)) return `/sys/block/zram0/${name}`;
  return name.endsWith("_index") ? `/sys/kernel/debug/extfrag/${name}` : `/proc/${name}`;
}

/** The report `name` of zram0 after the workload's memory was written to it. */
function zramReport(mm: Kmem, name: ZramReport): string {
  let z = mm.findZram("zram0");
  if (z === null) {
    const pages = Math.floor(mm.managedPages / 4);
    const start = mm.stats().reservedPages * mm.pageSize;
    const image = mm.read(start, pages * mm.pageSize);
    z = mm.createZram({ disksize: pages * mm.pageSize });
    if (z === null) throw new Error("no memory left for a zram device");
    for (let i = 0; i < pages; i++)
      z.write(i, image.subarray(i * mm.pageSize, (i + 1) * mm.pageSize));
    mm.verify();
  }
  return name === "zsmalloc-classes" ? z.pool.report("classes") : z.report(name);
}

export interface ReportOptions {
  workload: string;
  /** A trace file, instead of the workload. */
  trace?: string;
  allocator: string;
  memory?: number;
  seed: number;
  ops: number;
  /** kasan, kfence, kmemleak: a bug to plant after the trace (PLANTS). */
  plant?: string;
  /** kfence: one slab allocation in this many is sampled. */
  interval?: number;
}

const TITLES: Record<SanitizerName, string> = {
  kasan: "KASAN",
  kfence: "KFENCE",
  kmemleak: "kmemleak",
};

/**
 * `kmem report kasan|kfence|kmemleak`: the trace under that sanitizer (sanitize.ts), then
 * what it found and its state, as mm.report gives them; the callers' stacks left out.
 */
async function sanitizerReport(
  name: SanitizerName,
  options: ReportOptions,
  out: (text: string) => void,
): Promise<Exit> {
  const plant = options.plant ?? null;
  if (plant !== null && !PLANTS[name].includes(plant)) {
    throw new CliError(
      Exit.Usage,
      `--plant ${plant}: ${TITLES[name]} reports ${PLANTS[name].join(", ")}`,
    );
  }
  if (options.interval !== undefined && name !== "kfence") {
    throw new CliError(Exit.Usage, "--interval is KFENCE's sample interval: kmem report kfence");
  }
  const plain = findAllocator(options.allocator);
  if (plain.sanitized === undefined) {
    const layers = ALLOCATORS.filter((a) => a.sanitized !== undefined).map((a) => a.name);
    throw new CliError(
      Exit.Usage,
      `${plain.name} cannot run under the sanitizers: one of ${layers.join(", ")}`,
    );
  }
  const entry = plain.sanitized(sanitizerOptions(name, options.interval), name);
  if (entry === null) {
    throw new CliError(Exit.Usage, `${TITLES[name]} does not run over ${plain.name}`);
  }
  const source = await resolveSource(options.trace ?? options.workload, options);
  const memoryBytes = options.memory ?? defaultMemoryBytes(source.info.peakPayloadBytes);
  let run;
  try {
    run = await runSanitized(source, entry, memoryBytes, name, plant);
  } catch (err) {
    if (err instanceof RangeError) throw new CliError(Exit.Failure, err.message);
    throw err;
  }
  const accesses =
    name === "kmemleak"
      ? ""
      : `, ${run.accesses.toLocaleString("en-US")} accesses checked (${formatBytes(run.bytes)})`;
  out(
    `${shortName(source.name)} on ${plain.name} under ${TITLES[name]}: ` +
      `${run.ops.toLocaleString("en-US")} ops${accesses}, memory ${formatBytes(memoryBytes)}` +
      (name === "kmemleak"
        ? `; scanned with the trace's ${run.live.length.toLocaleString("en-US")} live blocks as roots`
        : "") +
      "\n",
  );
  if (run.planted !== "") out(`${run.planted}\n`);
  out("\n");
  for (const d of run.damaged) out(`${d}\n`);
  out(withoutStacks(run.mm.report(name)));
  return run.reports > 0 || run.damaged.length > 0 ? Exit.AllocatorFault : Exit.Ok;
}

export async function reportCommand(
  name: string,
  options: ReportOptions,
  out: (text: string) => void,
): Promise<Exit> {
  if ((SANITIZERS as readonly string[]).includes(name)) {
    return sanitizerReport(name as SanitizerName, options, out);
  }
  if (options.plant !== undefined || options.interval !== undefined) {
    throw new CliError(Exit.Usage, "--plant and --interval are for kasan, kfence and kmemleak");
  }
  const names: (ReportName | ZramReport)[] =
    name === "all"
      ? [...REPORTS]
      : REPORTS.includes(name as ReportName) || (ZRAM_REPORTS as readonly string[]).includes(name)
        ? [name as ReportName | ZramReport]
        : [];
  if (names.length === 0) {
    throw new UnknownNameError("report", name, [...REPORTS, ...ZRAM_REPORTS, ...SANITIZERS, "all"]);
  }
  const entry = findAllocator(options.allocator);
  if (entry.kind !== "kmem") {
    const layers = ALLOCATORS.filter((a) => a.kind === "kmem").map((a) => a.name);
    throw new CliError(
      Exit.Usage,
      `${entry.name} is not a kmem layer: /proc reports need one of ${layers.join(", ")}`,
    );
  }
  const source = await resolveSource(options.trace ?? options.workload, options);
  const memoryBytes = options.memory ?? defaultMemoryBytes(source.info.peakPayloadBytes);
  const [outcome] = await runPairs([{ source, entry, memoryBytes, timed: false }], {
    check: true,
    timeLimitMs: Infinity,
    keepCandidate: true,
  });
  const mm = outcome?.candidate?.kmem;
  if (outcome === undefined || mm === undefined) throw new Error("no kmem instance to report on");
  if (outcome.result.error !== null) throw new CliError(Exit.AllocatorFault, outcome.result.error);
  for (const n of names) {
    if (names.length > 1) out(`==> ${reportPath(n)} <==\n`);
    const text = (ZRAM_REPORTS as readonly string[]).includes(n)
      ? zramReport(mm, n as ZramReport)
      : mm.report(n as ReportName);
    out(text);
    // Linux prints no header in vmallocinfo: with no area the file is empty, and so is the
    // output; the reason goes to stderr rather than a line no /proc reader expects.
    if (text === "") {
      process.stderr.write(`kmem: ${reportPath(n)} is empty${EMPTY[n as ReportName] ?? ""}\n`);
    }
    if (names.length > 1) out("\n");
  }
  return Exit.Ok;
}
