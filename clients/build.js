#!/usr/bin/env node
/*
 * Builds the clients: real C programs compiled to WebAssembly with Debian's clang and
 * wasi-libc, each twice: NAME-kmem with kmem-malloc.c (its malloc family imported from kmem's
 * WasmHeap) and NAME-libc with wasi-libc's own dlmalloc inside the module, for comparison;
 * on request a third, NAME-kasan: NAME-kmem with its function names kept and every load and
 * store instrumented by binaryen (`wasm-opt -g -O2 --instrument-memory`), for WasmHeap's KASAN.
 *
 *   node clients/build.js [--json] [--check] [NAME...]
 *
 *   NAME      sqlite-kmem, sqlite-libc, zstd-kmem, zstd-libc, csem-kmem, csem-libc, bugs-kmem,
 *             bugs-libc (default: all), or NAME-kasan of any program (needs wasm-opt); a
 *             program's name alone (sqlite) builds its -kmem and -libc variants
 *   --json    prints {"NAME": "/path/to/NAME-HASH.wasm", ...} on standard output
 *   --check   only says whether the toolchain is here (exit 0) or what is missing (exit 2)
 *
 * The C sources of sqlite and zstd come from npm tarballs (clients/sources.json: pinned
 * versions, checked against their integrity hashes), fetched with `npm pack` and unpacked
 * without running any install script. Everything built goes to clients/build/ (never
 * committed): objects and modules are named by a hash of their inputs (the compiler's
 * and wasm-opt's versions, the flags, the sources), so a second run builds nothing and a changed input
 * builds only what depends on it. sqlite3.c takes about a minute; the rest seconds.
 *
 * clang runs wasm-opt -O2 over what it links when binaryen is installed (dropping the function
 * names); the -kasan variant is linked without it and optimized by the instrumenting run,
 * which keeps the names (KASAN's reports name the C function that made the access).
 *
 * Environment: CLANG (default clang), WASI_SYSROOT (default /usr, Debian's wasi-libc),
 * WASM_OPT (default wasm-opt, Debian's binaryen).
 * Exit status: 0 built, 1 a build failed, 2 no toolchain.
 */

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { basename, delimiter, dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, "build");
// npm puts node_modules/.bin first on PATH, and a binaryen package there (the AssemblyScript
// peer's) has a wasm-opt of its own: the system's (Debian's binaryen) is meant, for clang's
// own run of it as well.
process.env.PATH = (process.env.PATH ?? "")
  .split(delimiter)
  .filter((dir) => !/node_modules[\\/]\.bin$/.test(dir))
  .join(delimiter);
const CLANG = process.env.CLANG ?? "clang";
const WASM_OPT = process.env.WASM_OPT ?? "wasm-opt";
const SYSROOT = process.env.WASI_SYSROOT ?? "/usr";
const SOURCES = JSON.parse(readFileSync(join(HERE, "sources.json"), "utf8"));

const TARGET = ["--target=wasm32-wasi", `--sysroot=${SYSROOT}`];
const CFLAGS = [...TARGET, "-O2"];
/** Every module imports its memory and exports where its heap starts. */
const LDFLAGS = ["-Wl,--import-memory", "-Wl,--export=__heap_base"];

const SQLITE_DEFINES = [
  "-DSQLITE_OS_OTHER=1",
  "-DSQLITE_THREADSAFE=0",
  "-DSQLITE_TEMP_STORE=3",
  "-DSQLITE_OMIT_LOAD_EXTENSION",
];

const ZSTD_EXPORTS = [
  "ZSTD_versionNumber",
  "ZSTD_isError",
  "ZSTD_getErrorName",
  "ZSTD_compressBound",
  "ZSTD_compress",
  "ZSTD_decompress",
  "ZSTD_createCCtx",
  "ZSTD_freeCCtx",
  "ZSTD_compressCCtx",
  "ZSTD_createDCtx",
  "ZSTD_freeDCtx",
  "ZSTD_decompressDCtx",
  "malloc",
  "free",
];

/**
 * The programs. `units`: sources from a package's tarball (compiled once, shared by both
 * variants), `own`: this folder's sources, `kind`: a command (main, _start) or a reactor
 * (a library: _initialize, then its exports).
 */
