/*
 * `npm run bench:compression`: page codecs on real data of several kinds, one page per
 * call (as zram and zswap compress), beside LZ4 and zstd from npm; then each data set
 * written to a kmem zram device, for zram's mm_stat and zsmalloc's allocator efficiency
 * (compr_data_size / mem_used_total; Linux's zsmalloc.rst quotes 95.9%).
 *
 * Data, all built on this machine: JSON (the .json files under node_modules and
 * COMPRESSION_JSON_DIR), a database file (man-db's GDBM index, /var/cache/man/index.db, when
 * present), node's own ELF binary, a heap image (the anonymous writable mappings of this
 * very process, read from /proc/self/mem after it parsed JSON and filled a Map and a
 * Float64Array, as a core dump would hold them), a V8 heap snapshot (JSON), zero pages and
 * random bytes. Throughput is MB of input per second of wall time, best of 3 rounds.
 */

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import v8 from "node:v8";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { Kmem } from "kmem";
import { Lz4, zstdZlib, Zstd } from "../src/codec/index.js";

const P = 4096;
const LIMIT = Number(process.env.COMPRESSION_MIB ?? 16) * 2 ** 20;
const require = createRequire(import.meta.url);

interface Codec {
  name: string;
  /** Where compress() wrote, when it returns a length rather than the bytes. */
  buf?: Uint8Array;
  compress(page: Uint8Array): Uint8Array | number;
  decompress(comp: Uint8Array, len: number): void;
}

/* ------------------------------------------------------------------ data */

function pagesOf(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at + P <= Math.min(bytes.length, LIMIT); at += P)
    out.push(bytes.subarray(at, at + P));
  return out;
}

function walk(
  dir: string,
  pick: (f: string) => boolean,
  out: string[],
  budget: { left: number },
): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (budget.left <= 0) return;
    const f = path.join(dir, e.name);
    if (e.isDirectory()) walk(f, pick, out, budget);
    else if (pick(e.name)) {
      out.push(f);
      budget.left -= fs.statSync(f).size;
    }
  }
}

function jsonData(): Uint8Array {
  const files: string[] = [];
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
  const budget = { left: LIMIT };
  // node_modules holds little JSON; COMPRESSION_JSON_DIR (default ~/.pyenv, where Python
  // packages keep theirs: cfn-lint's AWS resource schemas on the measuring machine) more.
  const more = process.env.COMPRESSION_JSON_DIR ?? path.join(os.homedir(), ".pyenv");
  for (const dir of [path.join(root, "node_modules"), more]) {
    walk(dir, (n) => n.endsWith(".json"), files, budget);
  }
  return Buffer.concat(files.map((f) => fs.readFileSync(f)));
}

/** The anonymous writable mappings of this process: its heaps, as a core dump holds them. */
function heapImage(): Uint8Array {
  const keep = {
    json: JSON.parse(fs.readFileSync(path.resolve("package-lock.json"), "utf8")) as unknown,
    map: new Map(
      Array.from({ length: 200_000 }, (_, i) => [i, { id: i, name: `entry ${i % 977}` }]),
    ),
    floats: Float64Array.from({ length: 1 << 20 }, (_, i) => Math.sin(i) * 1000),
  };
  const chunks: Buffer[] = [];
  let left = LIMIT;
  const fd = fs.openSync("/proc/self/mem", "r");
  try {
    for (const line of fs.readFileSync("/proc/self/maps", "utf8").split("\n")) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) rw-p 00000000 00:00 0\s*(\S*)$/.exec(line);
      if (m === null || (m[3] !== "" && m[3] !== "[heap]")) continue;
      const start = BigInt(`0x${m[1]}`);
      const len = Math.min(Number(BigInt(`0x${m[2]}`) - start), left, 1 << 24);
      const buf = Buffer.alloc(len);
      try {
        fs.readSync(fd, buf, 0, len, start);
      } catch {
        continue;
      }
      chunks.push(buf);
      left -= len;
      if (left <= 0) break;
    }
  } finally {
    fs.closeSync(fd);
  }
  void keep;
  return Buffer.concat(chunks);
}

