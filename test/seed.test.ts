/*
 * The properties' seed (test/seed.ts): fixed under npm test, the one KMEM_FC_SEED names, or
 * none (fast-check's own per property) under npm run test:seeds; a bad value refused.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";

/**
 * The seed this process's properties draw from, read before this file imports seed.js
 * itself (below, in the test): what the runner's `--import ./dist/test/seed.js` set.
 */
const RUNNER_SEED = fc.readConfigureGlobal().seed;

const SEED = fileURLToPath(new URL("./seed.js", import.meta.url));

/** The global seed a fresh process gets from seed.js with KMEM_FC_SEED set to `value`. */
function seedWith(value: string | undefined): string {
  const env = { ...process.env };
  delete env.KMEM_FC_SEED;
  if (value !== undefined) env.KMEM_FC_SEED = value;
  return execFileSync(
    process.execPath,
    [
      "--import",
      SEED,
      "--input-type=module",
      "-e",
      'import fc from "fast-check"; console.log(String(fc.readConfigureGlobal().seed));',
    ],
    {
      env,
      encoding: "utf8",
      cwd: fileURLToPath(new URL(".", import.meta.url)),
      stdio: ["ignore", "pipe", "pipe"],
    },
  ).trim();
}

describe("fast-check's seed", () => {
  it("this process's, as the test runner set it: the fixed one, or KMEM_FC_SEED's", async () => {
    const { seedOf } = await import("./seed.js");
    assert.equal(RUNNER_SEED, seedOf(process.env.KMEM_FC_SEED));
  });

  it("a fresh process's: fixed, a number, random, or a clear error", async () => {
    const { FIXED_SEED } = await import("./seed.js");
    assert.equal(seedWith(undefined), String(FIXED_SEED));
    assert.equal(seedWith("12345"), "12345");
    assert.equal(seedWith("random"), "undefined");
    assert.throws(
      () => seedWith("soon"),
      /KMEM_FC_SEED must be an integer or "random", not "soon"/,
    );
  });
});
