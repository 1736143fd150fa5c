/*
 * SLAB's slab layer (Linux mm/slab.c cache_grow_begin, cache_grow_end, alloc_slabmgmt,
 * cache_init_objs, get_first_slab, alloc_block, slab_get_obj, fixup_slab_list, free_block,
 * slab_put_obj, drain_freelist, slab_destroy): the slabs under the array caches, on three
 * lists per node (layout.ts Node, SlabPg), each slab with its freelist index array.
 *
 * A slab's free objects are the entries active..num-1 of its index array (freelist_idx_t:
 * one byte per object while a slab has at most 256, else two): slab_get_obj takes entry
 * `active` and counts it, slab_put_obj uncounts and writes the object's index at the new
 * `active`. The entries below `active` are stale, as Linux's. The array lies at the slab's
 * end (ON_SLAB), in an object of a freelist cache (OFF_SLAB), or inside the slab's last
 * free object (OBJFREELIST: the object at entry num-1, which is handed out last; the
 * array has no home while the slab is full, and the first object freed to it becomes one).
 *
 * Objects taken from a slab (into an array cache, or for a debug cache straight to the
 * caller) count in its `active`; their allocation bits (slab.ts) are set only when they
 * leave the array. free_block gives objects back and files each slab by its new count:
 * full, partial (some free) or free (none in use); past the node's free_limit of free
 * objects in free slabs, the free list's last slabs are destroyed (after the list_lock is
 * dropped, as slabs_destroy).
 *
 * Functions take the allocator (slab.ts, whose header has the invariants and locks) and
 * the cache's views; "locked" ones run under the node's list_lock.
 */

import { hex } from "../errors.js";
import { Frame, Pg, PgFlag, Vm } from "../memory/index.js";
import { Gfp } from "../page/index.js";
import { type KmemCache, SlabFlag } from "../slab-common/index.js";
import { Poison, setPoison, setRedZones } from "../slub/index.js";
import { Ac, COLOUR_UNIT, Mgmt, Node, SlabList, SlabPg } from "./layout.js";
import type { ArrayViews, SlabAllocator } from "./slab.js";

/* ------------------------------------------------------------------ a slab's parts */

/** s_mem: where slab `pfn`'s first slot starts (its colour offset is in its counters). */
export function slabStart(slab: SlabAllocator, pfn: number): number {
  const counters = slab.f[pfn * Frame.WORDS + SlabPg.COUNTERS] as number;
  return pfn * slab.pageSize + (counters >>> SlabPg.COLOUR_SHIFT) * COLOUR_UNIT;
}

/** Entry `i` of the index array at `fl` (`idx` bytes per entry). */
export function getEntry(slab: SlabAllocator, fl: number, i: number, idx: number): number {
  const a = fl + i * idx;
  const w = slab.win(a);
  const lo = w[a & slab.bm] as number;
  return idx === 1 ? lo : lo | ((w[(a + 1) & slab.bm] as number) << 8);
}

function setEntry(slab: SlabAllocator, fl: number, i: number, idx: number, v: number): void {
  const a = fl + i * idx;
  const w = slab.win(a);
  w[a & slab.bm] = v & 0xff;
  if (idx !== 1) w[(a + 1) & slab.bm] = v >>> 8;
}

/* ------------------------------------------------------------------ the lists */

const HEAD = [0, Node.FULL_HEAD, Node.PARTIAL_HEAD, Node.FREE_HEAD] as const;

/** Adds slab `pfn` to list `list` of node record `nr`, at its head or its tail. */
export function listAdd(
  slab: SlabAllocator,
  nr: Int32Array,
  pfn: number,
  list: SlabList,
  tail: boolean,
): void {
  const f = slab.f;
  const i = pfn * Frame.WORDS;
  const h = HEAD[list] as number;
  if (tail) {
    const last = nr[h + 1] as number;
    f[i + Pg.PREV] = last;
    f[i + Pg.NEXT] = 0;
    if (last !== 0) f[last * Frame.WORDS + Pg.NEXT] = pfn;
    else nr[h] = pfn;
    nr[h + 1] = pfn;
  } else {
    const first = nr[h] as number;
    f[i + Pg.NEXT] = first;
    f[i + Pg.PREV] = 0;
    if (first !== 0) f[first * Frame.WORDS + Pg.PREV] = pfn;
    else nr[h + 1] = pfn;
    nr[h] = pfn;
  }
  f[i + SlabPg.COUNTERS] =
    ((f[i + SlabPg.COUNTERS] as number) & ~SlabPg.LIST_MASK) | (list << SlabPg.LIST_SHIFT);
  if (list === SlabList.FREE) nr[Node.FREE_SLABS]!++;
}