function heapSnapshot(): Uint8Array {
  const file = v8.writeHeapSnapshot(
    path.join(os.tmpdir(), `kmem-bench-${process.pid}.heapsnapshot`),
  );
  const bytes = fs.readFileSync(file);
  fs.unlinkSync(file);
  return bytes;
}

/* ------------------------------------------------------------------ codecs */

function codecs(): Codec[] {
  const list: Codec[] = [];
  const ours = new Lz4();
  const buf = new Uint8Array(2 * P);
  const out = new Uint8Array(P);
  list.push({
    name: "kmem lz4",
    buf,
    compress: (page) => ours.compress(page, 0, P, buf, 0, buf.length),
    decompress: (comp, len) => ours.decompress(comp, 0, len, out, 0, P),
  });
  interface Lz4js {
    compressBlock(
      src: Uint8Array,
      dst: Uint8Array,
      s: number,
      n: number,
      table: Uint32Array,
    ): number;
    decompressBlock(src: Uint8Array, dst: Uint8Array, s: number, n: number, d: number): number;
  }
  const lz4js = require("lz4js") as Lz4js;
  const table = new Uint32Array(1 << 16);
  list.push({
    name: "lz4js",
    buf,
    compress: (page) => {
      table.fill(0); // lz4js is correct per block only with a cleared table
      return lz4js.compressBlock(page, buf, 0, P, table);
    },
    decompress: (comp, len) => void lz4js.decompressBlock(comp, out, 0, len, 0),
  });
  const wasm = require("lz4-wasm-nodejs") as {
    compress(b: Uint8Array): Uint8Array;
    decompress(b: Uint8Array): Uint8Array;
  };
  list.push({
    name: "lz4-wasm (lz4_flex)",
    compress: (p) => wasm.compress(p),
    decompress: (c) => void wasm.decompress(c),
  });
  const zlib = zstdZlib();
  if (zlib !== null) {
    const z = new Zstd(zlib, 1);
    list.push({
      name: "node:zlib zstd 1",
      buf,
      compress: (page) => z.compress(page, 0, P, buf, 0, buf.length),
      decompress: (comp, len) => z.decompress(comp, 0, len, out, 0, P),
    });
  }
  list.push({
    name: "node:zlib deflateRaw 1",
    compress: (p) => deflateRawSync(p, { level: 1 }),
    decompress: (c) => void inflateRawSync(c),
  });
  return list;
}

async function zstdWasm(): Promise<Codec | null> {
  try {
    const z = require("@bokuweb/zstd-wasm") as {
      init(): Promise<void>;
      compress(b: Uint8Array, level: number): Uint8Array;
      decompress(b: Uint8Array): Uint8Array;
    };
    await z.init();
    return {
      name: "@bokuweb/zstd-wasm 1",
      compress: (p) => z.compress(p, 1),
      decompress: (c) => void z.decompress(c),
    };
  } catch {
    return null;
  }
}

/* ------------------------------------------------------------------ measuring */

function measure(
  codec: Codec,
  pages: Uint8Array[],
): { ratio: number; comp: number; decomp: number } {
  const comps: Uint8Array[] = [];
  let total = 0;
  for (const page of pages) {
    const r = codec.compress(page);
    // 0: the page did not compress (lz4js's answer): stored as it is.
    const bytes =
      r === 0 ? page.slice() : typeof r === "number" ? codec.buf!.slice(0, r) : r.slice();
    comps.push(bytes);
    total += bytes.length;
  }
  let comp = 0;
  let decomp = 0;
  const bytes = pages.length * P;
  // Pages that did not compress are stored as they are: nothing to decompress.
  const stored = comps.reduce((n, c) => n + (c.length < P ? P : 0), 0);
  for (let round = 0; round < 3; round++) {
    let t = performance.now();
    for (const page of pages) codec.compress(page);
    comp = Math.max(comp, bytes / 1e6 / ((performance.now() - t) / 1000));
    t = performance.now();
    for (const c of comps) if (c.length < P) codec.decompress(c, c.length);
    decomp = Math.max(decomp, stored / 1e6 / ((performance.now() - t) / 1000));
  }
  return { ratio: bytes / total, comp, decomp };
}

