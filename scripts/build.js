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
 * The projects and their folders are read from the tsconfig files (include, rootDir, outDir,
 * references, sourceMap, declaration), so the list lives in one place.
 */

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The compiler options that decide which outputs a source has, through `extends`. */
function loadConfig(path) {
  const json = JSON.parse(readFileSync(path, "utf8"));
  const base = json.extends ? loadConfig(resolve(dirname(path), json.extends)) : {};
  return {
    ...base,
    ...json,
    compilerOptions: { ...base.compilerOptions, ...json.compilerOptions },
  };
}

function configPath(path) {
  return existsSync(path) && !path.endsWith(".json") ? join(path, "tsconfig.json") : path;
}

/**
 * Every project reachable from `roots` (config paths): its folder, the folders it compiles,
 * where it writes, its .tsbuildinfo, and the extensions each source's outputs have.
 */
export function projects(roots) {
  const seen = new Map();
  const visit = (path) => {
    const file = resolve(configPath(path));
    if (seen.has(file)) return;
    const config = loadConfig(file);
    const dir = dirname(file);
    for (const ref of config.references ?? []) visit(resolve(dir, ref.path));
    const opts = config.compilerOptions;
    if (opts.outDir === undefined) return; // a solution file: references only
    const outDir = resolve(dir, opts.outDir);
    const exts = [".js"];
    if (opts.declaration || opts.composite) exts.push(".d.ts");
    if (opts.sourceMap) exts.push(".js.map");
    if (opts.declarationMap) exts.push(".d.ts.map");
    seen.set(file, {
      config: file,
      rootDir: resolve(dir, opts.rootDir ?? "."),
      include: (config.include ?? []).map((p) => resolve(dir, p)),
      outDir,
      buildInfo: join(outDir, `${basename(file, ".json")}.tsbuildinfo`),
      exts,
    });
  };
  for (const root of roots) visit(root);
  return [...seen.values()];
}

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** Sources of a project: its .ts files, less declaration files (they have no output). */
function sources(p) {
  return p.include.flatMap(walk).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
}

function outputsOf(p, source) {
  const stem = join(p.outDir, relative(p.rootDir, source)).slice(0, -".ts".length);
  return p.exts.map((ext) => stem + ext);
}

/**
 * What is out of step in the output folders of `all` (every project, so that building one
 * does not remove another's outputs): `stale`, files no source of any project produces (the
 * .tsbuildinfo files excepted), and `incomplete`, the projects of `built` with an output
 * missing.
 */
export function check(all, built = all) {
  const expected = new Set(all.flatMap((p) => sources(p).flatMap((s) => outputsOf(p, s))));
  for (const p of all) expected.add(p.buildInfo);
  const outDirs = [...new Set(all.map((p) => p.outDir))];
  const stale = outDirs.flatMap(walk).filter((f) => !expected.has(f));
  const incomplete = built.filter((p) =>
    sources(p).some((s) => outputsOf(p, s).some((o) => !existsSync(o))),
  );
  return { stale, incomplete };
}

function removeEmptyDirs(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) removeEmptyDirs(join(dir, e.name));
  if (readdirSync(dir).length === 0) rmdirSync(dir);
}

function tsc(configs) {
  const bin = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const r = spawnSync(process.execPath, [bin, "-b", ...configs], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function main() {
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
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main();
