/*
 * Files the commands write (a trace, an HTML report, CSV): the folder must exist, and every
 * failure is a `kmem: cannot write FILE: why` line with exit 1, not an I/O error's raw text.
 */

import { statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { CliError, Exit } from "./exit.js";

/** Throws CliError unless the folder `path` would be written in exists (checked up front). */
export function checkOutputPath(path: string): void {
  const dir = dirname(path);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new CliError(Exit.Failure, `cannot write ${path}: there is no folder ${dir}`);
  }
  if (!isDir) throw new CliError(Exit.Failure, `cannot write ${path}: ${dir} is not a folder`);
}

/** Writes `text` to `path`, I/O errors as CliError. */
export async function writeOutput(path: string, text: string): Promise<void> {
  checkOutputPath(path);
  try {
    await writeFile(path, text);
  } catch (err) {
    throw new CliError(Exit.Failure, `cannot write ${path}: ${(err as Error).message}`);
  }
}
