/*
 * zstd (clients/build.js: zstd-kmem, zstd-libc) round-trips data through kmem's heap: every
 * page comes back as it went in, the frames are byte for byte those zstd makes on its own
 * malloc, and nothing is left allocated.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { instantiate, jsonPages, Zstd } from "../../src/index.js";
import { buildClients } from "./clients.js";

const built = buildClients("zstd");
const skip = typeof built === "string" ? built : false;
const pages = jsonPages(40, 7);

describe("zstd on kmem", { skip }, () => {
  if (typeof built === "string") return;
  const frames = (() => {
    const z = new Zstd(instantiate(built.bytes("zstd-libc"), { malloc: "libc" }));
    return pages.map((p, i) => z.compress(p, 1 + (i % 9)));
  })();

  for (const malloc of ["slub", "slob"] as const) {
    it(`round-trips JSON pages on ${malloc}, one shot and with contexts, the frames zstd's own`, () => {
      const program = instantiate(built.bytes("zstd-kmem"), { malloc, pages: 512 });
      const heap = program.heap as NonNullable<typeof program.heap>;
      const z = new Zstd(program);
      assert.ok(z.version >= 10500, `zstd ${z.version}`);
      for (const [i, page] of pages.entries()) {
        const frame = z.compress(page, 1 + (i % 9));
        assert.deepEqual(frame, frames[i], `page ${i}: the frame differs from dlmalloc's run`);
        assert.deepEqual(z.decompress(frame, page.length), page, `page ${i}`);
      }
      const cctx = z.createCCtx();
      const dctx = z.createDCtx();
      assert.ok(cctx !== 0 && dctx !== 0);
      for (const [i, page] of pages.entries()) {
        const frame = z.compress(page, 1 + (i % 9), cctx);
        assert.deepEqual(z.decompress(frame, page.length, dctx), page);
      }
      z.freeCCtx(cctx);
      z.freeDCtx(dctx);
      const c = heap.counts();
      assert.equal(c.live, 0, "every block freed");
      assert.ok(c.mallocs > 4 * pages.length, `${c.mallocs} mallocs`);
      assert.equal(c.failures + c.misuses, 0);
      heap.kmem.verify();
      const ratio =
        pages.reduce((n, p) => n + p.length, 0) / frames.reduce((n, f) => n + f.length, 0);
      assert.ok(ratio > 2, `compression ratio ${ratio}`);
    });
  }
});
