/*
 * A worker of test/instance/corruption-fuzz.test.ts: builds a populated instance for a
 * configuration, then for each case damages bytes of one metadata region (of a snapshot it
 * reopens, or of the live instance itself) and runs verify, allocations and frees on it.
 * Posts every case's outcome as it finishes, so that the main thread can tell a hang (no
 * message) from progress.
 */

import { parentPort, workerData } from "node:worker_threads";
import { Kmem, KmemError, type Mempool, SLAB_NO_MERGE } from "../../src/index.js";
import { Frame, Hdr, Pg, PgFlag } from "../../src/memory/index.js";
import { Prng } from "../prng.js";

export interface FuzzJob {
  config: "slub" | "slub-smp" | "slob";
  seed: number;
  first: number;
  count: number;
}

export interface FuzzResult {
  i: number;
  region: string;
  live: boolean;
  /** "ok": no error and verify() passed; "corruption", "refused" (reopen's Error), else the error. */
  outcome: string;
}

interface Region {
  name: string;
  from: number;
  to: number;
}

function build(config: FuzzJob["config"]): { mm: Kmem; regions: Region[] } {
  const mm = new Kmem({
    memory: 2 << 20,
    minFreeBytes: 0,
    ...(config === "slob" ? { slab: "slob" as const } : {}),
    ...(config === "slub-smp" ? { cpus: 2 } : {}),
  });
  const a = mm.createCache("fuzz-a", 48, { flags: SLAB_NO_MERGE });
  const b = mm.createCache("fuzz-b", 200);
  const objs: number[] = [];
  for (let i = 0; i < 40; i++) objs.push(mm.kmalloc(8 + ((i * 37) % 700)));
  for (let i = 0; i < 20; i++) objs.push(a?.alloc() ?? 0, b?.alloc() ?? 0);
  for (let i = 0; i < objs.length; i += 3) {
    const o = objs[i] as number;
    if (o === 0) continue;
    if (i < 40) mm.kfree(o);
  }
  const pool = mm.createMempool(3, 96) as Mempool;
  const v = mm.vmalloc(20000);
  const big = mm.kmalloc(20000);
  const zs = mm.createZsPool("fuzz-zs");
  for (let i = 0; i < 6; i++) zs?.malloc(100 + i * 300);
  void v;
  void big;
  const h = new Int32Array(mm.buffer, mm.memory.byteOffset, 64);
  const f = new Int32Array(
    mm.buffer,
    mm.memory.byteOffset + (h[Hdr.MEMMAP_OFFSET] as number),
    mm.totalPages * Frame.WORDS,
  );
  const regions: Region[] = [{ name: "header", from: 0, to: (h[Hdr.HEADER_WORDS] as number) * 4 }];
  const busyFrames: number[] = [];
  for (let pfn = 0; pfn < mm.totalPages; pfn++) {
    const flags = f[pfn * Frame.WORDS + Pg.FLAGS] as number;
    if (flags !== 0) busyFrames.push(pfn);
    const at = pfn * mm.pageSize;
    if ((flags & PgFlag.SLAB) !== 0)
      regions.push({ name: `slab page ${pfn}`, from: at, to: at + mm.pageSize });
    if ((flags & PgFlag.PGTABLE) !== 0)
      regions.push({ name: `page table ${pfn}`, from: at, to: at + mm.pageSize });
  }
  for (const pfn of busyFrames) {
    const at = (h[Hdr.MEMMAP_OFFSET] as number) + pfn * Frame.WORDS * 4;
    regions.push({ name: `mem_map frame ${pfn}`, from: at, to: at + Frame.WORDS * 4 });
  }
  for (const c of [a, b, mm.findCache("kmalloc-64"), mm.findCache("kmem_cache")]) {
    if (c !== null && c !== undefined)
      regions.push({ name: `descriptor ${c.name}`, from: c.desc, to: c.desc + 256 });
  }
  for (const [name, root] of [
    ["vmalloc descriptor", Hdr.VMALLOC],
    ["zsmalloc registry", Hdr.ZS],
    ["pool descriptor", Hdr.POOLS],
  ] as const) {
    const at = (h[root] as number) >>> 0;
    if (at !== 0) regions.push({ name, from: at, to: at + 64 });
  }
  const elements =
    (new Int32Array(mm.buffer, mm.memory.byteOffset + pool.address, 4)[3] as number) >>> 0;
  regions.push({ name: "pool elements", from: elements, to: elements + 12 });
  return { mm, regions };
}

/** verify, then a round of allocations and frees of every kind, then verify again. */
function exercise(mm: Kmem): void {
  mm.verify();
  const got: number[] = [];
  for (const size of [8, 64, 100, 700, 3000, 20000]) got.push(mm.kmalloc(size));
  for (const g of got) if (g !== 0) mm.kfree(g);
  const c = mm.findCache("fuzz-a");
  if (c !== null) {
    const o = c.alloc();
    if (o !== 0) c.free(o);
  }
  const v = mm.vmalloc(9000);
  if (v !== 0) mm.vfree(v);
  const p = mm.allocPages(1);
  if (p !== 0) mm.freePages(p, 1);
  mm.verify();
}

function classify(err: unknown): string {
  if (err instanceof KmemError)
    return err.code === "CORRUPTION" ? "corruption" : `KmemError ${err.message}`;
  if (err instanceof Error && err.constructor === Error && /^Kmem\.reopen/.test(err.message))
    return "refused";
  return `${err instanceof Error ? err.constructor.name : typeof err}: ${String(err instanceof Error ? err.message : err)}`;
}

const job = workerData as FuzzJob;
const base = build(job.config);
const snapshot = base.mm.buffer.slice(0);
for (let i = job.first; i < job.first + job.count; i++) {
  const rng = new Prng(job.seed * 1000003 + i);
  const region = base.regions[rng.below(base.regions.length)] as Region;
  const live = rng.below(4) === 0;
  let outcome = "ok";
  try {
    const target = live ? build(job.config).mm : null;
    const buf = target === null ? snapshot.slice(0) : target.buffer;
    const bytes = new Uint8Array(buf, target === null ? 0 : target.memory.byteOffset);
    const flips = 1 + rng.below(4);
    for (let k = 0; k < flips; k++) {
      const at = region.from + rng.below(Math.max(1, region.to - region.from));
      if (at < bytes.length) bytes[at] = (bytes[at] as number) ^ (1 + rng.below(255));
    }
    const mm = target ?? Kmem.reopen(buf);
    exercise(mm);
  } catch (err) {
    outcome = classify(err);
  }
  parentPort?.postMessage({ i, region: region.name, live, outcome } satisfies FuzzResult);
}
