/*
 * SLUB's cache registry (Linux mm/slab_common.c, and the cache half of mm/slub.c): creating
 * a cache or merging it into a compatible one (an alias), destroying it, cache ids, names
 * and the slab_caches list in memory, and this context's handles onto descriptors any
 * context wrote (adopt, lookup by id or name). Also what walks every cache: the shrinker,
 * cpu hotplug's drain, slabinfo.
 *
 * Functions take the allocator (slub.ts, whose header has the locks and invariants);
 * they run under slab_mutex unless they say otherwise.
 *
 * A context that dies holding slab_mutex (offlineCpu, Kmem.reopen: src/sync/robust.ts)
 * leaves the registry whole through slab_mutex's intent record (header words on the
 * lock's own line, Hdr.SLAB_INTENT..SLAB_SWEEP), written before the first store of every
 * change of the registry and cleared after its last:
 *
 *   CREATE   a cache or an alias being made: the descriptor once allocated, the real
 *            cache and its reference count and object size before the merge
 *            -> rolled back: the descriptor taken off slab_caches (the list rewritten from
 *            its NEXT links, whether it was linked, half linked or not at all), its magic
 *            cleared; the real cache's count and object size as they were
 *   DROP     destroy() of a name others still use -> rolled forward: the count dropped,
 *            the name dead (a real cache's) or the alias descriptor off the list
 *   DESTROY  destroy() of the last name -> rolled forward: the alias descriptor off the
 *            list, the count 0, the name dead; the slabs left to the drain (SLAB_TEARDOWN)
 *   RELEASE  destroy(), the slabs gone -> its descriptor off the list
 *
 * That much (repairRegistry) needs the memory alone: reopen runs it before any allocator
 * is open. What needs the slabs and their list_locks is done by offlineCpu's drain
 * (drainCpuCaches, slab_mutex taken again, every lock of the dead cpu repaired and the
 * dead cpu's slots given back; finishRegistry): a destroyed cache's slots let go of (a
 * flush of any cpu's sheaf the dead context was in is not redone: every slab goes), its
 * slabs freed and its descriptor released; then, when a descriptor may be allocated and on
 * no list (SLAB_SWEEP: one made or released half way, or taken by an allocation that died
 * before the record named it), every object of the boot cache kmem_cache that is
 * allocated, not set aside and on no list is freed (SLUB; SLAB's boot cache keeps it).
 * Meanwhile a cache being torn down has count 0 and is merged into by no one. The other
 * sections under slab_mutex change no registry word (lookups, adopting handles, the
 * shrinker, verify, the drain: what they touch under a list_lock is recover.ts's).
 */

import { hex, KmemError } from "../errors.js";
import {
  bootCacheBase,
  CpuRequest,
  Frame,
  Hdr,
  HdrOption,
  Pg,
  PgFlag,
  type PhysMem,
  Vm,
} from "../memory/index.js";
import { Gfp } from "../page/index.js";
import {
  type CacheGeometry,
  calculateAlignment,
  type Ctor,
  encodeCacheName,
  KmemCache,
  parseCacheArgs,
  type SlabCacheInfo,
  SlabFlag,
} from "../slab-common/index.js";
import { lock, unlock } from "../sync/index.js";
import {
  CpuSlot,
  cpuSlotBase,
  Desc,
  descriptorAlign,
  descriptorWords,
  remoteWords,
  objectsAtOrder,
  sheafCapacity,
  topOrderOf,
  Grow,
  SlubPg,
} from "./layout.js";
import {
  deactivate,
  flushSheaf,
  flushDeadSlot,
  lockAllNodes,
  nrSlabs,
  shrinkReal,
  unlockAllNodes,
} from "./slow.js";
import { recoverNode } from "./recover.js";
import type { SlubAllocator } from "./slub.js";

const UTF8_DECODER = new TextDecoder();

/** Slot index tables by geometry, shared by every instance (they are never written after). */
const SLOT_TABLES = new Map<string, Uint16Array>();

/* ------------------------------------------------------------------ slab_mutex */

/** Takes slab_mutex (re-entrant within a context), which guards what this file changes. */
export function lockSlabMutex(slub: SlubAllocator): void {
  if (slub.smp === true && slub.slabMutexDepth++ === 0) {
    lock(slub.h, Hdr.LOCK_SLAB, slub.cpuId, "slab_mutex");
    // Others may need slab_mutex to free memory: no allocation sleeps while it is held.
    slub.buddy.noWait++;
  }
}

export function unlockSlabMutex(slub: SlubAllocator): void {
  if (slub.smp === true && --slub.slabMutexDepth === 0) {
    slub.buddy.noWait--;
    unlock(slub.h, Hdr.LOCK_SLAB, slub.cpuId);
  }
}

/* ------------------------------------------------------------------ descriptors */

/**
 * The boot cache "kmem_cache", whose objects are the other caches' descriptors: its
 * descriptor (in the header) written for a new instance (`fresh`), else adopted, with a
 * handle for every cache other contexts made.
 */
export function bootCache(slub: SlubAllocator, fresh: boolean): KmemCache {
  const desc = bootCacheBase(slub.nrCpus, slub.nrNodes) * 4;
  if (fresh) {
    const geometry = slub.cacheGeometry(
      descriptorWords(slub.nrCpus, slub.nrNodes) * 4,
      descriptorAlign(slub.nrCpus),
      0,
      false,
      slub.nrCpus > 1,
    ) as CacheGeometry;
    const boot = initCache(
      slub,
      desc,
      "kmem_cache",
      geometry,
      SlabFlag.KMEM_OWN,
      null,
      randomSecret(),
    );
    slub.h[Hdr.BOOT_CACHE] = desc;
    return boot;
  }
  // Opened: the header must hold SLUB's boot cache (not SLOB's descriptor, not damage).
  const w = desc >>> 2;
  const bootId = slub.phys.word(w + Desc.ID);
  if (
    slub.h[Hdr.SLOB] !== 0 ||
    slub.phys.word(w + Desc.MAGIC) !== Desc.MAGIC_VALUE ||
    slub.h[Hdr.BOOT_CACHE] !== desc ||
    bootId < 0 ||
    bootId > slub.totalPages * slub.pageSize
  ) {
    throw new KmemError(
      "CORRUPTION",
      `SLAB-7: the boot cache kmem_cache is damaged (magic, id ${bootId}) or the instance is SLOB's`,
    );
  }
  const boot = adopt(slub, desc);
  lockSlabMutex(slub);
  try {
    liveCaches(slub);
  } finally {
    unlockSlabMutex(slub);
  }
  return boot;
}

/** The smallest id no cache in memory uses (slab_mutex held). */
function newId(slub: SlubAllocator): number {
  const used = new Set<number>();
  for (const d of cacheDescriptors(slub)) used.add(slub.phys.word((d >>> 2) + Desc.ID));
  let id = 0;
  while (used.has(id)) id++;
  return id;
}

/**
 * The descriptors on the slab_caches list, newest first: the one walk of the list read
 * from memory. Bounded by the descriptors memory can hold and checked link by link (inside
 * memory, aligned, with its magic, back link and an id a handle can take), so a damaged or
 * cyclic list is CORRUPTION (SLAB-7), never a hang or a silent truncation.
 */
