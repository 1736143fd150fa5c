/*
 * Same-filled pages (zram's page_same_filled): a page that is one 8-byte value repeated,
 * zero pages above all, is stored as that value alone. The first word pair is compared
 * with the last before the rest, so a page that is not same-filled usually exits at once.
 */

/**
 * Whether the `nWords` i32 words at `w[i]` (an even count, from an 8-byte boundary) are one
 * 8-byte value repeated; if so, its low and high words are left in `value[0]`, `value[1]`.
 */
export function sameFilled(w: Int32Array, i: number, nWords: number, value: Int32Array): boolean {
  const lo = w[i] as number;
  const hi = w[i + 1] as number;
  const last = i + nWords - 2;
  if (w[last] !== lo || w[last + 1] !== hi) return false;
  for (let j = i + 2; j < last; j += 2) {
    if (w[j] !== lo || w[j + 1] !== hi) return false;
  }
  value[0] = lo;
  value[1] = hi;
  return true;
}

/** Fills the `nWords` words at `w[i]` with the 8-byte value `lo`, `hi` (zram_fill_page). */
export function fillSame(w: Int32Array, i: number, nWords: number, lo: number, hi: number): void {
  if (lo === hi) {
    w.fill(lo, i, i + nWords);
    return;
  }
  for (let j = i, end = i + nWords; j < end; j += 2) {
    w[j] = lo;
    w[j + 1] = hi;
  }
}
