/*
 * Regression: layout offsets and GFP bits must reach the hot paths as literals. They are
 * `const enum`s so that tsc inlines them; a lint fix once turned them into plain enums, and
 * the order-0 pair slowed down about 2x with no test failing.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const HOT = [
  "../../src/page/buddy.js",
  "../../src/page/reclaim.js",
  "../../src/page/verify.js",
  "../../src/kmem.js",
  "../../src/vm/access.js",
  "../../src/vm/pgtable.js",
  "../../src/vm/vmalloc.js",
];
const ENUMS = [
  ...["Hdr", "Pg", "PgFlag", "Pcp", "Vm", "Frame", "FreeArea", "Gfp", "Layout"],
  ...["Pte", "PgVm", "VmDesc", "Va", "VaFlag", "Caller"],
];

describe("const enum inlining", () => {
  for (const rel of HOT) {
    it(`${rel.split("/").pop()} reads no enum object at run time`, () => {
      const code = readFileSync(fileURLToPath(new URL(rel, import.meta.url)), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      for (const name of ENUMS) {
        assert.doesNotMatch(
          code,
          new RegExp(`\\b${name}\\.[A-Z_]+`),
          `${name}.X survived compilation`,
        );
      }
    });
  }
});
