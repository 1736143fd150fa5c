/*
 * A zsmalloc pool whose lock's owner died (offlineCpu, src/sync/robust.ts), and a zspage a
 * dead cpu was making: what they guard is rebuilt from ground truth, or undone.
 *
 * The pool's lock (held by the recovering context while recoverPool runs). Ground truth
 * is the mem_map and the objects: every ZSMALLOC frame marked FIRST with the pool's id is
 * one of its zspages, but for those a cpu's intent record names as being made (BUILD:
 * offlineCpu frees the dead cpu's, a live cpu's is its own); its chain is its class's
 * pages, each pointing back at it; an object is allocated exactly when its header (a huge
 * zspage's: its frame) names a handle, and that handle's word names the object back. From
 * them: each zspage's inuse, free list and fullness group, every class's lists and counts,
 * obj_allocated, obj_used and the pool's pages_allocated. A dead context's critical section
 * can have left, and the rebuild settles:
 *
 *   a zspage half linked or unlinked, or isolated    the lists are rebuilt, links and all
 *   by compaction (on no list)
 *   counts or stats not yet updated                  recounted
 *   an object taken for a handle whose word does     freed: the handle was never given out
 *   not name it yet (obj_malloc of zs_malloc)        (roll back)
 *   an object migrated, its handle not yet           the copy freed (roll back); once the
 *   rewritten (migrate_zspage)                       handle names the copy, the source is
 *                                                    (roll forward)
 *   an object half freed (zs_free)                   free once its header is a free link,
 *                                                    allocated while it names its handle
 *   a zspage emptied, or half given back             its pages freed, a chain's leftovers
 *   (__free_zspage)                                  too
 *
 * Pages are not freed under the taken-over locks (the zone lock may be one of them): the
 * caller frees `pending` once every lock is released. Nothing read is trusted: chains are
 * bounded by the class's pages and checked to point back, handles checked to be aligned
 * words of memory; damage no death explains makes the recovery throw (offlineCpu reports
 * the lock unrecovered).
 *
 * A zspage being made (allocZspage: outside the lock, so that reclaim may run this pool's
 * compaction) is named by its cpu's intent record from its first page on; drainBuild frees
 * the dead cpu's chain (what it had in hand: the handle it would have returned is its own
 * too), and clears a COMPACTING word that names the dead cpu (compaction would never run
 * again).
 *
 * A mapping (zs_map_object) is named by its cpu's intent record (MAP, MAP_POOL), written
 * and cleared under the pool's lock with the zspage's mapcount: recoverPool recounts every
 * zspage's mapcount from the records of the cpus but the dead one (whose mapping is
 * gone), and offlineCpu's drain takes the dead cpu's mapping down (releaseMap) when it
 * died outside the lock; so compaction moves that zspage again.
 */

import { Frame, Hdr, Pg, PgFlag, type PhysMem } from "../memory/index.js";
import {
  FREE_END,
  Fullness,
  fullnessGroup,
  Intent,
  intentAt,
  OBJ_ALLOCATED_TAG,
  Pool,
  Rec,
  recordsOffset,
  Reg,
  registryWords,
  ZSPAGE_MAGIC,
  zsGeometry,
  ZsInfo,
  ZsPg,
} from "./layout.js";

const W = Frame.WORDS;
const ZS_FLAGS = PgFlag.HEAD | PgFlag.ZSMALLOC;

/** The registry's words, or null when there is none (or it is not one). */
export function registryOf(phys: PhysMem): Int32Array | null {
  const at = Atomics.load(phys.header, Hdr.ZS) >>> 0;
  if (at === 0 || (at & 3) !== 0) return null;
  const reg = phys.wordsAt(at, registryWords(phys.nrCpus));
  return reg[Reg.MAGIC] === Reg.MAGIC_VALUE ? reg : null;
}

/** Whether `handle` is an aligned word of managed memory (a handle's address may be). */
function handleWord(phys: PhysMem, handle: number): boolean {
  return (
    (handle & 7) === 0 &&
    handle >= phys.firstManagedPfn * phys.pageSize &&
    phys.hasFrame(handle >>> phys.pageShift)
  );
}

