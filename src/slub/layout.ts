/*
 * SLUB's layout: the cache descriptor's words, the object layout inside a slot, and the
 * choice of slab order (Linux mm/slub.c calculate_sizes, calculate_order; the alignment is
 * slab-common's calculate_alignment).
 *
 * A slab is a block of 2^order pages from the page allocator, carved into `objects` slots
 * of `size` bytes (a cache's slabs may differ in order: growOrder). Each object has a bit
 * in an allocation bitmap (1 = allocated) that makes double frees an O(1) check; a slab of
 * at most 32 objects keeps it in its frame descriptor, a larger one in whole words at its
 * end:
 *
 *   slab start                                                            slab end
 *   +--------+--------+--------+-- ... --+--------+-------------+------------------+
 *   | slot 0 | slot 1 | slot 2 |         | slot n | padding     | bitmap (n bits,  |
 *   |        |        |        |         |        | (0x5a, P)   | whole words; n>32)|
 *   +--------+--------+--------+-- ... --+--------+-------------+------------------+
 *
 * With several cpus a slab of more than 32 objects has two bitmaps there, of the same size:
 *
 *   ... | slot n | padding | own bitmap (n bits)  | remote bitmap (n bits) |
 *
 *   allocated(i) = own(i) XOR remote(i). The cpu whose cpu slab it is flips own bits with
 *   plain stores (nobody else writes them); every other cpu, and a list_lock holder taking
 *   an object, flips remote bits with Atomics.xor. So the object fast paths take no Atomics
 *   call, and no store is lost (remoteWords).
 *
 * A slot, with offsets relative to the object address (as SLUB's are):
 *
 *   -redLeft      0                objectSize         inuse        trackOffset     size-redLeft
 *   +-------------+----------------+------------------+------------+---------------+-----+
 *   | left red    | object         | right red zone   | free ptr   | alloc track,  | pad |
 *   | zone (Z)    |                | (Z, >= 1 word)   | (outside)  | free track (U)|     |
 *   |             |                |                  |            | orig size (U, |     |
 *   |             |                |                  |            | kmalloc only) |     |
 *   +-------------+----------------+------------------+------------+---------------+-----+
 *
 * The free pointer lives inside the object (at objectSize/2 rounded down to a word, as SLUB)
 * unless the object must keep its contents while free (a constructor) or is poisoned (P);
 * then it gets a word of its own after the right red zone. Stored free pointers are
 * hardened: next ^ cache secret ^ byteswap(address where it is stored)
 * (CONFIG_SLAB_FREELIST_HARDENED).
 *
 * Bytes (include/linux/poison.h): a free poisoned object is 0x6b with a final 0xa5; red
 * zones are 0xbb around a free object and 0xcc around an allocated one; padding is 0x5a.
 */

import { Pg } from "../memory/index.js";
import {
  type CacheGeometry,
  CacheName,
  calculateAlignment,
  SlabFlag,
} from "../slab-common/index.js";

export const enum Poison {
  /** POISON_FREE: a free object's bytes. */
  FREE = 0x6b,
  /** POISON_END: a free object's last byte. */
  END = 0xa5,
  /** POISON_INUSE: slab padding. */
  INUSE = 0x5a,
  /** SLUB_RED_INACTIVE: red zones of a free object. */
  RED_INACTIVE = 0xbb,
  /** SLUB_RED_ACTIVE: red zones of an allocated object. */
  RED_ACTIVE = 0xcc,
}

// A slab's head frame (flags HEAD | SLAB) uses the mem_map entry's owner words as SLUB's
// struct slab; the frame's next/prev link the slab on its node's partial list:
//  16         20         24                  28         32
//  +----------+----------+---------+--------+----------+
//  | cache id | freelist | inuse   | state  | bitmap   |   freelist: first free object, 0 = none;
//  |          |          | (16 b)  | (16 b) | (<= 32   |   bitmap: allocated objects, when the
//  +----------+----------+---------+--------+----------+   slab has at most 32 (else on the slab)
export const enum SlubPg {
  /** Id of the cache the slab belongs to. */
  CACHE = Pg.OWNER + 0,
  /** Address of the first object on the slab's own freelist, 0 if none. */
  FREELIST = Pg.OWNER + 1,
  /** inuse (low 16 bits: objects not on the slab's own freelist) | SlabState << 16. */
  COUNTERS = Pg.OWNER + 2,
  /** The allocation bitmap, for slabs of at most 32 objects. */
  BITMAP = Pg.OWNER + 3,
}

