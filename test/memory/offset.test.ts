/*
 * A buffer whose start belongs to someone else (a WebAssembly module's data and stack):
 * kmem manages it from `offset` on, never touching the bytes before; and a mem_map with room
 * for more frames than the buffer holds (maxMemory), the frames beyond belonging to no zone.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Kmem } from "../../src/index.js";
import { Frame, Hdr, Zone, zoneBase } from "../../src/memory/index.js";
import { assertMisuse, expectKmemError, metadata } from "../helpers.js";

/** A buffer whose first `offset` bytes hold a pattern "the module" owns. */
function moduleBuffer(
  bytes: number,
  offset: number,
  shared = false,
): ArrayBuffer | SharedArrayBuffer {
  const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  const b = new Uint8Array(buffer);
  for (let i = 0; i < offset; i++) b[i] = (i * 7 + 3) & 0xff;
  b.fill(0xee, offset);
  return buffer;
}

function prefixIntact(buffer: ArrayBuffer | SharedArrayBuffer, offset: number): boolean {
  const b = new Uint8Array(buffer, 0, offset);
  for (let i = 0; i < offset; i++) if (b[i] !== ((i * 7 + 3) & 0xff)) return false;
  return true;
}

describe("memory from an offset of a buffer", () => {
  it("counts addresses from the offset and never touches the bytes before it", () => {
    const offset = 3 * 65536;
    const buffer = moduleBuffer(4 << 20, offset);
    const mm = new Kmem({ memory: buffer, offset });
    assert.equal(mm.memory.buffer, buffer);
    assert.equal(mm.memory.byteOffset, offset);
    assert.equal(mm.totalPages, ((4 << 20) - offset) / 4096);
    const a = mm.kmalloc(100);
    mm.write(a, new TextEncoder().encode("hello"));
    assert.equal(new TextDecoder().decode(new Uint8Array(buffer, offset + a, 5)), "hello");
    const p = mm.allocPages(3);
    assert.equal(p % (8 * 4096), 0);
    assert.equal(
      (offset + p) % 65536,
      0,
      "a 64 KiB-aligned offset keeps 32 KiB blocks aligned in the buffer",
    );
    mm.freePages(p, 3);
    mm.kfree(a);
    mm.verify();
    assert.ok(prefixIntact(buffer, offset));
    expectKmemError("DOUBLE_FREE", () => mm.kfree(a));
    assert.ok(prefixIntact(buffer, offset));
  });

  it("survives random use with verify() after every step, the prefix intact", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4096, 65536, 5 * 4096),
        fc.constantFrom<"slub" | "slob">("slub", "slob"),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 20000 })), { maxLength: 60 }),
        (offset, slab, ops) => {
          const buffer = moduleBuffer(2 << 20, offset);
          const mm = new Kmem({ memory: buffer, offset, slab });
          const live: number[] = [];
          for (const [alloc, n] of ops) {
            if (alloc || live.length === 0) {
              const a = mm.kmalloc(n);
              if (a !== 0) {
                mm.memory.fill(0xab, a, a + n);
                live.push(a);
              }
            } else {
              mm.kfree(live.splice(n % live.length, 1)[0] as number);
            }
            mm.verify();
          }
          for (const a of live) mm.kfree(a);
          mm.verify();
          return prefixIntact(buffer, offset);
        },
      ),
      { numRuns: 40, seed: 20 },
    );
  });

  it("refuses a misuse without touching the metadata", () => {
    const offset = 65536;
    const mm = new Kmem({ memory: moduleBuffer(1 << 20, offset), offset });
    const a = mm.kmalloc(64);
    assertMisuse(mm, "INVALID_FREE", () => mm.kfree(a + 8));
    assert.equal(metadata(mm).length, mm.stats().reservedPages * 4096);
    mm.kfree(a);
  });

  it("is opened with the same offset from another context", () => {
    const offset = 2 * 65536;
    const sab = moduleBuffer(2 << 20, offset, true) as SharedArrayBuffer;
    const mm = new Kmem({ memory: sab, offset, cpus: 2 });
    const a = mm.kmalloc(200);
    assert.throws(() => Kmem.attach(sab), /no kmem magic/);
    const other = Kmem.attach(sab, { offset });
    assert.equal(other.ksize(a), 224);
    other.kfree(a);
    other.verify();
    assert.throws(() => Kmem.attach(sab, { offset: 65536 }), /at offset 65536 has no kmem magic/);
    assert.ok(prefixIntact(sab, offset));
  });

  it("checks the offset", () => {
    const buffer = new ArrayBuffer(1 << 20);
    assert.throws(() => new Kmem({ memory: buffer, offset: 1000 }), /multiple of the page size/);
    assert.throws(() => new Kmem({ memory: buffer, offset: 1 << 20 }), /inside the buffer/);
    assert.throws(() => new Kmem({ memory: buffer, offset: -4096 }), RangeError);
    assert.throws(() => new Kmem({ memory: buffer, offset: 1.5 }), TypeError);
    assert.throws(() => new Kmem({ memory: 1 << 20, offset: 4096 }), /needs memory to be a buffer/);
    assert.throws(() => new Kmem({ memory: buffer, offset: (1 << 20) - 8192 }), /too small/);
    assert.throws(() => Kmem.attach(buffer, { offset: 12 }), /multiple of the page size/);
  });
});

