/*
 * kmem's own metadata is never a caller's to free: kfree, ksize, krealloc and a cache's
 * free of a cache descriptor, vmalloc's descriptor and records, a mempool's descriptor and
 * element array, zsmalloc's registry and handles, a zram device, the swap registry (all
 * from kmallocOwn), a classic allocator's control block, are refused with INVALID_FREE
 * naming what they are, every byte of memory unchanged; kmem goes on using them.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, type KmemOptions } from "../../src/index.js";
import { Hdr } from "../../src/memory/index.js";
import { VmDesc } from "../../src/vm/layout.js";
import { assertMisuse } from "../helpers.js";

const SLABS = ["slub", "slab", "slob"] as const;

function make(slab: (typeof SLABS)[number], extra: Partial<KmemOptions> = {}): Kmem {
  return new Kmem({ memory: 4 << 20, minFreeBytes: 0, slab, ...extra } as KmemOptions);
}

function word(mm: Kmem, addr: number): number {
  return new DataView(mm.buffer, mm.memory.byteOffset).getUint32(addr, true);
}

/** kfree, ksize and krealloc of `addr` are refused, naming `what`; memory unchanged. */
function refused(mm: Kmem, addr: number, what: RegExp): void {
  assert.ok(addr !== 0, "no metadata at the address");
  for (const call of [() => mm.kfree(addr), () => mm.ksize(addr), () => mm.krealloc(addr, 9)]) {
    const err = assertMisuse(mm, "INVALID_FREE", call, true);
    assert.match(err.message, what);
  }
}

describe("kmem's own metadata is refused to kfree, ksize and krealloc", () => {
  for (const slab of SLABS) {
    it(`${slab}: a cache descriptor (an object of kmem_cache)`, () => {
      const mm = make(slab);
      const c = mm.createCache("mine", 40);
      assert.ok(c !== null);
      const obj = c.alloc();
      refused(mm, c.desc, /cache descriptor/);
      if (slab !== "slob") {
        const boot = mm.findCache("kmem_cache");
        assert.ok(boot !== null);
        const err = assertMisuse(mm, "INVALID_FREE", () => boot.free(c.desc), true);
        assert.match(err.message, /cache descriptor/);
      }
      assertMisuse(
        mm,
        slab === "slob" ? "INVALID_FREE" : "WRONG_CACHE",
        () => c.free(c.desc),
        true,
      );
      // The cache is whole: a new cache does not take its descriptor.
      const other = mm.createCache("other", 40, { flags: 1 << 8 });
      assert.ok(other !== null && other.desc !== c.desc);
      c.free(obj);
      c.destroy();
      mm.verify();
    });

    it(`${slab}: vmalloc's descriptor and an area's record`, () => {
      const mm = make(slab);
      const v = mm.vmalloc(3 * mm.pageSize);
      const desc = word(mm, Hdr.VMALLOC * 4);
      refused(mm, desc, /kmem's own metadata/);
      const head = word(mm, desc + VmDesc.HEAD * 4);
      refused(mm, head, /kmem's own metadata/);
      mm.vfree(v);
      const again = mm.vmalloc(5 * mm.pageSize);
      assert.notEqual(again, 0);
      mm.vfree(again);
      mm.verify();
    });

    it(`${slab}: a mempool's descriptor and element array, small and large`, () => {
      const mm = make(slab);
      for (const minNr of [4, 5000]) {
        const pool = mm.createMempool(minNr, 32);
        assert.ok(pool !== null);
        refused(mm, pool.address, /kmem's own metadata/);
        const elements = word(mm, pool.address + 12);
        refused(mm, elements, /kmem's own metadata/);
        const e = pool.alloc();
        assert.notEqual(e, 0);
        pool.free(e);
        pool.destroy();
      }
      mm.verify();
    });

    it(`${slab}: zsmalloc's registry and handles, a zram device, the swap registry`, () => {
      const mm = make(slab);
      const zs = mm.createZsPool("own");
      assert.ok(zs !== null);
      const handle = zs.malloc(300);
      assert.notEqual(handle, 0);
      refused(mm, word(mm, Hdr.ZS * 4), /kmem's own metadata/);
      refused(mm, handle, /kmem's own metadata/);
      refused(mm, zs.address, /kmem's own metadata/);
      const zram = mm.createZram({ disksize: 64 * mm.pageSize });
      assert.ok(zram !== null);
      refused(mm, zram.address, /kmem's own metadata/);
      mm.swapon({ pages: 16 });
      refused(mm, word(mm, Hdr.SWAP * 4), /kmem's own metadata/);
      zs.free(handle);
      mm.verify();
    });
  }

  for (const name of ["p2", "mckusick-karels", "lazy-buddy", "mach-zone", "dynix"] as const) {
    it(`a classic allocator's control block (${name}: pages of its own)`, () => {
      const mm = make("slub");
      const a = mm.createAllocator(name);
      assert.ok(a !== null);
      const x = a.alloc(100);
      refused(mm, a.address, /allocPages|not an address kmalloc returned/);
      a.free(x);
      mm.verify();
    });
  }

  it("slub with KASAN: kfree of a cache descriptor is refused, nothing quarantined", () => {
    const mm = make("slub", { kasan: true } as Partial<KmemOptions>);
    const c = mm.createCache("mine", 40);
    assert.ok(c !== null);
    assert.throws(() => mm.kfree(c.desc), /cache descriptor|invalid-free/);
    assert.ok(c.alloc() !== 0);
    mm.verify();
  });

  it("kmem_meta caches are kmem's own: destroy() refused", () => {
    const mm = make("slub");
    mm.vmalloc(mm.pageSize);
    const meta = mm.findCache("kmem_meta-128");
    assert.ok(meta !== null);
    const err = assertMisuse(mm, "BUSY", () => meta.destroy(), true);
    assert.match(err.message, /kmem's own/);
  });
});

describe("kmem's own caches hand out no object", () => {
  for (const slab of SLABS) {
    it(`${slab}: alloc and allocNode of kmem_cache and kmem_meta-N are refused (BUSY)`, () => {
      const mm = make(slab);
      assert.notEqual(mm.createZsPool("zp"), null);
      assert.notEqual(mm.createZram({ disksize: 4 * mm.pageSize, name: "zr" }), null);
      mm.vfree(mm.vmalloc(3 * mm.pageSize));
      const own = ["kmem_cache", "kmem_meta-16", "kmem_meta-32", "kmem_meta-128"];
      let found = 0;
      for (const name of own) {
        const c = mm.findCache(name);
        if (c === null) continue;
        found++;
        for (const call of [() => c.alloc(), () => c.allocNode(0, -1)]) {
          const err = assertMisuse(mm, "BUSY", call, true);
          assert.match(err.message, /kmem's own metadata/);
        }
      }
      // SLOB keeps its descriptors and kmem's metadata in blocks of no cache to find.
      assert.equal(found, slab === "slob" ? 0 : own.length);
      // kmalloc's size classes serve, their objects freed by the cache or by kfree.
      const k64 = mm.findCache(slab === "slob" ? "none" : "kmalloc-64");
      if (k64 !== null) {
        k64.free(k64.alloc());
        mm.kfree(k64.alloc());
      }
      mm.verify();
    });
  }
});
