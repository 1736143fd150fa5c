#!/usr/bin/env node
/*
 * The build: `tsc -b` over TypeScript project references (each project compiled again only
 * when one of its inputs changed since its .tsbuildinfo), then the outputs made to match the
 * sources, which `tsc -b` alone does not do:
 *
 * - an output whose source is gone (a file deleted, moved or renamed; a source map once maps
 *   are off) is removed, so that no stale module can be imported and no stale test run;
 * - a source whose output is missing (an output deleted by hand: `tsc -b` trusts its
 *   .tsbuildinfo and would not write it again) makes its project build again from scratch.
 *
 *   node scripts/build.js [-FLAG...] [CONFIG...]
 *
 * builds each CONFIG (a tsconfig file, or a folder with one; default tsconfig.json, the
 * solution) and what it references, then checks the outputs of every project. Flags go to
 * tsc (-v: why each project is or is not rebuilt).
 *
 * The projects, their sources and the outputs of each are TypeScript's own reading of the
 * tsconfig files (include, references, outDir, declaration, sourceMap...). A project may
 * also own WebAssembly modules (scripts/wasm.js), compiled after tsc when they are older
 * than their sources.
 */

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { buildWasm, wasmOf } from "./wasm.js";

const require = createRequire(import.meta.url);
const ts = require("typescript");

const host = {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic(d) {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  },
};

/**
 * Every project reachable from `roots` (tsconfig files, or folders with one), as TypeScript
 * reads it: its config, sources, the outputs of each, and its .tsbuildinfo; and its
 * WebAssembly modules (scripts/wasm.js). A solution file (references only) is passed through.
 */
export function projects(roots) {
  const seen = new Map();
  const visit = (path) => {
    const file = ts.resolveProjectReferencePath({ path: resolve(path) });
    if (seen.has(file)) return;
    seen.set(file, null);
    const parsed = ts.getParsedCommandLineOfConfigFile(file, {}, host);
    if (parsed === undefined || parsed.errors.length > 0) {
      const why = (parsed?.errors ?? []).map((d) =>
        ts.flattenDiagnosticMessageText(d.messageText, " "),
      );
      throw new Error(`${file}: ${why.join("; ") || "cannot read"}`);
    }
    for (const ref of parsed.projectReferences ?? []) visit(ref.path);
    if (parsed.fileNames.length === 0) return;
    seen.set(file, {
      config: file,
      outputs: parsed.fileNames.map((f) => ts.getOutputFileNames(parsed, f, false)),
      outDir: parsed.options.outDir,
      buildInfo: ts.getTsBuildInfoEmitOutputFilePath(parsed.options),
      wasm: wasmOf(file),
    });
  };
  for (const root of roots) visit(root);
  return [...seen.values()].filter((p) => p !== null);
}

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/**
 * What is out of step in the output folders of `all` (every project, so that building one
 * does not remove another's outputs): `stale`, files no source of any project produces (the
 * .tsbuildinfo files, WebAssembly modules, and a native/ folder's, which native code builds
 * excepted), and `incomplete`, the projects of `built` with an output of tsc missing.
 */
export function check(all, built = all) {
  const expected = new Set(
    all.flatMap((p) => [...p.outputs.flat(), p.buildInfo, ...p.wasm.map((m) => m.output)]),
  );
  const outDirs = [...new Set(all.map((p) => p.outDir))];
  const native = (dir) => (f) => !relative(dir, f).startsWith(`native${sep}`);
  const stale = outDirs.flatMap((d) => walk(d).filter(native(d))).filter((f) => !expected.has(f));
  const incomplete = built.filter((p) => p.outputs.flat().some((o) => !existsSync(o)));
  return { stale, incomplete };
}

/**
 * Removes the empty folders under an output folder `dir`, and `dir` if it is left empty; its
 * native/ folder aside (native code builds there, at any time: npm pack's build, run by a
 * test, must not take it from under a compiler that just made it).
 */
function removeEmptyDirs(dir, top = true) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory() && !(top && e.name === "native")) removeEmptyDirs(join(dir, e.name), false);
  if (readdirSync(dir).length === 0) rmdirSync(dir);
}

function tsc(configs) {
  const bin = require.resolve("typescript/bin/tsc");
  const r = spawnSync(process.execPath, [bin, "-b", ...configs], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

async function main() {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const args = process.argv.slice(2);
  const flags = args.filter((a) => a.startsWith("-"));
  const configs = args.filter((a) => !a.startsWith("-")).map((a) => relative(root, resolve(a)));
  process.chdir(root);
  const targets = configs.length > 0 ? configs.map((c) => c || ".") : ["tsconfig.json"];
  const all = projects(["tsconfig.json"]);
  const built = projects(targets);
  tsc([...flags, ...targets]);
  const { stale, incomplete } = check(all, built);
  for (const file of stale) {
    process.stderr.write(`build: removing ${relative(root, file)} (no source)\n`);
    rmSync(file);
  }
  for (const p of all) removeEmptyDirs(p.outDir);
  if (incomplete.length > 0) {
    for (const p of incomplete) {
      process.stderr.write(
        `build: ${relative(root, p.config)}: outputs missing, building it again\n`,
      );
      rmSync(p.buildInfo, { force: true });
    }
    tsc([...flags, ...targets]);
    const again = check(all, built).incomplete;
    if (again.length > 0) {
      const names = again.map((p) => relative(root, p.config)).join(", ");
      process.stderr.write(`build: ${names}: outputs still missing\n`);
      process.exit(1);
    }
  }
  await buildWasm(built.flatMap((p) => p.wasm));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