/** State bits of a slab, in the high half of its SlubPg.COUNTERS word. */
export const enum SlabState {
  INUSE_MASK = 0xffff,
  /** the slab is some cpu's slab: its free objects are on that cpu's freelist */
  FROZEN = 1 << 16,
  /** the slab is on its cache's partial list */
  PARTIAL = 1 << 17,
  /** corruption was found in it: set aside, never allocated from again */
  QUARANTINED = 1 << 18,
  /** empty, kept in its node's reserve of empty slabs (NodeRec.EMPTY_HEAD) */
  EMPTY = 1 << 19,
}

// Cache descriptor: the shared words, then one slot per cpu, in managed memory (an object of
// the boot cache "kmem_cache"; the boot cache's own descriptor is in the header). With one
// cpu the slot follows at word 40 (81 words in all with node 0's two after it, 328 bytes
// as the boot cache aligns them: twelve to a page); with more, descriptors are 64-byte aligned and each slot starts on a
// line of its own (word 48, then every 48 words), so that two cpus never write one line.
//
//  word 0       1           2        3        4        5          6        7
//  +----------+-----------+--------+--------+--------+----------+--------+----------+
//  | magic    | objectSize| size   | align  | flags  | offset   | orders | objects  |
//  +----------+-----------+--------+--------+--------+----------+--------+----------+
//  | redLeft  | inuse     | track  | bitmap | secret | minPart. | partial| nrPartial|   8..15
//  +----------+-----------+--------+--------+--------+----------+--------+----------+
//  | nrSlabs  | nameDead  | refcnt | next   | prev   | aliasOf  | ctorId | id       |  16..23
//  +----------+-----------+--------+--------+--------+----------+--------+----------+
//  | name: 48 bytes of UTF-8, NUL padded                                  | quarant. |  24..36
//  +----------------------------------------------------------------------+----------+
//  | sheafCap | list_lock | serial   |                                                  37..39
//  +----------+-----------+----------+----------------------------------------------+
//  | cpu[0]: slab pfn, freelist, first object, bitmap word, sheaf count, active,     |  40..78
//  |         span, sheaf[32]                            (one cpu: CpuSlot.WORDS)     |
//  +---------------------------------------------------------------------------------+
//  more cpus: (unused) 40..47 | cpu[0] 48..86, pad to 95 | cpu[1] 96.. | ...  (LINE_WORDS apart)
//  after the cpu slots: node 0's reserve of empty slabs (its head, then nr_empty: NodeRec
//  EMPTY_HEAD and NR_EMPTY), then with more nodes node 1's record (NodeRec: partial head,
//  nr_partial, list_lock, nr_slabs, reserve head, nr_empty), node 2's, ...; node 0's other
//  words are 14, 15, 38 and 16
export const enum Desc {
  MAGIC = 0,
  OBJECT_SIZE = 1,
  SIZE = 2,
  ALIGN = 3,
  FLAGS = 4,
  /** Free pointer offset from the object address. */
  OFFSET = 5,
  /** The slabs' order (bits 0-7) and topOrder (bits 8-15): see growOrder. */
  ORDER = 6,
  OBJECTS = 7,
  RED_LEFT = 8,
  /** Offset of the first byte after object and right red zone. */
  INUSE = 9,
  TRACK = 10,
  /** Byte offset of the allocation bitmap from the slab start; -1: in the frame. */
  BITMAP = 11,
  SECRET = 12,
  MIN_PARTIAL = 13,
  PARTIAL_HEAD = 14,
  NR_PARTIAL = 15,
  NR_SLABS = 16,
  /** 1 once the cache's own name was destroyed while merged caches keep it alive. */
  NAME_DEAD = 17,
  REFCOUNT = 18,
  NEXT = 19,
  PREV = 20,
  ALIAS_OF = 21,
  CTOR_ID = 22,
  ID = 23,
  NAME = 24,
  NAME_BYTES = CacheName.BYTES,
  /** Objects set aside as corrupt. */
  QUARANTINED = 36,
  /** Objects a cpu's sheaf may hold (0: no sheaves, as for debug caches). */
  SHEAF_CAP = 37,
  /** Node 0's list_lock: its partial list, nr_slabs, and its slabs' freelists and counters. */
  LOCK = 38,
  /** Header[Hdr.CACHE_SERIAL] when the descriptor was written: a handle's identity check. */
  SERIAL = 39,
  /** The shared words; the cpu slots follow (see cpuSlotBase). */
  WORDS = 40,
  /** With more than one cpu: the first slot's word, and the descriptors' alignment. */
  CPU_SMP = 48,
  ALIGN_SMP = 64,
  /** "cach" */
  MAGIC_VALUE = 0x63616368,
}