export function cacheDescriptors(slub: SlubAllocator): number[] {
  const descs: number[] = [];
  const bytes = descriptorWords(slub.nrCpus, slub.nrNodes) * 4;
  const max = Math.floor((slub.totalPages * slub.pageSize) / bytes) + 1;
  let prev = 0;
  for (let d = (slub.h[Hdr.SLAB_CACHES] as number) >>> 0; d !== 0;) {
    if ((d & 3) !== 0 || !slub.phys.hasByte(d) || !slub.phys.hasByte(d + bytes - 1))
      throw new KmemError("CORRUPTION", `SLAB-7: slab_caches links to ${hex(d)}`);
    const w = d >>> 2;
    if (slub.phys.word(w + Desc.MAGIC) !== Desc.MAGIC_VALUE)
      throw new KmemError("CORRUPTION", `SLAB-7: descriptor at ${hex(d)} has a bad magic`);
    if (slub.phys.word(w + Desc.PREV) >>> 0 !== prev)
      throw new KmemError("CORRUPTION", `SLAB-7: descriptor at ${hex(d)} has a wrong back link`);
    const id = slub.phys.word(w + Desc.ID);
    if (id < 0 || id >= max)
      throw new KmemError("CORRUPTION", `SLAB-7: descriptor at ${hex(d)} has id ${id}`);
    if (descs.length >= max) throw new KmemError("CORRUPTION", "SLAB-7: slab_caches is cyclic");
    descs.push(d);
    prev = d;
    d = slub.phys.word(w + Desc.NEXT) >>> 0;
  }
  return descs;
}

function descriptorView(slub: SlubAllocator, desc: number): Int32Array {
  return slub.phys.wordsAt(desc, descriptorWords(slub.nrCpus, slub.nrNodes));
}

/** Cpu `cpu`'s slot in the descriptor at `desc`. */
export function cpuView(slub: SlubAllocator, desc: number, cpu: number = slub.cpuId): Int32Array {
  return slub.phys.wordsAt(desc + cpuSlotBase(slub.nrCpus, cpu) * 4, CpuSlot.WORDS);
}

/**
 * The words every descriptor has (magic, object size, id, name, serial), linked on
 * slab_caches (slab_mutex held).
 */
function startDescriptor(
  slub: SlubAllocator,
  desc: number,
  name: string,
  objectSize: number,
): { dv: Int32Array; id: number } {
  const dv = descriptorView(slub, desc);
  dv.fill(0);
  const id = newId(slub);
  dv[Desc.MAGIC] = Desc.MAGIC_VALUE;
  dv[Desc.OBJECT_SIZE] = objectSize;
  dv[Desc.ID] = id;
  dv[Desc.SERIAL] = ++slub.h[Hdr.CACHE_SERIAL]!;
  writeName(slub, desc, name);
  linkCache(slub, desc);
  return { dv, id };
}

function writeName(slub: SlubAllocator, desc: number, name: string): void {
  const bytes = encodeCacheName(name);
  const at = desc + Desc.NAME * 4;
  const span = slub.phys.span(at, Desc.NAME_BYTES);
  span.fill(0);
  span.set(bytes);
}

function readName(slub: SlubAllocator, desc: number): string {
  const at = desc + Desc.NAME * 4;
  const span = slub.phys.span(at, Desc.NAME_BYTES);
  const end = span.indexOf(0);
  return UTF8_DECODER.decode(span.slice(0, end < 0 ? Desc.NAME_BYTES : end));
}

function linkCache(slub: SlubAllocator, desc: number): void {
  const head = (slub.h[Hdr.SLAB_CACHES] as number) >>> 0;
  slub.phys.setWord((desc >>> 2) + Desc.NEXT, head);
  slub.phys.setWord((desc >>> 2) + Desc.PREV, 0);
  if (head !== 0) slub.phys.setWord((head >>> 2) + Desc.PREV, desc);
  slub.h[Hdr.SLAB_CACHES] = desc;
}

function unlinkCache(slub: SlubAllocator, desc: number): void {
  const next = slub.phys.word((desc >>> 2) + Desc.NEXT) >>> 0;
  const prev = slub.phys.word((desc >>> 2) + Desc.PREV) >>> 0;
  if (prev !== 0) slub.phys.setWord((prev >>> 2) + Desc.NEXT, next);
  else slub.h[Hdr.SLAB_CACHES] = next;
  if (next !== 0) slub.phys.setWord((next >>> 2) + Desc.PREV, prev);
}

/** Random words for freelist secrets, drawn from the platform's CSPRNG a batch at a time. */
const secrets = new Int32Array(64);
let secretsLeft = 0;
export function randomSecret(): number {
  if (secretsLeft === 0) {
    globalThis.crypto.getRandomValues(secrets);
    secretsLeft = secrets.length;
  }
  return (secrets[--secretsLeft] as number) | 1;
}

/* ------------------------------------------------------------------ creating, merging */

/** kmem_cache_create: validates, merges where SLUB would, else builds a new cache. */
export function kmemCacheCreate(
  slub: SlubAllocator,
  name: unknown,
  size: unknown,
  options: unknown,
): KmemCache | null {
  const {
    size: objectSize,
    align,
    flags,
    ctor,
  } = parseCacheArgs(name, size, options, slub.pageSize, slub.pageSize << (slub.maxOrder - 1));
  lockSlabMutex(slub);
  try {
    if (findCacheByName(slub, name as string) !== null) {
      throw new RangeError(`a cache named ${JSON.stringify(name)} exists already`);
    }
    const c = kmemCacheCreateInternal(slub, name as string, objectSize, align, flags, ctor);
    if (c !== null && ctor !== null) slub.ctors.set(c.name, ctor);
    return c;
  } finally {
    unlockSlabMutex(slub);
  }
}

/** createCache after validation; also makes the kmalloc caches. */
export function kmemCacheCreateInternal(
  slub: SlubAllocator,
  name: string,
  size: number,
  align: number,
  flags: number,
  ctor: Ctor | null,
): KmemCache | null {
  flags |= slub.globalFlags;
  lockSlabMutex(slub);
  try {
    if (ctor === null && (flags & SlabFlag.NEVER_MERGE) === 0) {
      const real = findMergeable(slub, size, align, flags);
      if (real !== null) return createAlias(slub, name, size, real);
    }
    let g = slub.cacheGeometry(size, align, flags, ctor !== null, slub.smp);
    if (
      g !== null &&
      slub.debugOrderOff &&
      (flags & SlabFlag.DEBUG_METADATA) !== 0 &&
      pageOrder(g.size, slub.pageSize) > pageOrder(size, slub.pageSize)
    ) {
      // slub_debug O (disable_higher_order_debug): the metadata would raise the order.
      flags &= ~SlabFlag.DEBUG_METADATA;
      g = slub.cacheGeometry(size, align, flags, ctor !== null, slub.smp);
    }
    if (g === null)
      throw new RangeError(
        `size ${size} does not fit in a slab of at most ${slub.maxOrder - 1} orders`,
      );
    intend(slub, Intent.CREATE, 0, 0);
    try {
      const desc = slub.alloc(slub.boot, Gfp.KERNEL, -1) >>> 0;
      if (desc === 0) return null;
      slub.h[Hdr.SLAB_INTENT_DESC] = desc;
      return initCache(slub, desc, name, g, flags, ctor, randomSecret());
    } finally {
      slub.h[Hdr.SLAB_INTENT] = Intent.NONE;
    }
  } finally {
    unlockSlabMutex(slub);
  }
}

