/*
 * The page codecs: LZ4 round trips of random, repetitive and adversarial pages; the LZ4
 * block format read by hand; corrupted streams always a KmemError CORRUPTION with nothing
 * written outside the output range; same-filled detection; zstd where node:zlib has it.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import fc from "fast-check";
import { KmemError } from "../../src/index.js";
import {
  availableAlgorithms,
  fillSame,
  Lz4,
  lz4Bound,
  sameFilled,
  Zstd,
  type ZstdZlib,
  zstdZlib,
} from "../../src/codec/index.js";

const PAGE = 4096;

/** Pages of several kinds: random, runs of a few symbols, text, repeated blocks, words. */
const pageArb = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: PAGE }),
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 300 })), {
      maxLength: 60,
    })
    .map((runs) => {
      const out: number[] = [];
      for (const [v, n] of runs) for (let i = 0; i < n && out.length < PAGE; i++) out.push(v);
      return Uint8Array.from(out);
    }),
  fc.string({ maxLength: 1200 }).map((s) => new TextEncoder().encode(s.repeat(4)).slice(0, PAGE)),
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 70 }), fc.integer({ min: 1, max: PAGE }))
    .map(([block, n]) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = block[i % block.length] as number;
      return out;
    }),
  fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: PAGE / 4 }).map((ints) => {
    return new Uint8Array(Int32Array.from(ints).buffer);
  }),
);

function roundTrip(lz: Lz4, page: Uint8Array): Uint8Array {
  const comp = new Uint8Array(lz4Bound(page.length));
  const n = lz.compress(page, 0, page.length, comp, 0, comp.length);
  assert.ok(n > 0 && n <= lz4Bound(page.length));
  const out = new Uint8Array(page.length);
  lz.decompress(comp, 0, n, out, 0, page.length);
  return out;
}

