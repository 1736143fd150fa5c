/*
 * The page map: what holds every page frame, read from mem_map alone (Linux's
 * /proc/kpageflags and page_owner, folded into one walk). It is what a picture of memory is
 * drawn from: free blocks by order, slabs by cache and fill, large kmalloc, vmalloc, page
 * tables, the header and mem_map.
 *
 * The walk goes block by block from the first managed frame: a head frame (BUDDY, PCP or
 * HEAD) names its order, and its tails (all zero) take its kind. Every frame gets one kind:
 *
 *   frames 0 .. firstManagedPfn-1          RESERVED (header and mem_map)
 *   a hole between NUMA windows            HOLE
 *   BUDDY head of order k, and its tails   FREE, order k
 *   PCP page                               PCP (free, on a per-cpu list), order 0
 *   HEAD | SLAB                            SLAB (SLUB) or SLOB, by the instance's allocator
 *   HEAD | KMALLOC | KHEAP                 KHEAP (a chunk of the kmalloc heap)
 *   HEAD | KMALLOC, a run kept for reuse   KMALLOC_CACHED (large-run cache: freed, not given back)
 *   HEAD | KMALLOC / VMALLOC / PGTABLE     KMALLOC, VMALLOC, PGTABLE
 *   HEAD | ZSMALLOC                        ZSMALLOC (a zspage's page)
 *   HEAD with no owner bit                 PAGES (allocPages' caller holds it)
 *
 * Slabs carry their cache id and fill: `used` of `capacity` objects for SLUB (its inuse
 * counter: objects not on the slab's own freelist, so a cpu slab's free objects on its cpu
 * freelist count as used), 2-byte units for a SLOB page; a heap chunk, 16-byte units of its
 * allocated blocks (headers included; the heap walks its blocks for them: `heapUse`). The
 * owner words read here are named by the layers that write them; each is read in one
 * function below or in theirs (largeRunCached).
 *
 * No lock is taken but a heap chunk's, by the heap while it sums the chunk's blocks: the map
 * is exact when no other context allocates during the walk (the workbench's case), and a
 * torn view of a block being split otherwise. Cost: one pass over the frames, O(totalPages),
 * and one over each heap chunk's blocks, with seven arrays of totalPages entries (10 bytes a
 * frame).
 */

import { Frame, Hdr, HdrOption, Pg, PgFlag, type PhysMem } from "../memory/index.js";
import { largeRunCached } from "../kmalloc/index.js";
import { SlubPg } from "../slub/index.js";

/** What holds a page frame: {@link PageMap.kind}'s values. */
export const PageKind = {
  /** No memory behind the frame number: a hole between NUMA windows. */
  HOLE: 0,
  /** The header and mem_map: never handed out. */
  RESERVED: 1,
  /** On a buddy free list, in a free block of `order[pfn]`. */
  FREE: 2,
  /** Free, parked on a per-cpu list. */
  PCP: 3,
  /** A SLUB slab of cache `cache[pfn]`, `used` of `capacity` objects in use. */
  SLAB: 4,
  /** A SLOB page: `used` of `capacity` 2-byte units; a block holding one big object of cache `cache[pfn]`. */
  SLOB: 5,
  /** Pages of a kmalloc beyond the largest size class (kmalloc_large). */
  KMALLOC: 6,
  /** A page mapped by vmalloc. */
  VMALLOC: 7,
  /** A page table of the vmalloc space. */
  PGTABLE: 8,
  /** An allocated block no layer above the page allocator claims (allocPages). */
  PAGES: 9,
  /** A page of a zsmalloc pool (compressed memory). */
  ZSMALLOC: 10,
  /** A chunk of the kmalloc heap: `used` of `capacity` 16-byte units in allocated blocks. */
  KHEAP: 11,
  /** A freed large kmalloc run kept whole for reuse (the large-run cache): free to kmalloc. */
  KMALLOC_CACHED: 12,
} as const;
export type PageKind = (typeof PageKind)[keyof typeof PageKind];

