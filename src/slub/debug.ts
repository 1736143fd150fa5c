/*
 * Slab debugging (slub_debug F Z P U T): poisoning, red zones, padding and owner tracking,
 * as Linux's mm/slub.c init_object / check_object / check_pad_bytes / set_track.
 *
 * Checks return a description of the first byte found wrong, or null; the allocator turns
 * that into a KmemError (REDZONE, POISON, CORRUPTION) after setting the object aside.
 */

import { hex } from "../errors.js";
import { type KmemCache, SlabFlag } from "../slab-common/index.js";
import { Poison, Track } from "./layout.js";

/** What a check found: where (offset from the object), what byte, what was expected. */
export interface Damage {
  area: "left red zone" | "right red zone" | "kmalloc red zone" | "object (poison)" | "padding";
  offset: number;
  found: number;
  expected: number;
}

function firstWrong(
  bytes: Uint8Array,
  from: number,
  to: number,
  value: number,
  base: number,
  area: Damage["area"],
): Damage | null {
  for (let a = from; a < to; a++) {
    if (bytes[a] !== value)
      return { area, offset: a - base, found: bytes[a] as number, expected: value };
  }
  return null;
}

/**
 * Red zones of object `obj` hold `value` (0xbb free, 0xcc allocated)? For an allocated object
 * of a cache that records requested sizes, the bytes from that size to the class size are a
 * red zone too (`origSize`, or -1).
 */
export function checkRedZones(
  bytes: Uint8Array,
  c: KmemCache,
  obj: number,
  value: number,
  origSize = -1,
): Damage | null {
  if ((c.flags & SlabFlag.RED_ZONE) === 0) return null;
  return (
    firstWrong(bytes, obj - c.redLeft, obj, value, obj, "left red zone") ??
    (origSize >= 0 && origSize < c.coreObjectSize
      ? firstWrong(bytes, obj + origSize, obj + c.coreObjectSize, value, obj, "kmalloc red zone")
      : null) ??
    firstWrong(bytes, obj + c.coreObjectSize, obj + c.inuse, value, obj, "right red zone")
  );
}

export function setRedZones(bytes: Uint8Array, c: KmemCache, obj: number, value: number): void {
  if ((c.flags & SlabFlag.RED_ZONE) === 0) return;
  bytes.fill(value, obj - c.redLeft, obj);
  bytes.fill(value, obj + c.coreObjectSize, obj + c.inuse);
}

/** Whether free objects of the cache are poisoned (P, and no constructor). */
export function poisons(c: KmemCache): boolean {
  return (c.flags & SlabFlag.POISON) !== 0 && !c.hasCtor;
}

/** A free object's poison intact? */
export function checkPoison(bytes: Uint8Array, c: KmemCache, obj: number): Damage | null {
  if (!poisons(c)) return null;
  const end = obj + c.coreObjectSize - 1;
  return (
    firstWrong(bytes, obj, end, Poison.FREE, obj, "object (poison)") ??
    firstWrong(bytes, end, end + 1, Poison.END, obj, "object (poison)")
  );
}

export function setPoison(bytes: Uint8Array, c: KmemCache, obj: number): void {
  if (!poisons(c)) return;
  bytes.fill(Poison.FREE, obj, obj + c.coreObjectSize - 1);
  bytes[obj + c.coreObjectSize - 1] = Poison.END;
}

/**
 * Slab padding: the bytes between the last of the slab's `objects` slots and the bitmap
 * (or the slab end).
 */
export function padRange(
  c: KmemCache,
  slabStart: number,
  slabBytes: number,
  objects: number,
): [number, number] {
  const end = c.bitmap < 0 ? slabBytes : c.bitmap;
  return [slabStart + objects * c.size, slabStart + end];
}

export function checkPadding(
  bytes: Uint8Array,
  c: KmemCache,
  slabStart: number,
  slabBytes: number,
  objects: number,
): Damage | null {
  if (!poisons(c)) return null;
  const [from, to] = padRange(c, slabStart, slabBytes, objects);
  return firstWrong(bytes, from, to, Poison.INUSE, slabStart, "padding");
}

/** Whether the cache records each object's requested size (kmalloc caches with U). */
export function keepsOrigSize(c: KmemCache): boolean {
  return (
    (c.flags & (SlabFlag.KMALLOC | SlabFlag.STORE_USER)) ===
    (SlabFlag.KMALLOC | SlabFlag.STORE_USER)
  );
}

/** The word holding object `obj`'s requested size, after its two track records. */
export function origSizeIndex(c: KmemCache, obj: number): number {
  return (obj + c.track + 2 * Track.BYTES) >>> 2;
}

/** The words of object `obj`'s track record `which` (0 alloc, 1 free), if the cache keeps them. */
export function trackIndex(c: KmemCache, obj: number, which: number): number {
  return ((obj + c.track) >>> 2) + which * Track.WORDS;
}

/** Stack frames captured for owner tracking: kmem's own, then the caller's. */
const STACK_FRAMES = 32;

/** kmem's own source folder: stack frames inside it are not the caller. */
const LIBRARY_DIR = new URL("..", import.meta.url).pathname;

/**
 * Call sites for owner tracking: the first stack frame outside kmem itself, interned to a
 * small id so that the slot stores a number.
 */
export class CallSites {
  private readonly names: string[] = ["(unknown)"];
  private readonly ids = new Map<string, number>();
  /** Sequence number of the last track record: orders allocations and frees. */
  seq = 0;

  /** Interns the caller's site. Expensive: only on STORE_USER caches. */
  capture(): number {
    // V8 records 10 frames by default; kmem's own can be a dozen (a slow path, the hooks).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = STACK_FRAMES;
    const stack = new Error().stack ?? "";
    Error.stackTraceLimit = limit;
    const lines = stack.split("\n").slice(1);
    let site = "(unknown)";
    for (const line of lines) {
      if (!line.includes(LIBRARY_DIR)) {
        site = line.trim().replace(/^at /, "");
        break;
      }
    }
    let id = this.ids.get(site);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(site);
      this.ids.set(site, id);
    }
    return id;
  }

  name(id: number): string {
    return this.names[id] ?? "(unknown)";
  }
}

/** The error text SLUB's print_trailer would give: cache, object, offset, bytes, owners. */
export function describeDamage(c: KmemCache, obj: number, d: Damage, owners: string): string {
  return (
    `cache ${c.name}: object ${hex(obj)}: ${d.area} overwritten at offset ${d.offset} ` +
    `(byte ${hex(d.found)}, expected ${hex(d.expected)})${owners}`
  );
}
