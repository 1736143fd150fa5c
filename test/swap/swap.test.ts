/*
 * Swap: swappable vmalloc memory against a reference model (writes, reads, reclaim into
 * zswap and onto a zram swap area, compaction, swap-in, vfree), memory pressure that swaps
 * before an allocation fails (and GFP_ATOMIC that does not), zswap's limit and hysteresis,
 * fault injection on every allocation of the swap stack, the OOM killer, a worker that
 * swaps in what another context swapped out, verify() catching each invariant, misuse.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  __GFP_NORETRY,
  __GFP_ZERO,
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOWAIT,
  Kmem,
  KmemError,
} from "../../src/index.js";
import { Hdr } from "../../src/memory/index.js";
import { Sw } from "../../src/swap/layout.js";
import { VmDesc } from "../../src/vm/layout.js";
import { expectArgumentError, expectKmemError, runWorker } from "../helpers.js";

const MiB = 1 << 20;
const P = 4096;

/** A compressible page of text naming (tag, page), or a zero page for tag 0. */
function pageOf(tag: number, page: number): Uint8Array {
  const out = new Uint8Array(P);
  if (tag === 0) return out;
  const text = new TextEncoder().encode(
    `{"tag":${tag},"page":${page},"items":[${"1,2,3,".repeat(P / 6)}`,
  );
  out.set(text.subarray(0, P));
  for (let k = 0; k < 32; k++) out[P - 32 + k] = (tag * 31 + page * 7 + k * 13) & 255;
  return out;
}

/** An incompressible page. */
function randomPage(seed: number): Uint8Array {
  const out = new Uint8Array(P);
  let x = seed | 1;
  for (let i = 0; i < P; i++) out[i] = (x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 1) >>> 24;
  return out;
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

function vmstat(mm: Kmem): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of mm.report("vmstat").trim().split("\n")) {
    const [k, v] = line.split(" ");
    out[k!] = Number(v);
  }
  return out;
}

type Setup = "zswap" | "zram" | "both";

function instance(setup: Setup, memory = 2 * MiB): Kmem {
  const mm = new Kmem({ memory });
  if (setup !== "zram") mm.setZswap({ enabled: true });
  if (setup === "zswap") assert.equal(mm.swapon({ pages: 2048 }), 0);
  else {
    const z = mm.createZram({ disksize: 8 * MiB });
    assert.ok(z !== null);
    assert.equal(mm.swapon(z), 0);
  }
  return mm;
}

