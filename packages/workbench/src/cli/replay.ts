/*
 * `kmem replay TRACE... [--allocator NAME]... [--memory BYTES] [--json]`: every trace against
 * every allocator named (all by default); a table, or one JSON array with --json.
 */

import { ALLOCATORS, type AllocatorEntry, findAllocator } from "../allocators.js";
import { defaultMemoryBytes, type ReplayResult } from "../replay.js";
import { Exit } from "./exit.js";
import { formatBytes } from "./format.js";
import { resultsTable } from "./results.js";
import { type Pair, resolveSources, runPairs, shortName } from "./run.js";

export interface ReplayCommandOptions {
  allocator: string[];
  memory?: number;
  json: boolean;
  check: boolean;
  timeLimit: number;
  quick: boolean;
  seed: number;
  ops: number;
}

/** The entries named (comma lists allowed), in registry order; all when none is named. */
export function selectAllocators(names: readonly string[]): AllocatorEntry[] {
  const wanted = names.flatMap((n) => n.split(",")).filter((n) => n !== "");
  if (wanted.length === 0) return [...ALLOCATORS];
  const picked = new Set(wanted.map((n) => findAllocator(n)));
  return ALLOCATORS.filter((a) => picked.has(a));
}

export async function replayCommand(
  traces: readonly string[],
  options: ReplayCommandOptions,
  out: (text: string) => void,
): Promise<Exit> {
  const entries = selectAllocators(options.allocator);
  const sources = await resolveSources(traces, options);
  const pairs: Pair[] = [];
  for (const source of sources) {
    const memoryBytes = options.memory ?? defaultMemoryBytes(source.info.peakPayloadBytes);
    for (const entry of entries) pairs.push({ source, entry, memoryBytes, timed: true });
  }
  const outcomes = await runPairs(pairs, {
    check: options.check,
    timeLimitMs: options.timeLimit * 1000,
    timingScale: options.quick ? 0.1 : 1,
  });
  const results: ReplayResult[] = outcomes.map((o) => o.result);
  if (options.json) {
    out(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    for (const source of sources) {
      const mine = results.filter((r) => r.trace === source.name);
      const i = source.info;
      out(
        `${shortName(source.name)}: ${i.header.ops.toLocaleString("en-US")} ops, peak payload ` +
          `${formatBytes(i.peakPayloadBytes)}, memory ${formatBytes((mine[0] as ReplayResult).memoryBytes)}\n`,
      );
      out(`${resultsTable(mine, false)}\n\n`);
    }
  }
  return results.some((r) => r.error !== null) ? Exit.AllocatorFault : Exit.Ok;
}
