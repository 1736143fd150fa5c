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
 * out; reopen repairs them, and settles the devices, once the layers are open.
 */

import { Hdr, type PhysMem } from "../memory/index.js";
import { lock, unlock } from "../sync/index.js";
import {
  drainBuild,
  Intent,
  intentAt,
  Pool,
  recoverPool,
  releaseMap,
  Reg,
  registryOf,
  registryWords,
  ZsContext,
  type ZsDeps,
} from "../zsmalloc/index.js";
import { Zd, ZramEntry, ZramFlag, ZramStat } from "./layout.js";

/** A lock word and its name in reports. */
export interface LockWord {
  readonly w: Int32Array;
  readonly i: number;
  readonly name: string;
  /** What it guards: the registry, a device's slot or bitmap, a pool; and its descriptor. */
  readonly kind: "registry" | "slot" | "bitmap" | "pool";
  readonly at: number;
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

function wordAt(
  phys: PhysMem,
  wi: number,
  name: string,
  kind: LockWord["kind"],
  at: number,
): LockWord {
  return { w: phys.wordView(wi), i: phys.wordIndex(wi), name, kind, at };
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
  outer.push(wordAt(phys, reg + Reg.LOCK, "the zsmalloc registry lock", "registry", at));
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
        if ((phys.word(wi) & 0xffff) !== 0)
          outer.push(wordAt(phys, wi, `${name} slot ${k} lock`, "slot", d));
      }
    }
    outer.push(wordAt(phys, (d >>> 2) + Zd.BD_LOCK, `${name} backing bitmap lock`, "bitmap", d));
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
    inner.push(
      wordAt(phys, (d >>> 2) + Pool.LOCK, `zspool ${JSON.stringify(name)} lock`, "pool", d),
    );
  }
  return { outer, inner };
}

/* ------------------------------------------------------------------ repair */

/**
 * offlineCpu's repair of zsmalloc and zram for one dead cpu (wire.ts makes one per call):
 * the recovery of each of their locks the cpu held, then, once every lock is released,
 * drain(): what the cpu's intent record (zsmalloc/layout.ts, Intent) names is finished or
 * undone, and the devices whose slots it touched are settled.
 *
 *   the registry lock     both lists' prev links rewritten from the next links (a pool or
 *                         device half added is not on the list: its descriptor was the
 *                         dead context's)
 *   a pool's lock         its classes rebuilt from mem_map (zsmalloc/recover.ts)
 *   a slot lock           the entry made whole: flags 0 (written last, cleared first) is
 *                         an empty slot, its handle and value cleared; the device settled
 *                         by drain()
 *   the bitmap lock       the block the dead cpu was taking (named before its bit is
 *                         set) or giving back (its slot cleared before) given back: no
 *                         slot holds it; bd_count recounted from the bits; the
 *                         next-block hint put back in range
 *
 * drain() first takes down the mapping the cpu held (MAP: the zspage's mapcount, under
 * the pool's lock), so that compaction moves that zspage again (a death inside the lock
 * was settled by recoverPool, which recounts mapcounts from the live cpus' records).
 *
 * drain(), holding every slot lock of each device concerned, in index order (nothing
 * else held; no other context holds two: src/sync/lock.ts, 2b):
 *
 *   a handle a write allocated (NEW) that no       freed, object and handle: the write
 *   slot holds                                     never completed, and no one else can
 *                                                  know the handle (roll back)
 *   a write storing its entry (SLOT, under the     the entry stored as recorded (roll
 *   slot lock)                                     forward); the old object is OLD's
 *   NEW held by its slot                           kept (the write completed)
 *   a handle a slot let go of (OLD)                its object freed if still allocated,
 *                                                  then the handle itself (roll forward:
 *                                                  the slot is empty already)
 *   a writeback's commit (SLOT, ENTRY: WB and     rolled forward, as a write's: the page
 *   its block)                                     is in the block already
 *   a slot its writeback marked (WB_SLOT)          no longer UNDER_WB
 *   a backing block in its hands (BLOCK) that no   given back (its bit cleared under the
 *   slot holds                                     bitmap lock); one its slot holds kept
 *   the device's stats                             pages_stored, compr_data_size,
 *                                                  same_pages and huge_pages recounted
 *                                                  from the slots
 *
 * A handle in no slot is freed, never reattached: a slot is only ever given a handle with
 * its flags (written last), so a handle a slot does not name was not yet its, and the
 * write that made it is gone (the caller never learnt it succeeded). A slot naming a freed
 * handle cannot be left: the entry is cleared before its handle is freed.
 *
 * What stays lost is what the dead context had in hand between two records: a handle it
 * had just been given (before NEW names it), a zspage page it had just been given (before
 * BUILD or its chain names it), a handle it had freed but not yet kfree'd.
 */
