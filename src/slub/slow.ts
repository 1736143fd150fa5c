/*
 * SLUB's slow paths and partial lists (Linux mm/slub.c ___slab_alloc, get_partial,
 * allocate_slab, deactivate_slab, __slab_free, discard_slab): what runs when a cpu's
 * freelist or sheaf cannot serve, under a node's list_lock unless said otherwise; slabs and
 * objects set aside as corrupt; shrinking, and flushing cpu slots and sheaves.
 *
 * Functions take the allocator (slub.ts, whose header has the locks and invariants);
 * its fast paths call them.
 */

import { hex } from "../errors.js";
import { CpuRequest, Frame, Pg, PgFlag, type PhysMem, Vm } from "../memory/index.js";
import { Gfp } from "../page/index.js";
import { type KmemCache, SlabFlag } from "../slab-common/index.js";
import { padRange, poisons, setPoison, setRedZones } from "./debug.js";
import {
  bswap32,
  CpuSlot,
  Desc,
  FOOTPRINT_MIN_PARTIAL,
  growOrder,
  Poison,
  reserveBound,
  SlabState,
  SlubPg,
} from "./layout.js";
import type { SlubAllocator } from "./slub.js";

/* ------------------------------------------------------------------ node lists */

/** nr_slabs over every node. */
export function nrSlabs(slub: SlubAllocator, c: KmemCache): number {
  let n = 0;
  for (const at of slub.slabsAt) n += c.dv[at] as number;
  return n;
}

/** Every node's list_lock of `c`, in node order (destroy and verify need them all). */
export function lockAllNodes(slub: SlubAllocator, c: KmemCache): void {
  let n = 0;
  try {
    for (; n < slub.nrNodes; n++) slub.lockNode(c, n);
  } catch (err) {
    // A lock that cannot be had (DEADLOCK): give back the ones taken, then report.
    while (--n >= 0) slub.unlockNode(c, n);
    throw err;
  }
}

export function unlockAllNodes(slub: SlubAllocator, c: KmemCache): void {
  for (let n = slub.nrNodes - 1; n >= 0; n--) slub.unlockNode(c, n);
}

/** Descriptor word of the partial list head of slab `pfn`'s node (nr_partial follows). */
function partialOf(slub: SlubAllocator, pfn: number): number {
  return slub.nrNodes === 1
    ? Desc.PARTIAL_HEAD
    : (slub.partialAt[slub.buddy.nodeOf(pfn)] as number);
}

function addPartial(slub: SlubAllocator, c: KmemCache, pfn: number): void {
  linkSlab(slub, c.dv, pfn, partialOf(slub, pfn), SlabState.PARTIAL);
}

/**
 * Links slab `pfn` at the head of the list whose head and count are dv[at] and dv[at + 1]
 * (a node's partial list or reserve) and sets its `state` bit. That list's lock held.
 */
function linkSlab(
  slub: SlubAllocator,
  dv: Int32Array,
  pfn: number,
  at: number,
  state: number,
): void {
  const f = slub.f;
  const i = pfn * Frame.WORDS;
  const head = dv[at] as number;
  f[i + Pg.NEXT] = head;
  f[i + Pg.PREV] = 0;
  if (head !== 0) f[head * Frame.WORDS + Pg.PREV] = pfn;
  dv[at] = pfn;
  dv[at + 1]!++;
  f[i + SlubPg.COUNTERS] = (f[i + SlubPg.COUNTERS] as number) | state;
}

function removePartial(slub: SlubAllocator, c: KmemCache, pfn: number): void {
  unlinkSlab(slub, c.dv, pfn, partialOf(slub, pfn), SlabState.PARTIAL);
}

/**
 * Unlinks slab `pfn` from the list whose head and count are dv[at] and dv[at + 1] (a
 * node's partial list or reserve) and clears its `state` bit. That list's lock held.
 */
function unlinkSlab(
  slub: SlubAllocator,
  dv: Int32Array,
  pfn: number,
  at: number,
  state: number,
): void {
  const f = slub.f;
  const i = pfn * Frame.WORDS;
  const next = f[i + Pg.NEXT] as number;
  const prev = f[i + Pg.PREV] as number;
  if (prev !== 0) f[prev * Frame.WORDS + Pg.NEXT] = next;
  else dv[at] = next;
  if (next !== 0) f[next * Frame.WORDS + Pg.PREV] = prev;
  f[i + Pg.NEXT] = 0;
  f[i + Pg.PREV] = 0;
  dv[at + 1]!--;
  f[i + SlubPg.COUNTERS] = (f[i + SlubPg.COUNTERS] as number) & ~state;
}

/** Files an unfrozen slab by how full it is (its node's list_lock held). */
function place(slub: SlubAllocator, c: KmemCache, pfn: number): void {
  const counters = slub.f[pfn * Frame.WORDS + SlubPg.COUNTERS] as number;
  if ((counters & (SlabState.QUARANTINED | SlabState.FROZEN | SlabState.EMPTY)) !== 0) return;
  const inuse = counters & SlabState.INUSE_MASK;
  const onPartial = (counters & SlabState.PARTIAL) !== 0;
  const objects = slub.slabObjects(c, pfn);
  if (inuse === 0) {
    fileEmpty(slub, c, pfn, onPartial);
  } else if (inuse < objects && !onPartial) {
    addPartial(slub, c, pfn);
  } else if (inuse === objects && onPartial) {
    removePartial(slub, c, pfn);
  }
}

