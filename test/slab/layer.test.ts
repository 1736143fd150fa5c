/*
 * SLAB's own slab layer (src/slab/slabs.ts): the three lists per node and free_limit,
 * colouring, the freelist index array in each of its placements, drain_freelist in
 * cache_reap, what verify() reports (SLABL-1..5), and a model run against a reference
 * with every invariant checked after every step.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  GFP_KERNEL,
  Kmem,
  KmemError,
  PageKind,
  SLAB_NO_MERGE,
  SLAB_POISON,
} from "../../src/index.js";
import type { ArrayViews, SlabAllocator } from "../../src/slab/slab.js";

const MiB = 1 << 20;
const PAGE = 4096;
/* src/slab/layout.ts Node: a node record's words. */
const FULL_HEAD = 0;
const PARTIAL_HEAD = 2;
const FREE_HEAD = 4;
const FREE_SLABS = 6;
const FREE_OBJECTS = 7;
const FREE_LIMIT = 8;
const COLOUR_NEXT = 9;
const FREE_TOUCHED = 10;
/* A frame's words (src/memory/layout.ts Pg, src/slab/layout.ts SlabPg). */
const WORDS = 8;
const NEXT = 2;
const CACHE = 4;
const FREELIST = 5;
const COUNTERS = 6;
/* Mgmt: where the index array is. */
const ON_SLAB = 0;
const OFF_SLAB = 1;
const OBJFREELIST = 2;

function slabOf(mm: Kmem): SlabAllocator {
  return (mm as unknown as { slab: SlabAllocator }).slab;
}

function viewsOf(mm: Kmem, name: string): ArrayViews {
  const c = mm.findCache(name);
  assert.ok(c !== null);
  const v = slabOf(mm).arraysOf(c);
  assert.ok(v !== null);
  return v;
}

/** Slabs (pfns) on the list whose head word is `head` of node 0. */
function list(mm: Kmem, name: string, head: number): number[] {
  const s = slabOf(mm);
  const out: number[] = [];
  for (let p = viewsOf(mm, name).nodes[0]![head] as number; p !== 0;) {
    out.push(p);
    p = s.f[p * WORDS + NEXT] as number;
  }
  return out;
}

function lists(mm: Kmem, name: string): { full: number; partial: number; free: number } {
  return {
    full: list(mm, name, FULL_HEAD).length,
    partial: list(mm, name, PARTIAL_HEAD).length,
    free: list(mm, name, FREE_HEAD).length,
  };
}

/** Whether a slab's pages hold `addr` (the page map's kind of its page). */
function inSlab(mm: Kmem, addr: number): boolean {
  return mm.pageMap().kind[Math.floor(addr / PAGE)] === PageKind.SLAB;
}

function info(mm: Kmem, name: string) {
  const i = mm.stats().caches.find((x) => x.name === name);
  assert.ok(i !== undefined);
  return i;
}

function corrupts(id: string) {
  return (e: unknown) =>
    e instanceof KmemError && e.code === "CORRUPTION" && e.message.includes(`${id}:`);
}

