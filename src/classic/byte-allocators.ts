/*
 * The classic allocators as ByteAllocators (src/alloc/allocator.ts), for the workbench: 0
 * (NULL) becomes -1, free and realloc drop the size the workbench passes (each allocator
 * finds it itself).
 *
 * alloc and free are each allocator's own functions rather than one generic adapter's: V8
 * keeps type feedback per function, and one pair shared by five allocators would make its
 * calls megamorphic (in `kmem compare`, which runs them all in one process, that alone
 * slowed the later ones). The calls off that pair are shared (ClassicBytes).
 */

import type { ByteAllocator } from "../alloc/index.js";
import type { Kmem } from "../kmem.js";
import type { DynixAllocator } from "./dynix.js";
import type { LazyBuddyAllocator } from "./lazy-buddy.js";
import type { MachZoneAllocator } from "./mach-zone.js";
import type { McKusickKarelsAllocator } from "./mckusick-karels.js";
import type { P2Allocator } from "./p2.js";
import type { ClassicName, ClassicOptions } from "./registry.js";

/** What an adapter calls of its allocator. */
interface Classic {
  alloc(size: number): number;
  free(addr: number): void;
  realloc(addr: number, size: number): number;
  footprint(): number;
  usableSize(addr: number): number;
  verify(): void;
}

/** The calls off the alloc/free pair, shared: realloc, footprint, usableSize, verify. */
abstract class ClassicBytes<A extends Classic> {
  constructor(protected readonly a: A) {}
  realloc(addr: number, _oldSize: number, size: number): number {
    return this.a.realloc(addr, size) || -1;
  }
  footprint(): number {
    return this.a.footprint();
  }
  usableSize(addr: number): number {
    return this.a.usableSize(addr);
  }
  verify(): void {
    this.a.verify();
  }
}

// alloc and free, each allocator's own (monomorphic): NULL (0) becomes -1.
class P2Bytes extends ClassicBytes<P2Allocator> implements ByteAllocator {
  readonly name = "p2";
  alloc = (size: number): number => this.a.alloc(size) || -1;
  free = (addr: number): void => this.a.free(addr);
}
class McKusickKarelsBytes extends ClassicBytes<McKusickKarelsAllocator> implements ByteAllocator {
  readonly name = "mckusick-karels";
  alloc = (size: number): number => this.a.alloc(size) || -1;
  free = (addr: number): void => this.a.free(addr);
}
class LazyBuddyBytes extends ClassicBytes<LazyBuddyAllocator> implements ByteAllocator {
  readonly name = "lazy-buddy";
  alloc = (size: number): number => this.a.alloc(size) || -1;
  free = (addr: number): void => this.a.free(addr);
}
class MachZoneBytes extends ClassicBytes<MachZoneAllocator> implements ByteAllocator {
  readonly name = "mach-zone";
  alloc = (size: number): number => this.a.alloc(size) || -1;
  free = (addr: number): void => this.a.free(addr);
}
class DynixBytes extends ClassicBytes<DynixAllocator> implements ByteAllocator {
  readonly name = "dynix";
  alloc = (size: number): number => this.a.alloc(size) || -1;
  free = (addr: number): void => this.a.free(addr);
}

/**
 * The classic allocator `name` over `mm` as a ByteAllocator. Throws RangeError when its
 * control block cannot be had (as mempoolAllocator does when its reserve cannot).
 */
export function classicAllocator<N extends ClassicName>(
  mm: Kmem,
  name: N,
  options?: ClassicOptions[N],
): ByteAllocator {
  // Through the instance, so that its sanitizers see the blocks (src/sanitize/classic.ts).
  const a = mm.createAllocator(name, options);
  if (a === null) throw new RangeError(`${name}: no memory for its control block`);
  switch (name as ClassicName) {
    case "p2":
      return new P2Bytes(a as P2Allocator);
    case "mckusick-karels":
      return new McKusickKarelsBytes(a as McKusickKarelsAllocator);
    case "lazy-buddy":
      return new LazyBuddyBytes(a as LazyBuddyAllocator);
    case "mach-zone":
      return new MachZoneBytes(a as MachZoneAllocator);
    default:
      return new DynixBytes(a as DynixAllocator);
  }
}
