/* Physical memory: geometry, metadata overhead, adopted buffers, corruption found by verify(). */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, KmemError } from "../../src/index.js";
import { Frame, Hdr, Pg, PgFlag, type PhysMem, Zone, zoneBase } from "../../src/memory/index.js";

/** Node 0's zone words in the header of a one-cpu instance. */
const Z = zoneBase(1, 0);
import { memMap } from "../helpers.js";

function assertCorrupt(mm: Kmem, id: string): void {
  assert.throws(
    () => mm.verify(),
    (err: unknown) =>
      err instanceof KmemError && err.code === "CORRUPTION" && err.message.includes(id),
    `verify() should report ${id}`,
  );
}

describe("physical memory", () => {
  it("has the geometry asked for", () => {
    const mm = new Kmem({ memory: 64 << 20 });
    assert.equal(mm.pageSize, 4096);
    assert.equal(mm.maxOrder, 11);
    assert.equal(mm.totalPages, 16384);
    assert.equal(mm.memory.length, 64 << 20);
    assert.ok(mm.managedPages < mm.totalPages);
  });

  it("spends at most 1% of memory on metadata with 4 KiB pages (from 4 MiB up)", () => {
    // Below 4 MiB the rounding of the reserved part to whole pages dominates.
    for (const bytes of [4 << 20, 64 << 20, 256 << 20, 1 << 30]) {
      const mm = new Kmem({ memory: bytes });
      const reserved = mm.totalPages - mm.managedPages;
      assert.ok(reserved / mm.totalPages <= 0.01, `${bytes}: ${reserved} of ${mm.totalPages}`);
    }
  });

  it("manages a buffer passed in, whatever it held, and exposes that very buffer", () => {
    const buffer = new ArrayBuffer(1 << 20);
    new Uint8Array(buffer).fill(0xff);
    const mm = new Kmem({ memory: buffer });
    assert.equal(mm.memory.buffer, buffer);
    mm.verify();
    // Four pages hold the slab cache descriptors (the kmem_cache cache: kmalloc's 36 size
    // classes among them).
    assert.equal(mm.stats().freePages, mm.managedPages - 4);
    const addr = mm.allocPages(0);
    assert.equal(mm.memory[addr], 0xff, "page contents are not touched");
  });

  it("manages a SharedArrayBuffer", () => {
    const sab = new SharedArrayBuffer(1 << 20);
    const mm = new Kmem({ memory: sab });
    assert.equal(mm.memory.buffer, sab);
    const addr = mm.allocPages(3);
    assert.notEqual(addr, 0);
    mm.freePages(addr, 3);
    mm.verify();
  });

  it("leaves a passed-in buffer untouched when the options are rejected", () => {
    const mm = new Kmem({ memory: 1 << 20 });
    const a = mm.kmalloc(100);
    mm.memory.fill(0x5c, a, a + 100);
    const before = mm.memory.slice();
    for (const bad of [{ debug: "Q" }, { log: 1 }, { minFreeBytes: -1 }, { initOnFree: "yes" }]) {
      assert.throws(() => new Kmem({ memory: mm.buffer, ...(bad as object) }));
    }
    assert.deepEqual(mm.memory, before);
    mm.verify();
    mm.kfree(a);
  });

  it("refuses resizable buffers, whose pages could vanish under live allocations", () => {
    const Resizable = ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer;
    const buffer = new Resizable(1 << 20, { maxByteLength: 2 << 20 });
    assert.throws(() => new Kmem({ memory: buffer }), /resizable/);
  });

  it("ignores a trailing partial page of the buffer", () => {
    const mm = new Kmem({ memory: (1 << 20) + 100 });
    assert.equal(mm.totalPages, 256);
    mm.verify();
  });

  it("works with every page size from 1 KiB to 64 KiB", () => {
    for (let pageSize = 1024; pageSize <= 65536; pageSize *= 2) {
      const mm = new Kmem({ memory: 8 << 20, pageSize, minFreeBytes: 0 });
      const a = mm.allocPages(2);
      assert.equal(a % (pageSize * 4), 0);
      mm.freePages(a, 2);
      mm.verify();
    }
  });
});

