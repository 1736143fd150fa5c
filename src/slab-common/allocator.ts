/*
 * What every object allocator reports per cache.
 */

/** Per-cache figures, as stats() and slabinfo show them. */
export interface SlabCacheInfo {
  name: string;
  objectSize: number;
  size: number;
  activeObjects: number;
  totalObjects: number;
  slabs: number;
  objectsPerSlab: number;
  pagesPerSlab: number;
  /** Objects set aside as corrupt. */
  quarantined: number;
  /** Names of caches merged into this one. */
  aliases: string[];
}
