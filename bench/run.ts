/*
 * `npm run bench [-- FILTER]`: every benchmark in one process, medians per operation and
 * ratios, printed as Markdown (the tables of BENCHMARKS.md come from here).
 */

import { execFileSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { markdown, runAll } from "./harness.js";
import { registerKmallocBenchmarks } from "./kmalloc.js";
import { registerPageBenchmarks } from "./pages.js";
import { registerVmemBenchmarks } from "./vmem.js";
import { breakdownBenchmarks } from "./breakdown.js";
import { programsSideBySide, programsSlabFamily, replayBenchmarks } from "./replay.js";
import { registerVmallocBenchmarks } from "./vmalloc.js";
import { runSmpBenchmarks, runSmpSlabBenchmarks } from "./smp.js";
import { wasmBenchmarks } from "./wasm.js";

registerPageBenchmarks();
await registerKmallocBenchmarks();
registerVmemBenchmarks();
registerVmallocBenchmarks();

const filter = process.argv[2];
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
// `npm run bench -- replay` runs the trace replays alone (`-- programs` the side-by-side table
// of the program traces alone, `-- breakdown [TRACE]` where kmalloc's time and bytes go,
// `-- breakdown-memory [TRACE]` its memory figures alone); workers over
// one SharedArrayBuffer have their own timing, not mitata's (`npm run bench -- smp`), and so do
// the C programs compiled to WebAssembly (`npm run bench -- wasm`).
const smpOnly = filter === "smp" || filter === "workers";
const smpSlabOnly = filter === "smp-slab";
const wasmOnly = filter === "wasm";
const traceOnly = ["replay", "programs", "programs-slab", "breakdown", "breakdown-memory"].includes(
  filter ?? "",
);
const rows = traceOnly || smpOnly || smpSlabOnly || wasmOnly ? [] : await runAll(filter, rounds);
const cpu = os.cpus()[0]?.model ?? "unknown cpu";
if (!wasmOnly) {
  process.stdout.write(
    `Node ${process.version}, ${cpu}, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}` +
      `${rows.length > 0 ? `; per case the lowest median of ${rounds} interleaved rounds` : ""}; ` +
      `load average ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(", ")}\n\n`,
  );
  process.stdout.write(markdown(rows));
}
if (filter === undefined || smpOnly) {
  process.stdout.write(`${await runSmpBenchmarks(Math.max(rounds, 5))}\n`);
}
// The same worker cases over SLUB, SLAB and SLOB (`-- smp-slab` alone).
if (filter === undefined || smpOnly || filter === "smp-slab") {
  process.stdout.write(`${await runSmpSlabBenchmarks(Math.max(rounds, 3))}\n`);
}

// Construction in fresh processes: what a program pays once, at start.
if (filter === undefined || "construction".includes(filter) || filter.includes("cold")) {
  const script = fileURLToPath(new URL("./construct-cold.js", import.meta.url));
  const lines = [
    "### construction in a fresh process (median of 10 processes)",
    "",
    "| memory | median | max |",
    "| --- | ---: | ---: |",
  ];
  for (const mib of [64, 256, 1024]) {
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const out = execFileSync(process.execPath, [script, String(mib * 2 ** 20)], {
        encoding: "utf8",
      });
      times.push(Number(out.trim()));
    }
    times.sort((a, b) => a - b);
    const median = ((times[4] as number) + (times[5] as number)) / 2;
    lines.push(`| ${mib} MiB | ${median.toFixed(2)} ms | ${(times[9] as number).toFixed(2)} ms |`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

// sqlite and zstd compiled to WebAssembly, their malloc kmem's or dlmalloc.
if (filter === undefined || wasmOnly) {
  process.stdout.write(
    `\n${wasmBenchmarks((line) => process.stderr.write(`${line}\n`), Math.max(rounds, 5))}\n`,
  );
}

// The traces against every allocator and peer, as `kmem replay` runs them.
const log = (line: string): void => void process.stderr.write(`${line}\n`);
if (filter === undefined || filter === "replay" || filter === "programs") {
  // BENCH_ROUNDS (default 3) rounds, each cell the median speed with the range.
  const only = filter === "programs" ? process.argv[3] : undefined;
  const text = await programsSideBySide(log, only, rounds);
  if (text !== "") process.stdout.write(`\n${text}\n`);
}
// The same program traces against SLUB, SLAB and SLOB (`-- programs-slab [TRACE]` alone).
if (filter === undefined || filter === "programs" || filter === "programs-slab") {
  const only = filter?.startsWith("programs") === true ? process.argv[3] : undefined;
  const text = await programsSlabFamily(log, only, rounds);
  if (text !== "") process.stdout.write(`\n${text}\n`);
}
if (filter === undefined || filter === "replay") {
  const text = await replayBenchmarks(log);
  if (text !== "") process.stdout.write(`\n${text}\n`);
}
if (filter === "breakdown" || filter === "breakdown-memory") {
  const text = await breakdownBenchmarks(log, process.argv[3], filter === "breakdown");
  if (text !== "") process.stdout.write(`\n${text}\n`);
}