export class ZsRecovery {
  /** Pages to free once every lock is released (drain() frees them). */
  readonly pending: number[] = [];
  private readonly phys: PhysMem;
  private readonly dirty = new Set<number>();

  constructor(phys: PhysMem) {
    this.phys = phys;
  }

  /** The repair of lock `l` after its owner died (the lock held by the caller). */
  recoverer(l: LockWord): (dead: number) => string {
    const phys = this.phys;
    switch (l.kind) {
      case "pool":
        return (dead) => recoverPool(phys, l.at, dead, this.pending);
      case "registry":
        return () => relinkRegistry(phys);
      case "slot":
        return () => {
          this.dirty.add(l.at);
          const e = l.i - ZramEntry.LOCK;
          if (l.w[e + ZramEntry.FLAGS] === 0) {
            l.w[e + ZramEntry.HANDLE] = 0;
            l.w[e + ZramEntry.ELEMENT_HI] = 0;
            return "an empty entry cleared; the device settled after";
          }
          return "its entry whole; the device settled after";
        };
      case "bitmap":
        return (dead) => bitmapRecover(phys, l.at, dead);
    }
  }

  /**
   * After the locks: the zspage cpu `dead` was making, the handles its intent record names,
   * the devices whose slot locks it held; then the pages queued are freed. Returns lines for
   * the report's recovered list and its unrecovered one.
   */
  drain(
    zs: ZsContext,
    dead: number,
    virtToPhys: ((addr: number) => number) | null,
  ): { recovered: string[]; unrecovered: string[] } {
    const phys = this.phys;
    const recovered: string[] = [];
    const unrecovered: string[] = [];
    const built = drainBuild(phys, dead, this.pending);
    if (built !== "") recovered.push(`zsmalloc: ${built}`);
    const reg = registryOf(phys);
    if (reg !== null) {
      const i = intentAt(phys.nrCpus, dead);
      const dev = (reg[i + Intent.DEVICE] as number) >>> 0;
      const mapped = releaseMapping(zs, reg, i);
      if (mapped !== "") recovered.push(`zsmalloc: ${mapped}`);
      const inFlight =
        reg[i + Intent.NEW] !== 0 ||
        reg[i + Intent.OLD] !== 0 ||
        reg[i + Intent.SLOT] !== 0 ||
        reg[i + Intent.BLOCK] !== 0 ||
        reg[i + Intent.WB_SLOT] !== 0;
      if (inFlight && isDesc(phys, dev, Zd.WORDS, Zd.MAGIC_VALUE)) this.dirty.add(dev);
      for (const d of this.dirty) {
        const name = nameAt(phys, d + Zd.NAME * 4);
        if (virtToPhys === null) {
          unrecovered.push(`${name}: its slots not looked at (no page tables yet)`);
          continue;
        }
        try {
          recovered.push(`${name}: ${settle(zs, reg, i, d, virtToPhys)}`);
        } catch (err) {
          unrecovered.push(`${name}: not settled: ${String(err)}`);
        }
      }
      if (inFlight) {
        reg[i + Intent.NEW] = 0;
        reg[i + Intent.OLD] = 0;
        reg[i + Intent.SLOT] = 0;
        reg[i + Intent.BLOCK] = 0;
        reg[i + Intent.WB_SLOT] = 0;
      }
      reg[i + Intent.DEVICE] = 0;
    }
    for (const addr of this.pending) zs.freePage(addr);
    this.pending.length = 0;
    return { recovered, unrecovered };
  }
}

