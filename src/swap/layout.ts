/*
 * The swap layer's layout: its descriptor (kmalloc'd, anchored at header[Hdr.SWAP]) with
 * the LRU lists, zswap's settings and counters and the swap areas, and the slot table of
 * each area (vzalloc'd). Swap entries in page-table entries: src/vm/layout.ts (Pte).
 *
 * Descriptor, i32 words:
 *
 *   0 magic | 1 areas made | 2..4 active list: head pfn, tail pfn, count | 5..7 inactive
 *   list: head, tail, count | 8 zswap enabled | 9 zswap compressor (codec Algo id) |
 *   10 max_pool_percent | 11 accept_threshold_percent | 12 zswap pool (its zspool's
 *   descriptor, 0 until the first store) | 13 zswap full (hysteresis) | 14 stored pages |
 *   15 compressed bytes stored | 16 same-filled pages stored | 17..36 counters (SwEv) |
 *   40.. areas: Area.WORDS words each, MAX_SWAPFILES of them
 *
 * Area (swap_info_struct), Area.WORDS words:
 *
 *   0 flags (AreaFlag) | 1 priority | 2 device: its zram descriptor (0: none, zswap only) |
 *   3 slots (slot 0 never used) | 4 slot table (vmalloc address) | 5 free slots |
 *   6 next slot to try (the cluster hint, simplified) | 7 slots whose page is on the device
 *
 * Slot (Slot.WORDS words in the area's table; Linux's swap_map count plus zswap's entry):
 *
 *   0 state: SlotFlag bits | zswap's compressed length (bits 0..16) | 1 zswap handle, or
 *   a same-filled page's value (low word) | 2 the value's high word | 3 the vmap_area
 *   record of the page that owns the slot (its frame's area word at swap-in)
 */

/** Most swap areas at once (MAX_SWAPFILES; three bits of the swap entry). */
export const MAX_SWAPFILES = 8;

export const enum Sw {
  MAGIC_VALUE = 0x73776170, // "swap"
  MAGIC = 0,
  NR_AREAS = 1,
  ACTIVE_HEAD = 2,
  ACTIVE_TAIL = 3,
  NR_ACTIVE = 4,
  INACTIVE_HEAD = 5,
  INACTIVE_TAIL = 6,
  NR_INACTIVE = 7,
  ZSWAP_ENABLED = 8,
  ZSWAP_ALGO = 9,
  ZSWAP_MAX_POOL = 10,
  ZSWAP_ACCEPT = 11,
  ZSWAP_POOL = 12,
  ZSWAP_FULL = 13,
  ZSWAP_STORED = 14,
  ZSWAP_BYTES = 15,
  ZSWAP_SAME = 16,
  EV = 17,
  AREAS = 40,
  WORDS = 40 + 8 * 8,
  BYTES = WORDS * 4,
}

/** Counters (descriptor word Sw.EV + n), by their vmstat or debugfs names (SW_EV_NAMES). */
export const enum SwEv {
  PSWPIN = 0,
  PSWPOUT = 1,
  ZSWPIN = 2,
  ZSWPOUT = 3,
  PGSCAN_KSWAPD = 4,
  PGSCAN_DIRECT = 5,
  PGSTEAL_KSWAPD = 6,
  PGSTEAL_DIRECT = 7,
  PGACTIVATE = 8,
  PGDEACTIVATE = 9,
  PGMAJFAULT = 10,
  OOM_KILL = 11,
  /** zswap's debugfs counters: */
  POOL_LIMIT_HIT = 12,
  REJECT_COMPRESS_POOR = 13,
  REJECT_ALLOC_FAIL = 14,
  /** Pages reclaim could not swap out (no slot, no room, a store failed). */
  SWAP_FAIL = 15,
  NR = 16,
}

/** vmstat names of SwEv.PSWPIN..OOM_KILL (Linux's), then kmem's own swap_fail. */
export const SW_VMSTAT_NAMES: readonly [string, number][] = [
  ["pswpin", SwEv.PSWPIN],
  ["pswpout", SwEv.PSWPOUT],
  ["zswpin", SwEv.ZSWPIN],
  ["zswpout", SwEv.ZSWPOUT],
  ["pgscan_kswapd", SwEv.PGSCAN_KSWAPD],
  ["pgscan_direct", SwEv.PGSCAN_DIRECT],
  ["pgsteal_kswapd", SwEv.PGSTEAL_KSWAPD],
  ["pgsteal_direct", SwEv.PGSTEAL_DIRECT],
  ["pgactivate", SwEv.PGACTIVATE],
  ["pgdeactivate", SwEv.PGDEACTIVATE],
  ["pgmajfault", SwEv.PGMAJFAULT],
  ["oom_kill", SwEv.OOM_KILL],
  ["swap_fail", SwEv.SWAP_FAIL],
];

export const enum Area {
  FLAGS = 0,
  PRIO = 1,
  DEV = 2,
  NR_SLOTS = 3,
  MAP = 4,
  NR_FREE = 5,
  NEXT = 6,
  NR_DEV = 7,
  WORDS = 8,
}

export const enum AreaFlag {
  /** swapon'd: slots may be allocated (SWP_USED | SWP_WRITEOK). */
  ACTIVE = 1,
  /** swapoff is bringing its pages back: no new slots. */
  CLOSING = 2,
}

export const enum Slot {
  STATE = 0,
  HANDLE = 1,
  HI = 2,
  AREA = 3,
  WORDS = 4,
  BYTES = 16,
}

export const enum SlotFlag {
  LEN_MASK = (1 << 17) - 1,
  /** The slot belongs to a swapped-out page (swap_map count 1). */
  USED = 1 << 24,
  /** Its page is in zswap: compressed (HANDLE, length) or same-filled (SAME). */
  ZSWAP = 1 << 25,
  SAME = 1 << 26,
  /** Its page is on the area's device (zram sector = slot). */
  DEV = 1 << 27,
}
