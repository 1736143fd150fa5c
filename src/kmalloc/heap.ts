/*
 * The kmalloc heap: kmalloc's requests above HEAP_MIN bytes (and up to a quarter of a
 * chunk) in the default ("fine") size classes, but powers of two (their classes: naturally
 * aligned) and whole pages (pages: page-aligned), carved best-fit out of page-backed chunks
 * the way TLSF carves its pool (Masmano et al., "TLSF: a new dynamic memory allocator for
 * real-time systems", 2004): two-level segregated free lists with bitmaps give a good fit
 * in O(1), boundary tags merge a freed block with both physical neighbours at once. Before
 * the good fit, the best fit among the first FIT_WALK blocks of the list the request maps
 * to (whose blocks may be smaller or larger than it): a bounded walk that keeps blocks of
 * a few sizes close together (sqlite3-workload's 4,097-4,400-byte blocks).
 *
 * Linux's kmalloc serves these sizes from power-of-two slab caches (kmalloc-2k .. -8k) and
 * the page allocator: a 4,097-byte request takes 8 KiB, a 12 KiB one an order-2 block cut
 * back to 3 pages, and a krealloc always moves. Program traces allocate many blocks of a
 * few KiB (strings, buffers, pages of a database): measured on them, classes above 1 KiB
 * waste 5-16% of the footprint and the page route costs 3,400-4,600 instructions per
 * allocation (BENCHMARKS.md, "Real programs"). The heap wastes at most 15 bytes of a block
 * plus its 16-byte header, and a krealloc grows into a free neighbour or shrinks in place.
 * `sizeClasses: "linux"` keeps Linux's route; so do KASAN, KFENCE and kmemleak, whose hooks
 * know slab objects and whole pages only (docs/sanitizers.md).
 *
 * A chunk is one buddy block of 2^k pages, flagged HEAD | KMALLOC | KHEAP on its head frame,
 * that starts at a CHUNK_BYTES boundary, so that kfree, ksize and krealloc find it in O(1)
 * from any address inside (the head is the address rounded down to CHUNK_BYTES; an address
 * whose page is 2^k pages or more past it is not the chunk's). A heap's chunks grow with it:
 * a new chunk is as large as the pages the heap holds, from CHUNK_MIN_BYTES doubling to
 * CHUNK_BYTES (16, 16, 32, 64, 64... KiB), or the least that holds its request, so that a
 * program with a few blocks here holds 16 KiB for them, not 64. A smaller chunk is the first
 * pages of a CHUNK_BYTES block whose rest goes back at once (BuddyAllocator.trimBlock, under
 * the zone lock), and ends with a fence, a 16-byte allocated header that no list holds, so
 * that every path finds a header where a chunk's last block ends:
 *
 *   chunk (2^k pages, at a CHUNK_BYTES boundary)
 *   +-----------------+--------+------------+--------+-------------+-- ... --+--------+-------+
 *   | start bitmap    | header | payload    | header | free block  |         | header | fence |
 *   | 1 bit / 16 B    | 16 B   | (16-byte   | 16 B   | next, prev  |         |        | 16 B  |
 *   | of the chunk    |        |  aligned)  |        | links       |         |        | (< 64 |
 *   |                 |        |            |        |             |         |        |  KiB) |
 *   +-----------------+--------+------------+--------+-------------+-- ... --+--------+-------+
 *   ^ chunk start                                   blocks tile to the end (or to the fence)
 *
 *   block header (4 x i32)      word 0: size in bytes, header included (a multiple of 16,
 *                                        >= 32) | FREE (bit 0) | CACHED (bit 1)
 *                               word 1: the previous block's size (0 for the first block)
 *                               word 2: check = mix(secret, address, word 0): the size and
 *                                        the flags (these an xor of a keyed word of their
 *                                        own, so that caching or taking a block is one xor)
 *                               word 3: allocated: the size requested; free: next free block;
 *                                        cached: the next block of its bin
 *   free block, payload word 0: the previous free block on its list (0: the list's head)
 *
 * The start bitmap has a bit for each 16 bytes of the chunk, set where the payload of an
 * allocated block starts: kfree refuses an address whose bit is clear before it reads any
 * header (inside a block, a header, free space: INVALID_FREE; a block freed already:
 * DOUBLE_FREE), deterministically. The check word, with a secret drawn per instance, turns
 * a header a user's overflow rewrote into CORRUPTION at the next free of the block or of a
 * neighbour (both neighbours' headers are checked before a free changes anything), or at
 * verify(), instead of a heap that hands out overlapping blocks. The previous-size word is
 * outside the check word: before any merge the block it names is checked to be a block
 * with a valid header and exactly that size, ending where this one starts (only the true
 * previous block is), so a change of a block's size rewrites its neighbour's one word, not
 * a mix.
 *
 * The cache of freed blocks (dlmalloc's fastbins, glibc's tcache): kfree puts a block in a
 * bin of its own size's list index ([fl][sl] of the first levels from 1 KiB, 80 bins)
 * instead of merging it, as long as the bin holds fewer than CACHE_PER_BIN blocks and the
 * cache fewer than a quarter of a chunk's bytes (CACHE_CHUNK_SHIFT); kmalloc takes the head
 * of its request's bin when it is large enough, else the head of the next bin (a block at
 * most two list steps, 2/16 of its size, over the request), without touching the lists or
 * a neighbour. A cached block is neither free (no
 * neighbour merges with it, it is on no list) nor allocated (its chunk does not count it):
 * the CACHED flag in its size word, under its check word, and its start bit clear, so that
 * a kfree of it is a DOUBLE_FREE and of an address inside it an INVALID_FREE, found in O(1)
 * as for a free block. Its own header is checked when it is cached and when it is taken;
 * the neighbours' when it is merged. A chunk's last allocated block is cached only when the
 * chunk becomes the spare; otherwise its free merges the chunk's cached blocks too (a walk
 * of the bins: 80 heads and the cache's few blocks), so that the chunk empties and goes back
 * to the page allocator as before. The cache is
 * flushed into the lists (each block merged as a free would) when an allocation finds no
 * block in the lists, before it takes a new chunk, and by shrink(); recover() makes every
 * cached block a free block.
 *
 * The frame of a chunk's head keeps the chunk list and counters (ChunkPg): the next and
 * previous chunk of its heap (pfns), its allocated blocks, and the heap (node) it belongs
 * to. Each node has a heap of its own, with its lock, its free lists and bitmaps, in a
 * descriptor in the header (after the KASAN shadow's room, anchored at Hdr.KHEAP):
 *
 *   descriptor of node n (HeapDesc.WORDS i32)
 *   +------+--------+--------+--------+-------+------+-------+----------+----------+------------+----------+------------------+
 *   | lock | secret | chunks | nr     | empty | fl   | pages | (2 words | cache's  | sl bitmaps | heads    | bins, bin counts |
 *   | (own | (u32)  | (pfn)  | chunks | (<=1) | bits | of    |  unused) | bytes    | [FL]       | [FL][SL] | [5][SL] each     |
 *   | line)|        |        |        |       |      | chunks|          |          |            |          |                  |
 *   +------+--------+--------+--------+-------+------+-------+----------+----------+------------+----------+------------------+
 *
 * No counter of live blocks or bytes: stats() counts the blocks of the chunks, so that an
 * allocation and a free do not keep sums nobody reads on their path.
 *
 * An empty chunk goes back to the page allocator unless it is the node's only one (one
 * spare, so that a program that frees and allocates one block does not take and give back a
 * chunk each time). A request the heap does not serve (above HEAP_MAX) takes whole pages
 * (large.ts).
 *
 * Lock: the heap lock (HeapDesc.LOCK, one per node; src/sync/lock.ts gives the order) guards
 * the descriptor, the blocks of the heap's chunks and their frames' ChunkPg words. It is a
 * leaf: never held across a call into the page allocator (a chunk is taken before the lock
 * and put in under it; an empty one is taken out under it and freed after).
 *
 * Recovery (a context that died holding the lock): the blocks are the ground truth. Every
 * store that changes which blocks there are is one word (a block's size word: a split writes
 * the new block's header first, inside the old block, then shrinks it; a merge grows the
 * lowest block), so any prefix of an allocation, a free or a resize leaves the chunks tiled
 * by whole blocks. recover() walks the node's chunks (found in the mem_map by their flags),
 * rewrites every header's previous-size and check words from the walk, merges neighbours
 * left free side by side, and rebuilds the start bitmaps, the free lists, the chunk list,
 * the counters and a smaller chunk's fence. A block a dying context had allocated but not
 * returned stays allocated (a leak, as with any allocation of a context that died).
 *
 * Invariants (verify() reports them by id):
 *   HEAP-1 each node's chunk list is a consistent doubly linked list of frames flagged HEAD |
 *          KMALLOC | KHEAP of an order from the smallest chunk's to the largest's, at a
 *          CHUNK_BYTES boundary, naming the node's heap; its length is the descriptor's
 *          chunk count, their pages its page count, and every chunk frame of memory is on
 *          one list
 *   HEAP-2 the blocks of a chunk tile it (a smaller chunk's up to its fence, a valid
 *          allocated 16-byte header naming the last block's size): sizes multiples of 16, at
 *          least 32, each block's previous-size word the size of the block before it, its
 *          check word valid, no two free blocks side by side
 *   HEAP-3 a chunk's start bitmap has a bit set exactly at the payload of each allocated
 *          block (not cached), and the chunk's allocated-block count is their number
 *   HEAP-4 every free block is on exactly the free list its size maps to, the lists are
 *          consistent doubly linked lists, and the first- and second-level bitmaps say
 *          which lists are non-empty
 *   HEAP-5 the descriptor's empty-chunk count is the number of chunks with no allocated
 *          block (at most 1)
 *   HEAP-6 every cached block is in exactly the bin its size maps to, each bin's count is
 *          its length (at most CACHE_PER_BIN), the cache's bytes are their sum (at most a
 *          quarter of a chunk)
 */