/** The registry lock's repair: each list's prev links from its next links. */
function relinkRegistry(phys: PhysMem): string {
  const reg = registryOf(phys);
  if (reg === null) return "no registry";
  let n = 0;
  for (const [head, next, prev, words, magic] of [
    [Reg.POOLS, Pool.NEXT, Pool.PREV, Pool.CLASS_MAP, Pool.MAGIC_VALUE],
    [Reg.ZRAMS, Zd.NEXT, Zd.PREV, Zd.WORDS, Zd.MAGIC_VALUE],
  ] as const) {
    const seen = new Set<number>();
    let before = 0;
    let at = (reg[head] as number) >>> 0;
    if (at !== 0 && !isDesc(phys, at, words, magic)) {
      throw new Error(`the first descriptor on a registry list (${at}) is not one`);
    }
    while (at !== 0 && !seen.has(at) && seen.size < MAX_LIST && isDesc(phys, at, words, magic)) {
      seen.add(at);
      phys.setWord((at >>> 2) + prev, before);
      before = at;
      const nx = phys.word((at >>> 2) + next) >>> 0;
      if (nx !== 0 && !isDesc(phys, nx, words, magic)) phys.setWord((at >>> 2) + next, 0);
      at = nx !== 0 && isDesc(phys, nx, words, magic) ? nx : 0;
      n++;
    }
  }
  return `${n} pools and devices relinked`;
}

/**
 * Device `dev` after cpu `dead` died in one of its calls: every slot lock taken (index
 * order); a write that was storing its entry rolled forward (SLOT); NEW and OLD of the
 * cpu's intent record (at `i`) settled; the stats recounted.
 */
