/*
 * SLUB's checker: verify() walks the cache list, every cpu slot, every slab of the mem_map
 * and every partial list, and reports the first broken invariant by its id (SLAB-1..11,
 * listed in slub.ts's header) with KmemError CORRUPTION, or REDZONE/POISON for debug damage.
 */

import { hex, KmemError } from "../errors.js";
import { Frame, Hdr, Pg, PgFlag } from "../memory/index.js";
import type { KmemCache } from "../slab-common/index.js";
import { checkPadding, checkPoison, checkRedZones, type Damage, describeDamage } from "./debug.js";
import { bswap32, CpuSlot, Desc, Poison, RESERVE_MAX, SlabState, SlubPg } from "./layout.js";
import { origSize, owners } from "./hooks.js";
import {
  activeObjects,
  cacheDescriptors,
  cpuSlots,
  liveCaches,
  lockSlabMutex,
  unlockSlabMutex,
} from "./registry.js";
import { lockAllNodes, unlockAllNodes } from "./slow.js";
import type { SlubAllocator } from "./slub.js";

/** verify()'s failure: the invariant's id and what is wrong. */
export function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}

/**
 * Checks SLAB-1..11; throws KmemError CORRUPTION (or REDZONE/POISON for debug damage).
 * Runs under slab_mutex and every node list_lock of every cache; what other online cpus hold in their
 * slots (cpu slabs, sheaves, counts) is exact only while those cpus are quiescent.
 */
export function verifySlub(slub: SlubAllocator): void {
  lockSlabMutex(slub);
  const locked: KmemCache[] = [];
  try {
    verifyList(slub);
    if (slub.smp === true) liveCaches(slub);
    for (const c of slub.caches) {
      if (c === null || c.id !== c.realId) continue;
      lockAllNodes(slub, c);
      locked.push(c);
    }
    verifyLocked(slub);
  } finally {
    for (const c of locked.reverse()) unlockAllNodes(slub, c);
    unlockSlabMutex(slub);
  }
}

/** Every cpu's slot of every real cache, with the pfn of its cpu slab. */
function allSlots(slub: SlubAllocator): { c: KmemCache; slot: Int32Array; cpu: number }[] {
  const out: { c: KmemCache; slot: Int32Array; cpu: number }[] = [];
  for (const c of slub.caches) {
    if (c === null || c.id !== c.realId) continue;
    cpuSlots(slub, c).forEach((slot, cpu) => out.push({ c, slot, cpu }));
  }
  return out;
}

function verifyLocked(slub: SlubAllocator): void {
  verifyCaches(slub);
  /** Objects found set aside, by cache id. */
  const setAside = new Map<number, number>();
  const f = slub.f;
  const bits = new Map<number, number>();
  const slabs = new Map<number, number>();
  /** Slabs with EMPTY set, by cache id and node. */
  const reserved = new Map<number, number>();
  /** Cpu slab pfn -> the slot that has it. */
  const frozen = new Map<number, Int32Array>();
  for (const { slot } of allSlots(slub)) {
    const pfn = slot[CpuSlot.SLAB] as number;
    if (pfn === 0) continue;
    if (frozen.has(pfn)) corrupt("SLAB-9", `frame ${pfn} is the cpu slab of two cpus`);
    frozen.set(pfn, slot);
  }
  const sheaves = verifySheaves(slub);
  for (let pfn = slub.firstPfn; pfn < slub.totalPages;) {
    const flags = f[pfn * Frame.WORDS + Pg.FLAGS] as number;
    const order = f[pfn * Frame.WORDS + Pg.ORDER] as number;
    if ((flags & PgFlag.SLAB) !== 0) {
      const id = f[pfn * Frame.WORDS + SlubPg.CACHE] as number;
      const c = slub.caches[id];
      if (c === null || c === undefined || c.id !== c.realId)
        corrupt("SLAB-1", `slab at frame ${pfn} names cache id ${id}, which does not exist`);
      if (order < c.order || order > c.topOrder || (flags & PgFlag.HEAD) === 0)
        corrupt(
          "SLAB-1",
          `slab at frame ${pfn} has order ${order}, its cache ${c.name} uses ${c.order === c.topOrder ? c.order : `${c.order}..${c.topOrder}`}`,
        );
      bits.set(
        id,
        (bits.get(id) ?? 0) + verifySlab(slub, c, pfn, frozen.get(pfn), sheaves, setAside),
      );
      const key = id * slub.nrNodes + slub.slabNode(pfn);
      slabs.set(key, (slabs.get(key) ?? 0) + 1);
      if (((f[pfn * Frame.WORDS + SlubPg.COUNTERS] as number) & SlabState.EMPTY) !== 0)
        reserved.set(key, (reserved.get(key) ?? 0) + 1);
    }
    pfn += (flags & (PgFlag.HEAD | PgFlag.BUDDY)) !== 0 ? 2 ** order : 1;
  }
  for (const c of slub.caches) {
    if (c === null || c.id !== c.realId) continue;
    const set = bits.get(c.id) ?? 0;
    const expected = activeObjects(slub, c) + (c.dv[Desc.QUARANTINED] as number);
    const seen = setAside.get(c.id) ?? 0;
    if (seen !== c.dv[Desc.QUARANTINED]) {
      corrupt(
        "SLAB-5",
        `cache ${c.name}: ${seen} objects are set aside, the count says ${c.dv[Desc.QUARANTINED]}`,
      );
    }
    if (set !== expected)
      corrupt(
        "SLAB-5",
        `cache ${c.name}: ${set} objects are marked allocated, active + set aside is ${expected}`,
      );
    for (let nid = 0; nid < slub.nrNodes; nid++) {
      const n = slabs.get(c.id * slub.nrNodes + nid) ?? 0;
      const counted = c.dv[slub.slabsAt[nid] as number] as number;
      if (n !== counted) {
        const where = slub.nrNodes === 1 ? "" : ` on node ${nid}`;
        corrupt("SLAB-5", `cache ${c.name}: ${n} slabs exist${where}, nr_slabs says ${counted}`);
      }
    }
    // SLAB-4: the partial lists, one per node.
    for (let nid = 0; nid < slub.nrNodes; nid++) verifyPartial(slub, c, nid);
    // SLAB-11: the reserves of empty slabs, one per node.
    for (let nid = 0; nid < slub.nrNodes; nid++)
      verifyReserve(slub, c, nid, reserved.get(c.id * slub.nrNodes + nid) ?? 0);
  }
}

