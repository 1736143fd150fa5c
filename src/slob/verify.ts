/*
 * SLOB's verify(): SLOB-1..4 (listed in the header of slob.ts) from the descriptor, the
 * frames and the blocks, with slob_lock held by the caller.
 */

import { KmemError } from "../errors.js";
import { Frame, Pg, PgFlag } from "../memory/index.js";
import { CacheDesc, Slob, type SlobAllocator, SlobDesc, SlobList, SlobPg } from "./slob.js";

function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}

/** SLOB-1..4 over the whole of SLOB. */
export function verifySlob(s: SlobAllocator): void {
  if (s.d[SlobDesc.MAGIC] !== SlobDesc.MAGIC_VALUE) corrupt("SLOB-1", "descriptor magic is wrong");
  const f = s.f;
  const onList = new Map<number, number>();
  for (let list = SlobList.SMALL; list <= SlobList.LARGE; list++) {
    const head = s.d[SlobDesc.LIST_HEADS + list - 1] as number;
    if (head === 0) continue;
    let pfn = head;
    let steps = 0;
    do {
      if (pfn < s.firstPfn || pfn >= s.totalPages)
        corrupt("SLOB-1", `list ${list} links to pfn ${pfn}`);
      const i = pfn * Frame.WORDS;
      if (
        f[i + Pg.FLAGS] !== (PgFlag.HEAD | PgFlag.SLAB) ||
        f[i + Pg.ORDER] !== 0 ||
        f[i + SlobPg.LIST] !== list
      ) {
        corrupt("SLOB-1", `pfn ${pfn} on list ${list} is not an order-0 SLOB page of that list`);
      }
      if ((f[i + SlobPg.UNITS] as number) <= 0)
        corrupt("SLOB-1", `pfn ${pfn} is on a list but full`);
      const next = f[i + Pg.NEXT] as number;
      if (f[next * Frame.WORDS + Pg.PREV] !== pfn)
        corrupt("SLOB-1", `list ${list}: next(${pfn}).prev is wrong`);
      onList.set(pfn, list);
      pfn = next;
      if (++steps > s.totalPages) corrupt("SLOB-1", `list ${list} does not close`);
    } while (pfn !== head);
  }
  const counts = new Map<number, number>();
  let pages = 0;
  for (let pfn = s.firstPfn; pfn < s.totalPages;) {
    const i = pfn * Frame.WORDS;
    const flags = f[i + Pg.FLAGS] as number;
    const order = f[i + Pg.ORDER] as number;
    const step = (flags & (PgFlag.HEAD | PgFlag.BUDDY)) !== 0 ? 1 << order : 1;
    if ((flags & PgFlag.SLAB) !== 0) {
      const list = f[i + SlobPg.LIST] as number;
      pages += 1 << order;
      if (list === SlobList.BIG) {
        const id = f[i + SlobPg.CACHE] as number;
        if ((s.caches[id] ?? null) === null)
          corrupt("SLOB-3", `big block at pfn ${pfn} names no cache (${id})`);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      } else {
        if ((onList.get(pfn) ?? SlobList.NONE) !== list)
          corrupt("SLOB-1", `pfn ${pfn} says list ${list} but is not on it`);
        verifyPage(s, pfn, counts);
      }
    }
    pfn += step;
  }
  if (pages !== s.d[SlobDesc.PAGES])
    corrupt("SLOB-4", `${pages} SLOB pages found, the gauge says ${s.d[SlobDesc.PAGES]}`);
  const km = counts.get(Slob.KMALLOC_ID) ?? 0;
  if (km !== s.d[SlobDesc.KMALLOC_ACTIVE])
    corrupt(
      "SLOB-4",
      `${km} kmalloc objects found, the count says ${s.d[SlobDesc.KMALLOC_ACTIVE]}`,
    );
  let descs = 0;
  for (const c of s.caches) {
    if (c === null) continue;
    descs++;
    const n = counts.get(c.id) ?? 0;
    if (n !== c.dv[CacheDesc.ACTIVE])
      corrupt(
        "SLOB-4",
        `cache ${JSON.stringify(c.name)}: ${n} objects found, the count says ${c.dv[CacheDesc.ACTIVE]}`,
      );
  }
  if ((counts.get(Slob.BOOT_ID) ?? 0) !== descs)
    corrupt(
      "SLOB-4",
      `${counts.get(Slob.BOOT_ID) ?? 0} cache descriptors found for ${descs} caches`,
    );
}

/** SLOB-2 and SLOB-3 on one small page; counts live objects by cache id. */
function verifyPage(s: SlobAllocator, pfn: number, counts: Map<number, number>): void {
  const i = pfn * Frame.WORDS;
  const base = pfn << (s.pageShift - 1);
  const end = s.pageUnits;
  let fp = s.f[i + SlobPg.FREELIST] as number;
  let free = 0;
  let lastFreeEnd = -1;
  for (let o = 0; o < end;) {
    if (o === fp) {
      const units = s.unitsAt(base, o);
      const next = s.nextAt(base, o);
      if (o + units > end)
        corrupt("SLOB-2", `pfn ${pfn}: free block at unit ${o} runs past the page`);
      if (next !== end && next <= o + units)
        corrupt("SLOB-2", `pfn ${pfn}: free block at unit ${o} is not followed in address order`);
      if (o === lastFreeEnd) corrupt("SLOB-2", `pfn ${pfn}: free blocks touch at unit ${o}`);
      free += units;
      lastFreeEnd = o + units;
      o += units;
      fp = next;
    } else {
      if (fp !== end && fp < o)
        corrupt("SLOB-2", `pfn ${pfn}: free list points back to unit ${fp}`);
      const units = s.h16(base + o);
      const obj = (base + o) * Slob.UNIT + Slob.HDR;
      const id = s.tag(s.h16(base + o + 1), obj);
      const live =
        id === Slob.KMALLOC_ID ||
        id === Slob.BOOT_ID ||
        id === Slob.OWN_ID ||
        (s.caches[id] ?? null) !== null;
      if (units <= Slob.HDR_UNITS || o + units > end || !live) {
        corrupt(
          "SLOB-3",
          `pfn ${pfn}: no valid block at unit ${o} (units ${units}, tag decodes to cache ${id})`,
        );
      }
      counts.set(id, (counts.get(id) ?? 0) + 1);
      o += units;
    }
  }
  if (fp !== end) corrupt("SLOB-2", `pfn ${pfn}: free list continues past the blocks (unit ${fp})`);
  if (free !== s.f[i + SlobPg.UNITS])
    corrupt(
      "SLOB-2",
      `pfn ${pfn}: ${free} free units found, the page says ${s.f[i + SlobPg.UNITS]}`,
    );
}
