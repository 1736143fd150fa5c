/*
 * Before and after: did a change make kmalloc faster on real programs? One process's speed
 * falls into modes (BENCHMARKS.md, "The spread between processes"), so that two tables run
 * an hour apart differ by more than most changes do. This runs the program traces at
 * another revision of the repository ("before") and at this working tree ("after"), taking
 * turns with TLSF, each replay in a process of its own, round after round:
 *
 *   npm run bench:ab -- [--rounds N] [--allocator NAME] [--keep] REV [TRACE...]
 *
 *   REV        a git revision (a commit, HEAD~1, a branch): checked out in a worktree of its
 *              own under the system's temporary folder, its node_modules the packages of
 *              this one (kmem and kmem-workbench its own), built with `npm run build`
 *   TRACE      traces by path, or by a part of a program trace's name (default: all of them)
 *   --rounds   rounds (default 10): in each, every trace once by before, after and TLSF, in
 *              an order that turns from round to round
 *   --allocator  the kmem allocator of both sides (default slub; any of `kmem replay -a`)
 *   --keep     leave the worktree (it is removed at the end otherwise)
 *
 * prints, per trace, the median M ops/s of each side and its range, the median of the
 * rounds' after/before ratios with how many rounds after was the faster, and after/TLSF.
 * Both sides replay as `npm run bench -- programs` does (bench/replay.ts's replayAlone:
 * bench/replay-one.ts in a process of its own, 256 MiB), each by its own build's script.
 */

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { replayAlone } from "./replay.js";
import { programTraces, traceName } from "./traces.js";

interface Options {
  rev: string;
  traces: string[];
  rounds: number;
  allocator: string;
  keep: boolean;
}

function usage(why: string): never {
  process.stderr.write(
    `${why}\nusage: npm run bench:ab -- [--rounds N] [--allocator NAME] [--keep] REV [TRACE...]\n`,
  );
  process.exit(2);
}

function parse(argv: string[]): Options {
  let rounds = 10;
  let allocator = "slub";
  let keep = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--rounds") {
      rounds = Number(argv[++i]);
      if (!Number.isInteger(rounds) || rounds < 1) usage(`--rounds wants a count, got ${argv[i]}`);
    } else if (a === "--allocator") {
      allocator = argv[++i] ?? usage("--allocator wants a name");
    } else if (a === "--keep") keep = true;
    else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else rest.push(a);
  }
  const [rev, ...names] = rest;
  if (rev === undefined) usage("which revision is before?");
  const all = programTraces();
  const traces =
    names.length === 0
      ? all
      : names.map((n) => {
          if (existsSync(n)) return n;
          const hits = all.filter((f) => traceName(f).includes(n));
          if (hits.length !== 1) usage(`${n}: ${hits.length} program traces match`);
          return hits[0] as string;
        });
  if (traces.length === 0) usage("no program traces found");
  return { rev, traces, rounds, allocator, keep };
}

/** The repository this script was built from (dist/bench/ab.js: two folders up). */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A worktree of `rev` in `dir`, built: its node_modules links every package of this
 * repository's but kmem and kmem-workbench, which are the worktree itself, as npm's
 * workspaces make them.
 */
function buildBefore(rev: string, dir: string): string {
  const tree = join(dir, "tree");
  execFileSync("git", ["-C", ROOT, "worktree", "add", "--detach", tree, rev], { stdio: "ignore" });
  const modules = join(tree, "node_modules");
  mkdirSync(modules);
  for (const name of readdirSync(join(ROOT, "node_modules"))) {
    if (name === "kmem" || name === "kmem-workbench") continue;
    symlinkSync(join(ROOT, "node_modules", name), join(modules, name));
  }
  symlinkSync("..", join(modules, "kmem"));
  symlinkSync(join("..", "packages", "workbench"), join(modules, "kmem-workbench"));
  process.stderr.write(`building ${rev} in ${tree}\n`);
  execFileSync("npm", ["run", "build", "--silent"], {
    cwd: tree,
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (!existsSync(join(tree, "dist", "bench", "replay-one.js"))) {
    throw new Error(`${rev} has no bench/replay-one.ts: too old to compare this way`);
  }
  return tree;
}

/**
 * One replay in a process of its own, as the side-by-side table's, by `tree`'s build:
 * M ops/s.
 */
async function replayOnce(tree: string, file: string, allocator: string): Promise<number> {
  const r = await replayAlone(file, allocator, join(tree, "dist", "bench"));
  if (r.error !== null || !r.complete || r.opsPerSec === null) {
    throw new Error(`${allocator} on ${file}: ${r.error ?? "incomplete, or not timed"}`);
  }
  return r.opsPerSec / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function spread(xs: number[]): string {
  return `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
}

function revision(tree: string, rev: string): string {
  return execFileSync("git", ["-C", tree, "rev-parse", "--short", rev], {
    encoding: "utf8",
  }).trim();
}

const o = parse(process.argv.slice(2));
const dir = mkdtempSync(join(os.tmpdir(), "kmem-ab-"));
let tree = "";
try {
  tree = buildBefore(o.rev, dir);
  // before, after, TLSF: the columns of the table below.
  const sides = [
    { tree, allocator: o.allocator },
    { tree: ROOT, allocator: o.allocator },
    { tree: ROOT, allocator: "tlsf" },
  ];
  const speeds = o.traces.map(() => sides.map((): number[] => []));
  for (let round = 0; round < o.rounds; round++) {
    for (const [t, file] of o.traces.entries()) {
      for (let k = 0; k < sides.length; k++) {
        const s = (k + round) % sides.length;
        const side = sides[s] as (typeof sides)[number];
        (speeds[t]?.[s] as number[]).push(await replayOnce(side.tree, file, side.allocator));
      }
    }
    process.stderr.write(`round ${round + 1} of ${o.rounds}\n`);
  }
  const head = revision(ROOT, "HEAD");
  const dirty = execFileSync("git", ["-C", ROOT, "status", "--porcelain", "--untracked-files=no"], {
    encoding: "utf8",
  }).trim();
  const lines = [
    `### ${o.allocator}: ${revision(tree, "HEAD")} (before) against ${head}${dirty === "" ? "" : " with changes"} (after)`,
    "",
    `Node ${process.version}, ${os.cpus()[0]?.model ?? "unknown cpu"}, ${os.cpus().length} cores, ` +
      `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; ${o.rounds} rounds, each ` +
      "replay in a process of its own (256 MiB), the three sides taking turns; M ops/s, median (range).",
    "",
    "| trace | before | after | TLSF | after / before (rounds faster) | after / TLSF |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const [t, file] of o.traces.entries()) {
    const [before, after, tlsf] = speeds[t] as [number[], number[], number[]];
    const ratios = after.map((a, i) => a / (before[i] as number));
    const faster = ratios.filter((r) => r > 1).length;
    lines.push(
      `| ${traceName(file)} | ${spread(before)} | ${spread(after)} | ${spread(tlsf)} | ` +
        `${median(ratios).toFixed(2)}× (${faster} of ${o.rounds}) | ${(median(after) / median(tlsf)).toFixed(2)}× |`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  if (!o.keep) {
    if (tree !== "")
      execFileSync("git", ["-C", ROOT, "worktree", "remove", "--force", tree], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  } else if (tree !== "") process.stderr.write(`kept ${tree}\n`);
}