describe("swappable virtual memory", () => {
  it("a working set twice the memory is swapped out under pressure and comes back intact", () => {
    for (const setup of ["zswap", "zram", "both"] as const) {
      const mm = instance(setup);
      const areas: number[] = [];
      const pagesPer = 32;
      // 1.5 times the memory: the vmalloc space holds two pages per physical page.
      for (let k = 0; k < 24; k++) {
        const a = mm.vmallocSwappable(pagesPer * P);
        assert.notEqual(a, 0, `${setup}: area ${k} (swap should make room)`);
        for (let i = 0; i < pagesPer; i++) mm.write(a + i * P, pageOf(k + 1, i));
        areas.push(a);
      }
      const s = vmstat(mm);
      const out = setup === "zram" ? s.pswpout! : s.zswpout! + s.pswpout!;
      assert.ok(out > 0, `${setup}: pages were swapped out`);
      assert.ok(s.pgscan_kswapd! + s.pgscan_direct! >= out);
      mm.verify();
      for (let k = 0; k < areas.length; k++) {
        for (let i = 0; i < pagesPer; i++) {
          assert.ok(eq(mm.read(areas[k]! + i * P, P), pageOf(k + 1, i)), `${setup}: ${k}:${i}`);
        }
      }
      const after = vmstat(mm);
      assert.ok(after.pgmajfault! > 0 && after.pswpin! + after.zswpin! === after.pgmajfault);
      mm.verify();
      for (const a of areas) mm.vfree(a);
      mm.verify();
      const [active, inactive] = [mm.report("meminfo"), ""];
      assert.match(active + inactive, /Active: +0 kB\nInactive: +0 kB/);
      assert.deepEqual(
        mm.swapAreas().map((a) => a.used),
        [0],
      );
      assert.equal(mm.zswapStats().storedPages, 0);
    }
  });

  it("with several cpus, reclaim from inside vmalloc works under the context's own lock", () => {
    const mm = new Kmem({ memory: new SharedArrayBuffer(2 * MiB), cpus: 2 });
    mm.setZswap({ enabled: true });
    mm.swapon({ pages: 2048 });
    const areas: number[] = [];
    for (let k = 0; k < 20; k++) {
      const a = mm.vmallocSwappable(32 * P);
      assert.notEqual(a, 0, `area ${k}`);
      for (let i = 0; i < 32; i++) mm.write(a + i * P, pageOf(k + 1, i));
      areas.push(a);
    }
    assert.ok(vmstat(mm).zswpout! > 0);
    mm.verify();
    for (let k = 0; k < areas.length; k++) {
      for (let i = 0; i < 32; i++) assert.ok(eq(mm.read(areas[k]! + i * P, P), pageOf(k + 1, i)));
    }
    mm.verify();
  });

  it("the swap stack's own allocations failing: the call fails, nothing changes", () => {
    const mm = new Kmem({ memory: 2 * MiB });
    const always = { probability: 100, interval: 1, times: -1, ignoreGfpWait: false } as const;
    mm.setFault("failslab", always);
    assert.equal(mm.vmallocSwappable(4 * P), 0, "no swap descriptor");
    mm.setFault("failslab", null);
    mm.verify();
    mm.setZswap({ enabled: true }); // the descriptor, now
    mm.setFault("failslab", always);
    assert.equal(mm.swapon({ pages: 4096 }), -1, "no slot table (its area's record)");
    mm.setFault("failslab", null);
    assert.deepEqual(mm.swapAreas(), []);
    mm.verify();
    assert.equal(mm.swapon({ pages: 64 }), 0);
    mm.verify();
  });

  it("plain vmalloc, kmalloc and pages are never swapped; GFP_ATOMIC does not reclaim", () => {
    const mm = instance("zswap");
    const plain = mm.vmalloc(64 * P);
    mm.write(plain, pageOf(9, 0));
    const swappable = mm.vmallocSwappable(64 * P);
    for (let i = 0; i < 64; i++) mm.write(swappable + i * P, pageOf(1, i));
    const before = vmstat(mm);
    // Atomic requests until they fail: no direct reclaim runs for them.
    const taken: number[] = [];
    for (;;) {
      const a = mm.allocPages(0, GFP_ATOMIC);
      if (a === 0) break;
      taken.push(a);
    }
    const mid = vmstat(mm);
    assert.equal(mid.pgscan_direct, before.pgscan_direct);
    assert.equal(mid.allocstall_normal, before.allocstall_normal);
    // A sleeping request reclaims: the swappable pages go, the plain ones stay.
    const more = mm.allocPages(0, GFP_KERNEL);
    assert.notEqual(more, 0);
    assert.ok(vmstat(mm).zswpout! > 0);
    mm.verify();
    for (const a of taken) mm.freePages(a, 0);
    mm.freePages(more, 0);
    assert.ok(eq(mm.read(plain, P), pageOf(9, 0)));
    for (let i = 0; i < 64; i++) assert.ok(eq(mm.read(swappable + i * P, P), pageOf(1, i)));
    mm.verify();
  });

  it("the accessed bit gives a second chance: pages touched between scans stay", () => {
    const mm = instance("zswap", 4 * MiB);
    const a = mm.vmallocSwappable(64 * P);
    for (let i = 0; i < 64; i++) mm.write(a + i * P, pageOf(2, i));
    // Every page was just written: the first scans tell nothing apart. Then the first half
    // is touched between every two scans, the second half never.
    mm.reclaim(8);
    for (let i = 0; i < 32; i++) mm.getUint8(a + i * P);
    const base = vmstat(mm);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 32; i++) mm.getUint8(a + i * P);
      mm.reclaim(8);
    }
    const s = vmstat(mm);
    assert.ok(s.zswpout! - base.zswpout! >= 16, `${s.zswpout! - base.zswpout!} swapped out`);
    assert.ok(s.pgactivate! > 0);
    for (let i = 0; i < 32; i++) mm.getUint8(a + i * P);
    assert.equal(vmstat(mm).pgmajfault, base.pgmajfault, "no hot page was swapped out");
    mm.verify();
    for (let i = 0; i < 64; i++) assert.ok(eq(mm.read(a + i * P, P), pageOf(2, i)));
    assert.equal(vmstat(mm).pgmajfault, s.zswpout);
    mm.verify();
  });

  it("model: random writes, reads, reclaim, compaction and frees against a reference", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Setup>("zswap", "zram", "both"),
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant("write" as const),
              area: fc.nat(3),
              page: fc.nat(15),
              tag: fc.nat(4),
            }),
            fc.record({
              op: fc.constant("rand" as const),
              area: fc.nat(3),
              page: fc.nat(15),
              tag: fc.nat(1000),
            }),
            fc.record({ op: fc.constant("read" as const), area: fc.nat(3), page: fc.nat(15) }),
            fc.record({
              op: fc.constant("byte" as const),
              area: fc.nat(3),
              page: fc.nat(15),
              at: fc.nat(P - 4),
            }),
            fc.record({ op: fc.constant("reclaim" as const), n: fc.integer({ min: 1, max: 64 }) }),
            fc.record({ op: fc.constant("compact" as const) }),
            fc.record({ op: fc.constant("refree" as const), area: fc.nat(3) }),
          ),
          { maxLength: 60 },
        ),
        (setup, ops) => {
          const mm = instance(setup, 1 * MiB);
          const areas: number[] = [];
          const model: Uint8Array[][] = [];
          for (let k = 0; k < 4; k++) {
            areas.push(mm.vmallocSwappable(16 * P, GFP_KERNEL | __GFP_ZERO));
            assert.notEqual(areas[k], 0);
            model.push(Array.from({ length: 16 }, () => new Uint8Array(P)));
          }
          for (const o of ops) {
            switch (o.op) {
              case "write":
              case "rand": {
                const page = o.op === "write" ? pageOf(o.tag, o.page) : randomPage(o.tag);
                mm.write(areas[o.area]! + o.page * P, page);
                model[o.area]![o.page] = page;
                break;
              }
              case "read":
                assert.ok(eq(mm.read(areas[o.area]! + o.page * P, P), model[o.area]![o.page]!));
                break;
              case "byte": {
                const v = mm.getUint32(areas[o.area]! + o.page * P + o.at);
                const m = model[o.area]![o.page]!;
                assert.equal(v, new DataView(m.buffer).getUint32(o.at, true));
                break;
              }
              case "reclaim":
                mm.reclaim(o.n);
                break;
              case "compact":
                mm.findZsPool("zswap")?.compact();
                mm.findZram("zram0")?.compact();
                break;
              case "refree":
                mm.vfree(areas[o.area]!);
                areas[o.area] = mm.vmallocSwappable(16 * P, GFP_KERNEL | __GFP_ZERO);
                assert.notEqual(areas[o.area], 0);
                model[o.area] = Array.from({ length: 16 }, () => new Uint8Array(P));
                break;
            }
          }
          mm.verify();
          for (let k = 0; k < 4; k++) {
            for (let i = 0; i < 16; i++) {
              assert.ok(eq(mm.read(areas[k]! + i * P, P), model[k]![i]!), `${k}:${i}`);
            }
          }
          mm.verify();
        },
      ),
      { numRuns: 30 },
    );
  });

  it("fault injection on every allocation of the swap stack: nothing lost, nothing leaked", () => {
    for (const setup of ["zswap", "zram", "both"] as const) {
      for (let seed = 1; seed <= 6; seed++) {
        const mm = instance(setup, 1 * MiB);
        const areas: number[] = [];
        for (let k = 0; k < 4; k++) {
          areas.push(mm.vmallocSwappable(16 * P));
          for (let i = 0; i < 16; i++) mm.write(areas[k]! + i * P, pageOf(k + 1, i));
        }
        const opts = { probability: 30, interval: 1, times: -1, ignoreGfpWait: false } as const;
        mm.setFault("fail_page_alloc", { ...opts, probability: 10 + seed * 10 });
        mm.setFault("failslab", { ...opts, probability: 5 + seed * 10 });
        let faults = 0;
        for (let round = 0; round < 4; round++) {
          mm.reclaim(32);
          for (let k = 0; k < 4; k++) {
            for (let i = (round + k) % 3; i < 16; i += 3) {
              try {
                assert.ok(eq(mm.read(areas[k]! + i * P, P), pageOf(k + 1, i)));
              } catch (err) {
                // No page for the swap-in: the page stays swapped out, intact.
                assert.ok(err instanceof KmemError && err.code === "FAULT", String(err));
                faults++;
              }
            }
          }
        }
        mm.verify();
        mm.setFault("fail_page_alloc", null);
        mm.setFault("failslab", null);
        for (let k = 0; k < 4; k++) {
          for (let i = 0; i < 16; i++) {
            assert.ok(eq(mm.read(areas[k]! + i * P, P), pageOf(k + 1, i)), `${setup} ${seed}`);
          }
        }
        mm.verify();
        for (const a of areas) mm.vfree(a);
        mm.verify();
        assert.equal(mm.swapAreas()[0]!.used, 0);
        assert.equal(mm.zswapStats().storedPages, 0);
        assert.equal(mm.zswapStats().compressedBytes, 0);
        void faults;
      }
    }
  });

  it("zswap refuses at max_pool_percent until the pool is below accept_threshold_percent", () => {
    const mm = new Kmem({ memory: 2 * MiB });
    mm.setZswap({ enabled: true, maxPoolPercent: 2, acceptThresholdPercent: 50 });
    mm.swapon({ pages: 1024 });
    const a = mm.vmallocSwappable(128 * P);
    for (let i = 0; i < 128; i++) mm.write(a + i * P, randomPage(i + 1).fill(7, 0, 2048));
    mm.reclaim(128);
    mm.reclaim(128);
    const s = mm.zswapStats();
    assert.ok(s.poolLimitHit > 0, "the pool reached its limit");
    const limit = Math.floor((mm.managedPages * 2) / 100);
    // Checked before each store, as Linux: the last store may add a zspage past the limit.
    assert.ok(s.poolPages <= limit + 8, `${s.poolPages} pages, limit ${limit}`);
    // Still full: nothing more is stored until pages come back.
    const stored = s.storedPages;
    mm.reclaim(16);
    assert.equal(mm.zswapStats().storedPages, stored);
    for (let i = 0; i < 128; i++) mm.getUint8(a + i * P);
    mm.findZsPool("zswap")?.compact();
    assert.ok(mm.zswapStats().poolPages * 100 <= limit * 50);
    mm.reclaim(128);
    mm.reclaim(128);
    assert.ok(mm.zswapStats().storedPages > 0, "accepts again below the threshold");
    mm.verify();
    assert.equal(mm.zswap.maxPoolPercent, 2);
  });

  it("same-filled pages cost zswap nothing but the slot", () => {
    const mm = instance("zswap");
    const a = mm.vmallocSwappable(32 * P, GFP_KERNEL | __GFP_ZERO);
    mm.reclaim(32);
    mm.reclaim(32);
    const s = mm.zswapStats();
    assert.equal(s.sameFilledPages, 32);
    assert.equal(s.poolPages, 0);
    assert.match(mm.report("meminfo"), /Zswapped: +128 kB/);
    assert.equal(mm.getUint32(a + 5 * P + 8), 0);
    mm.verify();
  });

  it("swapoff brings every page back", () => {
    const mm = instance("both");
    const a = mm.vmallocSwappable(32 * P);
    for (let i = 0; i < 32; i++) mm.write(a + i * P, pageOf(3, i));
    mm.reclaim(32);
    mm.reclaim(32);
    assert.ok(mm.swapAreas()[0]!.used > 0);
    assert.equal(mm.swapoff(0), true);
    assert.deepEqual(mm.swapAreas(), []);
    const out = vmstat(mm).zswpout! + vmstat(mm).pswpout!;
    mm.reclaim(32);
    assert.equal(vmstat(mm).zswpout! + vmstat(mm).pswpout!, out, "no area: nothing swapped");
    for (let i = 0; i < 32; i++) assert.ok(eq(mm.read(a + i * P, P), pageOf(3, i)));
    mm.verify();
  });
});

