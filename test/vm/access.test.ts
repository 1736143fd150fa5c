/*
 * read, write, virtToPhys and the typed accessors: physical and virtual addresses alike,
 * across page boundaries, little-endian as typed arrays over the buffer; FAULT (with nothing
 * written) for the NULL page, the reserved region, the hole, guard pages and beyond; bad
 * arguments as TypeError or RangeError naming the argument.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { __GFP_ZERO, Kmem, KmemError, ZERO_SIZE_PTR } from "../../src/index.js";

const MiB = 1 << 20;
const P = 4096;

function fault(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KmemError && err.code === "FAULT", String(err));
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  });
}

function setup() {
  const mm = new Kmem({ memory: 4 * MiB });
  const phys = mm.allocPages(2);
  const virt = mm.vmalloc(4 * P);
  return { mm, phys, virt };
}

/** Every typed accessor with a value that survives its round trip. */
const CASES = [
  ["Uint8", 1, 0xfe],
  ["Int8", 1, -3],
  ["Uint16", 2, 0xbeef],
  ["Int16", 2, -12345],
  ["Uint32", 4, 0xdeadbeef],
  ["Int32", 4, -123456789],
  ["Float32", 4, 1.5],
  ["Float64", 8, -2.25e-300],
  ["BigInt64", 8, -(2n ** 62n) - 5n],
  ["BigUint64", 8, 2n ** 64n - 2n],
] as const;

type Accessors = Record<string, (addr: number, value?: unknown) => unknown>;

describe("read and write", () => {
  it("copy bytes at physical and virtual addresses, across pages", () => {
    const { mm, phys, virt } = setup();
    const data = new Uint8Array(3 * P + 10).map((_, i) => (i * 13) & 0xff);
    for (const base of [phys, virt]) {
      mm.write(base + 7, data);
      const back = mm.read(base + 7, data.length);
      assert.deepEqual(back, data);
      back[0] = 99;
      assert.equal(mm.getUint8(base + 7), data[0], "read returns a copy");
    }
    assert.deepEqual(mm.read(virt, 0), new Uint8Array(0));
    mm.write(virt, new Uint8Array(0));
    mm.verify();
  });

  it("accept any ArrayBufferView, and a source inside managed memory", () => {
    const { mm, phys, virt } = setup();
    mm.write(virt, new Uint32Array([0x04030201]));
    assert.deepEqual([...mm.read(virt, 4)], [1, 2, 3, 4]);
    mm.write(virt + 4, new DataView(new Uint8Array([5, 6]).buffer));
    assert.deepEqual([...mm.read(virt, 6)], [1, 2, 3, 4, 5, 6]);
    mm.memory.fill(0x5a, phys, phys + 2 * P);
    mm.write(virt + 100, mm.memory.subarray(phys, phys + 2 * P));
    assert.ok(mm.read(virt + 100, 2 * P).every((b) => b === 0x5a));
  });

  it("fault on the NULL page, the reserved region, the hole and beyond the space", () => {
    const { mm, phys } = setup();
    fault(() => mm.read(0, 4), /NULL page/);
    fault(() => mm.getUint32(ZERO_SIZE_PTR), /NULL page/);
    fault(() => mm.read(P, 4), /reserved region/);
    fault(
      () => mm.read(mm.memory.length - 2, 4),
      /at 0x3ffffe: address 0x400000 is not mapped: it is in the hole/,
    );
    fault(() => mm.setUint8(mm.memory.length, 1), /hole/);
    fault(() => mm.getUint8(mm.vmallocEnd), /beyond the vmalloc space/);
    fault(() => mm.getUint8(2 ** 40), /beyond/);
    fault(() => mm.virtToPhys(0));
    assert.equal(mm.virtToPhys(phys + 5), phys + 5, "physical addresses are their own");
  });

  it("write nothing when any page of the range faults", () => {
    const { mm, virt } = setup();
    mm.write(virt, new Uint8Array(4 * P).fill(3));
    const snapshot = mm.memory.slice();
    fault(() => mm.write(virt + P, new Uint8Array(3 * P + 1).fill(9)), /guard page/);
    fault(() => mm.write(mm.memory.length - 10, new Uint8Array(20).fill(9)), /hole/);
    fault(() => mm.setFloat64(virt + 4 * P - 4, 1), /guard page/);
    assert.ok(Buffer.from(mm.memory).equals(Buffer.from(snapshot)));
  });

  it("reject malformed arguments, naming them", () => {
    const { mm, virt } = setup();
    assert.throws(() => mm.read(virt, -1), /length must be in 0\.\.4294967295, got -1/);
    assert.throws(() => mm.read(virt, 1.5), TypeError);
    assert.throws(
      () => mm.read(virt, "4" as unknown as number),
      /length must be a non-negative integer, got "4"/,
    );
    assert.throws(() => mm.read(-4, 4), /addr must be a non-negative address, got -4/);
    assert.throws(() => mm.read(virt + 0.5, 4), /addr must be an integer address/);
    assert.throws(() => mm.read(NaN, 0), TypeError);
    assert.throws(() => mm.getUint32(String(virt) as unknown as number), TypeError);
    assert.throws(
      () => mm.write(virt, [1, 2] as unknown as Uint8Array),
      /bytes must be a Uint8Array/,
    );
    assert.throws(
      () => mm.setUint32(virt, "1" as unknown as number),
      /value must be a number, got "1"/,
    );
    assert.throws(
      () => mm.setBigInt64(virt, 1 as unknown as bigint),
      /value must be a bigint, got 1/,
    );
    mm.verify();
  });
});

