/*
 * Memory above 2 GiB: addresses from 2^31 up have the sign bit set in the i32 words that
 * hold them (freelists, cpu slots, descriptor links, page-table entries). A 3 GiB instance
 * whose memory below 2 GiB is used up serves every allocator from above it; every address
 * handed out must be that unsigned number, contents intact, verify() clean.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem, type KmemOptions } from "../../src/index.js";

const GiB = 2 ** 30;

/** A 3 GiB instance with everything below 2 GiB allocated (kept). */
function high(options: Partial<KmemOptions>): Kmem {
  const mm = new Kmem({ memory: 3 * GiB, ...options });
  for (const order of [10, 0]) {
    const held: number[] = [];
    for (let a = mm.allocPages(order); a !== 0; a = mm.allocPages(order)) held.push(a);
    for (const a of held) if (a >= 2 * GiB) mm.freePages(a, order);
  }
  return mm;
}

function churn(mm: Kmem, ops: number): void {
  const c = mm.createCache("high", 48);
  assert.ok(c !== null);
  let seed = 1;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const stamp = (a: number) => (a ^ 0x1234) >>> 0;
  const live: [number, boolean][] = [];
  let above = 0;
  for (let i = 0; i < ops; i++) {
    const r = rnd();
    if (r < 0.5 || live.length === 0) {
      const fromCache = rnd() < 0.3;
      const a = fromCache ? c.alloc() : mm.kmalloc(8 + Math.floor(rnd() * 600));
      // The slabs of before (below 2 GiB) fill first; every new one is above.
      assert.ok(Number.isInteger(a) && a > 0 && a < 3 * GiB, `address ${a}`);
      if (a >= 2 * GiB) above++;
      mm.setUint32(a, stamp(a));
      live.push([a, fromCache]);
    } else if (r < 0.55) {
      const k = Math.floor(rnd() * live.length);
      const [a, fromCache] = live[k] as [number, boolean];
      if (fromCache) continue;
      const b = mm.krealloc(a, 8 + Math.floor(rnd() * 900));
      assert.ok(b > 0 && b < 3 * GiB);
      assert.equal(mm.getUint32(b), stamp(a), "krealloc keeps the contents");
      mm.setUint32(b, stamp(b));
      live[k] = [b, false];
    } else {
      const k = Math.floor(rnd() * live.length);
      const [a, fromCache] = live[k] as [number, boolean];
      live[k] = live[live.length - 1] as [number, boolean];
      live.pop();
      assert.equal(mm.getUint32(a), stamp(a), "contents intact");
      if (fromCache) c.free(a);
      else mm.kfree(a);
    }
  }
  assert.ok(above > ops / 4, `${above} allocations above 2 GiB`);
  mm.verify();
  for (const [a, fromCache] of live) {
    if (fromCache) c.free(a);
    else mm.kfree(a);
  }
  c.destroy();
}

function others(mm: Kmem): void {
  const v = mm.vmalloc(8 << 20);
  assert.ok(v !== 0);
  for (let o = 0; o < 8 << 20; o += 4096) mm.setUint32(v + o, o);
  for (let o = 0; o < 8 << 20; o += 4096) assert.equal(mm.getUint32(v + o), o);
  assert.ok(mm.virtToPhys(v) >= 2 * GiB);
  const pool = mm.createMempool(8, 256);
  assert.ok(pool !== null);
  const els = Array.from({ length: 20 }, () => pool.alloc());
  assert.ok(els.every((e) => e >= 2 * GiB));
  for (const e of els) pool.free(e);
  pool.destroy();
  const kv = mm.kvmalloc(5 << 20);
  mm.setUint32(kv + (5 << 20) - 4, 77);
  assert.equal(mm.getUint32(kv + (5 << 20) - 4), 77);
  mm.kvfree(kv);
  mm.vfree(v);
  mm.verify();
}

describe("memory above 2 GiB", () => {
  for (const [name, options] of [
    ["SLUB", {}],
    ["SLUB with FZPU", { debug: "FZPU" }],
    ["SLOB", { slab: "slob" }],
    ["SLUB with two cpus", { cpus: 2 }],
  ] as [string, Partial<KmemOptions>][]) {
    it(`${name}: every allocator serves unsigned addresses from above 2 GiB`, () => {
      const mm = high(options);
      churn(mm, 40000);
      others(mm);
    });
  }
});
