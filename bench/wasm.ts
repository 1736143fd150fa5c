/*
 * Real C programs compiled to WebAssembly (clients/): sqlite and zstd with their malloc
 * served by kmem (SLUB, SLAB, SLOB) and by wasi-libc's dlmalloc inside the module. Per program and
 * malloc: the wall time of the run and the process's cpu time over it (each the lowest of
 * BENCH_ROUNDS runs, on fresh instances, in two processes of its own, each after a run to
 * warm up; the processes of the mallocs in turn), the
 * malloc-family calls, the peak of memory in use, and the smallest memory the run completes
 * in. On a loaded machine the cpu time is the steadier figure.
 *
 *   npm run bench -- wasm        (or node dist/bench/wasm.js after npm run build)
 *
 * Peak in use: kmem's pages taken (slabs and large blocks) at their most, sampled after every
 * call; dlmalloc's heap top (what it took with sbrk) above the heap base. Memory needed: the
 * smallest WebAssembly memory (64 KiB pages) the run completes in with the same output:
 * bisected for kmem, whose heap is as large as the memory it is given; for dlmalloc, the
 * memory it grew to from the module's minimum (it asks for more as it needs it, and never
 * gives any back). The timed runs give every malloc the same 64 MiB, so that none grows the
 * memory; two rows time kmem (SLUB) and dlmalloc growing the memory from the module's minimum
 * instead (kmem: the minimum and the mem_map's room for 64 MiB; it grows by memory hotplug),
 * their memory needed what they grew to.
 *
 * KASAN (`node dist/bench/wasm.js --kasan`, after npm run build): sqlite (SQLITE_ROWS rows,
 * 5000 by default) on kmem's SLUB without KASAN, with KASAN over the heap alone (the module
 * not instrumented: poisoning, red zones, the quarantine), with the module instrumented by
 * wasm-opt --instrument-memory and every access checked by the heap's checker module, and the
 * same with each check a call into JavaScript (the route of a checker written in JS). Each
 * row in a process of its own, warmed up by a run; the median of BENCH_ROUNDS runs (5).
 */

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import {
  importedMemory,
  instantiate,
  jsonPages,
  type MallocKind,
  type Program,
  runMain,
  Zstd,
} from "kmem-workbench";

const BUILD = fileURLToPath(new URL("../../clients/build.js", import.meta.url));
/** The mallocs compared: kmem's object allocators with each large route, and dlmalloc. */
interface Config {
  name: string;
  malloc: MallocKind;
  large?: "pages" | "vmem";
  /** Start from the module's minimum memory and grow it, rather than 64 MiB. */
  grow?: boolean;
}

const CONFIGS: readonly Config[] = [
  { name: "kmem slub", malloc: "slub" },
  { name: "kmem slub, large vmem", malloc: "slub", large: "vmem" },
  { name: "kmem slab", malloc: "slab" },
  { name: "kmem slob", malloc: "slob" },
  { name: "kmem slob, large vmem", malloc: "slob", large: "vmem" },
  { name: "kmem slub, growing the memory", malloc: "slub", grow: true },
  { name: "dlmalloc (wasi-libc, in the module)", malloc: "libc" },
  { name: "dlmalloc, growing the memory", malloc: "libc", grow: true },
];
const WASM_PAGE = 65536;

interface Workload {
  name: string;
  what: string;
  /** clients/build.js's program name. */
  client: "sqlite" | "zstd";
  args?: string[];
  /** Runs the work on an instantiated program; returns its output (compared across runs). */
  run(p: Program): string;
}

const pages = jsonPages(1000, 11);
const inputBytes = pages.reduce((n, p) => n + p.length, 0);

