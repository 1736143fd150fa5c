/*
 * A trace run under kmem's sanitizers (KASAN, KFENCE, kmemleak), for `kmem report kasan`,
 * `kfence` and `kmemleak`: every op of the trace through the layer's allocator, and every
 * block written and read back through the checked accessors (mm.write when it is
 * allocated or resized, a checked mm.view when it is freed), so that KASAN and KFENCE see
 * the accesses a program would make. A sanitizer's finding is caught, kept and the run goes
 * on (an access refused writes nothing). At the end a bug may be planted on purpose (an
 * out-of-bounds read, a use after free, a double free, canary damage, a leak), so that a
 * user sees a real report; kmemleak then scans with the blocks the trace keeps live as its
 * roots (the program's variables).
 *
 * The replay engine (replay.ts) writes blocks through the buffer itself, not the
 * accessors: its figures under a sanitizer are the allocator's side of the cost.
 */

import { type ByteAllocator, type Kmem, KmemError, type KmemOptions } from "kmem";
import type { AllocatorEntry } from "./allocators.js";
import type { TraceSource } from "./source.js";
import { Op } from "./trace.js";

export const SANITIZERS = ["kasan", "kfence", "kmemleak"] as const;
export type SanitizerName = (typeof SANITIZERS)[number];

/** Bugs `--plant` can plant, and which sanitizer reports each. */
export const PLANTS: Readonly<Record<SanitizerName, readonly string[]>> = {
  kasan: ["oob", "uaf", "double-free"],
  kfence: ["oob", "uaf", "double-free", "corruption"],
  kmemleak: ["leak"],
};

/** The Kmem options that turn sanitizer `name` on (KFENCE sampling one slab allocation in `interval`). */
export function sanitizerOptions(name: SanitizerName, interval = 100): Partial<KmemOptions> {
  if (name === "kasan") return { kasan: true };
  if (name === "kfence") return { kfence: { sampleInterval: interval } };
  return { kmemleak: true };
}

export interface SanitizedRun {
  mm: Kmem;
  ops: number;
  /** Accesses checked (writes and reads through the accessors) and their bytes. */
  accesses: number;
  bytes: number;
  /** Sanitizer reports during the trace (a planted one not counted). */
  reports: number;
  /** Contents found changed when a block was freed (an allocator bug). */
  damaged: string[];
  /** What was planted and the report it drew ("" when none was asked). */
  planted: string;
  /** Blocks the trace left live (kmemleak's roots). */
  live: number[];
}

/** Runs `source` on a fresh instance of `entry` (a sanitized kmem layer). */
export async function runSanitized(
  source: TraceSource,
  entry: AllocatorEntry,
  memoryBytes: number,
  name: SanitizerName,
  plant: string | null,
): Promise<SanitizedRun> {
  const cand = await entry.create(memoryBytes);
  const mm = cand.kmem;
  if (mm === undefined) throw new Error(`${entry.name} is not a kmem layer`);
  const a = cand.allocator;
  const ids = source.info.header.ids;
  const handle = new Float64Array(ids).fill(-1);
  const size = new Int32Array(ids);
  let buf = new Uint8Array(4096);
  const damaged: string[] = [];
  let reports = 0;
  let ops = 0;
  let accesses = 0;
  let bytes = 0;
  const caught = (err: unknown): void => {
    if (err instanceof KmemError && (err.code === "KASAN" || err.code === "KFENCE")) {
      reports++;
      return;
    }
    throw err;
  };
  const fill = (h: number, n: number, id: number): void => {
    if (n > buf.length) buf = new Uint8Array(Math.max(n, buf.length * 2));
    const pattern = buf.subarray(0, n);
    pattern.fill((id * 31 + 7) & 0xff);
    accesses++;
    bytes += n;
    try {
      mm.write(h, pattern);
    } catch (err) {
      caught(err);
    }
  };
  const check = (h: number, n: number, id: number): void => {
    accesses++;
    bytes += n;
    try {
      const v = mm.view(h, n);
      const tag = (id * 31 + 7) & 0xff;
      for (let i = 0; i < n; i++) {
        if (v[i] !== tag) {
          damaged.push(
            `contents check: block of id ${id} at 0x${h.toString(16)}: byte ${i} is 0x${(v[i] as number).toString(16)}, expected 0x${tag.toString(16)}`,
          );
          break;
        }
      }
    } catch (err) {
      caught(err);
    }
  };
  await source.forEachChunk((c) => {
    for (let i = 0; i < c.length; i++) {
      const id = c.id[i] as number;
      const want = (c.size[i] as number) || 1;
      const h = handle[id] as number;
      ops++;
      if (c.op[i] === Op.Alloc) {
        const got = a.alloc(want);
        if (got < 0) continue;
        handle[id] = got;
        size[id] = want;
        fill(got, want, id);
      } else if (c.op[i] === Op.Free) {
        if (h < 0) continue;
        check(h, size[id] as number, id);
        a.free(h, size[id] as number);
        handle[id] = -1;
      } else {
        const old = size[id] as number;
        const got = h < 0 ? a.alloc(want) : a.realloc !== undefined ? a.realloc(h, old, want) : -1;
        if (got < 0) continue;
        handle[id] = got;
        size[id] = want;
        fill(got, want, id);
      }
    }
    return true;
  });
  const live: number[] = [];
  for (const h of handle) if (h >= 0) live.push(h);
  const planted = plant === null ? "" : plantBug(mm, a, name, plant);
  if (name === "kmemleak") mm.kmemleakScan(live);
  return { mm, ops, accesses, bytes, reports, damaged, planted, live };
}