/**
 * One cpu's slot in a descriptor: descriptor[cpuSlotBase(nrCpus, cpu) + field]. Only
 * the cpu that owns it touches it while that cpu is online (no lock: the fast paths).
 */
export const enum CpuSlot {
  /** The cpu slab's pfn, 0 if none. */
  SLAB = 0,
  /** First object of the cpu freelist, 0 if empty. */
  FREELIST = 1,
  /** Address of the cpu slab's first object. */
  START = 2,
  /** Index (in 32-bit words of memory) of the cpu slab's bitmap. */
  BITMAP = 3,
  /** Objects in the cpu's sheaf. */
  SHEAF_COUNT = 4,
  /**
   * Objects this cpu allocated less those it freed (may be negative): the cache's active
   * objects are the sum over cpus, so that no shared counter is written on the fast paths.
   */
  ACTIVE = 5,
  /**
   * Bytes from the cpu slab's first object to the end of its last slot (its objects times
   * the slot size: slabs of one cache may differ in order, see growOrder).
   */
  SPAN = 6,
  /** The sheaf: addresses of free objects of any slab of the cache, a stack. */
  SHEAF = 7,
  SHEAF_MAX = 32,
  WORDS = SHEAF + SHEAF_MAX,
  /** The stride between slots with more than one cpu: three 64-byte lines. */
  LINE_WORDS = 48,
}

/** Word offset of cpu `cpu`'s slot in a descriptor of an instance with `nrCpus` cpus. */
export function cpuSlotBase(nrCpus: number, cpu: number): number {
  return nrCpus === 1 ? Desc.WORDS : Desc.CPU_SMP + CpuSlot.LINE_WORDS * cpu;
}

/** Alignment of cache descriptors (cache lines when cpus share them). */
export function descriptorAlign(nrCpus: number): number {
  return nrCpus === 1 ? 8 : Desc.ALIGN_SMP;
}

/**
 * A cache's sheaf capacity (Linux 6.18 percpu sheaves; Bonwick's magazines): up to 32
 * objects, and no more than about two pages' worth, so large objects do not sit idle.
 */
export function sheafCapacity(size: number, pageSize: number): number {
  return Math.max(2, Math.min(CpuSlot.SHEAF_MAX, Math.floor((2 * pageSize) / size)));
}

/**
 * A cache's per-node record (Linux struct kmem_cache_node): node 0's first four words are
 * among the descriptor's shared words (PARTIAL_HEAD, NR_PARTIAL, LOCK, NR_SLABS) and its
 * reserve's two follow the cpu slots; nodes 1.. have one record each after those.
 */