import { hex, KmemError } from "../errors.js";
import { Frame, Hdr, Pg, PgFlag, type PhysMem } from "../memory/index.js";
import { type BuddyAllocator, Gfp } from "../page/index.js";
import { lockSynced, unlock } from "../sync/index.js";
import { LcDesc } from "./large-cache.js";

/** Smallest request the heap serves is HEAP_MIN + 1 bytes; below it, the size classes. */
export const HEAP_MIN = 1024;
/** The largest chunk: one buddy block of this many bytes (or the largest block, if smaller). */
export const CHUNK_BYTES = 64 * 1024;
/** The smallest chunk (a heap's first): this many bytes, or a page if pages are larger. */
export const CHUNK_MIN_BYTES = 16 * 1024;

/** Words of a node's heap descriptor (see the header's diagram). */
export const enum HeapDesc {
  /** The heap lock: its own 64-byte line. */
  LOCK = 0,
  SECRET = 16,
  /** pfn of the first chunk, 0 if none. */
  CHUNKS = 17,
  NR_CHUNKS = 18,
  /** Chunks with no allocated block (at most one: the spare). */
  EMPTY = 19,
  /** First-level bitmap: bit fl set when some list of fl is non-empty. */
  FL_MAP = 20,
  /** Pages of the heap's chunks. */
  PAGES = 21,
  /** Words 22-23: unused (they counted live bytes and cached blocks). */
  /** Bytes of the blocks in the cache of freed blocks (headers included). */
  CACHE_BYTES = 24,
  /** Second-level bitmaps, one word per fl. */
  SL_MAP = 32,
  /** List heads, [fl][sl]: block addresses, 0 for empty. */
  HEADS = 64,
  FL = 24,
  SL_BITS = 4,
  SL = 16,
  /** The cache's bins: heads of their lists of freed blocks, [fl - BIN_FL][sl]. */
  BINS = HEADS + FL * SL,
  /** The first level of the first bin (1,024-2,047 bytes), and the number of bins. */
  BIN_FL = 10,
  NR_BINS = 5 * SL,
  /** Each bin's count of blocks. */
  BIN_NR = BINS + NR_BINS,
  WORDS = BIN_NR + NR_BINS,
}

/** Blocks a bin of the cache holds at most. */
export const CACHE_PER_BIN = 4;
/** The same constants for the hot paths (a module const is a load and a check there). */
const enum K {
  PER_BIN = 4,
  /** The flag key's multiplier (mix). */
  FLAG_MUL = 0x27d4eb2f,
  CHUNK_FLAGS = PgFlag.HEAD | PgFlag.KMALLOC | PgFlag.KHEAP,
}
/**
 * Blocks of the list a request maps to that an allocation looks at for the best fit before
 * it takes a larger list's (BENCHMARKS.md, "The heap's fast path": 2 to 8 gave the same).
 */
const FIT_WALK = 4;
/** The cache's bytes at most (headers included), as a share of a chunk: a quarter. */
export const CACHE_CHUNK_SHIFT = 2;

/** Words of a block header, and its constants. */
const enum Blk {
  SIZE = 0,
  PREV = 1,
  CHECK = 2,
  /** Allocated: the requested size; free: the next free block. */
  LINK = 3,
  /** Free: the previous free block (payload word 0). */
  BACK = 4,
  FREE = 1,
  /** Freed into the cache: not on a list, still one of the heap's non-free blocks. */
  CACHED = 2,
  /** The flag bits of a size word. */
  FLAGS = 3,
  HDR = 16,
  MIN = 32,
}

/** Owner words of a chunk's head frame. */
export const enum ChunkPg {
  NEXT = Pg.OWNER + 0,
  PREV = Pg.OWNER + 1,
  /** Allocated blocks in the chunk. */
  LIVE = Pg.OWNER + 2,
  /** The heap (node index) the chunk belongs to. */
  HEAP = Pg.OWNER + 3,
}

/** A chunk's head frame flags. */
export const CHUNK_FLAGS: number = K.CHUNK_FLAGS;

/** What stats() reports of the heaps. */
export interface HeapStats {
  chunks: number;
  /** Bytes of the chunks. */
  bytes: number;
  /** Allocated blocks, and their bytes (headers included). */
  live: number;
  used: number;
  /** Free bytes in the chunks (the cache's blocks included), and the largest free block's. */
  free: number;
  largestFree: number;
  /** Bytes of the blocks in the cache of freed blocks (headers included). */
  cached: number;
  /** Pages of the runs in the cache of freed large runs (large-cache.ts), every node's. */
  largeCachedPages: number;
}

/**
 * The check word of a header at `b` with size word `w0`, keyed by the heap's secret `s`:
 * the size mixed with the address and the key, the flags (FREE, CACHED) an xor of a keyed
 * word of their own, the flag key `imul(s, FLAG_MUL) | 1` (odd: each flag changes the
 * word), so that a free into the cache or a take from it changes the check word by one
 * xor of the flag key times CACHED (`(imul(s, FLAG_MUL) | 1) << 1`, written out where it
 * is used: V8 inlines a call only while its budget lasts, and the heap's paths are large).
 */
function mix(s: number, b: number, w0: number): number {
  return (
    Math.imul(Math.imul(b ^ (w0 & ~Blk.FLAGS) ^ s, -1640531535) + s, -2048144789) ^
    Math.imul(w0 & Blk.FLAGS, Math.imul(s, K.FLAG_MUL) | 1)
  );
}

/** The list index of a free block of `size` bytes (TLSF mapping_insert). */
function index(size: number): number {
  const fl = 31 - Math.clz32(size);
  return (fl << HeapDesc.SL_BITS) | ((size >>> (fl - HeapDesc.SL_BITS)) & (HeapDesc.SL - 1));
}

/** HeapStats with every figure 0. */
function emptyStats(): HeapStats {
  return {
    chunks: 0,
    bytes: 0,
    live: 0,
    used: 0,
    free: 0,
    largestFree: 0,
    cached: 0,
    largeCachedPages: 0,
  };
}

function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}

export class KmallocHeap {
  private readonly phys: PhysMem;
  private readonly buddy: BuddyAllocator;
  private f: Int32Array;
  private readonly pageShift: number;
  /** log2 of the chunk's pages, bytes, and the chunk's bytes less one. */
  readonly order: number;
  readonly chunkBytes: number;
  private readonly chunkMask: number;
  /** Bytes of the start bitmap at the chunk's start (where the first block begins). */
  private readonly mapBytes: number;
  /** log2 of the smallest chunk's pages. */
  private readonly minOrder: number;
  private readonly pageSize: number;
  /** The largest request served here. */
  readonly maxSize: number;
  /** Called before a new chunk is taken (node, pages): the large-run cache makes room. */
  onGrow: ((nid: number, pages: number) => void) | null = null;
  /** Each node's descriptor. */
  private d: Int32Array[] = [];
  private readonly descAddr: number;
  private readonly smp: number;
  private readonly cpu: number;
  private readonly h: Int32Array;
  private readonly initOnAlloc: number;
  private readonly initOnFree: number;
  /** The memory's words (one buffer). */
  private w: Int32Array;
  /** The cache's bound in bytes (CACHE_CHUNK_SHIFT). */
  private readonly cacheMax: number;

  /**
   * The heap of an instance whose header names its descriptors (Hdr.KHEAP): `fresh`, they
   * are set up (zeroed, a secret drawn for each); otherwise opened as they are.
   */
  constructor(
    phys: PhysMem,
    buddy: BuddyAllocator,
    fresh: boolean,
    initOnAlloc: boolean,
    initOnFree: boolean,
  ) {
    this.phys = phys;
    this.buddy = buddy;
    this.f = phys.frames;
    this.w = phys.words;
    this.pageShift = phys.pageShift;
    this.order = KmallocHeap.chunkOrder(phys);
    this.chunkBytes = phys.pageSize << this.order;
    this.chunkMask = this.chunkBytes - 1;
    this.mapBytes = Math.max(16, this.chunkBytes >>> 7);
    this.maxSize = (this.chunkBytes >>> 2) - Blk.HDR;
    this.cacheMax = this.chunkBytes >>> CACHE_CHUNK_SHIFT;
    this.pageSize = phys.pageSize;
    this.minOrder = Math.min(
      this.order,
      Math.max(0, 31 - Math.clz32(CHUNK_MIN_BYTES >>> phys.pageShift)),
    );
    this.smp = phys.nrCpus > 1 ? 1 : 0;
    this.cpu = buddy.cpu;
    this.h = phys.header;
    this.initOnAlloc = initOnAlloc ? Gfp.ZERO : 0;
    this.initOnFree = initOnFree ? 1 : 0;
    this.descAddr = phys.header[Hdr.KHEAP] as number;
    this.views();
    if (fresh) {
      phys.fill(0, this.descAddr, this.descAddr + phys.nrNodes * HeapDesc.WORDS * 4);
      const rnd = new Uint32Array(1);
      for (const d of this.d) {
        globalThis.crypto.getRandomValues(rnd);
        d[HeapDesc.SECRET] = rnd[0] as number;
      }
    }
    phys.resized.push(() => {
      this.f = phys.frames;
      this.w = phys.words;
      this.views();
    });
  }