/** SLAB-11: node `nid`'s reserve of empty slabs of `c`; `marked`: its slabs with EMPTY set. */
function verifyReserve(slub: SlubAllocator, c: KmemCache, nid: number, marked: number): void {
  const f = slub.f;
  const at = slub.emptyAt[nid] as number;
  const nr = c.dv[at + 1] as number;
  const where = `the reserve of ${c.name}${slub.nrNodes === 1 ? "" : ` on node ${nid}`}`;
  if (nr < 0 || nr > RESERVE_MAX)
    corrupt("SLAB-11", `${where}: nr_empty is ${nr}, outside 0..${RESERVE_MAX}`);
  let len = 0;
  let prev = 0;
  for (let p = c.dv[at] as number; p !== 0; p = f[p * Frame.WORDS + Pg.NEXT] as number) {
    if (
      p < slub.firstPfn ||
      p >= slub.totalPages ||
      ((f[p * Frame.WORDS + Pg.FLAGS] as number) & PgFlag.SLAB) === 0 ||
      f[p * Frame.WORDS + SlubPg.CACHE] !== c.id ||
      slub.slabNode(p) !== nid
    ) {
      corrupt("SLAB-11", `${where} holds frame ${p}, not one of its slabs on that node`);
    }
    const counters = f[p * Frame.WORDS + SlubPg.COUNTERS] as number;
    if (
      (counters & ~SlabState.INUSE_MASK) !== SlabState.EMPTY ||
      (counters & SlabState.INUSE_MASK) !== 0
    ) {
      corrupt("SLAB-11", `${where} holds frame ${p} with counters ${hex(counters >>> 0)}`);
    }
    if (f[p * Frame.WORDS + Pg.PREV] !== prev)
      corrupt("SLAB-11", `${where}: frame ${p} has a wrong back link`);
    if (++len > nr) corrupt("SLAB-11", `${where} is longer than nr_empty or cyclic`);
    prev = p;
  }
  if (len !== nr) corrupt("SLAB-11", `${where} has ${len} slabs, nr_empty says ${nr}`);
  if (marked !== len)
    corrupt("SLAB-11", `${where} has ${len} slabs, ${marked} slabs are marked EMPTY`);
}