const WORKLOADS: Workload[] = [
  {
    name: "sqlite",
    what: "clients/sqlite/workload.c: 20,000 inserts, 2 indexes, 11 queries, deletes, a rollback, a commit",
    client: "sqlite",
    args: ["sqlite", "20000"],
    run(p) {
      const status = runMain(p);
      if (status !== 0) throw new Error(`exit ${status}: ${p.wasi.text(2)}`);
      return p.wasi.text(1);
    },
  },
  {
    name: "zstd one-shot",
    what: `1,000 JSON pages (${(inputBytes / 2 ** 20).toFixed(1)} MiB), each ZSTD_compress (level 3, a context per call) and ZSTD_decompress`,
    client: "zstd",
    run(p) {
      const z = new Zstd(p);
      let out = 0;
      for (const page of pages) {
        const frame = z.compress(page, 3);
        out += frame.length;
        if (z.decompress(frame, page.length).length !== page.length) throw new Error("short");
      }
      return String(out);
    },
  },
  {
    name: "zstd with contexts",
    what: "the same pages through one compression and one decompression context",
    client: "zstd",
    run(p) {
      const z = new Zstd(p);
      const c = z.createCCtx();
      const d = z.createDCtx();
      let out = 0;
      for (const page of pages) {
        const frame = z.compress(page, 3, c);
        out += frame.length;
        if (z.decompress(frame, page.length, d).length !== page.length) throw new Error("short");
      }
      z.freeCCtx(c);
      z.freeDCtx(d);
      return String(out);
    },
  },
];

interface Outcome {
  output: string;
  ms: number;
  /** CPU time of the process over the run (its other threads, the engine's compilers, too). */
  cpuMs: number;
  /** Peak bytes in use (see the header). */
  peak: number;
  calls: number;
  memoryPages: number;
}

/**
 * One run of `w` on `cfg` in `memoryPages` (64 KiB each): kmem's heap is that memory; dlmalloc
 * starts with it and grows it when full (0: from what the module asks for).
 */