const PROGRAMS = {
  sqlite: {
    package: "better-sqlite3",
    units: () => ["package/deps/sqlite3/sqlite3.c"],
    unitFlags: SQLITE_DEFINES,
    own: ["sqlite/workload.c", "sqlite/memvfs.c"],
    includes: ["package/deps/sqlite3"],
    kind: "command",
  },
  zstd: {
    package: "zstd-napi",
    units: (dir) =>
      ["common", "compress", "decompress"].flatMap((sub) =>
        readdirSync(join(dir, "package/deps/zstd/lib", sub))
          .filter((f) => f.endsWith(".c") && !f.startsWith("zstdmt"))
          .sort()
          .map((f) => `package/deps/zstd/lib/${sub}/${f}`),
      ),
    unitFlags: ["-DZSTD_DISABLE_ASM"],
    own: [],
    includes: [],
    kind: "reactor",
    exports: ZSTD_EXPORTS,
  },
  csem: {
    package: null,
    units: () => [],
    unitFlags: [],
    own: ["csem/csem.c"],
    includes: [],
    kind: "command",
  },
  bugs: {
    package: null,
    units: () => [],
    unitFlags: [],
    own: ["kasan/bugs.c"],
    includes: [],
    kind: "reactor",
  },
};

const VARIANTS = ["kmem", "libc", "kasan"];
/** What a program's name alone (or no name) builds. */
const DEFAULT_VARIANTS = ["kmem", "libc"];

/** Why this machine cannot instrument modules (no binaryen), or null when it can. */
export function wasmOptMissing() {
  const v = spawnSync(WASM_OPT, ["--version"], { encoding: "utf8" });
  return v.error !== undefined || v.status !== 0 ? `no ${WASM_OPT} (Debian's binaryen)` : null;
}

/** Why this machine cannot build the clients, or null when it can. */
export function toolchainMissing() {
  const v = spawnSync(CLANG, ["--version"], { encoding: "utf8" });
  if (v.error !== undefined || v.status !== 0) return `no ${CLANG}`;
  if (!existsSync(join(SYSROOT, "lib/wasm32-wasi/libc.a"))) {
    return `no wasi-libc under ${SYSROOT} (lib/wasm32-wasi/libc.a)`;
  }
  const rt = spawnSync(CLANG, [...TARGET, "-print-libgcc-file-name"], { encoding: "utf8" });
  if (rt.status !== 0 || !existsSync(rt.stdout.trim())) {
    return `no compiler runtime for wasm32-wasi (${rt.stdout.trim() || "clang cannot say where"})`;
  }
  const ld = spawnSync(CLANG, [...TARGET, "-print-prog-name=wasm-ld"], { encoding: "utf8" });
  const linker = ld.stdout.trim();
  if (spawnSync(linker, ["--version"]).status !== 0) return `no wasm-ld (lld): ${linker}`;
  return null;
}

function clangVersion() {
  return spawnSync(CLANG, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0];
}

/** wasm-opt's version line, or "none": clang's link output depends on whether it is there. */
function wasmOptVersion() {
  return spawnSync(WASM_OPT, ["--version"], { encoding: "utf8" }).stdout?.trim() || "none";
}

function hash(...parts) {
  const h = createHash("sha256");
  for (const p of parts) h.update(typeof p === "string" ? p : JSON.stringify(p)).update("\0");
  return h.digest("hex").slice(0, 16);
}

function sha512(file) {
  return `sha512-${createHash("sha512").update(readFileSync(file)).digest("base64")}`;
}

/** Runs a command; rejects with its output when it fails. */
function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")}\n${out}`));
    });
  });
}

/** Writes `file` through a temporary name, so that a reader never sees half of it. */
function publish(tmp, file) {
  renameSync(tmp, file);
}

/**
 * The unpacked sources of an npm package (pinned in sources.json): fetched with `npm pack`
 * into the build folder once, its integrity checked, the parts named unpacked. Returns the
 * folder holding `package/...`.
 */
