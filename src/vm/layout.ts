/*
 * The byte layout of the virtual-memory layer: where the vmalloc space lies, the format of
 * page-table entries, the vmalloc descriptor, the vmap_area records, and the owner words of
 * the frames this layer holds. Everything here lives in the managed buffer.
 *
 * Address space (Linux's 32-bit layout: VMALLOC_START = (high_memory + VMALLOC_OFFSET) &
 * ~(VMALLOC_OFFSET - 1), arch/x86/include/asm/pgtable_32_areas.h):
 *
 *   0         pageSize        firstManaged               physEnd     VMALLOC_START           VMALLOC_END
 *   +---------+---------------+--------------------------+-----------+-----------------------+
 *   | NULL    | header,       | managed pages            | hole      | vmalloc space         |
 *   | page    | mem_map       | (physical addresses are  | (up to    | 2 pages per physical  |
 *   |         |               | their own identity map)  | 8 MiB)    | page, at most 4 GiB   |
 *   +---------+---------------+--------------------------+-----------+-----------------------+
 *
 * Every address is either physical (below physEnd) or virtual (in the vmalloc space), never
 * both. The space holds two pages per physical page: a vmalloc of one page takes two (the
 * guard page), so address space runs out only after memory does.
 */

import { Pg } from "../memory/index.js";

/** The hole between physical memory and the vmalloc space is at most this (Linux i386). */
export const VMALLOC_OFFSET = 8 * 1024 * 1024;

/** Geometry of the vmalloc space and its page tables, derived from the physical geometry. */
export interface VmGeometry {
  /** First virtual address (VMALLOC_START). */
  start: number;
  /** One past the last (VMALLOC_END). */
  end: number;
  /** Pages in the space. */
  nrPages: number;
  /** Levels of page tables: the top one (the pgd) is level levels-1, the ptes level 0. */
  levels: number;
  /** log2 of the entries per table (pageShift - 2: one i32 per entry). */
  entryBits: number;
}

export function vmallocGeometry(totalPages: number, pageShift: number): VmGeometry {
  const pageSize = 2 ** pageShift;
  const physEnd = totalPages * pageSize;
  // Never past 4 GiB: with physical memory reaching that far the space is empty.
  const start = Math.min(
    Math.floor((physEnd + VMALLOC_OFFSET) / VMALLOC_OFFSET) * VMALLOC_OFFSET,
    2 ** 32,
  );
  const entryBits = pageShift - 2;
  const perTable = 2 ** entryBits;
  // Whole leaf tables, and addresses that fit in 32 bits: with physical memory near 4 GiB
  // the space shrinks (to nothing at all when no whole table fits above it).
  const below4G = Math.max(0, Math.floor((2 ** 32 - start) / pageSize / perTable) * perTable);
  const nrPages = Math.min(Math.ceil((2 * totalPages) / perTable) * perTable, below4G);
  let levels = 2;
  while (2 ** (entryBits * levels) < nrPages) levels++;
  return { start, end: start + nrPages * pageSize, nrPages, levels, entryBits };
}

// Page-table entry: one i32, in a table of pageSize / 4 entries, in a page of its own.
//
//  31                               pageShift                1     0
//  +-----------------------------------+----------------------+-----+
//  | physical address of the page      | 0                    |  P  |
//  | (of the next table, above level 0)|                      |     |
//  +-----------------------------------+----------------------+-----+
//
// As x86's: the frame address with flag bits below it. An entry of 0 maps nothing (guard
// pages, free space). Read as unsigned: addresses of 2 GiB and up have the sign bit set.
// ACCESSED is x86's _PAGE_ACCESSED: set by the accessors' page-table walk when they load
// the translation into their TLB (as the MMU sets it on a TLB fill), cleared by reclaim's
// LRU scan (which then drops every TLB: TLB_GEN), on pages of swappable areas only.
//
// A leaf entry without PRESENT that is not 0 is a swap entry (pte_to_swp_entry), the
// page's place in a swap area (src/swap):
//
//  31                                             4 3        1     0
//  +-----------------------------------------------+----------+-----+
//  | offset: the slot in the area (1..2^28-1)      | type     |  0  |
//  +-----------------------------------------------+----------+-----+
//    type: the swap area (0..7, MAX_SWAPFILES 8); slot 0 of an area is never used (Linux
//    keeps the swap header there), so a swap entry is never 0.
export const enum Pte {
  PRESENT = 1,
  ACCESSED = 2,
  /** The flag bits of a present entry. */
  FLAGS = PRESENT | ACCESSED,
  SWP_TYPE_SHIFT = 1,
  SWP_TYPE_MASK = 7,
  SWP_OFFSET_SHIFT = 4,
}

// Virtual page index (page) -> entries, for 4 KiB pages (two levels, as i386 without PAE):
//
//   page:  | pgd index: 10 bits | pte index: 10 bits |      (address - VMALLOC_START) >> 12
//
//   descriptor.pgd -> [ pgd table ] --entry--> [ pte table ] --entry--> page frame
//
// With 1 KiB pages a table holds 256 entries and a large space takes three levels.