function verifyPartial(slub: SlubAllocator, c: KmemCache, nid: number): void {
  const f = slub.f;
  const at = slub.partialAt[nid] as number;
  const nr = c.dv[at + 1] as number;
  let len = 0;
  let prev = 0;
  for (let p = c.dv[at] as number; p !== 0; p = f[p * Frame.WORDS + Pg.NEXT] as number) {
    if (
      slub.nrNodes > 1 &&
      (p < slub.firstPfn || p >= slub.totalPages || slub.buddy.nodeOf(p) !== nid)
    ) {
      corrupt(
        "SLAB-4",
        `partial list of ${c.name} for node ${nid} holds frame ${p}, of another node`,
      );
    }
    const counters = f[p * Frame.WORDS + SlubPg.COUNTERS] as number;
    if (
      ((f[p * Frame.WORDS + Pg.FLAGS] as number) & PgFlag.SLAB) === 0 ||
      f[p * Frame.WORDS + SlubPg.CACHE] !== c.id
    ) {
      corrupt("SLAB-4", `partial list of ${c.name} holds frame ${p}, not one of its slabs`);
    }
    if (
      (counters & SlabState.PARTIAL) === 0 ||
      (counters & (SlabState.FROZEN | SlabState.QUARANTINED)) !== 0
    ) {
      corrupt(
        "SLAB-4",
        `partial list of ${c.name} holds frame ${p} in state ${hex(counters >>> 16)}`,
      );
    }
    if ((counters & SlabState.INUSE_MASK) >= slub.slabObjects(c, p))
      corrupt("SLAB-4", `partial list of ${c.name} holds the full slab at frame ${p}`);
    if (f[p * Frame.WORDS + Pg.PREV] !== prev)
      corrupt("SLAB-4", `partial list of ${c.name}: frame ${p} has a wrong back link`);
    if (++len > nr)
      corrupt("SLAB-4", `partial list of ${c.name} is longer than nr_partial or cyclic`);
    prev = p;
  }
  if (len !== nr)
    corrupt("SLAB-4", `partial list of ${c.name} has ${len} slabs, nr_partial says ${nr}`);
}

/**
 * SLAB-7, the list itself: every link lands on a descriptor inside memory with its magic
 * and the right back link, with no cycle. Checked before any handle is built from it.
 */
function verifyList(slub: SlubAllocator): void {
  cacheDescriptors(slub);
}

/**
 * SLAB-7: the slab_caches list holds every live descriptor once, each with its magic,
 * id and flags; SLAB-8: a cache's reference count is its aliases (+1 while its own name lives);
 * SLAB-9: a cpu slot is empty, or names a frozen slab of its cache with that slab's first
 * object, bitmap and span.
 */
export function verifyCaches(slub: SlubAllocator): void {
  const live = slub.caches.filter((c) => c !== null).length;
  let n = 0;
  for (let d = (slub.h[Hdr.SLAB_CACHES] as number) >>> 0; d !== 0;) {
    const w = d >>> 2;
    const c = slub.caches[slub.phys.word(w + Desc.ID)];
    if (c === null || c === undefined || c.desc !== d)
      corrupt(
        "SLAB-7",
        `descriptor at ${hex(d)} has id ${slub.phys.word(w + Desc.ID)}, which is not its cache's`,
      );
    if (++n > live) corrupt("SLAB-7", "slab_caches is longer than the number of caches, or cyclic");
    d = slub.phys.word(w + Desc.NEXT) >>> 0;
  }
  if (n !== live) corrupt("SLAB-7", `slab_caches holds ${n} caches, ${live} exist`);
  for (const c of slub.caches) {
    if (c === null || c.id !== c.realId) continue;
    if (c.dv[Desc.FLAGS] !== c.flags)
      corrupt("SLAB-7", `cache ${c.name} has flags ${c.dv[Desc.FLAGS]}, made with ${c.flags}`);
    let aliases = 0;
    for (const a of slub.caches) if (a !== null && a.realId === c.id && a.id !== c.id) aliases++;
    if (c.dv[Desc.REFCOUNT] !== (c.dv[Desc.NAME_DEAD] !== 0 ? 0 : 1) + aliases)
      corrupt(
        "SLAB-8",
        `cache ${c.name} has refcount ${c.dv[Desc.REFCOUNT]} with ${aliases} aliases`,
      );
    cpuSlots(slub, c).forEach((cpu, id) => {
      const pfn = cpu[CpuSlot.SLAB] as number;
      if (pfn === 0) {
        if (cpu[CpuSlot.FREELIST] !== 0)
          corrupt("SLAB-9", `cache ${c.name} has a cpu freelist but no cpu slab on cpu ${id}`);
        return;
      }
      const flags =
        pfn > 0 && pfn < slub.totalPages ? (slub.f[pfn * Frame.WORDS + Pg.FLAGS] as number) : 0;
      if ((flags & PgFlag.SLAB) === 0 || slub.f[pfn * Frame.WORDS + SlubPg.CACHE] !== c.id) {
        corrupt(
          "SLAB-9",
          `cache ${c.name}'s cpu slab on cpu ${id} is frame ${pfn}, not one of its slabs`,
        );
      }
      if (
        (cpu[CpuSlot.START] as number) >>> 0 !== pfn * slub.pageSize + c.redLeft ||
        cpu[CpuSlot.BITMAP] !== slub.bitmapWord(c, pfn) ||
        cpu[CpuSlot.SPAN] !== slub.slabSpan(c, pfn)
      ) {
        corrupt(
          "SLAB-9",
          `cache ${c.name}'s slot of cpu ${id} does not match its cpu slab at frame ${pfn}`,
        );
      }
    });
  }
}