async function packageSources(name) {
  const spec = SOURCES[name];
  const dir = join(OUT, "src", `${name}-${spec.version}`);
  if (existsSync(join(dir, ".complete"))) return dir;
  mkdirSync(join(OUT, "src"), { recursive: true });
  const tgz = join(OUT, "src", `${name}-${spec.version}.tgz`);
  if (!existsSync(tgz) || sha512(tgz) !== spec.integrity) {
    const tmp = mkdtempSync(join(OUT, "src", ".pack-"));
    try {
      process.stderr.write(`fetching ${name}@${spec.version} (npm pack, no scripts run)\n`);
      await run("npm", ["pack", `${name}@${spec.version}`, "--silent", "--pack-destination", tmp], {
        cwd: tmp,
      });
      const got = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
      if (got === undefined) throw new Error(`npm pack ${name}@${spec.version} wrote no tarball`);
      const integrity = sha512(join(tmp, got));
      if (integrity !== spec.integrity) {
        throw new Error(
          `${name}@${spec.version}: the tarball's integrity is ${integrity}, sources.json says ${spec.integrity}`,
        );
      }
      publish(join(tmp, got), tgz);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const tmp = mkdtempSync(join(OUT, "src", ".unpack-"));
  try {
    await run("tar", ["-xzf", tgz, "-C", tmp, ...spec.extract]);
    writeFileSync(join(tmp, ".complete"), `${spec.integrity}\n`);
    // A folder there already is one a build running at the same time published (it has
    // .complete and may be in use: kept, the rename fails) or one left incomplete (replaced).
    if (existsSync(dir) && !existsSync(join(dir, ".complete"))) {
      rmSync(dir, { recursive: true, force: true });
    }
    publish(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, ".complete"))) throw err;
  }
  return dir;
}