/** Clears a zspage page's frame and queues the page to be freed. */
function release(phys: PhysMem, pfn: number, pending: number[]): void {
  const f = phys.frames;
  const fi = pfn * W;
  f[fi + Pg.FLAGS] = PgFlag.HEAD;
  f[fi + Pg.NEXT] = 0;
  f[fi + Pg.PREV] = 0;
  f[fi + ZsPg.INFO] = 0;
  f[fi + ZsPg.INUSE] = 0;
  f[fi + ZsPg.NEXT_PAGE] = 0;
  f[fi + ZsPg.POOL] = 0;
  pending.push(pfn * phys.pageSize);
}

/** Whether frame `pfn` is a zspage page of pool `id` (not a mapping area). */
function isZsPage(phys: PhysMem, pfn: number, id: number): boolean {
  const f = phys.frames;
  const fi = pfn * W;
  if (!phys.hasFrame(pfn) || f[fi + Pg.FLAGS] !== ZS_FLAGS) return false;
  const info = f[fi + ZsPg.INFO] as number;
  return (
    (info & ZsInfo.MAGIC_MASK) === ZSPAGE_MAGIC &&
    (info & ZsInfo.MAP_AREA) === 0 &&
    ((f[fi + ZsPg.POOL] as number) & ZsInfo.POOL_MASK) === id
  );
}

/**
 * The pages of the zspage whose first page is `first` (pool `id`), at most `max`, each
 * checked to be a page of the pool pointing back at it; stops where the chain does.
 */
function chainOf(phys: PhysMem, first: number, id: number, max: number): number[] {
  const f = phys.frames;
  const out: number[] = [];
  const huge = ((f[first * W + ZsPg.INFO] as number) & ZsInfo.HUGE) !== 0;
  for (let pfn = first; pfn !== 0 && out.length < max;) {
    if (!isZsPage(phys, pfn, id)) break;
    if (pfn !== first && (f[pfn * W + Pg.NEXT] !== first || out.includes(pfn))) break;
    out.push(pfn);
    pfn = huge ? 0 : (f[pfn * W + ZsPg.NEXT_PAGE] as number);
  }
  return out;
}

/** First pfns of zspages of pool `at` some cpu's intent record names as being made. */
function building(phys: PhysMem, at: number): Map<number, number> {
  const out = new Map<number, number>();
  const reg = registryOf(phys);
  if (reg === null) return out;
  for (let cpu = 0; cpu < phys.nrCpus; cpu++) {
    const i = intentAt(phys.nrCpus, cpu);
    const pfn = reg[i + Intent.BUILD] as number;
    if (pfn !== 0 && (reg[i + Intent.BUILD_POOL] as number) >>> 0 === at) out.set(pfn, cpu);
  }
  return out;
}

/**
 * Rebuilds pool `at`'s classes after cpu `dead` died holding its lock (held now by this
 * context); pages to free go to `pending`. Returns what was done; throws on damage.
 */
