/*
 * zsmalloc's invariants, checked from the bytes (every pool of the instance, whichever
 * context made it), reported by id:
 *
 *   ZS-1  the registry (Hdr.ZS) is a live kmalloc object with its magic; each cpu has a
 *         mapping area, a HEAD | ZSMALLOC page marked MAP_AREA for that cpu; its pool list
 *         is doubly linked; each pool descriptor is a live kmalloc object with its magic
 *         and the geometry its chain size gives (class map and records)
 *   ZS-2  each fullness list is doubly linked; its zspages' first frames are HEAD |
 *         ZSMALLOC, FIRST, of this pool and class, in the group their inuse says (never
 *         group 0: an empty zspage is freed at once), mapped by at most every cpu
 *   ZS-3  a zspage chains exactly its class's pages, each HEAD | ZSMALLOC of this pool and
 *         class, pointing at its first page, with the offset of its first object; no page
 *         is in two zspages
 *   ZS-4  a zspage's allocated objects (header tag, or the huge frame's handle) number its
 *         inuse; each names a handle that is a live kmalloc object holding that object's
 *         location; its free list visits exactly its free objects once and ends
 *   ZS-5  per class, the list counts, obj_allocated and obj_used agree with the zspages;
 *         the pool's pages_allocated is their pages
 *   ZS-6  every ZSMALLOC frame of memory is a mapping area or a page of a zspage reached
 *   ZS-7  each zspage's mapping count is the number of cpus whose intent record names it
 *         mapped (MAP, MAP_POOL: both written under the pool's lock with the count); every
 *         such record names a zspage on a list of a pool of the registry
 */

import { hex, KmemError } from "../errors.js";
import { Frame, Hdr, Pg, PgFlag } from "../memory/index.js";
import { lock, unlock } from "../sync/index.js";
import type { ZsContext } from "./context.js";
import {
  FREE_END,
  Fullness,
  fullnessGroup,
  Intent,
  intentAt,
  MAX_CHAIN_SIZE,
  MIN_CHAIN_SIZE,
  OBJ_ALLOCATED_TAG,
  Pool,
  Rec,
  recordsOffset,
  Reg,
  registryWords,
  ZSPAGE_MAGIC,
  zsGeometry,
  ZsInfo,
  ZsPg,
} from "./layout.js";

const W = Frame.WORDS;
const ZS_FLAGS = PgFlag.HEAD | PgFlag.ZSMALLOC;

function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}

export function verifyZsmalloc(ctx: ZsContext): void {
  const p = ctx.phys;
  const f = p.frames;
  const reached = new Set<number>();
  const at = Atomics.load(p.header, Hdr.ZS);
  if (at !== 0) {
    if (!ctx.isKmallocObject(at))
      corrupt("ZS-1", `the registry ${hex(at)} is not a live kmalloc object`);
    const reg = p.wordsAt(at, registryWords(p.nrCpus));
    if (reg[Reg.MAGIC] !== Reg.MAGIC_VALUE || reg[Reg.NR_CPUS] !== p.nrCpus) {
      corrupt("ZS-1", `the registry ${hex(at)} has no magic or another cpu count`);
    }
    for (let cpu = 0; cpu < p.nrCpus; cpu++) {
      const page = reg[Reg.MAP_AREA + cpu]!;
      const pfn = page >>> p.pageShift;
      const fi = pfn * W;
      if (
        page === 0 ||
        (page & (p.pageSize - 1)) !== 0 ||
        !p.hasFrame(pfn) ||
        f[fi + Pg.FLAGS] !== ZS_FLAGS ||
        f[fi + ZsPg.INFO] !== (ZSPAGE_MAGIC | ZsInfo.MAP_AREA) ||
        f[fi + ZsPg.MAP_AREA_CPU] !== cpu
      ) {
        corrupt("ZS-1", `cpu ${cpu}'s mapping area ${hex(page)} is not a mapping-area page`);
      }
      reached.add(pfn);
    }
    ctx.lockRegistry(reg);
    try {
      let prev = 0;
      const pools = new Set<number>();
      for (const pool of ctx.listOf(reg, Reg.POOLS, Pool.NEXT)) {
        if (p.word((pool >>> 2) + Pool.PREV) !== prev) {
          corrupt("ZS-1", `pool ${hex(pool)}'s prev link is not ${hex(prev)}`);
        }
        verifyPool(ctx, pool, reached, reg);
        pools.add(pool);
        prev = pool;
      }
      for (let cpu = 0; cpu < p.nrCpus; cpu++) {
        const mp = (reg[intentAt(p.nrCpus, cpu) + Intent.MAP_POOL] as number) >>> 0;
        if (mp !== 0 && !pools.has(mp)) {
          corrupt("ZS-7", `cpu ${cpu}'s intent record names a mapping of ${hex(mp)}, no pool`);
        }
      }
    } finally {
      ctx.unlockRegistry(reg);
    }
  }
  for (let pfn = p.firstManagedPfn; pfn < p.totalPages; pfn++) {
    if ((f[pfn * W + Pg.FLAGS]! & PgFlag.ZSMALLOC) !== 0 && !reached.has(pfn)) {
      corrupt("ZS-6", `frame ${pfn} is ZSMALLOC but in no zspage and no mapping area`);
    }
  }
}

