/*
 * `kmem recommend --machine NAME --markdown [ranking|memory]`: the machine's workloads at
 * each of its memory sizes (or the one --ram names) as one Markdown table, a row per
 * (workload, size), a column per slab allocator and the buddy system, beside the first of
 * the ranking; then, for the workloads that run on every cpu, their table on the machine's
 * cpus. `ranking` cells: rank (score) p99.9, utilization, failures: timed, so they change
 * from run to run. `memory` cells: utilization and overhead at the peak and the failures,
 * no timing: the same bytes on every run (docs/slab.md shows one, checked by the docs test).
 */

import { machineMemoryBytes, findMachine } from "../machines.js";
import type { Ranked } from "../recommend.js";
import { MACHINE_WORKLOADS, WORKLOADS } from "../workloads/index.js";
import { CliError, Exit } from "./exit.js";
import { formatBytes, formatInt, formatLatency, formatPct, formatRate } from "./format.js";
import { type Recommendation, recommendFor, type RecommendOptions } from "./recommend.js";
import { resolveSources } from "./run.js";
import { coresNote, runSmp, type SmpSection, smpAllocators, smpRanking } from "./smp.js";

export type TableKind = "ranking" | "memory";

/** The columns beside the first: the seed's three slab allocators and the buddy system. */
const COLUMNS: readonly [string, string][] = [
  ["slab", "SLAB"],
  ["slub", "SLUB"],
  ["slob", "SLOB"],
  ["buddy", "buddy"],
];

const GiB = 2 ** 30;

function failed(n: number): string {
  return n > 0 ? `, ${formatInt(n)} failed` : "";
}

function rankingCell(rec: Recommendation, x: Ranked): string {
  const r = x.result;
  return (
    `${rec.ranking.indexOf(x) + 1} (${x.score.toFixed(2)}) ` +
    `${formatLatency(r.latencyNs.p999, r.latencyNs.floorNs)}, ${r.utilization.toFixed(2)}${failed(r.failures)}`
  );
}

function memoryCell(x: Ranked): string {
  const r = x.result;
  return `${r.utilization.toFixed(2)}, ${formatPct(r.overheadFraction)}${failed(r.failures)}`;
}

/** The allocator with the fewest failures at the full memory, then the best utilization. */
function leastMemory(rec: Recommendation): Ranked | undefined {
  return rec.ranking
    .filter((x) => x.result.error === null)
    .sort(
      (a, b) =>
        a.result.failures - b.result.failures ||
        b.result.utilization - a.result.utilization ||
        a.allocator.localeCompare(b.allocator),
    )[0];
}

