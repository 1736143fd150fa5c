/*
 * A node list_lock whose owner died (offlineCpu, sync/robust.ts): what it guards is rebuilt
 * from ground truth, with the lock held by the recovering context.
 *
 * Ground truth is the mem_map and the slabs themselves: every frame marked SLAB with the
 * cache's id on the node is one of its slabs (a new slab is marked SLAB only when it is
 * counted, under the lock: slow.ts countSlab); a slab's own freelist is what its frame
 * and free pointers say; a slab is frozen exactly when some cpu's slot names it (a slot's
 * cpu slab changes only under the slab's list_lock, so every slot can be read now). From
 * them: each slab's inuse (objects - its freelist's length) and state bits, the reserve of
 * empty slabs (every empty slab neither frozen nor set aside that had EMPTY set, up to
 * RESERVE_MAX of them, in mem_map order) and nr_empty, the partial list (every other slab
 * neither frozen, set aside nor full, in mem_map order), nr_partial and nr_slabs. A dead
 * context's critical section can have left, and the rebuild settles:
 *
 *   a partial slab half linked or unlinked          the list is rebuilt, links and all
 *   a reserve slab half linked or unlinked, its     in the reserve while EMPTY is set, else
 *   EMPTY bit not yet set or cleared                on the partial list
 *   nr_partial / nr_empty / nr_slabs not yet        recounted
 *   counted
 *   a slab taken off the list and not yet frozen    back on the list (roll back)
 *   a slot naming its new slab, the slab not yet    frozen (roll forward); the slot's first
 *   marked FROZEN, the slot's START/BITMAP unset    object and bitmap written
 *   a freelist both on the dead slot and on the     the slab's emptied: the objects are the
 *   slab (freeze or refill half done; deactivate's  slot's, which offlineCpu hands back next
 *   splice half done)                               (roll forward, or back for deactivate)
 *   the first object of a slab's freelist marked    its bit cleared: an allocation that had
 *   allocated                                       not taken it yet (roll back), or a
 *                                                   remote free that had pushed it and not
 *                                                   yet cleared its bit (roll forward)
 *   objects of the dead cpu's sheaf already on a    dropped from the sheaf, and an object
 *   slab's freelist (a sheaf flush half done)       in it twice kept once (a compaction
 *                                                   half done)
 *
 * slow.ts writes in the orders this needs (each prefix of a critical section is one of the
 * rows above); what a dead context had in hand outside the lock (a new slab not yet
 * counted, an object it was allocating) stays its own. Nothing read is trusted: walks are
 * bounded by the slab's objects, objects are checked to be slot starts; damage that no
 * death explains (a freelist leaving its slab, an allocated object inside a freelist) makes
 * the recovery fail, and offlineCpu reports the lock unrecovered.
 *
 * SLAB's shared and alien arrays (src/slab), which its list_lock also guards, are not
 * rebuilt here: a SLAB cache's list_lock is released without a repair.
 */

import { Frame, Pg, PgFlag } from "../memory/index.js";
import type { KmemCache } from "../slab-common/index.js";
import { bswap32, CpuSlot, RESERVE_MAX, SlabState, SlubPg } from "./layout.js";
import { cpuView } from "./registry.js";
import { deadObjectIndex } from "./slow.js";
import type { SlubAllocator } from "./slub.js";

/** The objects of a freelist from `head` (bounded, each a slot start of slab `pfn`). */
function walk(slub: SlubAllocator, c: KmemCache, pfn: number, head: number): number[] | null {
  const out: number[] = [];
  const seen = new Set<number>();
  const objects = slub.slabObjects(c, pfn);
  for (let obj = head >>> 0; obj !== 0;) {
    if (seen.has(obj) || out.length >= objects || deadObjectIndex(slub, c, pfn, obj) < 0)
      return null;
    seen.add(obj);
    out.push(obj);
    const fp = obj + c.offset;
    obj = (slub.phys.word(fp >>> 2) ^ c.secret ^ bswap32(fp)) >>> 0;
  }
  return out;
}

/** Clears object `idx`'s allocation bit in slab `pfn` (as a remote cpu would: Atomics). */
function clearBit(slub: SlubAllocator, c: KmemCache, pfn: number, idx: number): void {
  const wi = slub.bitmapWord(c, pfn) + (idx >>> 5);
  const m = 1 << (idx & 31);
  const ri = wi + c.remote;
  if (c.remote === 0) Atomics.and(slub.phys.wordView(ri), slub.phys.wordIndex(ri), ~m);
  else Atomics.xor(slub.phys.wordView(ri), slub.phys.wordIndex(ri), m);
}

/** Links `slabs` into the list whose head is descriptor word `at` (its count follows). */
function link(slub: SlubAllocator, c: KmemCache, at: number, slabs: number[]): void {
  const f = slub.f;
  for (let k = 0; k < slabs.length; k++) {
    const i = (slabs[k] as number) * Frame.WORDS;
    f[i + Pg.PREV] = k === 0 ? 0 : (slabs[k - 1] as number);
    f[i + Pg.NEXT] = slabs[k + 1] ?? 0;
  }
  c.dv[at] = slabs[0] ?? 0;
  c.dv[at + 1] = slabs.length;
}

/**
 * Rebuilds node `n`'s lists of cache `c` after cpu `dead` died holding their list_lock
 * (held now by this context). Returns what was done; throws on damage no death explains.
 */