/**
 * An empty slab goes to its node's reserve while the reserve is below its bound
 * (reserveBound), else back to the page allocator (its node's list_lock held).
 */
function fileEmpty(slub: SlubAllocator, c: KmemCache, pfn: number, onPartial: boolean): void {
  if (onPartial) removePartial(slub, c, pfn);
  const n = slub.nrNodes === 1 ? 0 : slub.buddy.nodeOf(pfn);
  const dv = c.dv;
  const bound = reserveBound(
    (c.flags & SlabFlag.FOOTPRINT) !== 0 ? FOOTPRINT_MIN_PARTIAL : (dv[Desc.MIN_PARTIAL] as number),
    dv[(slub.partialAt[n] as number) + 1] as number,
    dv[slub.slabsAt[n] as number] as number,
  );
  if ((dv[(slub.emptyAt[n] as number) + 1] as number) < bound) addEmpty(slub, c, pfn, n);
  else discardSlab(slub, c, pfn);
}

/** Puts empty slab `pfn` in node `n`'s reserve (that node's list_lock held). */
function addEmpty(slub: SlubAllocator, c: KmemCache, pfn: number, n: number): void {
  linkSlab(slub, c.dv, pfn, slub.emptyAt[n] as number, SlabState.EMPTY);
}

/** Takes slab `pfn` out of node `n`'s reserve (that node's list_lock held). */
function removeEmpty(slub: SlubAllocator, c: KmemCache, pfn: number, n: number): void {
  unlinkSlab(slub, c.dv, pfn, slub.emptyAt[n] as number, SlabState.EMPTY);
}

/* ------------------------------------------------------------------ allocation */

/**
 * ___slab_alloc: refill the cpu freelist from objects freed to the cpu slab by other cpus
 * meanwhile, a partial slab, or a new slab (allocated without the list_lock held, so that
 * the page allocator's reclaim and a constructor may come back into the slab layer).
 */
export function allocSlow(slub: SlubAllocator, c: KmemCache, gfp: number, size: number): number {
  slub.ev[Vm.SLAB_ALLOC_SLOW]!++;
  if ((slub.buddy.pendingRequests() & CpuRequest.FLUSH_SLABS) !== 0) serveFlush(slub);
  const cpu = c.cpu;
  const f = slub.f;
  for (;;) {
    let got = false;
    const cur = cpu[CpuSlot.SLAB] as number;
    if (cur !== 0) {
      const n = slub.slabNode(cur);
      slub.lockNode(c, n);
      try {
        const i = cur * Frame.WORDS;
        const fl = (f[i + SlubPg.FREELIST] as number) >>> 0;
        const counters = f[i + SlubPg.COUNTERS] as number;
        if (fl !== 0 && (counters & SlabState.QUARANTINED) === 0 && cpu[CpuSlot.FREELIST] === 0) {
          // Objects freed to the cpu slab by the slow path meanwhile: on the cpu freelist
          // before they leave the slab's (recover.ts: a list on both is the cpu's).
          cpu[CpuSlot.FREELIST] = fl;
          f[i + SlubPg.FREELIST] = 0;
          f[i + SlubPg.COUNTERS] = (counters & ~SlabState.INUSE_MASK) | slub.slabObjects(c, cur);
          got = true;
        } else {
          deactivate(slub, c, cpu);
        }
      } finally {
        slub.unlockNode(c, n);
      }
    }
    if (!got) {
      const partial = getPartial(slub, c, -1, gfp);
      if (partial !== 0) {
        try {
          freezeLocked(slub, c, partial);
        } finally {
          slub.unlockNode(c, slub.slabNode(partial));
        }
        got = true;
      }
    }
    if (!got) {
      const pfn = newSlab(slub, c, gfp, -1);
      if (pfn === 0) return 0;
      freeze(slub, c, pfn);
    }
    if (cpu[CpuSlot.FREELIST] !== 0) {
      return slub.generic === true ? slub.slabAllocSmp(c, gfp, size) : slub.slabAlloc(c, gfp, size);
    }
  }
}

/**
 * get_partial: a partial slab of node `nid` (-1: this cpu's node), else an empty slab of
 * that node's reserve, else, unless __GFP_THISNODE, a partial slab of the nearest other
 * node that has more than min_partial of them (get_any_partial). Taken off its list and
 * returned with its node's list_lock held (the caller releases it); 0, with no lock held,
 * if none.
 */
