/*
 * `npm run bench:swap`: the cost of swap. Pages of a swappable area (vmallocSwappable) of
 * four kinds (JSON-like text, a heap-like mix of small integers and pointers, zero pages,
 * random bytes) are swapped out by proactive reclaim (mm.reclaim) and brought back by one
 * read each (a major fault), with zswap (lz4, and zstd where node:zlib has it) and with a
 * zram swap area. Printed per case: pages swapped out, the time per page of swap-out (the
 * reclaim calls over the pages they freed) and the median and 99th percentile of one
 * faulting read, against a read of a resident page. Wall time on whatever machine runs it.
 */

import { availableAlgorithms, Kmem } from "kmem";

const P = 4096;
const PAGES = Number(process.env.SWAP_PAGES ?? 2048);
const ROUNDS = 3;

type Kind = "json" | "heap" | "zero" | "random";

function fill(kind: Kind, page: Uint8Array, i: number, seed: { x: number }): void {
  if (kind === "zero") return page.fill(0) as unknown as void;
  if (kind === "random") {
    for (let k = 0; k < P; k++)
      page[k] = (seed.x = Math.imul(seed.x ^ (seed.x >>> 15), 0x2c1b3c6d) + 1) >>> 24;
    return;
  }
  if (kind === "json") {
    let text = "";
    while (text.length < P)
      text += `{"id":${i},"user":"u${(i * 7) % 1000}","score":${(i * 31) % 997},"tags":["a","b"]},`;
    for (let k = 0; k < P; k++) page[k] = text.charCodeAt(k);
    return;
  }
  // heap: 32-bit words, small integers and pointer-like values into a 16 MiB range
  const w = new Int32Array(page.buffer, page.byteOffset, P / 4);
  for (let k = 0; k < w.length; k++) {
    seed.x = Math.imul(seed.x ^ (seed.x >>> 13), 0x5bd1e995) + 1;
    w[k] = (seed.x & 3) === 0 ? 0x1000000 + ((seed.x >>> 8) & 0xfff0) : (seed.x >>> 24) & 63;
  }
}

function percentile(xs: number[], q: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

function fmt(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`;
}

interface Row {
  setup: string;
  kind: Kind;
  out: number;
  outUs: number;
  inMedian: number;
  inP99: number;
  hitMedian: number;
}

function run(setup: string, kind: Kind): Row {
  const mm = new Kmem({ memory: 64 * 2 ** 20 });
  if (setup.startsWith("zswap")) {
    mm.setZswap({
      enabled: true,
      compressor: setup.endsWith("zstd") ? "zstd" : "lz4",
      maxPoolPercent: 50,
    });
    mm.swapon({ pages: 2 * PAGES });
  } else {
    const z = mm.createZram({ disksize: 2 * PAGES * P });
    if (z === null) throw new Error("no zram");
    mm.swapon(z);
  }
  const a = mm.vmallocSwappable(PAGES * P);
  const page = new Uint8Array(P);
  const seed = { x: 12345 };
  for (let i = 0; i < PAGES; i++) {
    fill(kind, page, i, seed);
    mm.write(a + i * P, page);
  }
  // Resident reads first (a hit: a translation, perhaps a TLB miss).
  const hits: number[] = [];
  for (let i = 0; i < PAGES; i += 4) {
    const t0 = performance.now();
    mm.getUint32(a + i * P + 64);
    hits.push((performance.now() - t0) * 1000);
  }
  const t0 = performance.now();
  let out = 0;
  for (let r = 0; r < 4 && out < PAGES; r++) out += mm.reclaim(PAGES);
  const outUs = ((performance.now() - t0) * 1000) / Math.max(out, 1);
  const ins: number[] = [];
  for (let i = 0; i < PAGES; i++) {
    const t = performance.now();
    mm.getUint32(a + i * P + 64);
    ins.push((performance.now() - t) * 1000);
  }
  mm.verify();
  return {
    setup,
    kind,
    out,
    outUs,
    inMedian: percentile(ins, 0.5),
    inP99: percentile(ins, 0.99),
    hitMedian: percentile(hits, 0.5),
  };
}

const setups = [
  "zswap lz4",
  ...(availableAlgorithms().includes("zstd") ? ["zswap zstd"] : []),
  "zram lz4",
];
console.log(
  `swap-out and swap-in of ${PAGES} pages, best median of ${ROUNDS} rounds (${new Date().toISOString().slice(0, 10)}, Node ${process.versions.node})\n`,
);
console.log(
  "| swap | data | pages out | swap-out per page | swap-in median | swap-in p99 | resident read median |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
for (const setup of setups) {
  for (const kind of ["json", "heap", "zero", "random"] as const) {
    let best: Row | null = null;
    for (let r = 0; r < ROUNDS; r++) {
      const row = run(setup, kind);
      if (best === null || row.inMedian < best.inMedian) best = row;
    }
    const b = best!;
    console.log(
      `| ${b.setup} | ${b.kind} | ${b.out} | ${fmt(b.outUs)} | ${fmt(b.inMedian)} | ${fmt(b.inP99)} | ${fmt(b.hitMedian)} |`,
    );
  }
}
