#!/usr/bin/env node
/*
 * The `kmem` command: which allocator should this system use, and why, answered with
 * measurements. Each subcommand lives in its own file; this one declares the command line
 * (commander) and maps errors to exit codes (exit.ts):
 *
 *   0 ok, 1 failure, 2 bad usage, 3 malformed trace (`file:line: what`), 4 allocator fault
 */

import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { ALLOCATORS, allocatorNames, UnknownNameError } from "../allocators.js";
import { type Goal, GOALS } from "../recommend.js";
import { AllocatorFault } from "../replay.js";
import { findMachine, machineNames, MACHINES } from "../machines.js";
import { TraceError } from "../trace.js";
import {
  DEFAULT_OPS,
  findWorkload,
  MACHINE_WORKLOADS,
  WORKLOADS,
  workloadNames,
} from "../workloads/index.js";
import { compareCommand } from "./compare.js";
import { demoCommand } from "./demo.js";
import { CliError, Exit } from "./exit.js";
import { parseBytes } from "./format.js";
import { genCommand } from "./gen.js";
import { machineTableCommand, type TableKind } from "./machine-table.js";
import { recommendCommand } from "./recommend.js";
import { recordCommand } from "./record.js";
import { replayCommand } from "./replay.js";
import { REPORTS, reportCommand, ZRAM_REPORTS } from "./report.js";
import { PLANTS, SANITIZERS } from "../sanitize.js";
import { OVERCOMMIT_REPORTS, type OvercommitCliOptions, overcommitCommand } from "./overcommit.js";

function bytesArg(value: string): number {
  try {
    return parseBytes(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** --memory: a byte size kmem and the peers can all be given (kmem manages at most 4 GiB). */
function memoryArg(value: string): number {
  const n = bytesArg(value);
  if (n < 64 * 1024 || n > 4 * 2 ** 30)
    throw new InvalidArgumentError(`must be between 64K and 4G, got ${value}`);
  return n;
}

function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || value.trim() === "")
    throw new InvalidArgumentError(`not a whole number: ${value}`);
  return n;
}

function positiveArg(value: string): number {
  const n = intArg(value);
  if (n === 0) throw new InvalidArgumentError("must be at least 1");
  return n;
}

/** --machine: a known profile's name. */
function machineArg(value: string): string {
  if (!machineNames().includes(value))
    throw new InvalidArgumentError(`unknown machine; known: ${machineNames().join(", ")}`);
  return findMachine(value).name;
}

// Machine profiles (machines.ts): --machine, --ram, --scale, on recommend, replay and demo.
function machineOption(): Option {
  return new Option(
    "--machine <name>",
    `a machine profile: its workloads, its memory scaled (${MACHINES.map((m) => `${m.name}: ${m.description}`).join("; ")})`,
  ).argParser(machineArg);
}

function ramOption(all = false): Option {
  return new Option(
    "--ram <bytes>",
    `with --machine: which of its memory sizes (default: the smallest${all ? "; all: each in turn" : ""})`,
  ).argParser(all ? (v: string) => (v === "all" ? 0 : bytesArg(v)) : bytesArg);
}

// The machine's cpus (smp.ts): recommend and demo run its smpWorkloads on them.
function workersOption(): Option {
  return new Option(
    "--workers <n>",
    "with --machine: workers (cpus) for its workloads that run on every cpu (default: its cpus; 0: none)",
  ).argParser(intArg);
}

function scaleOption(): Option {
  return new Option(
    "--scale <n>",
    "with --machine: memory per allocator is RAM / n, a power of two (default 256)",
  ).argParser(positiveArg);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const out = (text: string): void => {
  process.stdout.write(text);
};

// A reader that stops early (`kmem report all | head`) closes the pipe: what it wanted, it
// has. Writes after that fail with EPIPE, which would otherwise be an unhandled error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(typeof process.exitCode === "number" ? process.exitCode : Exit.Ok);
});

/** The package's version, from its package.json (three folders up from dist/src/cli/). */
const version = (
  JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

const allocatorsHelp = allocatorNames().join(", ");
const workloadsHelp = `workloads:\n${[...WORKLOADS, ...MACHINE_WORKLOADS].map((w) => `  ${w.name.padEnd(12)} ${w.description}`).join("\n")}`;
const exitHelp = `
exit codes: 0 ok, 1 failure (I/O, configuration refused), 2 bad usage,
  3 malformed trace (the message is kmem: file:line: what is wrong), 4 an allocator misbehaved`;

const program = new Command();
program
  .name("kmem")
  .description(
    "Kernel memory allocators over an ArrayBuffer: replay traces and workloads against them, " +
      "compare them with npm allocators, and get a recommendation with the numbers behind it",
  )
  .version(version, "-V, --version", "print the version")
  // A usage error is one line, `kmem: error: what`, then where to read more (each command
  // names its own --help below), not the whole help.
  .configureOutput({ outputError: (text, write) => write(`kmem: ${text}`) })
  .showHelpAfterError("see 'kmem --help'")
  .addHelpText("after", exitHelp)
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? Exit.Ok : Exit.Usage);
  });

