/*
 * Bonwick's comparison redone (src/literature.ts, `kmem compare`): the pairs workload, the
 * mapping of published allocators to kmem's, the ordering sentences (from made-up numbers,
 * so they do not depend on timing), and the command's report in its quick mode.
 */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ALLOCATORS, allocatorNames, findAllocator } from "../src/allocators.js";
import {
  type Comparison,
  compareAllocators,
  orderings,
  PAIRS_LIVE,
  pairsWorkload,
  PUBLISHED,
} from "../src/literature.js";
import { findWorkload } from "../src/workloads/index.js";

const MAIN = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

function row(allocator: string, pairNs: number, meanWaste: number): Comparison["rows"][number] {
  return {
    allocator,
    pairNs,
    waste: [meanWaste],
    meanWaste,
    overhead: 0.1,
    failures: 0,
    published: PUBLISHED.find((p) => p.kmem.includes(allocator)) ?? null,
    errors: [],
  };
}

describe("compare --literature", () => {
  it("pairs: a live set, then one free and one allocation at a time, 16..1024 bytes", () => {
    const t = pairsWorkload(10_000, 3);
    const i = t.info;
    assert.equal(i.header.ops, 10_000);
    assert.equal(i.allocs - i.frees, PAIRS_LIVE);
    assert.ok(i.maxRequestBytes <= 1024);
    assert.equal(i.reallocs, 0);
  });

  it("maps each published allocator to the kmem allocator that plays it", () => {
    for (const p of PUBLISHED) {
      assert.ok(
        p.kmem.some((name) => allocatorNames().includes(name)),
        `${p.allocator} has a kmem counterpart`,
      );
    }
    const by = Object.fromEntries(PUBLISHED.map((p) => [p.allocator, p.pairUs]));
    assert.deepEqual(by, {
      "SunOS 5.4 slab": 3.8,
      "4.4BSD (McKusick-Karels)": 4.1,
      "SVr4 lazy buddy": 9.4,
      "SunOS 4.1.3 sequential fit": 25.0,
    });
  });

  it("says which orderings hold, and names the pairs that swapped", () => {
    const c: Comparison = {
      sources: ["w"],
      memoryBytes: [1 << 24],
      pairOps: 1000,
      rows: [
        row("slub", 50, 0.1),
        row("mckusick-karels", 60, 0.4),
        row("lazy-buddy", 90, 0.3),
        row("rmap", 40, 0.6),
        row("p2", 30, 0.7),
      ],
    };
    const [speed, waste, good] = orderings(c);
    assert.equal(
      speed,
      "Speed (allocate + free): of the literature's order slub < mckusick-karels < lazy-buddy < rmap, 3 of 6 pairs still hold; reversed: rmap beats slub, rmap beats mckusick-karels, rmap beats lazy-buddy.",
    );
    assert.equal(
      waste,
      "Waste (kenbus against the mean here): of the literature's order slub < rmap < mckusick-karels < lazy-buddy, 3 of 6 pairs still hold; reversed: mckusick-karels beats rmap, lazy-buddy beats rmap, lazy-buddy beats mckusick-karels.",
    );
    assert.equal(
      good,
      'Utilization of 50% or better on every workload ("considered good" in 1988): 3 of 5 allocators (slub, mckusick-karels, lazy-buddy).',
    );
    c.rows[3] = row("rmap", 100, 0.2);
    c.rows[2] = row("lazy-buddy", 90, 0.5);
    assert.match(orderings(c)[0] ?? "", /still holds \(all 6 pairs\)\.$/);
  });

  it("runs every allocator it is given on the same workloads", async () => {
    const steps: string[] = [];
    const c = await compareAllocators({
      sources: [findWorkload("kernel-mix").generate(2000, 1)],
      pairOps: 2000,
      seed: 1,
      allocators: ["slub", "mckusick-karels", "p2"].map(findAllocator),
      timingScale: 0.01,
      onStep: (label) => {
        if (label !== null) steps.push(label);
      },
    });
    assert.deepEqual(
      c.rows.map((r) => r.allocator),
      ["slub", "mckusick-karels", "p2"],
    );
    assert.deepEqual(steps, [
      "pairs on slub",
      "kernel-mix on slub",
      "pairs on mckusick-karels",
      "kernel-mix on mckusick-karels",
      "pairs on p2",
      "kernel-mix on p2",
    ]);
    for (const r of c.rows) {
      assert.deepEqual(r.errors, []);
      assert.ok(r.pairNs > 0);
      assert.ok(
        r.waste[0] !== null && r.waste[0] !== undefined && r.waste[0] >= 0 && r.waste[0] < 1,
      );
      assert.equal(r.meanWaste, r.waste[0]);
    }
    assert.equal(c.rows[0]?.published?.allocator, "SunOS 5.4 slab");
    assert.equal(c.rows[1]?.published?.allocator, "4.4BSD (McKusick-Karels)");
    assert.equal(c.rows[2]?.published, null);
  });

  it("kmem compare --literature --quick: every registered allocator, the figures, the orderings", async () => {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [MAIN, "compare", "--literature", "--quick"],
        (err, stdout, stderr) =>
          resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr }),
      );
    });
    assert.equal(r.code, 0, r.stderr);
    // Every allocator the registry knows that can run here (native code needs a compiler).
    const runnable: string[] = [];
    for (const e of ALLOCATORS)
      if (((await e.available?.()) ?? null) === null) runnable.push(e.name);
    const lines = r.stdout.split("\n");
    assert.match(
      lines[0] ?? "",
      new RegExp(`^kmem compare: ${runnable.length} allocators on the same workloads`),
    );
    assert.match(
      r.stdout,
      /^allocator +alloc\+free +webserver +realtime +kernel-mix +fragmenter +random +mean +overhead +failures +published \(Bonwick 1994/m,
    );
    for (const name of runnable) {
      assert.match(
        r.stdout,
        new RegExp(`^${name.replace(/[./()]/g, "\\$&")} +[\\d.]+ [nµm]s `, "m"),
        name,
      );
    }
    // Bonwick's figures go beside Linux's SLAB, his design's descendant, when it is compared.
    assert.match(r.stdout, /^slab .*SunOS 5\.4 slab: 3\.8 µs; 11\/13\/14\/14%$/m);
    assert.match(
      r.stdout,
      /^mckusick-karels .*4\.4BSD \(McKusick-Karels\): 4\.1 µs; 20\/43\/43\/45%$/m,
    );
    assert.match(r.stdout, /^lazy-buddy .*SVr4 lazy buddy: 9\.4 µs; 23\/45\/45\/46%$/m);
    assert.match(r.stdout, /^rmap .*SunOS 4\.1\.3 sequential fit: 25\.0 µs; 7\/19\/19\/27%$/m);
    assert.match(r.stdout, /McKusick & Karels 1988: memory allocation at most 4% of kernel time/);
    assert.match(r.stdout, /^Speed \(allocate \+ free\): .*(still holds|still hold;)/m);
    assert.match(r.stdout, /^Waste \(kenbus against the mean here\): /m);
  });
});