function settle(
  zs: ZsContext,
  reg: Int32Array,
  i: number,
  dev: number,
  virtToPhys: (addr: number) => number,
): string {
  const phys = zs.phys;
  const d = phys.wordsAt(dev, Zd.WORDS);
  const nr = d[Zd.NR_PAGES] as number;
  const table = (d[Zd.TABLE] as number) >>> 0;
  const pool = zs.openPoolAt((d[Zd.POOL] as number) >>> 0);
  const at: number[] = [];
  for (let k = 0; k < nr; k++) at.push(virtToPhys(table + k * ZramEntry.BYTES) >>> 2);
  const smp = phys.nrCpus > 1;
  let locked = 0;
  const kfree: number[] = [];
  let freed = 0;
  let rolled = 0;
  let blockFreed = false;
  try {
    for (; locked < nr; locked++) {
      const wi = (at[locked] as number) + ZramEntry.LOCK;
      const name = `slot ${locked} lock`;
      if (smp) lock(phys.wordView(wi), phys.wordIndex(wi), zs.cpu, name, phys.header);
    }
    const mine = (reg[i + Intent.DEVICE] as number) >>> 0 === dev;
    const slot = (reg[i + Intent.SLOT] as number) - 1;
    if (mine && slot >= 0 && slot < nr) {
      // A write storing its entry: stored (roll forward); an old object not yet let go of
      // is now OLD's.
      const e = at[slot] as number;
      const old = phys.word(e + ZramEntry.FLAGS);
      const oldHandle = phys.word(e + ZramEntry.HANDLE) >>> 0;
      const compressed = (old & (ZramFlag.SAME | ZramFlag.WB)) === 0;
      if (old !== 0 && compressed && oldHandle !== 0 && reg[i + Intent.OLD] === 0) {
        reg[i + Intent.OLD] = oldHandle;
      }
      // A written-back page overwritten: its block is BLOCK's (freed below).
      if ((old & ZramFlag.WB) !== 0 && reg[i + Intent.BLOCK] === 0) {
        reg[i + Intent.BLOCK] = oldHandle;
      }
      phys.setWord(e + ZramEntry.FLAGS, 0);
      phys.setWord(e + ZramEntry.HANDLE, reg[i + Intent.ENTRY] as number);
      phys.setWord(e + ZramEntry.ELEMENT_HI, reg[i + Intent.ENTRY + 2] as number);
      phys.setWord(e + ZramEntry.FLAGS, reg[i + Intent.ENTRY + 1] as number);
      rolled++;
    }
    reg[i + Intent.SLOT] = 0;
    // The slot its writeback marked: no longer under writeback (the block is BLOCK's).
    const wbSlot = (reg[i + Intent.WB_SLOT] as number) - 1;
    if (mine && wbSlot >= 0 && wbSlot < nr) {
      const e = at[wbSlot] as number;
      phys.setWord(e + ZramEntry.FLAGS, phys.word(e + ZramEntry.FLAGS) & ~ZramFlag.UNDER_WB);
    }
    reg[i + Intent.WB_SLOT] = 0;
    const owned = new Set<number>();
    const blocks = new Set<number>();
    let stored = 0;
    let compr = 0;
    let same = 0;
    let huge = 0;
    for (let k = 0; k < nr; k++) {
      const e = at[k] as number;
      const flags = phys.word(e + ZramEntry.FLAGS);
      const handle = phys.word(e + ZramEntry.HANDLE) >>> 0;
      if (flags === 0) {
        phys.setWord(e + ZramEntry.HANDLE, 0);
        phys.setWord(e + ZramEntry.ELEMENT_HI, 0);
        continue;
      }
      stored++;
      if ((flags & ZramFlag.WB) !== 0) {
        blocks.add(handle);
        continue;
      }
      if ((flags & ZramFlag.SAME) !== 0) {
        same++;
        continue;
      }
      owned.add(handle);
      compr += flags & ZramFlag.SIZE_MASK;
      if ((flags & ZramFlag.HUGE) !== 0) huge++;
    }
    if (mine) {
      for (const w of [Intent.NEW, Intent.OLD]) {
        const handle = (reg[i + w] as number) >>> 0;
        reg[i + w] = 0;
        if (handle === 0 || owned.has(handle)) continue;
        let live = true;
        try {
          pool.objectSize(handle);
        } catch {
          live = false;
        }
        if (live) {
          pool.zsFreeObject(handle);
          freed++;
        }
        kfree.push(handle);
      }
    }
    // A block in its hands that no slot holds: given back (its bit, under the bitmap
    // lock: slot locks before it, src/sync/lock.ts).
    const block = (reg[i + Intent.BLOCK] as number) >>> 0;
    if (mine && block !== 0 && !blocks.has(block)) {
      if (smp) lock(d, Zd.BD_LOCK, zs.cpu, "backing bitmap lock", phys.header);
      try {
        blockFreed = clearBlock(phys, d, block);
        reg[i + Intent.BLOCK] = 0;
      } finally {
        if (smp) unlock(d, Zd.BD_LOCK, zs.cpu);
      }
    } else if (mine) {
      reg[i + Intent.BLOCK] = 0;
    }
    const s = Zd.STATS;
    Atomics.store(d, s + ZramStat.PAGES_STORED, stored);
    Atomics.store(d, s + ZramStat.COMPR_DATA_SIZE, compr);
    Atomics.store(d, s + ZramStat.SAME_PAGES, same);
    Atomics.store(d, s + ZramStat.HUGE_PAGES, huge);
  } finally {
    while (--locked >= 0) {
      const wi = (at[locked] as number) + ZramEntry.LOCK;
      if (smp) unlock(phys.wordView(wi), phys.wordIndex(wi), zs.cpu);
    }
  }
  for (const h of kfree) zs.kfree(h);
  return `${nr} slots settled${rolled > 0 ? ", a write's entry stored" : ""}${blockFreed ? ", a backing block no slot holds given back" : ""}, ${freed} objects and ${kfree.length} handles no slot holds freed, stats recounted`;
}