/** Every page written to a kmem zram device: its mm_stat, and the allocator's efficiency. */
function zramStats(pages: Uint8Array[]) {
  const mm = new Kmem({ memory: Math.max(64 * 2 ** 20, pages.length * P * 2) });
  const z = mm.createZram({ disksize: pages.length * P })!;
  let t = performance.now();
  pages.forEach((p, i) => z.write(i, p));
  const writeMBs = (pages.length * P) / 1e6 / ((performance.now() - t) / 1000);
  const out = new Uint8Array(P);
  t = performance.now();
  for (let i = 0; i < pages.length; i++) z.read(i, out);
  const readMBs = (pages.length * P) / 1e6 / ((performance.now() - t) / 1000);
  const s = z.stats();
  return { s, writeMBs, readMBs };
}

const data: [string, Uint8Array][] = [["JSON files", jsonData()]];
if (fs.existsSync("/var/cache/man/index.db"))
  data.push(["database (man-db GDBM)", fs.readFileSync("/var/cache/man/index.db")]);
data.push(["node binary (ELF)", fs.readFileSync(process.execPath).subarray(0, LIMIT)]);
data.push(["heap image (/proc/self/mem)", heapImage()]);
data.push(["V8 heap snapshot (JSON)", heapSnapshot()]);
data.push(["zero pages", new Uint8Array(4 * 2 ** 20)]);
data.push(["random", randomBytes(4 * 2 ** 20)]);

const list = codecs();
const zw = await zstdWasm();
if (zw !== null) list.push(zw);

const cpu = os.cpus()[0]?.model ?? "unknown cpu";
const lines: string[] = [];
lines.push(
  `Node ${process.version}, ${cpu}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}, ${new Date().toISOString().slice(0, 10)}`,
);
lines.push("");
lines.push("ratio, then compress / decompress MB/s (one 4 KiB page per call, best of 3)");
lines.push("");
lines.push(
  `| codec | ${data.map(([n, b]) => `${n}, ${(Math.min(b.length, LIMIT) / 2 ** 20).toFixed(1)} MiB`).join(" | ")} |`,
);
lines.push(`| --- | ${data.map(() => "---").join(" | ")} |`);
for (const codec of list) {
  const cells = data.map(([, bytes]) => {
    const r = measure(codec, pagesOf(bytes));
    return `${r.ratio.toFixed(2)}x ${r.comp.toFixed(0)}/${r.decomp > 0 ? r.decomp.toFixed(0) : "-"}`;
  });
  lines.push(`| ${codec.name} | ${cells.join(" | ")} |`);
  process.stderr.write(`${codec.name} done\n`);
}
lines.push("");
lines.push("kmem zram (lz4), every page written then read: mm_stat and zsmalloc's efficiency");
lines.push("");
lines.push(
  "| data | pages | same | huge | orig_data_size | compr_data_size | mem_used_total | ratio | efficiency | write MB/s | read MB/s |",
);
lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const [name, bytes] of data) {
  const pages = pagesOf(bytes);
  const { s, writeMBs, readMBs } = zramStats(pages);
  const eff =
    s.memUsedTotal === 0 ? "-" : `${((100 * s.comprDataSize) / s.memUsedTotal).toFixed(1)}%`;
  const ratio = s.memUsedTotal === 0 ? "-" : `${(s.origDataSize / s.memUsedTotal).toFixed(2)}x`;
  lines.push(
    `| ${name} | ${pages.length} | ${s.samePages} | ${s.hugePages} | ${s.origDataSize} | ${s.comprDataSize} | ${s.memUsedTotal} | ${ratio} | ${eff} | ${writeMBs.toFixed(0)} | ${readMBs.toFixed(0)} |`,
  );
}
process.stdout.write(`${lines.join("\n")}\n`);
