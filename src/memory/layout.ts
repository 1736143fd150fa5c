/*
 * The byte layout of a kmem instance inside its buffer. Everything an allocator knows lives
 * here, in typed-array views over the managed memory (as Linux's mem_map lives in RAM), so a
 * SharedArrayBuffer instance can be opened from another worker and a snapshot reopened.
 *
 * Physical memory, pfn = address >> pageShift:
 *
 *   pfn 0                                      firstManagedPfn                       totalPages
 *   +----------------+-------------------------+------------------------------------+
 *   | header         | mem_map                 | managed pages                      |
 *   | HEADER_WORDS   | FRAME_WORDS x i32 for   | handed out by the page allocator   |
 *   | x i32          | every frame 0..total-1  | (buddy), everything else on top    |
 *   +----------------+-------------------------+------------------------------------+
 *   ^ address 0 is NULL: frame 0 is always inside the reserved part, never handed out.
 *
 * The reserved part is rounded up to whole pages. With 4 KiB pages the mem_map costs
 * 32 / 4096 = 0.78% of memory (Linux: 64 B per page, 1.56%).
 *
 * Invariants (verify() reports them by id):
 *   LAYOUT-1  header[H_MAGIC] == KMEM_MAGIC and header[H_VERSION] == LAYOUT_VERSION
 *   LAYOUT-2  firstManagedPfn * pageSize >= memmapOffset + totalPages * FRAME_BYTES
 */

/** "kmem" in ASCII. */
export const KMEM_MAGIC = 0x6b6d656d;
/** Bumped whenever any offset below changes meaning. */
export const LAYOUT_VERSION = 1;

/** Largest maxOrder accepted (orders 0..MAX_ORDER_LIMIT-1). */
export const MAX_ORDER_LIMIT = 20;
/** Largest number of per-cpu contexts the header has room for. */
export const MAX_CPUS_LIMIT = 64;

// Header: i32 words at byte 0.
//
//  word 0        1          2           3          4            5                6          7
//  +-----------+----------+-----------+----------+------------+----------------+----------+--------+
//  | magic     | version  | pageShift | maxOrder | totalPages | firstManagedPfn| managed  | nrCpus |
//  +-----------+----------+-----------+----------+------------+----------------+----------+--------+
//  | wmarkMin  | wmarkLow | wmarkHigh | nrFree   | memmapOff  | headerWords    | pcpBatch | pcpHigh|  8..15
//  +-----------+----------+-----------+----------+------------+----------------+----------+--------+
//  | minFreeKb | roots: anchors of the upper layers (slab, vm, ...), 0 until they set them       |  16..31
//  +-----------+-----------------------------------------------------------------------------------+
//  | free_area[order]: head pfn, nr_free   (2 words per order, MAX_ORDER_LIMIT orders)             |  32..71
//  +-----------------------------------------------------------------------------------------------+
//  | pcp[cpu]: head pfn, tail pfn, count, 0  (PCP_WORDS per cpu)                                  |  72..
//  +-----------------------------------------------------------------------------------------------+
//  | events[cpu][event]: vm event counters (NR_VM_EVENTS per cpu), summed when read               |
//  +-----------------------------------------------------------------------------------------------+
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_PAGE_SHIFT = 2;
export const H_MAX_ORDER = 3;
export const H_TOTAL_PAGES = 4;
export const H_FIRST_PFN = 5;
export const H_MANAGED_PAGES = 6;
export const H_NR_CPUS = 7;
export const H_WMARK_MIN = 8;
export const H_WMARK_LOW = 9;
export const H_WMARK_HIGH = 10;
/** Pages on the buddy free lists (Linux NR_FREE_PAGES; per-cpu list pages not included). */
export const H_NR_FREE = 11;
export const H_MEMMAP_OFFSET = 12;
export const H_HEADER_WORDS = 13;
export const H_PCP_BATCH = 14;
export const H_PCP_HIGH = 15;
export const H_MIN_FREE_KB = 16;
/** Words 17..31: anchors for upper layers. */
export const H_ROOTS = 17;
export const NR_ROOTS = 15;
export const H_FREE_AREA = H_ROOTS + NR_ROOTS;
export const FREE_AREA_WORDS = 2;
export const FA_HEAD = 0;
export const FA_NR_FREE = 1;
export const H_PCP = H_FREE_AREA + FREE_AREA_WORDS * MAX_ORDER_LIMIT;
export const PCP_WORDS = 4;
export const PCP_HEAD = 0;
export const PCP_TAIL = 1;
export const PCP_COUNT = 2;