let exitCode: Exit = Exit.Ok;

const allocatorOption = (): Option =>
  new Option("-a, --allocator <name>", `repeatable; ${allocatorsHelp}`)
    .argParser(collect)
    .default([], "all");
const seedOption = (): Option =>
  new Option("-s, --seed <n>", "seed of generated workloads").argParser(intArg).default(1);
const opsOption = (dflt: number): Option =>
  new Option("-n, --ops <n>", "ops of generated workloads").argParser(positiveArg).default(dflt);
const timeLimitOption = (): Option =>
  new Option(
    "--time-limit <seconds>",
    "stop each replay pass (timed, measured, under pressure) after this long; the run is then partial, marked *",
  )
    .argParser(positiveArg)
    .default(120);
const htmlOption = (): Option =>
  new Option(
    "--html <file>",
    "also write the HTML report (charts, heap maps over the run; self-contained)",
  );
const csvOption = (): Option =>
  new Option("--csv [file]", "print CSV instead of the tables (or write it to FILE)");

program
  .command("gen")
  .description("write a built-in workload as a malloc-lab .rep trace (gzip if FILE ends in .gz)")
  .argument("<name>", `workload: ${workloadNames().join(", ")}`)
  // Checked in the action, after the name: commander checks required options before the
  // arguments, and `kmem gen nosuch` should hear of the unknown name first.
  .option("-o, --output <file>", "where to write the trace (-: standard output); required")
  .addOption(seedOption())
  .addOption(opsOption(DEFAULT_OPS))
  .addHelpText("after", `\n${workloadsHelp}\n${exitHelp}`)
  .action(
    async (name: string, opts: { output?: string; seed: number; ops: number }, cmd: Command) => {
      findWorkload(name);
      const output = opts.output;
      if (output === undefined)
        cmd.error("error: required option '-o, --output <file>' not specified");
      exitCode = await genCommand(name, { ...opts, output }, out);
    },
  );

program
  .command("replay")
  .description(
    "replay traces (.rep or .rep.gz files, or built-in workload names) against allocators",
  )
  .argument("[trace...]", "trace files or workload names (default with --machine: its workloads)")
  .addOption(allocatorOption())
  .option(
    "-m, --memory <bytes>",
    "memory per allocator (default: 4× the peak payload, 16M..1G)",
    memoryArg,
  )
  .addOption(machineOption())
  .addOption(ramOption())
  .addOption(scaleOption())
  .option("--json", "print one JSON array, an element per (trace, allocator)", false)
  .addOption(csvOption())
  .addOption(htmlOption())
  .option(
    "--no-check",
    "skip the contents check (a pattern written into every block, checked at free)",
  )
  .addOption(timeLimitOption())
  .option(
    "-q, --quick",
    "warm up and repeat timing runs a tenth as long (ops/s less steady)",
    false,
  )
  .option("--kasan", "also run each kmem layer under KASAN (slub+kasan): its cost beside it")
  .addOption(
    new Option(
      "--kfence [interval]",
      "also run each kmem layer under KFENCE, sampling one slab allocation in interval (default 100)",
    ).argParser(positiveArg),
  )
  .addOption(seedOption())
  .addOption(opsOption(DEFAULT_OPS))
  .addHelpText(
    "after",
    `
Per (trace, allocator): ops, ops/s (a pass that only replays), peak payload and footprint,
utilization (peak payload / peak footprint), internal fragmentation, failures, per-op latency
p50/p99/max (a second pass times every op on its own), and the blocks left live (leftovers).
${exitHelp}`,
  )
  .action(
    async (
      traces: string[],
      opts: {
        allocator: string[];
        memory?: number;
        machine?: string;
        ram?: number;
        scale?: number;
        json: boolean;
        csv?: boolean | string;
        html?: string;
        check: boolean;
        timeLimit: number;
        quick: boolean;
        seed: number;
        ops: number;
        kasan?: boolean;
        kfence?: boolean | number;
      },
    ) => {
      exitCode = await replayCommand(traces, opts, out);
    },
  );

