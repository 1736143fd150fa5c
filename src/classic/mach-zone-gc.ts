/*
 * The zone allocator's garbage collector (Mach's zone_gc, in the two-pass form of OSF/1 and
 * XNU's zalloc.c) and its verify().
 *
 * zone_gc, for every collectable zone:
 *   0. skip it unless its free bytes exceed both 2 x allocSize and a tenth of its size (a
 *      zone of whole-page elements is always scanned): a cheap test that pages could come back
 *   1. take its whole free list; for each free element, collect_count++ on its zone page
 *   2. for each element again: if its page's collect_count equals its alloc_count, every
 *      element of the page is free: the element leaves the zone (both counts - 1, the zone's
 *      size shrinks), and the page whose alloc_count reaches 0 joins the pages to free;
 *      otherwise the element goes back on the zone's free list, in list order, and its
 *      page's collect_count is cleared (zone_page_keep)
 *   3. the pages to free go back to the page allocator
 *
 * So exactly the pages whose elements are all free leave, and no element of a page that
 * keeps one allocated element is touched. Mach's pageout daemon ran it at most once a
 * minute; kmem's reclaim calls it (as a shrinker) only under memory pressure, so it has no
 * rate limit of its own.
 *
 * While it runs, a page on its way out holds the list of pages to free in its first two
 * words (next page, its order): every element of it has been seen by then.
 */

import { hex, KmemError } from "../errors.js";
import { Ctl } from "./control.js";
import { type MachZoneAllocator, ZFrame, Zc, ZoneFlag, Zr } from "./mach-zone.js";

/** zone_gc over every collectable zone of `a`; returns the pages given back. */
export function zoneGc(a: MachZoneAllocator): number {
  const w = a.w;
  const ctl = a.ctl;
  const n = w[ctl + Zc.NZONES] as number;
  const pageSize = a.pageSize;
  w[ctl + Zc.GC_RUNS]!++;
  let doomed = 0; // the pages to free, linked through their first word
  let pages = 0;
  for (let z = 0; z < n; z++) {
    const zr = a.zones + z * Zr.WORDS;
    if (((w[zr + Zr.FLAGS] as number) & ZoneFlag.COLLECTABLE) === 0) continue;
    const elem = w[zr + Zr.ELEM_SIZE] as number;
    let cur = (w[zr + Zr.CUR_SIZE] as number) >>> 0;
    const free = cur - (w[zr + Zr.COUNT] as number) * elem;
    const allocSize = (w[zr + Zr.ALLOC_SIZE] as number) >>> 0;
    if (elem % pageSize !== 0 && (free <= 2 * allocSize || free <= Math.floor(cur / 10))) continue;
    const order = w[zr + Zr.PAGE_ORDER] as number;
    const zmask = ~((pageSize << order) - 1);
    const countsOf = (e: number): number => (a.table.at((e & zmask) >>> a.pageShift) >>> 2) + 1;
    // Pass 1: count the free elements of every page.
    const scan = (w[zr + Zr.FREE] as number) >>> 0;
    w[zr + Zr.FREE] = 0;
    for (let e = scan; e !== 0; e = (w[e >>> 2] as number) >>> 0) {
      w[countsOf(e)]! += 1 << 16;
      w[ctl + Zc.GC_COLLECTED]!++;
    }
    // Pass 2: free the elements of pages all free, keep the others in order.
    let keepHead = 0;
    let keepTail = 0;
    for (let e = scan; e !== 0;) {
      const next = (w[e >>> 2] as number) >>> 0;
      const t = countsOf(e);
      const counts = w[t] as number;
      const alloc = counts & 0xffff;
      if (counts >>> 16 === alloc) {
        w[t] = (alloc - 1) | (((counts >>> 16) - 1) << 16);
        cur -= elem;
        w[zr + Zr.GC_FREED]!++;
        w[ctl + Zc.GC_FREED]!++;
        if (alloc === 1) {
          const page = (e & zmask) >>> 0;
          w[page >>> 2] = doomed;
          w[(page >>> 2) + 1] = order;
          doomed = page;
          w[zr + Zr.GC_PAGES]! += 1 << order;
        }
      } else {
        w[t] = alloc; // zone_page_keep: collect_count 0
        if (keepTail === 0) keepHead = e;
        else w[keepTail >>> 2] = e;
        keepTail = e;
        w[zr + Zr.GC_KEPT]!++;
        w[ctl + Zc.GC_KEPT]!++;
      }
      e = next;
    }
    if (keepTail !== 0) {
      w[keepTail >>> 2] = w[zr + Zr.FREE] as number;
      w[zr + Zr.FREE] = keepHead;
    }
    w[zr + Zr.CUR_SIZE] = cur;
  }
  // Pass 3: the pages go back.
  while (doomed !== 0) {
    const page = doomed;
    doomed = (w[page >>> 2] as number) >>> 0;
    const order = w[(page >>> 2) + 1] as number;
    const pfn = page >>> a.pageShift;
    for (let i = 0; i < 1 << order; i++) a.table.release(pfn + i);
    a.givePages(page, order);
    pages += 1 << order;
  }
  w[ctl + Zc.GC_PAGES]! += pages;
  return pages;
}

