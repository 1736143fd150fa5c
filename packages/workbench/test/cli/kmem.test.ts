/*
 * The `kmem` command run as a real process (the built dist/src/cli/main.js): every command's
 * happy path and --help, the --json schema, generator determinism, exit codes, and every
 * malformed trace with its `file:line` message and nothing else.
 */

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { allocatorNames } from "../../src/allocators.js";
import { nativeStatus } from "../../src/native.js";
import { MALFORMED } from "../malformed.js";

/** Every allocator the registry knows, in its order; the native one only where it can run. */
const NATIVE = await nativeStatus();
const ALL = allocatorNames().filter((n) => n !== "glibc (native)" || NATIVE === null);
/** ALL as help text wraps it: names separated by a comma and blanks or a line break. */
const ALL_LISTED = ALL.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join(",\\s+");

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const TRACES = fileURLToPath(new URL("../../../../../../shared/traces/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "kmem-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the binary; several may run at once (the tests start them together where they can). */
function kmem(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { cwd: dir, encoding: "utf8", maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const SHORT = write(
  "short.rep",
  "20000\n6\n12\n1\na 0 2040\na 1 2040\nf 1\na 2 48\na 3 4072\nf 3\na 4 4072\nf 0\nf 2\na 5 4072\nf 4\nf 5\n",
);

describe("kmem --help", () => {
  it("on every command, exit 0, with the exit codes", async () => {
    const cmds = [[], ["gen"], ["replay"], ["recommend"], ["demo"], ["report"], ["record"]];
    const runs = await Promise.all(cmds.map((cmd) => kmem(...cmd, "--help")));
    for (const [i, cmd] of cmds.entries()) {
      const r = runs[i] as Run;
      assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: kmem/);
      assert.match(r.stdout, /exit codes: 0 ok, 1 failure/);
    }
    assert.match(runs[2]?.stdout ?? "", new RegExp(ALL_LISTED));
    assert.match(runs[1]?.stdout ?? "", /kernel-mix +slab caches shaped like/);
  });

  it("exit 2 on bad usage", async () => {
    const [u, m, n, big] = await Promise.all([
      kmem("frobnicate"),
      kmem("replay", SHORT, "--memory", "lots"),
      kmem("gen", "random"),
      kmem("replay", SHORT, "--memory", "5G"),
    ]);
    assert.equal(big?.code, 2);
    assert.match(big?.stderr ?? "", /must be between 64K and 4G, got 5G/);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown command 'frobnicate'/);
    assert.equal(m.code, 2);
    assert.match(m.stderr, /not a byte size: "lots"/);
    assert.equal(n.code, 2);
    assert.match(n.stderr, /required option '-o, --output <file>' not specified/);
  });
});

describe("usage errors", () => {
  it("one line saying what is wrong, then where to look: not the whole help", async () => {
    const [option, value, missing, command, top, extra] = await Promise.all([
      kmem("replay", SHORT, "--frobnicate"),
      kmem("replay", SHORT, "--memory", "lots"),
      kmem("gen", "random"),
      kmem("frobnicate"),
      kmem("--frobnicate"),
      kmem("report", "slabinfo", "buddyinfo"),
    ]);
    assert.deepEqual(option, {
      code: 2,
      stdout: "",
      stderr: "kmem: error: unknown option '--frobnicate'\nsee 'kmem replay --help'\n",
    });
    assert.deepEqual(value, {
      code: 2,
      stdout: "",
      stderr:
        "kmem: error: option '-m, --memory <bytes>' argument 'lots' is invalid. " +
        "not a byte size: \"lots\" (try 64M, 1G, 4096)\nsee 'kmem replay --help'\n",
    });
    assert.equal(
      missing.stderr,
      "kmem: error: required option '-o, --output <file>' not specified\nsee 'kmem gen --help'\n",
    );
    assert.equal(command.stderr, "kmem: error: unknown command 'frobnicate'\nsee 'kmem --help'\n");
    assert.equal(top.stderr, "kmem: error: unknown option '--frobnicate'\nsee 'kmem --help'\n");
    assert.match(
      extra.stderr,
      /^kmem: error: too many arguments for 'report'\. .*\nsee 'kmem report --help'\n$/,
    );
    for (const r of [missing, command, top, extra]) assert.equal(r.code, 2);
  });
});

describe("kmem --version", () => {
  it("--version and -V print the package's version, exit 0", async () => {
    const pkg = JSON.parse(
      readFileSync(fileURLToPath(new URL("../../../package.json", import.meta.url)), "utf8"),
    ) as { version: string };
    const runs = await Promise.all([kmem("--version"), kmem("-V")]);
    for (const r of runs) assert.deepEqual(r, { code: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });
});

describe("kmem gen", () => {
  it("writes a workload as .rep; the same seed gives the same bytes, another seed others", async () => {
    const gz = ["webserver", "realtime", "fragmenter", "random"];
    const [a, b, c, ...rest] = await Promise.all([
      kmem("gen", "kernel-mix", "-o", "a.rep", "--seed", "5", "--ops", "3000"),
      kmem("gen", "kernel-mix", "-o", "b.rep", "--seed", "5", "--ops", "3000"),
      kmem("gen", "kernel-mix", "-o", "c.rep", "--seed", "6", "--ops", "3000"),
      ...gz.map((w) => kmem("gen", w, "-o", `${w}.rep.gz`, "--ops", "2000")),
    ]);
    for (const r of [a, b, c, ...rest]) assert.equal(r?.code, 0, r?.stderr);
    assert.match(
      a?.stdout ?? "",
      /^a\.rep: kernel-mix, seed 5: 3,000 ops \(\d[\d,]* a, [\d,]+ f, 0 r\), [\d,]+ ids, peak payload [\d.]+ [KM]iB, [\d,]+ blocks left live\n$/,
    );
    const bytes = (f: string): Buffer => readFileSync(join(dir, f));
    assert.deepEqual(bytes("a.rep"), bytes("b.rep"));
    assert.notDeepEqual(bytes("a.rep"), bytes("c.rep"));
    assert.match(bytes("a.rep").toString(), /^\d+\n\d+\n3000\n1\na 0 \d+\n/);
    for (const w of gz) assert.equal(bytes(`${w}.rep.gz`)[0], 0x1f, "gzip");
  });

  it("-o - writes the trace to stdout and the summary to stderr", async () => {
    const [file, piped] = await Promise.all([
      kmem("gen", "kernel-mix", "-o", "p.rep", "--seed", "5", "--ops", "3000"),
      kmem("gen", "kernel-mix", "-o", "-", "--seed", "5", "--ops", "3000"),
    ]);
    assert.equal(file.code, 0, file.stderr);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, readFileSync(join(dir, "p.rep"), "utf8"));
    assert.equal(piped.stderr, file.stdout.replace(/^p\.rep:/, "stdout:"));
    assert.equal(existsSync(join(dir, "-")), false);
  });

  it("an unknown workload is bad usage, naming the known ones, with -o or without", async () => {
    const [r, bare] = await Promise.all([
      kmem("gen", "browser", "-o", "x.rep"),
      kmem("gen", "nosuch"),
    ]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'kmem: unknown workload "browser" (known: webserver, realtime, kernel-mix, fragmenter, random, broker, desktop, control-loop)\n',
    );
    assert.equal(existsSync(join(dir, "x.rep")), false);
    // The unknown name first: -o is not what is wrong.
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^kmem: unknown workload "nosuch" \(known: /);
  });

  it("a missing output folder is said so, exit 1, not a raw ENOENT", async () => {
    const r = await kmem("gen", "random", "-o", "nodir/x.rep");
    assert.deepEqual(r, {
      code: 1,
      stdout: "",
      stderr: "kmem: cannot write nodir/x.rep: there is no folder nodir\n",
    });
  });
});

describe("kmem replay", () => {
  it("prints a table per trace", async () => {
    const r = await kmem(
      "replay",
      SHORT,
      "realtime",
      "-n",
      "2000",
      "-a",
      "slub",
      "-a",
      "malloc",
      "-q",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^short\.rep: 12 ops, peak payload 8\.0 KiB, memory 16 MiB\n/);
    assert.match(
      r.stdout,
      /^allocator +ops +ops\/s +peak payload +peak footprint +util +int\.frag +failures +p50 +p99 +max +leftovers$/m,
    );
    assert.match(r.stdout, /^slub +12 +\S+ +8\.0 KiB +\S+ \S+ +0\.\d{3} +[\d.]+% +0 /m);
    assert.match(r.stdout, /^malloc +12 /m);
    assert.match(r.stdout, /^realtime: 2,000 ops/m);
    assert.doesNotMatch(r.stdout, /buddy/);
    assert.equal(r.stderr, "", "no progress bar when stderr is not a terminal");
  });

  it("--json: one element per (trace, allocator) with the fields of api.md", async () => {
    const traces = [SHORT];
    const amptjp = join(TRACES, "malloclab/amptjp-bal.rep");
    if (existsSync(amptjp)) traces.push(amptjp);
    const r = await kmem("replay", ...traces, "--json", "--quick");
    assert.equal(r.code, 0, r.stderr);
    const results = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.equal(results.length, ALL.length * traces.length);
    for (const x of results) {
      for (const key of ["trace", "allocator"]) assert.equal(typeof x[key], "string", key);
      for (const key of [
        "ops",
        "opsPerSec",
        "peakPayloadBytes",
        "peakFootprintBytes",
        "utilization",
        "failures",
        "memoryBytes",
        "requests",
      ]) {
        assert.equal(typeof x[key], "number", key);
      }
      const lat = x.latencyNs as Record<string, number>;
      for (const key of ["p50", "p99", "p999", "max", "samples"])
        assert.equal(typeof lat[key], "number");
      assert.ok(
        (lat.p50 as number) <= (lat.p99 as number) && (lat.p99 as number) <= (lat.max as number),
      );
      const util = x.utilization as number;
      assert.ok(util > 0 && util <= 1, `utilization ${util}`);
      assert.ok((x.peakFootprintBytes as number) >= (x.peakPayloadBytes as number));
      assert.deepEqual(
        x.leftovers,
        { blocks: 0, bytes: 0 },
        "the malloc-lab traces free everything",
      );
      assert.equal(x.error, null);
      assert.equal(x.complete, true);
      // Range allocators hand out numbers with no memory behind them: nothing to check.
      assert.equal(x.contentsChecked, !["rmap", "vmem"].includes(x.allocator as string));
    }
    assert.deepEqual(
      results.map((x) => x.allocator),
      traces.flatMap(() => ALL),
    );
    assert.equal(results[0]?.peakPayloadBytes, 8144);
  });

  it("counts leftovers of a trace that does not free everything", async () => {
    const path = write("left.rep", "0\n3\n4\n1\na 0 100\na 1 200\nf 0\na 2 50\n");
    const r = await kmem("replay", path, "--json", "-a", "slub,buddy", "-q");
    assert.equal(r.code, 0, r.stderr);
    for (const x of JSON.parse(r.stdout) as { leftovers: unknown }[]) {
      assert.deepEqual(x.leftovers, { blocks: 2, bytes: 250 });
    }
  });

  it("reads gzip-compressed traces", async () => {
    await kmem("gen", "random", "-o", "r.rep.gz", "--ops", "1500");
    const r = await kmem("replay", "r.rep.gz", "--json", "-a", "slub", "-q");
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { ops: number }[])[0]?.ops, 1500);
  });

  it("an unknown allocator is bad usage, naming the known ones", async () => {
    const r = await kmem("replay", SHORT, "-a", "slab3");
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `kmem: unknown allocator "slab3" (known: ${allocatorNames().join(", ")})\n`,
    );
    assert.equal(r.stdout, "");
  });

  it("a missing file is a failure (exit 1)", async () => {
    const r = await kmem("replay", "nosuch.rep");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^kmem: cannot read nosuch\.rep: no such file, nor a built-in workload/);
  });
});