function getPartial(slub: SlubAllocator, c: KmemCache, nid: number, gfp: number): number {
  const search = slub.buddy.nodeOrLocal(nid);
  const dv = c.dv;
  slub.lockNode(c, search);
  let pfn = dv[slub.partialAt[search] as number] as number;
  if (pfn !== 0) {
    removePartial(slub, c, pfn);
    return pfn;
  }
  pfn = dv[slub.emptyAt[search] as number] as number;
  if (pfn !== 0) {
    removeEmpty(slub, c, pfn, search);
    return pfn;
  }
  slub.unlockNode(c, search);
  if (slub.nrNodes > 1 && (nid < 0 || (gfp & Gfp.THISNODE) === 0)) {
    const min = dv[Desc.MIN_PARTIAL] as number;
    for (const n of slub.buddy.zonelist(search)) {
      const at = slub.partialAt[n] as number;
      // nr_partial is read without the lock first, as get_any_partial does.
      if (n === search || (dv[at + 1] as number) <= min) continue;
      slub.lockNode(c, n);
      pfn = dv[at] as number;
      if (pfn !== 0 && (dv[at + 1] as number) > min) {
        removePartial(slub, c, pfn);
        return pfn;
      }
      slub.unlockNode(c, n);
    }
  }
  return 0;
}

/**
 * One object from a slab of node `nid` (or its fallback), the cpu slab untouched: counted
 * active, not yet through postAlloc.
 */
export function allocSingle(slub: SlubAllocator, c: KmemCache, gfp: number, nid: number): number {
  slub.ev[Vm.SLAB_ALLOC_SLOW]!++;
  let obj = 0;
  const partial = getPartial(slub, c, nid, gfp);
  if (partial !== 0) {
    try {
      obj = takeOne(slub, c, partial);
    } finally {
      slub.unlockNode(c, slub.slabNode(partial));
    }
  }
  if (obj === 0) {
    const pfn = newSlab(slub, c, gfp, nid);
    if (pfn === 0) return 0;
    const n = slub.slabNode(pfn);
    slub.lockNode(c, n);
    try {
      countSlab(slub, c, pfn);
      obj = takeOne(slub, c, pfn);
    } finally {
      slub.unlockNode(c, n);
    }
  }
  if (obj !== 0) c.cpu[CpuSlot.ACTIVE]!++;
  return obj;
}

/**
 * Takes the first object off slab `pfn`'s own freelist (not a cpu slab), marks it
 * allocated and files the slab by its new fill (the slab's node list_lock held). 0 if
 * the freelist is damaged (the slab is then set aside).
 */
function takeOne(slub: SlubAllocator, c: KmemCache, pfn: number, mark = true): number {
  const f = slub.f;
  const i = pfn * Frame.WORDS;
  const obj = (f[i + SlubPg.FREELIST] as number) >>> 0;
  const start = pfn * slub.pageSize + c.redLeft;
  const fp = obj + c.offset;
  const next = obj === 0 ? 0 : (slub.phys.word(fp >>> 2) ^ c.secret ^ bswap32(fp)) >>> 0;
  const off = obj - start;
  const span = slub.slabSpan(c, pfn);
  const idx = (off >>> 0 < span && (off & 7) === 0 ? (c.slotIndex[off >>> 3] as number) : 0) - 1;
  // The first object must be a free slot (its bit clear) whose pointer stays in the slab.
  if (
    obj === 0 ||
    idx < 0 ||
    (next !== 0 && (next - start) >>> 0 >= span) ||
    slub.testBit(c, pfn, idx)
  ) {
    return setListSlabAside(slub, c, pfn, obj);
  }
  const wi = slub.bitmapWord(c, pfn) + (idx >>> 5);
  const m = 1 << (idx & 31);
  // Not a cpu slab: the bit flips as any other cpu's would (on the remote bitmap). SLAB's
  // array caches take objects free (`mark` false): counted in use by the slab, bit clear.
  if (!mark) {
    // nothing to flip
  } else if (slub.smp === false) slub.phys.setWord(wi, slub.phys.word(wi) | m);
  // Another cpu flips a free object's bit only in a double free, which it undoes at once:
  // caught in that moment, the object is not handed out, and the slab is set aside.
  else if (!slub.setBitShared(wi, c.remote, m)) return setListSlabAside(slub, c, pfn, obj);
  f[i + SlubPg.FREELIST] = next;
  f[i + SlubPg.COUNTERS] = (f[i + SlubPg.COUNTERS] as number) + 1;
  place(slub, c, pfn);
  return obj;
}

/**
 * takeOne's failure: reports the damaged freelist at `obj` (0: an empty freelist where
 * the counters promised an object), takes slab `pfn` off the partial list and sets it
 * aside (list_lock held). Returns 0, takeOne's "no object".
 */
function setListSlabAside(slub: SlubAllocator, c: KmemCache, pfn: number, obj: number): 0 {
  if (obj !== 0) reportFreelist(slub, c, obj);
  const i = pfn * Frame.WORDS;
  const f = slub.f;
  if (((f[i + SlubPg.COUNTERS] as number) & SlabState.PARTIAL) !== 0) removePartial(slub, c, pfn);
  f[i + SlubPg.COUNTERS] = (f[i + SlubPg.COUNTERS] as number) | SlabState.QUARANTINED;
  return 0;
}

/**
 * allocate_slab: pages from the buddy allocator (on node `nid`, -1: where the memory
 * policy says), carved into a freelist of objects, each constructed. The slab is nobody
 * else's until it is counted and installed (freeze, or allocSingle).
 */
