/*
 * The two packages as npm packs and installs them: `npm pack` of each (its prepack script
 * builds it) holds the built code, README and LICENSE, and none of the tests, sources or
 * build records; both tarballs install into an empty folder (from npm's cache where it can),
 * where `import("kmem")`, `import("kmem-workbench")`, `kmem --version` and a replay against
 * the tlsf allocator (its WebAssembly shipped built) work; the library alone installs nothing
 * but itself.
 */

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WORKBENCH = join(ROOT, "packages/workbench");

/** npm: the one running the suite (npm test), else the one on the PATH. */
const NPM: string[] | null =
  process.env.npm_execpath !== undefined && existsSync(process.env.npm_execpath)
    ? [process.execPath, process.env.npm_execpath]
    : spawnSync("npm", ["--version"]).status === 0
      ? ["npm"]
      : null;
// In CI a missing npm is a failure; elsewhere the test is skipped.
const skip = NPM === null && process.env.CI === undefined ? "no npm" : false;

const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}` };

function npm(cwd: string, ...args: string[]): string {
  const [cmd, ...pre] = NPM ?? ["npm"];
  return execFileSync(cmd as string, [...pre, ...args], { cwd, env, encoding: "utf8" });
}

/** The files of a .tgz (ustar, as npm writes it): path -> contents. */
function untar(file: string): Map<string, Buffer> {
  const tar = gunzipSync(readFileSync(file));
  const files = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const field = (from: number, len: number): string =>
      header
        .subarray(from, from + len)
        .toString("utf8")
        .replace(/\0.*$/s, "");
    const prefix = field(345, 155);
    const name = (prefix === "" ? "" : `${prefix}/`) + field(0, 100);
    const size = parseInt(field(124, 12).trim() || "0", 8);
    if (field(156, 1) === "0" || field(156, 1) === "")
      files.set(name.replace(/^package\//, ""), tar.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

function pack(dir: string, into: string): Map<string, Buffer> {
  const [result] = JSON.parse(npm(dir, "pack", "--json", "--pack-destination", into)) as {
    filename: string;
  }[];
  assert.ok(result !== undefined);
  return untar(join(into, result.filename));
}

function tarballs(into: string): string[] {
  return readdirSync(into)
    .filter((f) => f.endsWith(".tgz"))
    .map((f) => join(into, f))
    .sort();
}

describe("npm pack and install", { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), "kmem-pack-"));
  const packs = join(tmp, "packs");
  mkdirSync(packs);
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("each tarball holds its built code, README and LICENSE, and nothing else", () => {
    const lib = pack(ROOT, packs);
    const wb = pack(WORKBENCH, packs);
    for (const [files, must] of [
      [
        lib,
        [
          "package.json",
          "README.md",
          "LICENSE",
          "ARCHITECTURE.md",
          // The README links to the reference: it travels with it.
          "docs/README.md",
          "dist/src/index.js",
          "dist/src/index.d.ts",
        ],
      ],
      [
        wb,
        [
          "package.json",
          "README.md",
          "LICENSE",
          "bin/kmem.js",
          "dist/src/index.js",
          "dist/src/index.d.ts",
          "dist/src/cli/main.js",
          // The tlsf allocator's WebAssembly, built: no compiler is needed where it installs.
          "dist/src/tlsf.wasm",
          // The native replayer's source: compiled on first use (nothing built is shipped).
          "native/replay.c",
        ],
      ],
    ] as const) {
      for (const name of must) assert.ok(files.has(name), `${name} in the tarball`);
      for (const name of files.keys()) {
        assert.doesNotMatch(name, /^(src|test|bench|examples)\/|^dist\/test\//, name);
        assert.doesNotMatch(name, /\.(map|tsbuildinfo)$|(?<!\.d)\.ts$/, name);
      }
    }
    const manifest = JSON.parse((lib.get("package.json") as Buffer).toString()) as Record<
      string,
      unknown
    >;
    assert.equal(manifest.name, "kmem");
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies", "bin"])
      assert.equal(manifest[field], undefined, `the library's package.json has ${field}`);
    const wbManifest = JSON.parse((wb.get("package.json") as Buffer).toString()) as {
      dependencies: Record<string, string>;
    };
    assert.equal(wbManifest.dependencies.kmem, `^${String(manifest.version)}`);
    assert.match(
      (lib.get("LICENSE") as Buffer).toString(),
      /^MIT License\n\nCopyright \(c\) 2026 the kmem authors\n/,
    );
    assert.deepEqual(lib.get("LICENSE"), wb.get("LICENSE"));
  });

  it("both install into an empty folder: import works, so does the kmem command", () => {
    const tgz = tarballs(packs);
    assert.equal(tgz.length, 2);
    const app = join(tmp, "app");
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      '{ "name": "app", "private": true, "type": "module" }\n',
    );
    npm(app, "install", "--prefer-offline", "--no-audit", "--no-fund", ...tgz);
    const script = `
      const { Kmem } = await import("kmem");
      const mm = new Kmem({ memory: 1 << 22 });
      const a = mm.kmalloc(100);
      const { WasmHeap } = await import("kmem/wasm");
      const heap = WasmHeap.create({ heapBase: 70000, initial: 4 });
      const p = heap.imports.env.malloc(100);
      const { WORKLOADS } = await import("kmem-workbench");
      process.stdout.write(JSON.stringify({ a: a > 0, p: p % 16, workloads: WORKLOADS.length }));
    `;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: app,
      encoding: "utf8",
    });
    assert.deepEqual(JSON.parse(out), { a: true, p: 0, workloads: 5 });
    const { version } = JSON.parse(readFileSync(join(WORKBENCH, "package.json"), "utf8")) as {
      version: string;
    };
    const kmem = execFileSync(join(app, "node_modules/.bin/kmem"), ["--version"], {
      cwd: app,
      env,
      encoding: "utf8",
    });
    assert.equal(kmem, `${version}\n`);
    const replayed = execFileSync(
      join(app, "node_modules/.bin/kmem"),
      ["replay", "realtime", "-n", "2000", "-a", "tlsf", "--json", "--quick"],
      { cwd: app, env, encoding: "utf8" },
    );
    const [tlsf] = JSON.parse(replayed) as { allocator: string; error: string | null }[];
    assert.deepEqual([tlsf?.allocator, tlsf?.error], ["tlsf", null]);
    // One library: the workbench's "kmem" is the one installed beside it.
    assert.equal(existsSync(join(app, "node_modules/kmem-workbench/node_modules/kmem")), false);
  });

  it("the library alone installs nothing but itself", () => {
    const lib = tarballs(packs).find((f) => /[/\\]kmem-\d/.test(f));
    assert.ok(lib !== undefined);
    const app = join(tmp, "lib-only");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), '{ "name": "app", "private": true }\n');
    npm(app, "install", "--prefer-offline", "--no-audit", "--no-fund", lib);
    const installed = readdirSync(join(app, "node_modules")).filter((f) => !f.startsWith("."));
    assert.deepEqual(installed, ["kmem"]);
  });
});
