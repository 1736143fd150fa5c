/*
 * The hooks around SLUB's fast paths (Linux slab_post_alloc_hook, slab_free_hook): debug
 * checks of a debug cache's object on its way out and back in (red zones, poison; damage
 * sets the object aside), owner tracking (U), the kmalloc requested size, and zeroing for
 * __GFP_ZERO, init_on_alloc and init_on_free. The fast paths call them only when the
 * cache has debug flags or an object must be zeroed.
 */

import { hex, KmemError } from "../errors.js";
import { Frame } from "../memory/index.js";
import { Gfp } from "../page/index.js";
import { type KmemCache, SlabFlag } from "../slab-common/index.js";
import {
  checkPoison,
  checkRedZones,
  describeDamage,
  keepsOrigSize,
  origSizeIndex,
  poisons,
  setPoison,
  setRedZones,
  trackIndex,
} from "./debug.js";
import { CpuSlot, Poison, SlubPg, Track } from "./layout.js";
import { activeObjects, lookupCache, objectSizeOf, refuseOwn } from "./registry.js";
import { quarantineObject } from "./slow.js";
import type { SlubAllocator } from "./slub.js";

/** Debug checks, owner tracking and zeroing after an object left the freelist. */
export function postAlloc(
  slub: SlubAllocator,
  c: KmemCache,
  obj: number,
  gfp: number,
  size: number,
): number {
  if (c.debug !== 0) {
    const damage =
      checkPoison(slub.win(obj), c, obj & slub.bm) ??
      checkRedZones(slub.win(obj), c, obj & slub.bm, Poison.RED_INACTIVE);
    if (damage !== null) {
      // A free object was written to: set it aside (it stays marked allocated, but is
      // nobody's), report, and let the caller see the use after free.
      c.cpu[CpuSlot.ACTIVE]!--;
      quarantineObject(slub, c, slub.slabOf(obj), obj);
      const code = damage.area === "object (poison)" ? "POISON" : "REDZONE";
      throw new KmemError(
        code,
        describeDamage(c, obj, damage, owners(slub, c, obj)) + "; the object is set aside",
      );
    }
  }
  if (((gfp & Gfp.ZERO) !== 0 || slub.initOnAlloc) && !c.hasCtor) {
    slub.phys.fill(0, obj, obj + objectSizeOf(slub, c));
  }
  if (c.debug !== 0) {
    setRedZones(slub.win(obj), c, obj & slub.bm, Poison.RED_ACTIVE);
    if (keepsOrigSize(c)) setOrigSize(slub, c, obj, size < 0 ? c.coreObjectSize : size);
    if ((c.flags & SlabFlag.STORE_USER) !== 0) setTrack(slub, c, obj, 0);
    if ((c.flags & SlabFlag.TRACE) !== 0 && slub.log !== null) {
      slub.log(`TRACE ${c.name} alloc ${hex(obj)} inuse=${activeObjects(slub, c)}`);
    }
  }
  return obj;
}

/**
 * Records the size a kmalloc object was asked for; with red zones, the bytes from there to
 * the class size become a red zone (SLUB's kmalloc red zone).
 */
function setOrigSize(slub: SlubAllocator, c: KmemCache, obj: number, size: number): void {
  slub.phys.setWord(origSizeIndex(c, obj), size);
  if ((c.flags & SlabFlag.RED_ZONE) !== 0 && size < c.coreObjectSize) {
    slub.phys.fill(Poison.RED_ACTIVE, obj + size, obj + c.coreObjectSize);
  }
}

/** The size recorded for a kmalloc object, or -1 when the cache does not record it. */
export function origSize(slub: SlubAllocator, c: KmemCache, obj: number): number {
  return keepsOrigSize(c) ? slub.phys.word(origSizeIndex(c, obj)) : -1;
}

/**
 * krealloc within the usable size: debug caches move the kmalloc red zone to the new size
 * (newly exposed bytes zeroed when `zero`); others zero the bytes past the new size when
 * `zero`. `addr` is a live object (ksize checked it).
 */