describe("the OOM killer", () => {
  it("kills the victim of the highest badness, logs it, and the allocation succeeds", () => {
    const lines: string[] = [];
    const mm = new Kmem({ memory: 1 * MiB, log: (l) => lines.push(l) });
    const held = new Map<string, number[]>();
    const victim = (name: string, n: number, oomScoreAdj?: number) => {
      const pages: number[] = [];
      for (let i = 0; i < n; i++) pages.push(mm.allocPages(0));
      held.set(name, pages);
      return mm.registerOomVictim({
        name,
        ...(oomScoreAdj === undefined ? {} : { oomScoreAdj }),
        pages: () => held.get(name)!.length,
        kill: () => {
          for (const p of held.get(name)!) mm.freePages(p, 0);
          held.set(name, []);
        },
      });
    };
    victim("small", 20);
    victim("big", 60);
    victim("init", 80, -1000);
    const rest: number[] = [];
    for (;;) {
      const p = mm.allocPages(0, GFP_NOWAIT);
      if (p === 0) break;
      rest.push(p);
    }
    const p = mm.allocPages(0);
    assert.notEqual(p, 0, "served after a kill");
    assert.deepEqual(held.get("big"), []);
    assert.equal(held.get("init")!.length, 80);
    assert.match(
      mm.report("dmesg"),
      /^kmem invoked oom-killer: gfp_mask=0xcc0\(GFP_KERNEL\), order=0, oom_score_adj=0\nOut of memory: Killed process 2 \(big\) total-vm:240kB, anon-rss:240kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:0kB oom_score_adj:0\n$/,
    );
    assert.ok(lines.some((l) => l.startsWith("Out of memory: Killed process 2 (big)")));
    assert.equal(vmstat(mm).oom_kill, 1);
    mm.verify();
  });

  it("oomScoreAdj weighs in thousandths of memory; no victim left: the request fails, nothing corrupted", () => {
    const mm = new Kmem({ memory: 1 * MiB });
    let killed = "";
    const reg = (name: string, pages: number, adj: number) =>
      mm.registerOomVictim({
        name,
        oomScoreAdj: adj,
        pages: () => pages,
        kill: () => (killed += `${name} `),
      });
    reg("a", 10, 500);
    reg("b", 100, 0);
    reg("c", 1000, -1000);
    const taken: number[] = [];
    for (;;) {
      const p = mm.allocPages(0, GFP_NOWAIT);
      if (p === 0) break;
      taken.push(p);
    }
    // Nobody frees anything: every killable victim goes, then the request fails.
    assert.equal(mm.allocPages(0), 0);
    assert.equal(killed, "a b ");
    assert.match(mm.report("dmesg"), /Out of memory and no killable processes/);
    assert.equal(mm.allocPages(0, GFP_KERNEL | __GFP_NORETRY), 0);
    mm.verify();
    for (const p of taken) mm.freePages(p, 0);
    mm.verify();
    expectArgumentError(RangeError, /oomScoreAdj/, () =>
      mm.registerOomVictim({ name: "x", oomScoreAdj: 1001, pages: () => 0, kill: () => {} }),
    );
    expectArgumentError(TypeError, /name/, () =>
      mm.registerOomVictim({ name: "", pages: () => 0, kill: () => {} }),
    );
  });
});

