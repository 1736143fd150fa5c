#!/usr/bin/env node
/*
 * The `kmem` command: a thin layer over the library. Each subcommand lives in its own file;
 * this one parses arguments and maps errors to exit codes (0 ok, 1 failure, 2 bad usage).
 */

import { Command, InvalidArgumentError } from "commander";
import { runDemo } from "./demo.js";
import { parseBytes } from "./format.js";

function bytesArg(value: string): number {
  try {
    return parseBytes(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`not a whole number: ${value}`);
  return n;
}

const program = new Command();
program
  .name("kmem")
  .description(
    "A kernel memory-allocation subsystem over an ArrayBuffer: run, inspect and compare allocators",
  )
  .showHelpAfterError()
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

program
  .command("demo")
  .description(
    "run the built-in page workload and show buddyinfo, meminfo and fragmentation before and after",
  )
  .option("-m, --memory <bytes>", "physical memory size (e.g. 64M, 1G)", bytesArg, 16 * 2 ** 20)
  .option("--page-size <bytes>", "page size, a power of two from 1K to 64K", bytesArg, 4096)
  .option("-n, --ops <count>", "operations to run", intArg, 20000)
  .option("--max-order <order>", "largest order requested", intArg, 6)
  .option("-s, --seed <seed>", "random seed", intArg, 1)
  .action(
    (opts: { memory: number; pageSize: number; ops: number; maxOrder: number; seed: number }) => {
      runDemo(opts, (text) => process.stdout.write(text));
    },
  );

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`kmem: ${(err as Error).message}\n`);
  process.exit(1);
}