/**
 * SLAB-10: a cpu sheaf holds at most its cache's capacity of distinct objects, each the
 * start of an object of one of the cache's slabs, not allocated (own ^ remote bit clear). Returns the
 * sheaf objects by slab frame.
 */
function verifySheaves(slub: SlubAllocator): Map<number, Set<number>> {
  const bySlab = new Map<number, Set<number>>();
  for (const { c, slot: cpu } of allSlots(slub)) {
    const n = cpu[CpuSlot.SHEAF_COUNT] as number;
    if (n < 0 || n > (c.dv[Desc.SHEAF_CAP] as number)) {
      corrupt(
        "SLAB-10",
        `the cpu sheaf of ${c.name} holds ${n} objects, its capacity is ${c.dv[Desc.SHEAF_CAP]}`,
      );
    }
    for (let j = 0; j < n; j++) {
      const obj = (cpu[CpuSlot.SHEAF + j] as number) >>> 0;
      const head = obj >>> 0 === obj ? slub.slabOf(obj) : 0;
      const off = obj - (head * slub.pageSize + c.redLeft);
      if (
        head === 0 ||
        slub.f[head * Frame.WORDS + SlubPg.CACHE] !== c.id ||
        off < 0 ||
        off >= c.span ||
        off % c.size !== 0
      ) {
        corrupt("SLAB-10", `the cpu sheaf of ${c.name} holds ${hex(obj)}, not an object of it`);
      }
      if (slub.testBit(c, head, off / c.size)) {
        corrupt(
          "SLAB-10",
          `object ${hex(obj)} of ${c.name} is in the cpu sheaf but marked allocated`,
        );
      }
      const set = bySlab.get(head) ?? new Set<number>();
      if (set.has(obj)) corrupt("SLAB-10", `the cpu sheaves of ${c.name} hold ${hex(obj)} twice`);
      set.add(obj);
      bySlab.set(head, set);
    }
  }
  // Objects of caches of free objects outside SLUB's own (SLAB's arrays): the same checks.
  for (const { c, obj, where, id } of slub.cachedObjects()) {
    const head = obj >>> 0 === obj ? slub.slabOf(obj) : 0;
    const off = obj - (head * slub.pageSize + c.redLeft);
    if (
      head === 0 ||
      slub.f[head * Frame.WORDS + SlubPg.CACHE] !== c.id ||
      off < 0 ||
      off >= c.span ||
      off % c.size !== 0
    ) {
      corrupt(id, `${where} of ${c.name} holds ${hex(obj)}, not an object of it`);
    }
    if (slub.testBit(c, head, off / c.size))
      corrupt(id, `object ${hex(obj)} of ${c.name} is in ${where} but marked allocated`);
    const set = bySlab.get(head) ?? new Set<number>();
    if (set.has(obj)) corrupt(id, `${where} of ${c.name} holds ${hex(obj)}, held elsewhere too`);
    set.add(obj);
    bySlab.set(head, set);
  }
  return bySlab;
}

/**
 * SLAB-2, -3, -6 for one slab; returns its number of bitmap bits set. A slab set aside adds
 * the objects it holds set aside to `setAside` (by cache id) instead.
 */
