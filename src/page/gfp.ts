/*
 * GFP ("get free pages") flags: how an allocation may behave, with Linux's bit values
 * (include/linux/gfp_types.h) so that modes print as the kernel prints them.
 *
 *   GFP_KERNEL  = __GFP_RECLAIM | __GFP_IO | __GFP_FS   may reclaim and wait; stops at the min watermark
 *   GFP_ATOMIC  = __GFP_HIGH | __GFP_KSWAPD_RECLAIM     must not wait; may dip into the min reserve
 *   GFP_NOWAIT  = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN   must not wait; no reserve access
 */

export const __GFP_DMA = 0x01;
export const __GFP_HIGHMEM = 0x02;
export const __GFP_DMA32 = 0x04;
export const __GFP_MOVABLE = 0x08;
export const __GFP_RECLAIMABLE = 0x10;
/** High priority: may use part of the min reserve. */
export const __GFP_HIGH = 0x20;
export const __GFP_IO = 0x40;
export const __GFP_FS = 0x80;
/** Return zeroed memory. */
export const __GFP_ZERO = 0x100;
/** The caller may enter direct reclaim (may wait). */
export const __GFP_DIRECT_RECLAIM = 0x400;
/** Wake background reclaim (kswapd) when below the low watermark. */
export const __GFP_KSWAPD_RECLAIM = 0x800;
export const __GFP_WRITE = 0x1000;
/** Do not report an allocation failure through the `log` option. */
export const __GFP_NOWARN = 0x2000;
export const __GFP_RETRY_MAYFAIL = 0x4000;
/** Never fail: retry (and, where another context can free memory, wait) until it succeeds. */
export const __GFP_NOFAIL = 0x8000;
/** Only lightweight reclaim; failure is expected and cheap. */
export const __GFP_NORETRY = 0x10000;
export const __GFP_MEMALLOC = 0x20000;
export const __GFP_COMP = 0x40000;
export const __GFP_NOMEMALLOC = 0x80000;
export const __GFP_HARDWALL = 0x100000;
/** Allocate on the requested node only, no fallback. */
export const __GFP_THISNODE = 0x200000;
export const __GFP_ACCOUNT = 0x400000;

/** Every bit kmem knows; any other bit in a gfp argument is a RangeError. */
export const GFP_VALID_MASK = 0x7ffdff;

export const __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;
export const GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
export const GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
export const GFP_NOWAIT = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN;
export const GFP_NOIO = __GFP_RECLAIM;
export const GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
export const GFP_USER = GFP_KERNEL | __GFP_HARDWALL;

/* Composite names first (as the kernel's %pGg), then single bits. */
const GFP_NAMES: readonly (readonly [number, string])[] = [
  [GFP_USER, "GFP_USER"],
  [GFP_KERNEL, "GFP_KERNEL"],
  [GFP_NOFS, "GFP_NOFS"],
  [GFP_NOIO, "GFP_NOIO"],
  [GFP_ATOMIC, "GFP_ATOMIC"],
  [GFP_NOWAIT, "GFP_NOWAIT"],
  [__GFP_DMA, "__GFP_DMA"],
  [__GFP_HIGHMEM, "__GFP_HIGHMEM"],
  [__GFP_DMA32, "__GFP_DMA32"],
  [__GFP_MOVABLE, "__GFP_MOVABLE"],
  [__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"],
  [__GFP_HIGH, "__GFP_HIGH"],
  [__GFP_IO, "__GFP_IO"],
  [__GFP_FS, "__GFP_FS"],
  [__GFP_ZERO, "__GFP_ZERO"],
  [__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"],
  [__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"],
  [__GFP_WRITE, "__GFP_WRITE"],
  [__GFP_NOWARN, "__GFP_NOWARN"],
  [__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"],
  [__GFP_NOFAIL, "__GFP_NOFAIL"],
  [__GFP_NORETRY, "__GFP_NORETRY"],
  [__GFP_MEMALLOC, "__GFP_MEMALLOC"],
  [__GFP_COMP, "__GFP_COMP"],
  [__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"],
  [__GFP_HARDWALL, "__GFP_HARDWALL"],
  [__GFP_THISNODE, "__GFP_THISNODE"],
  [__GFP_ACCOUNT, "__GFP_ACCOUNT"],
];

/** `0xcc0(GFP_KERNEL)`-style text for a gfp mask, as in kernel failure reports. */
export function gfpString(gfp: number): string {
  const names: string[] = [];
  let rest = gfp;
  for (const [bits, name] of GFP_NAMES) {
    if (rest !== 0 && (rest & bits) === bits) {
      names.push(name);
      rest &= ~bits;
    }
  }
  return `0x${gfp.toString(16)}(${names.length > 0 ? names.join("|") : "none"})`;
}

/** Throws TypeError/RangeError unless `gfp` is an integer made of known GFP bits. */
export function checkGfp(gfp: unknown): asserts gfp is number {
  if (typeof gfp !== "number" || (gfp | 0) !== gfp) {
    throw new TypeError(`gfp must be an integer mask of GFP flags, got ${String(gfp)}`);
  }
  if ((gfp & ~GFP_VALID_MASK) !== 0 || gfp < 0) {
    throw new RangeError(`gfp has unknown bits: 0x${(gfp >>> 0).toString(16)}`);
  }
}