program
  .command("recommend")
  .description(
    "rank the allocators for traces or workloads, with the numbers and the reason; several: a summary across them",
  )
  .argument(
    "[trace-or-workload...]",
    `trace files, or any of ${workloadNames().join(", ")} (default with --machine: its workloads)`,
  )
  .addOption(allocatorOption())
  .option(
    "-m, --memory <bytes>",
    "memory per allocator (default: 4× the peak payload, 16M..1G)",
    memoryArg,
  )
  .addOption(machineOption())
  .addOption(ramOption(true))
  .addOption(scaleOption())
  .addOption(workersOption())
  .addOption(
    new Option(
      "--markdown [kind]",
      "with --machine: one Markdown table over its workloads and memory sizes (ranking: timed; memory: utilization and failures only)",
    )
      .choices(["ranking", "memory"])
      .preset("ranking"),
  )
  .option("--json", "print the ranking as JSON (an array of them for several traces)", false)
  .addOption(csvOption())
  .addOption(htmlOption())
  .addOption(
    new Option(
      "-g, --goal <goal>",
      "what counts most (default: a workload's own, else balanced)",
    ).choices(Object.keys(GOALS)),
  )
  .option("--no-check", "skip the contents check")
  .addOption(timeLimitOption())
  .option(
    "-q, --quick",
    "warm up and repeat timing runs a tenth as long (ops/s less steady)",
    false,
  )
  .addOption(seedOption())
  .addOption(opsOption(DEFAULT_OPS))
  .addHelpText(
    "after",
    `
Criteria: speed, utilization, overhead (metadata and free memory held), tail latency (p99.9),
and failures, with the memory given and under pressure (1.5× the peak payload); each scored
relative to the best candidate.
${exitHelp}`,
  )
  .action(
    async (
      targets: string[],
      opts: {
        allocator: string[];
        goal?: Goal;
        memory?: number;
        machine?: string;
        ram?: number;
        scale?: number;
        workers?: number;
        markdown?: TableKind;
        json: boolean;
        csv?: boolean | string;
        html?: string;
        check: boolean;
        timeLimit: number;
        quick: boolean;
        seed: number;
        ops: number;
      },
    ) => {
      const { markdown } = opts;
      exitCode =
        markdown !== undefined
          ? await machineTableCommand(targets, { ...opts, markdown }, out)
          : await recommendCommand(targets, opts, out);
    },
  );

program
  .command("demo")
  .description(
    "the built-in workloads against every allocator: comparison, ranking and an HTML report",
  )
  .option("-o, --output <dir>", "where the report and the traces go", ".kmem-out")
  .addOption(opsOption(50_000))
  .addOption(seedOption())
  .option(
    "-m, --memory <bytes>",
    "memory per allocator (default: 4× the peak payload, 16M..1G)",
    memoryArg,
  )
  .addOption(machineOption())
  .addOption(ramOption())
  .addOption(scaleOption())
  .addOption(workersOption())
  .option("--no-html", "skip the HTML report")
  .option("--no-check", "skip the contents check")
  .addOption(timeLimitOption())
  .option(
    "-q, --quick",
    "warm up and repeat timing runs a tenth as long (ops/s less steady)",
    false,
  )
  .addHelpText("after", `\n${workloadsHelp}\n${exitHelp}`)
  .action(
    async (opts: {
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
    }) => {
      exitCode = await demoCommand(opts, out);
    },
  );

program
  .command("compare")
  .description(
    "every allocator on the same workloads, in the shape of Bonwick's 1994 comparison: " +
      "allocate + free time, waste per workload, overhead",
  )
  .argument("[trace...]", "trace files or workload names (default: the built-in workloads)")
  .option(
    "--literature",
    "the figures the literature published beside kmem's, and which of their orderings still hold",
    false,
  )
  .addOption(allocatorOption())
  .option(
    "-m, --memory <bytes>",
    "memory per allocator (default: 4× each workload's peak payload, 16M..1G)",
    memoryArg,
  )
  .option("-q, --quick", "smaller workloads, shorter timing runs (numbers less steady)", false)
  .addOption(seedOption())
  .addOption(
    new Option(
      "-n, --ops <n>",
      "ops of each generated workload (default 50,000; 10,000 with --quick)",
    ).argParser(positiveArg),
  )
  .addOption(timeLimitOption())
  .addHelpText(
    "after",
    `
Columns: alloc+free, ns per allocate + free pair (pairs of free one, allocate one over 512
live blocks of 16..1024 bytes); per workload the waste, 1 - peak payload / peak footprint
(Bonwick's total fragmentation); its mean; the overhead (metadata and free memory held at the
payload peak); requests not served. --literature adds Bonwick's 1994 figures (alloc+free on a
SPARCstation, waste after boot/spike/find/kenbus) and McKusick & Karels' 1988 ones, and says
which orderings still hold.
${exitHelp}`,
  )
  .action(
    async (
      traces: string[],
      opts: {
        literature: boolean;
        allocator: string[];
        memory?: number;
        quick: boolean;
        seed: number;
        ops?: number;
        timeLimit: number;
      },
    ) => {
      exitCode = await compareCommand(traces, opts, out);
    },
  );

