/*
 * Generated blocks of the Markdown files (README.md, ARCHITECTURE.md, BENCHMARKS.md, docs/):
 * an example's source and what it prints, and what `kmem` commands print, filled in from real
 * runs between markers, so that no output shown is copied by hand.
 *
 *   <!-- code: examples/pages.ts -->     the example's source, as a ts block (or a C
 *   <!-- /code -->                       source of clients/, as a c block)
 *   <!-- output: examples/pages.ts -->   what the built example (dist/examples/pages.js)
 *   <!-- /output -->                     prints, as a plain block
 *   <!-- output:                         what the commands print: each line "$ command", run
 *   $ npx kmem gen random -o r.rep       by sh in one scratch directory (so a file one writes,
 *   $ head -5 r.rep                      the next reads), its stdout and stderr after it; a
 *   -->                                  command must exit 0 (show a failure with `; echo
 *   <!-- /output -->                     "exit $?"`); `npx kmem` runs the built binary
 *
 * Whatever lies between a marker and its end is replaced. Trailing blanks of each line are
 * dropped (Linux's /proc formats end lines with a space). Markers inside fenced code are text.
 * An example that cannot run here exits with 77 (automake's "skipped"), saying why on
 * stderr: its block is left as it is, and its test skips (fails under CI).
 * `npm run docs` rewrites the blocks (update.ts); test/docs/outputs.test.ts fails while one
 * differs from what the example or command prints now.
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository (this file runs as dist/test/docs/blocks.js). */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export type BlockKind = "code" | "output";

export interface Block {
  kind: BlockKind;
  /** An example's path (examples/NAME.ts), or "$ command" lines. */
  spec: string;
  /** 1-based line of the opening marker. */
  line: number;
  /** Offsets of what lies between the opening marker's end and the closing marker. */
  start: number;
  end: number;
  shown: string;
}

/** The Markdown files that may hold blocks: the repository's top level and docs/. */
export function markdownFiles(): string[] {
  const top = readdirSync(ROOT).filter((f) => f.endsWith(".md"));
  const docs = existsSync(join(ROOT, "docs"))
    ? readdirSync(join(ROOT, "docs"))
        .filter((f) => f.endsWith(".md"))
        .map((f) => `docs/${f}`)
    : [];
  return [...top.sort(), ...docs.sort()];
}

const OPEN = /^<!-- (code|output):(.*)$/;