function verifySlab(
  slub: SlubAllocator,
  c: KmemCache,
  pfn: number,
  cpuSlot: Int32Array | undefined,
  sheaves: Map<number, Set<number>>,
  setAside: Map<number, number>,
): number {
  const isCpuSlab = cpuSlot !== undefined;
  const inSheaf = sheaves.get(pfn) ?? new Set<number>();
  const f = slub.f;
  const i = pfn * Frame.WORDS;
  const counters = f[i + SlubPg.COUNTERS] as number;
  const base = pfn * slub.pageSize;
  const start = base + c.redLeft;
  const objects = slub.slabObjects(c, pfn);
  const end = start + objects * c.size;
  let set = 0;
  for (let k = 0; k < objects; k++) if (slub.testBit(c, pfn, k)) set++;
  if ((counters & SlabState.QUARANTINED) !== 0) {
    // Objects set aside carry their tag; the others are live or free as anywhere else.
    let tagged = 0;
    for (let k = 0; k < objects; k++) {
      if (slub.testBit(c, pfn, k) && slub.isSetAside(c, pfn, start + k * c.size)) tagged++;
    }
    setAside.set(c.id, (setAside.get(c.id) ?? 0) + tagged);
    return set;
  }
  if (((counters & SlabState.FROZEN) !== 0) !== isCpuSlab) {
    corrupt(
      "SLAB-4",
      `slab at frame ${pfn} of ${c.name} is ${isCpuSlab ? "a cpu slab but not frozen" : "frozen but no cpu's slab"}`,
    );
  }
  const seen = new Set<number>();
  const walk = (head: number, what: string): number => {
    let n = 0;
    for (let obj = head; obj !== 0;) {
      const off = obj - start;
      if (obj < start || obj >= end || off % c.size !== 0)
        corrupt(
          "SLAB-2",
          `${what} of slab ${hex(base)} (${c.name}) holds ${hex(obj)}, not an object of it`,
        );
      if (seen.has(obj))
        corrupt("SLAB-2", `${what} of slab ${hex(base)} (${c.name}) holds ${hex(obj)} twice`);
      if (inSheaf.has(obj))
        corrupt("SLAB-10", `object ${hex(obj)} of ${c.name} is on ${what} and in the cpu sheaf`);
      seen.add(obj);
      if (slub.testBit(c, pfn, off / c.size))
        corrupt("SLAB-2", `object ${hex(obj)} of ${c.name} is on ${what} but marked allocated`);
      n++;
      const fp = obj + c.offset;
      obj = (slub.phys.word(fp >>> 2) ^ c.secret ^ bswap32(fp)) >>> 0;
    }
    return n;
  };
  const own = walk((f[i + SlubPg.FREELIST] as number) >>> 0, "the freelist");
  if ((counters & SlabState.INUSE_MASK) !== objects - own) {
    corrupt(
      "SLAB-2",
      `slab ${hex(base)} (${c.name}): inuse ${counters & SlabState.INUSE_MASK}, but ${own} of ${objects} objects are on its freelist`,
    );
  }
  const cpuFree =
    cpuSlot !== undefined
      ? walk((cpuSlot[CpuSlot.FREELIST] as number) >>> 0, "the cpu freelist")
      : 0;
  if (set + own + cpuFree + inSheaf.size !== objects) {
    corrupt(
      "SLAB-3",
      `slab ${hex(base)} (${c.name}): ${set} allocated + ${own + cpuFree} free + ${inSheaf.size} in the sheaf != ${objects} objects`,
    );
  }
  if (c.debug !== 0) verifyDebug(slub, c, pfn, seen);
  return set;
}

/** SLAB-6: poison and red zones of every object of a debug slab, and its padding. */
function verifyDebug(slub: SlubAllocator, c: KmemCache, pfn: number, free: Set<number>): void {
  const base = pfn * slub.pageSize;
  const objects = slub.slabObjects(c, pfn);
  for (let k = 0; k < objects; k++) {
    const obj = base + c.redLeft + k * c.size;
    const isFree = free.has(obj);
    let damage: Damage | null;
    if (isFree)
      damage =
        checkPoison(slub.win(obj), c, obj & slub.bm) ??
        checkRedZones(slub.win(obj), c, obj & slub.bm, Poison.RED_INACTIVE);
    else
      damage = checkRedZones(
        slub.win(obj),
        c,
        obj & slub.bm,
        Poison.RED_ACTIVE,
        origSize(slub, c, obj),
      );
    if (damage !== null) {
      const code = damage.area === "object (poison)" ? "POISON" : "REDZONE";
      throw new KmemError(code, `SLAB-6: ${describeDamage(c, obj, damage, owners(slub, c, obj))}`);
    }
  }
  const pad = checkPadding(
    slub.win(base),
    c,
    base & slub.bm,
    slub.pageSize << (slub.f[pfn * Frame.WORDS + Pg.ORDER] as number),
    objects,
  );
  if (pad !== null) throw new KmemError("REDZONE", `SLAB-6: ${describeDamage(c, base, pad, "")}`);
}