/**
 * The cache of kmem's own metadata named `name` (kmem_meta-N): found in memory, or made
 * (not mergeable, flagged KMEM_OWN) under slab_mutex, so that two contexts make one.
 */
export function ownCache(
  slub: SlubAllocator,
  name: string,
  size: number,
  align: number,
): KmemCache | null {
  lockSlabMutex(slub);
  try {
    for (const c of liveCaches(slub)) if (c.name === name && c.id === c.realId) return c;
    const flags = SlabFlag.KMEM_OWN | SlabFlag.NO_MERGE;
    return kmemCacheCreateInternal(slub, name, size, align, flags, null);
  } finally {
    unlockSlabMutex(slub);
  }
}

/** get_order: the page order of a block of `bytes`. */
function pageOrder(bytes: number, pageSize: number): number {
  const pages = Math.ceil(bytes / pageSize);
  return pages <= 1 ? 0 : 32 - Math.clz32(pages - 1);
}

/** find_mergeable (mm/slab_common.c): an existing cache this one can share. */
function findMergeable(
  slub: SlubAllocator,
  size: number,
  align: number,
  flags: number,
): KmemCache | null {
  const alignedSize = Math.ceil(size / 8) * 8;
  const a = calculateAlignment(flags, align, alignedSize);
  const total = Math.ceil(alignedSize / a) * a;
  const same = SlabFlag.RECLAIM_ACCOUNT;
  // Oldest first, as the ids were handed out.
  for (const c of liveCaches(slub).sort((a, b) => a.id - b.id)) {
    if (c.id !== c.realId || c === slub.boot || c.hasCtor) continue;
    // A cache a dead context was destroying, its slabs not yet gone (finishRegistry).
    if (c.dv[Desc.REFCOUNT] === 0) continue;
    if ((c.flags & SlabFlag.NEVER_MERGE) !== 0) continue;
    if (total > c.size) continue;
    if ((flags & same) !== (c.flags & same)) continue;
    if ((c.size & ~(a - 1)) !== c.size) continue;
    if (c.size - total >= 8) continue;
    return c;
  }
  return null;
}

/** Writes a descriptor at `desc`, links it on slab_caches and returns its handle. */
export function initCache(
  slub: SlubAllocator,
  desc: number,
  name: string,
  g: CacheGeometry,
  flags: number,
  ctor: Ctor | null,
  secret: number,
): KmemCache {
  const { dv, id } = startDescriptor(slub, desc, name, g.objectSize);
  dv[Desc.SIZE] = g.size;
  dv[Desc.ALIGN] = g.align;
  dv[Desc.FLAGS] = flags;
  dv[Desc.OFFSET] = g.offset;
  dv[Desc.ORDER] = g.order | (g.topOrder << 8);
  dv[Desc.OBJECTS] = g.objects;
  dv[Desc.RED_LEFT] = g.redLeft;
  dv[Desc.INUSE] = g.inuse;
  dv[Desc.TRACK] = g.track;
  dv[Desc.BITMAP] = g.bitmap;
  dv[Desc.SECRET] = secret;
  dv[Desc.MIN_PARTIAL] = g.minPartial;
  dv[Desc.REFCOUNT] = 1;
  dv[Desc.CTOR_ID] = ctor === null ? 0 : 1;
  // Debug caches check every object on its way in and out: no sheaves (as Linux).
  // So do all caches of an instance made without per-cpu caching.
  const percpu = ((slub.h[Hdr.OPTIONS] as number) & HdrOption.NO_PERCPU) === 0;
  const sheafCap =
    (flags & SlabFlag.DEBUG_MASK) !== 0 || !percpu ? 0 : sheafCapacity(g.size, slub.pageSize);
  dv[Desc.SHEAF_CAP] = sheafCap;
  const c = new KmemCache({
    slab: slub,
    name,
    objectSize: g.objectSize,
    desc,
    id,
    realId: id,
    geometry: g,
    secret,
    flags,
    ctor,
    dv,
    cpu: cpuView(slub, desc),
    slotIndex: slotTable(g),
    ...cacheFields(slub, desc, name, ctor !== null, sheafCap),
  });
  slub.caches[id] = c;
  return c;
}

/** A real cache's handle fields besides its geometry and views: serials, lock names. */
function cacheFields(
  slub: SlubAllocator,
  desc: number,
  name: string,
  hasCtor: boolean,
  sheafCap: number,
) {
  return {
    hasCtor,
    sheafCap,
    serial: slub.phys.word((desc >>> 2) + Desc.SERIAL),
    ownSerial: slub.phys.word((desc >>> 2) + Desc.SERIAL),
    nodeLockNames: slub.partialAt.map((_, n) =>
      slub.nrNodes === 1
        ? `the list_lock of cache ${name}`
        : `the node ${n} list_lock of cache ${name}`,
    ),
  };
}

function createAlias(
  slub: SlubAllocator,
  name: string,
  size: number,
  real: KmemCache,
): KmemCache | null {
  intend(slub, Intent.CREATE, 0, real.desc);
  try {
    const desc = slub.alloc(slub.boot, Gfp.KERNEL, -1) >>> 0;
    if (desc === 0) return null;
    slub.h[Hdr.SLAB_INTENT_DESC] = desc;
    const { dv, id } = startDescriptor(slub, desc, name, size);
    dv[Desc.ALIAS_OF] = real.desc;
    real.dv[Desc.REFCOUNT]!++;
    if (size > (real.dv[Desc.OBJECT_SIZE] as number)) {
      // __kmem_cache_alias: s->object_size = max(s->object_size, size). Mergeable caches
      // have no red zones or poison, so nothing else depends on it.
      real.dv[Desc.OBJECT_SIZE] = size;
      for (const h of slub.caches) if (h !== null && h.realId === real.id) h.coreObjectSize = size;
    }
    const c = aliasHandle(slub, real, name, size, desc, id, dv[Desc.SERIAL] as number);
    slub.caches[id] = c;
    return c;
  } finally {
    slub.h[Hdr.SLAB_INTENT] = Intent.NONE;
  }
}

/**
 * The handle of an alias of `real`: its own name, object size, descriptor, id and serial;
 * the geometry, views and locks of `real`.
 */
function aliasHandle(
  slub: SlubAllocator,
  real: KmemCache,
  name: string,
  size: number,
  desc: number,
  id: number,
  ownSerial: number,
): KmemCache {
  return new KmemCache({
    slab: slub,
    name,
    objectSize: size,
    desc,
    id,
    realId: real.id,
    geometry: geometryOf(slub, real.dv, real.desc),
    secret: real.secret,
    flags: real.flags,
    ctor: null,
    hasCtor: false,
    dv: real.dv,
    cpu: real.cpu,
    slotIndex: real.slotIndex,
    sheafCap: real.sheafCap,
    serial: real.serial,
    ownSerial,
    nodeLockNames: real.nodeLockNames,
  });
}

/** The slot index table of a geometry, shared by caches of the same shape. */
function slotTable(g: CacheGeometry): Uint16Array {
  // The slots of a slab of topOrder: a smaller slab's are a prefix.
  const objects = g.topObjects;
  const key = `${g.size}/${objects}`;
  let table = SLOT_TABLES.get(key);
  if (table === undefined) {
    table = new Uint16Array(Math.ceil((objects * g.size) / 8));
    for (let k = 0; k < objects; k++) table[(k * g.size) / 8] = k + 1;
    SLOT_TABLES.set(key, table);
  }
  return table;
}