export async function machineTableCommand(
  targetsGiven: readonly string[],
  options: RecommendOptions & { markdown: TableKind; workers?: number },
  out: (text: string) => void,
): Promise<Exit> {
  if (options.machine === undefined) throw new CliError(Exit.Usage, "--markdown needs --machine");
  if (options.memory !== undefined)
    throw new CliError(Exit.Usage, "--memory and --machine: give one (--machine sets the memory)");
  if (options.json || options.csv !== undefined || options.html !== undefined)
    throw new CliError(Exit.Usage, "--markdown prints one table: no --json, --csv or --html");
  const m = findMachine(options.machine);
  const scale = options.scale ?? m.defaultScale;
  const sizes = options.ram === undefined || options.ram === 0 ? m.ramBytes : [options.ram];
  const targets = targetsGiven.length > 0 ? targetsGiven : m.workloads;
  const memories = sizes.map((ram) => {
    try {
      return machineMemoryBytes(m, ram, scale);
    } catch (err) {
      throw new CliError(Exit.Usage, (err as Error).message);
    }
  });
  const sources = await resolveSources(targets, options);
  const kind = options.markdown;
  const chosen = options.allocator.flatMap((a) => a.split(","));
  const columns = COLUMNS.filter(([name]) => chosen.length === 0 || chosen.includes(name));
  const rows: string[] = [];
  let faulty = false;
  for (const [k, source] of sources.entries()) {
    const target = targets[k] as string;
    const goal =
      options.goal ??
      [...WORKLOADS, ...MACHINE_WORKLOADS].find((w) => w.name === target)?.goal ??
      "balanced";
    for (const [j, ram] of sizes.entries()) {
      const rec = await recommendFor(
        source,
        options.allocator,
        memories[j],
        {
          check: options.check,
          timeLimitMs: options.timeLimit * 1000,
          timingScale: options.quick ? 0.1 : 1,
          heapMapFrames: 0,
        },
        goal,
      );
      faulty ||= rec.ranking.some((x) => x.result.error !== null || x.pressure.error !== null);
      const first = kind === "ranking" ? rec.ranking[0] : leastMemory(rec);
      const name = j === 0 ? `${target} (${formatBytes(source.info.peakPayloadBytes)})` : target;
      const cells = columns.map(([a]) => {
        const x = rec.ranking.find((r) => r.allocator === a);
        if (x === undefined) return "-";
        return kind === "ranking" ? rankingCell(rec, x) : memoryCell(x);
      });
      const firstCell =
        first === undefined
          ? "-"
          : kind === "ranking"
            ? `${first.allocator} ${first.score.toFixed(2)}`
            : `${first.allocator} ${first.result.utilization.toFixed(2)}`;
      rows.push(`| ${name} | ${ram / GiB} GiB | ${firstCell} | ${cells.join(" | ")} |`);
    }
  }
  const allocs = chosen.length === 0 ? "every allocator" : chosen.join(", ");
  out(
    `machine ${m.name} (${m.description}), memory scaled 1/${scale}; ${formatInt(options.ops)} ops ` +
      `per workload (seed ${options.seed}), ${allocs}; ` +
      (kind === "ranking"
        ? `each cell: rank (score), p99.9, utilization, failures at the full memory\n\n`
        : `each cell: utilization and overhead at the peak, failures at the full memory (no timing)\n\n`),
  );
  out(
    `| workload (peak payload) | ${m.name} | ${kind === "ranking" ? "first" : "fewest failures, then utilization"} | ${columns.map(([, t]) => t).join(" | ")} |\n`,
  );
  out(`| --- | --- | --- | ${columns.map(() => "---").join(" | ")} |\n`);
  out(`${rows.join("\n")}\n`);

  const workers = options.workers ?? m.cpus;
  const smpTargets = targets.filter((t) => m.smpWorkloads.includes(t));
  const smpCols = columns.filter(([a]) => smpAllocators(options.allocator).includes(a));
  if (kind === "ranking" && workers > 1 && smpTargets.length > 0 && smpCols.length > 0) {
    const opsPerCpu = Math.max(1000, Math.floor(options.ops / workers));
    const smpRows: string[] = [];
    let host = "";
    for (const target of smpTargets) {
      for (const [j, ram] of sizes.entries()) {
        const s: SmpSection = await runSmp(
          target,
          options.allocator,
          workers,
          memories[j] as number,
          opsPerCpu,
          options.seed,
        );
        host = s.host;
        faulty ||= s.results.some((r) => r.all.error !== null || r.one.error !== null);
        const best = smpRanking(s)[0];
        const cells = smpCols.map(([a]) => {
          const r = s.results.find((x) => x.allocator === a);
          if (r === undefined) return "-";
          const err = r.all.error ?? r.one.error;
          return err !== null
            ? "error"
            : `${formatRate(r.all.opsPerSec)} (${r.speedup.toFixed(2)}×)${failed(r.all.failures)}`;
        });
        smpRows.push(
          `| ${target} | ${ram / GiB} GiB | ${best === undefined ? "-" : `${best.allocator} ${formatRate(best.all.opsPerSec)}`} | ${cells.join(" | ")} |`,
        );
      }
    }
    out(
      `\non ${workers} cpus: a worker per cpu over one SharedArrayBuffer, each its own trace of ` +
        `${formatInt(opsPerCpu)} ops; each cell: ops/s on ${workers} cpus (speedup over one ` +
        `cpu replaying the same traces), failures; the faster of 3 rounds; ${host}; ${coresNote(workers)}\n\n`,
    );
    out(
      `| workload | ${m.name} | first on ${workers} cpus | ${smpCols.map(([, t]) => t).join(" | ")} |\n`,
    );
    out(`| --- | --- | --- | ${smpCols.map(() => "---").join(" | ")} |\n`);
    out(`${smpRows.join("\n")}\n`);
  }
  return faulty ? Exit.AllocatorFault : Exit.Ok;
}
