/*
 * The classic allocators by name: what `mm.createAllocator(name, options)` makes.
 */

import { checkKnownKeys, describe } from "../errors.js";
import type { Kmem } from "../kmem.js";
import { type ClassicStats, NoMemory } from "./control.js";
import { DynixAllocator, type DynixOptions } from "./dynix.js";
import { LazyBuddyAllocator, type LazyBuddyOptions } from "./lazy-buddy.js";
import { MachZoneAllocator, type MachZoneOptions } from "./mach-zone.js";
import { McKusickKarelsAllocator, type McKusickKarelsOptions } from "./mckusick-karels.js";
import { P2Allocator } from "./p2.js";

/** The surface every classic allocator has. Addresses are physical; 0 is NULL. */
export interface ClassicAllocator {
  /** The name createAllocator took. */
  readonly name: string;
  /** Byte address of its control block in the managed buffer. */
  readonly address: number;
  /** Allocates `size` bytes (0 counts as 1); returns the address, or 0 when it cannot. */
  alloc(size: number): number;
  /** Frees what alloc or realloc returned; misuse it can see throws KmemError. */
  free(addr: number): void;
  /**
   * Resizes in place when the block allows, else allocates, copies and frees; returns the
   * address, or 0 with the old block untouched. realloc(0, n) is alloc(n).
   */
  realloc(addr: number, size: number): number;
  /** Usable bytes of the allocation at `addr`. */
  usableSize(addr: number): number;
  /** Checks the allocator's invariants from the bytes; throws KmemError CORRUPTION naming one. */
  verify(): void;
  /** Its counters, with the allocator's own on top of {@link ClassicStats}. */
  stats(): ClassicStats;
  /** Bytes of backing memory held: pages x (page size + mem_map entry). */
  footprint(): number;
}

/** The allocators createAllocator makes, by name. */
export interface ClassicAllocators {
  p2: P2Allocator;
  "mckusick-karels": McKusickKarelsAllocator;
  "lazy-buddy": LazyBuddyAllocator;
  "mach-zone": MachZoneAllocator;
  dynix: DynixAllocator;
}

/** Options of each allocator (none for p2). */
export interface ClassicOptions {
  p2: Record<string, never>;
  "mckusick-karels": McKusickKarelsOptions;
  "lazy-buddy": LazyBuddyOptions;
  "mach-zone": MachZoneOptions;
  dynix: DynixOptions;
}

export type ClassicName = keyof ClassicAllocators;

const MAKERS: { readonly [N in ClassicName]: (mm: Kmem, o: object) => ClassicAllocators[N] } = {
  p2: (mm) => new P2Allocator(mm),
  "mckusick-karels": (mm, o) => new McKusickKarelsAllocator(mm, o as McKusickKarelsOptions),
  "lazy-buddy": (mm, o) => new LazyBuddyAllocator(mm, o as LazyBuddyOptions),
  "mach-zone": (mm, o) => new MachZoneAllocator(mm, o as MachZoneOptions),
  dynix: (mm, o) => new DynixAllocator(mm, o as DynixOptions),
};

/** Every name createAllocator takes, in the order of the literature (Vahalia, chapter 12). */
export const CLASSIC_NAMES: readonly ClassicName[] = Object.keys(MAKERS) as ClassicName[];

const OPTION_KEYS: { readonly [N in ClassicName]: readonly string[] } = {
  p2: [],
  "mckusick-karels": ["types", "arenaChunkPages"],
  "lazy-buddy": ["minBlock"],
  "mach-zone": ["zoneCheck"],
  dynix: ["target", "globalLists", "cpus"],
};

/**
 * Makes the allocator `name` over `mm`'s pages; null when its control block cannot be had.
 * A name it does not know is a RangeError, an unknown option a TypeError.
 */
export function createClassicAllocator<N extends ClassicName>(
  mm: Kmem,
  name: N,
  options?: ClassicOptions[N],
): ClassicAllocators[N] | null {
  if (typeof name !== "string" || !(CLASSIC_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(
      `allocator name must be one of ${CLASSIC_NAMES.join(", ")}, got ${describe(name)}`,
    );
  }
  const opts: object = options ?? {};
  if (typeof opts !== "object" || opts === null) {
    throw new TypeError(`${name}: options must be an object, got ${describe(options)}`);
  }
  checkKnownKeys(name, opts, OPTION_KEYS[name]);
  try {
    return MAKERS[name](mm, opts);
  } catch (err) {
    if (err instanceof NoMemory) return null;
    throw err;
  }
}