function newSlab(slub: SlubAllocator, c: KmemCache, gfp: number, nid: number): number {
  if (c.hasCtor && c.ctor === null) {
    throw new TypeError(
      `cache ${JSON.stringify(c.name)} was made with a constructor in another context; register it in this one with registerCtor(${JSON.stringify(c.name)}, fn)`,
    );
  }
  const order =
    c.topOrder === c.order
      ? c.order
      : growOrder(
          c.order,
          c.topOrder,
          c.dv[slub.slabsAt[slub.buddy.nodeOrLocal(nid)] as number] as number,
        );
  // The large-run cache makes room first (for the larger slab: the most this may take).
  if (slub.onGrow !== null) slub.onGrow(nid, 1 << order);
  // A larger slab only if the page allocator has one on its free lists (allocate_slab's
  // oo: nothing drained, dropped or reclaimed for it); else one of the cache's own order.
  let addr = order === c.order ? 0 : slub.buddy.allocPagesIfFree(nid, order, gfp & ~Gfp.ZERO);
  if (addr === 0) addr = slub.buddy.allocPagesNode(nid, c.order, gfp & ~Gfp.ZERO);
  if (addr === 0) return 0;
  const pfn = addr >>> slub.pageShift;
  const objects = slub.slabObjects(c, pfn);
  const f = slub.f;
  const i = pfn * Frame.WORDS;
  // Marked SLAB only when counted (countSlab, under the list_lock): until then a plain
  // page in this context's hands, which a death here takes with it.
  f[i + SlubPg.CACHE] = c.realId;
  f[i + SlubPg.COUNTERS] = 0;
  f[i + SlubPg.BITMAP] = 0;
  f[i + Pg.NEXT] = 0;
  f[i + Pg.PREV] = 0;
  if (c.bitmap >= 0) {
    // A few words: stores, not TypedArray fill (a call into the engine's runtime that cost
    // as much as the rest of newSlab on the program traces).
    const words = Math.ceil(objects / 32) * (c.remote !== 0 ? 2 : 1);
    const wi = (addr + c.bitmap) >>> 2;
    for (let k = 0; k < words; k++) slub.phys.setWord(wi + k, 0);
  }
  const first = addr + c.redLeft;
  threadFreelist(slub.phys, c, first, objects);
  f[i + SlubPg.FREELIST] = first;
  if (c.debug !== 0) initDebugSlab(slub, c, addr, objects);
  if (c.ctor !== null) {
    // While constructors run, no cache may be destroyed (kmemCacheDestroy checks).
    slub.ctorDepth++;
    try {
      for (let k = 0; k < objects; k++) c.ctor(first + k * c.size);
    } catch (err) {
      // The slab was never used: give it back, and let the constructor's error through.
      freeSlabPages(slub, pfn);
      throw err;
    } finally {
      slub.ctorDepth--;
    }
  }
  slub.ev[Vm.SLAB_NEW]!++;
  slub.ev[slabGauge(c)]! += 1 << (f[i + Pg.ORDER] as number);
  return pfn;
}

/**
 * Threads a new slab's objects, from `first`, on its freelist in address order, each free
 * pointer hardened. The cache's fields in locals and the words written straight into the one
 * buffer's view when memory has one: on jq-groupby, whose slabs of 24-byte objects are made
 * and given back some 9,800 times, the loop of setWord calls was a tenth of the replay.
 */
function threadFreelist(phys: PhysMem, c: KmemCache, first: number, n: number): void {
  const size = c.size;
  const offset = c.offset;
  const secret = c.secret;
  const last = first + (n - 1) * size;
  if (phys.split === false) {
    const words = phys.words;
    for (let obj = first; obj < last; obj += size) {
      const fp = obj + offset;
      words[fp >>> 2] = (obj + size) ^ secret ^ bswap32(fp);
    }
    words[(last + offset) >>> 2] = secret ^ bswap32(last + offset);
    return;
  }
  for (let obj = first; obj < last; obj += size) {
    const fp = obj + offset;
    phys.setWord(fp >>> 2, (obj + size) ^ secret ^ bswap32(fp));
  }
  phys.setWord((last + offset) >>> 2, secret ^ bswap32(last + offset));
}

function initDebugSlab(slub: SlubAllocator, c: KmemCache, addr: number, objects: number): void {
  const first = addr + c.redLeft;
  for (let k = 0; k < objects; k++) {
    const obj = first + k * c.size;
    setPoison(slub.win(obj), c, obj & slub.bm);
    setRedZones(slub.win(obj), c, obj & slub.bm, Poison.RED_INACTIVE);
  }
  if (poisons(c)) {
    const order = slub.f[(addr >>> slub.pageShift) * Frame.WORDS + Pg.ORDER] as number;
    const [from, to] = padRange(c, addr, slub.pageSize << order, objects);
    slub.phys.fill(Poison.INUSE, from, to);
  }
}

/**
 * Marks a new slab SLAB and counts it in its node's nr_slabs (the node's list_lock held):
 * from here on it is the cache's, and a death leaves it where recover.ts finds it.
 */