export function recoverPool(phys: PhysMem, at: number, dead: number, pending: number[]): string {
  const f = phys.frames;
  const head = phys.wordsAt(at, Pool.CLASS_MAP);
  if (head[Pool.MAGIC] !== Pool.MAGIC_VALUE) throw new Error("the pool's descriptor has no magic");
  const chain = head[Pool.CHAIN] as number;
  const g = zsGeometry(phys.pageSize, chain, phys.maxPages);
  if (head[Pool.NR_RECORDS] !== g.size.length) throw new Error("the pool's geometry is damaged");
  const d = phys.wordsAt(at, recordsOffset(g) + g.size.length * Rec.WORDS);
  const base = recordsOffset(g);
  const id = d[Pool.ID] as number;
  const bits = g.objIndexBits;
  const ps = phys.pageSize;
  const shift = phys.pageShift;
  const mask = ps - 1;
  if ((Atomics.load(d, Pool.COMPACTING) as number) === dead + 1) {
    Atomics.store(d, Pool.COMPACTING, 0);
  }
  const made = building(phys, at);
  // Every page of the pool, and which zspage (first pfn) reaches it.
  const firsts: number[] = [];
  const others: number[] = [];
  for (let pfn = phys.firstManagedPfn; pfn < phys.totalPages; pfn++) {
    if (!isZsPage(phys, pfn, id)) continue;
    if (((f[pfn * W + ZsPg.INFO] as number) & ZsInfo.FIRST) !== 0) firsts.push(pfn);
    else others.push(pfn);
  }
  const reached = new Set<number>();
  for (let r = 0; r < g.size.length; r++) {
    const b = base + r * Rec.WORDS;
    for (let fg = 0; fg < Fullness.NR_GROUPS; fg++) {
      d[b + Rec.LISTS + fg] = 0;
      d[b + Rec.COUNTS + fg] = 0;
    }
    d[b + Rec.OBJS_ALLOCATED] = 0;
    d[b + Rec.OBJS_INUSE] = 0;
  }
  // Mappings: the live cpus' records, the dead cpu's dropped.
  const maps = new Map<number, number>();
  const reg = registryOf(phys);
  if (reg !== null) {
    for (let cpu = 0; cpu < phys.nrCpus; cpu++) {
      const i = intentAt(phys.nrCpus, cpu);
      if ((reg[i + Intent.MAP_POOL] as number) >>> 0 !== at) continue;
      const m = reg[i + Intent.MAP] as number;
      if (cpu === dead) {
        reg[i + Intent.MAP] = 0;
        reg[i + Intent.MAP_POOL] = 0;
      } else if (m !== 0) {
        maps.set(m, (maps.get(m) ?? 0) + 1);
      }
    }
  }
  let zspages = 0;
  let pages = 0;
  let emptied = 0;
  let dropped = 0;
  const live: boolean[] = [];
  for (const first of firsts) {
    if (made.has(first)) continue;
    const fi = first * W;
    const info = f[fi + ZsPg.INFO] as number;
    const cls = info >>> ZsInfo.CLASS_SHIFT;
    if (cls >= g.nrClasses) throw new Error(`the zspage at frame ${first} has no class`);
    const r = g.classRecord[cls] as number;
    const b = base + r * Rec.WORDS;
    const size = g.size[r] as number;
    const objs = g.objs[r] as number;
    const nr = g.pages[r] as number;
    const huge = (info & ZsInfo.HUGE) !== 0;
    const pfns = chainOf(phys, first, id, nr);
    if (pfns.length !== nr) {
      throw new Error(`the zspage at frame ${first} chains ${pfns.length} of ${nr} pages`);
    }
    for (const p of pfns) reached.add(p);
    // Its objects: allocated when header and handle name each other.
    let inuse = 0;
    live.length = 0;
    for (let k = 0; k < objs; k++) {
      const off = k * size;
      const page = pfns[off >>> shift] as number;
      const header = huge
        ? (f[fi + ZsPg.HUGE_HANDLE] as number)
        : phys.word((page * ps + (off & mask)) >>> 2);
      let ok = false;
      if ((header & OBJ_ALLOCATED_TAG) !== 0) {
        const handle = (header & ~OBJ_ALLOCATED_TAG) >>> 0;
        ok =
          handleWord(phys, handle) && phys.word(handle >>> 2) >>> 0 === ((page << bits) | k) >>> 0;
        if (!ok) dropped++;
      }
      live.push(ok);
      if (ok) inuse++;
    }
    if (inuse === 0) {
      for (const p of pfns) release(phys, p, pending);
      emptied++;
      continue;
    }
    // The free list, in index order; a huge zspage's free object has no handle.
    let freeobj: number = ZsInfo.NO_FREE;
    let prevLink = -1;
    for (let k = 0; k < objs; k++) {
      if (live[k] === true) continue;
      if (huge) f[fi + ZsPg.HUGE_HANDLE] = 0;
      if (prevLink >= 0) phys.setWord(prevLink, k << 1);
      else freeobj = k;
      const off = k * size;
      prevLink = ((pfns[off >>> shift] as number) * ps + (off & mask)) >>> 2;
    }
    if (prevLink >= 0 && !huge) phys.setWord(prevLink, FREE_END);
    f[fi + ZsPg.INUSE] = (freeobj << ZsInfo.FREEOBJ_SHIFT) | inuse;
    f[fi + ZsPg.POOL] =
      ((f[fi + ZsPg.POOL] as number) & ZsInfo.POOL_MASK) |
      ((maps.get(first) ?? 0) << ZsInfo.MAPCOUNT_SHIFT);
    // On the list of its group.
    const fg = fullnessGroup(inuse, objs);
    const next = d[b + Rec.LISTS + fg] as number;
    f[fi + Pg.NEXT] = next;
    f[fi + Pg.PREV] = 0;
    if (next !== 0) f[next * W + Pg.PREV] = first;
    d[b + Rec.LISTS + fg] = first;
    d[b + Rec.COUNTS + fg]!++;
    f[fi + ZsPg.INFO] =
      (info & ~(ZsInfo.FULLNESS_MASK << ZsInfo.FULLNESS_SHIFT)) | (fg << ZsInfo.FULLNESS_SHIFT);
    d[b + Rec.OBJS_ALLOCATED]! += objs;
    d[b + Rec.OBJS_INUSE]! += inuse;
    zspages++;
    pages += nr;
  }
  // Pages of a chain half given back (its first page gone already).
  let strays = 0;
  for (const p of others) {
    // A page of a zspage being made points at its first page before it is linked.
    if (reached.has(p) || made.has(f[p * W + Pg.NEXT] as number)) continue;
    release(phys, p, pending);
    strays++;
  }
  Atomics.store(d, Pool.PAGES_ALLOCATED, pages);
  return (
    `${zspages} zspages rebuilt from mem_map` +
    (emptied + strays + dropped > 0
      ? `, ${dropped} objects no handle names freed, ${emptied} empty zspages and ${strays} stray pages freed`
      : "")
  );
}

