/*
 * What every classic allocator's tests share: a model run (random alloc, free and realloc
 * against a reference of the live blocks: contents intact, no overlap, verify() after every
 * step), the fast-check arbitrary of its operations, and a run under page-allocator faults.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { type ClassicAllocator, Kmem } from "../../src/index.js";

export type Op =
  | { kind: "alloc"; size: number }
  | { kind: "free"; pick: number }
  | { kind: "realloc"; pick: number; size: number };

/** Sizes weighted towards the small ones kernels ask for, with page-sized and larger ones. */
export const sizeArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 512 }) },
  { weight: 3, arbitrary: fc.integer({ min: 513, max: 9000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 9001, max: 40000 }) },
  { weight: 1, arbitrary: fc.constant(0) },
);

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("alloc" as const), size: sizeArb }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("realloc" as const), pick: fc.nat(), size: sizeArb }),
  },
);

interface Block {
  addr: number;
  size: number;
  stamp: number;
}

function stampOf(b: Block, i: number): number {
  return (b.stamp * 31 + i * 7) & 0xff;
}

/** The model run's bookkeeping over one allocator. */
export class Model {
  readonly live: Block[] = [];
  private stamp = 1;

  constructor(
    readonly mm: Kmem,
    readonly a: ClassicAllocator,
  ) {}

  /** Records a fresh block: in managed memory, overlapping no other, stamped. */
  place(addr: number, size: number): void {
    const { mm, a } = this;
    const first = (mm.totalPages - mm.managedPages) * mm.pageSize;
    const usable = a.usableSize(addr);
    assert.ok(usable >= Math.max(size, 1), `usable ${usable} < ${size}`);
    assert.ok(addr >= first && addr + usable <= mm.totalPages * mm.pageSize, "in managed memory");
    for (const o of this.live) {
      const ou = a.usableSize(o.addr);
      assert.ok(
        addr + usable <= o.addr || o.addr + ou <= addr,
        `${a.name}: block ${addr}+${usable} overlaps ${o.addr}+${ou}`,
      );
    }
    const b = { addr, size, stamp: this.stamp++ };
    this.write(b);
    this.live.push(b);
  }

  private write(b: Block): void {
    const mem = this.mm.memory;
    for (let i = 0; i < b.size; i += 61) mem[b.addr + i] = stampOf(b, i);
    if (b.size > 0) mem[b.addr + b.size - 1] = stampOf(b, b.size - 1);
  }

  /** Asserts the block's first `n` stamped bytes (all of them by default) are intact. */
  check(b: Block, at = b.addr, n = b.size): void {
    const mem = this.mm.memory;
    for (let i = 0; i < n; i += 61) {
      assert.equal(mem[at + i], stampOf(b, i), `${this.a.name}: contents of ${b.addr} at ${i}`);
    }
    if (n === b.size && n > 0) assert.equal(mem[at + n - 1], stampOf(b, n - 1));
  }

  take(pick: number): Block | undefined {
    if (this.live.length === 0) return undefined;
    return this.live.splice(pick % this.live.length, 1)[0];
  }

  /** Applies one op; returns false when an allocation failed. */
  apply(op: Op): boolean {
    const { a } = this;
    switch (op.kind) {
      case "alloc": {
        const addr = a.alloc(op.size);
        if (addr === 0) return false;
        this.place(addr, op.size);
        return true;
      }
      case "free": {
        const b = this.take(op.pick);
        if (b === undefined) return true;
        this.check(b);
        a.free(b.addr);
        return true;
      }
      case "realloc": {
        const b = this.take(op.pick);
        if (b === undefined) return true;
        this.check(b);
        const addr = a.realloc(b.addr, op.size);
        if (addr === 0) {
          this.live.push(b);
          this.check(b);
          return false;
        }
        const kept = Math.min(b.size, op.size);
        for (let i = 0; i < kept; i += 61) {
          assert.equal(this.mm.memory[addr + i], stampOf(b, i), `${a.name}: realloc copies`);
        }
        this.place(addr, op.size);
        return true;
      }
    }
  }

  /** Frees every live block (checked) and verifies. */
  drain(): void {
    for (const b of this.live.splice(0)) {
      this.check(b);
      this.a.free(b.addr);
    }
    this.a.verify();
    this.mm.verify();
  }
}

/** A fresh instance small enough that a model run fills it now and then. */
export function smallKmem(): Kmem {
  return new Kmem({ memory: 4 << 20, minFreeBytes: 0 });
}

/**
 * Runs `ops` against a fresh allocator made by `make`: after every op the model's checks,
 * the allocator's verify() and kmem's; at the end every block is freed.
 */
export function runModel(make: (mm: Kmem) => ClassicAllocator | null, ops: Op[]): Model {
  const mm = smallKmem();
  const a = make(mm);
  assert.ok(a !== null);
  const m = new Model(mm, a);
  for (const op of ops) {
    m.apply(op);
    a.verify();
    const s = a.stats();
    assert.equal(s.live, m.live.length, `${a.name}: live count`);
  }
  mm.verify();
  m.drain();
  assert.equal(a.stats().live, 0);
  return m;
}

/** fast-check property: the model run holds for any op sequence. */
export function modelProperty(make: (mm: Kmem) => ClassicAllocator | null, runs = 60): void {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => {
      runModel(make, ops);
    }),
    { numRuns: runs },
  );
}

/**
 * With the page allocator failing at random (fail_page_alloc, 25%, every order): every allocation either
 * succeeds or returns 0, nothing live is lost or damaged, verify() passes after every op.
 * Returns the failures seen (the test asserts there were some).
 */
export function runUnderFaults(make: (mm: Kmem) => ClassicAllocator | null, seed: number): number {
  const mm = smallKmem();
  const a = make(mm);
  assert.ok(a !== null);
  const m = new Model(mm, a);
  const ops = fc.sample(fc.array(opArb, { minLength: 400, maxLength: 400 }), {
    seed,
    numRuns: 1,
  })[0];
  assert.ok(ops !== undefined);
  mm.setFault("fail_page_alloc", {
    probability: 25,
    times: -1,
    minOrder: 0,
    ignoreGfpWait: false,
  });
  let failures = 0;
  for (const op of ops) {
    if (!m.apply(op)) failures++;
    a.verify();
    for (const b of m.live) m.check(b);
  }
  mm.setFault("fail_page_alloc", null);
  mm.verify();
  m.drain();
  return failures;
}
