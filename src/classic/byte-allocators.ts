/*
 * The classic allocators as ByteAllocators (src/alloc/allocator.ts), for the workbench: 0
 * (NULL) becomes -1, free and realloc drop the size the workbench passes (each allocator
 * finds it itself).
 *
 * One small class per allocator rather than one generic adapter: V8 keeps type feedback per
 * function, and one adapter shared by five allocators would make its calls megamorphic (in
 * `kmem compare`, which runs them all in one process, that alone slowed the later ones).
 */

import type { ByteAllocator } from "../alloc/index.js";
import type { Kmem } from "../kmem.js";
import type { DynixAllocator } from "./dynix.js";
import type { LazyBuddyAllocator } from "./lazy-buddy.js";
import type { MachZoneAllocator } from "./mach-zone.js";
import type { McKusickKarelsAllocator } from "./mckusick-karels.js";
import type { P2Allocator } from "./p2.js";
import type { ClassicName, ClassicOptions } from "./registry.js";

class P2Bytes implements ByteAllocator {
  readonly name = "p2";
  constructor(private readonly a: P2Allocator) {}
  alloc(size: number): number {
    const p = this.a.alloc(size);
    return p === 0 ? -1 : p;
  }
  free(addr: number): void {
    this.a.free(addr);
  }
  realloc(addr: number, _oldSize: number, size: number): number {
    const p = this.a.realloc(addr, size);
    return p === 0 ? -1 : p;
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

class McKusickKarelsBytes implements ByteAllocator {
  readonly name = "mckusick-karels";
  constructor(private readonly a: McKusickKarelsAllocator) {}
  alloc(size: number): number {
    const p = this.a.alloc(size);
    return p === 0 ? -1 : p;
  }
  free(addr: number): void {
    this.a.free(addr);
  }
  realloc(addr: number, _oldSize: number, size: number): number {
    const p = this.a.realloc(addr, size);
    return p === 0 ? -1 : p;
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

class LazyBuddyBytes implements ByteAllocator {
  readonly name = "lazy-buddy";
  constructor(private readonly a: LazyBuddyAllocator) {}
  alloc(size: number): number {
    const p = this.a.alloc(size);
    return p === 0 ? -1 : p;
  }
  free(addr: number): void {
    this.a.free(addr);
  }
  realloc(addr: number, _oldSize: number, size: number): number {
    const p = this.a.realloc(addr, size);
    return p === 0 ? -1 : p;
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

class MachZoneBytes implements ByteAllocator {
  readonly name = "mach-zone";
  constructor(private readonly a: MachZoneAllocator) {}
  alloc(size: number): number {
    const p = this.a.alloc(size);
    return p === 0 ? -1 : p;
  }
  free(addr: number): void {
    this.a.free(addr);
  }
  realloc(addr: number, _oldSize: number, size: number): number {
    const p = this.a.realloc(addr, size);
    return p === 0 ? -1 : p;
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

class DynixBytes implements ByteAllocator {
  readonly name = "dynix";
  constructor(private readonly a: DynixAllocator) {}
  alloc(size: number): number {
    const p = this.a.alloc(size);
    return p === 0 ? -1 : p;
  }
  free(addr: number): void {
    this.a.free(addr);
  }
  realloc(addr: number, _oldSize: number, size: number): number {
    const p = this.a.realloc(addr, size);
    return p === 0 ? -1 : p;
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
