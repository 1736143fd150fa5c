/*
 * Model-based property test: random vmalloc, vzalloc, vfree, kvmalloc, kvfree, vmap and
 * vunmap mixed with page and kmalloc traffic, against a reference map of live allocations
 * and their contents. After every step: areas lie in the vmalloc space, never overlap each
 * other or a guard page, each page maps a distinct frame no one else holds, the bytes
 * written (through write, the typed accessors and raw physical memory) read back intact,
 * guard pages fault, the counters agree with the model; verify() after every batch.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GFP_ATOMIC, GFP_KERNEL, Kmem, KmemError } from "../../src/index.js";

type Op =
  | { kind: "vmalloc"; pages: number; extra: number; zero: boolean }
  | { kind: "kvmalloc"; size: number }
  | { kind: "vmap"; pages: number }
  | { kind: "free"; pick: number }
  | { kind: "pages"; order: number }
  | { kind: "kmalloc"; size: number }
  | { kind: "poke"; pick: number; at: number; value: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("vmalloc" as const),
      pages: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 5, max: 80 })),
      extra: fc.integer({ min: 0, max: 4095 }),
      zero: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("kvmalloc" as const),
      size: fc.integer({ min: 1, max: 70000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("vmap" as const),
      pages: fc.integer({ min: 1, max: 6 }),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("pages" as const), order: fc.nat(4) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("kmalloc" as const),
      size: fc.integer({ min: 1, max: 9000 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("poke" as const),
      pick: fc.nat(),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 0xffffffff }),
    }),
  },
);

interface Live {
  how: "vmalloc" | "kvmalloc" | "vmap" | "pages" | "kmalloc";
  addr: number;
  /** Bytes the model tracks. */
  size: number;
  /** Expected contents. */
  bytes: Uint8Array;
  order?: number;
  /** vmap: the pages mapped (held as order-0 allocPages). */
  pages?: number[];
}