/**
 * The geometry in a descriptor, range-checked before it sizes a table or a slab: damage is
 * CORRUPTION (SLAB-7), not an engine error or a slab laid out over its neighbours.
 */
function geometryOf(slub: SlubAllocator, dv: Int32Array, desc: number): CacheGeometry {
  const size = dv[Desc.SIZE] as number;
  const orders = dv[Desc.ORDER] as number;
  const order = orders & 0xff;
  const top = orders >> 8;
  const objects = dv[Desc.OBJECTS] as number;
  const align = dv[Desc.ALIGN] as number;
  const slab = order < slub.maxOrder ? slub.pageSize * 2 ** order : 0;
  const within = (v: number, hi: number) => v >= 0 && v <= hi;
  if (
    slab === 0 ||
    // Slabs that grow: no larger than slabOf finds a head for, and the order topOrderOf
    // gives the geometry (a bitmap in the frame, at most FRAME_BITMAP_OBJECTS).
    top < order ||
    top >= slub.maxOrder ||
    (top > order &&
      (top > Grow.MAX_ORDER ||
        dv[Desc.BITMAP] !== -1 ||
        top !==
          topOrderOf(
            size,
            dv[Desc.RED_LEFT] as number,
            order,
            slub.pageSize,
            slub.maxOrder,
            ((dv[Desc.FLAGS] as number) & SlabFlag.FOOTPRINT) !== 0,
          ))) ||
    size < 8 ||
    (size & 7) !== 0 ||
    objects < 1 ||
    objects * size > slab ||
    !within(dv[Desc.OBJECT_SIZE] as number, size) ||
    !within(dv[Desc.OFFSET] as number, size - 4) ||
    !within(dv[Desc.RED_LEFT] as number, size) ||
    !within(dv[Desc.INUSE] as number, size) ||
    !within(dv[Desc.TRACK] as number, size) ||
    (dv[Desc.BITMAP] !== -1 && !within(dv[Desc.BITMAP] as number, slab - 4)) ||
    align < 1 ||
    (align & (align - 1)) !== 0 ||
    align > slub.pageSize ||
    (dv[Desc.MIN_PARTIAL] as number) < 0
  ) {
    throw new KmemError(
      "CORRUPTION",
      `SLAB-7: descriptor at ${hex(desc)} has a damaged geometry (size ${size}, order ${order}..${top}, ${objects} objects)`,
    );
  }
  // The flags decide the debug checks: a flag whose metadata the slots lack is damage, not
  // a red zone or poison overwritten in every object.
  const flags = dv[Desc.FLAGS] as number;
  const hasCtor = dv[Desc.CTOR_ID] !== 0;
  const poison = (flags & SlabFlag.POISON) !== 0 && !hasCtor;
  if (
    (flags & ~(SlabFlag.VALID_MASK | SlabFlag.KMEM_OWN | SlabFlag.FOOTPRINT)) !== 0 ||
    ((flags & SlabFlag.RED_ZONE) !== 0) !== (dv[Desc.RED_LEFT] as number) > 0 ||
    ((flags & SlabFlag.STORE_USER) !== 0) !== (dv[Desc.TRACK] as number) > 0 ||
    // SLUB's free pointer leaves the object for poison or a constructor (SLAB's never does).
    (((slub.h[Hdr.OPTIONS] as number) & HdrOption.SLAB) === 0 &&
      (hasCtor || poison) !== (dv[Desc.OFFSET] === dv[Desc.INUSE]))
  ) {
    throw new KmemError(
      "CORRUPTION",
      `SLAB-7: descriptor at ${hex(desc)} has flags ${hex(flags)} its slot layout does not have`,
    );
  }
  return {
    objectSize: dv[Desc.OBJECT_SIZE] as number,
    size: dv[Desc.SIZE] as number,
    align: dv[Desc.ALIGN] as number,
    offset: dv[Desc.OFFSET] as number,
    redLeft: dv[Desc.RED_LEFT] as number,
    inuse: dv[Desc.INUSE] as number,
    track: dv[Desc.TRACK] as number,
    order,
    topOrder: top,
    objects: dv[Desc.OBJECTS] as number,
    topObjects: objectsAtOrder(objects, order, top, slub.pageSize, size),
    bitmap: dv[Desc.BITMAP] as number,
    remote: remoteWords(dv[Desc.OBJECTS] as number, slub.smp),
    minPartial: dv[Desc.MIN_PARTIAL] as number,
  };
}

/* ------------------------------------------------------------------ handles */

/**
 * Builds this context's handle for the descriptor at `desc`, which another context (or
 * this one, before) wrote: geometry and flags from the descriptor, the constructor from
 * those registered here by name. slab_mutex held (or the instance is being opened).
 */
export function adopt(slub: SlubAllocator, desc: number): KmemCache {
  const w = desc >>> 2;
  const id = slub.phys.word(w + Desc.ID);
  const name = readName(slub, desc);
  const aliasOf = slub.phys.word(w + Desc.ALIAS_OF) >>> 0;
  let c: KmemCache;
  if (aliasOf !== 0) {
    const realId = slub.phys.word((aliasOf >>> 2) + Desc.ID);
    const real = lookupCache(slub, realId);
    if (real === null || real.id !== real.realId) {
      throw new KmemError(
        "CORRUPTION",
        `SLAB-7: alias descriptor at ${hex(desc)} names ${hex(aliasOf)}, not a live cache`,
      );
    }
    const size = slub.phys.word(w + Desc.OBJECT_SIZE);
    c = aliasHandle(slub, real, name, size, desc, id, slub.phys.word(w + Desc.SERIAL));
  } else {
    const dv = descriptorView(slub, desc);
    const g = geometryOf(slub, dv, desc);
    const hasCtor = dv[Desc.CTOR_ID] !== 0;
    c = new KmemCache({
      slab: slub,
      name,
      objectSize: g.objectSize,
      desc,
      id,
      realId: id,
      geometry: g,
      secret: dv[Desc.SECRET] as number,
      flags: dv[Desc.FLAGS] as number,
      ctor: hasCtor ? (slub.ctors.get(name) ?? null) : null,
      dv,
      cpu: cpuView(slub, desc),
      slotIndex: slotTable(g),
      ...cacheFields(slub, desc, name, hasCtor, dv[Desc.SHEAF_CAP] as number),
    });
  }
  // No holes: every loop over the handles sees null or a handle (an id from memory may jump).
  while (slub.caches.length < id) slub.caches.push(null);
  slub.caches[id] = c;
  return c;
}

/**
 * This context's handle for cache `id`: the one it has while the descriptor is still the
 * one it was built for, else rebuilt from memory. null if no cache has that id.
 */
export function lookupCache(slub: SlubAllocator, id: number): KmemCache | null {
  const c = slub.caches[id];
  if (c !== undefined && c !== null && (slub.smp === false || c.dv[Desc.SERIAL] === c.serial))
    return c;
  return slub.smp === true ? resolve(slub, id) : null;
}

/** Finds cache `id` in memory and builds a handle for it (another context made it). */
function resolve(slub: SlubAllocator, id: number): KmemCache | null {
  lockSlabMutex(slub);
  try {
    for (const d of cacheDescriptors(slub)) {
      if (slub.phys.word((d >>> 2) + Desc.ID) !== id) continue;
      const known = slub.caches[id];
      if (known !== undefined && known !== null && known.desc === d) {
        if (known.dv[Desc.SERIAL] === known.serial) return known;
        known.dead = true;
      }
      return adopt(slub, d);
    }
    const stale = slub.caches[id];
    if (stale !== undefined && stale !== null) stale.dead = true;
    slub.caches[id] = null;
    return null;
  } finally {
    unlockSlabMutex(slub);
  }
}