export function recoverNode(slub: SlubAllocator, c: KmemCache, n: number, dead: number): string {
  const f = slub.f;
  const ds = cpuView(slub, c.desc, dead);
  // Slabs of this node some slot names (frozen), and the dead slot's cpu freelist.
  const frozen = new Set<number>();
  for (let cpu = 0; cpu < slub.nrCpus; cpu++) {
    const slot = cpu === slub.cpuId ? c.cpu : cpuView(slub, c.desc, cpu);
    const pfn = slot[CpuSlot.SLAB] as number;
    if (pfn === 0 || slub.slabNode(pfn) !== n) continue;
    const i = pfn * Frame.WORDS;
    if (((f[i + Pg.FLAGS] as number) & PgFlag.SLAB) === 0 || f[i + SlubPg.CACHE] !== c.realId) {
      if (cpu !== dead) throw new Error(`the slot of cpu ${cpu} names frame ${pfn}, not a slab`);
      ds.fill(0, CpuSlot.SLAB, CpuSlot.BITMAP + 1);
      ds[CpuSlot.FREELIST] = 0;
      ds[CpuSlot.SPAN] = 0;
      continue;
    }
    frozen.add(pfn);
  }
  const deadSlab = ds[CpuSlot.SLAB] as number;
  let deadList = new Set<number>();
  if (frozen.has(deadSlab)) {
    ds[CpuSlot.START] = deadSlab * slub.pageSize + c.redLeft;
    ds[CpuSlot.BITMAP] = slub.bitmapWord(c, deadSlab);
    ds[CpuSlot.SPAN] = slub.slabSpan(c, deadSlab);
    deadList = new Set(walk(slub, c, deadSlab, ds[CpuSlot.FREELIST] as number) ?? []);
  }
  const onFreelists = new Set<number>();
  const partial: number[] = [];
  const reserve: number[] = [];
  let slabs = 0;
  let fixed = 0;
  for (let pfn = slub.firstPfn; pfn < slub.totalPages;) {
    const p = pfn;
    const i = p * Frame.WORDS;
    const flags = f[i + Pg.FLAGS] as number;
    const order = f[i + Pg.ORDER] as number;
    pfn +=
      (flags & (PgFlag.HEAD | PgFlag.BUDDY)) !== 0 && order >= 0 && order < 32 ? 2 ** order : 1;
    if ((flags & PgFlag.SLAB) === 0 || f[i + SlubPg.CACHE] !== c.realId) continue;
    if (slub.slabNode(p) !== n) continue;
    slabs++;
    const before = f[i + SlubPg.COUNTERS] as number;
    if ((before & SlabState.QUARANTINED) !== 0) {
      // Set aside: its freelist is not trusted, and it is on no list.
      f[i + SlubPg.COUNTERS] = before & ~(SlabState.PARTIAL | SlabState.EMPTY);
      continue;
    }
    const isFrozen = frozen.has(p);
    let head = (f[i + SlubPg.FREELIST] as number) >>> 0;
    if (head !== 0 && p === deadSlab && deadList.has(head)) {
      // On the dead slot and on the slab: the slot's.
      f[i + SlubPg.FREELIST] = 0;
      head = 0;
      fixed++;
    }
    const list = walk(slub, c, p, head);
    if (list === null) throw new Error(`the freelist of the slab at frame ${p} is damaged`);
    for (let k = 0; k < list.length; k++) {
      const obj = list[k] as number;
      const idx = deadObjectIndex(slub, c, p, obj);
      if (slub.testBit(c, p, idx)) {
        if (k !== 0) throw new Error(`object ${obj} is allocated inside a freelist`);
        clearBit(slub, c, p, idx);
        fixed++;
      }
      if (deadList.has(obj)) throw new Error(`object ${obj} is on two freelists`);
      onFreelists.add(obj);
    }
    const objects = slub.slabObjects(c, p);
    const inuse = objects - list.length;
    let counters = (isFrozen ? SlabState.FROZEN : 0) | inuse;
    if (
      !isFrozen &&
      inuse === 0 &&
      (before & SlabState.EMPTY) !== 0 &&
      reserve.length < RESERVE_MAX
    ) {
      reserve.push(p);
      counters |= SlabState.EMPTY;
    } else if (!isFrozen && inuse < objects) {
      partial.push(p);
      counters |= SlabState.PARTIAL;
    }
    if (counters !== before) fixed++;
    f[i + SlubPg.COUNTERS] = counters;
  }
  // The partial list and the reserve, links and counts; nr_slabs.
  link(slub, c, slub.partialAt[n] as number, partial);
  link(slub, c, slub.emptyAt[n] as number, reserve);
  c.dv[slub.slabsAt[n] as number] = slabs;
  // The dead cpu's sheaf: objects already given back leave it, copies go.
  const count = Math.min(Math.max(ds[CpuSlot.SHEAF_COUNT] as number, 0), c.sheafCap);
  const kept = new Set<number>();
  let dropped = 0;
  for (let j = 0; j < count; j++) {
    const obj = (ds[CpuSlot.SHEAF + j] as number) >>> 0;
    if (onFreelists.has(obj) || kept.has(obj)) {
      dropped++;
      continue;
    }
    ds[CpuSlot.SHEAF + kept.size] = obj;
    kept.add(obj);
  }
  ds[CpuSlot.SHEAF_COUNT] = kept.size;
  return `${slabs} slabs, ${partial.length} partial and ${reserve.length} in reserve rebuilt from mem_map${fixed + dropped > 0 ? `, ${fixed} slab words and ${dropped} sheaf entries put right` : ""}`;
}
