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

  it("vmalloc", () => {
    const out = run("vmalloc");
    assert.match(out, /^vmalloc space: 0x800000\.\.0x1000000$/m);
    assert.match(out, /^kvmalloc\(64 KiB\): kmalloc$/m);
    assert.match(out, /^\d{3} pages free, no two adjacent$/m);
    assert.match(out, /^allocPages\(8\), 1 MiB contiguous: 0$/m);
    assert.match(out, /^vmalloc\(1 MiB\): 0x800000, pages at 0x[0-9a-f]+, 0x[0-9a-f]+, \.\.\.$/m);
    assert.match(out, /^hello, vmalloc, 3\.141592653589793$/m);
    assert.match(out, /^0x00800000-0x00901000 1052672 vmalloc pages=256 vmalloc N0=256$/m);
    assert.match(
      out,
      /^FAULT: getUint8 of 1 byte at 0x900000: .* guard page of the vmalloc area at 0x800000$/m,
    );
    assert.match(out, /^kvmalloc\(64 KiB\), fragmented: vmalloc$/m);
  });
});