/**
 * Clears block `block`'s bit (the bitmap lock held) and recounts bd_count from the bits.
 * Returns whether the bit was set.
 */
function clearBlock(phys: PhysMem, d: Int32Array, block: number): boolean {
  const pages = d[Zd.BD_PAGES] as number;
  const bmAt = (d[Zd.BD_BITMAP] as number) >>> 0;
  if (pages <= 1 || bmAt === 0 || (bmAt & 3) !== 0) return false;
  const bm = phys.wordsAt(bmAt, (pages + 31) >>> 5);
  let was = false;
  if (block > 0 && block < pages) {
    was = ((bm[block >>> 5] as number) & (1 << (block & 31))) !== 0;
    bm[block >>> 5]! &= ~(1 << (block & 31));
  }
  let n = 0;
  for (let b = 1; b < pages; b++) if (((bm[b >>> 5] as number) & (1 << (b & 31))) !== 0) n++;
  Atomics.store(d, Zd.STATS + ZramStat.BD_COUNT, n);
  return was;
}

/**
 * The bitmap lock's repair: the dead cpu died taking a block (named by BLOCK before its
 * bit is set) or giving one back (its slot cleared before): either way no slot holds it,
 * and it is given back; bd_count recounted from the bits; the next-block hint in range.
 */
function bitmapRecover(phys: PhysMem, at: number, dead: number): string {
  const d = phys.wordsAt(at, Zd.WORDS);
  const pages = d[Zd.BD_PAGES] as number;
  const next = d[Zd.BD_NEXT] as number;
  if (next < 0 || next >= pages) d[Zd.BD_NEXT] = pages > 1 ? 1 : 0;
  const reg = registryOf(phys);
  let out = "the next-block hint checked";
  if (reg !== null) {
    const i = intentAt(phys.nrCpus, dead);
    const block = (reg[i + Intent.BLOCK] as number) >>> 0;
    if (block !== 0 && (reg[i + Intent.DEVICE] as number) >>> 0 === at) {
      if (clearBlock(phys, d, block)) out += `, block ${block} given back`;
      reg[i + Intent.BLOCK] = 0;
    }
  }
  return `${out}, bd_count recounted`;
}

/**
 * The zspage the dead cpu had an object of mapped (its intent record, MAP): its mapcount
 * taken down under the pool's lock, so that compaction may move it again. A death inside
 * the pool's lock was settled by recoverPool already (it recounts every mapcount from the
 * live cpus' records).
 */
function releaseMapping(zs: ZsContext, reg: Int32Array, i: number): string {
  const phys = zs.phys;
  const first = reg[i + Intent.MAP] as number;
  const at = (reg[i + Intent.MAP_POOL] as number) >>> 0;
  if (first === 0 && at === 0) return "";
  let out = "";
  if (isDesc(phys, at, Pool.CLASS_MAP, Pool.MAGIC_VALUE)) {
    const wi = (at >>> 2) + Pool.LOCK;
    const smp = phys.nrCpus > 1;
    if (smp) lock(phys.wordView(wi), phys.wordIndex(wi), zs.cpu, "zspool lock", phys.header);
    try {
      if (releaseMap(phys, at, first)) out = "a mapping it held released";
      reg[i + Intent.MAP] = 0;
      reg[i + Intent.MAP_POOL] = 0;
    } finally {
      if (smp) unlock(phys.wordView(wi), phys.wordIndex(wi), zs.cpu);
    }
  } else {
    reg[i + Intent.MAP] = 0;
    reg[i + Intent.MAP_POOL] = 0;
  }
  return out;
}

/** A ZsContext for offlineCpu's repairs in a context that may never have opened a pool. */
export function recoveryContext(
  deps: Omit<ZsDeps, "registerShrinker" | "unregisterShrinker" | "isKmallocObject">,
): ZsContext {
  return new ZsContext({
    ...deps,
    isKmallocObject: () => true,
    registerShrinker: () => {},
    unregisterShrinker: () => {},
  });
}