  /** Header words to reserve for the descriptors of `nrNodes` heaps (with room to align). */
  static headerWords(nrNodes: number): number {
    return nrNodes * HeapDesc.WORDS + 16;
  }

  /**
   * Header words for the large-run caches' descriptors (large-cache.ts), after the heaps':
   * reserved when the options ask for a heap (Linux's classes, SLOB and the sanitizers have
   * neither); kmalloc keeps no cache when they do not fit.
   */
  static largeCacheWords(nrNodes: number, heap: boolean): number {
    return heap ? nrNodes * LcDesc.WORDS : 0;
  }

  /** The large-run caches' descriptors (large-cache.ts): after the heaps'. */
  largeCacheAddress(): number {
    return this.descAddr + this.phys.nrNodes * HeapDesc.WORDS * 4;
  }

  /** The descriptors' address in a header whose free room starts at byte `at`: a line's start. */
  static headerAddress(at: number): number {
    return (at + 63) & ~63;
  }

  /** The chunk order for a memory: CHUNK_BYTES, or less when the largest block is smaller. */
  static chunkOrder(phys: PhysMem): number {
    const want = 31 - Math.clz32(Math.max(1, CHUNK_BYTES >>> phys.pageShift));
    return Math.min(want, phys.maxOrder - 1);
  }

  /**
   * Whether an instance of this memory can have a heap: one buffer (the heap's words are
   * one view; nodes that are buffers of their own keep the classes' route), and a chunk
   * that holds 8 blocks of HEAP_MIN bytes.
   */
  static fits(phys: PhysMem): boolean {
    return !phys.split && phys.pageSize << KmallocHeap.chunkOrder(phys) >= 8 * (HEAP_MIN + 64);
  }

  private views(): void {
    const out: Int32Array[] = [];
    for (let n = 0; n < this.phys.nrNodes; n++) {
      out.push(this.phys.wordsAt(this.descAddr + n * HeapDesc.WORDS * 4, HeapDesc.WORDS));
    }
    this.d = out;
  }

  /* ------------------------------------------------------------------ words */

  /** Word `k` of the block (or chunk) at `b` (the memory is one buffer: see fits()). */
  private rd(b: number, k: number): number {
    return this.w[(b >>> 2) + k] as number;
  }

  private wr(b: number, k: number, v: number): void {
    this.w[(b >>> 2) + k] = v;
  }

  /** Writes a header's size and previous-size words, then its check word. */
  private setHeader(d: Int32Array, b: number, w0: number, w1: number): void {
    const w = this.w;
    const i = b >>> 2;
    w[i + Blk.SIZE] = w0;
    w[i + Blk.PREV] = w1;
    w[i + Blk.CHECK] = mix(d[HeapDesc.SECRET] as number, b, w0);
  }

  /** Writes a header's size word, then its check word (its previous-size word unchanged). */
  private setSize(d: Int32Array, b: number, w0: number): void {
    const w = this.w;
    const i = b >>> 2;
    w[i + Blk.SIZE] = w0;
    w[i + Blk.CHECK] = mix(d[HeapDesc.SECRET] as number, b, w0);
  }

  /**
   * Rewrites a header's previous-size word (its neighbour before it changed size): outside
   * the check word, which the previous block's own header vouches for (checkNear()).
   */
  private setPrev(b: number, w1: number): void {
    this.w[(b >>> 2) + Blk.PREV] = w1;
  }

  private headerOk(d: Int32Array, b: number): boolean {
    const w = this.w;
    const i = b >>> 2;
    return w[i + Blk.CHECK] === mix(d[HeapDesc.SECRET] as number, b, w[i + Blk.SIZE] as number);
  }

  /* ------------------------------------------------------------------ free lists */

  private insert(d: Int32Array, b: number, size: number): void {
    const w = this.w;
    const fl = 31 - Math.clz32(size);
    const sl = (size >>> (fl - HeapDesc.SL_BITS)) & (HeapDesc.SL - 1);
    const at = HeapDesc.HEADS + ((fl << HeapDesc.SL_BITS) | sl);
    const head = d[at] as number;
    const i = b >>> 2;
    w[i + Blk.LINK] = head;
    w[i + Blk.BACK] = 0;
    if (head !== 0) w[(head >>> 2) + Blk.BACK] = b;
    d[at] = b;
    d[HeapDesc.FL_MAP] = (d[HeapDesc.FL_MAP] as number) | (1 << fl);
    d[HeapDesc.SL_MAP + fl] = (d[HeapDesc.SL_MAP + fl] as number) | (1 << sl);
  }

  private remove(d: Int32Array, b: number, size: number): void {
    const w = this.w;
    const i = b >>> 2;
    const next = w[i + Blk.LINK] as number;
    const prev = w[i + Blk.BACK] as number;
    if (next !== 0) w[(next >>> 2) + Blk.BACK] = prev;
    if (prev !== 0) {
      w[(prev >>> 2) + Blk.LINK] = next;
      return;
    }
    const fl = 31 - Math.clz32(size);
    const sl = (size >>> (fl - HeapDesc.SL_BITS)) & (HeapDesc.SL - 1);
    d[HeapDesc.HEADS + ((fl << HeapDesc.SL_BITS) | sl)] = next;
    if (next !== 0) return;
    const map = (d[HeapDesc.SL_MAP + fl] as number) & ~(1 << sl);
    d[HeapDesc.SL_MAP + fl] = map;
    if (map === 0) d[HeapDesc.FL_MAP] = (d[HeapDesc.FL_MAP] as number) & ~(1 << fl);
  }

  /** A free block of at least `need` bytes (TLSF mapping_search + find_suitable_block), or 0. */
  private find(d: Int32Array, need: number): number {
    // Best fit among the first FIT_WALK blocks of the list `need` maps to (its blocks may
    // be smaller or larger than `need`); then a good fit, a list whose blocks all fit.
    const w = this.w;
    const fl0 = 31 - Math.clz32(need);
    let b = d[
      HeapDesc.HEADS +
        ((fl0 << HeapDesc.SL_BITS) | ((need >>> (fl0 - HeapDesc.SL_BITS)) & (HeapDesc.SL - 1)))
    ] as number;
    let best = 0;
    let bestSize = 0x7fffffff;
    for (let k = 0; b !== 0 && k < FIT_WALK; k++) {
      const size = (w[b >>> 2] as number) & ~Blk.FREE;
      if (size >= need && size < bestSize) {
        best = b;
        bestSize = size;
        if (size === need) break;
      }
      b = w[(b >>> 2) + Blk.LINK] as number;
    }
    if (best !== 0) return best;
    const r = need + (1 << (31 - Math.clz32(need) - HeapDesc.SL_BITS)) - 1;
    let fl = 31 - Math.clz32(r);
    const sl = (r >>> (fl - HeapDesc.SL_BITS)) & (HeapDesc.SL - 1);
    if (fl >= HeapDesc.FL) return 0;
    let map = (d[HeapDesc.SL_MAP + fl] as number) & (-1 << sl);
    if (map === 0) {
      const fmap = (d[HeapDesc.FL_MAP] as number) & (-2 << fl);
      if (fmap === 0) return 0;
      fl = 31 - Math.clz32(fmap & -fmap);
      map = d[HeapDesc.SL_MAP + fl] as number;
    }
    return d[HeapDesc.HEADS + ((fl << HeapDesc.SL_BITS) | (31 - Math.clz32(map & -map)))] as number;
  }

  /* ------------------------------------------------------------------ chunks */

  /** The chunk holding `addr` (its address), or 0 if `addr` is in no chunk. */
  chunkOf(addr: number): number {
    const pfn = (addr >>> this.pageShift) & ~((1 << this.order) - 1);
    const p = this.phys;
    if (pfn < p.firstManagedPfn || pfn >= p.totalPages) {
      if (pfn < p.firstManagedPfn || !p.sync() || pfn >= p.totalPages) return 0;
    }
    const i = pfn * Frame.WORDS;
    const f = this.f;
    return f[i + Pg.FLAGS] === K.CHUNK_FLAGS &&
      ((addr >>> this.pageShift) - pfn) >>> (f[i + Pg.ORDER] as number) === 0
      ? (pfn << this.pageShift) >>> 0
      : 0;
  }

  /**
   * Where the blocks of chunk `c` end: its end, or for a chunk smaller than the largest the
   * fence's header, the last 16 bytes (see the header).
   */
  private blocksEnd(c: number): number {
    const bytes = this.pageSize << this.orderOf(c);
    return bytes === this.chunkBytes ? c + bytes : c + bytes - Blk.HDR;
  }

