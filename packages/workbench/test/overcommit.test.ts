/*
 * The overcommit workload: with no swap it stops where memory ends; with zswap, a zram swap
 * area or both it writes the whole working set (larger than memory), swaps, and reads every
 * page back intact.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runOvercommit, SWAP_SETUPS } from "../src/overcommit.js";

const options = {
  memory: 4 * 2 ** 20,
  ratio: 1.4,
  hot: 0.25,
  accesses: 300,
  seed: 1,
  algorithm: "lz4" as const,
};

describe("the overcommit workload", () => {
  it("fails where memory ends without swap, and completes with each kind of swap", () => {
    for (const setup of SWAP_SETUPS) {
      const r = runOvercommit(setup, options);
      assert.equal(r.intact, true, setup);
      if (setup === "none") {
        assert.ok(r.written < r.pages, "no swap: the set does not fit");
        assert.equal(r.majorFaults, 0);
      } else {
        assert.equal(r.written, r.pages, `${setup}: the whole set`);
        assert.ok(r.zswpout + r.pswpout > 0 && r.majorFaults > 0, setup);
        assert.ok(r.storedBytes > r.compressedMemBytes, `${setup}: compressed`);
      }
      if (setup === "zram") assert.equal(r.zswpout, 0);
      if (setup === "zswap") assert.equal(r.pswpout, 0);
      assert.match(r.mm.report("meminfo"), /SwapTotal:/);
    }
  });
});