/**
 * Every live cache handle (aliases included), newest first, rebuilt where this context's
 * is missing or stale. slab_mutex held.
 */
export function liveCaches(slub: SlubAllocator): KmemCache[] {
  const out: KmemCache[] = [];
  const descs = cacheDescriptors(slub);
  // Real caches first, so that an alias finds its real cache's handle.
  for (const pass of [0, 1]) {
    for (const d of descs) {
      const isAlias = slub.phys.word((d >>> 2) + Desc.ALIAS_OF) >>> 0 !== 0;
      if (isAlias !== (pass === 1)) continue;
      const id = slub.phys.word((d >>> 2) + Desc.ID);
      const known = slub.caches[id];
      if (
        known !== undefined &&
        known !== null &&
        known.desc === d &&
        known.dv[Desc.SERIAL] === known.serial
      ) {
        continue;
      }
      adopt(slub, d);
    }
  }
  for (const d of descs) {
    out.push(slub.caches[slub.phys.word((d >>> 2) + Desc.ID)] as KmemCache);
  }
  // Handles of caches destroyed in another context.
  slub.caches.forEach((c, id) => {
    if (c !== null && !out.includes(c)) {
      c.dead = true;
      slub.caches[id] = null;
    }
  });
  return out;
}

/** The cache named `name`, made in any context; null if none. */
export function findCacheByName(slub: SlubAllocator, name: string): KmemCache | null {
  if (slub.smp === false) {
    for (const c of slub.caches) if (c !== null && c.name === name) return c;
    return null;
  }
  lockSlabMutex(slub);
  try {
    for (const c of liveCaches(slub)) if (c.name === name) return c;
    return null;
  } finally {
    unlockSlabMutex(slub);
  }
}

/**
 * Registers the constructor of the cache named `name` for this context: a cache made with
 * a constructor in another context gets its slabs built here only with it.
 */
export function registerCacheCtor(slub: SlubAllocator, name: string, ctor: Ctor): void {
  slub.ctors.set(name, ctor);
  for (const c of slub.caches) if (c !== null && c.name === name && c.hasCtor) c.ctor = ctor;
}

/** A handle whose cache another context destroyed (or replaced) is dead here too. */
export function checkHandle(slub: SlubAllocator, c: KmemCache, op: string): void {
  if (slub.smp === true && (c.dead || c.dv[Desc.SERIAL] !== c.serial || isGone(slub, c))) {
    if (c.id === c.realId && (c.flags & SlabFlag.KMALLOC) !== 0) {
      // kmalloc's caches are never destroyed: a changed serial is damage.
      throw new KmemError("CORRUPTION", `SLAB-7: the descriptor of ${c.name} changed its serial`);
    }
    c.dead = true;
    throw new KmemError("DESTROYED", `${op}: cache ${JSON.stringify(c.name)} was destroyed`);
  }
}

/**
 * The handle's name was destroyed in another context: an alias's descriptor released, or
 * a real cache's name dropped while aliases keep the cache.
 */
function isGone(slub: SlubAllocator, c: KmemCache): boolean {
  if (c.id === c.realId) return c.dv[Desc.NAME_DEAD] !== 0;
  const w = c.desc >>> 2;
  return (
    slub.phys.word(w + Desc.MAGIC) !== Desc.MAGIC_VALUE ||
    slub.phys.word(w + Desc.SERIAL) !== c.ownSerial
  );
}

/* ------------------------------------------------------------------ destroying */

/** kmem_cache_destroy. No context may use the cache meanwhile (as in Linux). */
export function kmemCacheDestroy(slub: SlubAllocator, c: KmemCache): void {
  if (slub.ctorDepth !== 0) {
    throw new KmemError(
      "BUSY",
      `cache ${JSON.stringify(c.name)}: destroy() from a constructor, while a slab is being built`,
    );
  }
  if (c.id === c.realId && (c.flags & (SlabFlag.KMALLOC | SlabFlag.KMEM_OWN)) !== 0) {
    // kmem's own caches: the descriptors' cache, kmalloc's size classes, kmem_meta-N.
    throw new KmemError(
      "BUSY",
      `cache ${JSON.stringify(c.name)} is kmem's own (${c === slub.boot ? "cache descriptors" : (c.flags & SlabFlag.KMALLOC) !== 0 ? "kmalloc" : "kmem's metadata"}); it cannot be destroyed`,
    );
  }
  lockSlabMutex(slub);
  let intended = false;
  try {
    checkHandle(slub, c, "destroy");
    const real = lookupCache(slub, c.realId) as KmemCache;
    const refs = real.dv[Desc.REFCOUNT] as number;
    if (refs > 1) {
      // Other names still use the cache (Linux: the reference count drops, the cache stays).
      intended = intend(slub, Intent.DROP, c.desc, real.desc);
      real.dv[Desc.REFCOUNT] = refs - 1;
      if (c.id === real.id) {
        real.dv[Desc.NAME_DEAD] = 1;
        real.dead = true;
        c.dead = true;
      } else releaseDescriptor(slub, c);
      return;
    }
    // The last reference: the cache itself goes, once no object is live.
    const active = activeObjects(slub, real);
    if (active > 0) {
      throw new KmemError(
        "BUSY",
        `cache ${JSON.stringify(real.name)} still has ${active} live object(s); free them before destroy()`,
      );
    }
    intended = intend(slub, Intent.DESTROY, c.desc, real.desc);
    if (c !== real) releaseDescriptor(slub, c);
    real.dv[Desc.REFCOUNT] = 0;
    lockAllNodes(slub, real);
    try {
      for (const slot of cpuSlots(slub, real)) {
        flushSheaf(slub, real, slot, slot[CpuSlot.SHEAF_COUNT] as number, true);
        deactivate(slub, real, slot);
      }
      slub.releaseCached(real);
      slub.discardSlabs(real);
    } finally {
      unlockAllNodes(slub, real);
    }
    slub.afterRelease(real);
    slub.h[Hdr.SLAB_INTENT] = Intent.RELEASE;
    releaseDescriptor(slub, real);
  } finally {
    if (intended) slub.h[Hdr.SLAB_INTENT] = Intent.NONE;
    unlockSlabMutex(slub);
  }
}

function releaseDescriptor(slub: SlubAllocator, c: KmemCache): void {
  unlinkCache(slub, c.desc);
  slub.phys.setWord((c.desc >>> 2) + Desc.MAGIC, 0);
  c.dead = true;
  slub.caches[c.id] = null;
  slub.freeOwn(c.desc);
}

/* ------------------------------------------------------------------ every cache */

/**
 * kmem_cache_shrink: flush this cpu's slab and sheaf, give back every empty slab. Other
 * online cpus are asked to flush theirs at their next slow path. Returns pages freed.
 */
export function kmemCacheShrink(slub: SlubAllocator, c: KmemCache): number {
  checkHandle(slub, c, "shrink");
  return shrinkReal(slub, lookupCache(slub, c.realId) as KmemCache);
}

/**
 * The shrinker registered with the page allocator: this cpu's slabs and sheaves, and empty
 * slabs of every cache; other online cpus are asked to flush theirs (flush_all).
 */