function verifyPool(ctx: ZsContext, at: number, reached: Set<number>, reg: Int32Array): void {
  const p = ctx.phys;
  const f = p.frames;
  const name = ctx.readName(at + Pool.NAME * 4);
  const where = `pool ${JSON.stringify(name)} (${hex(at)})`;
  if (!ctx.isKmallocObject(at)) corrupt("ZS-1", `${where} is not a live kmalloc object`);
  const head = p.wordsAt(at, Pool.CLASS_MAP);
  const chain = head[Pool.CHAIN]!;
  if (head[Pool.MAGIC] !== Pool.MAGIC_VALUE || chain < MIN_CHAIN_SIZE || chain > MAX_CHAIN_SIZE) {
    corrupt("ZS-1", `${where} has no magic or a chain size of ${chain}`);
  }
  const g = zsGeometry(p.pageSize, chain, p.maxPages);
  const base = recordsOffset(g);
  const d = p.wordsAt(at, base + g.size.length * Rec.WORDS);
  if (
    d[Pool.NR_CLASSES] !== g.nrClasses ||
    d[Pool.NR_RECORDS] !== g.size.length ||
    d[Pool.MIN_SIZE] !== g.minSize ||
    d[Pool.DELTA] !== g.delta ||
    d[Pool.OBJ_INDEX_BITS] !== g.objIndexBits ||
    d[Pool.HUGE_CLASS_SIZE] !== g.hugeClassSize
  ) {
    corrupt("ZS-1", `${where}'s geometry is not the one chain size ${chain} gives`);
  }
  for (let i = 0; i < g.nrClasses; i++) {
    if (d[Pool.CLASS_MAP + i] !== g.classRecord[i])
      corrupt("ZS-1", `${where}: class ${i} maps to the wrong record`);
  }
  const id = d[Pool.ID]!;
  const smp = p.nrCpus > 1;
  if (smp) lock(d, Pool.LOCK, ctx.cpu, `zspool ${JSON.stringify(name)} lock`, p.header);
  try {
    // The mappings the cpus' intent records name in this pool (under its lock, as they are
    // written), by the zspage's first pfn; each one found on a list is taken off.
    const maps = new Map<number, number>();
    for (let cpu = 0; cpu < p.nrCpus; cpu++) {
      const i = intentAt(p.nrCpus, cpu);
      if ((reg[i + Intent.MAP_POOL] as number) >>> 0 !== at) continue;
      const m = reg[i + Intent.MAP] as number;
      maps.set(m, (maps.get(m) ?? 0) + 1);
    }
    let pages = 0;
    for (let r = 0; r < g.size.length; r++) {
      const b = base + r * Rec.WORDS;
      const size = g.size[r]!;
      const objs = g.objs[r]!;
      const nr = g.pages[r]!;
      const cls = g.index[r]!;
      if (
        d[b + Rec.SIZE] !== size ||
        d[b + Rec.OBJS] !== objs ||
        d[b + Rec.PAGES] !== nr ||
        d[b + Rec.INDEX] !== cls
      ) {
        corrupt("ZS-1", `${where}: record ${r} is not class ${cls}'s geometry`);
      }
      const huge = objs === 1 && nr === 1;
      let zspages = 0;
      let used = 0;
      for (let fg = 0; fg < Fullness.NR_GROUPS; fg++) {
        let n = 0;
        let prev = 0;
        for (let z = d[b + Rec.LISTS + fg]!; z !== 0; z = f[z * W + Pg.NEXT]!) {
          const cw = `${where} class ${cls} zspage at pfn ${z}`;
          if (!p.hasFrame(z) || reached.has(z) || n > p.totalPages)
            corrupt("ZS-3", `${cw}: reached twice, or outside memory`);
          const fi = z * W;
          const info = f[fi + ZsPg.INFO]!;
          const expect =
            ZSPAGE_MAGIC |
            ZsInfo.FIRST |
            (huge ? ZsInfo.HUGE : 0) |
            (fg << ZsInfo.FULLNESS_SHIFT) |
            (cls << ZsInfo.CLASS_SHIFT);
          if (f[fi + Pg.FLAGS] !== ZS_FLAGS || info !== expect)
            corrupt("ZS-2", `${cw}: flags or info ${hex(info >>> 0)} wrong for list ${fg}`);
          if (f[fi + Pg.PREV] !== prev) corrupt("ZS-2", `${cw}: prev link is not ${prev}`);
          const pw = f[fi + ZsPg.POOL]!;
          if ((pw & ZsInfo.POOL_MASK) !== id || pw >>> ZsInfo.MAPCOUNT_SHIFT > p.nrCpus) {
            corrupt("ZS-2", `${cw}: pool word ${hex(pw >>> 0)} is not this pool's`);
          }
          if (pw >>> ZsInfo.MAPCOUNT_SHIFT !== (maps.get(z) ?? 0)) {
            corrupt(
              "ZS-7",
              `${cw}: mapped ${pw >>> ZsInfo.MAPCOUNT_SHIFT} times, the cpus' records name it ${maps.get(z) ?? 0} times`,
            );
          }
          maps.delete(z);
          const inuse = f[fi + ZsPg.INUSE]! & ZsInfo.INUSE_MASK;
          if (fg === Fullness.RATIO_0 || fullnessGroup(inuse, objs) !== fg) {
            corrupt("ZS-2", `${cw}: ${inuse} of ${objs} objects in use is not group ${fg}`);
          }
          verifyZspage(ctx, z, cw, id, cls, size, objs, nr, huge, g.objIndexBits, reached);
          used += inuse;
          n++;
          prev = z;
        }
        if (d[b + Rec.COUNTS + fg] !== n)
          corrupt(
            "ZS-5",
            `${where} class ${cls}: group ${fg} counts ${d[b + Rec.COUNTS + fg]}, holds ${n}`,
          );
        zspages += n;
      }
      if (d[b + Rec.OBJS_ALLOCATED] !== zspages * objs || d[b + Rec.OBJS_INUSE] !== used) {
        corrupt(
          "ZS-5",
          `${where} class ${cls}: obj_allocated ${d[b + Rec.OBJS_ALLOCATED]}, obj_used ${d[b + Rec.OBJS_INUSE]}; the zspages say ${zspages * objs}, ${used}`,
        );
      }
      pages += zspages * nr;
    }
    for (const [z, n] of maps) {
      corrupt("ZS-7", `${where}: ${n} cpus' records name a mapping of pfn ${z}, no zspage of it`);
    }
    if (Atomics.load(d, Pool.PAGES_ALLOCATED) !== pages) {
      corrupt(
        "ZS-5",
        `${where}: pages_allocated ${d[Pool.PAGES_ALLOCATED]}, its zspages hold ${pages}`,
      );
    }
  } finally {
    if (smp) unlock(d, Pool.LOCK, ctx.cpu);
  }
}