/** The names of the kinds, by value, for legends. */
export const PAGE_KIND_NAMES: readonly string[] = [
  "hole",
  "reserved",
  "free",
  "pcp",
  "slab",
  "slob",
  "kmalloc",
  "vmalloc",
  "pgtable",
  "pages",
  "zsmalloc",
  "kmalloc heap",
  "kmalloc cached",
];

/** A slab cache as the page map names it. */
export interface PageMapCache {
  /** The id slab frames carry in `cache`. */
  id: number;
  name: string;
  objectSize: number;
  /**
   * Objects per slab of `slabOrder` (0 for a SLOB cache: its objects share pages); a larger
   * slab of order k (a SLUB cache whose slabs grow) holds as many slots of `slotSize` bytes
   * as it has room for (objectsPerSlab << (k - slabOrder) when they tile its slabs).
   */
  objectsPerSlab: number;
  /** The order of its smallest slabs (0 if not given). */
  slabOrder?: number;
  /** The bytes of a slot (an object and its metadata); if not given, slots tile every slab. */
  slotSize?: number;
}

/** Every frame's owner: arrays indexed by pfn, `totalPages` long. */
export interface PageMap {
  pageSize: number;
  totalPages: number;
  /** First frame the page allocator manages (the ones before are RESERVED). */
  firstManagedPfn: number;
  /** PageKind of each frame. */
  kind: Uint8Array;
  /** Order of the block the frame is part of (0 for RESERVED and HOLE). */
  order: Uint8Array;
  /** Cache id of a slab frame (a SLOB big-object block's too); -1 otherwise. */
  cache: Int32Array;
  /**
   * Objects (SLUB) or 2-byte units (SLOB) in use on the frame's slab, 16-byte units in
   * allocated blocks on a heap chunk's frames; 0 otherwise.
   */
  used: Uint16Array;
  /** Objects of the frame's slab (SLUB), units per page (SLOB) or per heap chunk; 0 otherwise. */
  capacity: Uint16Array;
  /** The caches the slab frames name, by id order. */
  caches: PageMapCache[];
}

/** What the walk needs to know of a cache id: null when no cache has it. */
export type CacheLookup = (id: number) => PageMapCache | null;

/** SLUB's struct slab words of a slab's head frame: [cache id, inuse]. */
function slubSlab(f: Int32Array, i: number): [number, number] {
  return [f[i + SlubPg.CACHE] as number, (f[i + SlubPg.COUNTERS] as number) & 0xffff];
}

/**
 * SLOB's words of a page's head frame (src/slob/slob.ts SlobPg): free units at OWNER+0, the
 * list at OWNER+2 (4: a block holding one big object), that object's cache at OWNER+3.
 * Returns [free units, cache id or -1 for a shared page].
 */
function slobPage(f: Int32Array, i: number): [number, number] {
  const big = f[i + Pg.OWNER + 2] === 4;
  return [f[i + Pg.OWNER] as number, big ? (f[i + Pg.OWNER + 3] as number) : -1];
}

/** Bytes in allocated blocks of the kmalloc heap's chunk at an address, or -1. */
export type HeapUse = (addr: number) => number;

/**
 * Walks mem_map of `phys`; `lookup` names the caches slab frames carry, `heapUse` (if
 * given) fills a heap chunk's `used`.
 */
