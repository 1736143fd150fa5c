/*
 * `kmem demo`: the page allocator at work on a built-in workload. Prints the /proc views
 * and fragmentation indices before and after a seeded churn of mixed-order allocations.
 */

import { Kmem } from "../kmem.js";
import { formatMilli } from "../page/index.js";
import { runPageChurn } from "../workload/index.js";
import { formatBytes, table } from "./format.js";

export interface DemoOptions {
  memory: number;
  pageSize: number;
  ops: number;
  seed: number;
  maxOrder: number;
}

function fragmentationTable(mm: Kmem): string {
  const header = ["order"];
  const unusable = ["unusable_index"];
  const extfrag = ["extfrag_index"];
  for (let o = 0; o < mm.maxOrder; o++) {
    header.push(String(o));
    unusable.push(formatMilli(Math.round(mm.unusableIndex(o) * 1000)));
    extfrag.push(formatMilli(Math.round(mm.extfragIndex(o) * 1000)));
  }
  return table([header, unusable, extfrag]);
}

function snapshot(mm: Kmem, title: string): string {
  const meminfo = mm
    .report("meminfo")
    .split("\n")
    .filter((line) => /^Mem(Total|Free|Available):/.test(line))
    .join("\n");
  return [
    `== ${title} ==`,
    "/proc/buddyinfo (free blocks per order)",
    mm.report("buddyinfo").trimEnd(),
    "",
    "/proc/meminfo",
    meminfo,
    "",
    "fragmentation indices (0 = none; extfrag -1 = the order can be served)",
    fragmentationTable(mm),
    "",
  ].join("\n");
}

export function runDemo(options: DemoOptions, out: (text: string) => void): void {
  const mm = new Kmem({ memory: options.memory, pageSize: options.pageSize });
  const w = mm.watermarks;
  out(
    `kmem demo: ${formatBytes(options.memory)} of ${options.pageSize}-byte pages, ` +
      `${mm.managedPages} managed (${mm.totalPages - mm.managedPages} reserved for the header and mem_map)\n` +
      `watermarks: min ${w.min}, low ${w.low}, high ${w.high} pages\n` +
      `workload: ${options.ops} random allocPages/freePages, orders 0..${options.maxOrder} ` +
      `(60% order 0, each order up 40% as likely), seed ${options.seed}\n\n`,
  );
  out(snapshot(mm, "before"));
  const r = runPageChurn(mm, {
    ops: options.ops,
    seed: options.seed,
    maxOrder: options.maxOrder,
    maxLiveShare: 0.9,
  });
  mm.verify();
  out(
    `\n${snapshot(
      mm,
      `after ${options.ops} operations: ${r.allocs} allocations, ${r.frees} frees, ` +
        `${r.failures} failures; ${r.liveBlocks} blocks (${r.livePages} pages) still live`,
    )}`,
  );
  const s = mm.stats();
  out(
    `\nvmstat: pgalloc_normal ${s.events.pgalloc_normal}, pgfree ${s.events.pgfree}, ` +
      `pcp_drain ${s.events.pcp_drain}, pgalloc_fail ${s.events.pgalloc_fail}\n` +
      "verify(): every invariant holds (speed: see `npm run bench`)\n",
  );
}
