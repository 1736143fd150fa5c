/*
 * verify() walks the page tables and the area records from the bytes alone: metadata
 * corrupted on purpose is reported as CORRUPTION with the id of the invariant it breaks.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, KmemError } from "../../src/index.js";
import { Frame, Hdr, Pg, PgFlag } from "../../src/memory/index.js";
import { PgVm, Va, VmDesc } from "../../src/vm/layout.js";
import { memMap } from "../helpers.js";

const MiB = 1 << 20;
const P = 4096;

/** An instance with two vmalloc areas and a vmap area, and raw views of its state. */
function setup() {
  const mm = new Kmem({ memory: 4 * MiB });
  const a = mm.vmalloc(3 * P);
  const b = mm.vmalloc(P);
  const v = mm.vmap([mm.allocPages(0)]);
  const words = new Int32Array(mm.buffer);
  const desc = (words[Hdr.VMALLOC] as number) >>> 2;
  const pgd = ((words[desc + VmDesc.PGD] as number) * P) >>> 2;
  /** Word index of the pte of virtual address `addr` (two levels with 4 KiB pages). */
  const pte = (addr: number) => {
    const page = (addr - mm.vmallocStart) / P;
    const table = ((words[pgd + (page >>> 10)] as number) & ~(P - 1)) >>> 2;
    return table + (page & 1023);
  };
  /** The record of the area at `addr`, found along the address list. */
  const record = (addr: number) => {
    const page = (addr - mm.vmallocStart) / P;
    let rec = words[desc + VmDesc.HEAD] as number;
    while (words[(rec >>> 2) + Va.START] !== page) rec = words[(rec >>> 2) + Va.NEXT] as number;
    return rec >>> 2;
  };
  mm.verify();
  return { mm, a, b, v, words, desc, pte, record, frames: memMap(mm) };
}

function corrupted(mm: Kmem, id: string): void {
  assert.throws(
    () => mm.verify(),
    (err: unknown) => {
      assert.ok(err instanceof KmemError && err.code === "CORRUPTION", String(err));
      assert.match(err.message, new RegExp(`^CORRUPTION: ${id}: `));
      return true;
    },
  );
}

