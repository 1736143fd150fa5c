/* The examples in examples/ (shown in the README) run as written and print what it says. */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

function run(name: string): string {
  const file = fileURLToPath(new URL(`../../examples/${name}.js`, import.meta.url));
  const r = spawnSync(process.execPath, [file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe("examples", () => {
  it("pages", () => {
    const out = run("pages");
    assert.match(out, /^managed pages: 4063 of 4096$/m);
    assert.match(out, /^order-2 block at 0x[0-9a-f]+, aligned: true$/m);
    assert.match(out, /^Node 0, zone {3}Normal( +\d+){11}$/m);
    assert.match(out, /^DOUBLE_FREE: caught$/m);
    assert.match(out, /^unusable index for order 10: 0\.\d+$/m);
  });
});
