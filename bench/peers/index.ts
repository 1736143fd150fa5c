/*
 * The allocators kmem's benchmarks compare against, behind one interface.
 *
 *   const peers = await createPeers(64 << 20);          // all six
 *   const [tlsf] = await createPeers(64 << 20, ["as-tlsf"]);
 *
 * Every peer is a fresh, empty heap of `heapBytes`. Handles are > 0; alloc returns 0 on
 * failure and never throws. The adapters are thin: they add nothing to the libraries' own
 * checks (see each one's notes), so a bad or double free has whatever effect the library gives.
 */

import { codemixMallocHeap, type PeerHeap, thingMallocHeap, tlsfHeap } from "kmem-workbench";
import { createWasmHeapManager, type Uint8ArrayRef } from "wasm-heap-manager";

export interface PeerAllocator {
  readonly name: string;
  /**
   * The two baselines that are no heap: "Uint8Array" (no bound, the GC's memory) and
   * "floor" (fixed slots, sizes ignored). Absent for real allocators.
   */
  readonly baseline?: "Uint8Array" | "floor";
  /** Returns a handle (an address/offset or an index) > 0, or 0 on failure. */
  alloc(size: number): number;
  free(handle: number): void;
  /** Bytes the allocator's heap currently spans (its high-water mark / footprint), if known, else -1. */
  footprint(): number;
  /**
   * The live block's bytes (its first `size` bytes), for checks; not for timed loops (it may
   * build a view). Absent where a handle has no memory behind it (the floor).
   */
  bytes?(handle: number, size: number): Uint8Array;
  /** Byte address of a live block in the peer's heap; absent where blocks have no address. */
  addressOf?(handle: number): number;
}

export const PEER_NAMES = [
  "thi.ng/malloc",
  "malloc",
  "wasm-heap-manager",
  "as-tlsf",
  "Uint8Array",
  "floor",
] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/**
 * A workbench peer heap (kmem-workbench's peers.ts and tlsf.ts) as a benchmark peer: its own
 * malloc/free. `heap.memory` is read per call: TLSF's grows, which detaches its old view.
 */
function fromHeap(heap: PeerHeap, name = heap.name): PeerAllocator {
  return {
    name,
    alloc: heap.malloc,
    free: heap.free,
    footprint: heap.footprint,
    bytes: (handle, size) => heap.memory.subarray(handle, handle + size),
    addressOf: (handle) => handle,
  };
}

/** @thi.ng/malloc MemPool over a heap of heapBytes (options and notes in the workbench). */
export async function createThingMalloc(heapBytes: number): Promise<PeerAllocator> {
  return fromHeap(await thingMallocHeap(heapBytes));
}

/** codemix "malloc" over a heap of heapBytes. */
export async function createCodemixMalloc(heapBytes: number): Promise<PeerAllocator> {
  return fromHeap(await codemixMallocHeap(heapBytes), "malloc (codemix)");
}

/**
 * wasm-heap-manager brings no allocator of its own (only never-freeing bump arenas): it wraps a
 * wasm module's malloc/free in typed references. It wraps AssemblyScript's TLSF here (its own
 * instance of the workbench's `tlsf`), with clearAllocatedRegions and trackAllocations off (both default on) so that it
 * does what malloc does; what it adds over the "as-tlsf" peer is its own cost. Handles index
 * a table of live Uint8ArrayRefs, as a user holding the refs would.
 */