/** `split`: two NUMA nodes of memory / 2, each a buffer of its own, pages interleaved. */
function run(ops: Op[], memory: number, pageSize: number, split = false, kasan = false): void {
  const mm = split
    ? new Kmem({ nodes: [memory / 2, memory / 2], pageSize, minFreeBytes: 0 })
    : new Kmem({ memory, pageSize, minFreeBytes: 0, kasan });
  if (split) mm.setPolicy({ mode: "interleave", nodes: [0, 1] });
  const P = mm.pageSize;
  const live: Live[] = [];
  let seed = 1;
  const fill = (n: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    return b;
  };
  const vmallocPages = () =>
    live
      .filter((l) => l.how === "vmalloc" || (l.how === "kvmalloc" && mm.isVmallocAddr(l.addr)))
      .reduce((n, l) => n + Math.ceil(l.size / P), 0);

  const check = () => {
    // Virtual areas: inside the space, apart by at least their guard page.
    const areas = live
      .filter((l) => mm.isVmallocAddr(l.addr))
      .map((l) => ({ start: l.addr, end: l.addr + Math.ceil(l.size / P) * P }))
      .sort((a, b) => a.start - b.start);
    for (let i = 0; i < areas.length; i++) {
      const a = areas[i] as { start: number; end: number };
      assert.ok(a.start % P === 0 && a.end + P <= mm.vmallocEnd);
      const next = areas[i + 1];
      if (next !== undefined) assert.ok(a.end + P <= next.start, "areas and guard pages overlap");
      assert.throws(() => mm.getUint8(a.end), KmemError, "guard page mapped");
    }
    // Frames: vmalloc'd pages distinct, and not inside any physical allocation.
    const frames = new Set<number>();
    for (const l of live) {
      if (!mm.isVmallocAddr(l.addr) || l.how === "vmap") continue;
      for (let off = 0; off < l.size; off += P) {
        const f = mm.virtToPhys(l.addr + off);
        assert.ok(!frames.has(f), "a frame mapped twice");
        frames.add(f);
      }
    }
    for (const l of live) {
      if (mm.isVmallocAddr(l.addr)) continue;
      for (const f of frames)
        assert.ok(
          f + P <= l.addr || f >= l.addr + l.size,
          "a vmalloc page inside a physical allocation",
        );
    }
    for (const l of live) assert.deepEqual(mm.read(l.addr, l.size), l.bytes, `${l.how} contents`);
    assert.equal(mm.stats().vmallocPages, vmallocPages());
  };

  const place = (l: Live, zeroed: boolean) => {
    if (zeroed)
      assert.ok(
        mm.read(l.addr, l.size).every((b) => b === 0),
        "zeroed",
      );
    mm.write(l.addr, l.bytes);
    live.push(l);
  };

  ops.forEach((op, step) => {
    switch (op.kind) {
      case "vmalloc": {
        const size = (op.pages - 1) * P + op.extra + 1;
        const addr = op.zero ? mm.vzalloc(size) : mm.vmalloc(size, GFP_KERNEL);
        if (addr === 0) break;
        place({ how: "vmalloc", addr, size, bytes: fill(size) }, op.zero);
        break;
      }
      case "kvmalloc": {
        const addr = mm.kvmalloc(op.size);
        if (addr === 0) break;
        place({ how: "kvmalloc", addr, size: op.size, bytes: fill(op.size) }, false);
        break;
      }
      case "vmap": {
        const pages: number[] = [];
        for (let i = 0; i < op.pages; i++) {
          const p = mm.allocPages(0, GFP_ATOMIC);
          if (p !== 0) pages.push(p);
        }
        const addr = pages.length > 0 ? mm.vmap(pages.slice().reverse()) : 0;
        if (addr === 0) {
          for (const p of pages) mm.freePages(p, 0);
          break;
        }
        place(
          { how: "vmap", addr, size: pages.length * P, bytes: fill(pages.length * P), pages },
          false,
        );
        break;
      }
      case "pages": {
        const addr = mm.allocPages(op.order, GFP_ATOMIC);
        if (addr === 0) break;
        const size = P << op.order;
        place({ how: "pages", addr, size, bytes: fill(size), order: op.order }, false);
        break;
      }
      case "kmalloc": {
        const addr = mm.kmalloc(op.size);
        if (addr === 0) break;
        place({ how: "kmalloc", addr, size: op.size, bytes: fill(op.size) }, false);
        break;
      }
      case "poke": {
        if (live.length === 0) break;
        const l = live[op.pick % live.length] as Live;
        if (l.size < 4) break;
        const at = op.at % (l.size - 3); // may straddle a page end
        mm.setUint32(l.addr + at, op.value);
        new DataView(l.bytes.buffer).setUint32(at, op.value, true);
        assert.equal(mm.getUint32(l.addr + at), op.value);
        break;
      }
      case "free": {
        if (live.length === 0) break;
        const [l] = live.splice(op.pick % live.length, 1) as [Live];
        assert.deepEqual(mm.read(l.addr, l.size), l.bytes);
        if (l.how === "vmalloc") mm.vfree(l.addr);
        else if (l.how === "kvmalloc") mm.kvfree(l.addr);
        else if (l.how === "kmalloc") mm.kfree(l.addr);
        else if (l.how === "pages") mm.freePages(l.addr, l.order as number);
        else {
          mm.vunmap(l.addr);
          // The pages kept what was written through the mapping.
          (l.pages as number[]).reverse().forEach((p, i) => {
            assert.deepEqual(mm.view(p, P), l.bytes.subarray(i * P, (i + 1) * P));
            mm.freePages(p, 0);
          });
        }
        if (mm.isVmallocAddr(l.addr))
          assert.throws(() => mm.getUint8(l.addr), KmemError, "use after free");
        break;
      }
    }
    check();
    if (step % 8 === 7) mm.verify();
  });
  mm.verify();
  // Everything back: only the set-up (the pgd) remains.
  for (const l of live.splice(0)) {
    if (l.how === "vmalloc") mm.vfree(l.addr);
    else if (l.how === "kvmalloc") mm.kvfree(l.addr);
    else if (l.how === "kmalloc") mm.kfree(l.addr);
    else if (l.how === "pages") mm.freePages(l.addr, l.order as number);
    else {
      mm.vunmap(l.addr);
      for (const p of l.pages as number[]) mm.freePages(p, 0);
    }
  }
  const s = mm.stats();
  assert.equal(s.vmallocPages, 0);
  assert.ok(s.pageTablePages <= 1);
  assert.equal(mm.report("vmallocinfo"), "");
  mm.verify();
}

describe("virtual memory model", () => {
  it("keeps every invariant under random vmalloc, vmap and kvmalloc with page and kmalloc traffic", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 120, size: "max" }), (ops) =>
        run(ops, 2 << 20, 4096),
      ),
      { numRuns: 20, seed: 4 },
    );
  });

  it("and under KASAN, which reports nothing on correct traffic", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 120, size: "max" }), (ops) =>
        run(ops, 2 << 20, 4096, false, true),
      ),
      { numRuns: 20 },
    );
  });

  it("and over two nodes that are buffers of their own", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 120, size: "max" }), (ops) =>
        run(ops, 2 << 20, 4096, true),
      ),
      { numRuns: 12, seed: 6 },
    );
  });

  it("and with 1 KiB pages, where the tables take three levels", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 80, size: "max" }), (ops) =>
        run(ops, 40 << 20, 1024),
      ),
      { numRuns: 6, seed: 5 },
    );
  });
});
