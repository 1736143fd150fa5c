/* What the page allocator's tests share. */

import { Kmem } from "../../src/index.js";

const PAGE = 4096;
const MIN = 400;

/** 8 MiB, min watermark 400 pages: low = 500, high = 600 (min/4 dominates the gap). */
export function zone(log?: (line: string) => void) {
  const mm = new Kmem({ memory: 8 << 20, minFreeBytes: MIN * PAGE, ...(log ? { log } : {}) });
  return mm;
}