  /** The order of the chunk at `c` (its head frame's). */
  private orderOf(c: number): number {
    return this.f[(c >>> this.pageShift) * Frame.WORDS + Pg.ORDER] as number;
  }

  /** The least chunk order (the smallest chunk's on) whose chunk holds a `need`-byte block. */
  private leastOrder(need: number): number {
    let o = this.minOrder;
    while (o < this.order && (this.pageSize << o) - this.mapBytes - Blk.HDR < need) o++;
    return o;
  }

  /**
   * The order of heap `d`'s next chunk for a block of `need` bytes: the log2 of the pages
   * the heap holds, within the chunks' bounds (so that the heap doubles its chunks as it
   * grows), or the least that holds the block.
   */
  private growthOrder(d: Int32Array, need: number): number {
    const pages = d[HeapDesc.PAGES] as number;
    const o = Math.min(this.order, Math.max(this.minOrder, 31 - Math.clz32(pages | 1)));
    return Math.max(o, this.leastOrder(need));
  }

  private lockHeap(d: Int32Array): void {
    if (this.smp !== 0)
      lockSynced(d, HeapDesc.LOCK, this.cpu, "the kmalloc heap lock", this.h, this.phys);
  }

  private unlockHeap(d: Int32Array): void {
    if (this.smp !== 0) unlock(d, HeapDesc.LOCK, this.cpu);
  }

  /** The descriptor of node `nid`'s heap (-1: this context's node). */
  private heapOf(nid: number): number {
    return nid < 0 ? this.buddy.localNode : nid;
  }

  /**
   * A new chunk from the page allocator (no lock held: it may reclaim), its contents set
   * (one free block, an empty start bitmap) but not yet in a heap; 0 when memory is short.
   */
  private newChunk(d: Int32Array, order: number, gfp: number, nid: number): number {
    // The heap's growth comes out of the large-run cache first (large-cache.ts).
    if (this.onGrow !== null) this.onGrow(nid, 1 << order);
    // No warning if it fails: kmalloc serves the request with whole pages then.
    const c = this.buddy.allocPagesNode(nid, this.order, (gfp & ~Gfp.ZERO) | Gfp.NOWARN) >>> 0;
    if (c === 0) return 0;
    // A smaller chunk keeps the block's first 2^order pages and gives the rest back at once,
    // so that it starts where a chunk of the largest order would and is found the same way.
    if (order < this.order) this.buddy.trimBlock(c, this.order, 1 << order, PgFlag.HEAD);
    this.phys.fill(0, c, c + this.mapBytes);
    const end = this.blocksEnd(c);
    this.setHeader(d, c + this.mapBytes, (end - c - this.mapBytes) | Blk.FREE, 0);
    // The fence: an allocated header of 16 bytes that no block list holds, after the last
    // block of a smaller chunk, so that every path finds a header where a block ends.
    if (end - c !== this.chunkBytes) this.setHeader(d, end, Blk.HDR, end - c - this.mapBytes);
    return c;
  }

  /** Puts the new chunk `c` in heap `n` (the lock held): its frame's flags are set last. */
  private addChunk(d: Int32Array, n: number, c: number): void {
    const pfn = c >>> this.pageShift;
    const i = pfn * Frame.WORDS;
    const f = this.f;
    const first = d[HeapDesc.CHUNKS] as number;
    f[i + ChunkPg.NEXT] = first;
    f[i + ChunkPg.PREV] = 0;
    f[i + ChunkPg.LIVE] = 0;
    f[i + ChunkPg.HEAP] = n;
    f[i + Pg.FLAGS] = CHUNK_FLAGS;
    if (first !== 0) f[first * Frame.WORDS + ChunkPg.PREV] = pfn;
    d[HeapDesc.CHUNKS] = pfn;
    d[HeapDesc.NR_CHUNKS] = (d[HeapDesc.NR_CHUNKS] as number) + 1;
    d[HeapDesc.EMPTY] = (d[HeapDesc.EMPTY] as number) + 1;
    d[HeapDesc.PAGES] = (d[HeapDesc.PAGES] as number) + (1 << (f[i + Pg.ORDER] as number));
    this.insert(d, c + this.mapBytes, this.blocksEnd(c) - c - this.mapBytes);
  }

  /**
   * Takes the empty chunk `c` out of heap `d` (its one free block off its list, the chunk
   * off the chunk list, its frame an ordinary allocated block again), the lock held; the
   * caller frees its pages once the lock is released.
   */
  private unlinkChunk(d: Int32Array, c: number): void {
    this.remove(d, c + this.mapBytes, this.blocksEnd(c) - c - this.mapBytes);
    const f = this.f;
    const pfn = c >>> this.pageShift;
    const i = pfn * Frame.WORDS;
    d[HeapDesc.PAGES] = (d[HeapDesc.PAGES] as number) - (1 << (f[i + Pg.ORDER] as number));
    const next = f[i + ChunkPg.NEXT] as number;
    const prev = f[i + ChunkPg.PREV] as number;
    if (next !== 0) f[next * Frame.WORDS + ChunkPg.PREV] = prev;
    if (prev !== 0) f[prev * Frame.WORDS + ChunkPg.NEXT] = next;
    else d[HeapDesc.CHUNKS] = next;
    d[HeapDesc.NR_CHUNKS] = (d[HeapDesc.NR_CHUNKS] as number) - 1;
    f[i + Pg.FLAGS] = PgFlag.HEAD;
    f[i + ChunkPg.NEXT] = 0;
    f[i + ChunkPg.PREV] = 0;
    f[i + ChunkPg.LIVE] = 0;
    f[i + ChunkPg.HEAP] = 0;
  }

  /* ------------------------------------------------------------------ alloc */

  /** A block for `size` bytes (HEAP_MIN < size <= maxSize) from node `nid`'s heap; 0 if none. */
  alloc(size: number, gfp: number, nid: number): number {
    const d = this.d[nid < 0 ? this.buddy.localNode : nid] as Int32Array;
    const need = (size + Blk.HDR + 15) & ~15;
    this.lockHeap(d);
    // The cache first: the head of the bin of `need`'s list, if it is large enough, else
    // the head of the next bin (its blocks are all larger than `need`, at most two list
    // steps over).
    const w = this.w;
    const fl = 31 - Math.clz32(need);
    let bin =
      ((fl - HeapDesc.BIN_FL) << HeapDesc.SL_BITS) |
      ((need >>> (fl - HeapDesc.SL_BITS)) & (HeapDesc.SL - 1));
    let b = d[HeapDesc.BINS + bin] as number;
    if (b === 0 || ((w[b >>> 2] as number) & ~Blk.FLAGS) < need) {
      b = ++bin < HeapDesc.NR_BINS ? (d[HeapDesc.BINS + bin] as number) : 0;
      if (b === 0) return this.allocFromLists(d, need, size, gfp, nid);
    }
    // The cached block `b`: its header checked (CORRUPTION, nothing changed, if an overflow
    // rewrote it while it was cached), popped, made an allocated block again (the size
    // word's store is the change), its start bit set.
    const i = b >>> 2;
    const w0 = w[i + Blk.SIZE] as number;
    const s = d[HeapDesc.SECRET] as number;
    const check = mix(s, b, w0);
    if ((w0 & Blk.FLAGS) !== Blk.CACHED || (w[i + Blk.CHECK] as number) !== check) {
      this.damaged(d, b + Blk.HDR, "kmalloc", "a cached block's header was overwritten");
    }
    const bsize = w0 ^ Blk.CACHED;
    d[HeapDesc.BINS + bin] = w[i + Blk.LINK] as number;
    d[HeapDesc.BIN_NR + bin] = (d[HeapDesc.BIN_NR + bin] as number) - 1;
    d[HeapDesc.CACHE_BYTES] = (d[HeapDesc.CACHE_BYTES] as number) - bsize;
    w[i + Blk.SIZE] = bsize;
    w[i + Blk.CHECK] = check ^ ((Math.imul(s, K.FLAG_MUL) | 1) << 1);
    w[i + Blk.LINK] = size;
    const c = (b & ~this.chunkMask) >>> 0;
    const g = (b + Blk.HDR - c) >>> 4;
    const wb = (c >>> 2) + (g >>> 5);
    w[wb] = (w[wb] as number) | (1 << (g & 31));
    // A chunk with no allocated block holding cached ones is the spare: no longer empty.
    const fi = (c >>> this.pageShift) * Frame.WORDS + ChunkPg.LIVE;
    const live = this.f[fi] as number;
    this.f[fi] = live + 1;
    if (live === 0) d[HeapDesc.EMPTY] = 0;
    this.unlockHeap(d);
    const p = b + Blk.HDR;
    if (((gfp | this.initOnAlloc) & Gfp.ZERO) !== 0) this.phys.fill(0, p, b + bsize);
    return p;
  }