export const enum NodeRec {
  /** First slab of the node's partial list (a pfn), 0 if empty. */
  PARTIAL_HEAD = 0,
  NR_PARTIAL = 1,
  /** The node's list_lock. */
  LOCK = 2,
  /** Slabs of the cache on this node. */
  NR_SLABS = 3,
  /**
   * First slab of the node's reserve of empty slabs (a pfn), 0 if none: empty slabs kept
   * from the page allocator for the next slab the node needs (reserveBound).
   */
  EMPTY_HEAD = 4,
  /** Slabs in the reserve (NR_EMPTY follows EMPTY_HEAD, as NR_PARTIAL follows PARTIAL_HEAD). */
  NR_EMPTY = 5,
  WORDS = 6,
  /** Node 0's words after the cpu slots: EMPTY_HEAD and NR_EMPTY. */
  NODE0_WORDS = 2,
}

/** The first word after a descriptor's cpu slots. */
function slotsEnd(nrCpus: number): number {
  return nrCpus === 1 ? Desc.WORDS + CpuSlot.WORDS : cpuSlotBase(nrCpus, nrCpus);
}

/**
 * Words of a cache descriptor: the shared words, the cpu slots, node 0's reserve words,
 * then with NUMA nodes the records of nodes 1.. (NodeRec).
 */
export function descriptorWords(nrCpus: number, nrNodes = 1): number {
  return slotsEnd(nrCpus) + NodeRec.NODE0_WORDS + NodeRec.WORDS * (nrNodes - 1);
}

/** Word offset in a descriptor of field `field` of node `nid`'s record. */
export function nodeRecIndex(nrCpus: number, nid: number, field: NodeRec): number {
  if (nid === 0) {
    if (field === NodeRec.PARTIAL_HEAD) return Desc.PARTIAL_HEAD;
    if (field === NodeRec.NR_PARTIAL) return Desc.NR_PARTIAL;
    if (field === NodeRec.LOCK) return Desc.LOCK;
    if (field === NodeRec.NR_SLABS) return Desc.NR_SLABS;
    return slotsEnd(nrCpus) + field - NodeRec.EMPTY_HEAD;
  }
  return descriptorWords(nrCpus, nid) + field;
}

/**
 * Most empty slabs a node's reserve may hold (SLUB's min_partial, widened): the larger of
 * what min_partial leaves beside the node's partial slabs (Linux keeps an empty slab while
 * nr_partial < min_partial) and a sixteenth of the node's slabs of the cache, and never more
 * than RESERVE_MAX. A cache that frees and remakes slabs in waves keeps the trough's slabs
 * for the next crest; a small cache keeps what Linux would.
 */
export function reserveBound(minPartial: number, nrPartial: number, nrSlabs: number): number {
  // A cache sized for footprint (SlabFlag.FOOTPRINT) passes FOOTPRINT_MIN_PARTIAL.
  return Math.min(RESERVE_MAX, Math.max(minPartial - nrPartial, nrSlabs >> RESERVE_SHIFT));
}

/**
 * The min_partial of the reserve's rule for a cache sized for footprint (SlabFlag.FOOTPRINT):
 * one empty slab beside the partial ones, not 5 to 10 (its min_partial still gates taking
 * another node's partial slabs, as Linux's get_any_partial does).
 */
export const FOOTPRINT_MIN_PARTIAL = 1;

/** Beyond min_partial's rule the reserve holds at most 1/2^RESERVE_SHIFT of a node's slabs. */
export const RESERVE_SHIFT = 4;

/** The most empty slabs one node's reserve of one cache holds (>= every min_partial). */
export const RESERVE_MAX = 128;

/** Track record (U): call-site id and sequence number, for allocation then free. */
export const enum Track {
  WORDS = 2,
  BYTES = 8,
  SITE = 0,
  SEQ = 1,
}

/**
 * Byte swap, for freelist hardening: a free pointer is stored as
 * next ^ cache secret ^ bswap32(address where it is stored) (swab in freelist_ptr_encode).
 */