function verifyZspage(
  ctx: ZsContext,
  first: number,
  cw: string,
  id: number,
  cls: number,
  size: number,
  objs: number,
  nr: number,
  huge: boolean,
  bits: number,
  reached: Set<number>,
): void {
  const p = ctx.phys;
  const f = p.frames;
  const pageSize = p.pageSize;
  const chain: number[] = [];
  let off = 0;
  for (let pfn = first; pfn !== 0; pfn = huge ? 0 : f[pfn * W + ZsPg.NEXT_PAGE]!) {
    if (chain.length >= nr || !p.hasFrame(pfn) || reached.has(pfn))
      corrupt("ZS-3", `${cw}: its chain is longer than ${nr} pages or reaches a page twice`);
    const fi = pfn * W;
    if (pfn !== first) {
      if (
        f[fi + Pg.FLAGS] !== ZS_FLAGS ||
        f[fi + ZsPg.INFO] !== (ZSPAGE_MAGIC | (cls << ZsInfo.CLASS_SHIFT)) ||
        f[fi + Pg.NEXT] !== first ||
        f[fi + Pg.PREV] !== 0 ||
        f[fi + ZsPg.POOL] !== id ||
        f[fi + ZsPg.FIRST_OBJ] !== off
      ) {
        corrupt(
          "ZS-3",
          `${cw}: page ${pfn} (page ${chain.length} of the chain) has the wrong frame words`,
        );
      }
    }
    reached.add(pfn);
    chain.push(pfn);
    off = off + Math.ceil((pageSize - off) / size) * size - pageSize;
  }
  if (chain.length !== nr) corrupt("ZS-3", `${cw}: ${chain.length} pages, its class has ${nr}`);
  const fi = first * W;
  const inuse = f[fi + ZsPg.INUSE]! & ZsInfo.INUSE_MASK;
  const free = new Uint8Array(objs);
  let allocated = 0;
  for (let k = 0; k < objs; k++) {
    const offset = k * size;
    const pfn = chain[Math.floor(offset / pageSize)]!;
    const hw = (pfn * pageSize + (offset % pageSize)) >>> 2;
    const header = huge ? f[fi + ZsPg.HUGE_HANDLE]! : p.word(hw);
    if ((header & OBJ_ALLOCATED_TAG) === 0) {
      free[k] = 1;
      continue;
    }
    allocated++;
    const handle = (header & ~OBJ_ALLOCATED_TAG) >>> 0;
    const obj = (pfn * 2 ** bits + k) >>> 0;
    if (
      !ctx.isHandleAddress(handle) ||
      !ctx.isKmallocObject(handle) ||
      p.word(handle >>> 2) >>> 0 !== obj
    ) {
      corrupt("ZS-4", `${cw}: object ${k}'s handle ${hex(handle)} is not a live handle naming it`);
    }
  }
  if (allocated !== inuse)
    corrupt("ZS-4", `${cw}: ${allocated} objects allocated, inuse says ${inuse}`);
  let k = f[fi + ZsPg.INUSE]! >>> ZsInfo.FREEOBJ_SHIFT;
  let n = 0;
  if (huge) {
    if (inuse === 0 ? k !== 0 : k !== ZsInfo.NO_FREE && k !== 0)
      corrupt("ZS-4", `${cw}: free object ${k}`);
    return;
  }
  while (k !== ZsInfo.NO_FREE) {
    if (k >= objs || free[k] !== 1)
      corrupt("ZS-4", `${cw}: the free list reaches object ${k}, not a free one (or twice)`);
    free[k] = 2;
    n++;
    const offset = k * size;
    const next = p.word(
      (chain[Math.floor(offset / pageSize)]! * pageSize + (offset % pageSize)) >>> 2,
    );
    k = next === FREE_END ? ZsInfo.NO_FREE : next >>> 1;
  }
  if (n !== objs - inuse)
    corrupt("ZS-4", `${cw}: the free list holds ${n} objects, ${objs - inuse} are free`);
}