describe("SLAB's slab layer: the three lists and free_limit", () => {
  it("slabs move between full, partial and free; refill takes partial slabs first", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", percpu: false, minFreeBytes: 0 });
    const c = mm.createCache("l", 256, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const num = info(mm, "l").objectsPerSlab;
    const nr = viewsOf(mm, "l").nodes[0]!;
    // enable_cpucache: limit 120, batchcount 60 for 256 bytes; one cpu.
    assert.equal(nr[FREE_LIMIT], (1 + 1) * 60 + num);
    const objs = Array.from({ length: 3 * num }, () => c.alloc());
    assert.deepEqual(lists(mm, "l"), { full: 3, partial: 0, free: 0 });
    assert.equal(nr[FREE_OBJECTS], 0);
    mm.verify();
    c.free(objs[0]!);
    assert.deepEqual(lists(mm, "l"), { full: 2, partial: 1, free: 0 });
    assert.equal(nr[FREE_OBJECTS], 1);
    // A whole slab back: it is free.
    const lastSlab = objs.slice(2 * num);
    for (const a of lastSlab) c.free(a);
    assert.deepEqual(lists(mm, "l"), { full: 1, partial: 1, free: 1 });
    assert.equal(nr[FREE_SLABS], 1);
    assert.equal(nr[FREE_OBJECTS], 1 + num);
    mm.verify();
    // get_first_slab: the partial slab serves before the free one.
    const again = c.alloc();
    assert.equal(again, objs[0]);
    assert.deepEqual(lists(mm, "l"), { full: 2, partial: 0, free: 1 });
    assert.equal(nr[FREE_TOUCHED], 0);
    const fromFree = c.alloc();
    assert.equal(nr[FREE_TOUCHED], 1, "a slab came off the free list");
    assert.ok(lastSlab.includes(fromFree));
    mm.verify();
  });

  it("free_block destroys free slabs beyond free_limit = (1 + cpus) * batchcount + num", () => {
    const mm = new Kmem({ memory: 8 * MiB, slab: "slab", minFreeBytes: 0 });
    const c = mm.createCache("fl", 256, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const num = info(mm, "fl").objectsPerSlab;
    mm.tuneCache("fl", { limit: 4, batchcount: 2, shared: 0 });
    const nr = viewsOf(mm, "fl").nodes[0]!;
    assert.equal(nr[FREE_LIMIT], (1 + 1) * 2 + num);
    const objs = Array.from({ length: 10 * num }, () => c.alloc());
    assert.equal(info(mm, "fl").slabs, 10);
    for (const a of objs) {
      c.free(a);
      assert.ok((nr[FREE_OBJECTS] as number) <= (nr[FREE_LIMIT] as number));
    }
    mm.verify();
    // What is left free: at most free_limit objects, in free slabs and the array.
    assert.ok(info(mm, "fl").slabs <= 2, `${info(mm, "fl").slabs} slabs kept`);
    assert.ok((mm.stats().events.slab_discard ?? 0) >= 8);
  });

  it("kmem_cache_shrink gives back every free slab; the lists stay exact", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", minFreeBytes: 0 });
    const c = mm.createCache("s", 64, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const objs = Array.from({ length: 1000 }, () => c.alloc());
    const keep = objs.slice(0, 5);
    for (const a of objs) if (!keep.includes(a)) c.free(a);
    assert.ok(c.shrink() > 0);
    const l = lists(mm, "s");
    assert.equal(l.free, 0);
    assert.equal(l.full + l.partial, info(mm, "s").slabs);
    mm.verify();
    for (const a of keep) c.free(a);
    c.shrink();
    assert.equal(info(mm, "s").slabs, 0);
    mm.verify();
  });
});

describe("SLAB's slab layer: colouring", () => {
  it("successive slabs start their first object colour_off further, wrapping at colour", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", percpu: false, minFreeBytes: 0 });
    // 352-byte objects: 11 in a page, 224 bytes left over: three colours of 64 bytes.
    const c = mm.createCache("col", 352, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const v = viewsOf(mm, "col");
    assert.equal(v.shape.colourOff, 64);
    assert.equal(v.shape.colour, 3);
    const num = info(mm, "col").objectsPerSlab;
    assert.equal(num, 11);
    const firsts: number[] = [];
    for (let s = 0; s < 5; s++) {
      const objs = Array.from({ length: num }, () => c.alloc());
      firsts.push(Math.min(...objs) % PAGE);
    }
    // cache_grow_begin advances colour_next before using it.
    assert.deepEqual(firsts, [64, 128, 0, 64, 128]);
    assert.equal(v.nodes[0]![COLOUR_NEXT], 2);
    mm.verify();
    // A colour outside the range is caught (SLABL-1).
    const s = slabOf(mm);
    const pfn = Math.floor(c.alloc() / PAGE);
    const i = pfn * WORDS + COUNTERS;
    const saved = s.f[i] as number;
    s.f[i] = (saved & ((1 << 21) - 1)) | (3 << 21);
    assert.throws(() => mm.verify(), corrupts("SLABL-1"));
    s.f[i] = saved;
    mm.verify();
  });

  it("a cache aligned beyond the cache line colours in steps of its alignment", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", minFreeBytes: 0 });
    const c = mm.createCache("a256", 600, { align: 256, flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const v = viewsOf(mm, "a256");
    assert.equal(v.shape.colourOff, 256);
    const objs = Array.from({ length: 60 }, () => c.alloc());
    for (const a of objs) assert.equal(a % 256, 0);
    mm.verify();
  });
});

describe("SLAB's slab layer: the freelist index array", () => {
  it("OBJFREELIST: inside the last free object, none while the slab is full", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", percpu: false, minFreeBytes: 0 });
    const c = mm.createCache("obj", 128, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const v = viewsOf(mm, "obj");
    assert.equal(v.shape.mgmt, OBJFREELIST);
    assert.equal(v.shape.idx, 1);
    const num = info(mm, "obj").objectsPerSlab;
    const s = slabOf(mm);
    const objs = Array.from({ length: num }, () => c.alloc());
    const pfn = Math.floor((objs[0] as number) / PAGE);
    assert.equal(s.f[pfn * WORDS + FREELIST], 0, "full: no index array");
    mm.verify();
    c.free(objs[5]!);
    assert.equal(s.f[pfn * WORDS + FREELIST], objs[5], "the object freed first holds it");
    c.free(objs[2]!);
    mm.verify();
    // Handed out last: the other free object first.
    assert.equal(c.alloc(), objs[2]);
    assert.equal(c.alloc(), objs[5]);
    assert.equal(s.f[pfn * WORDS + FREELIST], 0);
    mm.verify();
  });

  it("ON_SLAB: at the slab's end; two bytes per entry past 256 objects", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", minFreeBytes: 0 });
    const c = mm.createCache("on", 64, { flags: SLAB_NO_MERGE, ctor: () => {} });
    assert.ok(c !== null);
    const v = viewsOf(mm, "on");
    assert.equal(v.shape.mgmt, ON_SLAB);
    const a = c.alloc();
    const pfn = Math.floor(a / PAGE);
    assert.equal(slabOf(mm).f[pfn * WORDS + FREELIST], pfn * PAGE + v.shape.freelistAt);
    assert.ok(v.shape.freelistAt + v.shape.freelistBytes <= PAGE);
    const tiny = mm.createCache("tiny", 8, { flags: SLAB_NO_MERGE });
    assert.ok(tiny !== null);
    const t = tiny.alloc();
    const tv = viewsOf(mm, "tiny");
    assert.equal(tv.shape.mgmt, ON_SLAB);
    assert.ok(info(mm, "tiny").objectsPerSlab > 256);
    assert.equal(tv.shape.idx, 2);
    tiny.free(t);
    c.free(a);
    mm.verify();
  });

  it("OFF_SLAB: in an object of slab-freelist-N, given back with the slab", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", minFreeBytes: 0 });
    const c = mm.createCache("off", 512, { flags: SLAB_NO_MERGE, ctor: () => {} });
    assert.ok(c !== null);
    const v = viewsOf(mm, "off");
    assert.equal(v.shape.mgmt, OFF_SLAB);
    assert.ok(v.fcache !== null);
    assert.equal(v.fcache.name, "slab-freelist-8");
    const objs = Array.from({ length: 40 }, () => c.alloc());
    const s = slabOf(mm);
    const pfn = Math.floor((objs[0] as number) / PAGE);
    const fl = s.f[pfn * WORDS + FREELIST] as number;
    const fpfn = s.slabOf(fl);
    assert.equal(s.f[fpfn * WORDS + CACHE], v.fcache.realId);
    assert.equal(info(mm, "slab-freelist-8").activeObjects, info(mm, "off").slabs);
    mm.verify();
    for (const a of objs) c.free(a);
    c.shrink();
    assert.equal(info(mm, "off").slabs, 0);
    assert.equal(info(mm, "slab-freelist-8").activeObjects, 0);
    // Objects in the arrays and slabs with index arrays when the cache goes.
    const more = Array.from({ length: 10 }, () => c.alloc());
    for (const a of more) c.free(a);
    c.destroy();
    mm.verify();
    assert.equal(info(mm, "slab-freelist-8").activeObjects, 0);
  });

  it("verify() reports a damaged index array, placement, list or count", () => {
    const mm = new Kmem({ memory: 4 * MiB, slab: "slab", percpu: false, minFreeBytes: 0 });
    const c = mm.createCache("dmg", 64, { flags: SLAB_NO_MERGE, ctor: () => {} });
    assert.ok(c !== null);
    const a = c.alloc();
    const s = slabOf(mm);
    const v = viewsOf(mm, "dmg");
    const pfn = Math.floor(a / PAGE);
    const fl = s.f[pfn * WORDS + FREELIST] as number;
    const entry = fl + 1; // entry 1: the first free one
    const saved = mm.memory[entry] as number;
    mm.memory[entry] = 0; // object 0, which is allocated
    assert.throws(() => mm.verify(), corrupts("SLABL-3"));
    mm.memory[entry] = saved;
    s.f[pfn * WORDS + FREELIST] = fl + 4;
    assert.throws(() => mm.verify(), corrupts("SLABL-2"));
    s.f[pfn * WORDS + FREELIST] = fl;
    const nr = v.nodes[0]!;
    nr[FREE_OBJECTS]!++;
    assert.throws(() => mm.verify(), corrupts("SLABL-5"));
    nr[FREE_OBJECTS]!--;
    const head = nr[PARTIAL_HEAD] as number;
    nr[PARTIAL_HEAD] = 0;
    assert.throws(() => mm.verify(), corrupts("SLABL-4"));
    nr[PARTIAL_HEAD] = head;
    mm.verify();
    c.free(a);
  });

  it("a damaged index entry is not followed: the slab is set aside, allocation goes on", () => {
    const lines: string[] = [];
    const mm = new Kmem({
      memory: 4 * MiB,
      slab: "slab",
      percpu: false,
      minFreeBytes: 0,
      log: (l) => lines.push(l),
    });
    const c = mm.createCache("bad", 64, { flags: SLAB_NO_MERGE, ctor: () => {} });
    assert.ok(c !== null);
    const a = c.alloc();
    const s = slabOf(mm);
    const fl = s.f[Math.floor(a / PAGE) * WORDS + FREELIST] as number;
    mm.memory[fl + 1] = 0; // names the allocated object 0
    const b = c.alloc();
    assert.notEqual(b, 0);
    assert.notEqual(b, a);
    assert.match(lines.join("\n"), /index array .* not a free object; slab set aside/);
    assert.equal(mm.stats().events.slab_errors, 1);
    c.free(b);
    c.free(a);
  });
});

