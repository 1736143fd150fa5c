/*
 * Misuse of vfree, vunmap and kvfree throws KmemError with the contract's code before any
 * state changes (every byte of memory compared), and malformed arguments of every
 * virtual-memory entry point throw TypeError or RangeError naming the argument.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem } from "../../src/index.js";
import { assertBadArgument, assertMisuse } from "../helpers.js";

const MiB = 1 << 20;
const P = 4096;

function setup() {
  const mm = new Kmem({ memory: 4 * MiB });
  const area = mm.vmalloc(3 * P);
  const pages = [mm.allocPages(0), mm.allocPages(0)];
  const mapped = mm.vmap(pages);
  const gone = mm.vmalloc(P);
  mm.vfree(gone);
  const obj = mm.kmalloc(64);
  return { mm, area, mapped, gone, obj, page: pages[0] as number };
}

describe("vfree, vunmap and kvfree misuse", () => {
  it("vfree of an address vmalloc never returned: INVALID_FREE", () => {
    const { mm, area, obj, page } = setup();
    assertMisuse(mm, "INVALID_FREE", () => mm.vfree(page), true);
    assertMisuse(mm, "INVALID_FREE", () => mm.vfree(obj), true);
    assertMisuse(mm, "INVALID_FREE", () => mm.vfree(mm.vmallocEnd), true);
    assertMisuse(mm, "INVALID_FREE", () => mm.vfree(-P), true);
    const inside = assertMisuse(mm, "INVALID_FREE", () => mm.vfree(area + P), true);
    assert.match(inside.message, /not the start of an area: it is inside the area at 0x/);
    assertMisuse(mm, "INVALID_FREE", () => mm.vfree(area + 3 * P), true); // its guard page
    assertMisuse(mm, "INVALID_FREE", () => mm.vfree(area + 1), true);
  });

  it("double vfree: DOUBLE_FREE", () => {
    const { mm, gone } = setup();
    const err = assertMisuse(mm, "DOUBLE_FREE", () => mm.vfree(gone), true);
    assert.match(err.message, /already free/);
  });

  it("vfree of a vmap area and vunmap of a vmalloc area: INVALID_FREE naming the right call", () => {
    const { mm, area, mapped } = setup();
    const a = assertMisuse(mm, "INVALID_FREE", () => mm.vfree(mapped), true);
    assert.match(a.message, /mapped by vmap \(undo it with vunmap\)/);
    const b = assertMisuse(mm, "INVALID_FREE", () => mm.vunmap(area), true);
    assert.match(b.message, /came from vmalloc \(free it with vfree\)/);
    assertMisuse(mm, "INVALID_FREE", () => mm.vunmap(mapped + P), true);
  });

  it("vfree before any vmalloc: INVALID_FREE", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    assertMisuse(mm, "INVALID_FREE", () => mm.vfree(mm.vmallocStart), true);
    assertMisuse(mm, "INVALID_FREE", () => mm.vunmap(mm.vmallocStart), true);
  });

  it("kvfree of garbage: the code of the allocator the address points into", () => {
    const { mm, area, gone, page, obj } = setup();
    assertMisuse(mm, "INVALID_FREE", () => mm.kvfree(page), true); // allocPages memory
    assertMisuse(mm, "INVALID_FREE", () => mm.kvfree(area + 8), true);
    assertMisuse(mm, "DOUBLE_FREE", () => mm.kvfree(gone), true);
    assertMisuse(mm, "INVALID_FREE", () => mm.kvfree(obj + 8), true);
    assertMisuse(mm, "INVALID_FREE", () => mm.kvfree(mm.memory.length + P), true); // the hole
    assertMisuse(mm, "INVALID_FREE", () => mm.kvfree(2 ** 40), true);
    mm.kvfree(obj);
    assertMisuse(mm, "DOUBLE_FREE", () => mm.kvfree(obj), true);
  });

  it("freePages and kfree of vmalloc's pages: INVALID_FREE", () => {
    const { mm, area } = setup();
    const phys = mm.virtToPhys(area);
    const a = assertMisuse(mm, "INVALID_FREE", () => mm.freePages(phys, 0), true);
    assert.match(a.message, /belongs to vmalloc/);
    assertMisuse(mm, "INVALID_FREE", () => mm.kfree(phys), true);
  });
});

describe("bad arguments", () => {
  it("vmalloc, vzalloc, kvmalloc, kvzalloc: size and gfp", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    for (const fn of ["vmalloc", "vzalloc", "kvmalloc", "kvzalloc"] as const) {
      const call = (size: unknown, gfp?: unknown) =>
        (mm[fn] as (s: unknown, g?: unknown) => number).call(mm, size, gfp);
      assertBadArgument(mm, RangeError, /size must be a non-negative integer, got -1/, () =>
        call(-1),
      );
      assertBadArgument(mm, TypeError, /size must be a non-negative integer, got 1\.5/, () =>
        call(1.5),
      );
      assertBadArgument(mm, TypeError, /size must be a non-negative integer, got "8"/, () =>
        call("8"),
      );
      assertBadArgument(mm, RangeError, /gfp 0x80000000 has unknown bits/, () =>
        call(P, 0x80000000 | 0),
      );
      assertBadArgument(mm, TypeError, /gfp must be an integer mask/, () => call(P, "GFP_KERNEL"));
    }
  });

  it("vfree, vunmap, kvfree: the address", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    assertBadArgument(mm, TypeError, /vfree: address must be an integer, got "x"/, () =>
      mm.vfree("x" as unknown as number),
    );
    assertBadArgument(mm, TypeError, /vunmap: address must be an integer, got 1\.5/, () =>
      mm.vunmap(1.5),
    );
    assertBadArgument(mm, TypeError, /kvfree: address must be an integer/, () =>
      mm.kvfree(mm.vmallocStart + 0.5),
    );
    assertBadArgument(mm, TypeError, /kfree: address must be an integer/, () =>
      mm.kvfree(null as unknown as number),
    );
  });
});