program
  .command("report")
  .description(
    "run a workload on a kmem layer and print a /proc-style file of the final state, or what a sanitizer found",
  )
  .argument(
    "<name>",
    `${REPORTS.join(", ")}, or all; ${ZRAM_REPORTS.join(", ")} of a zram device the workload's memory is written to; ${SANITIZERS.join(", ")}: the workload under that sanitizer`,
  )
  .option("-w, --workload <w>", "a workload name or a trace file", "kernel-mix")
  .option("-t, --trace <file>", "a trace file (instead of --workload)")
  .addOption(
    new Option(
      "--plant <bug>",
      `with kasan, kfence, kmemleak: plant a bug after the workload (${Object.entries(PLANTS)
        .map(([k, v]) => `${k}: ${v.join(", ")}`)
        .join("; ")})`,
    ),
  )
  .addOption(
    new Option(
      "--interval <n>",
      "with kfence: sample one slab allocation in n (default 100)",
    ).argParser(positiveArg),
  )
  .option(
    "-a, --allocator <name>",
    `the kmem layer: ${ALLOCATORS.filter((a) => a.kind === "kmem")
      .map((a) => a.name)
      .join(", ")}`,
    "slub",
  )
  .option(
    "-m, --memory <bytes>",
    "physical memory (default: 4× the peak payload, 16M..1G)",
    memoryArg,
  )
  .addOption(seedOption())
  .addOption(opsOption(DEFAULT_OPS))
  .addHelpText("after", `\n${workloadsHelp}\n${exitHelp}`)
  .action(
    async (
      name: string,
      opts: {
        workload: string;
        trace?: string;
        allocator: string;
        memory?: number;
        seed: number;
        ops: number;
        plant?: string;
        interval?: number;
      },
    ) => {
      exitCode = await reportCommand(name, opts, out);
    },
  );

program
  .command("overcommit")
  .description(
    "a working set larger than memory on swappable memory, with no swap, zswap, a zram swap area and both",
  )
  .option("-m, --memory <bytes>", "physical memory", memoryArg, 8 * 2 ** 20)
  .option("--ratio <x>", "the working set as a multiple of memory (at most ~1.8)", Number, 1.4)
  .option("--hot <share>", "share of the working set accessed again and again", Number, 0.25)
  .option("--accesses <n>", "accesses after the set is written", positiveArg, 5000)
  .option("--setup <name>", "only this setup: none, zswap, zram, zswap+zram")
  .option("--algorithm <name>", "compressor of zswap and zram: lz4 or zstd", "lz4")
  .option(
    "--report <name>",
    `then print this file of the last setup: ${OVERCOMMIT_REPORTS.join(", ")}`,
  )
  .addOption(seedOption())
  .action((opts: OvercommitCliOptions) => {
    exitCode = overcommitCommand(opts, out);
  });

program
  .command("record")
  .description(
    "run a C program compiled to WebAssembly on kmem and write its malloc calls as a .rep trace",
  )
  .argument("<program.wasm>", "a WASI command whose malloc is imported (clients/kmem-malloc.c)")
  .argument("[args...]", "the program's arguments (after --)")
  .requiredOption("-o, --output <file>", "where to write the trace (-: standard output)")
  .addOption(
    new Option("--slab <name>", "the object allocator serving malloc")
      .choices(["slub", "slab", "slob"])
      .default("slub"),
  )
  .option("--pages <n>", "the program's memory in 64 KiB pages", positiveArg, 1024)
  .addHelpText(
    "after",
    `
The program runs with a WASI of no file system (arguments, standard output and error, fixed
clock and randomness); each malloc, calloc, realloc, aligned_alloc, posix_memalign and free that
succeeded is an op. How to build such a program: docs/wasm.md.
${exitHelp}`,
  )
  .action(
    async (
      file: string,
      args: string[],
      opts: { output: string; slab: "slub" | "slab" | "slob"; pages: number },
    ) => {
      exitCode = await recordCommand(file, args, opts, out);
    },
  );

for (const command of program.commands)
  command.showHelpAfterError(`see 'kmem ${command.name()} --help'`);

try {
  await program.parseAsync(process.argv);
  process.exitCode = exitCode;
} catch (err) {
  if (err instanceof TraceError) {
    process.stderr.write(`kmem: ${err.message}\n`);
    process.exitCode = Exit.BadTrace;
  } else if (err instanceof UnknownNameError) {
    process.stderr.write(`kmem: ${err.message}\n`);
    process.exitCode = Exit.Usage;
  } else if (err instanceof CliError) {
    process.stderr.write(`kmem: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else if (err instanceof AllocatorFault) {
    process.stderr.write(`kmem: ${err.message}\n`);
    process.exitCode = Exit.AllocatorFault;
  } else {
    process.stderr.write(`kmem: ${(err as Error).message}\n`);
    process.exitCode = Exit.Failure;
  }
}
