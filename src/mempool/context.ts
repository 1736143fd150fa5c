/*
 * What a pool needs from the instance it lives in, gathered once per context: kmalloc and
 * the cache calls of the object allocator, the page allocator's view of waiting, and the
 * pools' lock (Hdr.LOCK_POOL: one lock for every pool of the instance, as Linux's
 * pool->lock, in the lock order of src/sync/lock.ts; taken only with more than one cpu).
 */

import { Hdr, type PhysMem } from "../memory/index.js";
import type { BuddyAllocator } from "../page/index.js";
import type { KmemCache } from "../slab-common/index.js";
import { lock, unlock } from "../sync/index.js";
import type { PoolBackend } from "./mempool.js";

/** The kmalloc calls a pool makes (SLUB's kmalloc, or SLOB). */
export interface PoolKmalloc {
  kmalloc(size: number, gfp: number): number;
  kfree(addr: number): void;
  ksize(addr: number): number;
  kmallocOwn(size: number, gfp: number): number;
  kfreeOwn(addr: number): void;
}

/** The cache calls a pool makes (the object allocator). */
export interface PoolCaches {
  /** Throws as a free would unless `addr` is a live object of `cache`; changes nothing. */
  checkLive(cache: KmemCache, addr: number, fn: string): void;
  /** This context's handle of cache `id`, or null. */
  cacheById(id: number): KmemCache | null;
}

export class PoolContext implements PoolBackend {
  readonly mem: PhysMem;
  private readonly km: PoolKmalloc;
  private readonly caches: PoolCaches;
  private readonly buddy: BuddyAllocator;
  private readonly smp: boolean;

  constructor(mem: PhysMem, km: PoolKmalloc, caches: PoolCaches, buddy: BuddyAllocator) {
    this.mem = mem;
    this.km = km;
    this.caches = caches;
    this.buddy = buddy;
    this.smp = mem.nrCpus > 1;
  }

  kmalloc(size: number, gfp: number): number {
    return this.km.kmalloc(size, gfp) >>> 0;
  }

  kfree(addr: number): void {
    this.km.kfree(addr);
  }

  ksize(addr: number): number {
    return this.km.ksize(addr);
  }

  kmallocOwn(size: number, gfp: number): number {
    return this.km.kmallocOwn(size, gfp) >>> 0;
  }

  kfreeOwn(addr: number): void {
    this.km.kfreeOwn(addr);
  }

  checkLive(cache: KmemCache, addr: number, fn: string): void {
    this.caches.checkLive(cache, addr, fn);
  }

  cacheById(id: number): KmemCache | null {
    return this.caches.cacheById(id);
  }

  lock(): void {
    if (this.smp) lock(this.mem.words, Hdr.LOCK_POOL, this.buddy.cpu, "the mempool lock");
  }

  unlock(): void {
    if (this.smp) unlock(this.mem.words, Hdr.LOCK_POOL, this.buddy.cpu);
  }

  mayBlock(): boolean {
    return this.buddy.mayBlock();
  }

  othersCouldFree(): boolean {
    return this.buddy.othersCouldFree();
  }

  waitMs(): number {
    return this.buddy.waitMs;
  }
}
