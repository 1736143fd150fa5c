/*
 * `kmem report NAME [--workload W]`: replays a workload (or a trace file) against a kmem layer
 * and prints the /proc-style file NAME of the final state: blocks the workload left live are
 * still allocated, as on a running system.
 */

import type { ReportName } from "kmem";
import { ALLOCATORS, findAllocator, UnknownNameError } from "../allocators.js";
import { defaultMemoryBytes } from "../replay.js";
import { CliError, Exit } from "./exit.js";
import { resolveSource, runPairs } from "./run.js";

export const REPORTS: readonly ReportName[] = [
  "buddyinfo",
  "slabinfo",
  "meminfo",
  "vmstat",
  "vmallocinfo",
  "unusable_index",
  "extfrag_index",
  "numastat",
];

/** Why a report can be empty, after "is empty". */
const EMPTY: Partial<Record<ReportName, string>> = {
  vmallocinfo: ": no vmalloc or vmap area was in use at the end of the workload",
};

/**
 * Where Linux shows the file: /proc, debugfs for the fragmentation indices; numastat is
 * numactl's command, whose table this is.
 */
export function reportPath(name: ReportName): string {
  if (name === "numastat") return "numastat";
  return name.endsWith("_index") ? `/sys/kernel/debug/extfrag/${name}` : `/proc/${name}`;
}

export interface ReportOptions {
  workload: string;
  allocator: string;
  memory?: number;
  seed: number;
  ops: number;
}

export async function reportCommand(
  name: string,
  options: ReportOptions,
  out: (text: string) => void,
): Promise<Exit> {
  const names: ReportName[] =
    name === "all"
      ? [...REPORTS]
      : REPORTS.includes(name as ReportName)
        ? [name as ReportName]
        : [];
  if (names.length === 0) throw new UnknownNameError("report", name, [...REPORTS, "all"]);
  const entry = findAllocator(options.allocator);
  if (entry.kind !== "kmem") {
    const layers = ALLOCATORS.filter((a) => a.kind === "kmem").map((a) => a.name);
    throw new CliError(
      Exit.Usage,
      `${entry.name} is not a kmem layer: /proc reports need one of ${layers.join(", ")}`,
    );
  }
  const source = await resolveSource(options.workload, options);
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
    const text = mm.report(n);
    out(text);
    // Linux prints no header in vmallocinfo: with no area the file is empty, and so is the
    // output; the reason goes to stderr rather than a line no /proc reader expects.
    if (text === "") process.stderr.write(`kmem: ${reportPath(n)} is empty${EMPTY[n] ?? ""}\n`);
    if (names.length > 1) out("\n");
  }
  return Exit.Ok;
}