/** Takes slab `pfn` off its list (if on one). */
function listDel(slab: SlabAllocator, nr: Int32Array, pfn: number): void {
  const f = slab.f;
  const i = pfn * Frame.WORDS;
  const counters = f[i + SlabPg.COUNTERS] as number;
  const list = (counters & SlabPg.LIST_MASK) >>> SlabPg.LIST_SHIFT;
  if (list === SlabList.NONE) return;
  const h = HEAD[list] as number;
  const next = f[i + Pg.NEXT] as number;
  const prev = f[i + Pg.PREV] as number;
  if (prev !== 0) f[prev * Frame.WORDS + Pg.NEXT] = next;
  else nr[h] = next;
  if (next !== 0) f[next * Frame.WORDS + Pg.PREV] = prev;
  else nr[h + 1] = prev;
  f[i + Pg.NEXT] = 0;
  f[i + Pg.PREV] = 0;
  f[i + SlabPg.COUNTERS] = counters & ~SlabPg.LIST_MASK;
  if (list === SlabList.FREE) nr[Node.FREE_SLABS]!--;
}

/* ------------------------------------------------------------------ taking objects */

/**
 * get_first_slab + alloc_block + fixup_slab_list (node `node`'s list_lock held): up to
 * `k` free objects into `dst` from index `at`, partial slabs first, then free ones. They
 * count in their slabs' `active`; their allocation bits stay clear. Returns how many.
 */
export function takeObjects(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  node: number,
  dst: Int32Array,
  at: number,
  k: number,
  touch = true,
): number {
  const f = slab.f;
  const nr = v.nodes[node] as Int32Array;
  const num = c.objects;
  const idx = v.shape.idx;
  let got = 0;
  while (got < k) {
    let pfn = nr[Node.PARTIAL_HEAD] as number;
    if (pfn === 0) {
      pfn = nr[Node.FREE_HEAD] as number;
      if (pfn === 0) break;
      // (Not for the slab this cpu just grew: Linux allocates from it directly.)
      if (touch) nr[Node.FREE_TOUCHED] = 1;
    }
    const i = pfn * Frame.WORDS;
    listDel(slab, nr, pfn);
    let counters = f[i + SlabPg.COUNTERS] as number;
    let active = counters & SlabPg.ACTIVE_MASK;
    if ((counters & SlabPg.QUARANTINED) !== 0) {
      // Set aside meanwhile: off the lists for good, its free objects no longer counted.
      nr[Node.FREE_OBJECTS] = (nr[Node.FREE_OBJECTS] as number) - (num - active);
      continue;
    }
    const fl = (f[i + SlabPg.FREELIST] as number) >>> 0;
    const first = slabStart(slab, pfn) + c.redLeft;
    let bad = false;
    while (got < k && active < num) {
      const o = getEntry(slab, fl, active, idx);
      if (o >= num || slab.testBit(c, pfn, o)) {
        bad = true;
        break;
      }
      dst[at + got++] = first + o * c.size;
      active++;
    }
    // An array's count first (recover.ts): what the slab counts is in the array.
    if (at === Ac.ENTRY) dst[Ac.AVAIL] = got;
    nr[Node.FREE_OBJECTS] = (nr[Node.FREE_OBJECTS] as number) - (active - (counters & 0xffff));
    counters = (counters & ~SlabPg.ACTIVE_MASK) | active;
    if (bad) {
      // A damaged index array: the slab is set aside, never allocated from again.
      f[i + SlabPg.COUNTERS] = counters | SlabPg.QUARANTINED;
      nr[Node.FREE_OBJECTS] = (nr[Node.FREE_OBJECTS] as number) - (num - active);
      reportIndex(slab, c, pfn, active);
      continue;
    }
    f[i + SlabPg.COUNTERS] = counters;
    if (active === num) {
      listAdd(slab, nr, pfn, SlabList.FULL, false);
      if (v.shape.mgmt === Mgmt.OBJFREELIST) f[i + SlabPg.FREELIST] = 0;
    } else listAdd(slab, nr, pfn, SlabList.PARTIAL, false);
  }
  return got;
}