function countSlab(slub: SlubAllocator, c: KmemCache, pfn: number): void {
  slub.f[pfn * Frame.WORDS + Pg.FLAGS] = PgFlag.HEAD | PgFlag.SLAB;
  c.dv[slub.slabsAt[slub.slabNode(pfn)] as number]!++;
}

/** Counts a new slab in its cache and makes it this cpu's slab. */
function freeze(slub: SlubAllocator, c: KmemCache, pfn: number): void {
  // A constructor that allocated from this cache while the slab was being built, or a
  // shrinker run meanwhile, may have installed another cpu slab: file that one first.
  deactivateSlot(slub, c, c.cpu);
  const n = slub.slabNode(pfn);
  slub.lockNode(c, n);
  try {
    countSlab(slub, c, pfn);
    freezeLocked(slub, c, pfn);
  } finally {
    slub.unlockNode(c, n);
  }
}

/**
 * Makes `pfn` this cpu's slab: its freelist becomes the cpu freelist. The slab's node
 * list_lock held; this cpu has no cpu slab of `c`.
 */
function freezeLocked(slub: SlubAllocator, c: KmemCache, pfn: number): void {
  const f = slub.f;
  const i = pfn * Frame.WORDS;
  const cpu = c.cpu;
  const counters = f[i + SlubPg.COUNTERS] as number;
  // The slot names the slab, then takes its freelist, then the slab gives it up: each
  // prefix is one recover.ts reads back (a slab a slot names is frozen; a freelist on
  // both the slot and the slab is the slot's).
  cpu[CpuSlot.SLAB] = pfn;
  cpu[CpuSlot.START] = pfn * slub.pageSize + c.redLeft;
  const objects = slub.slabObjects(c, pfn);
  cpu[CpuSlot.BITMAP] = slub.bitmapWord(c, pfn);
  cpu[CpuSlot.SPAN] = objects * c.size;
  cpu[CpuSlot.FREELIST] = (f[i + SlubPg.FREELIST] as number) >>> 0;
  f[i + SlubPg.FREELIST] = 0;
  f[i + SlubPg.COUNTERS] = (counters & ~SlabState.INUSE_MASK) | SlabState.FROZEN | objects;
}

/* ------------------------------------------------------------------ giving back */

/**
 * __slab_free: onto the slab's own freelist, then file the slab by its new fill (list_lock
 * held). The slab may be another cpu's slab: the objects wait on its freelist until that
 * cpu's freelist runs dry.
 */
export function slabFree(slub: SlubAllocator, c: KmemCache, head: number, addr: number): void {
  slabPush(slub, c, head, addr);
  place(slub, c, head);
}

/** slabFree without the filing: onto slab `head`'s own freelist (list_lock held). */
export function slabPush(slub: SlubAllocator, c: KmemCache, head: number, addr: number): void {
  slub.ev[Vm.SLAB_FREE_SLOW]!++;
  const f = slub.f;
  const i = head * Frame.WORDS;
  const fp = addr + c.offset;
  slub.phys.setWord(fp >>> 2, (f[i + SlubPg.FREELIST] as number) ^ c.secret ^ bswap32(fp));
  f[i + SlubPg.FREELIST] = addr;
  f[i + SlubPg.COUNTERS] = (f[i + SlubPg.COUNTERS] as number) - 1;
}

/** Undoes slabPush of `addr`, still the freelist's first object (a double free caught late). */
export function slabUnpush(slub: SlubAllocator, c: KmemCache, head: number, addr: number): void {
  const f = slub.f;
  const i = head * Frame.WORDS;
  const fp = addr + c.offset;
  f[i + SlubPg.FREELIST] = slub.phys.word(fp >>> 2) ^ c.secret ^ bswap32(fp);
  f[i + SlubPg.COUNTERS] = (f[i + SlubPg.COUNTERS] as number) + 1;
}

/** place(), for slub.ts: files slab `head` by its fill (list_lock held). */
export function placeSlab(slub: SlubAllocator, c: KmemCache, head: number): void {
  place(slub, c, head);
}

/**
 * deactivate_slab: hands the cpu freelist of `slot` back to its cpu slab and files the
 * slab on the partial list, as empty (in the reserve, or given back past its bound), or as
 * full (on no list). The slab's node list_lock held; `slot` is this cpu's, or one no cpu uses now.
 */