/** Runs `tasks` (functions returning promises) with at most `limit` at once. */
async function pool(tasks, limit) {
  const results = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** Compiles `source` to an object named by the hash of `key`; returns its path. */
async function compile(source, flags, key, label) {
  const obj = join(OUT, "obj", `${basename(source, ".c")}-${key}.o`);
  if (existsSync(obj)) return obj;
  mkdirSync(dirname(obj), { recursive: true });
  const tmp = `${obj}.${process.pid}.tmp`;
  if (label !== undefined) process.stderr.write(`compiling ${label}\n`);
  await run(CLANG, [...CFLAGS, ...flags, "-c", source, "-o", tmp]);
  publish(tmp, obj);
  return obj;
}

/** Builds program `name`'s variants `variants`; returns { "NAME-VARIANT": path }. */
async function buildProgram(name, variants, version) {
  const p = PROGRAMS[name];
  const pkgDir = p.package === null ? null : await packageSources(p.package);
  const pkgKey = p.package === null ? "" : SOURCES[p.package].integrity;
  const includes = p.includes.map((i) => `-I${join(pkgDir ?? HERE, i)}`);
  const units = pkgDir === null ? [] : p.units(pkgDir);
  const slow = units.some((u) => u.endsWith("sqlite3.c"));
  const objects = await pool(
    units.map((u) => () => {
      const key = hash(version, CFLAGS, p.unitFlags, pkgKey, u);
      const label = slow && u.endsWith("sqlite3.c") ? `${u} (about a minute)` : undefined;
      return compile(join(pkgDir, u), p.unitFlags, key, label);
    }),
    Math.max(1, availableParallelism()),
  );
  const own = p.own.map((f) => join(HERE, f));
  const shim = join(HERE, "kmem-malloc.c");
  const linkFlags = [
    ...LDFLAGS,
    ...(p.kind === "reactor" ? ["-mexec-model=reactor"] : []),
    ...(p.exports ?? []).map((e) => `-Wl,--export=${e}`),
  ];
  const out = {};
  for (const variant of variants) {
    if (variant === "kasan") {
      out[`${name}-kasan`] = await buildKasan(
        name,
        own,
        shim,
        objects,
        includes,
        linkFlags,
        version,
      );
      continue;
    }
    const sources = variant === "kmem" ? [...own, shim] : own;
    const key = hash(
      version,
      wasmOptVersion(),
      CFLAGS,
      linkFlags,
      includes.map((i) => relative(HERE, i)),
      objects.map((o) => basename(o)),
      sources.map((s) => [relative(HERE, s), readFileSync(s, "utf8")]),
    );
    const wasm = join(OUT, `${name}-${variant}-${key}.wasm`);
    if (!existsSync(wasm)) {
      const tmp = `${wasm}.${process.pid}.tmp`;
      await run(CLANG, [...CFLAGS, ...includes, ...sources, ...objects, ...linkFlags, "-o", tmp]);
      publish(tmp, wasm);
    }
    out[`${name}-${variant}`] = wasm;
  }
  return out;
}

/**
 * NAME-kasan: the -kmem variant's sources compiled alone (-O2), linked without clang's own
 * wasm-opt run, then optimized and instrumented by wasm-opt keeping the names (-g).
 */
async function buildKasan(name, own, shim, objects, includes, linkFlags, version) {
  const optVersion = wasmOptVersion();
  const ownObjects = await Promise.all(
    [...own, shim].map((src) =>
      compile(
        src,
        includes,
        hash(
          version,
          CFLAGS,
          includes.map((i) => relative(HERE, i)),
          relative(HERE, src),
          readFileSync(src, "utf8"),
        ),
      ),
    ),
  );
  const key = hash(
    version,
    optVersion,
    CFLAGS,
    linkFlags,
    [...objects, ...ownObjects].map((o) => basename(o)),
  );
  const wasm = join(OUT, `${name}-kasan-${key}.wasm`);
  if (!existsSync(wasm)) {
    const linked = `${wasm}.${process.pid}.linked.tmp`;
    const tmp = `${wasm}.${process.pid}.tmp`;
    try {
      await run(CLANG, [...TARGET, ...ownObjects, ...objects, ...linkFlags, "-o", linked]);
      await run(WASM_OPT, ["-g", "-O2", "--instrument-memory", linked, "-o", tmp]);
      publish(tmp, wasm);
    } finally {
      rmSync(linked, { force: true });
      rmSync(tmp, { force: true });
    }
  }
  return wasm;
}

/** Builds `names` (program names or NAME-VARIANT); returns { "NAME-VARIANT": path }. */
export async function build(names) {
  const version = clangVersion();
  const wanted = new Map();
  for (const n of names.length === 0 ? Object.keys(PROGRAMS) : names) {
    const [program, variant] = n.split(/-(?=kmem$|libc$|kasan$)/);
    if (!(program in PROGRAMS) || (variant !== undefined && !VARIANTS.includes(variant))) {
      throw new Error(
        `unknown client ${JSON.stringify(n)} (known: ${Object.keys(PROGRAMS)
          .flatMap((p) => VARIANTS.map((v) => `${p}-${v}`))
          .join(", ")})`,
      );
    }
    const set = wanted.get(program) ?? new Set();
    for (const v of variant === undefined ? DEFAULT_VARIANTS : [variant]) set.add(v);
    wanted.set(program, set);
  }
  const out = {};
  for (const [program, variants] of wanted) {
    Object.assign(out, await buildProgram(program, [...variants], version));
  }
  return out;
}

async function main(argv) {
  const json = argv.includes("--json");
  const names = argv.filter((a) => !a.startsWith("--"));
  const missing = toolchainMissing();
  if (argv.includes("--check")) {
    process.stdout.write(missing === null ? "ok\n" : `${missing}\n`);
    return missing === null ? 0 : 2;
  }
  if (missing !== null) {
    process.stderr.write(
      `clients/build.js: ${missing}: install Debian's clang lld wasi-libc libclang-rt-14-dev-wasm32\n`,
    );
    return 2;
  }
  const noOpt = names.some((n) => n.endsWith("-kasan")) ? wasmOptMissing() : null;
  if (noOpt !== null) {
    process.stderr.write(`clients/build.js: ${noOpt}: install Debian's binaryen\n`);
    return 2;
  }
  try {
    const built = await build(names);
    if (json) process.stdout.write(`${JSON.stringify(built)}\n`);
    else for (const [n, path] of Object.entries(built)) process.stdout.write(`${n}: ${path}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`clients/build.js: ${err instanceof Error ? err.message : err}\n`);
    return 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
