/* The `kmem` command, run as a real process: happy path, help, and bad usage. */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function kmem(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("kmem demo", () => {
  it("runs the page workload and shows the reports before and after", () => {
    const r = kmem("demo", "--memory", "4M", "--ops", "3000", "--seed", "7");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^kmem demo: 4 MiB of 4096-byte pages, 1015 managed/);
    assert.match(r.stdout, /== before ==\n\/proc\/buddyinfo/);
    assert.match(r.stdout, /== after 3000 operations: \d+ allocations, \d+ frees, \d+ failures/);
    assert.equal(r.stdout.match(/^Node 0, zone {3}Normal( +\d+){11}$/gm)?.length, 2);
    assert.match(r.stdout, /^MemTotal: +4060 kB$/m);
    assert.match(r.stdout, /^unusable_index +0\.000/m);
    assert.match(r.stdout, /verify\(\): every invariant holds/);
  });

  it("is deterministic for a seed", () => {
    const a = kmem("demo", "--memory", "2M", "--ops", "2000", "--seed", "3");
    const b = kmem("demo", "--memory", "2M", "--ops", "2000", "--seed", "3");
    assert.equal(a.stdout, b.stdout);
  });

  it("prints help and exits 0", () => {
    const r = kmem("demo", "--help");
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: kmem demo \[options\]/);
  });

  it("exits 2 with a message on a bad argument", () => {
    const r = kmem("demo", "--memory", "lots");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not a byte size: "lots"/);
    const u = kmem("frobnicate");
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown command 'frobnicate'/);
  });

  it("exits 1 with the library's message when kmem refuses the configuration", () => {
    const r = kmem("demo", "--page-size", "3000");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /kmem: pageSize must be a power of two/);
  });
});

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
});
