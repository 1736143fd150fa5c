/*
 * The workload generators: seeded and deterministic, exactly the ops asked for, valid traces
 * (written and read back), and each with the shape it promises. Plus the event queue and id
 * set they are built on, against simple models.
 */

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Prng } from "../src/prng.js";
import { writeRep } from "../src/rep-writer.js";
import { loadTrace, type TraceSource } from "../src/source.js";
import { Op, type OpChunk } from "../src/trace.js";
import { EventQueue } from "../src/workloads/builder.js";
import { IdSet } from "../src/workloads/dist.js";
import { findWorkload, MACHINE_WORKLOADS, WORKLOADS } from "../src/workloads/index.js";

const dir = mkdtempSync(join(tmpdir(), "kmem-workloads-"));

async function chunks(source: TraceSource): Promise<OpChunk[]> {
  const out: OpChunk[] = [];
  await source.forEachChunk((c) => {
    out.push(c);
    return true;
  });
  return out;
}

/** Every op as [op, id, size]. */
async function opList(source: TraceSource): Promise<[number, number, number][]> {
  const list: [number, number, number][] = [];
  for (const c of await chunks(source)) {
    for (let i = 0; i < c.length; i++)
      list.push([c.op[i] as number, c.id[i] as number, c.size[i] as number]);
  }
  return list;
}