export function deactivate(slub: SlubAllocator, c: KmemCache, slot: Int32Array): void {
  const cpu = slot;
  const pfn = cpu[CpuSlot.SLAB] as number;
  if (pfn === 0) return;
  const f = slub.f;
  const i = pfn * Frame.WORDS;
  let head = (cpu[CpuSlot.FREELIST] as number) >>> 0;
  let counters = f[i + SlubPg.COUNTERS] as number;
  if ((counters & SlabState.QUARANTINED) !== 0) head = 0;
  // Splice the cpu freelist in front of the slab's own.
  let n = 0;
  const objects = slub.slabObjects(c, pfn);
  const start = pfn * slub.pageSize + c.redLeft;
  const end = start + objects * c.size;
  let tail = 0;
  for (let obj = head; obj !== 0;) {
    n++;
    tail = obj;
    const fp = obj + c.offset;
    const next = (slub.phys.word(fp >>> 2) ^ c.secret ^ bswap32(fp)) >>> 0;
    if (next !== 0 && (next < start || next >= end || n > objects)) {
      reportFreelist(slub, c, obj);
      n = 0;
      head = 0;
      counters |= SlabState.QUARANTINED;
      break;
    }
    obj = next;
  }
  // The cpu freelist joins the slab's before the slot lets go of it, the slot before the
  // slab is unfrozen: each prefix is one recover.ts reads back.
  if (head !== 0) {
    const fp = tail + c.offset;
    slub.phys.setWord(fp >>> 2, (f[i + SlubPg.FREELIST] as number) ^ c.secret ^ bswap32(fp));
    f[i + SlubPg.FREELIST] = head;
  }
  cpu[CpuSlot.FREELIST] = 0;
  cpu[CpuSlot.SLAB] = 0;
  cpu[CpuSlot.START] = 0;
  cpu[CpuSlot.BITMAP] = 0;
  cpu[CpuSlot.SPAN] = 0;
  counters = (counters - n) & ~SlabState.FROZEN;
  f[i + SlubPg.COUNTERS] = counters;
  place(slub, c, pfn);
}

/** Hands the cpu slab of `slot` back (deactivate) under its node's list_lock. */
function deactivateSlot(slub: SlubAllocator, c: KmemCache, slot: Int32Array): void {
  const pfn = slot[CpuSlot.SLAB] as number;
  if (pfn === 0) return;
  const n = slub.slabNode(pfn);
  slub.lockNode(c, n);
  try {
    deactivate(slub, c, slot);
  } finally {
    slub.unlockNode(c, n);
  }
}

/**
 * Gives the `k` oldest objects of the sheaf in `slot` back to their slabs, each under its
 * slab's node list_lock: taken here, one node at a time, unless `locked` (the caller holds
 * every node's).
 */
export function flushSheaf(
  slub: SlubAllocator,
  c: KmemCache,
  slot: Int32Array,
  k: number,
  locked = false,
): void {
  let n = slot[CpuSlot.SHEAF_COUNT] as number;
  let held = -1;
  let j = 0;
  try {
    for (; j < k; j++) {
      const obj = (slot[CpuSlot.SHEAF + j] as number) >>> 0;
      const head = slub.slabOf(obj);
      const node = slub.slabNode(head);
      if (!locked && node !== held) {
        if (held >= 0) {
          dropFlushed(slot, j, n);
          n -= j;
          k -= j;
          j = 0;
          slub.unlockNode(c, held);
        }
        held = -1;
        slub.lockNode(c, node);
        held = node;
      }
      slabFree(slub, c, head, obj);
    }
  } finally {
    // The objects given back leave the sheaf (also when a damaged one stopped the loop)
    // before the lock they went back under is released: no other cpu can take one of them
    // while a dead context's sheaf still names it (recover.ts).
    dropFlushed(slot, j, n);
    if (held >= 0) slub.unlockNode(c, held);
  }
}

/** The first `j` of the `n` objects of a sheaf leave it. */
function dropFlushed(slot: Int32Array, j: number, n: number): void {
  if (j === 0) return;
  // At most SHEAF_MAX words: a loop, not copyWithin (a call into the engine's runtime).
  for (let k = CpuSlot.SHEAF; k < CpuSlot.SHEAF + n - j; k++) slot[k] = slot[k + j] as number;
  slot[CpuSlot.SHEAF_COUNT] = n - j;
}

/** Everything the cpu of `slot` holds of `c` goes back: its sheaf, then its cpu slab. */
export function flushSlot(slub: SlubAllocator, c: KmemCache, slot: Int32Array): void {
  flushSheaf(slub, c, slot, slot[CpuSlot.SHEAF_COUNT] as number);
  deactivateSlot(slub, c, slot);
}

/* ------------------------------------------------------------------ dead cpus */

/**
 * Index of the object starting at `obj` in slab `head` of cache `c`, or -1 when `obj` is not
 * one (read from a dead cpu's slot: nothing in it is trusted).
 */
export function deadObjectIndex(
  slub: SlubAllocator,
  c: KmemCache,
  head: number,
  obj: number,
): number {
  if (head === 0 || slub.f[head * Frame.WORDS + SlubPg.CACHE] !== c.realId) return -1;
  const off = obj - (head * slub.pageSize + c.redLeft);
  // The slab's own span: `obj` may come from a dead cpu's freelist, not from slabOf.
  const span = slub.slabSpan(c, head);
  return (off >>> 0 < span && (off & 7) === 0 ? (c.slotIndex[off >>> 3] as number) : 0) - 1;
}

/**
 * offlineCpu: everything the slot of a DEAD cpu holds of `c` goes back, as flushSlot does,
 * without trusting it: the cpu died at some statement of a fast path. The fast paths write
 * in an order that makes this possible (slub.ts): an object is marked allocated before it
 * leaves the cpu freelist or sheaf, and pushed on the cpu freelist before it is marked
 * free. So an object on the dead cpu's freelist or in its sheaf that is marked allocated
 * was in its hands (it stays allocated); every other one is free and goes back. Walks are
 * bounded by the slab's objects and the sheaf's capacity. Returns the objects and slabs
 * moved.
 */
