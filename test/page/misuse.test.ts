/*
 * Bad input and misuse of every page-level entry point: the right error, and not one byte of
 * allocator state changed (the header and mem_map are compared before and after).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GFP_KERNEL, Kmem, KmemError } from "../../src/index.js";
import { assertBadArgument, assertMisuse } from "../helpers.js";

const PAGE = 4096;

function setup() {
  const mm = new Kmem({ memory: 4 << 20, minFreeBytes: 0 });
  const free = mm.stats().freePages;
  const a = mm.allocPages(0);
  const b = mm.allocPages(2);
  const c = mm.allocPages(3);
  const stamp = () => {
    mm.memory.fill(0x11, a, a + PAGE);
    mm.memory.fill(0x22, b, b + 4 * PAGE);
    mm.memory.fill(0x33, c, c + 8 * PAGE);
  };
  const intact = () => {
    assert.ok(mm.memory.subarray(a, a + PAGE).every((x) => x === 0x11));
    assert.ok(mm.memory.subarray(b, b + 4 * PAGE).every((x) => x === 0x22));
    assert.ok(mm.memory.subarray(c, c + 8 * PAGE).every((x) => x === 0x33));
  };
  stamp();
  return { mm, a, b, c, intact, free };
}

describe("freePages misuse", () => {
  it("DOUBLE_FREE for an order-0 page already on the per-cpu list", () => {
    const { mm, a, intact } = setup();
    mm.freePages(a, 0);
    assertMisuse(mm, "DOUBLE_FREE", () => mm.freePages(a, 0));
    intact();
  });

  it("DOUBLE_FREE for a block already merged into a larger free block", () => {
    const { mm, b, c, intact } = setup();
    mm.freePages(c, 3);
    mm.drainPages();
    assertMisuse(mm, "DOUBLE_FREE", () => mm.freePages(c, 3));
    assertMisuse(mm, "DOUBLE_FREE", () => mm.freePages(c + PAGE, 0));
    assert.ok(b > 0);
    intact();
  });

  it("INVALID_FREE for a page inside an allocated block (not its head)", () => {
    const { mm, b, c, intact } = setup();
    const err = assertMisuse(mm, "INVALID_FREE", () => mm.freePages(b + PAGE, 0));
    assert.match(err.message, /not the head/);
    assertMisuse(mm, "INVALID_FREE", () => mm.freePages(c + 4 * PAGE, 2));
    intact();
  });

  it("INVALID_FREE for the wrong order, naming the order it was allocated with", () => {
    const { mm, b, intact } = setup();
    const err = assertMisuse(mm, "INVALID_FREE", () => mm.freePages(b, 1));
    assert.match(err.message, /allocated with order 2/);
    assertMisuse(mm, "INVALID_FREE", () => mm.freePages(b, 3));
    intact();
  });

  it("INVALID_FREE for unaligned, reserved, NULL and out-of-range addresses", () => {
    const { mm, a, intact } = setup();
    assertMisuse(mm, "INVALID_FREE", () => mm.freePages(a + 8, 0));
    assertMisuse(mm, "INVALID_FREE", () => mm.freePages(PAGE, 0));
    assertMisuse(mm, "INVALID_FREE", () => mm.freePages(mm.memory.length, 0));
    assertMisuse(mm, "INVALID_FREE", () => mm.freePages(-PAGE, 0));
    assertMisuse(mm, "INVALID_FREE", () => mm.freePages(2 ** 40, 0));
    intact();
  });

  it("detects misuse before touching anything, then goes on working", () => {
    const { mm, a, b, c, intact, free } = setup();
    assertMisuse(mm, "INVALID_FREE", () => mm.freePages(b, 0));
    intact();
    mm.freePages(a, 0);
    mm.freePages(b, 2);
    mm.freePages(c, 3);
    mm.verify();
    assert.equal(mm.stats().freePages, free);
  });

  it("freePages(0, order) does nothing, as Linux's free_pages(0)", () => {
    const { mm, intact } = setup();
    const before = mm.stats();
    mm.freePages(0, 3);
    assert.deepEqual(mm.stats(), before);
    intact();
  });

  it("KmemError carries its code and a message that names the address", () => {
    const { mm, a } = setup();
    mm.freePages(a, 0);
    try {
      mm.freePages(a, 0);
      assert.fail("no error");
    } catch (err) {
      assert.ok(err instanceof KmemError);
      assert.ok(err instanceof Error);
      assert.equal(err.name, "KmemError");
      assert.equal(err.code, "DOUBLE_FREE");
      assert.match(err.message, new RegExp(`0x${a.toString(16)}`));
    }
  });
});

describe("bad arguments", () => {
  it("allocPages: order and gfp", () => {
    const { mm, intact } = setup();
    for (const bad of [1.5, Number.NaN, "1", null, undefined, {}]) {
      assertBadArgument(mm, TypeError, /order must be an integer/, () =>
        mm.allocPages(bad as number),
      );
    }
    assertBadArgument(mm, RangeError, /order must be in 0\.\.10, got 11/, () => mm.allocPages(11));
    assertBadArgument(mm, RangeError, /order must be in 0\.\.10, got -1/, () => mm.allocPages(-1));
    assertBadArgument(mm, TypeError, /gfp/, () => mm.allocPages(0, 1.5));
    assertBadArgument(mm, TypeError, /gfp/, () => mm.allocPages(0, "x" as unknown as number));
    assertBadArgument(mm, RangeError, /gfp 0x1000cc0 has unknown bits 0x1000000/, () =>
      mm.allocPages(0, GFP_KERNEL | 0x1000000),
    );
    assertBadArgument(mm, RangeError, /gfp 0xffffffff has unknown bits/, () =>
      mm.allocPages(0, -1),
    );
    intact();
  });

  it("freePages: address and order", () => {
    const { mm, a, intact } = setup();
    for (const bad of [1.5, Number.NaN, "4096", null, undefined]) {
      assertBadArgument(mm, TypeError, /address must be an integer/, () =>
        mm.freePages(bad as number, 0),
      );
    }
    assertBadArgument(mm, TypeError, /order must be an integer/, () => mm.freePages(a, 0.5));
    assertBadArgument(mm, RangeError, /order must be in/, () => mm.freePages(a, 99));
    intact();
  });

  it("constructor options", () => {
    const cases: Array<[unknown, typeof TypeError | typeof RangeError, RegExp]> = [
      [undefined, TypeError, /options must be an object/],
      [{}, TypeError, /memory must be/],
      [{ memory: "64M" }, TypeError, /memory must be a byte count/],
      [{ memory: 1.5 }, TypeError, /memory must be an integer/],
      [{ memory: -1 }, RangeError, /memory must be in/],
      [{ memory: 2 ** 33 }, RangeError, /memory must be in/],
      [{ memory: 4096 }, RangeError, /too small/],
      [{ memory: 1 << 20, pageSize: 3000 }, RangeError, /pageSize must be a power of two/],
      [{ memory: 1 << 20, pageSize: 512 }, RangeError, /pageSize/],
      [{ memory: 1 << 20, pageSize: 1 << 17 }, RangeError, /pageSize/],
      [{ memory: 1 << 20, maxOrder: 0 }, RangeError, /maxOrder must be in 1\.\.20/],
      [{ memory: 1 << 20, maxOrder: 2.5 }, TypeError, /maxOrder must be an integer/],
      [{ memory: 1 << 20, minFreeBytes: -1 }, RangeError, /minFreeBytes/],
      [{ memory: 1 << 20, minFreeBytes: 1 << 30 }, RangeError, /minFreeBytes/],
      [{ memory: 1 << 20, debug: 5 }, TypeError, /debug must be a string/],
      [{ memory: 1 << 20, debug: "FQ" }, RangeError, /unknown letter "Q"/],
      [{ memory: 1 << 20, log: "yes" }, TypeError, /log must be a function/],
      [{ memory: 1 << 20, pagesize: 4096 }, TypeError, /unknown option "pagesize"/],
    ];
    for (const [options, type, pattern] of cases) {
      assert.throws(
        () => new Kmem(options as ConstructorParameters<typeof Kmem>[0]),
        (err: unknown) => err instanceof type && pattern.test((err as Error).message),
        `${JSON.stringify(options)} should throw ${type.name} ${pattern}`,
      );
    }
  });

  it("setFault, report, indices, shrinkers", () => {
    const { mm, intact } = setup();
    assertBadArgument(mm, TypeError, /fault name/, () =>
      mm.setFault("fail_everything" as "failslab", { probability: 1 }),
    );
    assertBadArgument(mm, TypeError, /options must be an object/, () =>
      mm.setFault("fail_page_alloc", 5 as unknown as null),
    );
    assertBadArgument(mm, RangeError, /probability must be in 0\.\.100/, () =>
      mm.setFault("fail_page_alloc", { probability: 101 }),
    );
    assertBadArgument(mm, RangeError, /interval/, () =>
      mm.setFault("fail_page_alloc", { probability: 1, interval: 0 }),
    );
    assertBadArgument(mm, RangeError, /times/, () =>
      mm.setFault("fail_page_alloc", { probability: 1, times: -2 }),
    );
    assertBadArgument(mm, RangeError, /minOrder/, () =>
      mm.setFault("fail_page_alloc", { probability: 1, minOrder: 11 }),
    );
    assertBadArgument(mm, TypeError, /ignoreGfpWait must be a boolean/, () =>
      mm.setFault("fail_page_alloc", { probability: 1, ignoreGfpWait: 1 as unknown as boolean }),
    );
    assertBadArgument(mm, TypeError, /unknown option "probabilty"/, () =>
      mm.setFault("fail_page_alloc", { probabilty: 1 } as unknown as { probability: number }),
    );
    assertBadArgument(mm, RangeError, /report name must be one of/, () =>
      mm.report("pagetypeinfo" as "meminfo"),
    );
    assertBadArgument(mm, RangeError, /order must be in 0\.\.10/, () => mm.unusableIndex(11));
    assertBadArgument(mm, TypeError, /order must be an integer/, () => mm.extfragIndex(0.5));
    assertBadArgument(mm, TypeError, /shrinker must be a function/, () =>
      mm.registerShrinker(null as unknown as () => number),
    );
    intact();
  });
});