describe("workers share one swap", () => {
  it("a worker swaps in what the main thread swapped out, and the other way round", async () => {
    const sab = new SharedArrayBuffer(2 * MiB);
    const mm = new Kmem({ memory: sab, cpus: 2 });
    mm.setZswap({ enabled: true });
    const z = mm.createZram({ disksize: 4 * MiB, name: "swapdev" });
    assert.ok(z !== null);
    mm.swapon(z);
    const a = mm.vmallocSwappable(64 * P);
    for (let i = 0; i < 64; i++) mm.write(a + i * P, pageOf(1, i));
    mm.reclaim(64);
    mm.reclaim(64);
    assert.ok(mm.swapAreas()[0]!.used > 0);
    const reply = await runWorker<{ problems: string[]; swappedIn: number; out: number }>(
      new URL("./share.worker.js", import.meta.url),
      { sab, addr: a, pages: 64 },
    );
    assert.deepEqual(reply.problems, []);
    assert.ok(reply.swappedIn > 0 && reply.out > 0);
    mm.offlineCpu(1);
    for (let i = 0; i < 64; i++) assert.ok(eq(mm.read(a + i * P, P), pageOf(2, i)), `page ${i}`);
    mm.verify();
  });
});

describe("verify() of the swap layer", () => {
  function swapped(): { mm: Kmem; a: number; words: Int32Array; desc: number } {
    const mm = instance("zswap");
    const a = mm.vmallocSwappable(32 * P);
    for (let i = 0; i < 32; i++) mm.write(a + i * P, pageOf(5, i));
    mm.reclaim(16);
    mm.reclaim(16);
    mm.verify();
    const words = new Int32Array(mm.buffer as SharedArrayBuffer | ArrayBuffer);
    return { mm, a, words, desc: (words[Hdr.SWAP]! >>> 0) / 4 };
  }
  const corrupted = (mm: Kmem, id: string) =>
    assert.match(expectKmemError("CORRUPTION", () => mm.verify()).message, new RegExp(id));

  it("SWAP-1, SWAP-3, LRU-1", () => {
    const s1 = swapped();
    s1.words[s1.desc + Sw.MAGIC] = 0;
    corrupted(s1.mm, "SWAP-1");
    const s2 = swapped();
    s2.words[s2.desc + Sw.ZSWAP_STORED]!++;
    corrupted(s2.mm, "SWAP-3");
    const s3 = swapped();
    s3.words[s3.desc + Sw.NR_ACTIVE]!++;
    corrupted(s3.mm, "LRU-1");
    const s4 = swapped();
    s4.words[s4.desc + Sw.AREAS + 5]!++; // area 0's free count
    corrupted(s4.mm, "SWAP-1");
  });

  it("SWAP-2: a swap entry naming a free slot, and a used slot no entry names", () => {
    const s = swapped();
    const vdesc = (s.words[Hdr.VMALLOC]! >>> 0) >>> 2;
    const pgd = (s.words[vdesc + VmDesc.PGD]! * P) >>> 2;
    const pte = (addr: number) => {
      const page = (addr - s.mm.vmallocStart) / P;
      return ((s.words[pgd + (page >>> 10)]! & ~(P - 1)) >>> 2) + (page & 1023);
    };
    let at = -1;
    for (let i = 0; i < 32 && at < 0; i++) {
      const e = s.words[pte(s.a + i * P)]!;
      if ((e & 1) === 0) at = pte(s.a + i * P);
    }
    assert.ok(at >= 0, "some page is swapped out");
    s.words[at] = (2000 << 4) | 0; // slot 2000 of area 0: free
    corrupted(s.mm, "SWAP-2");
  });
});