export function flushDeadSlot(slub: SlubAllocator, c: KmemCache, slot: Int32Array): number {
  const cap = c.sheafCap;
  const count = Math.min(Math.max(slot[CpuSlot.SHEAF_COUNT] as number, 0), cap);
  let kept = 0;
  const inSheaf = new Set<number>();
  for (let j = 0; j < count; j++) {
    const obj = (slot[CpuSlot.SHEAF + j] as number) >>> 0;
    const head = slub.slabOf(obj);
    const idx = deadObjectIndex(slub, c, head, obj);
    // An object twice (a copy left by a sheaf's compaction) goes back once.
    if (idx < 0 || slub.testBit(c, head, idx) || inSheaf.has(obj)) continue;
    inSheaf.add(obj);
    slot[CpuSlot.SHEAF + kept++] = obj;
  }
  slot[CpuSlot.SHEAF_COUNT] = kept;
  flushSheaf(slub, c, slot, kept);
  const pfn = slot[CpuSlot.SLAB] as number;
  if (pfn === 0) return kept;
  const node = slub.slabNode(pfn);
  slub.lockNode(c, node);
  try {
    // The cpu freelist, its allocated objects left out and its links written anew.
    const seen = new Set<number>();
    const free: number[] = [];
    let obj = (slot[CpuSlot.FREELIST] as number) >>> 0;
    const objects = slub.slabObjects(c, pfn);
    while (obj !== 0 && seen.size < objects && !seen.has(obj)) {
      const idx = deadObjectIndex(slub, c, pfn, obj);
      if (idx < 0) break;
      seen.add(obj);
      if (!slub.testBit(c, pfn, idx)) free.push(obj);
      const fp = obj + c.offset;
      obj = (slub.phys.word(fp >>> 2) ^ c.secret ^ bswap32(fp)) >>> 0;
    }
    for (let k = 0; k < free.length; k++) {
      const fp = (free[k] as number) + c.offset;
      slub.phys.setWord(fp >>> 2, (free[k + 1] ?? 0) ^ c.secret ^ bswap32(fp));
    }
    slot[CpuSlot.FREELIST] = free[0] ?? 0;
    deactivate(slub, c, slot);
  } finally {
    slub.unlockNode(c, node);
  }
  return kept + 1;
}

/** The vmstat gauge a cache's slab pages count in (nr_slab_reclaimable or _unreclaimable). */
function slabGauge(c: KmemCache): number {
  return (c.flags & SlabFlag.RECLAIM_ACCOUNT) !== 0
    ? Vm.NR_SLAB_RECLAIMABLE
    : Vm.NR_SLAB_UNRECLAIMABLE;
}

/** discard_slab: the pages go back to the page allocator (its node's list_lock held). */
function discardSlab(slub: SlubAllocator, c: KmemCache, pfn: number): void {
  const pages = 1 << (slub.f[pfn * Frame.WORDS + Pg.ORDER] as number);
  c.dv[slub.slabsAt[slub.slabNode(pfn)] as number]!--;
  slub.ev[Vm.SLAB_DISCARD]!++;
  slub.ev[slabGauge(c)]! -= pages;
  slub.pagesDiscarded += pages;
  freeSlabPages(slub, pfn);
}

/** Clears a slab's frame and gives its pages back. */
function freeSlabPages(slub: SlubAllocator, pfn: number): void {
  const i = pfn * Frame.WORDS;
  const f = slub.f;
  f[i + Pg.FLAGS] = PgFlag.HEAD;
  f[i + SlubPg.CACHE] = 0;
  f[i + SlubPg.FREELIST] = 0;
  f[i + SlubPg.COUNTERS] = 0;
  f[i + SlubPg.BITMAP] = 0;
  f[i + Pg.NEXT] = 0;
  f[i + Pg.PREV] = 0;
  slub.buddy.freePages(pfn * slub.pageSize, f[i + Pg.ORDER] as number);
}

/* ------------------------------------------------------------------ set aside */

/**
 * The cpu freelist's first object decodes to a pointer outside its slab, or is marked
 * allocated: the freelist was overwritten (a use after free). Report it, set the slab
 * aside, and let the slow path find another.
 */
export function corruptCpuFreelist(slub: SlubAllocator, c: KmemCache, obj: number): void {
  reportFreelist(slub, c, obj);
  const cpu = c.cpu;
  const pfn = cpu[CpuSlot.SLAB] as number;
  const i = pfn * Frame.WORDS;
  cpu[CpuSlot.FREELIST] = 0;
  const n = slub.slabNode(pfn);
  slub.lockNode(c, n);
  try {
    slub.f[i + SlubPg.COUNTERS] = (slub.f[i + SlubPg.COUNTERS] as number) | SlabState.QUARANTINED;
    deactivate(slub, c, cpu);
  } finally {
    slub.unlockNode(c, n);
  }
}

