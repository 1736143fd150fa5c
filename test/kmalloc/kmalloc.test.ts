/* kmalloc and friends: size classes, alignment, zeroing, krealloc, ksize, large requests. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { __GFP_ZERO, GFP_ATOMIC, GFP_KERNEL, Kmem, ZERO_SIZE_PTR } from "../../src/index.js";
import { kmallocSizes, type SizeClasses } from "../../src/kmalloc/index.js";
import { assertMisuse, expectKmemError } from "../helpers.js";

function mm(pageSize = 4096, sizeClasses: SizeClasses = "fine", memory = 8 << 20) {
  return new Kmem({ memory, pageSize, minFreeBytes: 0, sizeClasses });
}

const SETS: readonly SizeClasses[] = ["fine", "linux"];

describe("kmalloc size classes", () => {
  it("linux: Linux's classes, scaled with the page size", () => {
    assert.deepEqual(
      kmallocSizes(4096, "linux"),
      [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192],
    );
    assert.deepEqual(
      kmallocSizes(1024, "linux"),
      [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048],
    );
    assert.equal(kmallocSizes(65536, "linux").at(-1), 131072);
  });

  it("fine (the default): 8..64 in steps of 8, then four classes per power of two", () => {
    assert.deepEqual(kmallocSizes(4096), kmallocSizes(4096, "fine"));
    assert.deepEqual(
      kmallocSizes(1024).slice(0, 19),
      [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448],
    );
    assert.equal(kmallocSizes(4096).length, 36);
  });

  it("every set: ascending multiples of 8 up to 2 pages, each power of two a class; fine: steps of 8 to 64, multiples of 16 from 64, steps of at most a quarter above 64", () => {
    for (const set of SETS) {
      for (const pageSize of [1024, 4096, 65536]) {
        const sizes = kmallocSizes(pageSize, set);
        assert.equal(sizes[0], 8);
        assert.equal(sizes.at(-1), 2 * pageSize);
        assert.ok(sizes.length < 256, "a class index fits a byte");
        for (const [i, s] of sizes.entries()) {
          assert.equal(s % 8, 0);
          if (i > 0) assert.ok(s > (sizes[i - 1] as number));
        }
        for (let p = 8; p <= 2 * pageSize; p *= 2) assert.ok(sizes.includes(p), `${set}: ${p}`);
        if (set === "fine") {
          assert.ok(sizes.every((s) => s <= 64 || s % 16 === 0));
          for (let i = 1; i < sizes.length; i++) {
            const [a, b] = [sizes[i - 1] as number, sizes[i] as number];
            assert.ok(b <= 64 || b - a <= a / 4, `${a} -> ${b}`);
          }
        }
      }
    }
  });

  it("the instance keeps its set: slabinfo names the classes, an attached context uses them", () => {
    for (const set of SETS) {
      const k = new Kmem({ memory: new SharedArrayBuffer(8 << 20), cpus: 2, sizeClasses: set });
      const names = k
        .report("slabinfo")
        .split("\n")
        .map((l) => l.split(" ")[0])
        .filter((n) => n?.startsWith("kmalloc-"));
      assert.equal(names.includes("kmalloc-48"), set === "fine");
      assert.equal(names.includes("kmalloc-24"), set === "fine");
      assert.equal(names.includes("kmalloc-96"), true);
      const other = Kmem.attach(k.buffer);
      const p = other.kmalloc(44);
      assert.equal(other.ksize(p), set === "fine" ? 48 : 64);
      k.kfree(p);
      k.offlineCpu(other.cpu);
      k.verify();
    }
  });

  it("fine: slabs sized for footprint (one object from half a page on, one empty slab kept); linux: Linux's orders and min_partial", () => {
    for (const set of SETS) {
      const k = mm(4096, set, 16 << 20);
      const info = (name: string) => {
        const x = k.stats().caches.find((y) => y.name === name);
        assert.ok(x !== undefined, name);
        return x;
      };
      // Linux's calculate_order: eight objects a slab where the orders allow.
      const want: Record<string, [number, number]> =
        set === "fine"
          ? {
              "kmalloc-2k": [2, 1],
              "kmalloc-2560": [1, 1],
              "kmalloc-3k": [1, 1],
              "kmalloc-3584": [1, 1],
              "kmalloc-4k": [1, 1],
              "kmalloc-5k": [1, 2],
              "kmalloc-6k": [1, 2],
              "kmalloc-7k": [1, 2],
              "kmalloc-8k": [1, 2],
              // Below half a page, Linux's rule: eight objects of kmalloc-1k in two pages.
              "kmalloc-1k": [8, 2],
            }
          : { "kmalloc-2k": [8, 4], "kmalloc-4k": [8, 8], "kmalloc-8k": [4, 8] };
      for (const [name, [objects, pages]] of Object.entries(want)) {
        assert.equal(info(name).objectsPerSlab, objects, `${set} ${name} objects a slab`);
        assert.equal(info(name).pagesPerSlab, pages, `${set} ${name} pages a slab`);
      }
      // kmalloc-256 (one page, 16 objects): 40 slabs filled, then every object freed. The
      // reserve's bound: min_partial (1 for footprint, 5 for Linux's 256-byte class) beside
      // the partial slabs, or a sixteenth of the slabs (2 of 40), whichever is larger.
      const objs: number[] = [];
      for (let i = 0; i < 40 * 16; i++) objs.push(k.kmalloc(256));
      for (const a of objs) k.kfree(a);
      const kept = info("kmalloc-256").emptySlabs as number;
      assert.equal(kept, set === "fine" ? 2 : 5, `${set}: empty slabs kept`);
      k.verify();
      // Both sets serve every size from a slab or the heap as before: contents intact.
      const blocks = [2048, 4096, 8192, 3000, 6000].map((n) => {
        const a = k.kmalloc(n);
        k.view(a, n).fill(n & 0xff);
        return [a, n] as const;
      });
      for (const [a, n] of blocks) {
        assert.ok(k.read(a, n).every((b) => b === (n & 0xff)));
        k.kfree(a);
      }
      k.verify();
    }
  });

  it("refuses an unknown set", () => {
    assert.throws(
      () => new Kmem({ memory: 8 << 20, sizeClasses: "bonwick" as SizeClasses }),
      /sizeClasses must be "fine" or "linux"/,
    );
  });
});

describe("kmalloc", () => {
  it("fine: rounds every size to its class (ksize) up to 1 KiB, the heap's blocks to 16 bytes above, powers of two to their class, large ones to whole pages", () => {
    const k = mm();
    const expect: Array<[number, number]> = [
      [1, 8],
      [9, 16],
      [17, 24],
      [24, 24],
      [25, 32],
      [33, 40],
      [41, 48],
      [49, 56],
      [57, 64],
      [65, 80],
      [97, 112],
      [129, 160],
      [193, 224],
      [257, 320],
      [1024, 1024],
      [1025, 1040],
      [2048, 2048],
      [4097, 4112],
      [7169, 7184],
      [8192, 8192],
      [8193, 8208],
      [12289, 12304],
      [16368, 16368],
      [16369, 16384],
      [16385, 20480],
      [100000, 102400],
    ];
    for (const [size, usable] of expect) {
      const p = k.kmalloc(size);
      assert.notEqual(p, 0);
      assert.equal(k.ksize(p), usable, `kmalloc(${size})`);
      k.kfree(p);
    }
    k.verify();
  });

  it("linux: rounds every size to its class (ksize), larger ones to whole pages", () => {
    const k = mm(4096, "linux");
    const expect: Array<[number, number]> = [
      [1, 8],
      [8, 8],
      [9, 16],
      [17, 32],
      [33, 64],
      [64, 64],
      [65, 96],
      [96, 96],
      [97, 128],
      [129, 192],
      [192, 192],
      [193, 256],
      [257, 512],
      [513, 1024],
      [2049, 4096],
      [4097, 8192],
      [8192, 8192],
      [8193, 12288],
      [12288, 12288],
      [16385, 20480],
    ];
    for (const [size, usable] of expect) {
      const p = k.kmalloc(size);
      assert.notEqual(p, 0);
      assert.equal(k.ksize(p), usable, `kmalloc(${size})`);
      k.kfree(p);
    }
    k.verify();
  });

  it("aligns power-of-two sizes naturally, the others to 8 bytes (fine: 16 from 64 bytes on)", () => {
    for (const set of SETS) {
      const k = mm(4096, set);
      for (const size of [24, 40, 80, 100, 1280, 5000]) {
        for (let i = 0; i < 3; i++) {
          const p = k.kmalloc(size);
          assert.equal(p % (set === "fine" && size > 64 ? 16 : 8), 0, `kmalloc(${size}) at ${p}`);
        }
      }
    }
    // The fine 24-byte class: objects every 24 bytes, 8-byte aligned and no more.
    const f = mm();
    const a = f.kmalloc(20);
    const b = f.kmalloc(20);
    assert.equal(Math.abs(b - a), 24);
    assert.deepEqual([a % 8, b % 8, (a % 16) + (b % 16)], [0, 0, 8]);
    const k = mm();
    for (const size of [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]) {
      for (let i = 0; i < 5; i++) {
        const p = k.kmalloc(size);
        assert.equal(p % Math.min(size, 1 << 20), 0, `kmalloc(${size}) at ${p}`);
      }
    }
  });

  it("kmalloc(0) is ZERO_SIZE_PTR, not NULL", () => {
    const k = mm();
    assert.equal(k.kmalloc(0), ZERO_SIZE_PTR);
    assert.equal(ZERO_SIZE_PTR, 16);
    k.kfree(ZERO_SIZE_PTR);
  });

  it("kzalloc and kcalloc zero, even reused memory", () => {
    const k = mm();
    const p = k.kmalloc(300);
    k.memory.fill(0xff, p, p + 512);
    k.kfree(p);
    const z = k.kzalloc(300);
    assert.equal(z, p);
    assert.ok(k.memory.subarray(z, z + 300).every((x) => x === 0));
    k.memory.fill(0xff, p, p + 512);
    k.kfree(z);
    const c = k.kcalloc(10, 30);
    assert.equal(c, p);
    assert.ok(k.memory.subarray(c, c + 300).every((x) => x === 0));
    assert.equal(k.kmalloc(300, GFP_KERNEL | __GFP_ZERO) !== 0, true);
  });

  it("krealloc: in place while the class holds it, else moved with its contents", () => {
    const k = mm(4096, "linux");
    const p = k.kmalloc(50);
    for (let i = 0; i < 50; i++) k.memory[p + i] = i;
    assert.equal(k.krealloc(p, 60), p, "64-byte class holds 60");
    assert.equal(k.krealloc(p, 10), p, "shrinking stays in place");
    const q = k.krealloc(p, 1000);
    assert.notEqual(q, p);
    for (let i = 0; i < 50; i++) assert.equal(k.memory[q + i], i);
    assert.throws(() => k.kfree(p), /already free/);
    const r = k.krealloc(q, 100000);
    for (let i = 0; i < 50; i++) assert.equal(k.memory[r + i], i);
    assert.equal(k.krealloc(r, 0), ZERO_SIZE_PTR, "krealloc to 0 frees");
    assert.throws(() => k.kfree(r), /already free/);
    const s = k.krealloc(0, 40);
    assert.equal(k.ksize(s), 64);
    k.kfree(s);
    k.verify();
  });

  it("krealloc of slab objects, every set, SLAB and slub_debug too: in place within ksize (bytes beyond untouched without __GFP_ZERO), moved across classes with the contents, the old object freed; bad addresses refused, nothing changed", () => {
    const configs: [string, () => Kmem][] = [
      ["fine", () => mm(4096, "fine")],
      ["linux", () => mm(4096, "linux")],
      ["fine, SLAB", () => new Kmem({ memory: 8 << 20, minFreeBytes: 0, slab: "slab" })],
      [
        "fine, slub_debug FZPU",
        () => new Kmem({ memory: 8 << 20, minFreeBytes: 0, debug: "FZPU" }),
      ],
    ];
    for (const [name, make] of configs) {
      const k = make();
      // With red zones the bytes past the request are the kmalloc red zone: only the
      // request is written, and only it is looked at.
      const debug = name.includes("debug");
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.integer({ min: 1, max: 1024 }), fc.integer({ min: 1, max: 1024 })), {
            minLength: 1,
            maxLength: 30,
          }),
          (pairs) => {
            const live: [number, number, number][] = [];
            for (const [from, to] of pairs) {
              const p = k.kmalloc(from);
              const tag = (from * 7 + to) & 0xff;
              const ks = k.ksize(p);
              const filled = debug ? from : ks;
              k.memory.fill(tag, p, p + filled);
              const q = k.krealloc(p, to);
              const kept = Math.min(filled, to);
              if (to <= ks) {
                assert.equal(q, p, `${name}: ${from} -> ${to} in place`);
                assert.ok(
                  k.memory.subarray(p, p + (debug ? kept : ks)).every((b) => b === tag),
                  "untouched",
                );
              } else {
                assert.notEqual(q, p);
                assert.ok(
                  k.memory.subarray(q, q + filled).every((b) => b === tag),
                  "copied",
                );
                expectKmemError("DOUBLE_FREE", () => k.kfree(p));
              }
              assert.ok(k.ksize(q) >= to);
              live.push([q, kept, tag]);
            }
            // Inside an object (never 8-byte aligned), and a freed one: refused, nothing changed.
            const [a] = live[0] as [number, number, number];
            assertMisuse(k, "INVALID_FREE", () => k.krealloc(a + 4, 2000), true);
            for (const [q, n, tag] of live) {
              assert.ok(
                k.memory.subarray(q, q + n).every((b) => b === tag),
                "intact",
              );
              k.kfree(q);
            }
            assertMisuse(k, "DOUBLE_FREE", () => k.krealloc(a, 2000), true);
          },
        ),
        { numRuns: 30 },
      );
    }
  });

  it("krealloc that cannot grow returns 0 and leaves the old allocation intact", () => {
    const k = mm(4096, "linux");
    const p = k.kmalloc(100);
    k.memory.fill(0x77, p, p + 100);
    k.setFault("failslab", { probability: 100, times: -1 });
    assert.equal(k.krealloc(p, 1000, GFP_ATOMIC), 0);
    assert.ok(k.memory.subarray(p, p + 100).every((x) => x === 0x77));
    assert.equal(k.ksize(p), 128);
    k.kfree(p);
    k.verify();
  });

  it("krealloc with __GFP_ZERO in place zeroes the tail past the new size", () => {
    const k = mm(4096, "linux");
    const p = k.kmalloc(100);
    k.memory.fill(0x33, p, p + 128);
    assert.equal(k.krealloc(p, 40, GFP_KERNEL | __GFP_ZERO), p);
    assert.ok(k.memory.subarray(p + 40, p + 128).every((x) => x === 0));
    assert.ok(k.memory.subarray(p, p + 40).every((x) => x === 0x33));
  });

  it("large requests are whole pages from the page allocator, the block's tail given back, freed with kfree", () => {
    const k = mm();
    const before = k.stats().freePages;
    const p = k.kmalloc(100000);
    assert.equal(p % 4096, 0);
    assert.equal(k.ksize(p), 102400, "25 pages, not 32");
    assert.equal(k.stats().freePages, before - 25);
    assert.equal(k.stats().events.kmalloc_large, 1);
    k.memory.fill(0x5a, p, p + 100000);
    k.verify();
    assert.throws(() => k.freePages(p, 4), /belongs to kmalloc/);
    assert.throws(() => k.freePages(p + 16 * 4096, 3), /belongs to kmalloc/);
    assert.throws(() => k.kfree(p + 16 * 4096), /inside the large allocation/);
    assert.throws(() => k.kfree(p + 4096), /not an address kmalloc returned/);
    assert.throws(() => k.ksize(p + 24 * 4096), /inside the large allocation/);
    assert.ok(k.memory.subarray(p, p + 100000).every((x) => x === 0x5a));
    k.kfree(p);
    assert.throws(() => k.kfree(p), /already free|not an address/);
    // Kept whole in the large-run cache (large-cache.ts) until shrunk.
    assert.equal(k.stats().kmallocCachedPages, 25);
    k.shrinkSlabs();
    assert.equal(k.stats().kmallocCachedPages, 0);
    k.drainPages();
    assert.equal(k.stats().freePages, before);
    assert.equal(k.kmalloc(64 << 20), 0, "beyond the largest order: 0");
    k.verify();
  });

  it("with more orders, a request above 4 MiB is served and takes only its pages", () => {
    const k = new Kmem({ memory: 32 << 20, maxOrder: 14, minFreeBytes: 0 });
    const before = k.stats().freePages;
    const p = k.kmalloc(10_000_074);
    assert.notEqual(p, 0);
    assert.equal(k.ksize(p), 2442 * 4096);
    assert.equal(k.stats().freePages, before - 2442);
    k.memory.fill(1, p, p + 10_000_074);
    k.verify();
    k.kfree(p);
    k.drainPages();
    assert.equal(k.stats().freePages, before);
    k.verify();
  });

  for (const set of SETS) {
    it(`${set}: random kmalloc, krealloc and kfree keep every block's contents, ksize >= request, verify() clean`, () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.tuple(
              fc.integer({ min: 0, max: 9 }),
              fc.oneof(
                fc.integer({ min: 1, max: 256 }),
                fc.integer({ min: 1, max: 9000 }),
                fc.integer({ min: 1, max: 70000 }),
              ),
            ),
            { maxLength: 120 },
          ),
          (ops) => {
            const k = mm(4096, set, 16 << 20);
            const live: Array<{ p: number; n: number; tag: number }> = [];
            let tag = 1;
            const check = (b: { p: number; n: number; tag: number }): void => {
              assert.ok(k.ksize(b.p) >= b.n);
              for (let i = 0; i < b.n; i += 97) assert.equal(k.memory[b.p + i], (b.tag + i) & 255);
            };
            const fill = (b: { p: number; n: number; tag: number }): void => {
              for (let i = 0; i < b.n; i += 97) k.memory[b.p + i] = (b.tag + i) & 255;
            };
            for (const [op, size] of ops) {
              if (op < 5 || live.length === 0) {
                const p = k.kmalloc(size);
                assert.notEqual(p, 0);
                const b = { p, n: size, tag: tag++ };
                fill(b);
                live.push(b);
              } else {
                const j = (size * 7) % live.length;
                const b = live[j] as { p: number; n: number; tag: number };
                check(b);
                if (op < 8) {
                  k.kfree(b.p);
                  live.splice(j, 1);
                } else {
                  const q = k.krealloc(b.p, size);
                  assert.notEqual(q, 0);
                  const n = Math.min(b.n, size);
                  const moved = { p: q, n, tag: b.tag };
                  check(moved);
                  live[j] = { p: q, n: size, tag: tag++ };
                  fill(live[j] as { p: number; n: number; tag: number });
                }
              }
            }
            for (const b of live) check(b);
            k.verify();
            for (const b of live) k.kfree(b.p);
            k.verify();
          },
        ),
        { numRuns: 40 },
      );
    });
  }

  it("works with 1 KiB and 64 KiB pages", () => {
    for (const pageSize of [1024, 65536]) {
      const k = mm(pageSize);
      const small = k.kmalloc(100);
      const big = k.kmalloc(pageSize * 2);
      const bigger = k.kmalloc(pageSize * 2 + 1);
      assert.ok(small !== 0 && big !== 0 && bigger !== 0);
      assert.equal(k.ksize(big), pageSize * 2);
      k.kfree(small);
      k.kfree(big);
      k.kfree(bigger);
      k.verify();
    }
  });
});
