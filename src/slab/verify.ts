/*
 * SLAB's checker: every array of every cache, read from the bytes (the descriptor's block
 * word, the block's header and arrays), checked for ASLAB-1, -2 and -4 (slab.ts's header);
 * their objects are handed to SLUB's verify(), which checks ASLAB-3 and counts them where
 * it counts sheaf objects (SLAB-2, -3, -5). Runs inside SLUB's verify(), under slab_mutex and
 * every node list_lock of every cache; other online cpus' arrays are exact only while those
 * cpus are quiescent.
 */

import { hex, KmemError } from "../errors.js";
import type { KmemCache } from "../slab-common/index.js";
import type { CachedObject } from "../slub/index.js";
import { Ac, ALIEN_LIMIT, ALIEN_STRIDE, Block, blockShape, blockWord } from "./layout.js";
import type { SlabAllocator } from "./slab.js";

function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}

export function cachedObjects(slab: SlabAllocator): CachedObject[] {
  const out: CachedObject[] = [];
  for (const c of slab.caches) {
    if (c === null || c.id !== c.realId) continue;
    const b = (c.dv[blockWord(slab.nrCpus)] as number) >>> 0;
    if (b === 0) continue;
    arraysOfCache(slab, c, b, out);
  }
  return out;
}

function arraysOfCache(slab: SlabAllocator, c: KmemCache, b: number, out: CachedObject[]): void {
  if ((b & 3) !== 0 || !slab.phys.hasByte(b) || !slab.phys.hasByte(b + Block.WORDS * 4 - 1))
    corrupt("ASLAB-1", `the array block of ${c.name} is at ${hex(b)}, outside memory`);
  const w = b >>> 2;
  if (slab.phys.word(w + Block.MAGIC) !== Block.MAGIC_VALUE)
    corrupt("ASLAB-1", `the array block of ${c.name} at ${hex(b)} has a bad magic`);
  if (slab.phys.word(w + Block.CACHE) !== c.id)
    corrupt("ASLAB-1", `the array block of ${c.name} at ${hex(b)} names another cache`);
  const order = slab.phys.word(w + Block.ORDER);
  const cap = slab.phys.word(w + Block.CAP);
  const sharedCap = slab.phys.word(w + Block.SHARED_CAP);
  const limit = slab.phys.word(w + Block.LIMIT);
  const batch = slab.phys.word(w + Block.BATCH);
  const s = blockShape(cap, sharedCap, slab.nrCpus, slab.nrNodes);
  if (order < 0 || order >= slab.maxOrder || s.words * 4 > slab.pageSize << order)
    corrupt("ASLAB-1", `the array block of ${c.name} does not fit its order ${order}`);
  if (limit < 1 || limit > cap || batch < 1 || batch > limit)
    corrupt("ASLAB-2", `${c.name}: tunables limit ${limit} batchcount ${batch}, ${cap} slots`);
  const arrays: { at: number; slots: number; where: string; node: number; perCpu: boolean }[] = [];
  for (let cpu = 0; cpu < slab.nrCpus; cpu++) {
    arrays.push({
      at: Block.WORDS + s.acStride * cpu,
      slots: cap,
      where: `the array cache of cpu ${cpu}`,
      node: -1,
      perCpu: true,
    });
  }
  if (sharedCap > 0) {
    for (let n = 0; n < slab.nrNodes; n++) {
      arrays.push({
        at: s.sharedBase + s.sharedStride * n,
        slots: sharedCap,
        where: `the shared array of node ${n}`,
        node: -1,
        perCpu: false,
      });
    }
  }
  if (slab.nrNodes > 1) {
    for (let cpu = 0; cpu < slab.nrCpus; cpu++) {
      for (let n = 0; n < slab.nrNodes; n++) {
        arrays.push({
          at: s.alienBase + ALIEN_STRIDE * (cpu * slab.nrNodes + n),
          slots: ALIEN_LIMIT,
          where: `the alien array of cpu ${cpu} for node ${n}`,
          node: n,
          perCpu: false,
        });
      }
    }
  }
  for (const a of arrays) {
    const aw = w + a.at;
    const avail = slab.phys.word(aw + Ac.AVAIL);
    const lim = slab.phys.word(aw + Ac.LIMIT);
    const bat = slab.phys.word(aw + Ac.BATCH);
    if (lim < 0 || lim > a.slots || avail < 0 || avail > a.slots)
      corrupt("ASLAB-2", `${a.where} of ${c.name}: avail ${avail}, limit ${lim}, ${a.slots} slots`);
    if (a.perCpu && (lim < 1 || bat < 1 || bat > lim))
      corrupt("ASLAB-2", `${a.where} of ${c.name}: limit ${lim} batchcount ${bat}`);
    for (let j = 0; j < avail; j++) {
      const obj = slab.phys.word(aw + Ac.ENTRY + j) >>> 0;
      if (a.node >= 0) {
        const head = slab.slabOf(obj);
        if (head !== 0 && slab.buddy.nodeOf(head) !== a.node)
          corrupt("ASLAB-4", `${a.where} of ${c.name} holds ${hex(obj)}, of another node`);
      }
      out.push({ c, obj, where: a.where, id: "ASLAB-3" });
    }
  }
}