/** The blocks of a Markdown text, in order; throws on a marker without its end. */
export function parseBlocks(text: string, file: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split("\n");
  const offsets: number[] = [];
  let at = 0;
  for (const l of lines) {
    offsets.push(at);
    at += l.length + 1;
  }
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const f = /^(```|~~~)/.exec(line);
    if (f !== null) {
      if (fence === null) fence = f[1] as string;
      else if (line.startsWith(fence)) fence = null;
      continue;
    }
    const m = fence === null ? OPEN.exec(line) : null;
    if (m === null) continue;
    const kind = m[1] as BlockKind;
    const first = i;
    let spec = m[2] as string;
    while (!spec.includes("-->")) {
      i++;
      if (i >= lines.length) throw new Error(`${file}:${first + 1}: marker without "-->"`);
      spec += "\n" + (lines[i] as string);
    }
    spec = spec.slice(0, spec.indexOf("-->")).trim();
    const close = `<!-- /${kind} -->`;
    const startLine = i + 1;
    let j = startLine;
    while (j < lines.length && (lines[j] as string).trim() !== close) j++;
    if (j >= lines.length) throw new Error(`${file}:${first + 1}: no "${close}" after it`);
    const start = offsets[startLine] as number;
    const end = offsets[j] as number;
    blocks.push({ kind, spec, line: first + 1, start, end, shown: text.slice(start, end) });
    i = j;
  }
  return blocks;
}

/** An example's path in examples/, checked. */
function examplePath(spec: string, line: string): string {
  if (!/^examples\/[\w-]+\.ts$/.test(spec) || !existsSync(join(ROOT, spec))) {
    throw new Error(`${line}: no example ${JSON.stringify(spec)} (examples/NAME.ts)`);
  }
  return spec;
}

/** A code block's file: an example, or a C source of clients/ (checked). */
function codePath(spec: string, line: string): string {
  if (/^clients\/[\w/-]+\.c$/.test(spec) && existsSync(join(ROOT, spec))) return spec;
  return examplePath(spec, line);
}

/** Lines without trailing blanks, no blank lines at the end. */
export function normalize(text: string): string {
  return text
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n")
    .replace(/\n+$/, "");
}

/** Where `npx kmem` is: the bin of the workspace package that has one, else the root's. */
function kmemBin(): string {
  const dirs = existsSync(join(ROOT, "packages"))
    ? readdirSync(join(ROOT, "packages")).map((d) => join(ROOT, "packages", d))
    : [];
  for (const dir of [...dirs, ROOT]) {
    const pkg = join(dir, "package.json");
    if (!existsSync(pkg)) continue;
    const bin = (JSON.parse(readFileSync(pkg, "utf8")) as { bin?: Record<string, string> }).bin;
    if (bin?.kmem !== undefined) return join(dir, bin.kmem);
  }
  throw new Error("no package has a kmem bin");
}

/** `npx kmem` and `kmem` run the built binary; npx for anything else is npx. */
const PRELUDE =
  'kmem() { "$KMEM_NODE" "$KMEM_BIN" "$@"; }\n' +
  'npx() { if [ "$1" = kmem ]; then shift; kmem "$@"; else command npx "$@"; fi; }\n';

/**
 * A guard against a hang, not a time limit: an example that builds a WebAssembly client
 * compiles sqlite first (a minute on an idle core, several on a busy machine).
 */
const HANG_MS = 15 * 60_000;

/** An example that cannot run here (it exited with 77): what it needs is missing. */
export class ExampleSkipped extends Error {}

function runExample(spec: string): string {
  const file = join(ROOT, "dist", spec.replace(/\.ts$/, ".js"));
  const r = spawnSync(process.execPath, [file], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: HANG_MS,
    maxBuffer: 16 << 20,
  });
  if (r.status === 77) throw new ExampleSkipped(`${spec}: ${r.stderr.trim() || "cannot run here"}`);
  if (r.status !== 0) {
    throw new Error(`${spec} exited with ${r.status ?? r.signal}: ${r.stderr || r.error}`);
  }
  return normalize(r.stdout);
}

function runCommands(spec: string, where: string): string {
  const commands = spec.split("\n").map((l) => l.trim());
  const bad = commands.find((c) => !c.startsWith("$ "));
  if (bad !== undefined) throw new Error(`${where}: not a "$ command" line: ${bad}`);
  const dir = mkdtempSync(join(tmpdir(), "kmem-docs-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KMEM_NODE: process.execPath,
    KMEM_BIN: kmemBin(),
  };
  delete env.FORCE_COLOR;
  try {
    const out: string[] = [];
    for (const line of commands) {
      const command = line.slice(2);
      const r = spawnSync("sh", ["-c", `${PRELUDE}{ ${command}\n} 2>&1`], {
        cwd: dir,
        env,
        encoding: "utf8",
        timeout: HANG_MS,
        maxBuffer: 16 << 20,
      });
      if (r.status !== 0) {
        throw new Error(`${where}: "${command}" exited with ${r.status ?? r.signal}: ${r.stdout}`);
      }
      out.push(line, normalize(r.stdout));
    }
    return normalize(out.filter((o) => o !== "").join("\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cache = new Map<string, string>();

/** What a block should hold: its fenced text, from the example or a run (cached per spec). */
export function render(block: Block, file: string): string {
  const where = `${file}:${block.line}`;
  const key = `${block.kind} ${block.spec}`;
  let body = cache.get(key);
  if (body === undefined) {
    if (block.kind === "code") {
      body = readFileSync(join(ROOT, codePath(block.spec, where)), "utf8");
      body = "```" + (block.spec.endsWith(".c") ? "c" : "ts") + "\n" + normalize(body) + "\n```\n";
    } else {
      const text = block.spec.startsWith("$")
        ? runCommands(block.spec, where)
        : runExample(examplePath(block.spec, where));
      body = "```\n" + text + "\n```\n";
    }
    cache.set(key, body);
  }
  return body;
}

/** The text with every block rendered anew. */
export function rewrite(text: string, file: string): string {
  let out = "";
  let at = 0;
  for (const b of parseBlocks(text, file)) {
    let body = b.shown;
    try {
      body = render(b, file);
    } catch (err) {
      if (!(err instanceof ExampleSkipped)) throw err;
    }
    out += text.slice(at, b.start) + body;
    at = b.end;
  }
  return out + text.slice(at);
}

/** The examples in examples/ (paths as the markers spell them). */
export function examples(): string[] {
  return readdirSync(join(ROOT, "examples"))
    .filter((f) => f.endsWith(".ts"))
    .sort()
    .map((f) => `examples/${f}`);
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a Markdown text's headings (outside fenced code), duplicates numbered. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fence = false;
  for (const line of text.split("\n")) {
    if (/^(```|~~~)/.test(line)) fence = !fence;
    const m = fence ? null : /^#{1,6} (.*)$/.exec(line);
    if (m === null) continue;
    const base = slug(m[1] as string);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Relative links of a Markdown text outside fenced code: [text](target), with their lines. */
export function relativeLinks(text: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  let fence = false;
  for (const [i, line] of text.split("\n").entries()) {
    if (/^(```|~~~)/.test(line)) fence = !fence;
    if (fence) continue;
    for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1] as string;
      if (!/^[a-z]+:/.test(target)) out.push({ target, line: i + 1 });
    }
  }
  return out;
}

export const fromRoot = (file: string): string => join(ROOT, file);
export const dirOf = (file: string): string => dirname(file);