describe("workloads", () => {
  for (const w of [...WORKLOADS, ...MACHINE_WORKLOADS]) {
    it(`${w.name}: deterministic, exact op count, a valid trace that reads back the same`, async () => {
      const a = w.generate(5000, 7);
      const b = w.generate(5000, 7);
      const c = w.generate(5000, 8);
      assert.equal(a.info.header.ops, 5000);
      assert.deepEqual(await opList(a), await opList(b));
      assert.notDeepEqual(await opList(a), await opList(c), "another seed, another trace");
      const path = join(dir, `${w.name}.rep`);
      await writeRep(path, a);
      const back = await loadTrace(path);
      assert.deepEqual({ ...back.info, name: w.name }, a.info);
      assert.deepEqual(await opList(back), await opList(a));
      const again = join(dir, `${w.name}-again.rep`);
      await writeRep(again, b);
      assert.deepEqual(readFileSync(again), readFileSync(path), "same seed, same bytes");
    });
  }

  it("gzip output is deterministic too, and reads back", async () => {
    const w = findWorkload("webserver");
    const p1 = join(dir, "w1.rep.gz");
    const p2 = join(dir, "w2.rep.gz");
    await writeRep(p1, w.generate(3000, 1));
    await writeRep(p2, w.generate(3000, 1));
    assert.deepEqual(readFileSync(p1), readFileSync(p2));
    assert.equal(readFileSync(p1)[0], 0x1f);
    assert.equal((await loadTrace(p1)).info.header.ops, 3000);
  });

  it("realtime: three fixed sizes, never more than 256 messages live", async () => {
    const ops = await opList(findWorkload("realtime").generate(20_000, 1));
    let live = 0;
    let most = 0;
    const sizes = new Set<number>();
    for (const [op, , size] of ops) {
      if (op === Op.Alloc) {
        live++;
        sizes.add(size);
      } else live--;
      most = Math.max(most, live);
    }
    assert.deepEqual(
      [...sizes].sort((x, y) => x - y),
      [64, 256, 1024],
    );
    assert.ok(most <= 256 && most >= 200, `at most ${most} live`);
  });

  it("broker: 128- and 512-byte messages only, at most 8 queues of 128 live", async () => {
    const ops = await opList(findWorkload("broker").generate(20_000, 3));
    let live = 0;
    let most = 0;
    const sizes = new Map<number, number>();
    for (const [op, , size] of ops) {
      if (op === Op.Alloc) {
        live++;
        sizes.set(size, (sizes.get(size) ?? 0) + 1);
      } else live--;
      most = Math.max(most, live);
    }
    assert.deepEqual(
      [...sizes.keys()].sort((x, y) => x - y),
      [128, 512],
    );
    assert.ok((sizes.get(128) ?? 0) > 5 * (sizes.get(512) ?? 0), "mostly telemetry");
    assert.ok(most <= 8 * 128 && most >= 100, `at most ${most} live`);
  });

  it("control-loop: the same three objects every tick, a fixed live set, rare 1 KiB logs", async () => {
    const ops = await opList(findWorkload("control-loop").generate(20_000, 5));
    const sizes = new Map<number, number>();
    let live = 0;
    let most = 0;
    const liveSize = new Map<number, number>();
    for (const [op, id, size] of ops) {
      if (op === Op.Alloc) {
        live++;
        liveSize.set(id, size);
        sizes.set(size, (sizes.get(size) ?? 0) + 1);
      } else {
        live--;
        liveSize.delete(id);
      }
      most = Math.max(most, live);
    }
    assert.deepEqual(
      [...sizes.keys()].sort((x, y) => x - y),
      [32, 64, 256, 1024],
    );
    assert.ok(Math.abs((sizes.get(32) ?? 0) - (sizes.get(256) ?? 0)) <= 1, "one of each per tick");
    assert.ok((sizes.get(1024) ?? 0) * 50 < (sizes.get(64) ?? 0), "logs are rare");
    assert.ok(most <= 32 * 3 + 1, `at most ${most} live: 32 ticks of three objects and a log`);
  });

  it("desktop: small, medium and large sizes, some reallocs, a bounded live set", async () => {
    const src = findWorkload("desktop").generate(20_000, 1);
    const ops = await opList(src);
    const big = ops.filter(([op, , size]) => op === Op.Alloc && size >= 65536).length;
    const small = ops.filter(([op, , size]) => op === Op.Alloc && size <= 256).length;
    assert.ok(big > 0 && small > 20 * big, `${small} small, ${big} large`);
    assert.ok(ops.some(([op]) => op === Op.Realloc));
    assert.ok(src.info.peakPayloadBytes < 8 << 20, `peak ${src.info.peakPayloadBytes}`);
  });

  it("kernel-mix: dentries, buffer heads and inodes among the most frequent sizes", async () => {
    const counts = new Map<number, number>();
    for (const [op, , size] of await opList(findWorkload("kernel-mix").generate(20_000, 1))) {
      if (op === Op.Alloc) counts.set(size, (counts.get(size) ?? 0) + 1);
    }
    const top = [...counts.entries()]
      .sort((x, y) => y[1] - x[1])
      .slice(0, 4)
      .map((e) => e[0]);
    for (const size of [192, 104]) assert.ok(top.includes(size), `${size} in ${top}`);
    assert.ok((counts.get(600) ?? 0) > 100, "inode_cache");
  });

  it("fragmenter: rounds of one size each, past a power of two, half of each round freed", async () => {
    const base = [24, 72, 264, 1040, 4100, 16400, 65600];
    const allocs: number[] = [];
    let frees = 0;
    for (const [op, , size] of await opList(findWorkload("fragmenter").generate(20_000, 1))) {
      if (op === Op.Alloc) allocs.push(size);
      else frees++;
    }
    const rounds = allocs.filter((s, i) => i === 0 || s !== allocs[i - 1]);
    for (const s of rounds)
      assert.ok(
        base.some((b) => s >= b && s < b + 8),
        `${s}`,
      );
    assert.ok(rounds.length >= 4, "several rounds");
    assert.ok(frees >= allocs.length / 2 - 2 * 4096, "about half of each round is freed");
  });

  it("random and webserver leave blocks live at the end, and random reallocs", () => {
    const r = findWorkload("random").generate(20_000, 1).info;
    assert.ok(r.reallocs > 500 && r.leftoverBlocks > 100);
    const w = findWorkload("webserver").generate(20_000, 1).info;
    assert.ok(w.leftoverBlocks > 10 && w.maxRequestBytes <= 65536);
  });
});

describe("EventQueue", () => {
  it("pops in time order, ties in push order (against a sorted list)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), {
          minLength: 0,
          maxLength: 300,
          size: "max",
        }),
        (steps) => {
          const q = new EventQueue();
          const model: [number, number][] = [];
          const out = new Int32Array(2);
          let seq = 0;
          for (const [t, pop] of steps) {
            if (pop && model.length > 0) {
              model.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
              const [mt, ms] = model.shift() as [number, number];
              assert.equal(q.pop(out), mt);
              assert.equal(out[1], ms);
            } else {
              q.push(t, 0, seq);
              model.push([t, seq++]);
            }
            assert.equal(q.size, model.length);
          }
        },
      ),
    );
  });
});

describe("IdSet", () => {
  it("adds, removes and picks like a Set", () => {
    const rng = new Prng(5);
    const s = new IdSet();
    const model = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const id = rng.below(700);
      if (model.has(id)) {
        s.remove(id);
        model.delete(id);
      } else {
        s.add(id);
        model.add(id);
      }
      assert.equal(s.size, model.size);
      if (model.size > 0) assert.ok(model.has(s.pick(rng)));
    }
    for (let i = 0; i < 700; i++) assert.equal(s.has(i), model.has(i));
  });
});