describe("malformed traces: exit 3 with kmem: file:line: what is wrong, and nothing else", () => {
  const runs = new Map<string, Promise<Run>>();
  const paths = new Map<string, string>();
  before(() => {
    // All at once: each is a process that stops at its first line in error.
    for (const [name, text] of MALFORMED) {
      const path = write(`bad-${name.replace(/\W+/g, "-")}.rep`, text);
      paths.set(name, path);
      // The good trace first: nothing of it may be printed either.
      runs.set(name, kmem("replay", SHORT, path));
    }
  });
  for (const [name, , line, message] of MALFORMED) {
    it(name, async () => {
      const r = (await runs.get(name)) as Run;
      assert.equal(r.code, 3);
      assert.equal(r.stderr, `kmem: ${paths.get(name)}:${line}: ${message}\n`);
      assert.equal(r.stdout, "");
    });
  }

  it("recommend and report stop the same way", async () => {
    const path = write("bad-rec.rep", "0\n1\n1\n1\nf 0\n");
    for (const args of [
      ["recommend", path],
      ["report", "buddyinfo", "-w", path],
    ]) {
      const r = await kmem(...args);
      assert.equal(r.code, 3);
      assert.equal(r.stderr, `kmem: ${path}:5: free of id 0, which is never allocated\n`);
      assert.equal(r.stdout, "");
    }
  });
});