  /** alloc() when the cache has no block for `need` bytes: the free lists, or a new chunk. */
  private allocFromLists(
    d: Int32Array,
    need: number,
    size: number,
    gfp: number,
    nid: number,
  ): number {
    let spare = 0;
    let b = this.find(d, need);
    if (b === 0 && (d[HeapDesc.CACHE_BYTES] as number) !== 0) {
      // Short of a block: the cache's blocks go back to the lists before a chunk is taken.
      this.flush(d, 0);
      b = this.find(d, need);
    }
    if (b === 0) {
      const order = this.growthOrder(d, need);
      this.unlockHeap(d);
      const c = this.newChunk(d, order, gfp, nid);
      if (c === 0) return 0;
      this.lockHeap(d);
      b = this.find(d, need);
      // Another context may have grown the heap meanwhile: then the new chunk goes back.
      if (b === 0) {
        this.addChunk(d, this.heapOf(nid), c);
        b = this.find(d, need);
      } else spare = c;
    }
    this.take(d, b, need, size);
    this.unlockHeap(d);
    if (spare !== 0) this.buddy.freePages(spare, this.orderOf(spare));
    const p = b + Blk.HDR;
    if (((gfp | this.initOnAlloc) & Gfp.ZERO) !== 0) {
      this.phys.fill(0, p, b + this.rd(b, Blk.SIZE));
    }
    return p;
  }

  /**
   * Empties node `d`'s cache into its free lists (the lock held), or (`only` a chunk's
   * address) takes out the blocks of that chunk only: each block's header and its
   * neighbours' checked, then merged as a free would. Throws CORRUPTION (the lock released)
   * at a damaged header, the blocks before it flushed.
   */
  private flush(d: Int32Array, only: number): void {
    const w = this.w;
    for (let bin = 0; bin < HeapDesc.NR_BINS; bin++) {
      let at = -1;
      let b = d[HeapDesc.BINS + bin] as number;
      while (b !== 0) {
        const i = b >>> 2;
        const w0 = w[i + Blk.SIZE] as number;
        if ((w0 & Blk.FLAGS) !== Blk.CACHED || !this.headerOk(d, b)) {
          this.damaged(d, b + Blk.HDR, "kmalloc", "a cached block's header was overwritten");
        }
        const next = w[i + Blk.LINK] as number;
        const c = (b & ~this.chunkMask) >>> 0;
        if (only !== 0 && c !== only) {
          at = b;
          b = next;
          continue;
        }
        const size = w0 & ~Blk.FLAGS;
        this.checkNear(d, b, size, w[i + Blk.PREV] as number, b + Blk.HDR, "kmalloc");
        if (at < 0) d[HeapDesc.BINS + bin] = next;
        else w[(at >>> 2) + Blk.LINK] = next;
        d[HeapDesc.BIN_NR + bin] = (d[HeapDesc.BIN_NR + bin] as number) - 1;
        d[HeapDesc.CACHE_BYTES] = (d[HeapDesc.CACHE_BYTES] as number) - size;
        this.release(d, c, b, size);
        b = next;
      }
    }
  }

  /**
   * Takes the cached block `b` out of its bin and merges it into the free lists (the lock
   * held; `p`: the address of the call, for its error), its header and its next neighbour's
   * checked first.
   */
  private uncache(d: Int32Array, b: number, p: number): void {
    const w = this.w;
    const i = b >>> 2;
    const w0 = w[i + Blk.SIZE] as number;
    const size = w0 & ~Blk.FLAGS;
    if ((w0 & Blk.FLAGS) !== Blk.CACHED || !this.headerOk(d, b)) {
      this.damaged(
        d,
        p,
        "krealloc",
        "the next block's header was overwritten (an overflow of this block?)",
      );
    }
    this.checkNear(d, b, size, w[i + Blk.PREV] as number, p, "krealloc");
    const bin = index(size) - (HeapDesc.BIN_FL << HeapDesc.SL_BITS);
    let at = -1;
    let q = bin >= 0 && bin < HeapDesc.NR_BINS ? (d[HeapDesc.BINS + bin] as number) : 0;
    for (let k = 0; q !== 0 && q !== b && k < CACHE_PER_BIN; k++) {
      at = q;
      q = w[(q >>> 2) + Blk.LINK] as number;
    }
    if (q !== b) this.damaged(d, p, "krealloc", "a cached block is in no bin of the cache");
    const next = w[i + Blk.LINK] as number;
    if (at < 0) d[HeapDesc.BINS + bin] = next;
    else w[(at >>> 2) + Blk.LINK] = next;
    d[HeapDesc.BIN_NR + bin] = (d[HeapDesc.BIN_NR + bin] as number) - 1;
    d[HeapDesc.CACHE_BYTES] = (d[HeapDesc.CACHE_BYTES] as number) - size;
    this.release(d, (b & ~this.chunkMask) >>> 0, b, size);
  }

  /** Allocates the free block `b` for `need` bytes (the lock held): split, bit set, counted. */
  private take(d: Int32Array, b: number, need: number, size: number): void {
    const w = this.w;
    const i = b >>> 2;
    const bsize = (w[i + Blk.SIZE] as number) & ~Blk.FREE;
    this.remove(d, b, bsize);
    const rest = bsize - need;
    if (rest >= Blk.MIN) {
      // The new free block's header first (inside b), its successor's back link, then b.
      const r = b + need;
      this.setHeader(d, r, rest | Blk.FREE, need);
      const after = r + rest;
      if ((after & this.chunkMask) !== 0) this.setPrev(after, rest);
      this.setSize(d, b, need);
      this.insert(d, r, rest);
    } else this.setSize(d, b, bsize);
    w[i + Blk.LINK] = size;
    const c = (b & ~this.chunkMask) >>> 0;
    const g = (b + Blk.HDR - c) >>> 4;
    const wb = (c >>> 2) + (g >>> 5);
    w[wb] = (w[wb] as number) | (1 << (g & 31));
    const f = this.f;
    const fi = (c >>> this.pageShift) * Frame.WORDS + ChunkPg.LIVE;
    const live = f[fi] as number;
    f[fi] = live + 1;
    if (live === 0) d[HeapDesc.EMPTY] = (d[HeapDesc.EMPTY] as number) - 1;
  }

  /* ------------------------------------------------------------------ free */

  /**
   * Checks that `p` (in chunk `c`) is an allocated block's payload, the lock held: its start
   * bit, its header and (`near`: for a change) both neighbours' headers. Returns the block's
   * header address; throws (the lock released) otherwise, nothing changed.
   */
  private checked(d: Int32Array, c: number, p: number, fn: string, near = true): number {
    const w = this.w;
    const off = p - c;
    const g = off >>> 4;
    if ((off & 15) !== 0 || off < this.mapBytes + Blk.HDR) this.notStart(d, p, fn);
    if (((w[(c >>> 2) + (g >>> 5)] as number) & (1 << (g & 31))) === 0) this.notAllocated(d, p, fn);
    const b = p - Blk.HDR;
    const i = b >>> 2;
    const w0 = w[i + Blk.SIZE] as number;
    const w1 = w[i + Blk.PREV] as number;
    const s = d[HeapDesc.SECRET] as number;
    const end = b + w0;
    if (
      w[i + Blk.CHECK] !== mix(s, b, w0) ||
      (w0 & 15) !== 0 ||
      w0 < Blk.MIN ||
      end - c > this.chunkBytes ||
      (w1 !== 0 ? b - w1 - c < this.mapBytes || w1 < Blk.MIN : b - c !== this.mapBytes)
    ) {
      this.damaged(
        d,
        p,
        fn,
        "the block's header was overwritten (an overflow of the block before it?)",
      );
    }
    if (near) this.checkNear(d, b, w0, w1, p, fn);
    return b;
  }

  /**
   * Checks the headers of both neighbours of the block `b` (size `w0`, previous size `w1`)
   * before a change merges with them; throws CORRUPTION (the lock released) otherwise.
   */
  private checkNear(d: Int32Array, b: number, w0: number, w1: number, p: number, fn: string): void {
    const w = this.w;
    const s = d[HeapDesc.SECRET] as number;
    const end = b + w0;
    if ((end & this.chunkMask) !== 0) {
      const e = end >>> 2;
      if (w[e + Blk.PREV] !== w0 || w[e + Blk.CHECK] !== mix(s, end, w[e + Blk.SIZE] as number)) {
        this.damaged(
          d,
          p,
          fn,
          "the next block's header was overwritten (an overflow of this block?)",
        );
      }
    }
    if (w1 !== 0) {
      const q = b - w1;
      const j = q >>> 2;
      const qw0 = w[j + Blk.SIZE] as number;
      if ((qw0 & ~Blk.FLAGS) !== w1 || w[j + Blk.CHECK] !== mix(s, q, qw0)) {
        this.damaged(d, p, fn, "the previous block's header was overwritten");
      }
    }
  }

  private notStart(d: Int32Array, p: number, fn: string): never {
    this.unlockHeap(d);
    throw new KmemError(
      "INVALID_FREE",
      `${fn}(${hex(p)}): not the start of a kmalloc block (inside a heap chunk's metadata or a block)`,
    );
  }

  private damaged(d: Int32Array, p: number, fn: string, what: string): never {
    this.unlockHeap(d);
    throw new KmemError("CORRUPTION", `${fn}(${hex(p)}): ${what}`);
  }

  /** kfree of an address whose start bit is clear: a free block's, or no block's. */
  private notAllocated(d: Int32Array, p: number, fn: string): never {
    const b = p - Blk.HDR;
    const free = this.headerOk(d, b) && (this.rd(b, Blk.SIZE) & Blk.FLAGS) !== 0;
    this.unlockHeap(d);
    if (free) throw new KmemError("DOUBLE_FREE", `${fn}(${hex(p)}): the block is already free`);
    throw new KmemError(
      "INVALID_FREE",
      `${fn}(${hex(p)}): not the start of a kmalloc block (inside a block or free space of the heap)`,
    );
  }