describe("misuse", () => {
  it("swapon, swapoff and setZswap check their arguments", () => {
    const mm = new Kmem({ memory: 2 * MiB });
    const z = mm.createZram({ disksize: MiB })!;
    assert.equal(mm.swapon(z, { priority: 5 }), 0);
    expectKmemError("BUSY", () => mm.swapon(z));
    expectArgumentError(TypeError, /zram device or \{ pages \}/, () => mm.swapon(42 as never));
    expectArgumentError(RangeError, /pages/, () => mm.swapon({ pages: 0 }));
    expectArgumentError(RangeError, /type/, () => mm.swapoff(9));
    expectArgumentError(RangeError, /no swap area/, () => mm.swapoff(3));
    expectArgumentError(RangeError, /maxPoolPercent/, () => mm.setZswap({ maxPoolPercent: 101 }));
    expectArgumentError(TypeError, /unknown zswap option/, () =>
      mm.setZswap({ bogus: 1 } as never),
    );
    expectArgumentError(RangeError, /compressor/, () =>
      mm.setZswap({ compressor: "lzo" as never }),
    );
    expectArgumentError(RangeError, /nrPages/, () => mm.reclaim(-1));
    assert.match(mm.report("swaps"), /\/dev\/zram0 +partition\t1020\t\t0\t\t5\n$/);
    mm.verify();
  });
});