describe("kmem recommend", () => {
  it("ranks the candidates and says why, from the numbers", async () => {
    const r = await kmem("recommend", "webserver", "-n", "3000", "-q");
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^webserver: 3,000 ops, peak payload [\d.]+ [KM]iB; memory 16 MiB, under pressure 1 MiB \(1\.5× the peak payload\)\n/,
    );
    assert.match(
      r.stdout,
      /^rank +allocator +score +ops\/s +util +overhead +p99 +p99\.9 +max +failures +under pressure$/m,
    );
    for (const name of ALL) {
      assert.match(
        r.stdout,
        new RegExp(`^\\d+ +${name.replace(/[./()]/g, "\\$&")} +[01]\\.\\d\\d `, "m"),
      );
    }
    assert.match(
      r.stdout,
      /goal balanced: speed 0\.20, utilization 0\.30, overhead 0\.10, tail latency 0\.15, failures 0\.25/,
    );
    const first = /^1 +(.+?) {2,}/m.exec(r.stdout)?.[1] ?? "";
    const reason = r.stdout.slice(r.stdout.lastIndexOf("\n\n") + 2).replace(/\s+/g, " ");
    assert.ok(reason.startsWith(`${first} is the best fit for webserver (score`), reason);
    assert.match(reason, /It runs at [\d.]+ M ops\/s, uses its memory at 0\.\d\d utilization/);
  });

  it("--json, and a workload's own goal", async () => {
    const r = await kmem(
      "recommend",
      "realtime",
      "-n",
      "2000",
      "--json",
      "-a",
      "slub,malloc",
      "-q",
    );
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      goal: string;
      ranking: { allocator: string; score: number; result: { trace: string } }[];
      reason: string;
    };
    assert.equal(j.goal, "latency");
    assert.deepEqual(j.ranking.map((x) => x.allocator).sort(), ["malloc", "slub"]);
    assert.ok(j.ranking.every((x) => x.score >= 0 && x.score <= 1));
    assert.match(j.reason, /is the best fit for realtime, where latency counts most/);
  });
});

