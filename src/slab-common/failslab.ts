/*
 * should_failslab (Linux mm/slab_common.c): whether fault injection fails this object
 * allocation. Every object allocator asks it before touching its lists.
 */

import type { FaultAttr } from "../fault/index.js";
import { Gfp, type LogFn } from "../page/index.js";
import { SlabFlag } from "./flags.js";

/**
 * should_failslab's filters, then should_fail_ex with the object size: __GFP_NOFAIL is never
 * failed, ignoreGfpWait spares requests that may reclaim, cacheFilter limits it to
 * SLAB_FAILSLAB caches. Shared by SLUB and SLOB; the caller counts what it injects.
 */
export function failslabHits(
  attr: FaultAttr,
  gfp: number,
  size: number,
  cacheFlags: number,
  log: LogFn | null,
): boolean {
  if ((gfp & Gfp.NOFAIL) !== 0) return false;
  if (attr.ignoreGfpWait && (gfp & Gfp.DIRECT_RECLAIM) !== 0) return false;
  if (attr.cacheFilter && (cacheFlags & SlabFlag.FAILSLAB) === 0) return false;
  return attr.shouldFail(size, (gfp & Gfp.NOWARN) === 0 ? log : null);
}