describe("SLAB's slab layer: NUMA", () => {
  it("each node has its own lists; alien frees drain to the owning node's lists", () => {
    const mm = new Kmem({ nodes: [2 * MiB, 2 * MiB], node: 1, slab: "slab", minFreeBytes: 0 });
    const c = mm.createCache("nl", 128, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const v = viewsOf(mm, "nl");
    const num = info(mm, "nl").objectsPerSlab;
    const local = Array.from({ length: 2 * num }, () => c.alloc());
    const remote = Array.from({ length: 2 * num }, () => c.allocNode(GFP_KERNEL, 0));
    assert.ok(local.every((a) => mm.nodeOf(a) === 1));
    assert.ok(remote.every((a) => mm.nodeOf(a) === 0));
    const s = slabOf(mm);
    const onNode = (nid: number, head: number): number[] => {
      const out: number[] = [];
      for (let p = v.nodes[nid]![head] as number; p !== 0; p = s.f[p * WORDS + NEXT] as number) {
        out.push(p);
      }
      return out;
    };
    for (const p of [...onNode(0, FULL_HEAD), ...onNode(0, PARTIAL_HEAD)]) {
      assert.equal(mm.nodeOf(p * PAGE), 0);
    }
    for (const p of [...onNode(1, FULL_HEAD), ...onNode(1, PARTIAL_HEAD)]) {
      assert.equal(mm.nodeOf(p * PAGE), 1);
    }
    mm.verify();
    // Frees on node 1 of node 0's objects: alien array, then node 0's shared array or slabs.
    const before = v.nodes[0]![FREE_OBJECTS] as number;
    for (const a of remote) c.free(a);
    mm.reap();
    const shared0 = v.shared[0]?.[0] ?? 0;
    assert.equal(
      (v.nodes[0]![FREE_OBJECTS] as number) - before + shared0,
      remote.length,
      "every remote object is back with node 0, in its slabs or its shared array",
    );
    mm.verify();
    for (const a of local) c.free(a);
    mm.verify();
  });
});

describe("SLAB's slab layer: cache_reap's drain_freelist", () => {
  it("gives back (free_limit + 5 num - 1) / (5 num) free slabs per round, unless touched", () => {
    const mm = new Kmem({ memory: 8 * MiB, slab: "slab", percpu: false, minFreeBytes: 0 });
    const c = mm.createCache("dr", 64, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const num = info(mm, "dr").objectsPerSlab;
    const nr = viewsOf(mm, "dr").nodes[0]!;
    const limit = nr[FREE_LIMIT] as number;
    const objs = Array.from({ length: 8 * num }, () => c.alloc());
    for (const a of objs) c.free(a);
    const kept = nr[FREE_SLABS] as number;
    assert.equal(kept, Math.floor(limit / num), "free_block kept free_limit's worth");
    assert.equal(info(mm, "dr").slabs, kept);
    const per = Math.floor((limit + 5 * num - 1) / (5 * num));
    // Slabs this cpu grew were not "taken off the free list"; an allocation now is.
    assert.equal(nr[FREE_TOUCHED], 0);
    c.free(c.alloc());
    assert.equal(nr[FREE_TOUCHED], 1);
    // Touched since the last round: kept this round.
    assert.equal(mm.reap().pages, 0);
    assert.equal(nr[FREE_TOUCHED], 0);
    let left = kept;
    while (left > 0) {
      const pages = mm.reap().pages;
      assert.equal(pages, Math.min(per, left));
      left -= pages;
      assert.equal(nr[FREE_SLABS], left);
      mm.verify();
    }
    assert.equal(info(mm, "dr").slabs, 0);
  });
});

describe("SLAB's slab layer: a model against a reference", () => {
  it("keeps every invariant after every step (lists, colours, index arrays, arrays)", () => {
    const op = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          k: fc.constant("alloc" as const),
          c: fc.nat(3),
          n: fc.integer({ min: 1, max: 40 }),
        }),
      },
      {
        weight: 8,
        arbitrary: fc.record({
          k: fc.constant("free" as const),
          i: fc.nat(),
          n: fc.integer({ min: 1, max: 40 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ k: fc.constant("reap" as const) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant("shrink" as const), c: fc.nat(3) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant("bad" as const), i: fc.nat() }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.boolean(), (ops, percpu) => {
        const mm = new Kmem({ memory: 4 * MiB, slab: "slab", percpu, minFreeBytes: 0 });
        const caches = [
          mm.createCache("m-obj", 96, { flags: SLAB_NO_MERGE }),
          mm.createCache("m-on", 48, { flags: SLAB_NO_MERGE, ctor: () => {} }),
          mm.createCache("m-off", 512, { flags: SLAB_NO_MERGE, ctor: () => {} }),
          mm.createCache("m-poison", 200, { flags: SLAB_NO_MERGE | SLAB_POISON }),
        ];
        const live = new Map<number, number>(); // address -> cache index
        const dead: number[] = [];
        for (const o of ops) {
          if (o.k === "alloc") {
            const c = caches[o.c]!;
            for (let j = 0; j < o.n; j++) {
              const a = c!.alloc();
              assert.ok(a !== 0);
              assert.ok(!live.has(a), "an object handed out twice");
              live.set(a, o.c);
            }
          } else if (o.k === "free") {
            for (let j = 0; j < o.n && live.size > 0; j++) {
              const keys = [...live.keys()];
              const a = keys[(o.i + j) % keys.length]!;
              caches[live.get(a)!]!.free(a);
              live.delete(a);
              dead.push(a);
            }
          } else if (o.k === "reap") mm.reap();
          else if (o.k === "shrink") caches[o.c]!.shrink();
          else if (dead.length > 0) {
            // A free of a freed object is refused and changes nothing: a double free while
            // its slab is there (or a free through the wrong cache); once its slab went back
            // to the page allocator (reap, shrink), a free of an address no slab holds.
            const a = dead[o.i % dead.length]!;
            if (!live.has(a)) {
              const codes = inSlab(mm, a) ? ["DOUBLE_FREE", "WRONG_CACHE"] : ["INVALID_FREE"];
              assert.throws(
                () => caches[0]!.free(a),
                (e: unknown) => e instanceof KmemError && codes.includes(e.code),
              );
            }
          }
          mm.verify();
        }
        caches.forEach((c, i) => {
          const n = [...live.values()].filter((x) => x === i).length;
          assert.equal(info(mm, c!.name).activeObjects, n);
        });
      }),
      { numRuns: 12 },
    );
  });
});

describe("SLAB's slab layer: a grow that cannot get pages", () => {
  it("returns 0 with nothing changed, every object intact, and grows again once pages come", () => {
    const mm = new Kmem({ memory: 8 * MiB, slab: "slab" });
    const c = mm.createCache("grow_fails", 200, { flags: SLAB_NO_MERGE });
    assert.ok(c !== null);
    const live: number[] = [];
    for (let i = 0; i < 100; i++) {
      const p = c.alloc();
      assert.notEqual(p, 0);
      mm.setUint32(p, i);
      live.push(p);
    }
    mm.setFault("fail_page_alloc", {
      probability: 100,
      times: -1,
      ignoreGfpWait: false,
      minOrder: 0,
    });
    // Whatever the arrays and slabs still hold is served; then each grow fails cleanly.
    let failed = 0;
    for (let i = 0; i < 400 && failed === 0; i++) {
      const p = c.alloc();
      if (p === 0) failed++;
      else live.push(p);
    }
    assert.equal(failed, 1, "a grow failed and returned 0");
    assert.ok((mm.stats().events.fault_injected ?? 0) >= 1);
    mm.verify();
    for (let i = 0; i < 100; i++) assert.equal(mm.getUint32(live[i] as number), i);
    mm.setFault("fail_page_alloc", { probability: 0 });
    const q = c.alloc();
    assert.notEqual(q, 0, "grows again once pages come");
    live.push(q);
    for (const p of live) c.free(p);
    mm.verify();
  });
});