/** What was planted, and whether it drew a sanitizer's report (which its log keeps). */
function drawn(what: string, fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof KmemError && (err.code === "KASAN" || err.code === "KFENCE")) {
      return `${what}: reported`;
    }
    if (err instanceof KmemError) return `${what}: ${err.code} ${err.message}`;
    throw err;
  }
  return `${what}: not reported`;
}

/** The "total allocations" KFENCE counted in this context. */
function kfenceAllocations(mm: Kmem): number {
  const m = /total allocations: (\d+)/.exec(mm.report("kfence"));
  return m === null ? 0 : Number(m[1]);
}

/** A 32-byte object KFENCE serves (allocating until one is sampled), or 0. */
function kfenceObject(mm: Kmem): number {
  const before = kfenceAllocations(mm);
  const others: number[] = [];
  let got = 0;
  for (let i = 0; i < 100_000 && got === 0; i++) {
    const p = mm.kmalloc(32);
    if (p === 0) break;
    if (kfenceAllocations(mm) !== before) got = p;
    else others.push(p);
  }
  for (const p of others) mm.kfree(p);
  return got;
}

/**
 * Plants bug `kind` where sanitizer `name` reports it (KASAN: in a block of the layer's own
 * allocator `a`; KFENCE: in a sampled kmalloc object); returns what was done and whether it
 * was reported.
 */
function plantBug(mm: Kmem, a: ByteAllocator, name: SanitizerName, kind: string): string {
  if (name === "kmemleak") {
    const lost = mm.kmalloc(48);
    mm.write(lost, new TextEncoder().encode("planted: an object nothing points to."));
    return `planted: kmalloc(48) at 0x${lost.toString(16)}, its address dropped`;
  }
  if (name === "kasan") {
    const p = a.alloc(100);
    if (p < 0) return "planted: nothing (no memory for a 100-byte block)";
    const at = `a 100-byte block of ${a.name} at 0x${p.toString(16)}`;
    if (kind === "oob") {
      const r = drawn(`planted: getUint8 one byte past ${at}`, () => mm.getUint8(p + 100));
      a.free(p, 100);
      return r;
    }
    a.free(p, 100);
    if (kind === "uaf") {
      return drawn(`planted: getUint32 8 bytes into ${at} after its free`, () =>
        mm.getUint32(p + 8),
      );
    }
    return drawn(`planted: free of ${at} twice`, () => a.free(p, 100));
  }
  const p = kfenceObject(mm);
  if (p === 0) return "planted: nothing (no KFENCE object could be had: the pool is full)";
  const ps = mm.pageSize;
  const at = `the KFENCE object kmalloc(32) at 0x${p.toString(16)}`;
  if (kind === "oob") {
    // The guarded side: left of an object at its page's start, else the next page.
    const left = p % ps === 0;
    const q = left ? p - 1 : p - (p % ps) + ps;
    const r = drawn(
      `planted: getUint8 ${left ? "one byte left of" : "at the guard page right of"} ${at}`,
      () => mm.getUint8(q),
    );
    mm.kfree(p);
    return r;
  }
  if (kind === "corruption") {
    // The canary side, in the object's own page: found when the object is freed.
    const left = p % ps === 0;
    const q = left ? p + 32 : p - 1;
    mm.setUint8(q, 0x2a);
    return drawn(`planted: setUint8 ${left ? "right" : "left"} of ${at}, then kfree`, () =>
      mm.kfree(p),
    );
  }
  mm.kfree(p);
  if (kind === "uaf") return drawn(`planted: getUint8 of ${at} after kfree`, () => mm.getUint8(p));
  return drawn(`planted: kfree of ${at} twice`, () => mm.kfree(p));
}

/** A report for the command line: the callers' stack frames (paths of this machine) left out. */
export function withoutStacks(text: string): string {
  return text
    .split("\n")
    .filter((l) => !/^\s+at /.test(l) && l !== "Call trace:")
    .join("\n")
    .replace(/\n{3,}/g, "\n\n");
}
