/*
 * sqlite (clients/sqlite: a workload over a memory-only VFS) on kmem: the same query results
 * as on the module's own malloc (wasi-libc's dlmalloc), on SLUB and on SLOB; nothing sqlite
 * allocated is live once it is closed, and verify() finds every structure sound.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { instantiate, MallocRecorder, runMain } from "../../src/index.js";
import { buildClients } from "./clients.js";

const built = buildClients("sqlite");
const skip = typeof built === "string" ? built : false;
const ROWS = "20000";

describe("sqlite on kmem", { skip }, () => {
  if (typeof built === "string") return;
  const reference = instantiate(built.bytes("sqlite-libc"), {
    malloc: "libc",
    args: ["sqlite", ROWS],
  });
  const referenceStatus = runMain(reference);
  const expected = reference.wasi.text(1);

  it("runs on its own malloc (the reference)", () => {
    assert.equal(referenceStatus, 0, reference.wasi.text(2));
    assert.match(expected, /^-- integrity\nok$/m);
    assert.match(expected, /^20000\|9960706\.8\|199\.584$/m);
  });

  for (const malloc of ["slub", "slob"] as const) {
    it(`gives the same query results on ${malloc}, nothing of sqlite's live after close`, () => {
      const recorder = new MallocRecorder();
      const program = instantiate(built.bytes("sqlite-kmem"), {
        malloc,
        args: ["sqlite", ROWS],
        pages: 512,
        wrap: (env) => recorder.wrap(env),
      });
      const heap = program.heap as NonNullable<typeof program.heap>;
      assert.equal(runMain(program), 0, program.wasi.text(2));
      assert.equal(program.wasi.text(1), expected);
      const c = heap.counts();
      assert.ok(c.mallocs > 60000, `${c.mallocs} mallocs`);
      assert.equal(c.failures + c.misuses, 0);
      // Live at exit: wasi-libc's argv and its strings, the first two blocks, made before main.
      assert.equal(c.live, 2);
      assert.deepEqual([...recorder.live().values()].sort(), [0, 1]);
      const objects = heap.kmem
        .stats()
        .caches.filter((k) => /^k?malloc-/.test(k.name))
        .reduce((n, k) => n + k.activeObjects, 0);
      assert.equal(objects, 2, "kmem's own count of live objects");
      heap.kmem.verify();
      const trace = recorder.finish("sqlite");
      assert.equal(trace.info.allocs, c.mallocs);
      assert.equal(trace.info.frees, c.frees);
    });
  }

  // KASAN (KMEM_SLOW=1, npm run test:slow: building sqlite-kasan runs binaryen's optimizer
  // over sqlite, some 15 s): every load and store of sqlite checked, no report.
  it(
    "runs instrumented under KASAN with no report, the same results",
    {
      skip: process.env.KMEM_SLOW === undefined ? "KMEM_SLOW=1 (npm run test:slow)" : false,
    },
    () => {
      const kasan = buildClients("sqlite-kasan");
      if (typeof kasan === "string") return void assert.ok(true, kasan);
      const program = instantiate(kasan.bytes("sqlite-kasan"), {
        malloc: "slub",
        args: ["sqlite", ROWS],
        pages: 768,
        heap: { kasan: true },
      });
      const heap = program.heap as NonNullable<typeof program.heap>;
      assert.equal(runMain(program), 0, program.wasi.text(2));
      assert.equal(program.wasi.text(1), expected);
      assert.equal(heap.counts().misuses, 0);
      assert.match(heap.kmem.report("kasan"), /^kasan: 0 reports;/m);
      heap.verify();
    },
  );

  it("grows its memory as it needs (memory hotplug), the same results", () => {
    // 48 pages (3 MiB) hold sqlite's data and stack and a little heap: the rest is grown.
    const program = instantiate(built.bytes("sqlite-kmem"), {
      malloc: "slub",
      args: ["sqlite", ROWS],
      pages: 48,
      heap: { maximum: 1024 },
    });
    const heap = program.heap as NonNullable<typeof program.heap>;
    assert.equal(runMain(program), 0, program.wasi.text(2));
    assert.equal(program.wasi.text(1), expected);
    const g = heap.growth();
    assert.ok(g.grows >= 2 && g.pages > 48 && g.pages <= 1024, JSON.stringify(g));
    assert.equal(heap.counts().failures, 0);
    const total = (heap.kmem.report("meminfo").match(/^MemTotal:\s+(\d+) kB/m) ?? [])[1];
    assert.equal(Number(total) * 1024, heap.kmem.managedPages * heap.kmem.pageSize);
    heap.kmem.verify();
  });
});