/**
 * VM event counters, one block per cpu (Linux vm_event_states). The names are the ones
 * `report("vmstat")` prints.
 */
export const VM_PGALLOC = 0; // pgalloc_normal: pages allocated
export const VM_PGFREE = 1; // pgfree: pages freed
export const VM_ALLOCSTALL = 2; // allocstall_normal: direct reclaim entered
export const VM_PAGEOUTRUN = 3; // pageoutrun: background (kswapd) reclaim runs
export const VM_PGALLOC_FAIL = 4; // pgalloc_fail: allocations that returned 0 (kmem's own)
export const VM_PCP_DRAIN = 5; // pcp_drain: per-cpu lists drained to the buddy lists (kmem's own)
export const VM_FAULT_INJECTED = 6; // fault_injected: failures forced by fault injection (kmem's own)
/** Room for the upper layers' counters (slab, vmalloc) without a layout change. */
export const NR_VM_EVENTS = 32;

export const VM_EVENT_NAMES: readonly string[] = [
  "pgalloc_normal",
  "pgfree",
  "allocstall_normal",
  "pageoutrun",
  "pgalloc_fail",
  "pcp_drain",
  "fault_injected",
];

/** Header size in i32 words for `nrCpus` contexts. */
export function headerWords(nrCpus: number): number {
  return H_PCP + PCP_WORDS * nrCpus + NR_VM_EVENTS * nrCpus;
}

/** Index of cpu `cpu`'s first pcp word. */
export function pcpBase(cpu: number): number {
  return H_PCP + PCP_WORDS * cpu;
}

/** Index of cpu `cpu`'s first event counter, given the number of cpus. */
export function eventBase(nrCpus: number, cpu: number): number {
  return H_PCP + PCP_WORDS * nrCpus + NR_VM_EVENTS * cpu;
}

// mem_map entry: FRAME_WORDS x i32 per page frame.
//
//  0          4          8          12         16         20         24         28         32
//  +----------+----------+----------+----------+----------+----------+----------+----------+
//  | flags    | order    | next pfn | prev pfn | owner-specific words: a slab's cache,      |
//  |          |          |          |          | freelist and counters; a vmalloc page's    |
//  |          |          |          |          | area (see slab/ and vm/)                   |
//  +----------+----------+----------+----------+----------+----------+----------+----------+
//
// Links are pfns with 0 as "none" (frame 0 is never on a list). Only the head frame of a
// block carries flags; the other frames of the block ("tails") are all zero.
export const FRAME_WORDS = 8;
export const FRAME_BYTES = FRAME_WORDS * 4;
export const PG_FLAGS = 0;
export const PG_ORDER = 1;
export const PG_NEXT = 2;
export const PG_PREV = 3;
/** First of the words an owner (slab, vmalloc, ...) may use while it holds the block. */
export const PG_OWNER = 4;
export const PG_OWNER_WORDS = 4;

/** Page flags. Exactly one of PG_BUDDY, PG_HEAD, PG_PCP is set on a head frame. */
export const PG_BUDDY = 1 << 0; // head of a free block on free_area[order]
export const PG_HEAD = 1 << 1; // head of an allocated block of 2^order pages
export const PG_PCP = 1 << 2; // free order-0 page on a per-cpu list
export const PG_SLAB = 1 << 3; // (with PG_HEAD) block owned by a slab cache
export const PG_VMALLOC = 1 << 4; // (with PG_HEAD) page mapped by vmalloc
export const PG_PGTABLE = 1 << 5; // (with PG_HEAD) page holding a page table
export const PG_STATE_MASK = PG_BUDDY | PG_HEAD | PG_PCP;
