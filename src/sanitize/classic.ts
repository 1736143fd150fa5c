/*
 * KASAN over the classic allocators (mm.createAllocator: src/classic), which carve blocks
 * out of pages they take with allocPages: the hooks sit on the allocator object at its
 * alloc, free and realloc. A block is unpoisoned for the size asked, the rest of its usable
 * bytes poisoned as a red zone (its slack); a freed block is poisoned as freed, so an
 * access to it is a use after free until the allocator hands its bytes out again (no
 * quarantine: the allocator reuses them at once, as its own free lists say), and a second
 * free is a double free. The pages an allocator takes are accessible whole when it takes
 * them (allocPages): bytes it has never handed out, and its headers, are not poisoned.
 */

import type { Kasan } from "../kasan/index.js";

/** What the hooks need of a classic allocator. */
export interface ClassicHooked {
  alloc(size: number): number;
  free(addr: number): void;
  realloc(addr: number, size: number): number;
  usableSize(addr: number): number;
}

type Fn = (...args: never[]) => unknown;

function hook(obj: object, name: string, fn: Fn): void {
  Object.defineProperty(obj, name, { value: fn, writable: true, configurable: true });
}

function orig<T extends Fn>(obj: object, name: string): T {
  return (Object.getPrototypeOf(obj) as Record<string, T>)[name] as T;
}

/** Installs KASAN's hooks on classic allocator `a`. */
export function hookClassic(a: ClassicHooked, kasan: Kasan, name: string): void {
  const alloc = orig<ClassicHooked["alloc"]>(a, "alloc");
  const free = orig<ClassicHooked["free"]>(a, "free");
  const realloc = orig<ClassicHooked["realloc"]>(a, "realloc");
  const usable = orig<ClassicHooked["usableSize"]>(a, "usableSize");
  /** Block `p` handed out for `size` bytes (its start rounded down to a granule). */
  const handedOut = (p: number, size: number): number => {
    if (p === 0) return 0;
    const skew = p & 7;
    kasan.blockAllocated(p - skew, skew + Math.max(size, 1), skew + usable.call(a, p));
    return p;
  };
  /** The usable bytes of `addr`, or -1 when the allocator does not know it as a block. */
  const usableOf = (addr: number): number => {
    try {
      return usable.call(a, addr);
    } catch {
      return -1;
    }
  };
  hook(a, "alloc", (size: number): number => handedOut(alloc.call(a, size), size));
  hook(a, "free", (addr: number): void => {
    kasan.checkFree(addr, `${name}.free`, () => {});
    const n = usableOf(addr);
    free.call(a, addr);
    if (n > 0) kasan.blockPoisoned(addr, n);
  });
  hook(a, "realloc", (addr: number, size: number): number => {
    if (addr !== 0) kasan.checkByte(addr, `${name}.realloc`);
    const n = addr === 0 ? -1 : usableOf(addr);
    const p = realloc.call(a, addr, size);
    if (p === 0) return 0;
    if (p !== addr && n > 0) kasan.blockPoisoned(addr, n);
    return handedOut(p, size);
  });
}