export function pageMap(phys: PhysMem, lookup: CacheLookup, heapUse?: HeapUse): PageMap {
  const total = phys.totalPages;
  const f = phys.frames;
  const kind = new Uint8Array(total);
  const order = new Uint8Array(total);
  const cache = new Int32Array(total).fill(-1);
  const used = new Uint16Array(total);
  const capacity = new Uint16Array(total);
  const slob = ((phys.header[Hdr.OPTIONS] as number) & HdrOption.SLOB) !== 0;
  const slobUnits = phys.pageSize >>> 1;
  const caches = new Map<number, PageMapCache | null>();
  const named = (id: number): PageMapCache | null => {
    if (!caches.has(id)) caches.set(id, lookup(id));
    return caches.get(id) ?? null;
  };
  const first = Math.min(phys.firstManagedPfn, total);
  kind.fill(PageKind.RESERVED, 0, first);
  let pfn = first;
  while (pfn < total) {
    if (!phys.hasFrame(pfn)) {
      kind[pfn++] = PageKind.HOLE;
      continue;
    }
    const i = pfn * Frame.WORDS;
    const flags = f[i + Pg.FLAGS] as number;
    let k: number = PageKind.PAGES;
    let o = 0;
    let id = -1;
    let u = 0;
    let cap = 0;
    if ((flags & PgFlag.BUDDY) !== 0) {
      k = PageKind.FREE;
      o = f[i + Pg.ORDER] as number;
    } else if ((flags & PgFlag.PCP) !== 0) {
      k = PageKind.PCP;
    } else if ((flags & PgFlag.HEAD) !== 0) {
      o = f[i + Pg.ORDER] as number;
      if ((flags & PgFlag.SLAB) !== 0 && slob) {
        k = PageKind.SLOB;
        const [free, owner] = slobPage(f, i);
        id = owner;
        if (owner >= 0) {
          named(owner);
          u = cap = 1;
        } else {
          cap = slobUnits;
          u = slobUnits - free;
        }
      } else if ((flags & PgFlag.SLAB) !== 0) {
        k = PageKind.SLAB;
        const [owner, inuse] = slubSlab(f, i);
        id = owner;
        u = inuse;
        const nc = named(owner);
        const base = nc?.slabOrder ?? 0;
        cap =
          nc === null
            ? inuse
            : o === base || nc.slotSize === undefined
              ? nc.objectsPerSlab * 2 ** (o - base)
              : Math.floor((phys.pageSize * 2 ** o) / nc.slotSize);
      } else if ((flags & PgFlag.KMALLOC) !== 0 && (flags & PgFlag.KHEAP) !== 0) {
        // A chunk is at most 64 KiB (heap.ts CHUNK_BYTES, or one page of at most 64 KiB):
        // at most 4,096 units of 16 bytes.
        k = PageKind.KHEAP;
        const inUse = heapUse?.((pfn * phys.pageSize) >>> 0) ?? -1;
        cap = (phys.pageSize * 2 ** o) >>> 4;
        u = inUse > 0 ? Math.ceil(inUse / 16) : 0;
      } else if ((flags & PgFlag.KMALLOC) !== 0)
        k = largeRunCached(f, pfn) ? PageKind.KMALLOC_CACHED : PageKind.KMALLOC;
      else if ((flags & PgFlag.VMALLOC) !== 0) k = PageKind.VMALLOC;
      else if ((flags & PgFlag.PGTABLE) !== 0) k = PageKind.PGTABLE;
      else if ((flags & PgFlag.ZSMALLOC) !== 0) k = PageKind.ZSMALLOC;
    }
    // A frame no walk reaches as a tail and that is no head would be a broken mem_map (verify()
    // reports it); it is shown as PAGES, one frame wide.
    const end = Math.min(total, pfn + 2 ** Math.min(o, 30));
    kind.fill(k, pfn, end);
    order.fill(o, pfn, end);
    if (id >= 0) cache.fill(id, pfn, end);
    if (cap > 0) {
      used.fill(Math.min(u, 0xffff), pfn, end);
      capacity.fill(Math.min(cap, 0xffff), pfn, end);
    }
    pfn = end;
  }
  const listed = [...caches.values()].filter((c): c is PageMapCache => c !== null);
  return {
    pageSize: phys.pageSize,
    totalPages: total,
    firstManagedPfn: first,
    kind,
    order,
    cache,
    used,
    capacity,
    caches: listed.sort((a, b) => a.id - b.id),
  };
}