export async function createWasmHeapManagerPeer(heapBytes: number): Promise<PeerAllocator> {
  const tlsf = await tlsfHeap(heapBytes);
  const manager = createWasmHeapManager(
    () => tlsf.memory.buffer as ArrayBuffer,
    (size) => tlsf.malloc(size),
    (address) => tlsf.free(address),
    { clearAllocatedRegions: false, trackAllocations: false },
  );
  const refs: (Uint8ArrayRef | null)[] = [null];
  const freeIds: number[] = [];
  return {
    name: "wasm-heap-manager",
    alloc(size) {
      let ref: Uint8ArrayRef;
      try {
        ref = manager.allocUint8Array(size);
      } catch {
        return 0; // it throws "Failed to allocate" when the allocator returns 0
      }
      const id = freeIds.pop();
      if (id === undefined) return refs.push(ref) - 1;
      refs[id] = ref;
      return id;
    },
    free(handle) {
      const ref = refs[handle];
      if (ref === null || ref === undefined) return;
      ref.free();
      refs[handle] = null;
      freeIds.push(handle);
    },
    footprint: tlsf.footprint,
    bytes: (handle, size) => (refs[handle] as Uint8ArrayRef).view.subarray(0, size),
    addressOf: (handle) => (refs[handle] as Uint8ArrayRef).address,
  };
}

/**
 * AssemblyScript's TLSF (std/assembly/rt/tlsf.ts): the workbench's `tlsf`, the module the
 * build compiles with `--runtime minimal -O3 --noAssert`.
 */
export async function createAsTlsf(heapBytes: number): Promise<PeerAllocator> {
  return fromHeap(await tlsfHeap(heapBytes), "AssemblyScript TLSF (wasm)");
}

/**
 * `new Uint8Array(size)`, what users do today: handles index a table of live arrays (with a
 * free-index stack), free drops the reference and the GC does the rest. No heap bound.
 */
export function createTypedArrayPeer(): PeerAllocator {
  const live: (Uint8Array | null)[] = [null];
  const freeIds: number[] = [];
  return {
    name: "new Uint8Array(n)",
    baseline: "Uint8Array",
    alloc(size) {
      let array: Uint8Array;
      try {
        array = new Uint8Array(size);
      } catch {
        return 0; // RangeError: invalid typed array length
      }
      const id = freeIds.pop();
      if (id === undefined) return live.push(array) - 1;
      live[id] = array;
      return id;
    },
    free(handle) {
      live[handle] = null;
      freeIds.push(handle);
    },
    footprint: () => -1,
    bytes: (handle, size) => (live[handle] as Uint8Array).subarray(0, size),
  };
}

/**
 * The floor: the bookkeeping minimum. A prefilled Int32Array stack of slot indices, one slot
 * per allocation whatever its size (alloc pops, free pushes), heapBytes / 16 slots. No memory.
 */
export function createFloor(heapBytes: number): PeerAllocator {
  const slots = Math.max(1, Math.floor(heapBytes / 16));
  const stack = new Int32Array(slots);
  for (let i = 0; i < slots; i++) stack[i] = slots - i; // pops 1, 2, 3, ...
  let top = slots;
  return {
    name: "floor: LIFO freelist in an Int32Array",
    baseline: "floor",
    alloc: () => (top === 0 ? 0 : (stack[--top] as number)),
    free(handle) {
      stack[top++] = handle;
    },
    footprint: () => -1,
  };
}

/** One fresh peer of each kind named (all by default), each over its own heap of heapBytes. */
export async function createPeers(
  heapBytes: number,
  names: readonly PeerName[] = PEER_NAMES,
): Promise<PeerAllocator[]> {
  const peers: PeerAllocator[] = [];
  for (const name of names) {
    switch (name) {
      case "thi.ng/malloc":
        peers.push(await createThingMalloc(heapBytes));
        break;
      case "malloc":
        peers.push(await createCodemixMalloc(heapBytes));
        break;
      case "wasm-heap-manager":
        peers.push(await createWasmHeapManagerPeer(heapBytes));
        break;
      case "as-tlsf":
        peers.push(await createAsTlsf(heapBytes));
        break;
      case "Uint8Array":
        peers.push(createTypedArrayPeer());
        break;
      case "floor":
        peers.push(createFloor(heapBytes));
        break;
    }
  }
  return peers;
}