export function shrinkAllCaches(slub: SlubAllocator, nrToScan: number): number {
  let pages = 0;
  lockSlabMutex(slub);
  try {
    for (const c of liveCaches(slub)) {
      if (c.id !== c.realId) continue;
      pages += shrinkReal(slub, c);
      if (pages >= nrToScan) break;
    }
  } finally {
    unlockSlabMutex(slub);
  }
  if (slub.smp === true) slub.buddy.requestOthers(CpuRequest.FLUSH_SLABS);
  return pages;
}

/**
 * offlineCpu: gives the cpu slabs and sheaves of `cpu`, whose context is gone, back to
 * their caches. Returns the objects and slabs moved.
 */
export function drainCpuCaches(slub: SlubAllocator, cpu: number): number {
  let moved = 0;
  lockSlabMutex(slub);
  try {
    const caches = liveCaches(slub).filter((c) => c.id === c.realId);
    if (!caches.includes(slub.boot)) caches.push(slub.boot);
    for (const c of caches) {
      const slot = cpuView(slub, c.desc, cpu);
      if (slot[CpuSlot.SHEAF_COUNT] === 0 && slot[CpuSlot.SLAB] === 0) continue;
      moved += flushDeadSlot(slub, c, slot);
    }
    recountDeadActive(slub, caches, cpu);
    // A registry change a dead context left (its recovery's part that needs the slabs).
    finishRegistry(slub);
  } finally {
    unlockSlabMutex(slub);
  }
  return moved;
}

/**
 * The dead cpu's active count of each cache, from the ground truth: a cpu may die between
 * flipping an object's bit and counting it, so its count is set to what makes active + set
 * aside equal the bits marked allocated over the cache's slabs (SLAB-5). Exact when no other
 * cpu is inside an allocation or free of the cache at that moment; otherwise it may be off
 * by the objects those are flipping.
 */
function recountDeadActive(slub: SlubAllocator, caches: readonly KmemCache[], dead: number): void {
  const f = slub.f;
  const bits = new Map<number, number>();
  for (let pfn = slub.firstPfn; pfn < slub.totalPages;) {
    const flags = f[pfn * Frame.WORDS + Pg.FLAGS] as number;
    const order = f[pfn * Frame.WORDS + Pg.ORDER] as number;
    if ((flags & PgFlag.SLAB) !== 0) {
      const id = f[pfn * Frame.WORDS + SlubPg.CACHE] as number;
      const c = caches.find((k) => k.id === id);
      if (c !== undefined) bits.set(id, (bits.get(id) ?? 0) + allocatedIn(slub, c, pfn));
    }
    pfn +=
      (flags & (PgFlag.HEAD | PgFlag.BUDDY)) !== 0 && order >= 0 && order < 32 ? 2 ** order : 1;
  }
  for (const c of caches) {
    let others = 0;
    for (let cpu = 0; cpu < slub.nrCpus; cpu++) {
      if (cpu !== dead) others += cpuView(slub, c.desc, cpu)[CpuSlot.ACTIVE] as number;
    }
    const want = (bits.get(c.id) ?? 0) - (c.dv[Desc.QUARANTINED] as number) - others;
    cpuView(slub, c.desc, dead)[CpuSlot.ACTIVE] = want;
  }
}

/** Objects of slab `pfn` of `c` marked allocated (own XOR remote bitmap). */
function allocatedIn(slub: SlubAllocator, c: KmemCache, pfn: number): number {
  const wi = slub.bitmapWord(c, pfn);
  const objects = slub.slabObjects(c, pfn);
  let n = 0;
  for (let k = 0; k * 32 < objects; k++) {
    let x = slub.phys.word(wi + k);
    if (c.remote !== 0) x ^= slub.phys.word(wi + k + c.remote);
    const left = objects - k * 32;
    if (left < 32) x &= (1 << left) - 1;
    x -= (x >>> 1) & 0x55555555;
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    n += Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
  }
  return n;
}

/**
 * [objects, pages] of every slab of `c`: nr_slabs times a slab's, or, for a cache whose
 * slabs differ in order (growOrder), a walk of mem_map, as no counter keeps their sums.
 */
function slabTotals(slub: SlubAllocator, c: KmemCache, slabs: number): [number, number] {
  if (c.topOrder === c.order) return [slabs * c.objects, slabs << c.order];
  const f = slub.f;
  let objects = 0;
  let pages = 0;
  for (let pfn = slub.firstPfn; pfn < slub.totalPages; pfn++) {
    const i = pfn * Frame.WORDS;
    if (((f[i + Pg.FLAGS] as number) & PgFlag.SLAB) !== 0 && f[i + SlubPg.CACHE] === c.id) {
      objects += slub.slabObjects(c, pfn);
      pages += 1 << (f[i + Pg.ORDER] as number);
    }
  }
  return [objects, pages];
}

/** Real caches, newest first (the order of /proc/slabinfo). */
export function listRealCaches(slub: SlubAllocator): KmemCache[] {
  lockSlabMutex(slub);
  try {
    const out = liveCaches(slub).filter((c) => c.id === c.realId);
    if (!out.includes(slub.boot)) out.push(slub.boot);
    return out;
  } finally {
    unlockSlabMutex(slub);
  }
}

export function cacheInfo(slub: SlubAllocator, c: KmemCache): SlabCacheInfo {
  const aliases: string[] = [];
  for (const a of slub.caches)
    if (a !== null && a.realId === c.id && a.id !== c.id) aliases.push(a.name);
  const slabs = nrSlabs(slub, c);
  const [totalObjects, pages] = slabTotals(slub, c, slabs);
  return {
    name: c.name,
    objectSize: c.objectSize,
    size: c.size,
    activeObjects: activeObjects(slub, c),
    totalObjects,
    slabs,
    pages,
    objectsPerSlab: c.objects,
    pagesPerSlab: 1 << c.order,
    quarantined: c.dv[Desc.QUARANTINED] as number,
    aliases,
    emptySlabs: slub.emptyAt.reduce((n, at) => n + (c.dv[at + 1] as number), 0),
  };
}

/** Pages held by slabs, [reclaimable, unreclaimable]. */
export function slabPageCounts(slub: SlubAllocator): [number, number] {
  return [slub.buddy.event(Vm.NR_SLAB_RECLAIMABLE), slub.buddy.event(Vm.NR_SLAB_UNRECLAIMABLE)];
}

/** A node list_lock word of a cache, and its recovery after its owner died (recover.ts). */
export interface ListLockWord {
  readonly w: Int32Array;
  readonly i: number;
  readonly name: string;
  readonly recover: (dead: number) => string;
  /** The cache's descriptor and id, and the node (SLAB recovers its own way). */
  readonly desc: number;
  readonly cacheId: number;
  readonly node: number;
}

/**
 * Every node list_lock of every real cache, boot cache first, for offlineCpu's look at the
 * locks a dead cpu held (sync/robust.ts). Read only, without slab_mutex (a dead cpu may hold
 * it, or a live one that waits for a list_lock the dead one held): the slab_caches walk is
 * bounded and cycle-checked, and takes no handle.
 */