function reportIndex(slab: SlabAllocator, c: KmemCache, pfn: number, at: number): void {
  slab.ev[Vm.SLAB_ERRORS]!++;
  slab.log?.(
    `kmem: cache ${c.name}: entry ${at} of the freelist index array of the slab at ${hex(pfn * slab.pageSize)} is not a free object; slab set aside`,
  );
}

/**
 * Up to `k` objects for this cpu (cache_alloc_refill's slab part, ____cache_alloc_node):
 * node `nid`'s lists, growing a slab there when they are empty; unless `gfp` has
 * __GFP_THISNODE, then the other nodes' lists nearest first, then a new slab anywhere
 * (fallback_alloc). Takes and drops the list_locks. Returns how many (0: no memory).
 */
export function fill(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  gfp: number,
  nid: number,
  dst: Int32Array,
  at: number,
  k: number,
): number {
  const g = gfp & ~Gfp.ZERO;
  const many = slab.nrNodes > 1;
  let got = fillNode(slab, c, v, many ? g | Gfp.THISNODE : g, nid, dst, at, k);
  if (got > 0 || !many || (gfp & Gfp.THISNODE) !== 0) return got;
  for (const n of slab.buddy.zonelist(nid)) {
    if (n === nid) continue;
    got = takeLocked(slab, c, v, n, dst, at, k);
    if (got > 0) return got;
  }
  return fillNode(slab, c, v, g, -1, dst, at, k);
}

function takeLocked(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  node: number,
  dst: Int32Array,
  at: number,
  k: number,
  touch = true,
): number {
  slab.lockNode(c, node);
  try {
    return takeObjects(slab, c, v, node, dst, at, k, touch);
  } finally {
    slab.unlockNode(c, node);
  }
}

/** Node `nid`'s lists (-1: none first; grow where the memory policy says), growing. */
function fillNode(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  gfp: number,
  nid: number,
  dst: Int32Array,
  at: number,
  k: number,
): number {
  let node = nid;
  let grown = false;
  for (;;) {
    if (node >= 0) {
      const got = takeLocked(slab, c, v, node, dst, at, k, !grown);
      if (got > 0) return got;
    }
    const pfn = grow(slab, c, v, gfp, nid);
    if (pfn === 0) return 0;
    node = slab.slabNode(pfn);
    grown = true;
  }
}

/* ------------------------------------------------------------------ growing */

/** The vmstat gauge a cache's slab pages count in. */
function slabGauge(c: KmemCache): number {
  return (c.flags & SlabFlag.RECLAIM_ACCOUNT) !== 0
    ? Vm.NR_SLAB_RECLAIMABLE
    : Vm.NR_SLAB_UNRECLAIMABLE;
}

/**
 * cache_grow_begin + cache_grow_end: pages on node `nid` (-1: the memory policy's), no
 * list_lock held; the node's next colour; the index array (an object of the freelist
 * cache when off slab); every object initialised (debug bytes, constructor); then, under
 * the slab's node list_lock, onto the free list's tail, counted. Returns the pfn, 0 if
 * no memory.
 */
