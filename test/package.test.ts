/* The package as a user gets it: its entry point resolves, and it has no dependencies. */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SRC = join(ROOT, "src");

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

  it('resolves `import ... from "kmem/wasm"`, the WebAssembly heap, with its own entry', async () => {
    const specifier = "kmem/wasm";
    const mod = (await import(specifier)) as Record<string, unknown>;
    assert.equal(typeof mod.WasmHeap, "function");
    assert.equal(mod.KmemError, ((await import("kmem")) as Record<string, unknown>).KmemError);
  });

  it("the library imports nothing from npm and declares no dependencies", () => {
    const files = sources(SRC);
    assert.ok(files.length > 20);
    for (const file of files) {
      const outside = staticImports(file).filter(
        (s) => !s.startsWith(".") && !s.startsWith("node:"),
      );
      assert.deepEqual(outside, [], `${relative(SRC, file)} imports ${outside.join(", ")}`);
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"])
      assert.equal(pkg[field], undefined, `package.json has ${field}`);
  });
});
