/*
 * The import graph of the library (src/**\/*.ts), against the layers ARCHITECTURE.md lists
 * ("Layers and imports"): a file imports only from its own layer (a directory of src/, or one
 * of the files at src/'s top) and from layers below it; another layer only through that
 * layer's index.ts. Type-only imports obey the same rules, with one exception, documented
 * there: alloc/ and classic/ take the instance they run on as a parameter typed `Kmem`, an
 * import of src/kmem.ts that the compiler erases.
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SRC = join(ROOT, "src");

/** The layers, lowest first: a layer may import from the layers of lower ranks only. */
export const LAYERS: readonly (readonly string[])[] = [
  ["errors"],
  ["memory", "fault", "codec", "rmap", "vmem"],
  ["sync"],
  ["page"],
  ["slab-common"],
  ["kmalloc"],
  ["slub", "slob"],
  ["slab"],
  ["vm", "mempool", "zsmalloc"],
  ["zram"],
  ["swap"],
  ["kasan"],
  ["kfence", "kmemleak"],
  ["sanitize"],
  ["report"],
  ["instance"],
  ["alloc"],
  ["classic"],
  ["kmem"],
  ["wasm"],
  ["index"],
];

/** Type-only imports allowed upwards: [importing layer, imported file]. */
const TYPE_EXCEPTIONS: readonly [string, string][] = [
  ["alloc", "kmem.ts"],
  ["classic", "kmem.ts"],
];

interface Import {
  file: string;
  target: string;
  typeOnly: boolean;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? sources(join(dir, e.name))
        : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")
          ? [join(dir, e.name)]
          : [],
    )
    .sort();
}

function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return true;
    const c = node.exportClause;
    return c !== undefined && ts.isNamedExports(c) && c.elements.every((e) => e.isTypeOnly);
  }
  const clause = node.importClause;
  if (clause === undefined) return false;
  if (clause.isTypeOnly) return true;
  const b = clause.namedBindings;
  return (
    clause.name === undefined &&
    b !== undefined &&
    ts.isNamedImports(b) &&
    b.elements.length > 0 &&
    b.elements.every((e) => e.isTypeOnly)
  );
}

/** Relative imports and re-exports of a file (static, dynamic and `import("...")` types). */
export function importsOf(file: string, text: string): Import[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: Import[] = [];
  const add = (spec: string, typeOnly: boolean): void => {
    if (!spec.startsWith(".")) return;
    const target = resolve(dirname(file), spec.replace(/\.js$/, ".ts"));
    out.push({ file, target, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node.moduleSpecifier.text, isTypeOnly(node));
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node.argument.literal.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** A file's layer: its directory under src/, or its name for a file at src/'s top. */
function layerOf(path: string): string {
  const rel = relative(SRC, path).split("/");
  return rel.length > 1 ? (rel[0] as string) : (rel[0] as string).replace(/\.ts$/, "");
}

function rankOf(layer: string): number {
  return LAYERS.findIndex((group) => group.includes(layer));
}

/** What is wrong with one import, or null. */
export function violation(imp: Import): string | null {
  const from = layerOf(imp.file);
  const to = layerOf(imp.target);
  if (from === to) return null;
  const what = `${relative(SRC, imp.file)} imports ${relative(SRC, imp.target)}`;
  const exempt =
    imp.typeOnly && TYPE_EXCEPTIONS.some(([l, f]) => l === from && f === relative(SRC, imp.target));
  if (rankOf(to) >= rankOf(from) && !exempt) return `${what}: upwards (${from} -> ${to})`;
  const rel = relative(SRC, imp.target);
  if (rel.includes("/") && !rel.endsWith("/index.ts")) return `${what}: not through index.ts`;
  return null;
}

describe("import graph", () => {
  const files = sources(SRC);
  const imports = files.flatMap((f) => importsOf(f, readFileSync(f, "utf8")));

  it("every layer of src/ has its place in the order", () => {
    const layers = new Set(files.map(layerOf));
    for (const l of layers) assert.ok(rankOf(l) >= 0, `${l} is in LAYERS`);
    assert.ok(imports.length > 200, `${imports.length} imports`);
  });

  it("the check finds upward imports and imports past a layer's index.ts", () => {
    const at = (p: string): string => join(SRC, p);
    const imp = (file: string, target: string, typeOnly = false): Import => ({
      file: at(file),
      target: at(target),
      typeOnly,
    });
    assert.equal(violation(imp("slub/slub.ts", "page/index.ts")), null);
    assert.equal(violation(imp("slub/slub.ts", "slub/verify.ts")), null);
    assert.match(violation(imp("page/buddy.ts", "slub/index.ts")) ?? "", /upwards/);
    assert.match(violation(imp("slub/slub.ts", "page/buddy.ts")) ?? "", /index\.ts/);
    assert.match(violation(imp("slub/slub.ts", "page/buddy.ts", true)) ?? "", /index\.ts/);
    assert.match(violation(imp("page/buddy.ts", "kmem.ts", true)) ?? "", /upwards/);
    assert.equal(violation(imp("classic/p2.ts", "kmem.ts", true)), null);
    assert.match(violation(imp("classic/p2.ts", "kmem.ts")) ?? "", /upwards/);
    const parsed = importsOf(
      at("slub/x.ts"),
      `import { a } from "../page/index.js";
       import type { B } from "../kmem.js";
       import { type C } from "./layout.js";
       export { d } from "../memory/index.js";
       type E = import("../vm/index.js").E;
       const f = await import("../sync/index.js");
       import ts from "typescript";`,
    );
    assert.deepEqual(
      parsed.map((i) => [relative(SRC, i.target), i.typeOnly]),
      [
        ["page/index.ts", false],
        ["kmem.ts", true],
        ["slub/layout.ts", true],
        ["memory/index.ts", false],
        ["vm/index.ts", true],
        ["sync/index.ts", false],
      ],
    );
  });

  it("no upward imports; across layers only through index.ts", () => {
    const bad = imports.map(violation).filter((v) => v !== null);
    assert.deepEqual(bad, []);
  });
});
