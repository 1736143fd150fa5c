/*
 * SLAB's checker, from the bytes alone: the cache list as SLUB's verify() checks it
 * (SLAB-7, -8, -9), every array of every cache (ASLAB-1..4), every slab of the mem_map
 * (SLAB-1, -5, -6 as SLUB's; SLABL-1..3) and every node's three lists and counts
 * (SLABL-4, -5); the ids are listed in slab.ts's header. Runs under slab_mutex and every
 * node list_lock of every cache; other online cpus' arrays are exact only while those cpus
 * are quiescent.
 */

import { hex, KmemError } from "../errors.js";
import { Frame, Pg, PgFlag } from "../memory/index.js";
import type { KmemCache } from "../slab-common/index.js";
import {
  activeObjects,
  type CachedObject,
  cacheDescriptors,
  checkPoison,
  checkRedZones,
  Desc,
  describeDamage,
  liveCaches,
  lockAllNodes,
  lockSlabMutex,
  origSize,
  owners,
  Poison,
  unlockAllNodes,
  unlockSlabMutex,
  verifyCaches,
} from "../slub/index.js";
import { viewsOf } from "./arrays.js";
import {
  Ac,
  ALIEN_LIMIT,
  ALIEN_STRIDE,
  Block,
  blockShape,
  blockWord,
  COLOUR_UNIT,
  freeLimit,
  Mgmt,
  Node,
  SlabList,
  SlabPg,
} from "./layout.js";
import type { ArrayViews, SlabAllocator } from "./slab.js";
import { getEntry, paddingOf, poisonsPadding, slabStart } from "./slabs.js";

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
  // A cache without arrays (debug, or per-cpu caching off) keeps its tunables for free_limit.
  if (slab.phys.word(w + Block.ARRAYS) === 0) return;
  if (limit < 1 || limit > cap || batch < 1 || batch > limit)
    corrupt("ASLAB-2", `${c.name}: tunables limit ${limit} batchcount ${batch}, ${cap} slots`);
  const arrays: { at: number; slots: number; where: string; node: number; perCpu: boolean }[] = [];
  for (let cpu = 0; cpu < slab.nrCpus; cpu++) {
    arrays.push({
      at: s.acBase + s.acStride * cpu,
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

/* ------------------------------------------------------------------ the slab layer */

/** Checks everything (see the file header); throws KmemError CORRUPTION, REDZONE or POISON. */
export function verifySlab(slab: SlabAllocator): void {
  lockSlabMutex(slab);
  const locked: KmemCache[] = [];
  try {
    cacheDescriptors(slab);
    if (slab.smp === true) liveCaches(slab);
    for (const c of slab.caches) {
      if (c === null || c.id !== c.realId) continue;
      lockAllNodes(slab, c);
      locked.push(c);
    }
    verifyCaches(slab);
    verifyLayer(slab);
  } finally {
    for (const c of locked.reverse()) unlockAllNodes(slab, c);
    unlockSlabMutex(slab);
  }
}

/** Index of the object starting at `obj` in slab `pfn` of `c`, or -1. */
function objectAt(slab: SlabAllocator, c: KmemCache, pfn: number, obj: number): number {
  const off = obj - slabStart(slab, pfn) - c.redLeft;
  return off < 0 || off >= c.span || off % c.size !== 0 ? -1 : off / c.size;
}

/** What the walk of the slabs learns, for the checks of the lists and the totals. */
interface Tally {
  /** Allocation bits set, by cache id. */
  bits: Map<number, number>;
  /** Objects set aside, by cache id. */
  setAside: Map<number, number>;
  /** Slabs by cache id * nrNodes + node: all, and set aside (on no list). */
  slabs: Map<number, number>;
  aside: Map<number, number>;
  /** Off-slab index arrays: address -> slab. */
  freelists: Map<number, number>;
}

function bump(m: Map<number, number>, k: number, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

function verifyLayer(slab: SlabAllocator): void {
  // The arrays' objects: free (bit clear), each held once (ASLAB-3).
  const held = new Map<number, string>();
  const heldBySlab = new Map<number, number>();
  for (const { c, obj, where, id } of cachedObjects(slab)) {
    const head = obj >>> 0 === obj ? slab.slabOf(obj) : 0;
    const k =
      head === 0 || slab.f[head * Frame.WORDS + SlabPg.CACHE] !== c.id
        ? -1
        : objectAt(slab, c, head, obj);
    if (k < 0) corrupt(id, `${where} of ${c.name} holds ${hex(obj)}, not an object of it`);
    if (slab.testBit(c, head, k))
      corrupt(id, `object ${hex(obj)} of ${c.name} is in ${where} but marked allocated`);
    if (held.has(obj)) corrupt(id, `${where} of ${c.name} holds ${hex(obj)}, held elsewhere too`);
    held.set(obj, where);
    bump(heldBySlab, head);
  }
  const t: Tally = {
    bits: new Map(),
    setAside: new Map(),
    slabs: new Map(),
    aside: new Map(),
    freelists: new Map(),
  };
  const f = slab.f;
  for (let pfn = slab.firstPfn; pfn < slab.totalPages;) {
    const flags = f[pfn * Frame.WORDS + Pg.FLAGS] as number;
    const order = f[pfn * Frame.WORDS + Pg.ORDER] as number;
    if ((flags & PgFlag.SLAB) !== 0) {
      const id = f[pfn * Frame.WORDS + SlabPg.CACHE] as number;
      const c = slab.caches[id];
      if (c === null || c === undefined || c.id !== c.realId)
        corrupt("SLAB-1", `slab at frame ${pfn} names cache id ${id}, which does not exist`);
      if (order !== c.order || (flags & PgFlag.HEAD) === 0)
        corrupt(
          "SLAB-1",
          `slab at frame ${pfn} has order ${order}, its cache ${c.name} uses ${c.order}`,
        );
      const b = (c.dv[blockWord(slab.nrCpus)] as number) >>> 0;
      if (b === 0) corrupt("SLABL-4", `slab at frame ${pfn} of ${c.name}, which has no node lists`);
      verifyOne(slab, c, viewsOf(slab, c, b), pfn, held, heldBySlab, t);
    }
    pfn += (flags & (PgFlag.HEAD | PgFlag.BUDDY)) !== 0 ? 2 ** order : 1;
  }
  for (const c of slab.caches) {
    if (c === null || c.id !== c.realId) continue;
    const quarantined = c.dv[Desc.QUARANTINED] as number;
    const seen = t.setAside.get(c.id) ?? 0;
    if (seen !== quarantined) {
      corrupt(
        "SLAB-5",
        `cache ${c.name}: ${seen} objects are set aside, the count says ${quarantined}`,
      );
    }
    const set = t.bits.get(c.id) ?? 0;
    const expected = activeObjects(slab, c) + quarantined;
    if (set !== expected)
      corrupt(
        "SLAB-5",
        `cache ${c.name}: ${set} objects are marked allocated, active + set aside is ${expected}`,
      );
    const b = (c.dv[blockWord(slab.nrCpus)] as number) >>> 0;
    for (let nid = 0; nid < slab.nrNodes; nid++) {
      const key = c.id * slab.nrNodes + nid;
      const n = t.slabs.get(key) ?? 0;
      const counted = c.dv[slab.slabsAt[nid] as number] as number;
      if (n !== counted) {
        const where = slab.nrNodes === 1 ? "" : ` on node ${nid}`;
        corrupt("SLAB-5", `cache ${c.name}: ${n} slabs exist${where}, nr_slabs says ${counted}`);
      }
      if (b !== 0) verifyNode(slab, c, viewsOf(slab, c, b), nid, n - (t.aside.get(key) ?? 0));
    }
  }
}

const LIST_NAMES = ["no", "full", "partial", "free"];

/** SLABL-1..3 and SLAB-6 for slab `pfn` of `c`. */
function verifyOne(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  pfn: number,
  held: Map<number, string>,
  heldBySlab: Map<number, number>,
  t: Tally,
): void {
  const f = slab.f;
  const i = pfn * Frame.WORDS;
  const counters = f[i + SlabPg.COUNTERS] as number;
  const num = c.objects;
  const base = pfn * slab.pageSize;
  const where = `slab ${hex(base)} (${c.name})`;
  const active = counters & SlabPg.ACTIVE_MASK;
  const list = (counters & SlabPg.LIST_MASK) >>> SlabPg.LIST_SHIFT;
  const shape = v.shape;
  const key = c.id * slab.nrNodes + slab.slabNode(pfn);
  bump(t.slabs, key);
  let bits = 0;
  for (let k = 0; k < num; k++) if (slab.testBit(c, pfn, k)) bits++;
  bump(t.bits, c.id, bits);
  if (active > num) corrupt("SLABL-1", `${where}: active ${active} of ${num} objects`);
  const offset = (counters >>> SlabPg.COLOUR_SHIFT) * COLOUR_UNIT;
  if (
    offset % shape.colourOff !== 0 ||
    offset / shape.colourOff >= Math.max(1, shape.colour) ||
    offset + num * c.size >
      (shape.mgmt === Mgmt.ON_SLAB ? shape.freelistAt : slab.pageSize << c.order)
  ) {
    corrupt(
      "SLABL-1",
      `${where}: colour offset ${offset}, colour_off ${shape.colourOff}, ${shape.colour} colours`,
    );
  }
  const first = base + offset + c.redLeft;
  if ((counters & SlabPg.QUARANTINED) !== 0) {
    if (list !== SlabList.NONE)
      corrupt("SLABL-4", `${where} is set aside but on the ${LIST_NAMES[list]} list`);
    bump(t.aside, key);
    let tagged = 0;
    for (let k = 0; k < num; k++) {
      if (slab.testBit(c, pfn, k) && slab.isSetAside(c, pfn, first + k * c.size)) tagged++;
    }
    bump(t.setAside, c.id, tagged);
    return;
  }
  const want = active === num ? SlabList.FULL : active === 0 ? SlabList.FREE : SlabList.PARTIAL;
  if (list !== want)
    corrupt(
      "SLABL-4",
      `${where} has ${active} of ${num} objects active but is marked for the ${LIST_NAMES[list]} list`,
    );
  // SLABL-2: where the index array is.
  const fl = (f[i + SlabPg.FREELIST] as number) >>> 0;
  if (shape.mgmt === Mgmt.ON_SLAB) {
    if (fl !== base + shape.freelistAt)
      corrupt("SLABL-2", `${where}: its index array is at ${hex(fl)}, not at its end`);
  } else if (shape.mgmt === Mgmt.OFF_SLAB) {
    const fc = v.fcache;
    const head = fl === 0 ? 0 : slab.slabOf(fl);
    const k =
      fc === null || head === 0 || f[head * Frame.WORDS + SlabPg.CACHE] !== fc.realId
        ? -1
        : objectAt(slab, fc, head, fl);
    if (fc === null || k < 0 || !slab.testBit(fc, head, k))
      corrupt("SLABL-2", `${where}: its index array ${hex(fl)} is not a live freelist object`);
    const other = t.freelists.get(fl);
    if (other !== undefined)
      corrupt("SLABL-2", `${where} shares its index array ${hex(fl)} with frame ${other}`);
    t.freelists.set(fl, pfn);
  } else if (active === num) {
    if (fl !== 0) corrupt("SLABL-2", `${where} is full but names an index array ${hex(fl)}`);
  } else {
    const k = objectAt(slab, c, pfn, fl);
    if (k < 0 || getEntry(slab, fl, num - 1, shape.idx) !== k)
      corrupt("SLABL-2", `${where}: its index array ${hex(fl)} is not in its last free object`);
  }
  // SLABL-3: the free part of the index array, and what `active` counts.
  const free = new Set<number>();
  for (let p = active; p < num; p++) {
    const o = getEntry(slab, fl, p, shape.idx);
    if (o >= num) corrupt("SLABL-3", `${where}: index array entry ${p} is ${o}, past ${num}`);
    if (free.has(o)) corrupt("SLABL-3", `${where}: object ${o} is free twice in its index array`);
    if (slab.testBit(c, pfn, o))
      corrupt("SLABL-3", `${where}: object ${o} is free in its index array but marked allocated`);
    const h = held.get(first + o * c.size);
    if (h !== undefined)
      corrupt("SLABL-3", `${where}: object ${o} is free in its index array and in ${h}`);
    free.add(o);
  }
  const inArrays = heldBySlab.get(pfn) ?? 0;
  if (active !== bits + inArrays)
    corrupt(
      "SLABL-3",
      `${where}: active ${active}, but ${bits} objects are allocated and ${inArrays} in arrays`,
    );
  if (c.debug !== 0) verifyDebug(slab, c, first, free);
  if (poisonsPadding(c)) {
    const [a, b, x, y] = paddingOf(slab, c, v, base, offset);
    for (const [from, to] of [
      [a, b],
      [x, y],
    ] as const) {
      for (let p = from; p < to; p++) {
        const got = slab.win(p)[p & slab.bm] as number;
        if (got !== Poison.INUSE) {
          throw new KmemError(
            "REDZONE",
            `SLAB-6: cache ${c.name}: slab padding overwritten at ${hex(p)} (0x${got.toString(16)}, not 0x5a), slab at ${hex(base)}`,
          );
        }
      }
    }
  }
}

/** SLAB-6: poison and red zones of every object of a debug slab. */
function verifyDebug(slab: SlabAllocator, c: KmemCache, first: number, free: Set<number>): void {
  for (let k = 0; k < c.objects; k++) {
    const obj = first + k * c.size;
    const damage = free.has(k)
      ? (checkPoison(slab.win(obj), c, obj & slab.bm) ??
        checkRedZones(slab.win(obj), c, obj & slab.bm, Poison.RED_INACTIVE))
      : checkRedZones(slab.win(obj), c, obj & slab.bm, Poison.RED_ACTIVE, origSize(slab, c, obj));
    if (damage !== null) {
      const code = damage.area === "object (poison)" ? "POISON" : "REDZONE";
      throw new KmemError(code, `SLAB-6: ${describeDamage(c, obj, damage, owners(slab, c, obj))}`);
    }
  }
}

/**
 * SLABL-4, -5 for node `nid` of `c`: its three lists hold exactly its `listed` slabs not
 * set aside, each in the state of its list, links and tails consistent; the counts.
 */
function verifyNode(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  nid: number,
  listed: number,
): void {
  const f = slab.f;
  const nr = v.nodes[nid] as Int32Array;
  const on = slab.nrNodes === 1 ? "" : ` of node ${nid}`;
  let total = 0;
  let freeObjects = 0;
  let freeSlabs = 0;
  for (const list of [SlabList.FULL, SlabList.PARTIAL, SlabList.FREE]) {
    const h = [0, Node.FULL_HEAD, Node.PARTIAL_HEAD, Node.FREE_HEAD][list] as number;
    const name = `the ${LIST_NAMES[list]} list${on} of ${c.name}`;
    let prev = 0;
    for (let p = nr[h] as number; p !== 0; p = f[p * Frame.WORDS + Pg.NEXT] as number) {
      if (
        p < slab.firstPfn ||
        p >= slab.totalPages ||
        ((f[p * Frame.WORDS + Pg.FLAGS] as number) & PgFlag.SLAB) === 0 ||
        f[p * Frame.WORDS + SlabPg.CACHE] !== c.id
      ) {
        corrupt("SLABL-4", `${name} holds frame ${p}, not one of its slabs`);
      }
      if (slab.slabNode(p) !== nid) corrupt("SLABL-4", `${name} holds frame ${p}, of another node`);
      const counters = f[p * Frame.WORDS + SlabPg.COUNTERS] as number;
      if ((counters & SlabPg.LIST_MASK) >>> SlabPg.LIST_SHIFT !== list)
        corrupt("SLABL-4", `${name} holds frame ${p}, marked for another list`);
      if (f[p * Frame.WORDS + Pg.PREV] !== prev)
        corrupt("SLABL-4", `${name}: frame ${p} has a wrong back link`);
      if (++total > listed)
        corrupt("SLABL-4", `the lists${on} of ${c.name} hold more slabs than exist, or cycle`);
      if (list !== SlabList.FULL) freeObjects += c.objects - (counters & SlabPg.ACTIVE_MASK);
      if (list === SlabList.FREE) freeSlabs++;
      prev = p;
    }
    if (nr[h + 1] !== prev)
      corrupt("SLABL-4", `${name} ends at frame ${prev}, its tail says ${nr[h + 1]}`);
  }
  if (total !== listed)
    corrupt(
      "SLABL-4",
      `the lists${on} of ${c.name} hold ${total} slabs, ${listed} are not set aside`,
    );
  if (nr[Node.FREE_SLABS] !== freeSlabs)
    corrupt(
      "SLABL-4",
      `${c.name}${on}: ${freeSlabs} free slabs, free_slabs says ${nr[Node.FREE_SLABS]}`,
    );
  if (nr[Node.FREE_OBJECTS] !== freeObjects)
    corrupt(
      "SLABL-5",
      `${c.name}${on}: ${freeObjects} free objects in its partial and free slabs, free_objects says ${nr[Node.FREE_OBJECTS]}`,
    );
  const limit = freeLimit(slab.nrCpus, v.hdr[Block.BATCH] as number, c.objects);
  if (nr[Node.FREE_LIMIT] !== limit)
    corrupt(
      "SLABL-5",
      `${c.name}${on}: free_limit ${nr[Node.FREE_LIMIT]}, (1 + cpus) * batchcount + num is ${limit}`,
    );
  const cn = nr[Node.COLOUR_NEXT] as number;
  if (cn < 0 || cn >= Math.max(1, v.shape.colour))
    corrupt("SLABL-5", `${c.name}${on}: colour_next ${cn} of ${v.shape.colour} colours`);
}
