/*
 * Fragmentation indices, with the integer arithmetic of Linux's mm/vmstat.c
 * (fill_contig_page_info, unusable_free_index, __fragmentation_index). Both are computed
 * in thousandths, as the kernel does, and returned as fractions (0.715 for 715), so that
 * printing them with three decimals gives the debugfs text exactly.
 *
 *   free_pages           = sum_k nr_free[k] << k
 *   free_blocks_total    = sum_k nr_free[k]
 *   free_blocks_suitable = sum_{k >= o} nr_free[k] << (k - o)
 */

interface ContigInfo {
  freePages: number;
  freeBlocksTotal: number;
  freeBlocksSuitable: number;
}

function contigInfo(nrFree: ArrayLike<number>, order: number): ContigInfo {
  let freePages = 0;
  let freeBlocksTotal = 0;
  let freeBlocksSuitable = 0;
  for (let k = 0; k < nrFree.length; k++) {
    const blocks = nrFree[k] ?? 0;
    freeBlocksTotal += blocks;
    freePages += blocks * 2 ** k;
    if (k >= order) freeBlocksSuitable += blocks * 2 ** (k - order);
  }
  return { freePages, freeBlocksTotal, freeBlocksSuitable };
}

/**
 * Unusable free space index, in thousandths: how much of the free memory cannot serve an
 * order-`order` request. 0 = none unusable, 1000 = all of it (or no free memory).
 */
export function unusableIndexMilli(nrFree: ArrayLike<number>, order: number): number {
  const info = contigInfo(nrFree, order);
  if (info.freePages === 0) return 1000;
  return Math.trunc(
    ((info.freePages - info.freeBlocksSuitable * 2 ** order) * 1000) / info.freePages,
  );
}

/**
 * Fragmentation (external) index, in thousandths: -1000 when the request would succeed;
 * otherwise towards 0 the failure is for lack of memory, towards 1000 for fragmentation.
 */
export function extfragIndexMilli(nrFree: ArrayLike<number>, order: number): number {
  const info = contigInfo(nrFree, order);
  if (info.freeBlocksTotal === 0) return 0;
  if (info.freeBlocksSuitable > 0) return -1000;
  const requested = 2 ** order;
  return (
    1000 -
    Math.trunc((1000 + Math.trunc((info.freePages * 1000) / requested)) / info.freeBlocksTotal)
  );
}

/** Linux's extfrag_for_order: percent of free memory unusable for the order. */
export function extfragForOrder(nrFree: ArrayLike<number>, order: number): number {
  const info = contigInfo(nrFree, order);
  if (info.freePages === 0) return 0;
  return Math.trunc(
    ((info.freePages - info.freeBlocksSuitable * 2 ** order) * 100) / info.freePages,
  );
}

/** Thousandths as the kernel prints them: "%d.%03d" (and -1.000). */
export function formatMilli(milli: number): string {
  const sign = milli < 0 ? "-" : "";
  const abs = Math.abs(milli);
  return `${sign}${Math.trunc(abs / 1000)}.${String(abs % 1000).padStart(3, "0")}`;
}
