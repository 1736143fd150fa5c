/*
 * The integer-range allocators as ByteAllocators: a resource map ("rmap") or a vmem arena
 * ("vmem") managing the byte range [0, sizeBytes) in units of `quantum` bytes (16 unless
 * told). Handles are byte offsets; 0 is a valid one and -1 a failure.
 *
 * Footprint = one past the highest allocated byte + the bytes of metadata the structure uses
 * (resource map entries; vmem segment records, hash buckets and slab records): what a heap
 * built on the range would have to back.
 */

import { KmemError, hex } from "../errors.js";
import { ResourceMap } from "../rmap/index.js";
import { VmemArena, type VmemPolicy } from "../vmem/index.js";
import type { ByteAllocator } from "./allocator.js";

/** Options of {@link rmapAllocator}. */
export interface RmapAllocatorOptions {
  /** Bytes per unit of the map, a power of two (default 16): sizes round up to it. */
  quantum?: number;
}

/** Options of {@link vmemAllocator}. */
export interface VmemAllocatorOptions {
  /** The arena's quantum in bytes, a power of two (default 16). */
  quantum?: number;
  /** Allocation policy (default "instantfit"). */
  policy?: VmemPolicy;
  /** Largest size served by quantum caches (default 0: none). */
  qcacheMax?: number;
  /** Name in results (default "vmem"). */
  name?: string;
}

function checkQuantum(quantum: number): void {
  if (
    !Number.isInteger(quantum) ||
    quantum < 1 ||
    quantum > 2 ** 30 ||
    (quantum & (quantum - 1)) !== 0
  ) {
    throw new RangeError(`quantum must be a power of two in 1..${2 ** 30}, got ${quantum}`);
  }
}

/** A resource map over [0, sizeBytes), first fit, in units of `quantum` bytes. */
export function rmapAllocator(
  sizeBytes: number,
  options: RmapAllocatorOptions = {},
): ByteAllocator {
  const quantum = options.quantum ?? 16;
  checkQuantum(quantum);
  const map = new ResourceMap({ base: 0, size: Math.floor(sizeBytes / quantum) });
  const inv = 1 / quantum;
  return {
    name: "rmap",
    alloc(size: number): number {
      const unit = map.alloc(Math.ceil(size * inv));
      return unit === -1 ? -1 : unit * quantum;
    },
    free(addr: number, size: number): void {
      if (addr % quantum !== 0) {
        throw new KmemError(
          "INVALID_FREE",
          `rmap: ${hex(addr)} is not a multiple of the quantum ${quantum}`,
        );
      }
      map.free(addr * inv, Math.ceil(size * inv));
    },
    footprint(): number {
      return map.allocatedEnd() * quantum + map.metadataBytes();
    },
    usableSize(_addr: number, size: number): number {
      return Math.ceil(size * inv) * quantum;
    },
    verify(): void {
      map.verify();
    },
  };
}

/** A vmem arena over [0, sizeBytes) (rounded down to the quantum). */
export function vmemAllocator(
  sizeBytes: number,
  options: VmemAllocatorOptions = {},
): ByteAllocator {
  const quantum = options.quantum ?? 16;
  checkQuantum(quantum);
  const name = options.name ?? "vmem";
  const arena = new VmemArena({
    name,
    base: 0,
    size: Math.floor(sizeBytes / quantum) * quantum,
    quantum,
    policy: options.policy ?? "instantfit",
    qcacheMax: options.qcacheMax ?? 0,
  });
  const inv = 1 / quantum;
  return {
    name,
    alloc(size: number): number {
      return arena.alloc(size);
    },
    free(addr: number, size: number): void {
      arena.free(addr, size);
    },
    footprint(): number {
      return arena.allocatedEnd() + arena.metadataBytes();
    },
    usableSize(_addr: number, size: number): number {
      return Math.ceil(size * inv) * quantum;
    },
    verify(): void {
      arena.verify();
    },
  };
}
