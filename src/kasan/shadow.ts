/*
 * KASAN's shadow (Linux mm/kasan/kasan.h, generic mode): one byte per 8-byte granule of
 * physical memory, kept in the reserved part of the buffer (after the boot cache
 * descriptor in the header) so that every context of the instance reads and writes the
 * same one. Address a's granule is shadow[a >>> 3].
 *
 *   physical memory   | granule 0 | granule 1 | ... | granule k | ...
 *                       8 bytes     8 bytes           8 bytes
 *   shadow            |  byte 0   |  byte 1   | ... |  byte k   |
 *
 *   0x00        all 8 bytes accessible
 *   0x01..0x07  the first N bytes accessible, the rest not (an object ending mid-granule)
 *   0xFF        page free (on the buddy lists, or never handed out through the facade)
 *   0xFE        page red zone: the tail of a kmalloc_large block past the requested size
 *   0xFC        slab red zone: around an object, and past a kmalloc object's requested size
 *   0xFB        slab object freed (in the quarantine, or back on a freelist)
 *   0xF8        vmalloc: the tail of a vmalloc area's last page past the requested size
 *
 * Virtual (vmalloc) addresses have no shadow of their own: the physical page behind one
 * carries the state (a page is mapped at one virtual address at a time, by vmalloc).
 *
 * Invariant (checked by tests, not by verify(): the shadow is advice, not metadata):
 *   - a byte of a live object, from its start to its requested size, has shadow
 *     0x00 or a partial value covering it; every other byte of its slot is poisoned
 */

/** Shadow values (Linux KASAN_* in mm/kasan/kasan.h). */
export const enum Shadow {
  GRANULE = 8,
  SHIFT = 3,
  PAGE_FREE = 0xff,
  PAGE_REDZONE = 0xfe,
  SLAB_REDZONE = 0xfc,
  SLAB_FREE = 0xfb,
  VMALLOC_INVALID = 0xf8,
}

/** Bytes of shadow for `bytes` of memory (whole words, for the header). */
export function shadowBytesFor(bytes: number): number {
  return Math.ceil(bytes / 8 / 4) * 4;
}

/** Marks [addr, addr + size) accessible; `addr` is granule-aligned. */
export function unpoison(sh: Uint8Array, addr: number, size: number): void {
  const g = addr >>> 3;
  const full = size >>> 3;
  sh.fill(0, g, g + full);
  if ((size & 7) !== 0) sh[g + full] = size & 7;
}

/**
 * Poisons the granules from the one after [.., from) to the one holding `to - 1` with
 * `value`: `from` may end a partial granule (left as it is), `to` is rounded up.
 */
export function poison(sh: Uint8Array, from: number, to: number, value: number): void {
  if (to > from) sh.fill(value, (from + 7) >>> 3, (to + 7) >>> 3);
}

/**
 * The first byte of [addr, addr + size) whose granule says it may not be touched, or -1
 * (memory_is_poisoned_n). `addr` lies in the shadow's range.
 */
export function firstBad(sh: Uint8Array, addr: number, size: number): number {
  const end = addr + size;
  for (let g = addr >>> 3, last = (end - 1) >>> 3; g <= last; g++) {
    const v = sh[g] as number;
    if (v === 0) continue;
    const base = g * 8;
    if (v < 8) {
      if (Math.min(end, base + 8) - base <= v) continue;
      return Math.max(addr, base + v);
    }
    return Math.max(addr, base);
  }
  return -1;
}

/**
 * The shadow value that says why `bad` may not be touched: its granule's, or the next
 * granule's when its own is partial (get_shadow_bug_type).
 */
export function badValue(sh: Uint8Array, bad: number): number {
  const v = sh[bad >>> 3] as number;
  return v > 0 && v < 8 ? ((sh[(bad >>> 3) + 1] as number | undefined) ?? 0) : v;
}