describe("LZ4 block codec", () => {
  it("round-trips random, repetitive and adversarial pages", () => {
    const lz = new Lz4();
    fc.assert(
      fc.property(pageArb, (page) => {
        assert.deepEqual(roundTrip(lz, page), page);
      }),
      { numRuns: 400 },
    );
  });

  it("works between ranges of one SharedArrayBuffer, output deterministic", () => {
    const sab = new SharedArrayBuffer(4 * PAGE);
    const mem = new Uint8Array(sab);
    const json = new TextEncoder().encode(
      JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i % 7}` }))),
    );
    mem.set(json.subarray(0, PAGE), PAGE);
    const a = new Lz4();
    const n = a.compress(mem, PAGE, PAGE, mem, 2 * PAGE, PAGE);
    assert.ok(n > 0 && n < PAGE / 2, `JSON compresses (${n} bytes)`);
    // Another codec (another context) gives the same bytes, and so does a later call.
    const b = new Lz4();
    const again = new Uint8Array(PAGE);
    assert.equal(b.compress(mem, PAGE, PAGE, again, 0, PAGE), n);
    assert.deepEqual(again.subarray(0, n), mem.subarray(2 * PAGE, 2 * PAGE + n));
    assert.equal(a.compress(mem, PAGE, PAGE, again, 0, PAGE), n);
    assert.deepEqual(again.subarray(0, n), mem.subarray(2 * PAGE, 2 * PAGE + n));
    a.decompress(mem, 2 * PAGE, n, mem, 3 * PAGE, PAGE);
    assert.deepEqual(mem.subarray(3 * PAGE), mem.subarray(PAGE, 2 * PAGE));
  });

  it("reports an incompressible page as 0 when it does not fit the cap", () => {
    const lz = new Lz4();
    const page = new Uint8Array(PAGE);
    let x = 12345;
    for (let i = 0; i < PAGE; i++) page[i] = (x = Math.imul(x, 1103515245) + 12345) >>> 24;
    const out = new Uint8Array(2 * PAGE).fill(0xee);
    assert.equal(lz.compress(page, 0, PAGE, out, 0, PAGE - 1), 0);
    assert.ok(
      out.subarray(PAGE - 1).every((b) => b === 0xee),
      "nothing written past the cap",
    );
    assert.ok(lz.compress(page, 0, PAGE, out, 0, 2 * PAGE) > PAGE);
  });

  it("writes the LZ4 block format: a zero page is one match and five literals", () => {
    const lz = new Lz4();
    const out = new Uint8Array(64);
    const n = lz.compress(new Uint8Array(PAGE), 0, PAGE, out, 0, 64);
    // token 0x1f: one literal, match length 15+; offset 1; the lengths; last literals.
    assert.deepEqual(Array.from(out.subarray(0, 3)), [0x1f, 0x00, 0x01, 0x00].slice(0, 3));
    assert.equal(out[3], 0x00);
    assert.equal(out[n - 6], 0x50, "a final token of five literals");
    const back = new Uint8Array(PAGE).fill(1);
    lz.decompress(out, 0, n, back, 0, PAGE);
    assert.ok(back.every((b) => b === 0));
    // A hand-made stream: literals "abc", then a match of 6 at offset 3, then 5 literals.
    const hand = Uint8Array.from([0x32, 97, 98, 99, 3, 0, 0x50, 120, 120, 120, 120, 120]);
    const text = new Uint8Array(14);
    lz.decompress(hand, 0, hand.length, text, 0, 14);
    assert.equal(new TextDecoder().decode(text), "abcabcabcxxxxx");
  });

  it("a corrupted stream is a KmemError CORRUPTION, never a write outside the output", () => {
    const lz = new Lz4();
    fc.assert(
      fc.property(
        pageArb.filter((p) => p.length > 0),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.integer({ min: -8, max: 8 }),
        (page, flips, cut) => {
          const comp = new Uint8Array(lz4Bound(page.length));
          let n = lz.compress(page, 0, page.length, comp, 0, comp.length);
          for (const [at, v] of flips) comp[at % n] = v;
          n = Math.max(1, Math.min(comp.length, n + cut));
          // The output range sits inside guard bytes that must stay as they are.
          const out = new Uint8Array(page.length + 64).fill(0xa5);
          try {
            lz.decompress(comp, 0, n, out, 32, page.length);
          } catch (err) {
            assert.ok(err instanceof KmemError, String(err));
            assert.equal(err.code, "CORRUPTION");
          }
          assert.ok(out.subarray(0, 32).every((b) => b === 0xa5));
          assert.ok(out.subarray(32 + page.length).every((b) => b === 0xa5));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("random bytes as a stream: CORRUPTION or exact output, at once", () => {
    const lz = new Lz4();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 600 }), (junk) => {
        const out = new Uint8Array(PAGE + 16).fill(7);
        try {
          lz.decompress(junk, 0, junk.length, out, 8, PAGE);
        } catch (err) {
          assert.ok(err instanceof KmemError && err.code === "CORRUPTION", String(err));
        }
        assert.ok(out.subarray(0, 8).every((b) => b === 7));
        assert.ok(out.subarray(8 + PAGE).every((b) => b === 7));
      }),
    );
  });

  it("refuses an offset of 0, one before the output, and a short output", () => {
    const lz = new Lz4();
    const out = new Uint8Array(32);
    const bad = [
      [0x14, 97, 0, 0, 0x50, 1, 2, 3, 4, 5], // offset 0
      [0x14, 97, 2, 0, 0x50, 1, 2, 3, 4, 5], // offset 2 with one byte written
      [0x50, 1, 2, 3, 4, 5], // 5 literals for 6 bytes
      [0xf0, 255, 255], // a literal length running off the end
    ];
    for (const s of bad) {
      assert.throws(
        () => lz.decompress(Uint8Array.from(s), 0, s.length, out, 0, 6),
        (e: unknown) => e instanceof KmemError && e.code === "CORRUPTION",
      );
    }
  });
});

describe("same-filled pages", () => {
  it("finds a repeated 8-byte value, and nothing else", () => {
    const w = new Int32Array(1024);
    const v = new Int32Array(2);
    assert.equal(sameFilled(w, 0, 1024, v), true);
    assert.deepEqual(Array.from(v), [0, 0]);
    fillSame(w, 0, 1024, 7, -1);
    assert.equal(sameFilled(w, 0, 1024, v), true);
    assert.deepEqual(Array.from(v), [7, -1]);
    w[513] = 0;
    assert.equal(sameFilled(w, 0, 1024, v), false);
    fillSame(w, 0, 1024, 5, 5);
    w[1023] = 6;
    assert.equal(sameFilled(w, 0, 1024, v), false, "the last word is looked at first");
  });
});

describe("zstd", () => {
  it("is offered exactly where node:zlib has zstdCompressSync", () => {
    const has = zstdZlib() !== null;
    assert.equal(availableAlgorithms().includes("zstd"), has);
    assert.ok(availableAlgorithms().includes("lz4"));
  });

  it("the wrapper checks the cap, the output length and a bad stream", () => {
    // node:zlib's zstd where present; else deflate behind the same calls, to test the wrapper.
    const zlib: ZstdZlib = zstdZlib() ?? {
      zstdCompressSync: (d: Uint8Array) => deflateRawSync(d),
      zstdDecompressSync: (d: Uint8Array, o?: object) =>
        inflateRawSync(d, o as { maxOutputLength: number }),
      constants: {},
    };
    const z = new Zstd(zlib, 1);
    const page = new TextEncoder().encode("kmem ".repeat(PAGE / 5 + 1)).subarray(0, PAGE);
    const comp = new Uint8Array(PAGE);
    const n = z.compress(page, 0, PAGE, comp, 0, PAGE);
    assert.ok(n > 0 && n < 200);
    assert.equal(z.compress(page, 0, PAGE, comp, 0, 3), 0);
    const out = new Uint8Array(PAGE);
    z.decompress(comp, 0, n, out, 0, PAGE);
    assert.deepEqual(out, page);
    assert.throws(
      () => z.decompress(comp, 0, n, out, 0, PAGE - 1),
      (e: unknown) => e instanceof KmemError && e.code === "CORRUPTION",
    );
    comp.fill(0xff, 0, n);
    assert.throws(
      () => z.decompress(comp, 0, n, out, 0, PAGE),
      (e: unknown) => e instanceof KmemError && e.code === "CORRUPTION",
    );
  });
});
