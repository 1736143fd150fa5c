/*
 * scripts/build.js, the incremental build's check of the output folders: outputs without a
 * source (a deleted or moved file's, a source map once maps are off) are stale, a project
 * with an output missing is built again; and the dist/ these tests run from is in step, its
 * WebAssembly (scripts/wasm.js) included.
 */

import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface Project {
  config: string;
  wasm: { source: string; output: string }[];
}
interface Build {
  projects(roots: string[]): Project[];
  check(all: Project[], built?: Project[]): { stale: string[]; incomplete: Project[] };
}

async function build(): Promise<Build> {
  const specifier = join(ROOT, "scripts/build.js");
  return (await import(specifier)) as Build;
}

function tree(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "kmem-build-"));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  }
  return dir;
}

describe("scripts/build.js", () => {
  it("finds stale outputs in every project's folder and projects with an output missing", async () => {
    const { projects, check } = await build();
    const dir = tree({
      "tsconfig.base.json": { compilerOptions: { composite: true, sourceMap: false } },
      "tsconfig.json": {
        files: [],
        references: [{ path: "./tsconfig.lib.json" }, { path: "./pkg" }],
      },
      "tsconfig.lib.json": {
        extends: "./tsconfig.base.json",
        compilerOptions: { rootDir: ".", outDir: "dist" },
        include: ["src", "test"],
      },
      "pkg/tsconfig.json": {
        extends: "../tsconfig.base.json",
        compilerOptions: { rootDir: ".", outDir: "dist" },
        include: ["src"],
        references: [{ path: "../tsconfig.lib.json" }],
      },
      "src/a.ts": "",
      "src/peer.d.ts": "",
      "test/a.test.ts": "",
      "pkg/src/b.ts": "",
      "dist/tsconfig.lib.tsbuildinfo": "",
      "dist/src/a.js": "",
      "dist/src/a.d.ts": "",
      "dist/test/a.test.js": "",
      "dist/test/a.test.d.ts": "",
      // A deleted source's module and test, and a source map of a build that made them.
      "dist/src/gone.js": "",
      "dist/test/gone.test.js": "",
      "dist/src/a.js.map": "",
      // b.d.ts is missing.
      "pkg/dist/src/b.js": "",
      "pkg/dist/tsconfig.tsbuildinfo": "",
    });
    const all = projects([join(dir, "tsconfig.json")]);
    assert.deepEqual(
      all.map((p) => relative(dir, p.config)),
      ["tsconfig.lib.json", join("pkg", "tsconfig.json")],
    );
    const { stale, incomplete } = check(all);
    assert.deepEqual(stale.map((f) => relative(dir, f)).sort(), [
      "dist/src/a.js.map",
      "dist/src/gone.js",
      "dist/test/gone.test.js",
    ]);
    assert.deepEqual(
      incomplete.map((p) => relative(dir, p.config)),
      [join("pkg", "tsconfig.json")],
    );
    // Building the library alone still sees the package's folder, but only its own gaps.
    const lib = projects([join(dir, "tsconfig.lib.json")]);
    assert.equal(check(all, lib).stale.length, 3);
    assert.deepEqual(check(all, lib).incomplete, []);
  });

  it("the built tree the tests run from has no stale output and no output missing", async () => {
    const { projects, check } = await build();
    const all = projects([join(ROOT, "tsconfig.json")]);
    assert.ok(all.length >= 3);
    const { stale, incomplete } = check(all);
    assert.deepEqual(stale, []);
    assert.deepEqual(
      incomplete.map((p) => p.config),
      [],
    );
    // The WebAssembly the workbench owns is built, and no older than its source.
    const wasm = all.flatMap((p) => p.wasm);
    assert.ok(wasm.some((m) => m.output.endsWith("tlsf.wasm")));
    for (const m of wasm) {
      assert.ok(existsSync(m.output), m.output);
      assert.ok(statSync(m.output).mtimeMs >= statSync(m.source).mtimeMs, m.output);
    }
  });
});
