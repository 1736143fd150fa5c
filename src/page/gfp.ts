/*
 * GFP ("get free pages") flags: how an allocation may behave, with Linux's bit values
 * (include/linux/gfp_types.h) so that modes print as the kernel prints them.
 *
 *   GFP_KERNEL  = __GFP_RECLAIM | __GFP_IO | __GFP_FS   may reclaim and wait; stops at the min watermark
 *   GFP_ATOMIC  = __GFP_HIGH | __GFP_KSWAPD_RECLAIM     must not wait; may dip into the min reserve
 *   GFP_NOWAIT  = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN   must not wait; no reserve access
 */

/**
 * The bits as a const enum, inlined by tsc where kmem itself tests them (hot paths must not
 * read imported bindings); the exported constants below are the same values for users.
 */
export const enum Gfp {
  DMA = 0x01,
  HIGHMEM = 0x02,
  DMA32 = 0x04,
  MOVABLE = 0x08,
  RECLAIMABLE = 0x10,
  HIGH = 0x20,
  IO = 0x40,
  FS = 0x80,
  ZERO = 0x100,
  DIRECT_RECLAIM = 0x400,
  KSWAPD_RECLAIM = 0x800,
  WRITE = 0x1000,
  NOWARN = 0x2000,
  RETRY_MAYFAIL = 0x4000,
  NOFAIL = 0x8000,
  NORETRY = 0x10000,
  MEMALLOC = 0x20000,
  COMP = 0x40000,
  NOMEMALLOC = 0x80000,
  HARDWALL = 0x100000,
  THISNODE = 0x200000,
  ACCOUNT = 0x400000,
  /** Every bit kmem knows; any other bit in a gfp argument is a RangeError. */
  VALID_MASK = 0x7ffdff,
  RECLAIM = DIRECT_RECLAIM | KSWAPD_RECLAIM,
  KERNEL = RECLAIM | IO | FS,
  ATOMIC = HIGH | KSWAPD_RECLAIM,
  NOWAIT = KSWAPD_RECLAIM | NOWARN,
  NOIO = RECLAIM,
  NOFS = RECLAIM | IO,
  USER = KERNEL | HARDWALL,
}

export const __GFP_DMA: number = Gfp.DMA;
export const __GFP_HIGHMEM: number = Gfp.HIGHMEM;
export const __GFP_DMA32: number = Gfp.DMA32;
export const __GFP_MOVABLE: number = Gfp.MOVABLE;
export const __GFP_RECLAIMABLE: number = Gfp.RECLAIMABLE;
/** High priority: may use part of the min reserve. */
export const __GFP_HIGH: number = Gfp.HIGH;
export const __GFP_IO: number = Gfp.IO;
export const __GFP_FS: number = Gfp.FS;
/** Return zeroed memory. */
export const __GFP_ZERO: number = Gfp.ZERO;
/** The caller may enter direct reclaim (may wait). */
export const __GFP_DIRECT_RECLAIM: number = Gfp.DIRECT_RECLAIM;
/** Wake background reclaim (kswapd) when below the low watermark. */
export const __GFP_KSWAPD_RECLAIM: number = Gfp.KSWAPD_RECLAIM;
export const __GFP_WRITE: number = Gfp.WRITE;
/** Do not report an allocation failure through the `log` option. */
export const __GFP_NOWARN: number = Gfp.NOWARN;
export const __GFP_RETRY_MAYFAIL: number = Gfp.RETRY_MAYFAIL;
/** Never fail: retry (and, where another context can free memory, wait) until it succeeds. */
export const __GFP_NOFAIL: number = Gfp.NOFAIL;
/** Only lightweight reclaim; failure is expected and cheap. */
export const __GFP_NORETRY: number = Gfp.NORETRY;
export const __GFP_MEMALLOC: number = Gfp.MEMALLOC;
export const __GFP_COMP: number = Gfp.COMP;
export const __GFP_NOMEMALLOC: number = Gfp.NOMEMALLOC;
export const __GFP_HARDWALL: number = Gfp.HARDWALL;
/** Allocate on the requested node only, no fallback. */
export const __GFP_THISNODE: number = Gfp.THISNODE;
export const __GFP_ACCOUNT: number = Gfp.ACCOUNT;
export const __GFP_RECLAIM: number = Gfp.RECLAIM;
export const GFP_KERNEL: number = Gfp.KERNEL;
export const GFP_ATOMIC: number = Gfp.ATOMIC;
export const GFP_NOWAIT: number = Gfp.NOWAIT;
export const GFP_NOIO: number = Gfp.NOIO;
export const GFP_NOFS: number = Gfp.NOFS;
export const GFP_USER: number = Gfp.USER;

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

/**
 * The entry points' test of a gfp argument: an int32 made of known GFP bits. A few
 * instructions where it inlines; checkGfp (cold) says what is wrong.
 */
export function validGfp(gfp: number): boolean {
  return typeof gfp === "number" && (gfp & ~Gfp.VALID_MASK) === 0 && (gfp | 0) === gfp;
}

/** Throws TypeError/RangeError unless `gfp` is an integer made of known GFP bits. */
export function checkGfp(gfp: unknown): asserts gfp is number {
  if (typeof gfp !== "number" || (gfp | 0) !== gfp) {
    throw new TypeError(`gfp must be an integer mask of GFP flags, got ${String(gfp)}`);
  }
  if ((gfp & ~Gfp.VALID_MASK) !== 0 || gfp < 0) {
    const unknown = (gfp & ~Gfp.VALID_MASK) >>> 0;
    throw new RangeError(
      `gfp 0x${(gfp >>> 0).toString(16)} has unknown bits 0x${unknown.toString(16)}`,
    );
  }
}
