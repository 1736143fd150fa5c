/*
 * zram's layout (Linux drivers/block/zram/zram_drv.{c,h}): a device's descriptor, and its
 * table of one entry per page-sized sector.
 *
 * Descriptor (kmalloc'd, on the registry's list of devices), i32 words:
 *
 *  0 magic | 1 id (N of zramN) | 2 next | 3 prev | 4 nr pages | 5 algorithm | 6 table
 *  (vmalloc address) | 7 pool (its zspool's descriptor) | 8 limit pages | 9..25 stats
 *  (ZramStat) | 26 backing pages | 27 backing bitmap | 28 next block | 32 bitmap lock
 *  (line) | 48..55 name
 *
 * Table entry (ZramEntry.WORDS words; the table is vzalloc'd, as Linux's):
 *
 *   0 handle | 1 flags: object size (bits 0..16) | ZramFlag bits | 2 value's high word | 3 slot lock
 *
 * A ZRAM_SAME slot keeps its 8-byte value in words 0 and 2 (Linux: the element, in the
 * handle's union); a ZRAM_WB slot keeps its block of the backing store in word 0.
 */

export const enum Zd {
  MAGIC = 0,
  ID = 1,
  NEXT = 2,
  PREV = 3,
  NR_PAGES = 4,
  ALGO = 5,
  TABLE = 6,
  POOL = 7,
  LIMIT_PAGES = 8,
  STATS = 9,
  BD_PAGES = 26,
  BD_BITMAP = 27,
  BD_NEXT = 28,
  BD_LOCK = 32,
  NAME = 48,
  WORDS = 56,
  MAGIC_VALUE = 0x7a72616d, // "zram"
}

/** Stats words (descriptor word Zd.STATS + n), each updated with Atomics. */
export const enum ZramStat {
  PAGES_STORED = 0,
  COMPR_DATA_SIZE = 1,
  MAX_USED_PAGES = 2,
  SAME_PAGES = 3,
  HUGE_PAGES = 4,
  HUGE_PAGES_SINCE = 5,
  FAILED_READS = 6,
  FAILED_WRITES = 7,
  NOTIFY_FREE = 8,
  BD_COUNT = 9,
  BD_READS = 10,
  BD_WRITES = 11,
  WRITESTALL = 12,
  MISS_FREE = 13,
  NUM_READS = 14,
  NUM_WRITES = 15,
  NR = 16,
}

export const enum ZramEntry {
  HANDLE = 0,
  FLAGS = 1,
  ELEMENT_HI = 2,
  LOCK = 3,
  WORDS = 4,
  BYTES = 16,
}

/** Flag bits of an entry's FLAGS word, above the object size (Linux enum zram_pageflags). */
export const enum ZramFlag {
  SIZE_MASK = (1 << 17) - 1,
  /** The page is one 8-byte value repeated, kept in the entry. */
  SAME = 1 << 20,
  /** The page is in the backing store. */
  WB = 1 << 21,
  /** Being written back (the slot unlocked meanwhile). */
  UNDER_WB = 1 << 22,
  /** Stored uncompressed, a page-sized object. */
  HUGE = 1 << 23,
  /** Not accessed since the last markIdle(). */
  IDLE = 1 << 24,
}
