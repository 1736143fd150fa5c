/*
 * Zone watermarks and per-cpu list sizes, derived from memory size as Linux derives them
 * (mm/page_alloc.c: calculate_min_free_kbytes, __setup_per_zone_wmarks, zone_batchsize,
 * zone_highsize).
 *
 *   min_free_kbytes = int_sqrt(16 * managed_kbytes), clamped to [128, 262144]
 *   min  = min_free_kbytes / (pageSize / 1024)                       pages
 *   gap  = max(min / 4, managed * watermark_scale_factor / 10000)   watermark_scale_factor = 10
 *   low  = min + gap
 *   high = min + 2 * gap
 *
 * One deviation, for the small memories kmem also serves (down to a few hundred KiB): the
 * derived min_free_kbytes is capped at 1/16 of managed memory, where Linux's 128 KiB floor
 * would otherwise reserve half of a 256 KiB memory. An explicit minFreeBytes is taken as is.
 */

/**
 * alloc_flags of the watermark check (mm/internal.h): which mark (the low two bits index
 * Zone.WMARK_MIN..HIGH) and which share of the reserve below it a request may take.
 */
export const enum Alloc {
  WMARK_MIN = 0,
  WMARK_LOW = 1,
  WMARK_MASK = 3,
  NO_WATERMARKS = 4,
  /** __GFP_HIGH: min -= min / 2. */
  MIN_RESERVE = 8,
  /** Cannot reclaim: with MIN_RESERVE, min -= min / 4 more. */
  NON_BLOCK = 16,
}

export const WATERMARK_SCALE_FACTOR = 10;
const MIN_FREE_KB_FLOOR = 128;
const MIN_FREE_KB_CEILING = 262144;

export interface Watermarks {
  minFreeKb: number;
  min: number;
  low: number;
  high: number;
}

/** Linux's int_sqrt: the floor of the square root. */
function intSqrt(x: number): number {
  let r = Math.floor(Math.sqrt(x));
  while (r * r > x) r--;
  while ((r + 1) * (r + 1) <= x) r++;
  return r;
}

/** Default min_free_kbytes for `managedPages` pages of `pageSize` bytes. */
export function defaultMinFreeKb(managedPages: number, pageSize: number): number {
  const managedKb = (managedPages * pageSize) / 1024;
  const derived = Math.min(
    MIN_FREE_KB_CEILING,
    Math.max(MIN_FREE_KB_FLOOR, intSqrt(managedKb * 16)),
  );
  return Math.min(derived, Math.floor(managedKb / 16));
}

/** Watermarks from min_free_kbytes (or, when `minFreeBytes` is given, from that). */
export function computeWatermarks(
  managedPages: number,
  pageSize: number,
  minFreeBytes: number | undefined,
): Watermarks {
  const minFreeKb =
    minFreeBytes === undefined
      ? defaultMinFreeKb(managedPages, pageSize)
      : Math.floor(minFreeBytes / 1024);
  const min =
    minFreeBytes === undefined
      ? Math.floor((minFreeKb * 1024) / pageSize)
      : Math.floor(minFreeBytes / pageSize);
  const gap = Math.max(
    Math.floor(min / 4),
    Math.floor((managedPages * WATERMARK_SCALE_FACTOR) / 10000),
  );
  return { minFreeKb, min, low: min + gap, high: min + 2 * gap };
}

function roundDownPow2(x: number): number {
  return x <= 0 ? 0 : 2 ** Math.floor(Math.log2(x));
}

/** Linux's zone_batchsize: pages moved between a per-cpu list and the buddy lists at once. */
export function pcpBatch(managedPages: number, pageSize: number): number {
  let batch = Math.min(managedPages >> 10, Math.floor((1024 * 1024) / pageSize));
  batch = Math.floor(batch / 4);
  if (batch < 1) batch = 1;
  batch = roundDownPow2(batch + Math.floor(batch / 2)) - 1;
  return Math.max(batch, 1);
}

/** Linux's zone_highsize (default fraction): the most pages one per-cpu list may hold. */
export function pcpHigh(low: number, batch: number, nrCpus: number): number {
  return Math.max(Math.floor(low / nrCpus), batch * 4);
}

/**
 * __setup_per_zone_wmarks: a zone's watermarks, its min the share of the instance's `min`
 * in proportion to its pages, its gap from its own size.
 */
export function zoneWatermarks(
  min: number,
  zoneManaged: number,
  totalManaged: number,
): { min: number; low: number; high: number } {
  const zmin = Math.floor((min * zoneManaged) / totalManaged);
  const gap = Math.max(
    Math.floor(zmin / 4),
    Math.floor((zoneManaged * WATERMARK_SCALE_FACTOR) / 10000),
  );
  return { min: zmin, low: zmin + gap, high: zmin + 2 * gap };
}