describe("verify() of the virtual-memory layer", () => {
  it("VM-1: the descriptor anchor, magic and geometry", () => {
    const s1 = setup();
    s1.words[Hdr.VMALLOC] = 0;
    corrupted(s1.mm, "VM-1");
    const s2 = setup();
    s2.words[s2.desc + VmDesc.MAGIC] = 0;
    corrupted(s2.mm, "VM-1");
    const s3 = setup();
    s3.words[s3.desc + VmDesc.NR_PAGES]!++;
    corrupted(s3.mm, "VM-1");
  });

  it("VM-2: page-table entries, counts and frames", () => {
    const s1 = setup();
    s1.words[s1.pte(s1.a)]! |= 4; // a bit no entry has
    corrupted(s1.mm, "VM-2");
    const s2 = setup();
    const table = s2.pte(s2.a) >>> 10; // the pte table's frame
    s2.frames[table * Frame.WORDS + PgVm.PT_ENTRIES]!++;
    corrupted(s2.mm, "VM-2");
    const s3 = setup();
    s3.words[s3.desc + VmDesc.NR_PGTABLE]!++;
    corrupted(s3.mm, "VM-2");
    const s4 = setup();
    s4.frames[(s4.pte(s4.a) >>> 10) * Frame.WORDS + PgVm.PT_LEVEL] = 1;
    corrupted(s4.mm, "VM-2");
  });

  it("VM-3: the records tile the space", () => {
    const s1 = setup();
    s1.words[s1.record(s1.b) + Va.START]!++;
    corrupted(s1.mm, "VM-3");
    const s2 = setup();
    s2.words[s2.record(s2.b) + Va.PREV] = 0;
    corrupted(s2.mm, "VM-3");
    const s3 = setup();
    s3.words[s3.record(s3.b) + Va.INFO]! |= 7 << Va.FLAGS_SHIFT;
    corrupted(s3.mm, "VM-3");
  });

  it("VM-4: free neighbours are merged", () => {
    const s = setup();
    // Mark b free without merging it into the free space after it.
    s.mm.vfree(s.a);
    const b = s.record(s.b);
    s.words[b + Va.INFO] =
      ((s.words[b + Va.INFO] as number) & Va.HEIGHT_MASK) | (1 << Va.FLAGS_SHIFT);
    corrupted(s.mm, "VM-4");
  });

  it("VM-5: the trees and counts", () => {
    const s1 = setup();
    s1.words[s1.record(s1.a) + Va.INFO]! += 3; // a wrong height
    corrupted(s1.mm, "VM-5");
    const s2 = setup();
    s2.words[s2.desc + VmDesc.NR_BUSY]!++;
    corrupted(s2.mm, "VM-5");
    const s3 = setup();
    s3.words[s3.desc + VmDesc.BUSY_ROOT] = 0;
    corrupted(s3.mm, "VM-5");
  });

  it("VM-6: guard pages unmapped, every other page mapped to its own frame", () => {
    const s1 = setup();
    // Map a's guard page (and count it, so the table itself is consistent).
    s1.words[s1.pte(s1.a + 3 * P)] = s1.mm.allocPages(0) | 1;
    s1.frames[(s1.pte(s1.a) >>> 10) * Frame.WORDS + PgVm.PT_ENTRIES]!++;
    corrupted(s1.mm, "VM-6");
    const s2 = setup();
    const frame = (s2.mm.virtToPhys(s2.a + P) / P) * Frame.WORDS;
    s2.frames[frame + PgVm.VM_PAGE]!++;
    corrupted(s2.mm, "VM-6");
    const s3 = setup();
    // Point a's second page at b's frame.
    s3.words[s3.pte(s3.a + P)] = s3.words[s3.pte(s3.b)] as number;
    corrupted(s3.mm, "VM-6");
  });

  it("VM-7: nr_vmalloc counts the vmalloc areas' frames", () => {
    const s1 = setup();
    s1.words[s1.desc + VmDesc.NR_VMALLOC]!--;
    corrupted(s1.mm, "VM-7");
    const s2 = setup();
    // A VMALLOC frame no area maps.
    const page = s2.mm.allocPages(0) / P;
    s2.frames[page * Frame.WORDS + Pg.FLAGS] = PgFlag.HEAD | PgFlag.VMALLOC;
    corrupted(s2.mm, "VM-7");
  });
});

describe("a cycle in an area tree", () => {
  for (const slab of ["slub", "slob"] as const) {
    for (const root of [VmDesc.BUSY_ROOT, VmDesc.FREE_ROOT]) {
      const tree = root === VmDesc.BUSY_ROOT ? "busy" : "free";
      it(`${slab}: a node linked to itself is CORRUPTION or harmless, never a stack overflow or a hang (${tree} tree)`, () => {
        const calls = [
          (mm: Kmem) => mm.verify(),
          (mm: Kmem) => mm.vmalloc(P),
          (mm: Kmem, areas: number[]) => mm.vfree(areas[0] as number),
          (mm: Kmem, areas: number[]) => mm.vfree(areas[2] as number),
          (mm: Kmem) => mm.vmalloc(40 * P),
        ];
        let corruption = 0;
        for (const call of calls) {
          const mm = new Kmem({ memory: 4 * MiB, slab });
          const areas = [mm.vmalloc(3 * P), mm.vmalloc(P), mm.vmalloc(2 * P)];
          mm.vfree(areas[1] as number);
          const words = new Int32Array(mm.buffer);
          const desc = (words[Hdr.VMALLOC] as number) >>> 2;
          const node = (words[desc + root] as number) >>> 2;
          words[node + Va.LEFT] = node * 4;
          words[node + Va.RIGHT] = node * 4;
          try {
            call(mm, areas);
          } catch (err) {
            assert.ok(err instanceof KmemError, String(err));
            assert.equal(err.code, "CORRUPTION");
            corruption++;
          }
        }
        assert.ok(corruption >= 2, "verify and the search down the tree find the cycle");
      });
    }
  }
});