// A page-table page's frame (HEAD | PGTABLE, order 0) uses the owner words:
//  16         20         24         28         32
//  +----------+----------+----------+----------+
//  | level    | entries  | base     | 0        |   entries: present entries in it;
//  +----------+----------+----------+----------+   base: first page index it covers
//
// A vmalloc page's frame (HEAD | VMALLOC, order 0):
//  16         20         24         28         32
//  +----------+----------+----------+----------+
//  | page     | area     | lru      | reject   |   page: the page index it is mapped at;
//  +----------+----------+----------+----------+   area: address of its vmap_area record
//   lru: 0, or the LRU list a page of a swappable area is on (Lru.INACTIVE, Lru.ACTIVE),
//   linked through the frame's next and prev words (Linux page->lru; src/swap)
//   reject: 0, or a hash of the page's bytes when zswap last refused it as incompressible
//   with no device behind (reject_compress_poor): reclaim does not compress it again
//   while its bytes hash the same (src/swap)
export const enum PgVm {
  PT_LEVEL = Pg.OWNER + 0,
  PT_ENTRIES = Pg.OWNER + 1,
  PT_BASE = Pg.OWNER + 2,
  VM_PAGE = Pg.OWNER + 0,
  VM_AREA = Pg.OWNER + 1,
  VM_LRU = Pg.OWNER + 2,
  VM_REJECT = Pg.OWNER + 3,
}

/** Which LRU list a page is on (frame word PgVm.VM_LRU). */
export const enum Lru {
  NONE = 0,
  INACTIVE = 1,
  ACTIVE = 2,
}

// The vmalloc descriptor: VmDesc.WORDS i32 words, kmalloc'd at the first vmalloc or vmap,
// its address in header[Hdr.VMALLOC].
//
//  word 0       1           2          3         4         5          6           7
//  +----------+-----------+----------+---------+---------+----------+-----------+-----------+
//  | magic    | startPage | nrPages  | levels  | pgd pfn | head     | busy root | free root |
//  +----------+-----------+----------+---------+---------+----------+-----------+-----------+
//  | nrBusy   | nrFree    | nr_vmalloc| nr_pgtbl| tlbGen  | events: vmalloc, fail, vfree,   |  8..
//  +----------+-----------+----------+---------+---------+ vmap, vunmap, pgtable alloc/free |
//  +-----------------------------------------------------+----------------------------------+
export const enum VmDesc {
  /** "vmap" */
  MAGIC_VALUE = 0x766d6170,
  MAGIC = 0,
  /** VMALLOC_START / pageSize. */
  START_PAGE = 1,
  NR_PAGES = 2,
  LEVELS = 3,
  /** Frame number of the top-level table. */
  PGD = 4,
  /** The first record in address order (it starts at page 0). */
  HEAD = 5,
  /** Root of the tree of busy areas, by start. */
  BUSY_ROOT = 6,
  /** Root of the tree of free ranges, by size then start. */
  FREE_ROOT = 7,
  NR_BUSY = 8,
  NR_FREE = 9,
  /** Gauge: pages owned by vmalloc areas (nr_vmalloc). */
  NR_VMALLOC = 10,
  /** Gauge: page-table pages (nr_page_table_pages). */
  NR_PGTABLE = 11,
  /** Bumped by every unmap: a cached translation older than it is stale. */
  TLB_GEN = 12,
  EV_VMALLOC = 13,
  EV_VMALLOC_FAIL = 14,
  EV_VFREE = 15,
  EV_VMAP = 16,
  EV_VUNMAP = 17,
  EV_PGTABLE_ALLOC = 18,
  EV_PGTABLE_FREE = 19,
  WORDS = 20,
  BYTES = WORDS * 4,
}

/** vmstat names of the event words EV_VMALLOC.. (kmem's own; Linux has none for vmalloc). */
export const VM_DESC_EVENT_NAMES: readonly string[] = [
  "vmalloc_alloc",
  "vmalloc_fail",
  "vmalloc_free",
  "vmap",
  "vunmap",
  "pgtable_alloc",
  "pgtable_free",
];

// vmap_area record: Va.WORDS i32 words, a kmalloc object (Linux: the vmap_area cache). The
// records tile the space in address order, busy areas and free ranges alike.
//
//  word 0     1        2        3        4        5        6                  7
//  +--------+--------+--------+--------+--------+--------+------------------+--------+
//  | start  | pages  | next   | prev   | left   | right  | flags:24|height:8 | caller |
//  +--------+--------+--------+--------+--------+--------+------------------+--------+
//    start, pages: page index and length (a busy area's last page is its guard page);
//    next, prev: neighbours in address order; left, right, height: AVL tree links (busy
//    tree by start, free tree by pages then start); caller: who asked (vmallocinfo).
export const enum Va {
  START = 0,
  PAGES = 1,
  NEXT = 2,
  PREV = 3,
  LEFT = 4,
  RIGHT = 5,
  INFO = 6,
  CALLER = 7,
  WORDS = 8,
  BYTES = WORDS * 4,
  HEIGHT_MASK = 0xff,
  FLAGS_SHIFT = 8,
}

/** Kinds of record (INFO >> FLAGS_SHIFT); exactly one kind is set (SWAPPABLE is a modifier). */
export const enum VaFlag {
  /** a free range of the space */
  FREE = 1,
  /** a vmalloc area: its pages belong to it (VM_ALLOC) */
  VMALLOC = 2,
  /** a vmap area: it maps pages someone else owns (VM_MAP) */
  VMAP = 4,
  /** (with VMALLOC) its pages are on the LRU lists and may be swapped out (src/swap) */
  SWAPPABLE = 8,
  /** The kind bits. */
  KIND_MASK = FREE | VMALLOC | VMAP,
}
