/* The package as a user gets it: its entry points resolve, and the core has no dependencies. */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [join(dir, e.name)]
        : [],
  );
}

/** Module specifiers a file imports statically (`import ... from "x"`, `export ... from "x"`). */
function staticImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"/gms)].map(
    (m) => m[1] as string,
  );
}

describe("package", () => {
  it('resolves `import ... from "kmem"` to the built library (package exports)', async () => {
    const specifier = "kmem";
    const mod = (await import(specifier)) as Record<string, unknown>;
    assert.equal(typeof mod.Kmem, "function");
    assert.equal(mod.GFP_KERNEL, 0xcc0);
    assert.equal(mod.GFP_ATOMIC, 0x820);
    assert.equal(mod.GFP_NOWAIT, 0x2800);
    assert.equal(typeof mod.KmemError, "function");
  });

  it('resolves "kmem/workbench"', async () => {
    const specifier = "kmem/workbench";
    const mod = (await import(specifier)) as Record<string, unknown>;
    assert.equal(typeof mod.replay, "function");
    assert.equal(typeof mod.readTrace, "function");
    assert.ok(Array.isArray(mod.WORKLOADS));
  });

  it("the core library imports nothing from npm; the workbench loads the peers on demand", () => {
    const files = sources(SRC);
    assert.ok(files.length > 20);
    for (const file of files) {
      const rel = relative(SRC, file);
      const outside = staticImports(file).filter(
        (s) => !s.startsWith(".") && !s.startsWith("node:"),
      );
      if (rel.startsWith("cli/")) continue;
      assert.deepEqual(outside, [], `${rel} imports ${outside.join(", ")}`);
    }
    const peers = readFileSync(join(SRC, "workbench/peers.ts"), "utf8");
    assert.match(peers, /await import\("@thi\.ng\/malloc"\)/);
    assert.match(peers, /await import\("malloc"\)/);
  });
});