describe("a zram device in use as a swap area", () => {
  it("destroy() is BUSY, nothing changed, until swapoff; then it goes", () => {
    const mm = new Kmem({ memory: 2 * MiB });
    const z = mm.createZram({ disksize: 4 * MiB, name: "busy" });
    assert.ok(z !== null);
    const type = mm.swapon(z);
    const a = mm.vmallocSwappable(64 * P);
    assert.notEqual(a, 0);
    for (let i = 0; i < 64; i++) mm.write(a + i * P, pageOf(7, i));
    mm.reclaim(48);
    const before = Buffer.from(mm.memory);
    const err = expectKmemError("BUSY", () => z.destroy());
    assert.match(err.message, /busy is swap area 0; swapoff\(0\)/);
    assert.ok(Buffer.from(mm.memory).equals(before), "a refused destroy changed memory");
    mm.verify();
    for (let i = 0; i < 64; i++) assert.ok(eq(mm.read(a + i * P, P), pageOf(7, i)));
    assert.equal(mm.swapoff(type), true);
    z.destroy();
    assert.equal(mm.findZram("busy"), null);
    mm.vfree(a);
    mm.verify();
  });
});

describe("zswap and an incompressible page", () => {
  it("with zswap's area the only one, a page refused as incompressible is not compressed again until it changes", () => {
    const mm = instance("zswap", 4 * MiB);
    const a = mm.vmallocSwappable(8 * P);
    // Random bytes do not compress; each page differs.
    let x = 12345;
    const noise = (tag: number) => {
      const b = new Uint8Array(P);
      for (let k = 0; k < P; k++) {
        x = (Math.imul(x, 1103515245) + 12345 + tag) >>> 0;
        b[k] = x >>> 24;
      }
      return b;
    };
    const pages = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => noise(i));
    pages.forEach((b, i) => mm.write(a + i * P, b));
    const poor = () => mm.zswapStats().rejectCompressPoor;
    for (let pass = 0; pass < 4 && poor() < 8; pass++) mm.reclaim(8);
    assert.equal(poor(), 8, "every page was tried once and refused");
    for (let pass = 0; pass < 4; pass++) mm.reclaim(8);
    assert.equal(poor(), 8, "no page was compressed again");
    // A page written since is tried again.
    pages[3] = noise(99);
    mm.write(a + 3 * P, pages[3]);
    for (let pass = 0; pass < 6; pass++) mm.reclaim(8);
    assert.equal(poor(), 9);
    pages.forEach((b, i) => assert.ok(eq(mm.read(a + i * P, P), b)));
    mm.vfree(a);
    mm.verify();
  });
});
