/*
 * The WebAssembly modules the build makes besides tsc's outputs, compiled from AssemblyScript
 * with the compiler's JS API (assemblyscript, a development dependency): the packages ship
 * the .wasm, so installing them needs no compiler.
 *
 * A module belongs to a project (its tsconfig): scripts/build.js compiles it when it builds
 * that project and the .wasm is older than its source, this file or the compiler, and counts
 * it among the project's outputs (so it is not removed as stale).
 */

import { existsSync, mkdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * project: the tsconfig it belongs to; source: the AssemblyScript entry file; output: the
 * .wasm (in the project's outDir); flags: asc's options. Paths from the repository's root.
 */
export const WASM = [
  {
    // AssemblyScript's TLSF as the workbench allocator `tlsf` (packages/workbench/src/tlsf.ts):
    // -O3, asserts off (--noAssert, as a production build), the minimal runtime (TLSF and a
    // collector that is never entered), over a memory the loader creates and may grow.
    project: "packages/workbench/tsconfig.json",
    source: "packages/workbench/assembly/tlsf.ts",
    output: "packages/workbench/dist/src/tlsf.wasm",
    flags: ["--runtime", "minimal", "-O3", "--noAssert", "--importMemory", "--initialMemory", "1"],
  },
];

/** The modules of the project whose tsconfig is `config` (an absolute path), paths absolute. */
export function wasmOf(config) {
  return WASM.filter((m) => resolve(ROOT, m.project) === config).map((m) => ({
    ...m,
    source: resolve(ROOT, m.source),
    output: resolve(ROOT, m.output),
  }));
}

function mtime(file) {
  return statSync(file).mtimeMs;
}

/** Compiles each of `modules` (as wasmOf gives them) whose output is missing or older. */
export async function buildWasm(modules) {
  if (modules.length === 0) return;
  const require = createRequire(import.meta.url);
  const compiler = require.resolve("assemblyscript/package.json");
  const inputs = [fileURLToPath(import.meta.url), compiler];
  for (const m of modules) {
    const newest = Math.max(...[m.source, ...inputs].map(mtime));
    if (existsSync(m.output) && mtime(m.output) >= newest) continue;
    const { default: asc } = await import("assemblyscript/asc");
    mkdirSync(dirname(m.output), { recursive: true });
    const args = [relative(ROOT, m.source), "--baseDir", ROOT, "--outFile", m.output, ...m.flags];
    const result = await asc.main(args);
    if (result.error !== null || !existsSync(m.output) || mtime(m.output) < newest) {
      const why = result.error?.message ?? "no output";
      throw new Error(`${relative(ROOT, m.source)}: ${why}\n${result.stderr.toString()}`);
    }
    process.stderr.write(`build: ${relative(ROOT, m.output)} (${statSync(m.output).size} bytes)\n`);
  }
}
