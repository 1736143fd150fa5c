/*
 * The three policies. Instant fit takes the head of the first freelist whose segments all
 * fit, examining no segment (the `searches` counter stays put) however many free segments
 * there are; best fit takes the smallest that fits; next fit cycles through the resources.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { VmemArena } from "../../src/index.js";

/** 1000 free holes of 8 units (freelist 3), the last one freed at `lastHole`. */
function holes(policy: "instantfit" | "bestfit" = "instantfit") {
  const a = new VmemArena({ name: "holes", base: 0, size: 1 << 20, quantum: 1, policy });
  const blocks: number[] = [];
  for (let i = 0; i < 2000; i++) blocks.push(a.alloc(8));
  for (let i = 0; i < 2000; i += 2) a.free(blocks[i] as number, 8);
  return { a, lastHole: blocks[1998] as number };
}

describe("instant fit", () => {
  it("takes the head of the list for the next power of two, examining no segment", () => {
    const { a, lastHole } = holes();
    const before = a.stats().searches;
    assert.equal(a.alloc(8), lastHole, "a power of two: its own list, LIFO");
    assert.equal(a.alloc(5), lastHole - 16, "5 units: list [8, 16), whose every member fits");
    const tail = a.segments().at(-1);
    assert.equal(a.alloc(9), tail?.base, "9 units: list [16, 32) and up: the big tail");
    assert.equal(a.stats().searches, before, "no segment was examined");
    a.verify();
  });

  it("costs the same with 10 or 10,000 free segments (power-of-two sizes never scan)", () => {
    for (const n of [10, 10_000]) {
      const a = new VmemArena({ name: "n", base: 0, size: 1 << 24, quantum: 1 });
      const blocks: number[] = [];
      for (let i = 0; i < 2 * n; i++) blocks.push(a.alloc(4));
      for (let i = 0; i < 2 * n; i += 2) a.free(blocks[i] as number, 4);
      assert.equal(a.stats().freeSegments, n + 1);
      const s0 = a.stats();
      for (let i = 0; i < 100; i++) a.free(a.alloc(1 << (i % 5)), 1 << (i % 5));
      const s1 = a.stats();
      assert.equal(s1.searches - s0.searches, 0, `${n} free segments: no search`);
      assert.equal(s1.lookups - s0.lookups, 0, "each free found its segment at its bucket head");
    }
  });

  it("searches the list that may fit only when no larger list has a segment", () => {
    const a = new VmemArena({ name: "t", base: 0, size: 64, quantum: 1 });
    const x = a.alloc(20);
    a.alloc(44);
    a.free(x, 20); // the only free segment: 20 units, on list [16, 32)
    assert.equal(a.alloc(17), 0, "list [32, ...) is empty: first fit on [16, 32)");
    assert.equal(a.alloc(2), 17, "a power of two: list [2, 4) and up holds the 3 left");
    assert.equal(a.alloc(17), -1);
    a.verify();
  });
});

describe("best fit", () => {
  function scattered(policy: "instantfit" | "bestfit") {
    const a = new VmemArena({ name: "b", base: 0, size: 1000, quantum: 1, policy });
    const sizes = [20, 1, 12, 1, 17, 1, 13, 1];
    const at = sizes.map((n) => a.alloc(n));
    a.alloc(1000 - sizes.reduce((x, y) => x + y, 0)); // the rest
    for (const i of [0, 2, 4, 6]) a.free(at[i] as number, sizes[i] as number);
    return { a, at };
  }

  it("takes the smallest free segment that fits", () => {
    const { a, at } = scattered("bestfit");
    assert.equal(a.alloc(12), at[2], "exactly 12");
    assert.equal(a.alloc(13), at[6], "exactly 13");
    assert.equal(a.alloc(14), at[4], "17 is the smallest of 17 and 20");
    assert.equal(a.alloc(14), at[0]);
    assert.equal(a.alloc(14), -1);
    a.verify();
  });

  it("while instant fit takes the head of the first list whose members all fit", () => {
    const { a, at } = scattered("instantfit");
    assert.equal(a.alloc(12), at[4], "list [16, 32) holds 20 and 17; 17 was freed last");
    assert.equal(a.alloc(12, "bestfit"), at[2], "a per-call policy");
  });
});

describe("next fit", () => {
  it("cycles through ids, reusing a freed id only after the others", () => {
    const a = new VmemArena({ name: "pids", base: 0, size: 8, quantum: 1, policy: "nextfit" });
    const got = [0, 1, 2, 3, 4].map(() => a.alloc(1));
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    a.free(1, 1);
    a.free(3, 1);
    assert.deepEqual([a.alloc(1), a.alloc(1), a.alloc(1)], [5, 6, 7]);
    assert.equal(a.alloc(1), 1, "wraps around to the lowest free id");
    assert.equal(a.alloc(1), 3);
    assert.equal(a.alloc(1), -1);
    a.verify();
  });

  it("each allocation is the first free id at or after the previous one, wrapping (model)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(-1), fc.nat()), {
          minLength: 50,
          maxLength: 400,
          size: "max",
        }),
        (ops) => {
          const n = 32;
          const a = new VmemArena({ name: "ids", base: 0, size: n, quantum: 1, policy: "nextfit" });
          const used = new Uint8Array(n);
          const live: number[] = [];
          let cursor = 0;
          for (const op of ops) {
            // Never full, so that no allocation fails (a failing one moves the rotor on).
            if ((op === -1 || live.length === 0) && live.length < n - 1) {
              let expect = -1;
              for (let k = 0; k < n; k++) {
                const id = (cursor + k) % n;
                if (!used[id]) {
                  expect = id;
                  break;
                }
              }
              assert.equal(a.alloc(1), expect);
              if (expect !== -1) {
                used[expect] = 1;
                live.push(expect);
                cursor = expect + 1;
              }
            } else {
              const id = live.splice(Math.max(op, 0) % live.length, 1)[0] as number;
              a.free(id, 1);
              used[id] = 0;
            }
            a.verify();
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("finds room the rotor itself was keeping apart", () => {
    const a = new VmemArena({ name: "r", base: 0, size: 8, quantum: 1, policy: "nextfit" });
    for (let i = 0; i < 8; i++) a.alloc(1);
    a.free(3, 1);
    assert.equal(a.alloc(1), 3); // rotor now after 3
    a.free(3, 1);
    a.free(4, 1); // [3] and [4] are free on both sides of the rotor
    assert.equal(a.stats().freeSegments, 2);
    assert.equal(a.alloc(2), 3, "moving the rotor on merges them");
    a.verify();
  });
});