describe("typed accessors", () => {
  it("round-trip every type, little-endian, at physical and virtual addresses", () => {
    const { mm, phys, virt } = setup();
    const acc = mm as unknown as Accessors;
    for (const base of [phys, virt]) {
      for (const [type, size, value] of CASES) {
        for (const off of [0, 1, 3, P - size, 2 * P + 5]) {
          (acc[`set${type}`] as (a: number, v: unknown) => void).call(mm, base + off, value);
          assert.equal(
            (acc[`get${type}`] as (a: number) => unknown).call(mm, base + off),
            value,
            `${type} at +${off}`,
          );
        }
      }
    }
    mm.setUint32(virt + 64, 0x01020304);
    assert.deepEqual([...mm.read(virt + 64, 4)], [4, 3, 2, 1]);
    const p = mm.virtToPhys(virt + 64);
    assert.equal(
      new Uint32Array(mm.memory.buffer, p, 1)[0],
      0x01020304,
      "as a Uint32Array sees it",
    );
  });

  it("assemble an access that straddles two virtual pages from both frames", () => {
    const { mm, virt } = setup();
    const acc = mm as unknown as Accessors;
    for (const [type, size, value] of CASES) {
      for (let k = 1; k < size; k++) {
        const addr = virt + P - k; // k bytes in the first page, the rest in the second
        (acc[`set${type}`] as (a: number, v: unknown) => void).call(mm, addr, value);
        assert.equal(
          (acc[`get${type}`] as (a: number) => unknown).call(mm, addr),
          value,
          `${type} -${k}`,
        );
      }
    }
    mm.setUint32(virt + P - 2, 0xaabbccdd);
    const lo = mm.virtToPhys(virt + P - 2);
    const hi = mm.virtToPhys(virt + P);
    assert.deepEqual(
      [mm.memory[lo], mm.memory[lo + 1], mm.memory[hi], mm.memory[hi + 1]],
      [0xdd, 0xcc, 0xbb, 0xaa],
    );
  });

  it("see a remapping: a translation cached before vfree is not used after", () => {
    const mm = new Kmem({ memory: 4 * MiB });
    const page = mm.allocPages(0, __GFP_ZERO);
    mm.memory[page] = 7;
    const a = mm.vmalloc(P);
    mm.setUint32(a, 1);
    assert.equal(mm.getUint32(a), 1); // cached now
    mm.vfree(a);
    const v = mm.vmap([page]);
    assert.equal(v, a, "the same virtual page, another frame");
    assert.equal(mm.getUint32(v), 7);
  });
});