describe("a mem_map with room for memory to come (maxMemory)", () => {
  it("reserves the room and keeps the frames beyond the buffer out of the zone", () => {
    const plain = new Kmem({ memory: 4 << 20 });
    const mm = new Kmem({ memory: 4 << 20, maxMemory: 64 << 20 });
    const h = new Int32Array(mm.buffer, 0, zoneBase(1, 0) + Zone.WORDS);
    assert.equal(mm.totalPages, 1024);
    assert.equal(h[Hdr.TOTAL_PAGES], 1024);
    assert.equal(h[Hdr.MAX_PAGES], 16384);
    // 15360 more frames of 32 bytes: 120 more pages reserved.
    assert.equal(plain.managedPages - mm.managedPages, (15360 * Frame.BYTES) / 4096);
    const z = zoneBase(1, 0);
    assert.equal(h[z + Zone.END_PFN], 1024);
    assert.ok((h[Hdr.FIRST_PFN] as number) * 4096 >= (h[Hdr.MEMMAP_OFFSET] as number) + 16384 * 32);
    const held: number[] = [];
    for (let p; (p = mm.allocPages(0, 0x20 /* __GFP_HIGH */)) !== 0;) held.push(p);
    assert.ok(held.every((p) => p < 4 << 20));
    for (const p of held) mm.freePages(p, 0);
    mm.verify();
  });

  it("puts the vmalloc space above the room, where memory to come cannot reach it", () => {
    const mm = new Kmem({ memory: 4 << 20, maxMemory: 64 << 20 });
    assert.ok(mm.vmallocStart >= 64 << 20, `vmalloc from 0x${mm.vmallocStart.toString(16)}`);
    const v = mm.vmalloc(1 << 20);
    assert.notEqual(v, 0);
    mm.vfree(v);
    mm.verify();
  });

  it("keeps its room when opened elsewhere", () => {
    const mm = new Kmem({ memory: 4 << 20, maxMemory: 16 << 20, cpus: 2 });
    const other = Kmem.attach(mm.buffer);
    assert.equal(other.managedPages, mm.managedPages);
    other.verify();
  });

  it("checks the room", () => {
    assert.throws(
      () => new Kmem({ memory: 4 << 20, maxMemory: 1 << 20 }),
      /maxPages must be in 1024\.\./,
    );
    assert.throws(() => new Kmem({ memory: 4 << 20, maxMemory: 2 ** 33 }), RangeError);
    assert.throws(() => new Kmem({ memory: 4 << 20, maxMemory: 1.5 }), TypeError);
    assert.throws(
      () => new Kmem({ memory: 4 << 20, maxMemory: 8 << 20, nodes: [2 << 20, 2 << 20] }),
      /needs one node/,
    );
    assert.throws(() => new Kmem({ memory: 1 << 20, maxMemory: 1 << 30 }), /room for 262144 pages/);
  });
});
