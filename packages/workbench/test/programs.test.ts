/*
 * The repository's recorded program traces (traces/, traces/programs) replayed on kmem's
 * kmalloc (`slub`) as `npm run bench -- programs` replays them, the measured pass only:
 * every request served (none refused for its size: requests above Linux's 4 MiB too), every
 * freed block's contents intact, verify() clean after every chunk. Speed is measured in
 * bench/, never here.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { findAllocator } from "../src/allocators.js";
import { replay } from "../src/replay.js";
import { loadTrace, traceFiles } from "../src/source.js";

const TRACES = fileURLToPath(new URL("../../../../traces/", import.meta.url));
const MiB = 2 ** 20;

const files = [...traceFiles(TRACES), ...traceFiles(join(TRACES, "programs"))];

describe("the repository's program traces on kmalloc", () => {
  it("finds the traces", () => {
    assert.ok(files.length >= 10, `${files.length} traces`);
  });
  for (const file of files) {
    it(`${file.split("/").pop()}: every request served, contents intact, verify() clean`, async () => {
      const source = await loadTrace(file);
      const { result } = await replay(source, findAllocator("slub"), {
        memoryBytes: 256 * MiB,
        timed: false,
      });
      assert.equal(result.error, null);
      assert.equal(result.complete, true);
      assert.equal(result.failures, 0, "no request refused");
      assert.equal(result.contentsChecked, true);
      assert.equal(result.leftovers.blocks, source.info.leftoverBlocks);
    });
  }
});
