/*
 * `kmem gen NAME -o FILE`: writes a built-in workload as a .rep trace; `-o -` writes it to
 * standard output, and the summary line to standard error.
 */

import { writeRep, writeRepTo } from "../rep-writer.js";
import { findWorkload } from "../workloads/index.js";
import { Exit } from "./exit.js";
import { formatBytes, formatInt } from "./format.js";

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
  const source = workload.generate(options.ops, options.seed);
  const toStdout = options.output === "-";
  if (toStdout) {
    try {
      await writeRepTo(process.stdout, source);
    } catch (err) {
      // The reader went away (`kmem gen ... -o - | head`): what it wanted, it has.
      if ((err as NodeJS.ErrnoException).code === "EPIPE") return Exit.Ok;
      throw err;
    }
  } else {
    await writeRep(options.output, source);
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
