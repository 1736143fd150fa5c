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

  it("slab", () => {
    const out = run("slab");
    assert.match(out, /^vec3 at 0x[0-9a-f]+: 1,1,1$/m);
    assert.match(out, /^object 12 bytes, slot 16 bytes$/m);
    assert.match(out, /^ksize\(kmalloc\(100\)\): 128; after krealloc\(180\): 192$/m);
    assert.match(out, /^kcalloc\(1000, 8\): 8192 usable bytes, zeroed$/m);
    assert.match(out, /^DOUBLE_FREE: kmalloc-192: object 0x[0-9a-f]+ is already free$/m);
    assert.match(out, /^vec3 +0 +254 +16 +254 +1 : tunables/m);
  });

  it("slob-mempool", () => {
    const out = run("slob-mempool");
    const slob = Number(/^SLOB: 1000 blocks, \d+ usable bytes in (\d+) pages$/m.exec(out)?.[1]);
    const slub = Number(/^SLUB: the same 1000 blocks in (\d+) pages$/m.exec(out)?.[1]);
    assert.ok(slob > 0 && slob < slub, out);
    assert.match(out, /^allocator failing: 8 of 10 served, from the reserve$/m);
    assert.match(out, /^reserve after the frees: 8\/8$/m);
  });

  it("workers", () => {
    const out = run("workers");
    assert.match(out, /^worker was cpu 1; main thread is cpu 0$/m);
    assert.match(out, /^received 1000 points, sum 499500 \(worker said 499500\)$/m);
    assert.match(out, /^point objects live: 0$/m);
  });
});