export function grow(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  gfp: number,
  nid: number,
): number {
  if (c.hasCtor && c.ctor === null) {
    throw new TypeError(
      `cache ${JSON.stringify(c.name)} was made with a constructor in another context; register it in this one with registerCtor(${JSON.stringify(c.name)}, fn)`,
    );
  }
  if (slab.onGrow !== null) slab.onGrow(nid, 1 << c.order);
  const addr = slab.buddy.allocPagesNode(nid, c.order, gfp & ~Gfp.ZERO) >>> 0;
  if (addr === 0) return 0;
  const pfn = addr >>> slab.pageShift;
  const node = slab.slabNode(pfn);
  const nr = v.nodes[node] as Int32Array;
  const shape = v.shape;
  // colour_next advances first, then colours this slab (a benign race between cpus).
  let colour = (nr[Node.COLOUR_NEXT] as number) + 1;
  if (colour >= shape.colour) colour = 0;
  nr[Node.COLOUR_NEXT] = colour;
  const offset = colour * shape.colourOff;
  const first = addr + offset + c.redLeft;
  let fl: number;
  if (shape.mgmt === Mgmt.ON_SLAB) fl = addr + shape.freelistAt;
  else if (shape.mgmt === Mgmt.OBJFREELIST) fl = first + (c.objects - 1) * c.size;
  else {
    fl = v.fcache === null ? 0 : slab.alloc(v.fcache, gfp & ~Gfp.ZERO, -1) >>> 0;
    if (fl === 0) {
      slab.buddy.freePages(addr, c.order);
      return 0;
    }
  }
  const f = slab.f;
  const i = pfn * Frame.WORDS;
  // Marked SLAB only once counted, under the list_lock (recover.ts: ground truth).
  f[i + Pg.FLAGS] = PgFlag.HEAD;
  f[i + SlabPg.CACHE] = c.realId;
  f[i + SlabPg.FREELIST] = fl;
  f[i + SlabPg.COUNTERS] = (offset / COLOUR_UNIT) << SlabPg.COLOUR_SHIFT;
  f[i + SlabPg.BITMAP] = 0;
  f[i + Pg.NEXT] = 0;
  f[i + Pg.PREV] = 0;
  if (c.bitmap >= 0) {
    const words = Math.ceil(c.objects / 32) * (c.remote !== 0 ? 2 : 1);
    slab.phys.fill(0, addr + c.bitmap, addr + c.bitmap + words * 4);
  }
  if (c.debug !== 0) {
    for (let k = 0; k < c.objects; k++) {
      const obj = first + k * c.size;
      setPoison(slab.win(obj), c, obj & slab.bm);
      setRedZones(slab.win(obj), c, obj & slab.bm, Poison.RED_INACTIVE);
    }
  }
  if (poisonsPadding(c)) {
    const [a, b, x, y] = paddingOf(slab, c, v, addr, offset);
    slab.phys.fill(Poison.INUSE, a, b);
    slab.phys.fill(Poison.INUSE, x, y);
  }
  // cache_init_objs: the index array in slot order (no CONFIG_SLAB_FREELIST_RANDOM).
  for (let k = 0; k < c.objects; k++) setEntry(slab, fl, k, shape.idx, k);
  if (c.ctor !== null) {
    slab.ctorDepth++;
    try {
      for (let k = 0; k < c.objects; k++) c.ctor(first + k * c.size);
    } catch (err) {
      // The slab was never used: it goes back, and the constructor's error goes through.
      releaseSlab(slab, c, v, pfn);
      throw err;
    } finally {
      slab.ctorDepth--;
    }
  }
  slab.ev[Vm.SLAB_NEW]!++;
  slab.ev[slabGauge(c)]! += 1 << c.order;
  slab.lockNode(c, node);
  try {
    f[i + Pg.FLAGS] = PgFlag.HEAD | PgFlag.SLAB;
    listAdd(slab, nr, pfn, SlabList.FREE, true);
    c.dv[slab.slabsAt[node] as number]!++;
    nr[Node.FREE_OBJECTS] = (nr[Node.FREE_OBJECTS] as number) + c.objects;
  } finally {
    slab.unlockNode(c, node);
  }
  return pfn;
}

/** A poisoned cache poisons its slabs' padding too (0x5a), and verify() checks it. */
export function poisonsPadding(c: KmemCache): boolean {
  return (c.flags & SlabFlag.POISON) !== 0 && !c.hasCtor;
}

/**
 * The padding of the slab at `addr` coloured `offset` bytes: [a, b) before its first slot
 * (the colour) and [x, y) after its last one, up to the index array or the bitmap.
 */
export function paddingOf(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  addr: number,
  offset: number,
): [number, number, number, number] {
  const tail =
    v.shape.mgmt === Mgmt.ON_SLAB
      ? v.shape.freelistAt
      : c.bitmap < 0
        ? slab.pageSize << c.order
        : c.bitmap;
  return [addr, addr + offset, addr + offset + c.objects * c.size, addr + tail];
}

