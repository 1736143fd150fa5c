/*
 * `kmem gen NAME -o FILE`: writes a built-in workload as a .rep trace; `-o -` writes it to
 * standard output, and the summary line to standard error.
 */

import { writeRep, writeRepTo } from "../rep-writer.js";
import { findWorkload } from "../workloads/index.js";
import { CliError, Exit } from "./exit.js";
import { formatBytes, formatInt } from "./format.js";
import { checkOutputPath } from "./output.js";

export interface GenOptions {
  output: string;
  seed: number;
  ops: number;
}

export async function genCommand(
  name: string,
  options: GenOptions,
  out: (text: string) => void,
): Promise<Exit> {
  const workload = findWorkload(name);
  const toStdout = options.output === "-";
  if (!toStdout) checkOutputPath(options.output);
  const source = workload.generate(options.ops, options.seed);
  if (toStdout) {
    try {
      await writeRepTo(process.stdout, source);
    } catch (err) {
      // The reader went away (`kmem gen ... -o - | head`): what it wanted, it has.
      if ((err as NodeJS.ErrnoException).code === "EPIPE") return Exit.Ok;
      throw err;
    }
  } else {
    try {
      await writeRep(options.output, source);
    } catch (err) {
      throw new CliError(Exit.Failure, `cannot write ${options.output}: ${(err as Error).message}`);
    }
  }
  const i = source.info;
  const summary = (text: string): void => {
    if (toStdout) process.stderr.write(text);
    else out(text);
  };
  summary(
    `${toStdout ? "stdout" : options.output}: ${workload.name}, seed ${options.seed}: ${formatInt(i.header.ops)} ops ` +
      `(${formatInt(i.allocs)} a, ${formatInt(i.frees)} f, ${formatInt(i.reallocs)} r), ` +
      `${formatInt(i.header.ids)} ids, peak payload ${formatBytes(i.peakPayloadBytes)}, ` +
      `${formatInt(i.leftoverBlocks)} blocks left live\n`,
  );
  return Exit.Ok;
}