export function listLockWords(slub: SlubAllocator): ListLockWord[] {
  const out: ListLockWord[] = [];
  const seen = new Set<number>();
  const add = (d: number): void => {
    if (seen.has(d)) return;
    seen.add(d);
    if (slub.phys.word((d >>> 2) + Desc.ALIAS_OF) >>> 0 !== 0) return;
    const known = slub.caches[slub.phys.word((d >>> 2) + Desc.ID)];
    const name = known !== undefined && known !== null && known.desc === d ? known.name : null;
    for (let n = 0; n < slub.nrNodes; n++) {
      const wi = (d >>> 2) + (slub.lockAt[n] as number);
      out.push({
        w: slub.phys.wordView(wi),
        i: slub.phys.wordIndex(wi),
        name:
          name !== null
            ? ((known as KmemCache).nodeLockNames[n] as string)
            : `the node ${n} list_lock of the cache at ${hex(d)}`,
        recover: (dead) =>
          recoverNode(slub, name !== null ? (known as KmemCache) : adopt(slub, d), n, dead),
        desc: d,
        cacheId: slub.phys.word((d >>> 2) + Desc.ID),
        node: n,
      });
    }
  };
  add(slub.boot.desc);
  for (
    let d = (slub.h[Hdr.SLAB_CACHES] as number) >>> 0;
    d !== 0 && !seen.has(d) && seen.size <= slub.totalPages;
    d = slub.phys.word((d >>> 2) + Desc.NEXT) >>> 0
  ) {
    add(d);
  }
  return out;
}

/** Cpu slot views of every cpu for a real cache (cold paths: destroy, offline, verify). */
export function cpuSlots(slub: SlubAllocator, c: KmemCache): Int32Array[] {
  const out: Int32Array[] = [];
  for (let cpu = 0; cpu < slub.nrCpus; cpu++) {
    out.push(cpu === slub.cpuId ? c.cpu : cpuView(slub, c.desc, cpu));
  }
  return out;
}

/** Objects allocated and not freed: the sum of every cpu's count. */
export function activeObjects(slub: SlubAllocator, c: KmemCache): number {
  let n = 0;
  const w = c.desc >>> 2;
  for (let cpu = 0; cpu < slub.nrCpus; cpu++) {
    n += slub.phys.word(w + cpuSlotBase(slub.nrCpus, cpu) + CpuSlot.ACTIVE);
  }
  return n;
}

/** The object size a merge may have raised (read from memory: another context may have). */
export function objectSizeOf(slub: SlubAllocator, c: KmemCache): number {
  return slub.smp === true ? (c.dv[Desc.OBJECT_SIZE] as number) : c.coreObjectSize;
}

/* ------------------------------------------------------------------ an object's cache */

/** The real cache of a slab object, for ksize. Throws as a free would if it is not live. */
export function liveObjectCache(slub: SlubAllocator, head: number, addr: number): KmemCache {
  const c = slub.slabCache(head);
  if ((c.flags & SlabFlag.KMEM_OWN) !== 0 && !slub.ownAccess) refuseOwn(c, addr, "ksize");
  const idx = slub.objectIndex(c, head, addr);
  if (!slub.testBit(c, head, idx) || slub.isSetAside(c, head, addr)) {
    // A freed object, as kfree says of it (and SLOB's ksize): DOUBLE_FREE.
    notLive(slub, c, head, addr, `${c.name}: object ${hex(addr)} is already free`);
  }
  return c;
}

/**
 * An address whose slot is not allocated: DOUBLE_FREE with `message`, or INVALID_FREE if
 * it is past the last object of its slab (a smaller slab's tail: pastLastObject).
 */
function notLive(
  slub: SlubAllocator,
  c: KmemCache,
  head: number,
  addr: number,
  message: string,
): never {
  if (slub.pastLastObject(c, head, addr)) slub.notObjectStart(c, head, addr);
  throw new KmemError("DOUBLE_FREE", message);
}

/**
 * Checks that `addr` is a live object of cache `c` without changing anything (what a free
 * would check): INVALID_FREE, DOUBLE_FREE or WRONG_CACHE otherwise.
 */
export function checkLive(slub: SlubAllocator, c: KmemCache, addr: number, fn: string): void {
  const head = slub.slabOf(addr);
  if (head === 0) {
    throw new KmemError("INVALID_FREE", `${fn}(${hex(addr)}): not a slab object`);
  }
  const id = slub.f[head * Frame.WORDS + SlubPg.CACHE] as number;
  if (id !== c.realId) {
    const owner = slub.cacheById(id);
    throw new KmemError(
      "WRONG_CACHE",
      `${fn}(${hex(addr)}): the object belongs to cache ${owner === null ? "?" : JSON.stringify(owner.name)}, not ${JSON.stringify(c.name)}`,
    );
  }
  const idx = slub.objectIndex(c, head, addr);
  if (!slub.testBit(c, head, idx) || slub.isSetAside(c, head, addr)) {
    notLive(slub, c, head, addr, `${fn}(${hex(addr)}): the object is already free`);
  }
}

/**
 * A caller's kfree, ksize or kmem_cache_free of an object of kmem's own caches (a cache
 * descriptor, kmem_meta-N): refused before anything changes.
 */
export function refuseOwn(c: KmemCache, addr: number, fn: string): never {
  const what =
    c.name === "kmem_cache"
      ? "a cache descriptor"
      : "kmem's own metadata (a vmalloc, mempool, zsmalloc, zram or swap descriptor)";
  throw new KmemError(
    "INVALID_FREE",
    `${fn}(${hex(addr)}): ${what}, an object of ${c.name}; only kmem frees it`,
  );
}

/* ------------------------------------------------------------------ dead contexts */

/** slab_mutex's intent record's operations (Hdr.SLAB_INTENT; see the header). */
export const enum Intent {
  NONE = 0,
  /** A descriptor being made (SLAB_INTENT_DESC once allocated): a cache, or an alias of REAL. */
  CREATE = 1,
  /** destroy() of a name of REAL that others still use: DESC's name dropped. */
  DROP = 2,
  /** destroy() of REAL's last name (DESC): alias released, then the slabs. */
  DESTROY = 3,
  /** destroy(), REAL's slabs gone: its descriptor released. */
  RELEASE = 4,
}

/**
 * Writes slab_mutex's intent record before the first store of a registry change (the
 * real cache's reference count and object size as they were). Returns true.
 */
function intend(slub: SlubAllocator, op: Intent, desc: number, real: number): boolean {
  const h = slub.h;
  h[Hdr.SLAB_INTENT_DESC] = desc;
  h[Hdr.SLAB_INTENT_REAL] = real;
  h[Hdr.SLAB_INTENT_REFS] = real === 0 ? 0 : slub.phys.word((real >>> 2) + Desc.REFCOUNT);
  h[Hdr.SLAB_INTENT_SIZE] = real === 0 ? 0 : slub.phys.word((real >>> 2) + Desc.OBJECT_SIZE);
  h[Hdr.SLAB_INTENT] = op;
  return true;
}

/**
 * Rewrites the slab_caches list without the descriptor at `gone` (whether it is on it,
 * half linked or half unlinked): the list as the NEXT links from the head give it, `gone`
 * skipped, every link written again. Bounded and cycle-checked; damage is CORRUPTION.
 */
