/* `kmem gen NAME -o FILE`: writes a built-in workload as a .rep trace. */

import { writeRep } from "../rep-writer.js";
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
  await writeRep(options.output, source);
  const i = source.info;
  out(
    `${options.output}: ${workload.name}, seed ${options.seed}: ${formatInt(i.header.ops)} ops ` +
      `(${formatInt(i.allocs)} a, ${formatInt(i.frees)} f, ${formatInt(i.reallocs)} r), ` +
      `${formatInt(i.header.ids)} ids, peak payload ${formatBytes(i.peakPayloadBytes)}, ` +
      `${formatInt(i.leftoverBlocks)} blocks left live\n`,
  );
  return Exit.Ok;
}
