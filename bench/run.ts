/*
 * `npm run bench [-- FILTER]`: every benchmark in one process, medians per operation and
 * ratios, printed as Markdown (the tables of BENCHMARKS.md come from here).
 */

import os from "node:os";
import { markdown, runAll } from "./harness.js";
import { registerKmallocBenchmarks } from "./kmalloc.js";
import { registerPageBenchmarks } from "./pages.js";

registerPageBenchmarks();
await registerKmallocBenchmarks();

const filter = process.argv[2];
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const rows = await runAll(filter, rounds);
const cpu = os.cpus()[0]?.model ?? "unknown cpu";
process.stdout.write(
  `Node ${process.version}, ${cpu}, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}; ` +
    `per case the lowest median of ${rounds} interleaved rounds\n\n`,
);
process.stdout.write(markdown(rows));