export function resizeObject(slub: SlubAllocator, addr: number, size: number, zero: boolean): void {
  const head = slub.slabOf(addr);
  const c = lookupCache(slub, slub.f[head * Frame.WORDS + SlubPg.CACHE] as number) as KmemCache;
  const old = origSize(slub, c, addr);
  if (old < 0) {
    if (zero) slub.phys.fill(0, addr + size, addr + objectSizeOf(slub, c));
    return;
  }
  if (zero && size > old) slub.phys.fill(0, addr + old, addr + size);
  if (size < old && (c.flags & SlabFlag.RED_ZONE) === 0 && zero) {
    slub.phys.fill(0, addr + size, addr + old);
  }
  setOrigSize(slub, c, addr, size);
}

/** Debug checks and init_on_free before an object goes back on a freelist. */
export function preFree(slub: SlubAllocator, c: KmemCache, head: number, addr: number): void {
  if ((c.flags & SlabFlag.KMEM_OWN) !== 0 && !slub.ownAccess) refuseOwn(c, addr, "kfree");
  if (c.debug !== 0) {
    const damage = checkRedZones(
      slub.win(addr),
      c,
      addr & slub.bm,
      Poison.RED_ACTIVE,
      origSize(slub, c, addr),
    );
    if (damage !== null) {
      c.cpu[CpuSlot.ACTIVE]!--;
      quarantineObject(slub, c, head, addr);
      throw new KmemError(
        "REDZONE",
        describeDamage(c, addr, damage, owners(slub, c, addr)) + "; the object is set aside",
      );
    }
    if ((c.flags & SlabFlag.STORE_USER) !== 0) setTrack(slub, c, addr, 1);
    if ((c.flags & SlabFlag.TRACE) !== 0 && slub.log !== null) {
      slub.log(`TRACE ${c.name} free ${hex(addr)} inuse=${activeObjects(slub, c) - 1}`);
    }
    setPoison(slub.win(addr), c, addr & slub.bm);
    setRedZones(slub.win(addr), c, addr & slub.bm, Poison.RED_INACTIVE);
  }
  if (slub.initOnFree && !c.hasCtor && !poisons(c)) {
    slub.phys.fill(0, addr, addr + objectSizeOf(slub, c));
  }
}

/** Records the call site (an id of this context's table, tagged with its cpu) and order. */
function setTrack(slub: SlubAllocator, c: KmemCache, obj: number, which: number): void {
  const t = trackIndex(c, obj, which);
  slub.phys.setWord(t + Track.SITE, slub.sites.capture() | (slub.cpuId << 24));
  slub.phys.setWord(t + Track.SEQ, ++slub.sites.seq);
}

/** A recorded call site's name; one recorded by another context is named by its cpu. */
function siteName(slub: SlubAllocator, site: number): string {
  const cpu = site >>> 24;
  const id = site & 0xffffff;
  return cpu === slub.cpuId ? slub.sites.name(id) : `a call site of cpu ${cpu} (#${id})`;
}

/** "; allocated at X; freed at Y" for error messages, when the cache tracks owners. */
export function owners(slub: SlubAllocator, c: KmemCache, obj: number): string {
  if ((c.flags & SlabFlag.STORE_USER) === 0) return "";
  const a = trackIndex(c, obj, 0);
  const fr = trackIndex(c, obj, 1);
  let text = "";
  if (slub.phys.word(a + Track.SEQ) !== 0) {
    text += `; allocated at ${siteName(slub, slub.phys.word(a + Track.SITE))} (#${slub.phys.word(a + Track.SEQ)})`;
  }
  if (slub.phys.word(fr + Track.SEQ) !== 0) {
    text += `; freed at ${siteName(slub, slub.phys.word(fr + Track.SITE))} (#${slub.phys.word(fr + Track.SEQ)})`;
  }
  return text;
}
