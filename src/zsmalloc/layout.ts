/*
 * zsmalloc's layout (Linux mm/zsmalloc.c): size classes and their geometry, the pool and
 * registry descriptors, and the frame words of a zspage's pages.
 *
 * Classes. An object of `size` bytes takes size + ZS_HANDLE_SIZE (its handle is kept in its
 * first 8 bytes) and goes to class ceil((size + 8 - ZS_MIN_ALLOC_SIZE) / delta), class i
 * holding objects of ZS_MIN_ALLOC_SIZE + delta * i bytes (32 + 16 i with 4 KiB pages: 255
 * classes up to a page). A zspage of class i chains the number of order-0 pages, up to
 * the chain size (CONFIG_ZSMALLOC_CHAIN_SIZE, default 8), that wastes least
 * (calculate_zspage_chain_size; one page for a power of two). Neighbouring classes with
 * the same pages and objects per zspage are one class (the larger size). The huge classes
 * keep one object in one page; huge_class_size is the smallest object size that lands in
 * one (3625 bytes with 4 KiB pages and chain 8).
 *
 * Objects. An object's location is `obj = pfn << OBJ_INDEX_BITS | index`: the page its
 * first byte is on, and its index in the zspage. A handle is the address of a kmalloc'd
 * word holding the obj (so compaction can move the object and rewrite the word); an
 * allocated object's first word holds handle | OBJ_ALLOCATED_TAG, a free one's the index of
 * the next free object << 1 (the last: FREE_END). A huge object has no header: its handle
 * is in its page's frame.
 *
 *   zspage of class 208 B, 3 pages (59 objects, 16 B wasted):
 *   page 0 (first)                  page 1                          page 2
 *   +------+------+-- .. --+---+    +----+------+-- .. --+----+     +---+------+-- .. --+--+
 *   | obj0 | obj1 |        |ob19    |19  | obj20|        | ob39     |39 | obj40|  ..    |  |
 *   +------+------+-- .. --+---+    +----+------+-- .. --+----+     +---+------+-- .. --+--+
 *                               an object may span two pages: map() copies it through the
 *                               cpu's mapping area
 */

/** Objects are multiples of this: a free link or handle never spans two pages. */
export const ZS_ALIGN = 8;
/** Bytes of an object that hold its handle (sizeof(unsigned long) on 64-bit Linux). */
export const ZS_HANDLE_SIZE = 8;
/** The header word of an allocated object has this bit set (handles are aligned). */
export const OBJ_ALLOCATED_TAG = 1;
/** The free link of a zspage's last free object: -1 << OBJ_TAG_BITS. */
export const FREE_END = -2;
/** log2 of the number of size classes' steps per page: delta = pageSize >> CLASS_BITS. */
export const CLASS_BITS = 8;
/** In every zspage frame's INFO word (Linux: zspage->magic). */
export const ZSPAGE_MAGIC = 0x58;
export const DEFAULT_CHAIN_SIZE = 8;
export const MIN_CHAIN_SIZE = 4;
export const MAX_CHAIN_SIZE = 16;

/**
 * Fullness groups: by objects in use over objects per zspage. Group 0 is empty (such a
 * zspage is freed at once), 1..10 are "at most 10%" .. "at most 99%", 11 is full.
 */
export const enum Fullness {
  RATIO_0 = 0,
  RATIO_10 = 1,
  RATIO_99 = 10,
  RATIO_100 = 11,
  NR_GROUPS = 12,
}

/** The group of a zspage with `inuse` of `objs` objects in use (get_fullness_group). */
export function fullnessGroup(inuse: number, objs: number): number {
  if (inuse === 0) return Fullness.RATIO_0;
  if (inuse === objs) return Fullness.RATIO_100;
  // 1 of 127 objects is ratio 0 but belongs in the 10% group: hence the + 1.
  return ((((100 * inuse) / objs) | 0) / 10 + 1) | 0;
}

/**
 * Frame words of a zspage's pages (flags HEAD | ZSMALLOC, order 0) and of a cpu's mapping
 * area (HEAD | ZSMALLOC, INFO with MAP_AREA):
 *
 *            NEXT         PREV        OWNER+0 INFO          OWNER+1           OWNER+2           OWNER+3
 *  first   | next zspage| prev zspage| magic|FIRST|HUGE|    | inuse:16        | next page pfn   | pool id:16
 *  page    | in its list| in its list| fullness|class:16   | freeobj:16      | (huge: handle|1)| mapcount:8
 *  other   | first page | 0          | magic|class:16       | offset of the   | next page pfn   | pool id
 *  pages   | pfn        |            |                      | first object    | (0: the last)   |
 *  mapping | 0          | 0          | magic|MAP_AREA       | 0               | 0               | cpu
 */