describe("copy", () => {
  // Word stores below 128 bytes between ranges apart, copyWithin otherwise: every length
  // around the switch, aligned or not, apart or overlapping either way, as memmove.
  it("copies as memmove at every length, alignment and overlap", () => {
    const mm = new Kmem({ memory: 1 << 20 });
    const phys = (mm as unknown as { phys: PhysMem }).phys;
    const base = mm.allocPages(2);
    const bytes = mm.memory;
    for (const length of [0, 1, 4, 8, 60, 64, 120, 124, 125, 128, 132, 256, 300]) {
      for (const [dstOff, srcOff] of [
        [0, 2048],
        [2048, 0],
        [3, 1024],
        [0, 8],
        [8, 0],
        [1, 5],
      ] as const) {
        for (let i = 0; i < 8192; i++) bytes[base + i] = (i * 7 + length) & 0xff;
        const expect = Uint8Array.from(bytes.subarray(base, base + 8192));
        expect.copyWithin(dstOff, srcOff, srcOff + length);
        phys.copy(base + dstOff, base + srcOff, length);
        assert.deepEqual(
          bytes.subarray(base, base + 8192),
          expect,
          `${length} ${dstOff} ${srcOff}`,
        );
      }
    }
  });
});

describe("verify() finds corrupted metadata", () => {
  function fresh() {
    const mm = new Kmem({ memory: 1 << 20, maxOrder: 6, minFreeBytes: 0 });
    mm.allocPages(0); // leaves pages on the per-cpu list
    const live = [mm.allocPages(2), mm.allocPages(0)];
    mm.freePages(live[1] as number, 0);
    mm.verify();
    return { mm, f: memMap(mm), h: new Int32Array(mm.buffer, 0, 512), a: live[0] as number };
  }

  it("LAYOUT-1: a clobbered magic", () => {
    const { mm, h } = fresh();
    h[Hdr.MAGIC] = 0;
    assertCorrupt(mm, "LAYOUT-1");
  });

  it("MEMMAP-1: a tail frame with flags", () => {
    const { mm, f, a } = fresh();
    const pfn = a / 4096 + 1;
    f[pfn * Frame.WORDS + Pg.FLAGS] = PgFlag.BUDDY;
    assertCorrupt(mm, "MEMMAP-1");
  });

  it("MEMMAP-1: a head frame whose flags were wiped", () => {
    const { mm, f, a } = fresh();
    f[(a / 4096) * Frame.WORDS + Pg.FLAGS] = 0;
    assertCorrupt(mm, "MEMMAP-1");
  });

  it("BUDDY-1: a block with an order its alignment does not allow", () => {
    const { mm, f, a } = fresh();
    f[(a / 4096) * Frame.WORDS + Pg.ORDER] = 5;
    assertCorrupt(mm, "BUDDY-1");
  });

  it("BUDDY-2: nr_free that disagrees with the list", () => {
    const { mm, h } = fresh();
    const top = Z + Zone.FREE_AREA + 2 * 5 + 1;
    h[top] = (h[top] as number) + 1;
    assertCorrupt(mm, "BUDDY-2");
  });

  it("BUDDY-2: a broken back link", () => {
    const { mm, f, h } = fresh();
    let head = 0;
    for (let o = 0; o < 6 && head === 0; o++) {
      const first = h[Z + Zone.FREE_AREA + 2 * o] as number;
      if (first !== 0 && f[first * Frame.WORDS + Pg.NEXT] !== 0) head = first;
    }
    assert.notEqual(head, 0, "some list has two entries");
    const second = f[head * Frame.WORDS + Pg.NEXT] as number;
    f[second * Frame.WORDS + Pg.PREV] = 12345;
    assertCorrupt(mm, "BUDDY-2");
  });

  it("BUDDY-3: two free buddies left unmerged", () => {
    const { mm, f, h } = fresh();
    // Split a free order-5 block by hand into two order-4 halves.
    const pfn = h[Z + Zone.FREE_AREA + 2 * 5] as number;
    assert.notEqual(pfn, 0);
    f[pfn * Frame.WORDS + Pg.ORDER] = 4;
    f[(pfn + 16) * Frame.WORDS + Pg.FLAGS] = PgFlag.BUDDY;
    f[(pfn + 16) * Frame.WORDS + Pg.ORDER] = 4;
    assertCorrupt(mm, "BUDDY-3");
  });

  it("BUDDY-4: a free page counter that does not add up", () => {
    const { mm, h } = fresh();
    h[Z + Zone.NR_FREE] = (h[Z + Zone.NR_FREE] as number) - 1;
    assertCorrupt(mm, "BUDDY-4");
  });

  it("MEMMAP-1: an allocated block's head turned into an unlisted per-cpu page", () => {
    const { mm, f, a } = fresh();
    f[(a / 4096) * Frame.WORDS + Pg.FLAGS] = PgFlag.PCP;
    f[(a / 4096) * Frame.WORDS + Pg.ORDER] = 0;
    assertCorrupt(mm, "MEMMAP-1");
  });

  it("PCP-1: a per-cpu list count that disagrees with the list", () => {
    const { mm, h } = fresh();
    assert.ok(mm.stats().pcpPages > 0);
    h[Hdr.PCP + 2] = (h[Hdr.PCP + 2] as number) + 1;
    assertCorrupt(mm, "PCP-1");
  });

  it("PCP-1: a free page flagged per-cpu but on no list", () => {
    const mm = new Kmem({ memory: 1 << 20, maxOrder: 6, minFreeBytes: 0 });
    const f = memMap(mm);
    const a = mm.allocPages(0);
    // Mark it per-cpu as if freed, without listing it.
    f[(a / 4096) * Frame.WORDS + Pg.FLAGS] = PgFlag.PCP;
    assertCorrupt(mm, "PCP-1");
  });

  it("BUDDY-2: a free list link pointing outside managed memory", () => {
    const { mm, h } = fresh();
    h[Z + Zone.FREE_AREA + 2 * 5] = 3; // a reserved frame
    assertCorrupt(mm, "BUDDY-2");
  });

  it("LAYOUT-1: a geometry word changed", () => {
    const { mm, h } = fresh();
    h[Hdr.MANAGED_PAGES] = (h[Hdr.MANAGED_PAGES] as number) + 1;
    assertCorrupt(mm, "LAYOUT-1");
  });

  it("LAYOUT-3: per-cpu batch or watermarks out of range", () => {
    const a = fresh();
    a.h[Hdr.PCP_BATCH] = 0;
    assertCorrupt(a.mm, "LAYOUT-3");
    const b = fresh();
    b.h[Z + Zone.WMARK_LOW] = (b.h[Z + Zone.WMARK_HIGH] as number) + 1;
    assertCorrupt(b.mm, "LAYOUT-3");
  });

  it("SLAB-7/8/9: a cyclic cache list, a wrong refcount, a cpu slot pointing elsewhere", () => {
    const a = fresh();
    const w = new Int32Array(a.mm.buffer);
    const c = a.mm.createCache("x", 64);
    assert.ok(c !== null);
    w[(c.desc >>> 2) + 19] = c.desc; // Desc.NEXT to itself
    assertCorrupt(a.mm, "SLAB-7");
    const b = fresh();
    const d = b.mm.createCache("y", 100);
    b.mm.createCache("y2", 100);
    assert.ok(d !== null);
    new Int32Array(b.mm.buffer)[(d.desc >>> 2) + 18] = 1; // Desc.REFCOUNT
    assertCorrupt(b.mm, "SLAB-8");
    const e = fresh();
    const k = e.mm.createCache("z", 64);
    assert.ok(k !== null);
    k.alloc();
    new Int32Array(e.mm.buffer)[(k.desc >>> 2) + 40 + 3]! += 4; // cpu slot's bitmap index
    assertCorrupt(e.mm, "SLAB-9");
  });

  it("MEMMAP-2: a reserved frame made to look free", () => {
    const { mm, f, h } = fresh();
    const last = (h[Hdr.FIRST_PFN] as number) - 1;
    f[last * Frame.WORDS + Pg.FLAGS] = PgFlag.BUDDY;
    assertCorrupt(mm, "MEMMAP-2");
  });
});