/* ------------------------------------------------------------------ giving back */

/**
 * free_block (node `node`'s list_lock held): `k` objects of `arr` from index `from`, all of
 * that node's slabs, back to their slabs (slab_put_obj), each slab refiled; then the free
 * list's last slabs while the node holds more than free_limit free objects: taken off and
 * pushed on `doomed`, to be destroyed once the lock is dropped (destroySlabs).
 */
export function putObjects(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  node: number,
  arr: Int32Array,
  from: number,
  k: number,
  doomed: number[],
): void {
  const f = slab.f;
  const nr = v.nodes[node] as Int32Array;
  const idx = v.shape.idx;
  const objfl = v.shape.mgmt === Mgmt.OBJFREELIST;
  for (let j = 0; j < k; j++) {
    const obj = (arr[from + j] as number) >>> 0;
    const pfn = slab.slabOf(obj);
    const i = pfn * Frame.WORDS;
    listDel(slab, nr, pfn);
    const counters = f[i + SlabPg.COUNTERS] as number;
    const active = (counters & SlabPg.ACTIVE_MASK) - 1;
    const o = (obj - slabStart(slab, pfn) - c.redLeft) / c.size;
    let fl = (f[i + SlabPg.FREELIST] as number) >>> 0;
    if (objfl && fl === 0) {
      // The first object back in a full OBJFREELIST slab holds its index array.
      fl = obj;
      f[i + SlabPg.FREELIST] = obj;
    }
    setEntry(slab, fl, active, idx, o);
    f[i + SlabPg.COUNTERS] = (counters & ~SlabPg.ACTIVE_MASK) | active;
    slab.ev[Vm.SLAB_FREE_SLOW]!++;
    // A slab set aside stays off the lists; its objects come back but are not handed out.
    if ((counters & SlabPg.QUARANTINED) !== 0) continue;
    nr[Node.FREE_OBJECTS]!++;
    if (active === 0) listAdd(slab, nr, pfn, SlabList.FREE, false);
    else listAdd(slab, nr, pfn, SlabList.PARTIAL, true);
  }
  const limit = nr[Node.FREE_LIMIT] as number;
  while ((nr[Node.FREE_OBJECTS] as number) > limit && nr[Node.FREE_TAIL] !== 0) {
    doomed.push(detachFree(slab, c, nr, node));
  }
}

/** The free list's last slab, off the lists and uncounted (list_lock held). */
function detachFree(slab: SlabAllocator, c: KmemCache, nr: Int32Array, node: number): number {
  const pfn = nr[Node.FREE_TAIL] as number;
  listDel(slab, nr, pfn);
  // Unmarked while the lock is held: no longer one of the cache's slabs (recover.ts).
  slab.f[pfn * Frame.WORDS + Pg.FLAGS] = PgFlag.HEAD;
  nr[Node.FREE_OBJECTS] = (nr[Node.FREE_OBJECTS] as number) - c.objects;
  c.dv[slab.slabsAt[node] as number]!--;
  return pfn;
}

/**
 * drain_freelist: up to `max` free slabs of node `node` off its free list (each under the
 * list_lock) and destroyed. Returns how many.
 */
export function drainFreelist(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  node: number,
  max: number,
): number {
  const nr = v.nodes[node] as Int32Array;
  const doomed: number[] = [];
  slab.lockNode(c, node);
  try {
    while (doomed.length < max && nr[Node.FREE_TAIL] !== 0) {
      doomed.push(detachFree(slab, c, nr, node));
    }
  } finally {
    slab.unlockNode(c, node);
  }
  destroySlabs(slab, c, v, doomed);
  return doomed.length;
}

/** slabs_destroy: slabs already off the lists and uncounted go back (no list_lock held). */
export function destroySlabs(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  pfns: readonly number[],
): void {
  for (const pfn of pfns) {
    slab.ev[Vm.SLAB_DISCARD]!++;
    slab.ev[slabGauge(c)]! -= 1 << c.order;
    releaseSlab(slab, c, v, pfn);
  }
}

