/*
 * zsmalloc's and zram's lock words, for offlineCpu (src/sync/robust.ts): the registry's
 * lock, each zram device's slot locks and backing bitmap lock, each pool's lock. They are
 * found from the registry's lists (Hdr.ZS), walked as the cache list is: without the
 * registry lock (its holder may be the dead context), bounded, every descriptor's magic
 * checked, so that a list another context is changing at that moment gives at worst a
 * lock left out, never a word that is not a lock.
 *
 * A slot lock is a word of the device's table, a vmalloc area: the table's pages are found
 * through the page tables (`virtToPhys`; a page that cannot be translated is left out, and
 * named). Without `virtToPhys` (Kmem.reopen, before vmalloc opens) the slot locks are left
 * out.
 */

import { Hdr, type PhysMem } from "../memory/index.js";
import { Pool, Reg, registryWords } from "../zsmalloc/index.js";
import { Zd, ZramEntry } from "./layout.js";

/** A lock word and its name in reports. */
export interface LockWord {
  readonly w: Int32Array;
  readonly i: number;
  readonly name: string;
}

/** Descriptors per list walked at most (more is a damaged list). */
const MAX_LIST = 1 << 16;

function nameAt(phys: PhysMem, addr: number): string {
  const view = phys.byteViews[addr >>> phys.winShift];
  if (view === undefined) return "?";
  const at = addr & phys.winMask;
  let s = "";
  for (let k = at; k < at + Pool.NAME_BYTES && k < view.length && view[k] !== 0; k++) {
    const c = view[k] as number;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : "?";
  }
  return s;
}

function wordAt(phys: PhysMem, wi: number, name: string): LockWord {
  return { w: phys.wordView(wi), i: phys.wordIndex(wi), name };
}

/** A descriptor address on a list: word aligned, its `words` in memory, with `magic`. */
function isDesc(phys: PhysMem, at: number, words: number, magic: number): boolean {
  if (at <= 0 || (at & 3) !== 0) return false;
  const view = phys.wordView(at >>> 2) as Int32Array | undefined;
  if (view === undefined || phys.wordIndex(at >>> 2) + words > view.length) return false;
  return phys.word(at >>> 2) === magic;
}

/**
 * The lock words, in the lock order: the registry's (2a), each device's slot locks (2b)
 * and backing bitmap lock (2c) in `outer`; each pool's (4a) in `inner` (after the cache
 * list_locks, before the zone locks). `skipped` gets what could not be looked at.
 */
export function zsLockWords(
  phys: PhysMem,
  virtToPhys: ((addr: number) => number) | null,
  skipped: string[],
): { outer: LockWord[]; inner: LockWord[] } {
  const outer: LockWord[] = [];
  const inner: LockWord[] = [];
  const at = Atomics.load(phys.header, Hdr.ZS) >>> 0;
  if (!isDesc(phys, at, registryWords(phys.nrCpus), Reg.MAGIC_VALUE)) return { outer, inner };
  const reg = at >>> 2;
  outer.push(wordAt(phys, reg + Reg.LOCK, "the zsmalloc registry lock"));
  const seen = new Set<number>();
  for (
    let d = phys.word(reg + Reg.ZRAMS) >>> 0;
    d !== 0 && !seen.has(d) && seen.size < MAX_LIST && isDesc(phys, d, Zd.WORDS, Zd.MAGIC_VALUE);
    d = phys.word((d >>> 2) + Zd.NEXT) >>> 0
  ) {
    seen.add(d);
    const name = nameAt(phys, d + Zd.NAME * 4);
    if (virtToPhys !== null) {
      const table = phys.word((d >>> 2) + Zd.TABLE) >>> 0;
      const nr = phys.word((d >>> 2) + Zd.NR_PAGES) >>> 0;
      const perPage = phys.pageSize / ZramEntry.BYTES;
      let base = -1;
      for (let k = 0; k < nr; k++) {
        if (k % perPage === 0) {
          try {
            base = virtToPhys(table + k * ZramEntry.BYTES) >>> 2;
          } catch {
            base = -1;
            skipped.push(
              `${name}: slots ${k}.. (table page not mapped): their locks not looked at`,
            );
          }
        }
        if (base < 0) continue;
        const wi = base + (k % perPage) * ZramEntry.WORDS + ZramEntry.LOCK;
        // Only a held slot lock is listed: a table has one per page of the device.
        if ((phys.word(wi) & 0xffff) !== 0) outer.push(wordAt(phys, wi, `${name} slot ${k} lock`));
      }
    }
    outer.push(wordAt(phys, (d >>> 2) + Zd.BD_LOCK, `${name} backing bitmap lock`));
  }
  seen.clear();
  for (
    let d = phys.word(reg + Reg.POOLS) >>> 0;
    d !== 0 &&
    !seen.has(d) &&
    seen.size < MAX_LIST &&
    isDesc(phys, d, Pool.CLASS_MAP, Pool.MAGIC_VALUE);
    d = phys.word((d >>> 2) + Pool.NEXT) >>> 0
  ) {
    seen.add(d);
    const name = nameAt(phys, d + Pool.NAME * 4);
    inner.push(wordAt(phys, (d >>> 2) + Pool.LOCK, `zspool ${JSON.stringify(name)} lock`));
  }
  return { outer, inner };
}
