/* The workbench package as a user gets it: its entry point, and the npm peers loaded on demand. */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const PKG = fileURLToPath(new URL("../../", import.meta.url));
const SRC = join(PKG, "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [join(dir, e.name)]
        : [],
  );
}

describe("package", () => {
  it('resolves "kmem-workbench"', async () => {
    const specifier = "kmem-workbench";
    const mod = (await import(specifier)) as Record<string, unknown>;
    assert.equal(typeof mod.replay, "function");
    assert.equal(typeof mod.readTrace, "function");
    assert.ok(Array.isArray(mod.WORKLOADS));
  });

  it('imports the library as "kmem" only, never by a path out of the package', () => {
    const pkg = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    assert.ok(pkg.dependencies.kmem !== undefined, "kmem is a dependency");
    for (const file of sources(SRC)) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/\sfrom\s+"(\.[^"]*)"/g)) {
        const target = join(file, "..", m[1] as string);
        assert.ok(
          !relative(SRC, target).startsWith(".."),
          `${relative(SRC, file)} imports ${m[1]}, outside src/`,
        );
      }
    }
  });

  it("loads the npm peers on demand", () => {
    const peers = readFileSync(join(SRC, "peers.ts"), "utf8");
    assert.match(peers, /await import\("@thi\.ng\/malloc"\)/);
    assert.match(peers, /await import\("malloc"\)/);
    assert.doesNotMatch(peers, /^import [^;]*from "(@thi\.ng\/malloc|malloc)"/m);
  });
});