export function bswap32(x: number): number {
  return (x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** SLUB's slab_max_order default: slabs of at most 8 pages. */
export const SLAB_MAX_ORDER = 3;

/** The slabs of a cache whose slabs grow (topOrderOf, growOrder). */
export const enum Grow {
  /**
   * The largest order: 16 pages, above SLUB's slab_max_order, since such a slab holds at
   * most 32 objects (its bitmap in its frame) and comes after 128 slabs of the cache at
   * least (growOrder). slabOf looks for a slab's head up to it.
   */
  MAX_ORDER = 4,
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** Objects whose allocation bits a slab's frame holds (one word): a growing slab's most. */
export const FRAME_BITMAP_OBJECTS = 32;

/**
 * Bytes of bitmap a slab of `n` objects keeps at its end (0: it fits in the frame); twice as
 * many with `dual` bitmaps (several cpus: see remoteWords).
 */
export function bitmapBytes(n: number, dual = false): number {
  return n <= FRAME_BITMAP_OBJECTS ? 0 : Math.ceil(n / 32) * 4 * (dual ? 2 : 1);
}

/**
 * With several cpus, a slab of more than 32 objects keeps two bitmaps at its end: the
 * owner's, written with plain stores by the cpu whose cpu slab it is, and the remote one,
 * right after it, flipped with Atomics by every other cpu; an object is allocated when its
 * two bits differ. Returns the distance in words from the first to the second, or 0 for
 * one bitmap (one cpu, or a slab of at most 32 objects, whose one word in the frame flips
 * with Atomics).
 */
export function remoteWords(objects: number, dual: boolean): number {
  return dual && objects > FRAME_BITMAP_OBJECTS ? Math.ceil(objects / 32) : 0;
}

/** Most objects a slab can count (the 16-bit inuse field). */
export const MAX_OBJECTS_PER_SLAB = 0xffff;

/** Objects of `size` bytes that fit in `slabBytes` together with their bitmap(s). */
export function objectsPerSlab(slabBytes: number, size: number, dual = false): number {
  let n = Math.min(Math.floor(slabBytes / size), MAX_OBJECTS_PER_SLAB);
  while (n > 0 && n * size + bitmapBytes(n, dual) > slabBytes) n--;
  return n;
}

/**
 * calculate_order: the smallest order whose leftover is at most 1/16 of the slab (then 1/8,
 * then 1/4) with at least `minObjects` objects, trying fewer objects before giving up.
 * For footprint (SlabFlag.FOOTPRINT), an object of half a page or more takes the smallest
 * order that holds one, whatever its leftover.
 */
export function calculateOrder(
  size: number,
  pageSize: number,
  maxOrder: number,
  dual = false,
  footprint = false,
): number {
  if (footprint && size >= pageSize / 2) return smallestOrder(size, pageSize, maxOrder, dual);
  const top = Math.min(SLAB_MAX_ORDER, maxOrder - 1);
  let minObjects = 4 * (Math.floor(Math.log2(1)) + 2); // 4 * (fls(nr_cpus) + 1) for one cpu
  const maxObjects = objectsPerSlab(pageSize << top, size, dual);
  minObjects = Math.min(minObjects, maxObjects);
  while (minObjects >= 1) {
    for (const fraction of [16, 8, 4]) {
      for (let order = 0; order <= top; order++) {
        const bytes = pageSize << order;
        const n = objectsPerSlab(bytes, size, dual);
        if (n < minObjects) continue;
        const rem = bytes - n * size - bitmapBytes(n, dual);
        if (rem <= bytes / fraction) return order;
      }
    }
    minObjects--;
  }
  return smallestOrder(size, pageSize, maxOrder, dual);
}

/** Objects the largest slab of a cache whose slabs grow holds at most (topOrderOf)... */
export const GROW_MAX_OBJECTS = 16;
/** ...and of one whose objects are half a page or more (two to the smallest slab). */
export const GROW_MAX_OBJECTS_HALF_PAGE = 32;

/**
 * The largest order of a cache's slabs (SLUB's oo; `order` is its min), for a cache sized for
 * footprint with no left red zone and at least two objects to a slab of `order`; else
 * `order`: the slabs keep one order. Its objects sit at the same offsets in a slab of any
 * order between (a slab of order k holds those its bytes have room for), so one slot table,
 * its largest slab's, serves them all, and every slab's bitmap stays in its frame.
 *
 *  - Objects that tile a slab of `order` exactly (no tail): the largest order up to
 *    Grow.MAX_ORDER whose slab holds at most GROW_MAX_OBJECTS (GROW_MAX_OBJECTS_HALF_PAGE
 *    for objects of half a page). Every address of a slab is an address of one of its slots.
 *  - Objects that leave a tail (kmalloc-320 and -384: 256 bytes of a page, 6.25%): the order
 *    up to Grow.MAX_ORDER whose tail is the least share of its slab, holding at most
 *    FRAME_BITMAP_OBJECTS (kmalloc-320 and -384 two pages, -640 and -768 four: 2.3%, 1.6%).
 *    A smaller slab's tail is then inside the slot table's range: its slots there have no
 *    allocation bit set, so a free of such an address is refused as a double free would
 *    be, before anything changes, and named INVALID_FREE (pastLastObject). Measured on the
 *    program traces: find-name 86.24 -> 89.54% (its 16,588 blocks of 289-320 bytes),
 *    jq-groupby +1.1 points, grep-include +1.0, gdb-info +0.6; python3-compile -0.07, the
 *    others level (BENCHMARKS.md, "Slabs with tails that grow").
 *
 * With 4 KiB pages: kmalloc-512 (1 to 2 pages), -1k (2 to 4) and -2k (1 to 16). A burst of
 * 2 KiB blocks (mawk-wordpairs' 6,695, never freed) goes to the slow path for a new slab
 * once every 32 blocks at most, where calculate_order's order 2 gave every 8 (881 new slabs
 * a replay, now 319: BENCHMARKS.md "Slabs of up to 32 objects"). Measured on the seventeen
 * program traces: kmalloc-256, -512 and -1k up to 32 objects cost gdb-info 0.32 and
 * python3-difflib 0.20-0.25 points of utilization (their 1 KiB and smaller blocks come and
 * go, and a larger slab goes back only when all its objects do); up to 16, and kmalloc-2k up
 * to 32, cost none but mawk-wordpairs' 0.32 and python3-compile's 0.05. A cache of one
 * object a slab (kmalloc-4k, -8k) keeps it: its slabs never hold a free object, and larger
 * ones would (clang-fse-compress, whose 4 and 8 KiB blocks come and go: 8-10 pages more at
 * its peak).
 */
export function topOrderOf(
  size: number,
  redLeft: number,
  order: number,
  pageSize: number,
  maxOrder: number,
  footprint: boolean,
): number {
  const objects = (pageSize << order) / size;
  if (!footprint || redLeft !== 0 || objects < 2) return order;
  const cap = Math.min(Grow.MAX_ORDER, maxOrder - 1);
  if (objects !== Math.floor(objects)) {
    // A tail: the order whose slab wastes the least share of its bytes in it (the least
    // such order on a tie).
    let top = order;
    let best = ((pageSize << order) % size) / (pageSize << order);
    for (let k = order + 1; k <= cap; k++) {
      const bytes = pageSize << k;
      if (Math.floor(bytes / size) > FRAME_BITMAP_OBJECTS) break;
      const waste = (bytes % size) / bytes;
      if (waste < best) [top, best] = [k, waste];
    }
    return top;
  }
  let top = order;
  const most = 2 * size >= pageSize ? GROW_MAX_OBJECTS_HALF_PAGE : GROW_MAX_OBJECTS;
  while (top < cap && (pageSize << (top + 1)) / size <= most) top++;
  return top;
}

/**
 * Objects in a slab of order `k` of a cache whose slabs of `order` hold `objects` of `size`
 * bytes: those, or for a larger slab of a cache whose slabs grow (topOrderOf: no left red
 * zone, its bitmap in its frame) as many as its bytes have room for.
 */
export function objectsAtOrder(
  objects: number,
  order: number,
  k: number,
  pageSize: number,
  size: number,
): number {
  return k === order ? objects : ((pageSize << k) / size) | 0;
}

/**
 * A cache's slabs on a node double in size for each doubling of their number from
 * 2^GROW_SHIFT on, up to its topOrder.
 */
export const GROW_SHIFT = 3;

/**
 * The order of a new slab of a cache whose slabs grow (order < topOrder), from the slabs it
 * holds on the node (nr_slabs): a cache of a few slabs keeps the small ones its footprint
 * wants, one that holds many (a burst of large objects: mawk-wordpairs' 2,048-byte blocks)
 * takes larger slabs and goes to the slow path for a new slab fewer times. A new slab of
 * order k comes after at least 2^(k - order + GROW_SHIFT) slabs of at least 2^order pages
 * each: it is at most an eighth of the pages the cache holds on the node, the most a slab
 * left mostly empty can add to its footprint. (Linux's SLUB takes oo for every slab and
 * falls back to min when the page allocator has no block of oo; so does newSlab, to order.)
 */
export function growOrder(order: number, topOrder: number, nrSlabs: number): number {
  const step = 31 - Math.clz32(nrSlabs) - GROW_SHIFT;
  return step <= 0 ? order : Math.min(topOrder, order + step);
}

/** The smallest order whose block holds one object of `size` bytes (one a slab), or -1. */
function smallestOrder(size: number, pageSize: number, maxOrder: number, dual: boolean): number {
  for (let order = 0; order < maxOrder; order++) {
    if (objectsPerSlab(pageSize << order, size, dual) >= 1) return order;
  }
  return -1;
}

/**
 * calculate_sizes: the slot layout for an object size, alignment and flags; `dual`: the
 * instance has several cpus (two bitmaps per slab of more than 32 objects).
 */
export function calculateGeometry(
  objectSize: number,
  requestedAlign: number,
  flags: number,
  hasCtor: boolean,
  pageSize: number,
  maxOrder: number,
  dual = false,
): CacheGeometry | null {
  const align = calculateAlignment(flags, requestedAlign, objectSize);
  const redZone = (flags & SlabFlag.RED_ZONE) !== 0;
  const poison = (flags & SlabFlag.POISON) !== 0 && !hasCtor;
  let size = alignUp(objectSize, 4);
  // At least one word of right red zone, so an overrun hits it before the metadata.
  if (redZone && size === objectSize) size += 4;
  const inuse = size;
  let offset: number;
  if (hasCtor || poison) {
    offset = size;
    size += 4;
  } else {
    offset = Math.floor(objectSize / 2 / 4) * 4;
  }
  let track = 0;
  if ((flags & SlabFlag.STORE_USER) !== 0) {
    track = size;
    size += 2 * Track.BYTES;
    // slub_debug_orig_size: a kmalloc cache also records the size asked for, so that the
    // bytes between it and the class size can be red-zoned too.
    if ((flags & SlabFlag.KMALLOC) !== 0) size += 4;
  }
  let redLeft = 0;
  if (redZone) {
    redLeft = alignUp(4, align);
    size += redLeft;
  }
  size = alignUp(size, align);
  const footprint = (flags & SlabFlag.FOOTPRINT) !== 0;
  const order = calculateOrder(size, pageSize, maxOrder, dual, footprint);
  if (order < 0) return null;
  const slabBytes = pageSize << order;
  const objects = objectsPerSlab(slabBytes, size, dual);
  const bitmap = objects <= FRAME_BITMAP_OBJECTS ? -1 : slabBytes - bitmapBytes(objects, dual);
  const topOrder = topOrderOf(size, redLeft, order, pageSize, maxOrder, footprint);
  // set_min_partial: ilog2(size) / 2, clamped to 5..10.
  const minPartial = Math.min(10, Math.max(5, Math.floor(Math.floor(Math.log2(size)) / 2)));
  return {
    objectSize,
    size,
    align,
    offset,
    redLeft,
    inuse,
    track,
    order,
    topOrder,
    objects,
    topObjects: objectsAtOrder(objects, order, topOrder, pageSize, size),
    bitmap,
    remote: remoteWords(objects, dual),
    minPartial,
  };
}