function reportFreelist(slub: SlubAllocator, c: KmemCache, obj: number): void {
  slub.ev[Vm.SLAB_ERRORS]!++;
  slub.log?.(
    `kmem: cache ${c.name}: free pointer of object ${hex(obj)} is corrupt (overwritten after free?); ` +
      `slab at ${hex(slub.slabOf(obj) * slub.pageSize)} set aside`,
  );
}

/**
 * Sets aside an object found corrupt: never handed out again, its slab never reused. If
 * the slab is another cpu's slab, that cpu files it at its next slow path.
 */
export function quarantineObject(
  slub: SlubAllocator,
  c: KmemCache,
  head: number,
  obj: number,
): void {
  slub.ev[Vm.SLAB_ERRORS]!++;
  const n = slub.slabNode(head);
  slub.lockNode(c, n);
  try {
    // One count for the cache, under the locks of several nodes: added atomically.
    if (slub.smp === true) Atomics.add(c.dv, Desc.QUARANTINED, 1);
    else c.dv[Desc.QUARANTINED]!++;
    slub.phys.setWord((obj + c.offset) >>> 2, slub.quarantineTag(c, obj));
    const i = head * Frame.WORDS;
    const counters = slub.f[i + SlubPg.COUNTERS] as number;
    if ((counters & SlabState.PARTIAL) !== 0) removePartial(slub, c, head);
    slub.f[i + SlubPg.COUNTERS] = (slub.f[i + SlubPg.COUNTERS] as number) | SlabState.QUARANTINED;
    if (c.cpu[CpuSlot.SLAB] === head) deactivate(slub, c, c.cpu);
  } finally {
    slub.unlockNode(c, n);
  }
  slub.log?.(`kmem: cache ${c.name}: object ${hex(obj)} set aside as corrupt`);
}

/* ------------------------------------------------------------------ shrinking */

/**
 * kmem_cache_shrink of a real cache: this cpu's slot flushed, every node's empty slabs
 * given back. Returns their pages.
 */
export function shrinkReal(slub: SlubAllocator, real: KmemCache): number {
  const before = slub.pagesDiscarded;
  flushSlot(slub, real, real.cpu);
  for (let n = 0; n < slub.nrNodes; n++) {
    slub.lockNode(real, n);
    try {
      discardEmpty(slub, real, n);
    } finally {
      slub.unlockNode(real, n);
    }
  }
  // The pages of the slabs this context gave back (slabs may differ in order).
  return slub.pagesDiscarded - before;
}

/**
 * Discards the empty slabs of node `n`: its reserve's, then those of its partial list, at
 * most `max` of them (that node's list_lock held). Returns how many.
 */
export function discardEmpty(
  slub: SlubAllocator,
  c: KmemCache,
  n: number,
  max = Number.POSITIVE_INFINITY,
): number {
  const f = slub.f;
  let done = 0;
  for (let pfn = c.dv[slub.emptyAt[n] as number] as number; pfn !== 0 && done < max;) {
    removeEmpty(slub, c, pfn, n);
    discardSlab(slub, c, pfn);
    done++;
    pfn = c.dv[slub.emptyAt[n] as number] as number;
  }
  let pfn = c.dv[slub.partialAt[n] as number] as number;
  while (pfn !== 0 && done < max) {
    const next = f[pfn * Frame.WORDS + Pg.NEXT] as number;
    if (((f[pfn * Frame.WORDS + SlubPg.COUNTERS] as number) & SlabState.INUSE_MASK) === 0) {
      removePartial(slub, c, pfn);
      discardSlab(slub, c, pfn);
      done++;
    }
    pfn = next;
  }
  return done;
}

/**
 * Discards every slab of `c` (destroy, with no object live): the partial lists', and the
 * slabs set aside as corrupt or full of set-aside objects, which are on no list. Every
 * node's list_lock held.
 */
export function discardAll(slub: SlubAllocator, c: KmemCache): void {
  for (let n = 0; n < slub.nrNodes; n++) discardEmpty(slub, c, n);
  const f = slub.f;
  for (let p = slub.firstPfn; p < slub.totalPages;) {
    const flags = f[p * Frame.WORDS + Pg.FLAGS] as number;
    const order = f[p * Frame.WORDS + Pg.ORDER] as number;
    if ((flags & PgFlag.SLAB) !== 0 && f[p * Frame.WORDS + SlubPg.CACHE] === c.realId) {
      discardSlab(slub, c, p);
    }
    p += (flags & (PgFlag.HEAD | PgFlag.BUDDY)) !== 0 ? 1 << order : 1;
  }
}

/**
 * Serves a FLUSH_SLABS request of another cpu: this cpu's sheaves and cpu slabs go back to
 * their caches (and empty slabs beyond the reserve's bound to the page allocator).
 */
export function serveFlush(slub: SlubAllocator): void {
  slub.buddy.clearRequest(CpuRequest.FLUSH_SLABS);
  for (const c of slub.caches) {
    if (c === null || c.id !== c.realId || c.dv[Desc.SERIAL] !== c.serial) continue;
    if (c.cpu[CpuSlot.SLAB] === 0 && c.cpu[CpuSlot.SHEAF_COUNT] === 0) continue;
    flushSlot(slub, c, c.cpu);
  }
}
