/*
 * `kmem overcommit`: the overcommit workload (src/overcommit.ts) with no swap, zswap, a
 * zram swap area, and both: how far each run gets, what was swapped and compressed, and
 * the latency the faults add. With --report NAME, that file of the last setup's instance
 * (meminfo, vmstat, swaps, dmesg, mm_stat) follows.
 */

import type { ReportName } from "kmem";
import {
  type OvercommitOptions,
  type OvercommitResult,
  runOvercommit,
  SWAP_SETUPS,
  type SwapSetup,
} from "../overcommit.js";
import { CliError, Exit } from "./exit.js";

export const OVERCOMMIT_REPORTS = ["meminfo", "vmstat", "swaps", "dmesg", "mm_stat"] as const;

export interface OvercommitCliOptions extends OvercommitOptions {
  setup?: string;
  report?: string;
}

function row(r: OvercommitResult, pageSize: number): string[] {
  const ratio = r.compressedMemBytes > 0 ? r.storedBytes / r.compressedMemBytes : 0;
  return [
    r.setup,
    `${r.written}/${r.pages}`,
    String(r.zswpout),
    String(r.pswpout),
    `${r.accessFaults}/${r.zswpin + r.pswpin}`,
    ratio > 0 ? `${ratio.toFixed(2)}x` : "-",
    `${Math.round(r.compressedMemBytes / pageSize)}`,
    r.majorFaults > 0 ? r.faultMedianUs.toFixed(1) : "-",
    r.majorFaults > 0 ? r.faultP99Us.toFixed(1) : "-",
    r.hitMedianUs.toFixed(2),
    r.intact ? "yes" : "NO",
  ];
}

export function overcommitCommand(o: OvercommitCliOptions, out: (text: string) => void): Exit {
  const setups: readonly SwapSetup[] =
    o.setup === undefined ? SWAP_SETUPS : SWAP_SETUPS.filter((s) => s === o.setup);
  if (setups.length === 0) {
    throw new CliError(Exit.Usage, `--setup must be one of ${SWAP_SETUPS.join(", ")}`);
  }
  if (o.report !== undefined && !(OVERCOMMIT_REPORTS as readonly string[]).includes(o.report)) {
    throw new CliError(Exit.Usage, `--report must be one of ${OVERCOMMIT_REPORTS.join(", ")}`);
  }
  const head = [
    "setup",
    "written",
    "zswpout",
    "pswpout",
    "faults/in",
    "ratio",
    "c.pages",
    "fault us",
    "p99 us",
    "hit us",
    "intact",
  ];
  const rows: string[][] = [head];
  let last: OvercommitResult | null = null;
  for (const s of setups) {
    last = runOvercommit(s, o);
    rows.push(row(last, last.mm.pageSize));
  }
  const widths = head.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  out(
    `kmem overcommit: a working set of ${o.ratio}x memory (${o.memory >> 20} MiB), ${Math.round(o.hot * 100)}% of it hot, ${o.accesses} accesses, ${o.algorithm}\n`,
  );
  for (const r of rows)
    out(
      `${r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join("  ")}\n`,
    );
  out(
    "written: pages of the working set allocated and written; faults/in: accesses that faulted / pages swapped in (the final check reads every page); ratio: pages held compressed / memory holding them (c.pages); fault us / hit us: an access that faulted / did not (timed: varies by machine)\n",
  );
  if (o.report !== undefined && last !== null) {
    const mm = last.mm;
    out(`==> ${o.report} (${last.setup}) <==\n`);
    if (o.report === "mm_stat") {
      const z = mm.findZram("zram0");
      out(z === null ? "(no zram device in this setup)\n" : z.report("mm_stat"));
    } else out(mm.report(o.report as ReportName));
  }
  return Exit.Ok;
}