describe("kmem recommend --machine", () => {
  it("rpi: its four workloads ranked at 1 GiB scaled, SLAB, SLUB, SLOB and buddy in each", async () => {
    const args = [
      "recommend",
      "--machine",
      "rpi",
      "-n",
      "1500",
      "-a",
      "slab,slub,slob,buddy",
      "--workers",
      "0",
    ];
    const [text, json] = await Promise.all([
      kmem(...args, "-q"),
      kmem(...args, "-q", "--json", "--ram", "8G", "--scale", "1024"),
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^machine rpi \(a Raspberry Pi 4\/5: 1, 2, 4 or 8 GiB, 4 cpus\): 1 GiB scaled 1\/256, 4 MiB per allocator; each replay runs on one cpu\n/,
    );
    for (const w of ["webserver", "broker", "desktop", "control-loop"]) {
      assert.match(text.stdout, new RegExp(`^${w}: 1,500 ops, .*; memory 4 MiB,`, "m"));
    }
    assert.match(text.stdout, /is the best fit for control-loop, where latency counts most/);
    assert.equal(json.code, 0, json.stderr);
    const recs = JSON.parse(json.stdout) as {
      machine: { name: string; ramBytes: number; scale: number; memoryBytes: number; cpus: number };
      trace: string;
      memoryBytes: number;
      goal: string;
      ranking: { allocator: string; score: number; result: { latencyNs: { p99: number } } }[];
    }[];
    assert.deepEqual(
      recs.map((r) => [r.trace, r.goal]),
      [
        ["webserver", "balanced"],
        ["broker", "balanced"],
        ["desktop", "balanced"],
        ["control-loop", "latency"],
      ],
    );
    for (const r of recs) {
      assert.deepEqual(r.machine, {
        name: "rpi",
        ramBytes: 8 * 2 ** 30,
        scale: 1024,
        memoryBytes: 8 << 20,
        cpus: 4,
      });
      assert.equal(r.memoryBytes, 8 << 20);
      assert.deepEqual(r.ranking.map((x) => x.allocator).sort(), ["buddy", "slab", "slob", "slub"]);
      assert.ok(r.ranking.every((x) => x.score >= 0 && x.score <= 1));
      assert.ok(r.ranking.every((x, i) => i === 0 || x.score <= (r.ranking[i - 1]?.score ?? 1)));
    }
  });

  it("runs broker with a worker per cpu over one SharedArrayBuffer, and says how many cores were real", async () => {
    // broker on two workers, 1,000 ops each: the text, then --json.
    const broker = ["recommend", "--machine", "rpi", "broker", "-n", "2000", "--workers", "2"];
    const r = await kmem(...broker, "-a", "slab,buddy,glibc", "-q");
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^broker on 2 cpus: a worker per cpu over one SharedArrayBuffer, each its own trace of 1,000 ops, 4 MiB in all; .*; \d+ cores here, load [\d.]+$/m,
    );
    const rows = r.stdout.match(/^(slab|buddy) +[\d.]+[kM]? +[\d.]+[kM]? +[\d.]+× +0\/[\d,]+$/gm);
    assert.equal(rows?.length, 2, r.stdout);
    assert.match(
      r.stdout,
      /^on 2 cpus: (slab|buddy) [\d.]+[kM]? > (slab|buddy) [\d.]+[kM]? \(failures first, then throughput\); 2 cpus asked, \d+ cores here/m,
    );
    // --json carries the same runs, under the ranking's `smp`.
    const j = await kmem(...broker, "-a", "slub", "--json");
    assert.equal(j.code, 0, j.stderr);
    const body = JSON.parse(j.stdout) as {
      smp: {
        workload: string;
        cpus: number;
        results: { allocator: string; all: { failures: number } }[];
      };
    };
    assert.equal(body.smp.workload, "broker");
    assert.equal(body.smp.cpus, 2);
    assert.deepEqual(
      body.smp.results.map((x) => [x.allocator, x.all.failures]),
      [["slub", 0]],
    );
  });

  it("--markdown memory: one table over the sizes, the same bytes on every run", async () => {
    const args = [
      "recommend",
      "--machine",
      "rpi",
      "control-loop",
      "broker",
      "--markdown",
      "memory",
    ];
    const [a, b, bad] = await Promise.all([
      kmem(...args, "--scale", "1024", "-n", "600", "-a", "slob,slab,buddy", "-q"),
      kmem(...args, "--scale", "1024", "-n", "600", "-a", "slob,slab,buddy", "-q"),
      kmem(...args, "--json"),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    const lines = a.stdout.trimEnd().split("\n");
    assert.equal(
      lines[2],
      "| workload (peak payload) | rpi | fewest failures, then utilization | SLAB | SLOB | buddy |",
    );
    const rows = lines.slice(4);
    assert.equal(rows.length, 8, a.stdout);
    for (const [i, l] of rows.entries()) {
      const w = i < 4 ? "control-loop" : "broker";
      const g = [1, 2, 4, 8][i % 4] as number;
      const name = i % 4 === 0 ? `${w} \\(\\d+(\\.\\d)? [KM]iB\\)` : w;
      assert.match(
        l,
        new RegExp(
          `^\\| ${name} \\| ${g} GiB \\| \\w+ [01]\\.\\d\\d( \\| [01]\\.\\d\\d, [\\d.]+%(, [\\d,]+ failed)?){3} \\|$`,
        ),
      );
    }
    assert.equal(bad.code, 2);
  });

  it("replay --machine rpi --ram 2G: the four workloads at 8 MiB each; bad usage refused", async () => {
    const [r, csv, bad, none] = await Promise.all([
      kmem("replay", "--machine", "rpi", "--ram", "2G", "-n", "1000", "-a", "slab,buddy", "-q"),
      kmem("replay", "--machine", "rpi", "broker", "-n", "1000", "-a", "slob", "-q", "--csv"),
      kmem("replay", "--machine", "rpi", "--scale", "6", "-n", "100"),
      kmem("replay", "-n", "100"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^machine rpi .*: 2 GiB scaled 1\/256, 8 MiB per allocator;/);
    for (const w of ["webserver", "broker", "desktop", "control-loop"])
      assert.match(r.stdout, new RegExp(`^${w}: 1,000 ops, peak payload .*, memory 8 MiB$`, "m"));
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.trimEnd().split("\r\n");
    assert.equal(rows.length, 2);
    assert.match(rows[1] ?? "", /^broker,slob,4194304,1000,true,/);
    for (const x of [bad, none]) {
      assert.equal(x.code, 2, x.stderr);
      assert.equal(x.stdout, "");
    }
  });

  it("refuses an unknown machine, a size it does not come in, a bad scale, --memory beside it", async () => {
    const bad = [
      ["--machine", "rpi5"],
      ["--machine", "rpi", "--ram", "3G"],
      ["--machine", "rpi", "--scale", "3"],
      ["--machine", "rpi", "--scale", "0"],
      ["--machine", "rpi", "--scale", "32768"],
      ["--machine", "rpi", "--memory", "16M"],
      ["--ram", "1G", "webserver"],
      ["--scale", "256", "webserver"],
      ["--workers", "4", "webserver"],
      ["--machine", "rpi", "--ram", "all", "--json"],
      ["--markdown", "webserver"],
      [],
    ];
    const runs = await Promise.all(bad.map((a) => kmem("recommend", ...a, "-n", "100")));
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 2, `${(bad[i] ?? []).join(" ")}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^(error|kmem): /m);
    }
  });
});

describe("your own traces: --html, --csv, several traces", () => {
  it("replay --csv: a header row and a row per (trace, allocator), units in the names", async () => {
    const r = await kmem(
      "replay",
      SHORT,
      "realtime",
      "-n",
      "1500",
      "-a",
      "slub,malloc",
      "-q",
      "--csv",
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\r\n");
    assert.equal(lines.length, 1 + 2 * 2);
    assert.match(
      lines[0] ?? "",
      /^trace,allocator,memory_bytes,ops,complete,ops_per_sec,.*,p50_ns,.*,error$/,
    );
    assert.match(lines[1] ?? "", /short\.rep,slub,16777216,12,true,\d+,/);
    assert.match(lines[4] ?? "", /^realtime,malloc,/);
  });

  it("replay of several traces ends with the summary across them; --html writes the report", async () => {
    const r = await kmem(
      "replay",
      SHORT,
      "random",
      "-n",
      "1500",
      "-a",
      "slub,rmap",
      "-q",
      "--html",
      "mine.html",
      "--csv",
      "mine.csv",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^summary over 2 traces: the winner of each criterion per trace$/m);
    assert.match(r.stdout, /^allocator +traces +ops\/s +util +footprint +p99\.9 +failed +wins$/m);
    assert.match(r.stdout, /^slub +2\/2 /m);
    assert.match(r.stdout, /^best over all traces: throughput \S+, utilization \S+/m);
    assert.match(r.stdout, /^report: mine\.html \(self-contained, opens offline\)$/m);
    const page = readFileSync(join(dir, "mine.html"), "utf8");
    assert.match(page, /Across the 2 traces/);
    assert.match(page, /class="heapmap" data-trace="1"/);
    assert.doesNotMatch(page, /<script[^>]+src=|<link[^>]+href=/);
    assert.match(readFileSync(join(dir, "mine.csv"), "utf8"), /^trace,allocator,/);
  });

  it("recommend of several traces: a ranking each, then the summary; --json an array", async () => {
    const [text, json, csv] = await Promise.all([
      kmem("recommend", "webserver", "random", "-n", "1500", "-a", "slub,malloc", "-q"),
      kmem("recommend", "webserver", "random", "-n", "1500", "-a", "slub,malloc", "-q", "--json"),
      kmem("recommend", "webserver", "-n", "1500", "-a", "slub,malloc", "-q", "--csv"),
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^webserver: 1,500 ops/m);
    assert.match(text.stdout, /^random: 1,500 ops/m);
    assert.match(text.stdout, /^allocator +traces +ops\/s .* wins +mean score$/m);
    const j = JSON.parse(json.stdout) as {
      trace: string;
      ranking: { complete: boolean; pressure: { opsPerSec: unknown } }[];
    }[];
    assert.deepEqual(
      j.map((x) => x.trace),
      ["webserver", "random"],
    );
    for (const x of j[0]?.ranking ?? []) {
      assert.equal(x.complete, true);
      assert.equal(x.pressure.opsPerSec, null, "a pressure run is not timed: null, not 0");
    }
    assert.match(
      csv.stdout,
      /^trace,.*,goal,rank,score,pressure_memory_bytes,pressure_requests,pressure_failures,pressure_complete\r\n/,
    );
    assert.match(csv.stdout, /\r\nwebserver,\S+,.*,balanced,1,/);
  });

  it("an --html file in a missing folder stops the command before any replay", async () => {
    const r = await kmem("recommend", "webserver", "-n", "1500", "--html", "nodir/r.html");
    assert.deepEqual(r, {
      code: 1,
      stdout: "",
      stderr: "kmem: cannot write nodir/r.html: there is no folder nodir\n",
    });
  });
});

describe("kmem report kasan, kfence, kmemleak", () => {
  it("a workload under each: nothing found, the sanitizer's state", async () => {
    const [kasan, kfence, leak] = await Promise.all([
      kmem("report", "kasan", "-n", "2000"),
      kmem("report", "kfence", "-n", "2000", "--interval", "10"),
      kmem("report", "kmemleak", "-t", SHORT),
    ]);
    assert.equal(kasan.code, 0, kasan.stderr);
    assert.match(
      kasan.stdout,
      /^kernel-mix on slub under KASAN: 2,000 ops, 2,000 accesses checked \(.*\), memory 16 MiB\n\n/,
    );
    assert.doesNotMatch(kasan.stdout, /BUG: KASAN/);
    assert.match(kasan.stdout, /\nkasan: 0 reports; quarantine [1-9]\d* objects, /);
    assert.match(
      kasan.stdout,
      /\nshadow: \d+ bytes, .*: [1-9]\d* accessible, .* [1-9]\d* slab freed, /,
    );
    assert.equal(kfence.code, 0, kfence.stderr);
    assert.match(kfence.stdout, /\ntotal allocations: [1-9]\d*\n/);
    assert.match(kfence.stdout, /\nbugs: 0\n$/);
    assert.equal(leak.code, 0, leak.stderr);
    assert.match(
      leak.stdout,
      /^short\.rep on slub under kmemleak: 12 ops, memory 16 MiB; scanned with the trace's 0 live blocks as roots\n/,
    );
    assert.match(leak.stdout, /\nkmemleak: 0 objects tracked; last scan: 0 objects scanned, /);
  });

  it("--plant: the planted bug's report, in Linux's words, without the callers' stacks", async () => {
    const [oob, uaf, fence, corrupt, leak] = await Promise.all([
      kmem("report", "kasan", "-n", "2000", "--plant", "oob"),
      kmem("report", "kasan", "-a", "mach-zone", "-n", "2000", "--plant", "uaf"),
      kmem("report", "kfence", "-n", "2000", "--plant", "oob"),
      kmem("report", "kfence", "-n", "2000", "--plant", "corruption"),
      kmem("report", "kmemleak", "-n", "2000", "--plant", "leak"),
    ]);
    for (const r of [oob, uaf, fence, corrupt, leak]) assert.equal(r.code, 0, r.stderr);
    assert.match(
      oob.stdout,
      /\nplanted: getUint8 one byte past a 100-byte block of slub at 0x[0-9a-f]+: reported\n/,
    );
    assert.match(oob.stdout, /\nBUG: KASAN: slab-out-of-bounds in getUint8\nRead of size 1 at /);
    assert.match(oob.stdout, /\n allocated 100-byte region \[/);
    assert.match(uaf.stdout, /\nplanted: getUint32 8 bytes into a 100-byte block of mach-zone /);
    assert.match(uaf.stdout, /\nBUG: KASAN: slab-use-after-free in getUint32\n/);
    assert.match(fence.stdout, /\nBUG: KFENCE: out-of-bounds read in getUint8\n/);
    assert.match(fence.stdout, /\nbugs: 1\n$/);
    assert.match(corrupt.stdout, /\nBUG: KFENCE: memory corruption in kfree\n/);
    assert.match(leak.stdout, /\nunreferenced object 0x[0-9a-f]{8} \(size 48\):\n/);
    assert.match(leak.stdout, / 1 unreferenced, 1 new suspected memory leaks\n$/);
    for (const r of [oob, uaf, fence, corrupt, leak]) assert.doesNotMatch(r.stdout, /^\s+at /m);
  });

  it("bad usage: a bug the sanitizer does not report, a layer it cannot run on", async () => {
    const [a, b, c] = await Promise.all([
      kmem("report", "kasan", "--plant", "leak"),
      kmem("report", "kasan", "-a", "malloc"),
      kmem("report", "slabinfo", "--plant", "oob"),
    ]);
    assert.equal(a.code, 2);
    assert.equal(a.stderr, "kmem: --plant leak: KASAN reports oob, uaf, double-free\n");
    assert.equal(b.code, 2);
    assert.match(b.stderr, /^kmem: malloc cannot run under the sanitizers: one of slub/);
    assert.equal(c.code, 2);
  });

  it("replay --kasan --kfence: each kmem layer again under them, the cost beside the plain run", async () => {
    const r = await kmem(
      "replay",
      SHORT,
      "-a",
      "slub",
      "-a",
      "malloc",
      "--kasan",
      "--kfence",
      "5",
      "-q",
    );
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout
      .split("\n")
      .filter((l) => /^(slub|malloc)/.test(l))
      .map((l) => l.split(/ +/)[0]);
    assert.deepEqual(rows, ["slub", "slub+kasan", "slub+kfence", "malloc"]);
    assert.match(r.stdout, /\n {2}slub\+kasan +ops\/s [\d.]+×, peak footprint [\d.]+× of slub's\n/);
    assert.match(r.stdout, /\n {2}slub\+kfence +ops\/s /);
  });
});

describe("kmem report", () => {
  it("prints /proc/slabinfo after a workload on slub", async () => {
    const r = await kmem("report", "slabinfo", "-w", "kernel-mix", "-n", "3000");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^slabinfo - version: 2\.1\n# name +<active_objs>/);
    assert.match(r.stdout, /^kmalloc-192 +[1-9]\d* +\d+ +192 /m, "dentries live in kmalloc-192");
  });

  it("all: every file, for buddy too", async () => {
    const r = await kmem("report", "all", "-a", "buddy", "-w", "fragmenter", "-n", "3000");
    assert.equal(r.code, 0, r.stderr);
    for (const f of [
      "/proc/buddyinfo",
      "/proc/slabinfo",
      "/proc/meminfo",
      "/proc/vmstat",
      "/proc/vmallocinfo",
      "/sys/kernel/debug/extfrag/unusable_index",
      "/sys/kernel/debug/extfrag/extfrag_index",
    ]) {
      assert.ok(r.stdout.includes(`==> ${f} <==\n`), f);
    }
    assert.match(r.stdout, /^Node 0, zone {3}Normal( +\d+){11} ?$/m);
    assert.match(r.stdout, /^MemTotal: +\d+ kB$/m);
  });

  it("an empty file says so on stderr, its stdout as empty as Linux's (vmallocinfo)", async () => {
    const [one, all] = await Promise.all([
      kmem("report", "vmallocinfo", "-n", "2000"),
      kmem("report", "all", "-n", "2000"),
    ]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, "");
    const note =
      "kmem: /proc/vmallocinfo is empty: no vmalloc or vmap area was in use at the end of the workload\n";
    assert.equal(one.stderr, note);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /==> \/proc\/vmallocinfo <==\n\n==> /);
    assert.equal(all.stderr, note);
  });

  it("zram files after the workload's memory is written to zram0: mm_stat, io_stat, classes", async () => {
    const [mm, io, classes] = await Promise.all([
      kmem("report", "mm_stat", "-n", "2000"),
      kmem("report", "io_stat", "-n", "2000"),
      kmem("report", "zsmalloc-classes", "-n", "2000"),
    ]);
    assert.equal(mm.code, 0, mm.stderr);
    // Nine columns; orig_data_size is a quarter of memory, and some pages are same-filled.
    const cols = mm.stdout.trim().split(/ +/).map(Number);
    assert.equal(cols.length, 9, mm.stdout);
    assert.ok(cols[0]! > 0 && cols[1]! > 0 && cols[1]! < cols[0]!, mm.stdout);
    assert.equal(io.stdout, "       0        0 0        0\n");
    assert.match(classes.stdout, /^ class {2}size +10% .* freeable\n/);
    assert.match(classes.stdout, /\n Total /);
  });

  it("zoneinfo: the zone's free pages, watermarks and span, as Linux prints them", async () => {
    const r = await kmem("report", "zoneinfo");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Node 0, zone {3}Normal\n {2}pages free {5}\d+\n {8}min {6}\d+\n/);
    assert.match(r.stdout, /\n {8}managed {2}\d+\n/);
  });

  it("bad usage: an unknown report, a peer", async () => {
    const a = await kmem("report", "pagetypeinfo");
    assert.equal(a.code, 2);
    assert.match(
      a.stderr,
      /^kmem: unknown report "pagetypeinfo" \(known: buddyinfo, slabinfo, meminfo, vmstat, vmallocinfo, unusable_index, extfrag_index, numastat, zoneinfo, mm_stat, io_stat, bd_stat, zsmalloc-classes, kasan, kfence, kmemleak, all\)\n$/,
    );
    const b = await kmem("report", "buddyinfo", "-a", "malloc");
    assert.equal(b.code, 2);
    assert.match(
      b.stderr,
      /^kmem: malloc is not a kmem layer: \/proc reports need one of slub, slab, slob, buddy, mempool/,
    );
  });

  it("--help names every kmem layer (slob and mempool too); numastat is a report", async () => {
    const [help, numa, pool] = await Promise.all([
      kmem("report", "--help"),
      kmem("report", "numastat", "-n", "2000"),
      kmem("report", "slabinfo", "-a", "mempool", "-n", "2000"),
    ]);
    assert.match(
      help.stdout.replace(/\s+/g, " "),
      /the kmem layer: slub, slab, slob, buddy, mempool/,
    );
    assert.equal(numa.code, 0, numa.stderr);
    assert.match(numa.stdout, /^ +node0\nnuma_hit +\d+\n/);
    assert.equal(pool.code, 0, pool.stderr);
    assert.match(pool.stdout, /^kmalloc-1k +\d+/m, "the pool's elements");
  });

  it("a reader that stops early ends it quietly (kmem report all | head)", async () => {
    const r = await new Promise<Run>((resolve) => {
      const child = spawn(process.execPath, [MAIN, "report", "all", "-n", "2000"], { cwd: dir });
      // Closed before the command writes anything: its every write meets EPIPE.
      child.stdout.destroy();
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => resolve({ code: code ?? -1, stdout: "", stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /EPIPE|Error/);
  });
});

describe("kmem demo --machine", () => {
  it("rpi: the machine's workloads at its memory, scaled", async () => {
    const r = await kmem(
      "demo",
      "--machine",
      "rpi",
      "--ram",
      "1G",
      "-n",
      "400",
      "-o",
      "demo-rpi",
      "--no-html",
      "--workers",
      "0",
      "--quick",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^kmem demo: 4 machine workloads, 400 ops each \(seed 1\), against /);
    assert.match(r.stdout, /^machine rpi .*: 1 GiB scaled 1\/256, 4 MiB per allocator;/m);
    for (const w of ["webserver", "broker", "desktop", "control-loop"]) {
      assert.match(r.stdout, new RegExp(`^${w}: `, "m"));
      assert.match(r.stdout, new RegExp(`memory 4 MiB`));
    }
  });
});

describe("kmem demo", () => {
  it("generates the workloads, compares, ranks, writes the report and says where", async () => {
    const r = await kmem("demo", "-n", "1500", "-o", "demo-out", "--quick");
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `^kmem demo: 5 built-in workloads, 1,500 ops each \\(seed 1\\), against ${ALL_LISTED}\n`,
      ),
    );
    for (const w of ["webserver", "realtime", "kernel-mix", "fragmenter", "random"]) {
      assert.match(r.stdout, new RegExp(`^${w}: `, "m"));
      assert.ok(existsSync(join(dir, "demo-out", "traces", `${w}.rep`)), w);
    }
    assert.equal(r.stdout.match(/^ranking \(goal \w+\): .+? [01]\.\d\d > /gm)?.length, 5);
    const html = join(dir, "demo-out", "report.html");
    assert.ok(r.stdout.includes("report: demo-out/report.html (self-contained, opens offline)\n"));
    const page = readFileSync(html, "utf8");
    assert.match(page, /^<!doctype html>/);
    assert.match(page, /Chart\.js v4/, "the charting library is inlined");
    assert.doesNotMatch(page, /<script[^>]+src=|<link[^>]+href=/, "nothing loaded from elsewhere");
  });
});