/** The zone allocator's verify(): ZONE-1..5 and TABLE-1 from the bytes. */
export function verifyZones(a: MachZoneAllocator): void {
  const w = a.w;
  const ctl = a.ctl;
  const n = w[ctl + Zc.NZONES] as number;
  const pageSize = a.pageSize;
  const fail = (id: string, what: string): never => {
    throw new KmemError("CORRUPTION", `${a.name}: ${id}: ${what}`);
  };
  const zonePages = new Array<number>(n).fill(0);
  let live = 0;
  let liveBytes = 0;
  let big = 0;
  let bad: string | null = null;
  a.table.forEach((pfn, e) => {
    if (bad !== null) return;
    const ent = w[e >>> 2] as number;
    const kind = (ent >>> 8) & 0xff;
    const order = (ent >>> 16) & 0x1f;
    if (kind === ZFrame.LARGE) {
      if (pfn % (1 << order) !== 0 || (ent & 0xff) !== 0 || w[(e >>> 2) + 1] !== 0) {
        bad = `ZONE-1: frame ${pfn}: pages served whole, entry ${hex(ent >>> 0)}`;
        return;
      }
      live++;
      liveBytes += pageSize << order;
      big += 1 << order;
      return;
    }
    const z = (ent & 0xff) - 1;
    if ((kind !== ZFrame.HEAD && kind !== ZFrame.TAIL) || z < 0 || z >= n) {
      bad = `ZONE-1: frame ${pfn}: entry ${hex(ent >>> 0)} is no zone page`;
      return;
    }
    const zr = a.zones + z * Zr.WORDS;
    if (order !== w[zr + Zr.PAGE_ORDER]) {
      bad = `ZONE-1: frame ${pfn}: order ${order}, zone ${a.zoneName(z)}'s pages are of order ${w[zr + Zr.PAGE_ORDER]}`;
      return;
    }
    const head = pfn - (pfn % (1 << order));
    const he = a.table.at(head);
    if (
      (kind === ZFrame.HEAD) !== (pfn === head) ||
      he === 0 ||
      w[he >>> 2] !== ((ent & 0xffff00ff) | (ZFrame.HEAD << 8))
    ) {
      bad = `ZONE-1: frame ${pfn}: not where its zone page's head says`;
      return;
    }
    if (kind === ZFrame.TAIL) {
      if (w[(e >>> 2) + 1] !== 0) bad = `ZONE-1: frame ${pfn}: a tail frame with counts`;
      return;
    }
    const counts = w[(e >>> 2) + 1] as number;
    if (counts >>> 16 !== 0) {
      bad = `ZONE-2: zone page ${hex(pfn * pageSize)}: collect_count ${counts >>> 16} outside the collector`;
      return;
    }
    if ((counts & 0xffff) !== w[zr + Zr.PER_PAGE]) {
      bad = `ZONE-3: zone page ${hex(pfn * pageSize)}: alloc_count ${counts & 0xffff}, ${w[zr + Zr.PER_PAGE]} elements`;
      return;
    }
    zonePages[z]!++;
  });
  if (bad !== null) fail((bad as string).slice(0, 6), (bad as string).slice(8));
  let held = big;
  for (let z = 0; z < n; z++) {
    const zr = a.zones + z * Zr.WORDS;
    const elem = w[zr + Zr.ELEM_SIZE] as number;
    const per = w[zr + Zr.PER_PAGE] as number;
    const order = w[zr + Zr.PAGE_ORDER] as number;
    const cur = (w[zr + Zr.CUR_SIZE] as number) >>> 0;
    const count = w[zr + Zr.COUNT] as number;
    const name = a.zoneName(z);
    if (cur !== zonePages[z]! * per * elem) {
      fail(
        "ZONE-4",
        `zone ${name}: cur_size ${cur}, its ${zonePages[z]} pages hold ${zonePages[z]! * per * elem}`,
      );
    }
    const want = cur / elem - count;
    if (count < 0 || want < 0)
      fail("ZONE-4", `zone ${name}: count ${count} of ${cur / elem} elements`);
    const seen = new Set<number>();
    let len = 0;
    for (let e = (w[zr + Zr.FREE] as number) >>> 0; e !== 0; e = (w[e >>> 2] as number) >>> 0) {
      const k = e < a.memEnd ? a.table.at(e >>> a.pageShift) : 0;
      const ent = k === 0 ? 0 : (w[k >>> 2] as number);
      const kind = (ent >>> 8) & 0xff;
      const off = e & ((pageSize << order) - 1);
      if (
        (ent & 0xff) !== z + 1 ||
        (kind !== ZFrame.HEAD && kind !== ZFrame.TAIL) ||
        off % elem !== 0 ||
        off / elem >= per
      ) {
        fail("ZONE-2", `zone ${name}'s free list holds ${hex(e)}, not one of its elements`);
      }
      if (seen.has(e))
        fail("ZONE-2", `zone ${name}'s free list holds ${hex(e)} twice (a double free?)`);
      seen.add(e);
      if (++len > want) break;
    }
    if (len !== want) fail("ZONE-4", `zone ${name}: ${want} elements free, ${len} on its list`);
    live += count;
    liveBytes += count * elem;
    held += zonePages[z]! << order;
  }
  a.checkLive("ZONE-5", live, liveBytes);
  if (w[ctl + Ctl.BIG_PAGES] !== big)
    fail("ZONE-5", `${w[ctl + Ctl.BIG_PAGES]} pages served whole counted, ${big} found`);
  a.checkHeld("ZONE-5", held);
  a.checkTable(a.table);
}
