/*
 * The overcommit workload: a working set larger than memory, with a hot part touched
 * again and again and a cold part touched once, on swappable memory (vmallocSwappable).
 * Run with no swap it fails where memory ends; with compressed swap (zswap, a zram swap
 * area, or both) reclaim pages the cold part out and the hot part stays. What it reports:
 * how far the run got, pages swapped out and in, the compression ratio, and the latency the
 * faults add (accesses that found their page swapped out, against those that did not).
 */

import { Kmem, type Zram } from "kmem";
import { Prng } from "./prng.js";

export type SwapSetup = "none" | "zswap" | "zram" | "zswap+zram";
export const SWAP_SETUPS: readonly SwapSetup[] = ["none", "zswap", "zram", "zswap+zram"];

export interface OvercommitOptions {
  /** Physical memory, bytes. */
  memory: number;
  /** Working set as a multiple of memory (default 1.4: the vmalloc space holds 2x). */
  ratio: number;
  /** Share of the working set that is hot (default 0.25). */
  hot: number;
  /** Accesses to hot pages after the set is written (default 20,000). */
  accesses: number;
  seed: number;
  /** Compressor of zswap and zram. */
  algorithm: "lz4" | "zstd";
}

export interface OvercommitResult {
  setup: SwapSetup;
  /** Pages of the working set, and how many could be allocated and written. */
  pages: number;
  written: number;
  /** vmstat counters at the end. */
  pswpout: number;
  pswpin: number;
  zswpout: number;
  zswpin: number;
  majorFaults: number;
  /** Accesses of the access phase that faulted (the rest of majorFaults: the final check). */
  accessFaults: number;
  /** Bytes of pages held compressed (zswap + zram), and the memory holding them. */
  storedBytes: number;
  compressedMemBytes: number;
  /** Median and 99th percentile of an access, in microseconds: faulting, and not. */
  faultMedianUs: number;
  faultP99Us: number;
  hitMedianUs: number;
  /** Every page read back had the bytes written (checked at the end). */
  intact: boolean;
  mm: Kmem;
}

/** A page of JSON-like text naming its index: compressible, like most heap memory. */
function fill(page: Uint8Array, index: number, rng: Prng): void {
  let text = "";
  while (text.length < page.length) {
    text += `{"id":${index},"n":${rng.below(1000)},"name":"item-${rng.below(97)}","ok":true},`;
  }
  for (let i = 0; i < page.length; i++) page[i] = text.charCodeAt(i);
  page[0] = index & 255;
  page[1] = (index >>> 8) & 255;
  page[2] = (index >>> 16) & 255;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function vmstat(mm: Kmem): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of mm.report("vmstat").trim().split("\n")) {
    const [k, v] = line.split(" ");
    out.set(k!, Number(v));
  }
  return out;
}

/** Runs the workload on a fresh instance with `setup`. */
export function runOvercommit(setup: SwapSetup, o: OvercommitOptions): OvercommitResult {
  const mm = new Kmem({ memory: o.memory });
  const P = mm.pageSize;
  let zram: Zram | null = null;
  if (setup === "zswap" || setup === "zswap+zram") {
    mm.setZswap({ enabled: true, compressor: o.algorithm });
  }
  if (setup === "zram" || setup === "zswap+zram") {
    zram = mm.createZram({ disksize: 2 * o.memory, algorithm: o.algorithm });
    if (zram === null) throw new Error("no memory for the zram device");
    mm.swapon(zram);
  } else if (setup === "zswap") {
    mm.swapon({ pages: Math.ceil((2 * o.memory) / P) });
  }
  const pages = Math.floor(o.ratio * mm.managedPages);
  const chunk = 64;
  const areas: number[] = [];
  const page = new Uint8Array(P);
  const rng = new Prng(o.seed);
  let written = 0;
  // The set is written once, in areas of `chunk` pages: the cold part is what comes first.
  for (let k = 0; k * chunk < pages; k++) {
    const n = Math.min(chunk, pages - k * chunk);
    const a = mm.vmallocSwappable(n * P);
    if (a === 0) break;
    areas.push(a);
    for (let i = 0; i < n; i++) {
      fill(page, k * chunk + i, rng);
      mm.write(a + i * P, page);
      written++;
    }
  }
  const addr = (index: number): number => areas[Math.floor(index / chunk)]! + (index % chunk) * P;
  // The hot part (the last pages written) is read again and again, a cold page now and then.
  const hotPages = Math.max(1, Math.floor(written * o.hot));
  const faults: number[] = [];
  const hits: number[] = [];
  let seen = vmstat(mm).get("pgmajfault") ?? 0;
  for (let i = 0; i < o.accesses && written > 0; i++) {
    const index =
      rng.below(16) === 0 ? rng.below(written) : written - hotPages + rng.below(hotPages);
    const t0 = performance.now();
    mm.getUint32(addr(index) + 4 * rng.below(P / 4));
    const t = (performance.now() - t0) * 1000;
    const now = vmstat(mm).get("pgmajfault") ?? 0;
    (now > seen ? faults : hits).push(t);
    seen = now;
  }
  let intact = true;
  const check = new Uint8Array(P);
  const rng2 = new Prng(o.seed);
  for (let index = 0; index < written; index++) {
    fill(check, index, rng2);
    const got = mm.read(addr(index), P);
    if (Buffer.compare(Buffer.from(got), Buffer.from(check)) !== 0) intact = false;
  }
  mm.verify();
  const s = vmstat(mm);
  const z = mm.zswapStats();
  const zs = zram?.stats();
  const sorted = (xs: number[]) => Float64Array.from(xs).sort();
  const f = sorted(faults);
  const h = sorted(hits);
  return {
    setup,
    pages,
    written,
    pswpout: s.get("pswpout") ?? 0,
    pswpin: s.get("pswpin") ?? 0,
    zswpout: s.get("zswpout") ?? 0,
    zswpin: s.get("zswpin") ?? 0,
    majorFaults: s.get("pgmajfault") ?? 0,
    accessFaults: faults.length,
    storedBytes: z.storedPages * P + (zs === undefined ? 0 : zs.origDataSize),
    compressedMemBytes: z.poolPages * P + (zs === undefined ? 0 : zs.memUsedTotal),
    faultMedianUs: percentile(f, 0.5),
    faultP99Us: percentile(f, 0.99),
    hitMedianUs: percentile(h, 0.5),
    intact,
    mm,
  };
}
