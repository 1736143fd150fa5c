/*
 * `kmem record PROGRAM.wasm [ARG...] -o FILE`: runs a C program compiled to WebAssembly with
 * its malloc served by kmem (the module imports the malloc family from env: linked with
 * clients/kmem-malloc.c, see docs/wasm.md) and writes its malloc-family calls as a .rep trace
 * (gzip if FILE ends in .gz; `-o -` standard output). The program's standard output goes to
 * ours (to standard error with `-o -`), its standard error to ours.
 */

import { readFileSync } from "node:fs";
import { writeRep, writeRepTo } from "../rep-writer.js";
import { instantiate, runMain } from "../wasm/program.js";
import { MallocRecorder } from "../wasm/recorder.js";
import { CliError, Exit } from "./exit.js";
import { formatBytes, formatInt } from "./format.js";

export interface RecordOptions {
  output: string;
  slab: "slub" | "slab" | "slob";
  pages: number;
}

export async function recordCommand(
  file: string,
  args: string[],
  options: RecordOptions,
  out: (text: string) => void,
): Promise<Exit> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new CliError(Exit.Failure, `${file}: ${(err as Error).message}`);
  }
  const toStdout = options.output === "-";
  const recorder = new MallocRecorder();
  const name = file.replace(/^.*\//, "").replace(/\.wasm$/, "");
  let status: number;
  try {
    const program = instantiate(bytes, {
      malloc: options.slab,
      args: [name, ...args],
      pages: options.pages,
      wrap: (env) => recorder.wrap(env),
      write: (fd, chunk) => (fd === 1 && !toStdout ? process.stdout : process.stderr).write(chunk),
    });
    status = runMain(program);
  } catch (err) {
    if (err instanceof Error && (err.name === "CompileError" || err.name === "LinkError")) {
      throw new CliError(Exit.Failure, `${file}: ${err.message}`);
    }
    if (err instanceof Error && /^the module /.test(err.message)) {
      throw new CliError(Exit.Failure, `${file}: ${err.message} (see docs/wasm.md)`);
    }
    throw err;
  }
  const source = recorder.finish(name);
  if (toStdout) await writeRepTo(process.stdout, source);
  else await writeRep(options.output, source);
  const i = source.info;
  const summary = (text: string): void => {
    if (toStdout) process.stderr.write(text);
    else out(text);
  };
  summary(
    `${toStdout ? "stdout" : options.output}: ${name}: ${formatInt(i.header.ops)} ops ` +
      `(${formatInt(i.allocs)} a, ${formatInt(i.frees)} f, ${formatInt(i.reallocs)} r), ` +
      `peak payload ${formatBytes(i.peakPayloadBytes)}, ` +
      `${formatInt(i.leftoverBlocks)} blocks left live; the program exited with ${status}\n`,
  );
  return status === 0 ? Exit.Ok : Exit.Failure;
}
