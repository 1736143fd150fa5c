/*
 * The published declarations: what the sources tag @internal (stripInternal) is absent from
 * the emitted .d.ts of the library and of the workbench, and the library's .d.ts type-check on
 * their own, as a user's compiler reads them (skipLibCheck off: nothing stripped is still
 * referenced).
 */

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Each package's sources and where their declarations are emitted. */
const PACKAGES = [
  { src: join(ROOT, "src"), out: join(ROOT, "dist/src") },
  { src: join(ROOT, "packages/workbench/src"), out: join(ROOT, "packages/workbench/dist/src") },
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")
        ? [join(dir, e.name)]
        : [],
  );
}

function nameOf(node: ts.Node, file: ts.SourceFile): string | undefined {
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const name = (node as ts.NamedDeclaration).name;
  if (name === undefined) return undefined;
  return ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name)
    ? name.text
    : name.getText(file);
}

function isInternal(node: ts.Node): boolean {
  return ts.getJSDocTags(node).some((t) => t.tagName.text === "internal");
}

/**
 * Declarations of a file by path (`KmemCache.desc`, `KmemCache.constructor`, `CacheBackend`):
 * all of them, or only those tagged @internal.
 */
function declarations(text: string, internalOnly: boolean): string[] {
  const file = ts.createSourceFile("x.ts", text, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node, path: string): void => {
    let inner = path;
    if (ts.isVariableStatement(node)) {
      for (const d of node.declarationList.declarations) {
        const n = nameOf(d, file);
        if (n !== undefined && (!internalOnly || isInternal(d))) found.push(path + n);
      }
      return;
    }
    if (ts.isParameter(node)) return;
    if (ts.isClassElement(node) || ts.isTypeElement(node) || ts.isDeclarationStatement(node)) {
      const n = nameOf(node, file);
      if (n !== undefined) {
        if (!internalOnly || isInternal(node)) found.push(path + n);
        inner = `${path}${n}.`;
      }
    } else if (ts.isEnumMember(node)) {
      const n = nameOf(node, file);
      if (n !== undefined && (!internalOnly || isInternal(node))) found.push(path + n);
      return;
    }
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(file, "");
  return found;
}

/** Declarations tagged @internal in `source` that are still in `dts`. */
function leaks(source: string, dts: string): string[] {
  const emitted = new Set(declarations(dts, false));
  return declarations(source, true).filter((d) => emitted.has(d));
}

const SAMPLE = `
/** @internal A handle's backend. */
export interface Backend { alloc(): number }
export class Cache {
  readonly name: string;
  /** @internal Descriptor address. */
  readonly desc: number;
  /**
   * @internal The freelist
   * hardening secret.
   */
  readonly secret: number;
  /** @internal */
  constructor(name: string, desc: number, secret: number) {
    this.name = name; this.desc = desc; this.secret = secret;
  }
  alloc(): number { return this.desc; }
}
/** @internal */
export const SECRET_BITS = 32;
`;

describe("declarations", () => {
  it("the check finds what a build without stripInternal leaves in, and nothing with it", () => {
    const emit = (stripInternal: boolean): string =>
      ts.transpileDeclaration(SAMPLE, {
        compilerOptions: { stripInternal, target: ts.ScriptTarget.ES2022 },
      }).outputText;
    assert.deepEqual(leaks(SAMPLE, emit(false)).sort(), [
      "Backend",
      "Cache.constructor",
      "Cache.desc",
      "Cache.secret",
      "SECRET_BITS",
    ]);
    assert.deepEqual(leaks(SAMPLE, emit(true)), []);
    assert.ok(declarations(emit(true), false).includes("Cache.alloc"));
  });

  it("nothing the sources tag @internal is in the emitted .d.ts", () => {
    let tagged = 0;
    for (const { src, out } of PACKAGES) {
      for (const file of sources(src)) {
        const source = readFileSync(file, "utf8");
        if (!source.includes("@internal")) continue;
        tagged += declarations(source, true).length;
        const dts = join(out, relative(src, file)).replace(/\.ts$/, ".d.ts");
        assert.ok(existsSync(dts), `${relative(ROOT, dts)} was emitted`);
        const leaked = leaks(source, readFileSync(dts, "utf8"));
        assert.deepEqual(leaked, [], `${relative(ROOT, dts)} declares ${leaked.join(", ")}`);
      }
    }
    assert.ok(tagged > 0, "the sources tag something @internal");
  });

  it("the library's .d.ts type-check on their own, as a user's compiler reads them", () => {
    const program = ts.createProgram(
      [join(ROOT, "dist/src/index.d.ts"), join(ROOT, "dist/src/wasm/index.d.ts")],
      {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: [],
        lib: ["lib.es2022.d.ts"],
      },
    );
    const errors = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    assert.deepEqual(errors, []);
  });
});
