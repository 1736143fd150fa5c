/*
 * The npm allocators kmem is compared with, each over a fresh ArrayBuffer heap. The packages
 * are loaded with dynamic import() when a peer is first created, so the library (and any
 * command that does not replay against a peer) never loads them.
 *
 * A PeerHeap exposes the library's own calls unchanged (`malloc` returns 0 on failure, as
 * both libraries do), so benchmarks can call them without a wrapper; `peerAllocator` puts
 * one behind the ByteAllocator interface the workbench drives. AssemblyScript's TLSF, a
 * PeerHeap over a WebAssembly memory, is in tlsf.ts.
 */

import type { ByteAllocator } from "kmem";

/**
 * A peer library's heap: its own malloc/free, and what the workbench measures. malloc, free
 * and realloc are closures: the replay calls them unbound.
 */
export interface PeerHeap {
  readonly name: string;
  /** The heap's bytes: handles are offsets into it (for a heap that grows, as it is now). */
  readonly memory: Uint8Array;
  /** The library's malloc: an offset > 0, or 0 on failure. Never throws. */
  malloc(size: number): number;
  free(handle: number): void;
  /**
   * The library's own realloc, where it is sound: a new offset, or 0 (the old block stays).
   * Without it the workbench allocates, copies and frees.
   */
  realloc?(handle: number, size: number): number;
  /** Bytes of the heap in use up to its high-water mark now (its top). */
  footprint(): number;
  /** Bytes reserved for the live block at `handle` (the block minus its header). */
  usableSize(handle: number): number;
  /**
   * The heap's free blocks as [offset, bytes] pairs (flat), read from the library's own
   * structures, for the heap map: what the library could hand out without growing its top.
   */
  freeBlocks?(): number[];
}

/**
 * @thi.ng/malloc MemPool over an ArrayBuffer of heapBytes, with its defaults: 8-byte alignment,
 * split on reuse, and compaction (coalescing) on. Compaction is optional, but without it freed
 * neighbours never merge and `top` never comes back down: on a 16 MiB heap, after 50,000
 * 56-byte blocks were freed, 4 KiB requests got 3,308 blocks instead of 4,088, each walking the
 * 50,000-entry free list (1 s against 9 ms). With it, each free walks the free list once more;
 * free already walks the used list to find the block, so it is O(live blocks) either way.
 *
 * Its realloc is not used: when a block must move, MemPool.realloc (6.1.150) frees the old
 * block by its header address instead of its data address; free() finds no such block and
 * returns false, so every moving realloc leaks the old block. The workbench allocates, copies
 * and frees instead.
 *
 * Layout read here (pool.js): the pool's state is 7 u32 at its start, `top` the third; a
 * block is an 8-byte header (size including the header, next) before its data.
 */
export async function thingMallocHeap(heapBytes: number, reuse?: ArrayBuffer): Promise<PeerHeap> {
  const { MemPool } = await import("@thi.ng/malloc");
  const buf = reuse ?? new ArrayBuffer(heapBytes);
  const pool = new MemPool({ buf, align: 8, compact: true, split: true });
  const u8 = new Uint8Array(buf);
  const u32 = new Uint32Array(buf);
  const state = new Uint32Array(buf, 0, 7);
  return {
    name: "@thi.ng/malloc",
    memory: u8,
    // malloc rounds with 32-bit bit ops: from 2^31 - 15 bytes on, the size wraps negative and
    // it returns a small block. No larger-than-heap request can succeed, so none is passed.
    malloc: (size) => (size > heapBytes ? 0 : pool.malloc(size)),
    free: (handle) => void pool.free(handle),
    footprint: () => state[2] as number,
    usableSize: (handle) => (u32[(handle - 8) >>> 2] as number) - 8,
    // The free list from its head (state word 0), each block's size and next in its header.
    freeBlocks() {
      const out: number[] = [];
      for (let b = state[0] as number, n = 0; b !== 0 && n < heapBytes >>> 3; n++) {
        out.push(b, u32[b >>> 2] as number);
        b = u32[(b + 4) >>> 2] as number;
      }
      return out;
    },
  };
}

/**
 * codemix "malloc" (skip list of free blocks by size, best fit, boundary tags, coalescing):
 * `new Allocator(buffer)`, `alloc(bytes)`, `free(address)`, `sizeOf(address)`.
 */
export async function codemixMallocHeap(heapBytes: number, reuse?: ArrayBuffer): Promise<PeerHeap> {
  const { default: Allocator } = await import("malloc");
  const heap = reuse ?? new ArrayBuffer(heapBytes);
  // The library adopts a buffer whose first quads hold a valid header: clear them for a
  // fresh heap.
  if (reuse !== undefined) new Uint8Array(heap, 0, 64).fill(0);
  const allocator = new Allocator(heap);
  const i32 = allocator.int32Array;
  return {
    name: "malloc",
    memory: new Uint8Array(heap),
    // alloc throws a RangeError for a size over the buffer's length, but rounds with 32-bit
    // bit ops first: from 2^31 - 7 bytes on, the size wraps negative and it returns a 16-byte
    // block. No larger-than-heap request can succeed, so none is passed.
    malloc: (size) => (size > heapBytes ? 0 : allocator.alloc(size)),
    free: (handle) => void allocator.free(handle),
    // The library keeps no top; its last quad is the last block's size tag (> 0 when free,
    // < 0 when used), so the heap spans up to that tail free block's header.
    footprint() {
      const last = i32.length - 1;
      const tag = i32[last] ?? 0;
      return tag > 0 ? (last - tag - 1) * 4 : heapBytes;
    },
    usableSize: (handle) => allocator.sizeOf(handle),
    // Every block in address order, from the first (quad 68: the 65-quad skip-list header
    // after one quad, and two quads of tags): a size tag in the quad before the block,
    // positive when free, the block's quads after it, then the tag again.
    freeBlocks() {
      const out: number[] = [];
      const end = i32.length - 1;
      for (let q = 68; q < end;) {
        const tag = i32[q - 1] ?? 0;
        const size = Math.abs(tag);
        if (size === 0) break;
        if (tag > 0) out.push(q * 4, size * 4);
        q += size + 2;
      }
      return out;
    },
  };
}

/** A peer heap behind the ByteAllocator interface (-1 for failure, as the interface says). */
export function peerAllocator(heap: PeerHeap): ByteAllocator {
  // The heap's functions taken once (they are closures, called unbound as realloc always
  // was): a heap object with a getter may be in dictionary mode (TLSF's is), and a load of
  // its method on every op cost TLSF some 70 instructions of each op through V8's LoadIC.
  const malloc = heap.malloc;
  const free = heap.free;
  const realloc = heap.realloc;
  return {
    name: heap.name,
    alloc(size: number): number {
      const h = malloc(size);
      return h === 0 ? -1 : h;
    },
    free(addr: number): void {
      free(addr);
    },
    ...(realloc === undefined
      ? {}
      : {
          realloc(addr: number, _oldSize: number, newSize: number): number {
            const h = realloc(addr, newSize);
            return h === 0 ? -1 : h;
          },
        }),
    footprint: () => heap.footprint(),
    usableSize: (addr: number) => heap.usableSize(addr),
  };
}