/** slab_destroy's last part: the off-slab index array, the frame, the pages. */
function releaseSlab(slab: SlabAllocator, c: KmemCache, v: ArrayViews, pfn: number): void {
  const f = slab.f;
  const i = pfn * Frame.WORDS;
  const fl = (f[i + SlabPg.FREELIST] as number) >>> 0;
  clearFrame(slab, pfn);
  slab.buddy.freePages(pfn * slab.pageSize, c.order);
  if (v.shape.mgmt === Mgmt.OFF_SLAB && v.fcache !== null && fl !== 0) {
    slab.free(v.fcache, fl);
  }
}

function clearFrame(slab: SlabAllocator, pfn: number): void {
  const f = slab.f;
  const i = pfn * Frame.WORDS;
  f[i + Pg.FLAGS] = PgFlag.HEAD;
  f[i + SlabPg.CACHE] = 0;
  f[i + SlabPg.FREELIST] = 0;
  f[i + SlabPg.COUNTERS] = 0;
  f[i + SlabPg.BITMAP] = 0;
  f[i + Pg.NEXT] = 0;
  f[i + Pg.PREV] = 0;
}

/**
 * destroy(): the slabs of `c` go back (no object live), in two passes (recover.ts): with
 * every node's list_lock held (`locked`), every slab but those holding an off-slab index
 * array, and the node records reset; then, with no lock of `c` held, the rest, each index
 * array first (the frame's word cleared before it is freed, so that a pass run again after
 * a death never frees one twice). Restartable: each pass walks mem_map.
 */
export function releaseAll(
  slab: SlabAllocator,
  c: KmemCache,
  v: ArrayViews,
  locked: boolean,
): void {
  const f = slab.f;
  const offSlab = v.shape.mgmt === Mgmt.OFF_SLAB;
  for (let p = slab.firstPfn; p < slab.totalPages;) {
    const flags = f[p * Frame.WORDS + Pg.FLAGS] as number;
    const order = f[p * Frame.WORDS + Pg.ORDER] as number;
    if ((flags & PgFlag.SLAB) !== 0 && f[p * Frame.WORDS + SlabPg.CACHE] === c.realId) {
      const fl = (f[p * Frame.WORDS + SlabPg.FREELIST] as number) >>> 0;
      if (offSlab && fl !== 0) {
        if (locked || v.fcache === null) {
          p += 1 << c.order;
          continue;
        }
        f[p * Frame.WORDS + SlabPg.FREELIST] = 0;
        slab.free(v.fcache, fl);
      }
      c.dv[slab.slabsAt[slab.slabNode(p)] as number]!--;
      slab.ev[Vm.SLAB_DISCARD]!++;
      slab.ev[slabGauge(c)]! -= 1 << c.order;
      clearFrame(slab, p);
      slab.buddy.freePages(p * slab.pageSize, c.order);
    }
    p += (flags & (PgFlag.HEAD | PgFlag.BUDDY)) !== 0 && order >= 0 && order < 32 ? 1 << order : 1;
  }
  if (!locked) return;
  for (const nr of v.nodes) {
    nr.fill(0, Node.FULL_HEAD, Node.FREE_TAIL + 1);
    nr[Node.FREE_SLABS] = 0;
    nr[Node.FREE_OBJECTS] = 0;
  }
}

/**
 * A debug check set object `obj` aside (SLUB's quarantineObject: its slab marked): the
 * slab leaves its list for good, its free objects uncounted.
 */
export function setAside(slab: SlabAllocator, c: KmemCache, v: ArrayViews, obj: number): void {
  const pfn = slab.slabOf(obj);
  if (pfn === 0) return;
  const node = slab.slabNode(pfn);
  const nr = v.nodes[node] as Int32Array;
  slab.lockNode(c, node);
  try {
    const i = pfn * Frame.WORDS;
    const counters = slab.f[i + SlabPg.COUNTERS] as number;
    if ((counters & SlabPg.LIST_MASK) === 0) return;
    listDel(slab, nr, pfn);
    nr[Node.FREE_OBJECTS] =
      (nr[Node.FREE_OBJECTS] as number) - (c.objects - (counters & SlabPg.ACTIVE_MASK));
  } finally {
    slab.unlockNode(c, node);
  }
}