export const enum ZsPg {
  INFO = 4,
  INUSE = 5,
  FIRST_OBJ = 5,
  NEXT_PAGE = 6,
  HUGE_HANDLE = 6,
  POOL = 7,
  MAP_AREA_CPU = 7,
}

export const enum ZsInfo {
  MAGIC_MASK = 0xff,
  FIRST = 1 << 8,
  HUGE = 1 << 9,
  MAP_AREA = 1 << 14,
  FULLNESS_SHIFT = 10,
  FULLNESS_MASK = 0xf,
  CLASS_SHIFT = 16,
  /** INUSE word: objects in use (low half), first free object (high half, NO_FREE: none). */
  INUSE_MASK = 0xffff,
  FREEOBJ_SHIFT = 16,
  NO_FREE = 0xffff,
  /** POOL word: pool id (low half), the zspage's mappings (bits 16..23). */
  POOL_MASK = 0xffff,
  MAPCOUNT_ONE = 1 << 16,
  MAPCOUNT_SHIFT = 16,
}

/*
 * The registry (Hdr.ZS): every pool and zram device of the instance, and each cpu's
 * mapping area. kmalloc'd once, by the first pool made in any context.
 *
 *  0       1        2        3       4          5        16 (line)  32..             32+nrCpus..
 *  +-------+--------+--------+-------+----------+--------+----------+----------------+---------------+
 *  | magic | nextId | pools  | zrams | nextZram | nrCpus | lock     | map area [cpu] | intent [cpu]  |
 *  +-------+--------+--------+-------+----------+--------+----------+----------------+---------------+
 */
export const enum Reg {
  MAGIC = 0,
  NEXT_ID = 1,
  POOLS = 2,
  ZRAMS = 3,
  NEXT_ZRAM = 4,
  NR_CPUS = 5,
  LOCK = 16,
  MAP_AREA = 32,
  MAGIC_VALUE = 0x7a737267, // "zsrg"
}

export function registryWords(nrCpus: number): number {
  return Reg.MAP_AREA + nrCpus * (1 + Intent.WORDS);
}

/*
 * Each cpu's intent record, after the mapping areas (words intentAt(nrCpus, cpu) + Intent.*):
 * what the cpu has in hand outside a lock, so that offlineCpu can finish or undo it when
 * the cpu's context dies (src/zsmalloc/recover.ts, src/zram/robust.ts). 0: nothing.
 *
 *  BUILD       first pfn of the zspage it is making (allocZspage), until the zspage is on
 *              its list (cleared under the pool's lock)
 *  BUILD_POOL  that zspage's pool (descriptor address)
 *  DEVICE      the zram device of NEW and OLD (descriptor address)
 *  NEW         a handle a zram write allocated and has not yet stored in its slot
 *  OLD         a handle a zram slot let go of, being freed (before its handle's kfree)
 *  SLOT        slot index + 1 of the write storing its entry (under the slot's lock),
 *  ENTRY..+2   and that entry: handle (or value), flags, value's high word
 *  BLOCK       a backing block of DEVICE in the cpu's hands: taken for a writeback (named
 *              before its bit is set, under the bitmap lock) until its slot holds it, or
 *              let go of by a slot until its bit is cleared (cleared under the bitmap lock)
 *  WB_SLOT     slot index + 1 of DEVICE that the cpu's writeback marked UNDER_WB
 *  MAP         first pfn of the zspage the cpu has an object of mapped (zs_map_object;
 *              written and cleared under the pool's lock, with the zspage's mapcount)
 *  MAP_POOL    that zspage's pool (descriptor address)
 */
export const enum Intent {
  BUILD = 0,
  BUILD_POOL = 1,
  DEVICE = 2,
  NEW = 3,
  OLD = 4,
  SLOT = 5,
  ENTRY = 6,
  BLOCK = 9,
  WB_SLOT = 10,
  MAP = 11,
  MAP_POOL = 12,
  WORDS = 13,
}

/** Registry word of cpu `cpu`'s intent record. */
export function intentAt(nrCpus: number, cpu: number): number {
  return Reg.MAP_AREA + nrCpus + cpu * Intent.WORDS;
}

/*
 * A pool's descriptor (kmalloc'd), then the class map (a record number per class index)
 * and a record of Rec.WORDS per distinct class:
 *
 *  0     1    2     3     4      5         6          7        8      9        10
 *  magic| id | next| prev| chain| classes | records  | minSize| delta| idxBits| hugeSize|
 *  11 pagesAllocated | 12 pagesCompacted | 13 compacting (cpu + 1) | 16 lock (line) | 24..31 name |
 *  32.. classMap[classes] | records, from a 16-word boundary
 */