/**
 * Takes one mapping off zspage `first` of pool `at` (its lock held by the caller), the
 * mapping of a cpu that died outside the lock. Returns whether there was one to take.
 */
export function releaseMap(phys: PhysMem, at: number, first: number): boolean {
  const d = phys.wordsAt(at, Pool.CLASS_MAP);
  if (d[Pool.MAGIC] !== Pool.MAGIC_VALUE) return false;
  const id = d[Pool.ID] as number;
  const f = phys.frames;
  if (!isZsPage(phys, first, id) || ((f[first * W + ZsPg.INFO] as number) & ZsInfo.FIRST) === 0)
    return false;
  if ((f[first * W + ZsPg.POOL] as number) >>> ZsInfo.MAPCOUNT_SHIFT === 0) return false;
  Atomics.sub(f, first * W + ZsPg.POOL, ZsInfo.MAPCOUNT_ONE);
  return true;
}

/**
 * offlineCpu, once every lock is released: the zspage cpu `dead` was making (its intent
 * record) is freed into `pending`, and a pool it was compacting may be compacted again.
 * Returns what was done, or "" for nothing.
 */
export function drainBuild(phys: PhysMem, dead: number, pending: number[]): string {
  const reg = registryOf(phys);
  if (reg === null) return "";
  let out = "";
  const i = intentAt(phys.nrCpus, dead);
  const first = reg[i + Intent.BUILD] as number;
  const at = (reg[i + Intent.BUILD_POOL] as number) >>> 0;
  if (first !== 0) {
    const d = at !== 0 && (at & 3) === 0 ? phys.wordsAt(at, Pool.CLASS_MAP) : null;
    if (d !== null && d[Pool.MAGIC] === Pool.MAGIC_VALUE) {
      // Its first page, and every page pointing at it (linked from the one before or not).
      const id = d[Pool.ID] as number;
      const pfns = isZsPage(phys, first, id) ? [first] : [];
      const f = phys.frames;
      for (let pfn = phys.firstManagedPfn; pfns.length > 0 && pfn < phys.totalPages; pfn++) {
        if (pfn !== first && f[pfn * W + Pg.NEXT] === first && isZsPage(phys, pfn, id)) {
          if (((f[pfn * W + ZsPg.INFO] as number) & ZsInfo.FIRST) === 0) pfns.push(pfn);
        }
      }
      for (const p of pfns) release(phys, p, pending);
      out = `a zspage being made (${pfns.length} pages) freed`;
    }
    reg[i + Intent.BUILD] = 0;
    reg[i + Intent.BUILD_POOL] = 0;
  }
  const seen = new Set<number>();
  for (
    let p = reg[Reg.POOLS]! >>> 0;
    p !== 0 && (p & 3) === 0 && !seen.has(p) && seen.size < 1 << 16;
  ) {
    seen.add(p);
    const d = phys.wordsAt(p, Pool.CLASS_MAP);
    if (d[Pool.MAGIC] !== Pool.MAGIC_VALUE) break;
    if (Atomics.compareExchange(d, Pool.COMPACTING, dead + 1, 0) === dead + 1) {
      out += `${out === "" ? "" : "; "}compaction it held let go`;
    }
    p = d[Pool.NEXT]! >>> 0;
  }
  return out;
}