function runOnce(
  bytes: Uint8Array,
  w: Workload,
  cfg: Config,
  memoryPages: number,
  meter: boolean,
): Outcome {
  let program: Program | null = null;
  let peakPages = 0;
  // kmem growing: the module's minimum, and the mem_map's room for MEMORY_PAGES (32 bytes a
  // 4 KiB page) with a page to spare; it grows from there up to MEMORY_PAGES.
  const kmemGrows = cfg.grow === true && cfg.malloc !== "libc";
  const room = Math.ceil((((MEMORY_PAGES * WASM_PAGE) / 4096) * 32) / WASM_PAGE) + 2;
  program = instantiate(bytes, {
    malloc: cfg.malloc,
    ...(w.args === undefined ? {} : { args: w.args }),
    pages: kmemGrows ? (importedMemory(bytes)?.min ?? 0) + room : memoryPages,
    ...(cfg.large === undefined && !kmemGrows
      ? {}
      : {
          heap: {
            ...(cfg.large === undefined ? {} : { large: cfg.large }),
            ...(kmemGrows ? { maximum: MEMORY_PAGES } : {}),
          },
        }),
    ...(meter
      ? {
          wrap: (env) => {
            const sample = <T>(r: T): T => {
              const used = (program as Program).heap?.kmem.usedPages ?? 0;
              if (used > peakPages) peakPages = used;
              return r;
            };
            return {
              ...env,
              malloc: (n) => sample(env.malloc(n)),
              calloc: (c, n) => sample(env.calloc(c, n)),
              realloc: (p, n) => sample(env.realloc(p, n)),
              aligned_alloc: (a, n) => sample(env.aligned_alloc(a, n)),
              posix_memalign: (m, a, n) => sample(env.posix_memalign(m, a, n)),
            };
          },
        }
      : {}),
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const output = w.run(program);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const heap = program.heap;
  const pageSize = heap?.kmem.pageSize ?? 0;
  const c = heap?.counts();
  return {
    output,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peak:
      heap === null ? program.memory.buffer.byteLength - program.heapBase : peakPages * pageSize,
    calls: c === undefined ? 0 : c.mallocs + c.frees + c.reallocs,
    memoryPages: program.memory.buffer.byteLength / WASM_PAGE,
  };
}

/** The smallest memory (pages) `w` completes in on kmem with output `expected`. */
function smallestMemory(
  bytes: Uint8Array,
  w: Workload,
  cfg: Config,
  expected: string,
  hi: number,
): number {
  const ok = (pages: number): boolean => {
    try {
      return runOnce(bytes, w, cfg, pages, false).output === expected;
    } catch {
      return false;
    }
  };
  let lo = 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (ok(mid)) hi = mid;
    else lo = mid + 1;
  }
  return hi;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Memory of the timed runs, in 64 KiB pages (every workload fits). */
const MEMORY_PAGES = 1024;

const HERE = fileURLToPath(import.meta.url);

function clientPath(paths: Record<string, string>, w: Workload, cfg: Config): string {
  return paths[`${w.client}-${cfg.malloc === "libc" ? "libc" : "kmem"}`] as string;
}

/**
 * Times `w` on `cfg` in a child process: one run to warm up (the engine tiers the module's code
 * up as it runs), then `rounds` runs; the lowest wall and cpu time, and the output.
 */
function timeInChild(
  paths: Record<string, string>,
  w: Workload,
  cfg: Config,
  rounds: number,
): { ms: number; cpuMs: number; output: string } {
  const args = [HERE, "--time", clientPath(paths, w, cfg), w.name, cfg.name, String(rounds)];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${w.name} on ${cfg.name}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ms: number; cpuMs: number; output: string };
}

/** The child's side of timeInChild. */
function timeHere(path: string, workload: string, config: string, rounds: number): string {
  const w = WORKLOADS.find((x) => x.name === workload) as Workload;
  const cfg = CONFIGS.find((c) => c.name === config) as Config;
  const bytes = readFileSync(path);
  let ms = Infinity;
  let cpuMs = Infinity;
  let output = "";
  for (let i = -1; i < rounds; i++) {
    const o = runOnce(bytes, w, cfg, cfg.grow ? 0 : MEMORY_PAGES, false);
    output = o.output;
    if (i < 0) continue;
    ms = Math.min(ms, o.ms);
    cpuMs = Math.min(cpuMs, o.cpuMs);
  }
  return JSON.stringify({ ms, cpuMs, output });
}

/** Runs every workload on every malloc; returns the Markdown, or a line saying why not. */
export function wasmBenchmarks(log: (line: string) => void, rounds: number): string {
  const r = spawnSync(process.execPath, [BUILD, "--json", "sqlite", "zstd"], {
    encoding: "utf8",
  });
  if (r.status !== 0) return `(WebAssembly clients not built: ${r.stderr.trim()})\n`;
  const paths = JSON.parse(r.stdout) as Record<string, string>;
  const lines: string[] = [];
  for (const w of WORKLOADS) {
    lines.push(`### ${w.name}`, "", `${w.what}.`, "");
    lines.push(
      "| malloc | wall time | vs dlmalloc | cpu time | vs dlmalloc | malloc calls | peak in use | memory needed |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    const bytes = new Map(CONFIGS.map((c) => [c.name, readFileSync(clientPath(paths, w, c))]));
    const memory = MEMORY_PAGES;
    // Each malloc timed in a process of its own (kmem's code, shared by every configuration in
    // one process, would turn polymorphic and be optimised for none), twice in turn.
    let expected: string | null = null;
    const best = new Map<string, { ms: number; cpuMs: number }>();
    for (let pass = 0; pass < 2; pass++) {
      for (const cfg of CONFIGS) {
        const t = timeInChild(paths, w, cfg, Math.ceil(rounds / 2));
        if (expected === null) expected = t.output;
        else if (t.output !== expected)
          throw new Error(`${w.name} on ${cfg.name}: the output differs`);
        const b = best.get(cfg.name) ?? { ms: Infinity, cpuMs: Infinity };
        best.set(cfg.name, { ms: Math.min(b.ms, t.ms), cpuMs: Math.min(b.cpuMs, t.cpuMs) });
      }
    }
    const results: { cfg: Config; ms: number; cpuMs: number; peak: number; needed: number }[] = [];
    let calls = 0;
    for (const cfg of CONFIGS) {
      const b = bytes.get(cfg.name) as Uint8Array;
      // dlmalloc's peak and the memory it needs: grown from the module's minimum.
      const metered = runOnce(b, w, cfg, cfg.malloc === "libc" ? 0 : memory, true);
      const needed =
        cfg.malloc === "libc" || cfg.grow === true
          ? metered.memoryPages
          : smallestMemory(b, w, cfg, expected as string, memory);
      const t = best.get(cfg.name) as { ms: number; cpuMs: number };
      if (cfg.malloc !== "libc") calls = metered.calls;
      results.push({ cfg, ...t, peak: metered.peak, needed });
      log(
        `${w.name} on ${cfg.name}: ${t.ms.toFixed(0)} ms (cpu ${t.cpuMs.toFixed(0)} ms), peak ${mib(metered.peak)}, needs ${needed} pages`,
      );
    }
    const base = results.find((x) => x.cfg.malloc === "libc" && x.cfg.grow !== true) as {
      ms: number;
      cpuMs: number;
    };
    for (const x of results) {
      lines.push(
        `| ${x.cfg.name} | ${x.ms.toFixed(0)} ms | ${(x.ms / base.ms).toFixed(2)}× | ${x.cpuMs.toFixed(0)} ms | ${(x.cpuMs / base.cpuMs).toFixed(2)}× | ${calls.toLocaleString("en-US")} | ${mib(x.peak)} | ${mib(x.needed * WASM_PAGE)} (${x.needed} pages) |`,
      );
    }
    lines.push("");
  }
  const cpu = os.cpus()[0]?.model ?? "unknown cpu";
  return (
    `Node ${process.version}, ${cpu}, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}; ` +
    `wall and cpu time each the lowest of ${rounds} runs (in two processes per malloc, each warmed up by a run)\n\n${lines.join("\n")}`
  );
}

/* ---------------------------------------------------------------- KASAN */

interface KasanRow {
  name: string;
  client: "sqlite-kmem" | "sqlite-kasan";
  kasan: boolean;
  /** Each load_ptr/store_ptr a JavaScript function calling the checker. */
  viaJs?: boolean;
}

const KASAN_ROWS: readonly KasanRow[] = [
  { name: "kmem slub, no KASAN", client: "sqlite-kmem", kasan: false },
  { name: "KASAN over the heap, module not instrumented", client: "sqlite-kmem", kasan: true },
  {
    name: "KASAN, module instrumented (every access checked)",
    client: "sqlite-kasan",
    kasan: true,
  },
  {
    name: "the same, each check a call into JavaScript",
    client: "sqlite-kasan",
    kasan: true,
    viaJs: true,
  },
];

type Env = Record<string, unknown>;

/** One run of sqlite for `row`: cpu and wall ms, output, accesses checked (when `count`). */
function kasanOnce(
  bytes: Uint8Array,
  row: KasanRow,
  rows: string,
  count: boolean,
): { ms: number; cpuMs: number; output: string; accesses: number } {
  let accesses = 0;
  const wrap = (env: Env): Env => {
    if (!row.viaJs && !count) return env;
    const load = env.load_ptr as (...a: number[]) => number;
    const store = env.store_ptr as (...a: number[]) => number;
    return {
      ...env,
      load_ptr: count
        ? (i: number, b: number, o: number, p: number) => (accesses++, load(i, b, o, p))
        : (i: number, b: number, o: number, p: number) => load(i, b, o, p),
      store_ptr: count
        ? (i: number, b: number, o: number, p: number) => (accesses++, store(i, b, o, p))
        : (i: number, b: number, o: number, p: number) => store(i, b, o, p),
    };
  };
  const program = instantiate(bytes, {
    malloc: "slub",
    args: ["sqlite", rows],
    pages: MEMORY_PAGES,
    heap: row.kasan ? { kasan: true } : {},
    wrap: wrap as never,
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const status = runMain(program);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (status !== 0) throw new Error(`${row.name}: exit ${status}: ${program.wasi.text(2)}`);
  const misuses = program.heap?.counts().misuses ?? 0;
  if (misuses !== 0) throw new Error(`${row.name}: ${misuses} reports`);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, output: program.wasi.text(1), accesses };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The child's side: `rounds` runs after one to warm up; medians. */
function kasanHere(path: string, rowName: string, rows: string, rounds: number): string {
  const row = KASAN_ROWS.find((r) => r.name === rowName) as KasanRow;
  const bytes = readFileSync(path);
  const ms: number[] = [];
  const cpuMs: number[] = [];
  let output = "";
  for (let i = -1; i < rounds; i++) {
    const o = kasanOnce(bytes, row, rows, false);
    output = o.output;
    if (i < 0) continue;
    ms.push(o.ms);
    cpuMs.push(o.cpuMs);
  }
  return JSON.stringify({ ms: median(ms), cpuMs: median(cpuMs), output });
}

/** sqlite under KASAN: the Markdown table, or a line saying why not. */
export function kasanBenchmarks(log: (line: string) => void, rounds: number, rows: string): string {
  const r = spawnSync(process.execPath, [BUILD, "--json", "sqlite-kmem", "sqlite-kasan"], {
    encoding: "utf8",
  });
  if (r.status !== 0) return `(clients not built: ${r.stderr.trim()})\n`;
  const paths = JSON.parse(r.stdout) as Record<string, string>;
  const accesses = kasanOnce(
    readFileSync(paths["sqlite-kasan"] as string),
    KASAN_ROWS[2] as KasanRow,
    rows,
    true,
  ).accesses;
  const results: { row: KasanRow; ms: number; cpuMs: number }[] = [];
  let expected: string | null = null;
  for (const row of KASAN_ROWS) {
    const args = [
      HERE,
      "--kasan-time",
      paths[row.client] as string,
      row.name,
      rows,
      String(rounds),
    ];
    const c = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 64 << 20 });
    if (c.status !== 0) throw new Error(`${row.name}: ${c.stderr}`);
    const t = JSON.parse(c.stdout) as { ms: number; cpuMs: number; output: string };
    if (expected === null) expected = t.output;
    else if (t.output !== expected) throw new Error(`${row.name}: the output differs`);
    results.push({ row, ms: t.ms, cpuMs: t.cpuMs });
    log(`${row.name}: ${t.ms.toFixed(0)} ms (cpu ${t.cpuMs.toFixed(0)} ms)`);
  }
  const base = results[0] as { ms: number; cpuMs: number };
  const lines = [
    `sqlite, ${Number(rows).toLocaleString("en-US")} rows: ${accesses.toLocaleString("en-US")} loads and stores checked in the instrumented runs, no report.`,
    "",
    "| sqlite on kmem (SLUB) | wall time (median) | vs no KASAN | cpu time (median) | vs no KASAN |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...results.map(
      (x) =>
        `| ${x.row.name} | ${x.ms.toFixed(0)} ms | ${(x.ms / base.ms).toFixed(2)}× | ${x.cpuMs.toFixed(0)} ms | ${(x.cpuMs / base.cpuMs).toFixed(2)}× |`,
    ),
  ];
  const cpu = os.cpus()[0]?.model ?? "unknown cpu";
  return (
    `Node ${process.version}, ${cpu}, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}, ` +
    `load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(
        ", ",
      )}; each row the median of ${rounds} runs in a process of its own, after a run to warm up\n\n${lines.join("\n")}\n`
  );
}

if (process.argv[1] === HERE) {
  const [mode, path, workload, config, n] = process.argv.slice(2);
  if (mode === "--kasan-time") {
    process.stdout.write(
      kasanHere(path as string, workload as string, config as string, Number(n)),
    );
  } else if (mode === "--kasan") {
    const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
    const rows = process.env.SQLITE_ROWS ?? "5000";
    process.stdout.write(
      kasanBenchmarks((line) => process.stderr.write(`${line}\n`), rounds, rows),
    );
  } else if (mode === "--time") {
    process.stdout.write(timeHere(path as string, workload as string, config as string, Number(n)));
  } else {
    const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
    process.stdout.write(wasmBenchmarks((line) => process.stderr.write(`${line}\n`), rounds));
  }
}
