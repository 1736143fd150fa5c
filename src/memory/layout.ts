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
 *   | Hdr words      | Frame.WORDS x i32 for   | handed out by the page allocator   |
 *   | x i32          | every frame 0..max-1    | (buddy), everything else on top    |
 *   +----------------+-------------------------+------------------------------------+
 *   ^ address 0 is NULL: frame 0 is always inside the reserved part, never handed out.
 *
 * Address 0 is byte `offset` of the buffer (0 unless the buffer's start belongs to someone
 * else, as a WebAssembly module's data and stack do). The mem_map has room for maxPages
 * frames (totalPages unless memory may be added later: frames totalPages..maxPages-1 lie
 * beyond the buffer and belong to no zone). The reserved part is rounded up to whole pages.
 * With 4 KiB pages the mem_map costs 32 / 4096 = 0.78% of memory (Linux: 64 B per page,
 * 1.56%).
 *
 * Invariants: the header of src/page/buddy.ts lists the ids the page allocator's verify()
 * reports over this header and mem_map (LAYOUT-1..3, MEMMAP-1..2). In the words of this
 * file, LAYOUT-1 is header[Hdr.MAGIC] == Layout.MAGIC, header[Hdr.VERSION] ==
 * Layout.VERSION and the geometry words; LAYOUT-2 is firstManagedPfn * pageSize >=
 * memmapOffset + totalPages * Frame.BYTES (and >= memmapOffset + maxPages * Frame.BYTES:
 * checked at construction and attach).
 */

/*
 * Every offset is a member of a `const enum`, which tsc inlines as a literal at each use:
 * V8 does not constant-fold values imported from another module, and on the hot paths that
 * difference is a factor of three.
 */

/** Geometry and identity of the layout. */
export const enum Layout {
  /** "kmem" in ASCII. */
  MAGIC = 0x6b6d656d,
  /** Bumped whenever any offset below changes meaning. */
  VERSION = 32,
  /** Largest maxOrder accepted (orders 0..MAX_ORDER_LIMIT-1). */
  MAX_ORDER_LIMIT = 20,
  /** Largest number of per-cpu contexts the header has room for. */
  MAX_CPUS_LIMIT = 64,
  /** Largest number of NUMA nodes (Linux's NODES_SHIFT = 3). */
  MAX_NODES = 8,
  /** node_distance of a node to itself, and the default between two nodes (Linux). */
  LOCAL_DISTANCE = 10,
  REMOTE_DISTANCE = 20,
}

// Header: i32 words at byte 0. Words that different cpus write often (locks, per-cpu lists,
// per-cpu counters) start on 64-byte lines of their own, so that two workers do not bounce
// one cache line between their cores.
//
//  word 0        1          2           3          4            5                6          7
//  +-----------+----------+-----------+----------+------------+----------------+----------+--------+
//  | magic     | version  | pageShift | maxOrder | totalPages | firstManagedPfn| managed  | nrCpus |
//  +-----------+----------+-----------+----------+------------+----------------+----------+--------+
//  | nrNodes   | winShift | nrBuffers | maxPages | memmapOff  | headerWords    | pcpBatch | pcpHigh|  8..15
//  +-----------+----------+-----------+----------+------------+----------------+----------+--------+
//  | minFreeKb | kswapd    | roots: anchors of the upper layers, 0 if unset                        |  16..31
//  +-----------+-----------------------------------------------------------------------------------+
//  | options   | slabFlags | cacheSerial | kasan shadow, bytes | kfence pool, objects, interval | memGeneration (40) |  32..47
//  +-----------------------------------------------------------------------------------------------+
//  | locks, one 64-byte line each: slab_mutex, slob, mempool, vmalloc; the free wait queue         |  48..127
//  +-----------------------------------------------------------------------------------------------+
//  | cpu[cpu]: node 0 pcp list head, tail, count; state; requests   (Pcp.WORDS = one line per cpu) | 128..
//  +-----------------------------------------------------------------------------------------------+
//  | events[cpu][event]: vm event counters (Vm.NR_EVENTS per cpu), summed when read                |
//  +-----------------------------------------------------------------------------------------------+
//  | zone[node]: its lock, free pages, watermarks, pfn range, distances, free_area (Zone.WORDS)    |
//  +-----------------------------------------------------------------------------------------------+
//  | pcp[cpu][node 1..]: the per-cpu lists of the other nodes, a line each (NUMA only)             |
//  +-----------------------------------------------------------------------------------------------+
//  | numa[cpu][node]: numastat counters (NumaStat.WORDS per node; each cpu's on lines of its own)  |
//  +-----------------------------------------------------------------------------------------------+
//  | boot cache descriptor: the "kmem_cache" cache that holds every other cache descriptor         |
//  +-----------------------------------------------------------------------------------------------+
export const enum Hdr {
  MAGIC = 0,
  VERSION = 1,
  PAGE_SHIFT = 2,
  MAX_ORDER = 3,
  TOTAL_PAGES = 4,
  FIRST_PFN = 5,
  MANAGED_PAGES = 6,
  NR_CPUS = 7,
  /** NUMA nodes, 1..Layout.MAX_NODES: each has a zone block (see Zone). */
  NR_NODES = 8,
  /** log2 of the address window: 31 with one buffer, else each node's window (physmem.ts). */
  WIN_SHIFT = 9,
  /** Buffers the memory lives in: 1, or one per node. */
  NR_BUFFERS = 10,
  /**
   * Frames the mem_map has room for (>= TOTAL_PAGES): frames TOTAL_PAGES..MAX_PAGES-1 lie
   * beyond the buffer, absent until memory hotplug brings them online.
   */
  MAX_PAGES = 11,
  MEMMAP_OFFSET = 12,
  HEADER_WORDS = 13,
  PCP_BATCH = 14,
  PCP_HIGH = 15,
  MIN_FREE_KB = 16,
  /** Non-zero when background reclaim was woken and has not run yet. */
  KSWAPD_PENDING = 17,
  /** Words 18..31: anchors for upper layers. */
  ROOTS = 18,
  /** Address of the first slab cache descriptor (the slab_caches list), 0 if none. */
  SLAB_CACHES = ROOTS + 0,
  /** Address of the boot cache descriptor ("kmem_cache", in the header). */
  BOOT_CACHE = ROOTS + 1,
  /** Address of the vmalloc descriptor (virtual address space and page tables), 0 if none. */
  VMALLOC = ROOTS + 2,
  /** Address of the SLOB descriptor (its page lists), 0 unless SLOB serves kmalloc. */
  SLOB = ROOTS + 3,
  /** Address of the zsmalloc registry (its pools, zram devices, mapping areas), 0 if none. */
  ZS = ROOTS + 4,
  /** Address of the swap descriptor (LRU lists, swap areas, zswap; src/swap), 0 if none. */
  SWAP = ROOTS + 5,
  /**
   * Address of the newest memory pool descriptor (the list of pools, through their
   * descriptors), 0 if none: a free of an element held in a pool's reserve is refused.
   */
  POOLS = ROOTS + 6,
  /**
   * Address of the kmalloc heap's descriptors (one per node: src/kmalloc/heap.ts), 0 when
   * kmalloc has no heap (Linux's size classes, SLOB, the sanitizers).
   */
  KHEAP = ROOTS + 7,
  NR_ROOTS = 14,
  /** Instance-wide options every context follows (HdrOption bits). */
  OPTIONS = ROOTS + NR_ROOTS,
  /** Slab debug flags applied to every new cache (the `debug` option's letters). */
  SLAB_FLAGS = OPTIONS + 1,
  /** Serial number of the last cache descriptor written: tells a stale handle from a new cache. */
  CACHE_SERIAL = OPTIONS + 2,
  /* Sanitizers (src/kasan, src/kfence): 0 when off. */
  /** Byte address of the KASAN shadow (one byte per 8 bytes of memory, in the header). */
  KASAN_SHADOW = OPTIONS + 3,
  /** Bytes of the KASAN shadow. */
  KASAN_SHADOW_BYTES = OPTIONS + 4,
  /** Address of the KFENCE pool (its first page holds the objects' metadata). */
  KFENCE_POOL = OPTIONS + 5,
  /** Objects of the KFENCE pool (each a page between guard pages). */
  KFENCE_OBJECTS = OPTIONS + 6,
  /** KFENCE's sample interval in allocations (what contexts that attach use). */
  KFENCE_INTERVAL = OPTIONS + 7,
  /**
   * Memory hotplug: bumped (under the zone lock) each time memory is brought online. A
   * context whose views were made at another generation renews them before it touches a
   * frame it took from a shared list (src/memory/physmem.ts, "Growth").
   */
  MEM_GENERATION = OPTIONS + 8,
  /* Sanitizer settings every context that opens the instance follows (src/sanitize). */
  /** KASAN's quarantine in bytes per context, -1 for its default (1/32 of memory, <= 1 MiB). */
  KASAN_QUARANTINE = OPTIONS + 9,
  /** KFENCE's sample interval in ms (kfence.sampleMs), -1 when it counts allocations. */
  KFENCE_MS = OPTIONS + 10,
  /** Lock words, each on a 64-byte line of its own (see src/sync/lock.ts for the protocol). */
  LOCKS = OPTIONS + 16,
  /** slab_mutex: the list of caches, cache ids, reference counts and aliases. */
  LOCK_SLAB = LOCKS + 0,
  /*
   * slab_mutex's intent record, on the lock's own line (src/slub/registry.ts): the registry
   * change under way (0: none), the descriptor it makes or releases, the real cache it
   * changes, that cache's reference count and object size before it.
   */
  SLAB_INTENT = LOCKS + 1,
  SLAB_INTENT_DESC = LOCKS + 2,
  SLAB_INTENT_REAL = LOCKS + 3,
  SLAB_INTENT_REFS = LOCKS + 4,
  SLAB_INTENT_SIZE = LOCKS + 5,
  /** Work a repaired intent leaves for offlineCpu's drain: a real cache to tear down... */
  SLAB_TEARDOWN = LOCKS + 6,
  /** ...and 1 when a cache descriptor may be allocated and on no list (to be freed). */
  SLAB_SWEEP = LOCKS + 7,
  /*
   * SLAB's array intent record, on slab_mutex's line too (src/slab/recover.ts): the array
   * block change under way (0: none: a block made, tuned, or given back), the word index of
   * the cache descriptor's block word, the block made and the block replaced or given back,
   * the tunables written (a block being made: its order in LIMIT); and a block the
   * recovery leaves for offlineCpu's drain to free (address | order).
   */
  SLAB_ARRAYS = LOCKS + 8,
  SLAB_ARRAYS_SLOT = LOCKS + 9,
  SLAB_ARRAYS_NEW = LOCKS + 10,
  SLAB_ARRAYS_OLD = LOCKS + 11,
  SLAB_ARRAYS_LIMIT = LOCKS + 12,
  SLAB_ARRAYS_BATCH = LOCKS + 13,
  SLAB_ARRAYS_SHARED = LOCKS + 14,
  SLAB_ARRAYS_FREE = LOCKS + 15,
  /** SLOB's one lock: every SLOB list, page and descriptor. */
  LOCK_SLOB = LOCKS + 16,
  /** Memory pools' one lock: every pool's reserve. */
  LOCK_POOL = LOCKS + 32,
  /** The vmalloc lock: the vmalloc descriptor, its areas and page tables (shared instances). */
  LOCK_VMALLOC = LOCKS + 48,
  /**
   * The free wait queue (a futex word): bumped when pages are freed while a context waits
   * for memory; sleeping allocations Atomics.wait on it.
   */
  FREE_SEQ = LOCKS + 64,
  /** Contexts waiting on FREE_SEQ. */
  FREE_WAITERS = LOCKS + 65,
  PCP = LOCKS + 80,
}

/**
 * A node's zone (Linux: the node's pgdat with its one zone, ZONE_NORMAL): words
 * header[zoneBase(nrCpus, nid) + Zone.X], starting on a 64-byte line (its lock's).
 *
 *  0 (line)   16        17        18        19         20         21        22        24..31
 *  +--------+---------+---------+---------+----------+----------+---------+---------+------------+
 *  | lock   | nrFree  | wmark   | wmark   | wmark    | start    | end pfn | managed | distance   |
 *  |        |         | min     | low     | high     | pfn      | (excl.) |         | [node]     |
 *  +--------+---------+---------+---------+----------+----------+---------+---------+------------+
 *  | free_area[order]: head pfn, nr_free (FreeArea.WORDS per order, MAX_ORDER_LIMIT orders) 32..71 |
 *  +-----------------------------------------------------------------------------------------------+
 *
 * start..end are the frames the zone's buddy lists may hold: node 0's start after the
 * header and mem_map. A node's frames are contiguous and follow the previous node's.
 */
export const enum Zone {
  /** The zone lock: free_area, nrFree, the frames of the zone's free blocks. */
  LOCK = 0,
  /** Pages on the zone's buddy lists (NR_FREE_PAGES; per-cpu list pages not included). */
  NR_FREE = 16,
  WMARK_MIN = 17,
  WMARK_LOW = 18,
  WMARK_HIGH = 19,
  START_PFN = 20,
  END_PFN = 21,
  MANAGED = 22,
  /** node_distance(this node, n) for n in 0..MAX_NODES-1 (Linux: 10 local, 20 remote). */
  DISTANCE = 24,
  FREE_AREA = 32,
  WORDS = 80,
}

/**
 * numastat counters of one cpu for one node (Linux NUMA_HIT..NUMA_OTHER, per allocation):
 * header[numaBase(nrCpus, nrNodes, cpu) + NumaStat.WORDS * node + NumaStat.X].
 */
export const enum NumaStat {
  /** allocated on this node, the one that was asked for */
  HIT = 0,
  /** allocated on this node, though another was asked for */
  MISS = 1,
  /** asked for on this node, allocated on another */
  FOREIGN = 2,
  /** interleave policy: allocated on the node the interleave chose */
  INTERLEAVE_HIT = 3,
  /** allocated on this node by a cpu of this node */
  LOCAL = 4,
  /** allocated on this node by a cpu of another node */
  OTHER = 5,
  /** the order-0 fast path: a hit and local at once (counted once, added to both when read) */
  FAST = 6,
  WORDS = 8,
}

export const NUMA_STAT_NAMES: readonly string[] = [
  "numa_hit",
  "numa_miss",
  "numa_foreign",
  "interleave_hit",
  "local_node",
  "other_node",
];

/** Bits of header[Hdr.OPTIONS]. */
export const enum HdrOption {
  INIT_ON_ALLOC = 1 << 0,
  INIT_ON_FREE = 1 << 1,
  /** SLOB serves kmalloc and the caches. */
  SLOB = 1 << 2,
  /** Per-cpu caching off (measurements): per-cpu page lists of one page, no sheaves. */
  NO_PERCPU = 1 << 3,
  /** Linux's SLAB serves kmalloc and the caches (src/slab). */
  SLAB = 1 << 4,
  /** SLAB's per-cpu arrays adapt their limits (Bonwick & Adams's magazine resizing). */
  ADAPTIVE = 1 << 5,
  /** kmalloc's size classes are Linux's (KmemOptions.sizeClasses "linux"), not the fine set. */
  LINUX_SIZES = 1 << 6,
  /* Sanitizers: KASAN's shadow and quarantine, kmemleak's object tracking. */
  KASAN = 1 << 7,
  KMEMLEAK = 1 << 8,
  /** KASAN records the allocation and free stacks (kasan.stacks). */
  KASAN_STACKS = 1 << 9,
}

/** One free_area entry: zone[Zone.FREE_AREA + FreeArea.WORDS * order + field]. */
export const enum FreeArea {
  HEAD = 0,
  NR_FREE = 1,
  WORDS = 2,
}

/**
 * One cpu's words: its per-cpu page list, its hotplug state and the requests other cpus
 * post to it: header[pcpBase(cpu) + field]. One 64-byte line per cpu.
 */
export const enum Pcp {
  HEAD = 0,
  TAIL = 1,
  COUNT = 2,
  /** CpuState: whether a context has claimed this cpu id. */
  STATE = 3,
  /** CpuRequest bits other cpus set (Atomics.or) and the owner serves at its next slow path. */
  REQUEST = 4,
  WORDS = 16,
}

/** Hotplug state of a cpu id (header[pcpBase(cpu) + Pcp.STATE]). */
export const enum CpuState {
  /** No context uses the id: free for Kmem.attach. */
  OFFLINE = 0,
  /** A context has claimed it; only that context touches the cpu's per-cpu state. */
  ONLINE = 1,
  /**
   * Its context died: offlineCpu() is taking its locks over and draining it (OFFLINE after;
   * DEAD for good only if that threw). Its locks are waited for, not reported.
   */
  DEAD = 2,
}

/** Requests to a cpu (IPIs, in Linux's terms), served by the owner at its next slow path. */
export const enum CpuRequest {
  /** Give the per-cpu page list back to the buddy lists (drain_all_pages). */
  DRAIN_PAGES = 1 << 0,
  /** Give cpu slabs and sheaves back to their caches (flush_all). */
  FLUSH_SLABS = 1 << 1,
}

/**
 * VM event counters, one block per cpu (Linux vm_event_states). The names are the ones
 * `report("vmstat")` prints (VM_EVENT_NAMES).
 */
export const enum Vm {
  /** pgalloc_normal: pages allocated */
  PGALLOC = 0,
  /** pgfree: pages freed */
  PGFREE = 1,
  /** allocstall_normal: direct reclaim rounds */
  ALLOCSTALL = 2,
  /** pageoutrun: background (kswapd) reclaim runs */
  PAGEOUTRUN = 3,
  /** pgalloc_fail: allocations that returned 0 (kmem's own) */
  PGALLOC_FAIL = 4,
  /** pcp_drain: per-cpu lists drained to the buddy lists (kmem's own) */
  PCP_DRAIN = 5,
  /** fault_injected: failures forced by fault injection (kmem's own) */
  FAULT_INJECTED = 6,
  /** kswapd_wake: background reclaim woken below the low watermark (kmem's own) */
  KSWAPD_WAKE = 7,
  /** slab_alloc_slowpath: allocations that had to find a slab (SLUB alloc_slowpath) */
  SLAB_ALLOC_SLOW = 8,
  /** slab_free_slowpath: frees onto a slab's own freelist (SLUB free_slowpath) */
  SLAB_FREE_SLOW = 9,
  /** slab_new: slabs allocated from the page allocator (SLUB alloc_slab) */
  SLAB_NEW = 10,
  /** slab_discard: empty slabs given back (SLUB free_slab) */
  SLAB_DISCARD = 11,
  /** slab_errors: corruption found by the slab debug checks */
  SLAB_ERRORS = 12,
  /** kmalloc_large: kmalloc requests served by the page allocator */
  KMALLOC_LARGE = 13,
  /** Gauge, pages: slabs of SLAB_RECLAIM_ACCOUNT caches (nr_slab_reclaimable) */
  NR_SLAB_RECLAIMABLE = 14,
  /** Gauge, pages: all other slabs (nr_slab_unreclaimable) */
  NR_SLAB_UNRECLAIMABLE = 15,
  /** Room for the upper layers' counters (slab, vmalloc) without a layout change. */
  NR_EVENTS = 32,
}

export const VM_EVENT_NAMES: readonly string[] = [
  "pgalloc_normal",
  "pgfree",
  "allocstall_normal",
  "pageoutrun",
  "pgalloc_fail",
  "pcp_drain",
  "fault_injected",
  "kswapd_wake",
  "slab_alloc_slowpath",
  "slab_free_slowpath",
  "slab_new",
  "slab_discard",
  "slab_errors",
  "kmalloc_large",
];

/**
 * Header size in i32 words for `nrCpus` contexts and `nrNodes` nodes: the fixed words, the
 * per-cpu lines, the event counters, the zones, the other nodes' per-cpu lists, the numastat
 * counters, then room for the boot slab cache descriptor (`bootWords` words).
 */
export function headerWords(nrCpus: number, nrNodes: number, bootWords: number): number {
  return bootCacheBase(nrCpus, nrNodes) + bootWords;
}

/** Index of cpu `cpu`'s line: its node-0 per-cpu list, hotplug state and requests. */
export function pcpBase(cpu: number): number {
  return Hdr.PCP + Pcp.WORDS * cpu;
}

/** Index of cpu `cpu`'s first event counter, given the number of cpus. */
export function eventBase(nrCpus: number, cpu: number): number {
  return Hdr.PCP + Pcp.WORDS * nrCpus + Vm.NR_EVENTS * cpu;
}

/** Index of node `nid`'s zone block. */
export function zoneBase(nrCpus: number, nid: number): number {
  return eventBase(nrCpus, nrCpus) + Zone.WORDS * nid;
}

/** Index of cpu `cpu`'s per-cpu list for node `nid` (its own line for node 0). */
export function nodePcpBase(nrCpus: number, nrNodes: number, cpu: number, nid: number): number {
  if (nid === 0) return pcpBase(cpu);
  return zoneBase(nrCpus, nrNodes) + Pcp.WORDS * (cpu * (nrNodes - 1) + nid - 1);
}

/** Words of one cpu's numastat block: NumaStat.WORDS per node, rounded up to whole lines. */
function numaStride(nrNodes: number): number {
  return Math.ceil((NumaStat.WORDS * nrNodes) / 16) * 16;
}

/** Index of cpu `cpu`'s numastat counters (node 0's; node n's follow at NumaStat.WORDS * n). */
export function numaBase(nrCpus: number, nrNodes: number, cpu: number): number {
  return nodePcpBase(nrCpus, nrNodes, nrCpus, 1) + numaStride(nrNodes) * cpu;
}

/** Word index of the boot cache descriptor inside the header. */
export function bootCacheBase(nrCpus: number, nrNodes: number): number {
  return numaBase(nrCpus, nrNodes, nrCpus);
}

// mem_map entry: Frame.WORDS x i32 per page frame.
//
//  0          4          8          12         16         20         24         28         32
//  +----------+----------+----------+----------+----------+----------+----------+----------+
//  | flags    | order    | next pfn | prev pfn | owner-specific words: a slab's cache,      |
//  |          |          |          |          | freelist and counters; a vmalloc page's    |
//  |          |          |          |          | area (SlubPg in slub/layout.ts, SlobPg in  |
//  |          |          |          |          | slob/slob.ts, PgVm in vm/layout.ts)        |
//  +----------+----------+----------+----------+----------+----------+----------+----------+
//
// Links are pfns with 0 as "none" (frame 0 is never on a list). Only the head frame of a
// block carries flags; the other frames of the block ("tails") are all zero.
export const enum Frame {
  WORDS = 8,
  BYTES = WORDS * 4,
}

/** Word offsets inside a frame: frames[pfn * Frame.WORDS + Pg.X]. */
export const enum Pg {
  FLAGS = 0,
  ORDER = 1,
  NEXT = 2,
  PREV = 3,
  /** First of the words an owner (slab, vmalloc, ...) may use while it holds the block. */
  OWNER = 4,
  OWNER_WORDS = 4,
}

/** Page flags. Exactly one of BUDDY, HEAD, PCP is set on a head frame. */
export const enum PgFlag {
  /** head of a free block on free_area[order] */
  BUDDY = 1 << 0,
  /** head of an allocated block of 2^order pages */
  HEAD = 1 << 1,
  /** free order-0 page on a per-cpu list */
  PCP = 1 << 2,
  /** (with HEAD) block owned by a slab cache */
  SLAB = 1 << 3,
  /** (with HEAD) page mapped by vmalloc */
  VMALLOC = 1 << 4,
  /** (with HEAD) page holding a page table */
  PGTABLE = 1 << 5,
  /** (with HEAD) pages of a large kmalloc (beyond the largest size class) */
  KMALLOC = 1 << 6,
  /** (with HEAD) a page of a zspage, or a cpu's mapping area (zsmalloc) */
  ZSMALLOC = 1 << 7,
  /** (with HEAD | KMALLOC) a chunk of the kmalloc heap (src/kmalloc/heap.ts) */
  KHEAP = 1 << 8,
  /** Owner bits: a block with any of them belongs to an upper layer. */
  OWNER_MASK = SLAB | VMALLOC | PGTABLE | KMALLOC | ZSMALLOC,
  STATE_MASK = BUDDY | HEAD | PCP,
}