export const enum Pool {
  MAGIC = 0,
  ID = 1,
  NEXT = 2,
  PREV = 3,
  CHAIN = 4,
  NR_CLASSES = 5,
  NR_RECORDS = 6,
  MIN_SIZE = 7,
  DELTA = 8,
  OBJ_INDEX_BITS = 9,
  HUGE_CLASS_SIZE = 10,
  PAGES_ALLOCATED = 11,
  PAGES_COMPACTED = 12,
  COMPACTING = 13,
  LOCK = 16,
  NAME = 24,
  NAME_BYTES = 32,
  CLASS_MAP = 32,
  MAGIC_VALUE = 0x7a73706c, // "zspl"
}

/** A distinct class: its geometry, fullness lists (first pfns) and stats. */
export const enum Rec {
  SIZE = 0,
  OBJS = 1,
  PAGES = 2,
  INDEX = 3,
  LISTS = 4,
  /** zspages per fullness group (Linux class stats 0..11). */
  COUNTS = 16,
  OBJS_ALLOCATED = 28,
  OBJS_INUSE = 29,
  WORDS = 32,
}

/** Size classes for one page size, chain size and memory size. */
export interface ZsGeometry {
  pageSize: number;
  chainSize: number;
  objIndexBits: number;
  minSize: number;
  delta: number;
  nrClasses: number;
  /** Per class index: the record (distinct class) serving it. */
  classRecord: Uint16Array;
  /** Per record: object size, objects and pages per zspage, class index. */
  size: Int32Array;
  objs: Int32Array;
  pages: Int32Array;
  index: Int32Array;
  hugeClassSize: number;
}

/** calculate_zspage_chain_size. */
function chainFor(size: number, pageSize: number, chainSize: number): number {
  if ((size & (size - 1)) === 0) return 1;
  let best = 1;
  let minWaste = Infinity;
  for (let i = 1; i <= chainSize; i++) {
    const waste = (i * pageSize) % size;
    if (waste < minWaste) {
      minWaste = waste;
      best = i;
    }
  }
  return best;
}

/** The classes of zs_create_pool, largest first as Linux builds them, merged. */
export function zsGeometry(pageSize: number, chainSize: number, totalPages: number): ZsGeometry {
  const pfnBits = Math.max(1, 32 - Math.clz32(totalPages - 1));
  const objIndexBits = 32 - pfnBits;
  const minSize = Math.max(32, Math.floor((chainSize * pageSize) / 2 ** objIndexBits));
  // Linux's pages are 4 KiB or more, where pageSize >> 8 is a multiple of ZS_ALIGN; with
  // 1 and 2 KiB pages kmem keeps the step at 8 bytes, so no header spans two pages.
  const delta = Math.max(pageSize >> CLASS_BITS, ZS_ALIGN);
  const nrClasses = Math.ceil((pageSize - minSize) / delta) + 1;
  const classRecord = new Uint16Array(nrClasses);
  const size: number[] = [];
  const objs: number[] = [];
  const pages: number[] = [];
  const index: number[] = [];
  let hugeClassSize = 0;
  for (let i = nrClasses - 1; i >= 0; i--) {
    const s = Math.min(minSize + i * delta, pageSize);
    const p = chainFor(s, pageSize, chainSize);
    const o = Math.floor((p * pageSize) / s);
    if (p !== 1 && o !== 1 && hugeClassSize === 0) hugeClassSize = s - (ZS_HANDLE_SIZE - 1);
    const last = size.length - 1;
    if (last >= 0 && pages[last] === p && objs[last] === o) {
      classRecord[i] = last;
      continue;
    }
    size.push(s);
    objs.push(o);
    pages.push(p);
    index.push(i);
    classRecord[i] = size.length - 1;
  }
  return {
    pageSize,
    chainSize,
    objIndexBits,
    minSize,
    delta,
    nrClasses,
    classRecord,
    size: Int32Array.from(size),
    objs: Int32Array.from(objs),
    pages: Int32Array.from(pages),
    index: Int32Array.from(index),
    hugeClassSize,
  };
}

/** get_size_class_index: the class of an allocation of `size` bytes, handle included. */
export function classIndexOf(g: ZsGeometry, size: number): number {
  const i = size > g.minSize ? Math.ceil((size - g.minSize) / g.delta) : 0;
  return i < g.nrClasses - 1 ? i : g.nrClasses - 1;
}

/** Words of a pool descriptor of geometry `g`, and where its records start. */
export function recordsOffset(g: ZsGeometry): number {
  return (Pool.CLASS_MAP + g.nrClasses + 15) & ~15;
}

export function poolWords(g: ZsGeometry): number {
  return recordsOffset(g) + g.size.length * Rec.WORDS;
}