  /**
   * kfree of `p` in chunk `c`: its start bit and its own header checked; then into the
   * cache when its bin and the cache have room (the size word's CACHED flag is the change;
   * the start bit cleared, so that a second kfree is a DOUBLE_FREE), else both neighbours'
   * headers checked and the block merged into the free lists (release()).
   */
  free(_c: number, p: number): void {
    this.kfree(p);
  }

  /**
   * kfree of `p` if it is in a chunk of the heap (chunkOf() and free(), in one call for
   * kfree's sake): false, nothing done, if it is not.
   */
  kfree(p: number): boolean {
    const pfn = (p >>> this.pageShift) & ~((1 << this.order) - 1);
    const ph = this.phys;
    if (pfn < ph.firstManagedPfn || pfn >= ph.totalPages) {
      if (pfn < ph.firstManagedPfn || !ph.sync() || pfn >= ph.totalPages) return false;
    }
    const f = this.f;
    const fi = pfn * Frame.WORDS;
    if (
      f[fi + Pg.FLAGS] !== K.CHUNK_FLAGS ||
      ((p >>> this.pageShift) - pfn) >>> (f[fi + Pg.ORDER] as number) !== 0
    ) {
      return false;
    }
    const c = (pfn << this.pageShift) >>> 0;
    const d = this.d[f[fi + ChunkPg.HEAP] as number] as Int32Array;
    this.lockHeap(d);
    // The start bit, then the block's own header (as checked() does, inline).
    const w = this.w;
    const off = p - c;
    const g = off >>> 4;
    const wb = (c >>> 2) + (g >>> 5);
    const bits = w[wb] as number;
    if ((off & 15) !== 0 || off < this.mapBytes + Blk.HDR) this.notStart(d, p, "kfree");
    if ((bits & (1 << (g & 31))) === 0) this.notAllocated(d, p, "kfree");
    const b = p - Blk.HDR;
    const i = b >>> 2;
    const size = w[i + Blk.SIZE] as number;
    const w1 = w[i + Blk.PREV] as number;
    const s = d[HeapDesc.SECRET] as number;
    const check = mix(s, b, size);
    const end = b + size;
    if (
      (w[i + Blk.CHECK] as number) !== check ||
      (size & 15) !== 0 ||
      size < Blk.MIN ||
      end - c > this.chunkBytes ||
      (w1 !== 0 ? b - w1 - c < this.mapBytes || w1 < Blk.MIN : b - c !== this.mapBytes)
    ) {
      this.damaged(
        d,
        p,
        "kfree",
        "the block's header was overwritten (an overflow of the block before it?)",
      );
    }
    if (this.initOnFree !== 0) this.phys.fill(0, p, end);
    const fl = 31 - Math.clz32(size);
    const bin =
      ((fl - HeapDesc.BIN_FL) << HeapDesc.SL_BITS) |
      ((size >>> (fl - HeapDesc.SL_BITS)) & (HeapDesc.SL - 1));
    const live = f[fi + ChunkPg.LIVE] as number;
    const bytes = (d[HeapDesc.CACHE_BYTES] as number) + size;
    // The chunk's last allocated block is cached only when the chunk becomes the spare.
    if (
      (live > 1 || (d[HeapDesc.EMPTY] as number) === 0) &&
      bin >>> 0 < HeapDesc.NR_BINS &&
      (d[HeapDesc.BIN_NR + bin] as number) < K.PER_BIN &&
      bytes <= this.cacheMax
    ) {
      // The previous-size word names the block before (one load: its checked header is
      // read when they merge), and the next block's header is checked as a merge would:
      // an overflow of this block is found here.
      if (w1 !== 0 && ((w[(b - w1) >>> 2] as number) & ~Blk.FLAGS) !== w1) {
        this.damaged(d, p, "kfree", "the block's header was overwritten (its previous size)");
      }
      if ((end & this.chunkMask) !== 0) {
        const e = end >>> 2;
        if (
          (w[e + Blk.PREV] as number) !== size ||
          (w[e + Blk.CHECK] as number) !== mix(s, end, w[e + Blk.SIZE] as number)
        ) {
          this.damaged(
            d,
            p,
            "kfree",
            "the next block's header was overwritten (an overflow of this block?)",
          );
        }
      }
      w[i + Blk.SIZE] = size | Blk.CACHED;
      w[i + Blk.CHECK] = check ^ ((Math.imul(s, K.FLAG_MUL) | 1) << 1);
      w[i + Blk.LINK] = d[HeapDesc.BINS + bin] as number;
      d[HeapDesc.BINS + bin] = b;
      w[wb] = bits & ~(1 << (g & 31));
      d[HeapDesc.BIN_NR + bin] = (d[HeapDesc.BIN_NR + bin] as number) + 1;
      d[HeapDesc.CACHE_BYTES] = bytes;
      f[fi + ChunkPg.LIVE] = live - 1;
      if (live === 1) d[HeapDesc.EMPTY] = 1;
      this.unlockHeap(d);
      return true;
    }
    this.checkNear(d, b, size, w1, p, "kfree");
    this.release(d, c, b, size);
    f[fi + ChunkPg.LIVE] = live - 1;
    if (live !== 1) {
      this.unlockHeap(d);
      return true;
    }
    // The chunk's last allocated block: its cached blocks merge too, so that it empties.
    if ((d[HeapDesc.CACHE_BYTES] as number) !== 0) this.flush(d, c);
    this.emptied(d, c);
    return true;
  }

  /**
   * Releases the block `b` (`size` bytes, allocated or cached, its start bit cleared here)
   * of chunk `c` into the free lists, merged with its free neighbours, the lock held and
   * the headers checked; the counters are the caller's.
   */
  private release(d: Int32Array, c: number, b: number, size: number): void {
    const w = this.w;
    const i = b >>> 2;
    const g = (b + Blk.HDR - c) >>> 4;
    const wb = (c >>> 2) + (g >>> 5);
    w[wb] = (w[wb] as number) & ~(1 << (g & 31));
    let start = b;
    let total = size;
    const end = b + size;
    if ((end & this.chunkMask) !== 0) {
      const nw = w[(end >>> 2) + Blk.SIZE] as number;
      if ((nw & Blk.FREE) !== 0) {
        this.remove(d, end, nw & ~Blk.FREE);
        total += nw & ~Blk.FREE;
      }
    }
    const w1 = w[i + Blk.PREV] as number;
    if (w1 !== 0 && ((w[((b - w1) >>> 2) + Blk.SIZE] as number) & Blk.FREE) !== 0) {
      start = b - w1;
      this.remove(d, start, w1);
      total += w1;
    }
    this.setSize(d, start, total | Blk.FREE);
    const after = start + total;
    if ((after & this.chunkMask) !== 0) this.setPrev(after, total);
    this.insert(d, start, total);
  }

  /** Chunk `c` has no block left (the lock held, released here): the spare, or given back. */
  private emptied(d: Int32Array, c: number): void {
    if ((d[HeapDesc.EMPTY] as number) === 0) {
      d[HeapDesc.EMPTY] = 1;
      this.unlockHeap(d);
      return;
    }
    // A spare is kept already: this chunk goes back to the page allocator.
    const order = this.orderOf(c);
    this.unlinkChunk(d, c);
    this.unlockHeap(d);
    this.buddy.freePages(c, order);
  }

  /** ksize: the usable bytes of the block at `p` in chunk `c`. */
  usable(c: number, p: number, fn: string): number {
    const d = this.d[
      this.f[(c >>> this.pageShift) * Frame.WORDS + ChunkPg.HEAP] as number
    ] as Int32Array;
    this.lockHeap(d);
    const b = this.checked(d, c, p, fn, false);
    const size = this.rd(b, Blk.SIZE);
    this.unlockHeap(d);
    return size - Blk.HDR;
  }

  /**
   * Block `b` cut to `need` bytes, the `rest` after it
   * made a free block of its own and listed. Heap lock held.
   */
  private splitTail(d: Int32Array, b: number, need: number, rest: number): void {
    const r = b + need;
    this.setHeader(d, r, rest | Blk.FREE, need);
    const after = r + rest;
    if ((after & this.chunkMask) !== 0) this.setPrev(after, rest);
    this.setSize(d, b, need);
    this.insert(d, r, rest);
  }

