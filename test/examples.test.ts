/* The examples in examples/ (shown in the README) run as written and print what it says. */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

function run(name: string): string {
  const file = fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));
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

  it("numa", () => {
    const out = run("numa");
    assert.match(out, /^local: 0 0$/m);
    assert.match(out, /^interleave \[1, 2\]: 1 2 1 2 1 2$/m);
    assert.match(out, /^bind \[2\]: \d+ pages, all on node 2$/m);
    assert.match(out, /^allocPagesNode\(2, THISNODE\): 0$/m);
    assert.match(out, /^allocPagesNode\(2\): node 1 \(distance 20\)$/m);
    assert.match(out, /^kmallocNode\(200, 1\), \(200, 0\): 1 0$/m);
    assert.match(
      out,
      /^buffers: 4 MiB, 2 MiB, 2 MiB; node 1's page is in buffer 1: "104,101,108,108,111"$/m,
    );
    assert.match(out, /^interleave_hit +0 +3 +3$/m);
    assert.match(out, /^Node 2, zone {3}Normal( +\d+){11}$/m);
  });

  it("slob-mempool", () => {
    const out = run("slob-mempool");
    const slob = Number(/^SLOB: 1000 blocks, \d+ usable bytes in (\d+) pages$/m.exec(out)?.[1]);
    const slub = Number(/^SLUB: the same 1000 blocks in (\d+) pages$/m.exec(out)?.[1]);
    assert.ok(slob > 0 && slob < slub, out);
    assert.match(out, /^allocator failing: 8 of 10 served, from the reserve$/m);
    assert.match(out, /^reserve after the frees: 8\/8$/m);
  });

  it("rmap", () => {
    const out = run("rmap");
    assert.match(out, /^journal at 0, a at 100, b at 110$/m);
    assert.match(out, /^first fit: alloc\(5\) takes 100, the hole a left$/m);
    assert.match(out, /^free segments: \[105, 110\) \[130, 1000\)$/m);
    assert.match(out, /^after three frees: \[20, 30\) \[100, 1000\)$/m);
    assert.match(out, /^allocAt\(500, 50\): 500; alloc\(2000\): -1$/m);
    assert.match(
      out,
      /^DOUBLE_FREE: resource map: free of \[110, 130\) overlaps the free segment \[100, 500\)$/m,
    );
    assert.match(out, /^available 860, in use 140, 3 free segments, largest 450$/m);
  });

  it("vmem", () => {
    const out = run("vmem");
    assert.match(out, /^pids 0, 1, 2; 1 freed, the next pid is 3$/m);
    assert.match(out, /^ring at 0x0, buffer at 0x100000 \(0xf0000 would cross 1 MiB\)$/m);
    assert.match(out, /^heap objects at 0xe1000, 0xe1020, 0xe1400; imported 65536 bytes$/m);
    assert.match(out, /^DOUBLE_FREE: vmem heap: 0xe1000 is already free \(quantum cache of 32\)$/m);
    assert.match(out, /^imported 65536 before reap, 0 after; dma in use 1092 KiB$/m);
  });

  it("workbench", () => {
    const out = run("workbench");
    assert.match(
      out,
      /^slub: utilization 0\.\d{3}, [\d.]+ M ops\/s, p99 \d+ ns, \d+ blocks left live$/m,
    );
    assert.match(
      out,
      /^malloc: utilization 0\.\d{3}, [\d.]+ M ops\/s, p99 \d+ ns, \d+ blocks left live$/m,
    );
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

  it("workers", () => {
    const out = run("workers");
    assert.match(out, /^worker was cpu 1; main thread is cpu 0$/m);
    assert.match(out, /^received 1000 points, sum 499500 \(worker said 499500\)$/m);
    assert.match(out, /^point objects live: 0$/m);
  });
});