function relinkWithout(phys: PhysMem, gone: number): void {
  const h = phys.header;
  const bytes = descriptorWords(h[Hdr.NR_CPUS] as number, h[Hdr.NR_NODES] as number) * 4;
  const max =
    Math.floor(((h[Hdr.TOTAL_PAGES] as number) * 2 ** (h[Hdr.PAGE_SHIFT] as number)) / bytes) + 1;
  const descs: number[] = [];
  const seen = new Set<number>();
  for (let d = (h[Hdr.SLAB_CACHES] as number) >>> 0; d !== 0;) {
    if (
      (d & 3) !== 0 ||
      !phys.hasByte(d) ||
      !phys.hasByte(d + bytes - 1) ||
      seen.has(d) ||
      seen.size > max
    )
      throw new KmemError("CORRUPTION", `SLAB-7: slab_caches links to ${hex(d)}`);
    seen.add(d);
    if (d !== gone) descs.push(d);
    d = phys.word((d >>> 2) + Desc.NEXT) >>> 0;
  }
  h[Hdr.SLAB_CACHES] = descs[0] ?? 0;
  descs.forEach((d, k) => {
    phys.setWord((d >>> 2) + Desc.PREV, descs[k - 1] ?? 0);
    phys.setWord((d >>> 2) + Desc.NEXT, descs[k + 1] ?? 0);
  });
}

/** Takes the descriptor at `desc` off slab_caches for good (its object freed by the sweep). */
function dropDescriptor(phys: PhysMem, desc: number): void {
  relinkWithout(phys, desc);
  phys.setWord((desc >>> 2) + Desc.MAGIC, 0);
  phys.header[Hdr.SLAB_SWEEP] = 1;
}

/**
 * slab_mutex's recovery (offlineCpu, Kmem.reopen), slab_mutex held: the registry change a
 * dead context left half done, from the intent record, rolled back (a cache or alias being
 * made) or forward (a destroy); what needs the slabs and their list_locks (a destroyed
 * cache's slabs, the descriptor objects to free) is left to finishRegistry. Needs only the
 * memory (reopen runs it before any allocator is open). Returns what was done.
 */
export function repairRegistry(phys: PhysMem): string {
  const h = phys.header;
  const op = h[Hdr.SLAB_INTENT] as number;
  const desc = (h[Hdr.SLAB_INTENT_DESC] as number) >>> 0;
  const real = (h[Hdr.SLAB_INTENT_REAL] as number) >>> 0;
  let done: string;
  switch (op) {
    case Intent.NONE:
      return "no registry change was under way";
    case Intent.CREATE:
      // Roll back: the new descriptor off the list, the real cache's count and size as before.
      if (desc !== 0) dropDescriptor(phys, desc);
      else h[Hdr.SLAB_SWEEP] = 1;
      if (real !== 0) {
        phys.setWord((real >>> 2) + Desc.REFCOUNT, h[Hdr.SLAB_INTENT_REFS] as number);
        phys.setWord((real >>> 2) + Desc.OBJECT_SIZE, h[Hdr.SLAB_INTENT_SIZE] as number);
      }
      done = `the ${real !== 0 ? "alias" : "cache"} being made undone`;
      break;
    case Intent.DROP:
      // Roll forward: the name is gone, the cache stays for the others.
      phys.setWord((real >>> 2) + Desc.REFCOUNT, (h[Hdr.SLAB_INTENT_REFS] as number) - 1);
      if (desc === real) phys.setWord((real >>> 2) + Desc.NAME_DEAD, 1);
      else dropDescriptor(phys, desc);
      done = "a destroy of one of a merged cache's names completed";
      break;
    case Intent.DESTROY:
      // Roll forward: the alias and the name go now, the slabs at the drain.
      if (desc !== real) dropDescriptor(phys, desc);
      phys.setWord((real >>> 2) + Desc.REFCOUNT, 0);
      phys.setWord((real >>> 2) + Desc.NAME_DEAD, 1);
      h[Hdr.SLAB_TEARDOWN] = real;
      done = `a destroy completed (the cache's slabs go back at the drain)`;
      break;
    case Intent.RELEASE:
      dropDescriptor(phys, real);
      done = "a destroy completed (the descriptor released)";
      break;
    default:
      throw new KmemError("CORRUPTION", `SLAB-7: slab_mutex's intent record says ${op}`);
  }
  h[Hdr.SLAB_INTENT] = Intent.NONE;
  return done;
}

/**
 * offlineCpu's drain, slab_mutex held, the dead cpu's slots given back: completes what
 * repairRegistry left (an intent it never saw is repaired first): the slabs of a cache
 * whose destroy was rolled forward go back and its descriptor is released; cache
 * descriptors allocated and on no list (made or released half way) are freed.
 */
function finishRegistry(slub: SlubAllocator): void {
  const h = slub.h;
  // (A record naming no operation is damage its recovery reported: left for verify().)
  const op = h[Hdr.SLAB_INTENT] as number;
  if (op >= Intent.CREATE && op <= Intent.RELEASE) repairRegistry(slub.phys);
  const real = (h[Hdr.SLAB_TEARDOWN] as number) >>> 0;
  if (real !== 0) {
    const c = slub.caches.find((k) => k !== null && k.desc === real && k.id === k.realId);
    if (c !== undefined && c !== null) {
      lockAllNodes(slub, c);
      try {
        // Every slab goes: the slots (the dead context may have been half way through
        // flushing one, its own or another cpu's) are let go of, not flushed, so that no
        // object goes back twice; no object of the cache is live.
        for (const slot of cpuSlots(slub, c)) {
          slot.fill(0, CpuSlot.SLAB, CpuSlot.SHEAF_COUNT + 1);
          slot[CpuSlot.SPAN] = 0;
        }
        slub.releaseCached(c);
        slub.discardSlabs(c);
      } finally {
        unlockAllNodes(slub, c);
      }
      slub.afterRelease(c);
      c.dead = true;
      slub.caches[c.id] = null;
    }
    dropDescriptor(slub.phys, real);
    h[Hdr.SLAB_TEARDOWN] = 0;
  }
  if (h[Hdr.SLAB_SWEEP] !== 0) {
    sweepDescriptors(slub);
    h[Hdr.SLAB_SWEEP] = 0;
  }
}

/**
 * Frees every object of the boot cache kmem_cache that is allocated, not set aside and no
 * descriptor on slab_caches: one a dead context was making or releasing. slab_mutex held
 * (no other context allocates or frees one meanwhile). SLAB: its array objects have their
 * bits clear, and the dead cpu's array was given back first (an object it held half taken
 * or half freed dropped from it: src/slab/recover.ts), so an object counted here is in none.
 */
function sweepDescriptors(slub: SlubAllocator): number {
  const boot = slub.boot;
  const linked = new Set(cacheDescriptors(slub));
  const f = slub.f;
  const orphans: number[] = [];
  for (let pfn = slub.firstPfn; pfn < slub.totalPages;) {
    const flags = f[pfn * Frame.WORDS + Pg.FLAGS] as number;
    const order = f[pfn * Frame.WORDS + Pg.ORDER] as number;
    if ((flags & PgFlag.SLAB) !== 0 && f[pfn * Frame.WORDS + SlubPg.CACHE] === boot.id) {
      for (let idx = 0; idx < boot.objects; idx++) {
        const obj = slub.objectBase(pfn) + boot.redLeft + idx * boot.size;
        if (slub.testBit(boot, pfn, idx) && !slub.isSetAside(boot, pfn, obj) && !linked.has(obj))
          orphans.push(obj);
      }
    }
    pfn +=
      (flags & (PgFlag.HEAD | PgFlag.BUDDY)) !== 0 && order >= 0 && order < 32 ? 2 ** order : 1;
  }
  for (const obj of orphans) slub.freeOwn(obj);
  return orphans.length;
}