  /**
   * krealloc in place: the block at `p` (chunk `c`) made to hold `size` bytes, shrunk by
   * splitting or grown into a free next block. Returns its usable bytes after, or -1 when it
   * cannot grow in place (nothing changed); `zero`: bytes past `size` zeroed.
   */
  resize(c: number, p: number, size: number, zero: boolean): number {
    const i = (c >>> this.pageShift) * Frame.WORDS;
    const d = this.d[this.f[i + ChunkPg.HEAP] as number] as Int32Array;
    this.lockHeap(d);
    const b = this.checked(d, c, p, "krealloc");
    const cur = this.rd(b, Blk.SIZE);
    const need = Math.max(Blk.MIN, (size + Blk.HDR + 15) & ~15);
    const end = b + cur;
    const atEnd = (end & this.chunkMask) === 0;
    let nw = atEnd ? 0 : this.rd(end, Blk.SIZE);
    if ((nw & Blk.CACHED) !== 0 && need > cur && cur + (nw & ~Blk.FLAGS) >= need) {
      // A cached next block that makes room: out of its bin, merged as a free block.
      this.uncache(d, end, p);
      nw = this.rd(end, Blk.SIZE);
    }
    const nextFree = (nw & Blk.FREE) !== 0 ? nw & ~Blk.FREE : 0;
    let got = cur;
    if (need <= cur) {
      const rest = cur - need + nextFree;
      if (cur - need >= Blk.MIN || (nextFree !== 0 && need < cur)) {
        // The freed tail (merged with a free next block) first, then the block shrinks.
        if (nextFree !== 0) this.remove(d, end, nextFree);
        this.splitTail(d, b, need, rest);
        got = need;
      }
    } else if (nextFree !== 0 && cur + nextFree >= need) {
      this.remove(d, end, nextFree);
      const total = cur + nextFree;
      const rest = total - need;
      if (rest >= Blk.MIN) {
        this.splitTail(d, b, need, rest);
        got = need;
      } else {
        const after = b + total;
        if ((after & this.chunkMask) !== 0) this.setPrev(after, total);
        this.setSize(d, b, total);
        got = total;
      }
    } else {
      this.unlockHeap(d);
      return -1;
    }
    this.wr(b, Blk.LINK, size);
    this.unlockHeap(d);
    // Zeroed: past `size` (shrunk), or what the block gained (grown: as a move would be).
    if (zero) this.phys.fill(0, got > cur ? b + cur : p + size, b + got);
    return got - Blk.HDR;
  }

  /** Gives every empty chunk (the spares) back to the page allocator; returns their pages. */
  shrink(): number {
    let pages = 0;
    for (const d of this.d) {
      const gone: number[] = [];
      this.lockHeap(d);
      this.flush(d, 0);
      for (let pfn = d[HeapDesc.CHUNKS] as number; pfn !== 0;) {
        const next = this.f[pfn * Frame.WORDS + ChunkPg.NEXT] as number;
        if (this.f[pfn * Frame.WORDS + ChunkPg.LIVE] === 0) {
          const c = (pfn << this.pageShift) >>> 0;
          gone.push(c, this.orderOf(c));
          this.unlinkChunk(d, c);
          d[HeapDesc.EMPTY] = (d[HeapDesc.EMPTY] as number) - 1;
        }
        pfn = next;
      }
      this.unlockHeap(d);
      for (let k = 0; k < gone.length; k += 2) {
        this.buddy.freePages(gone[k] as number, gone[k + 1] as number);
        pages += 1 << (gone[k + 1] as number);
      }
    }
    return pages;
  }

  /* ------------------------------------------------------------------ introspection */

  /** The chunks of every node, by address (from their list). */
  private chunks(n: number): number[] {
    const out: number[] = [];
    const d = this.d[n] as Int32Array;
    const max = d[HeapDesc.NR_CHUNKS] as number;
    for (let pfn = d[HeapDesc.CHUNKS] as number; pfn !== 0 && out.length <= max;) {
      out.push((pfn << this.pageShift) >>> 0);
      pfn = this.f[pfn * Frame.WORDS + ChunkPg.NEXT] as number;
    }
    return out;
  }

  /**
   * Bytes of the allocated blocks (headers included) of the chunk at `c`, under its heap's
   * lock; -1 if `c` starts no chunk. Cached blocks count as not allocated (stats()'s way).
   */
  chunkUsed(c: number): number {
    if (this.chunkOf(c) !== c) return -1;
    const d = this.d[this.f[(c >>> this.pageShift) * Frame.WORDS + ChunkPg.HEAP] as number];
    if (d === undefined) return -1;
    const s = emptyStats();
    this.lockHeap(d);
    try {
      this.addBlocks(c, s);
    } finally {
      this.unlockHeap(d);
    }
    return s.used;
  }

  /** Adds the blocks of chunk `c` to `s` (its lock held): live ones, and free or cached. */
  private addBlocks(c: number, s: HeapStats): void {
    s.bytes += this.pageSize << this.orderOf(c);
    const end = this.blocksEnd(c);
    for (let b = c + this.mapBytes; b < end;) {
      const w0 = this.rd(b, Blk.SIZE);
      const size = w0 & ~Blk.FLAGS;
      if (size < Blk.MIN) break;
      if ((w0 & Blk.FLAGS) !== 0) {
        s.free += size - Blk.HDR;
        s.largestFree = Math.max(s.largestFree, size - Blk.HDR);
      } else {
        s.live++;
        s.used += size;
      }
      b += size;
    }
  }

  stats(): HeapStats {
    const s = emptyStats();
    for (let n = 0; n < this.d.length; n++) {
      const d = this.d[n] as Int32Array;
      this.lockHeap(d);
      try {
        s.chunks += d[HeapDesc.NR_CHUNKS] as number;
        s.cached += d[HeapDesc.CACHE_BYTES] as number;
        for (const c of this.chunks(n)) this.addBlocks(c, s);
      } finally {
        this.unlockHeap(d);
      }
    }
    return s;
  }

  /** verify(): HEAP-1..HEAP-5 over every node's heap (between calls). */
  verify(): void {
    const p = this.phys;
    const f = this.f;
    let listed = 0;
    for (let n = 0; n < this.d.length; n++) {
      const d = this.d[n] as Int32Array;
      const chunks = this.chunks(n);
      if (chunks.length !== (d[HeapDesc.NR_CHUNKS] as number)) {
        corrupt(
          "HEAP-1",
          `node ${n}'s heap lists ${chunks.length} chunks, its count says ${d[HeapDesc.NR_CHUNKS]}`,
        );
      }
      listed += chunks.length;
      let pages = 0;
      let prevPfn = 0;
      let empty = 0;
      const free = new Set<number>();
      const cached = new Set<number>();
      for (const c of chunks) {
        const pfn = c >>> this.pageShift;
        const i = pfn * Frame.WORDS;
        const order = f[i + Pg.ORDER] as number;
        pages += 1 << order;
        if (
          f[i + Pg.FLAGS] !== CHUNK_FLAGS ||
          order < this.minOrder ||
          order > this.order ||
          c % this.chunkBytes !== 0 ||
          f[i + ChunkPg.HEAP] !== n ||
          f[i + ChunkPg.PREV] !== prevPfn
        ) {
          corrupt(
            "HEAP-1",
            `chunk ${hex(c)} of node ${n}'s heap: its frame is not a chunk's of this list`,
          );
        }
        prevPfn = pfn;
        let blocks = 0;
        let kept = 0;
        let prevSize = 0;
        let prevFree = false;
        const starts = new Set<number>();
        const end = this.blocksEnd(c);
        let b = c + this.mapBytes;
        while (b < end) {
          const w0 = this.rd(b, Blk.SIZE);
          const size = w0 & ~Blk.FLAGS;
          if (
            (size & 15) !== 0 ||
            (w0 & Blk.FLAGS) === Blk.FLAGS ||
            size < Blk.MIN ||
            b + size > end ||
            this.rd(b, Blk.PREV) !== prevSize ||
            !this.headerOk(d, b)
          ) {
            corrupt(
              "HEAP-2",
              `block ${hex(b)} of chunk ${hex(c)}: header ${hex(w0)}, prev ${this.rd(b, Blk.PREV)} (expected ${prevSize})`,
            );
          }
          const isFree = (w0 & Blk.FREE) !== 0;
          if (isFree && prevFree) corrupt("HEAP-2", `blocks before ${hex(b)} and it are both free`);
          if (isFree) free.add(b);
          else if ((w0 & Blk.CACHED) !== 0) {
            cached.add(b);
            kept++;
          } else {
            blocks++;
            starts.add(b + Blk.HDR);
          }
          prevFree = isFree;
          prevSize = size;
          b += size;
        }
        if (
          end - c !== this.chunkBytes &&
          (this.rd(end, Blk.SIZE) !== Blk.HDR ||
            this.rd(end, Blk.PREV) !== prevSize ||
            !this.headerOk(d, end))
        ) {
          corrupt("HEAP-2", `chunk ${hex(c)}: its fence at ${hex(end)} was overwritten`);
        }
        for (let g = 0; g < (end - c) >>> 4; g++) {
          const bit = (this.rd(c + ((g >>> 5) << 2), 0) >>> (g & 31)) & 1;
          if ((bit === 1) !== starts.has(c + g * 16)) {
            corrupt("HEAP-3", `chunk ${hex(c)}: the start bit of ${hex(c + g * 16)} is ${bit}`);
          }
        }
        if (f[i + ChunkPg.LIVE] !== blocks) {
          corrupt(
            "HEAP-3",
            `chunk ${hex(c)} counts ${f[i + ChunkPg.LIVE]} blocks, holds ${blocks} and ${kept} cached`,
          );
        }
        if (blocks === 0) empty++;
      }
      if (d[HeapDesc.PAGES] !== pages) {
        corrupt(
          "HEAP-1",
          `node ${n}'s heap counts ${d[HeapDesc.PAGES]} pages, its chunks have ${pages}`,
        );
      }
      // HEAP-4: the lists hold the free blocks, each where its size maps.
      let onLists = 0;
      for (let fl = 0; fl < HeapDesc.FL; fl++) {
        let slMap = 0;
        for (let sl = 0; sl < HeapDesc.SL; sl++) {
          const idx = (fl << HeapDesc.SL_BITS) | sl;
          let back = 0;
          for (let b = d[HeapDesc.HEADS + idx] as number; b !== 0; b = this.rd(b, Blk.LINK)) {
            if (!free.has(b) || this.rd(b, Blk.BACK) !== back) {
              corrupt(
                "HEAP-4",
                `list ${fl}/${sl} of node ${n}: ${hex(b)} is not a free block linked back to ${hex(back)}`,
              );
            }
            if (index(this.rd(b, Blk.SIZE) & ~Blk.FREE) !== idx) {
              corrupt("HEAP-4", `free block ${hex(b)} is on list ${fl}/${sl}, not its size's`);
            }
            free.delete(b);
            onLists++;
            back = b;
            slMap |= 1 << sl;
          }
        }
        if (
          (d[HeapDesc.SL_MAP + fl] as number) !== slMap ||
          (((d[HeapDesc.FL_MAP] as number) >>> fl) & 1) !== (slMap !== 0 ? 1 : 0)
        ) {
          corrupt("HEAP-4", `node ${n}: the bitmaps of first level ${fl} do not match its lists`);
        }
      }
      if (free.size !== 0)
        corrupt(
          "HEAP-4",
          `free block ${hex([...free][0] as number)} is on no list (${onLists} listed)`,
        );
      // HEAP-6: the cache's bins hold the cached blocks, each in its size's bin.
      let nrCached = 0;
      let cachedBytes = 0;
      for (let bin = 0; bin < HeapDesc.NR_BINS; bin++) {
        let count = 0;
        for (let b = d[HeapDesc.BINS + bin] as number; b !== 0; b = this.rd(b, Blk.LINK)) {
          const size = this.rd(b, Blk.SIZE) & ~Blk.FLAGS;
          if (!cached.has(b) || index(size) !== (HeapDesc.BIN_FL << HeapDesc.SL_BITS) + bin) {
            corrupt(
              "HEAP-6",
              `bin ${bin} of node ${n}: ${hex(b)} is not a cached block of its size`,
            );
          }
          cached.delete(b);
          count++;
          cachedBytes += size;
        }
        if (d[HeapDesc.BIN_NR + bin] !== count || count > CACHE_PER_BIN) {
          corrupt(
            "HEAP-6",
            `bin ${bin} of node ${n} counts ${d[HeapDesc.BIN_NR + bin]}, holds ${count}`,
          );
        }
        nrCached += count;
      }
      if (cached.size !== 0) {
        corrupt("HEAP-6", `cached block ${hex([...cached][0] as number)} is in no bin`);
      }
      if (d[HeapDesc.CACHE_BYTES] !== cachedBytes || cachedBytes > this.cacheMax) {
        corrupt(
          "HEAP-6",
          `node ${n}: the cache counts ${d[HeapDesc.CACHE_BYTES]} bytes, holds ${nrCached} blocks of ${cachedBytes}`,
        );
      }
      if (d[HeapDesc.EMPTY] !== empty || empty > 1) {
        corrupt(
          "HEAP-5",
          `node ${n}: the empty-chunk count is ${d[HeapDesc.EMPTY]}; ${empty} of its chunks hold no allocated block`,
        );
      }
    }
    // HEAP-1: every chunk frame of memory is on a list.
    let framed = 0;
    for (let pfn = p.firstManagedPfn; pfn < p.totalPages; pfn++) {
      if (f[pfn * Frame.WORDS + Pg.FLAGS] === CHUNK_FLAGS) framed++;
    }
    if (framed !== listed)
      corrupt("HEAP-1", `${framed} chunk frames in memory, ${listed} on the lists`);
  }

  /* ------------------------------------------------------------------ recovery */

  /**
   * Rebuilds node `n`'s heap from its chunks' blocks, the lock held by the caller (its owner
   * died inside a call): see the header. Returns what was done.
   */
  recover(n: number): string {
    const d = this.d[n] as Int32Array;
    const f = this.f;
    const p = this.phys;
    for (let k = HeapDesc.FL_MAP; k < HeapDesc.WORDS; k++) d[k] = 0;
    d[HeapDesc.CHUNKS] = 0;
    d[HeapDesc.NR_CHUNKS] = 0;
    d[HeapDesc.EMPTY] = 0;
    let chunks = 0;
    let repaired = 0;
    for (let pfn = p.firstManagedPfn; pfn < p.totalPages; pfn++) {
      const i = pfn * Frame.WORDS;
      if (f[i + Pg.FLAGS] !== CHUNK_FLAGS || f[i + ChunkPg.HEAP] !== n) continue;
      const c = (pfn << this.pageShift) >>> 0;
      chunks++;
      const end = this.blocksEnd(c);
      // The blocks by their size words; headers rewritten, neighbours merged, bits rebuilt.
      this.phys.fill(0, c, c + this.mapBytes);
      let live = 0;
      let prevB = 0;
      let prevSize = 0;
      let prevFree = false;
      for (let b = c + this.mapBytes; b < end;) {
        // A cached block was freed by its owner: it becomes a free block like any other.
        const raw = this.rd(b, Blk.SIZE);
        let size = raw & ~Blk.FLAGS;
        const isFree = (raw & Blk.FLAGS) !== 0;
        const w0 = isFree ? size | Blk.FREE : size;
        if ((size & 15) !== 0 || size < Blk.MIN || b + size > end) {
          // Not a block: the rest of the chunk becomes one free block (never seen torn so).
          size = end - b;
          repaired++;
          this.setHeader(d, b, size | Blk.FREE, prevSize);
          if (prevFree) {
            size += prevSize;
            this.setHeader(d, prevB, size | Blk.FREE, this.rd(prevB, Blk.PREV));
            b = prevB;
          }
          prevB = b;
          prevSize = size;
          prevFree = true;
          break;
        }
        if (isFree && prevFree) {
          const merged = prevSize + size;
          this.setHeader(d, prevB, merged | Blk.FREE, this.rd(prevB, Blk.PREV));
          prevSize = merged;
          b = prevB + merged;
          repaired++;
          continue;
        }
        if (this.rd(b, Blk.PREV) !== prevSize || !this.headerOk(d, b) || raw !== w0) repaired++;
        this.setHeader(d, b, w0, prevSize);
        if (!isFree) {
          live++;
          const g = (b + Blk.HDR - c) >>> 4;
          const wb = c + ((g >>> 5) << 2);
          this.wr(wb, 0, this.rd(wb, 0) | (1 << (g & 31)));
        }
        prevB = b;
        prevSize = size;
        prevFree = isFree;
        b += size;
      }
      // A smaller chunk's fence after its last block, its previous-size word that block's.
      if (end - c !== this.chunkBytes) this.setHeader(d, end, Blk.HDR, prevSize);
      f[i + ChunkPg.LIVE] = live;
      if (live === 0) d[HeapDesc.EMPTY] = (d[HeapDesc.EMPTY] as number) + 1;
      d[HeapDesc.PAGES] = (d[HeapDesc.PAGES] as number) + (1 << (f[i + Pg.ORDER] as number));
      const first = d[HeapDesc.CHUNKS] as number;
      f[i + ChunkPg.NEXT] = first;
      f[i + ChunkPg.PREV] = 0;
      if (first !== 0) f[first * Frame.WORDS + ChunkPg.PREV] = pfn;
      d[HeapDesc.CHUNKS] = pfn;
      d[HeapDesc.NR_CHUNKS] = (d[HeapDesc.NR_CHUNKS] as number) + 1;
      for (let b = c + this.mapBytes; b < end;) {
        const w0 = this.rd(b, Blk.SIZE);
        if ((w0 & Blk.FREE) !== 0) this.insert(d, b, w0 & ~Blk.FREE);
        b += w0 & ~Blk.FREE;
      }
    }
    // More than one empty chunk (a free that died before giving one back): kept, as spares.
    if ((d[HeapDesc.EMPTY] as number) > 1) {
      for (let pfn = d[HeapDesc.CHUNKS] as number; pfn !== 0;) {
        const next = f[pfn * Frame.WORDS + ChunkPg.NEXT] as number;
        if ((d[HeapDesc.EMPTY] as number) > 1 && f[pfn * Frame.WORDS + ChunkPg.LIVE] === 0) {
          const c = (pfn << this.pageShift) >>> 0;
          const order = this.orderOf(c);
          this.unlinkChunk(d, c);
          d[HeapDesc.EMPTY] = (d[HeapDesc.EMPTY] as number) - 1;
          this.buddy.freePages(c, order);
        }
        pfn = next;
      }
    }
    return `the kmalloc heap of node ${n}: ${chunks} chunks walked, ${repaired} headers repaired, free lists rebuilt`;
  }

  /** The heap lock words, node by node (for the robust lock list). */
  lockWords(): { w: Int32Array; i: number; n: number }[] {
    return this.d.map((w, n) => ({ w, i: HeapDesc.LOCK as number, n }));
  }
}
