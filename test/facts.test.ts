/*
 * One home per fact. Every invariant id that a verify() can report is listed in exactly one
 * file header's "Invariants" section, and every id listed there is reported somewhere; every
 * lock the code takes is in the one lock order, the numbered list in the header of
 * src/sync/lock.ts, which names nothing the code does not take.
 *
 * The ids reported are the string and template literals of the code (comments stripped by
 * the TypeScript scanner) that are an id or begin with one ("SLAB-3", `ZONE-1: ...`). A
 * header lists an id on a line of its Invariants section that begins with it and goes on
 * with its description; a line that begins with ids followed by "," or by a file name in
 * parentheses refers to a list elsewhere.
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SRC = join(ROOT, "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? sources(join(dir, e.name))
        : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")
          ? [join(dir, e.name)]
          : [],
    )
    .sort();
}

const FILES = sources(SRC).map((path) => ({
  name: relative(SRC, path),
  text: readFileSync(path, "utf8"),
}));

const ID = /^([A-Z][A-Z0-9]*-[0-9]+[a-z]?)(?=$|[:\s])/;

/** The literals of a file's code: strings, and the text parts of templates. */
function literals(text: string): string[] {
  const file = ts.createSourceFile("x.ts", text, ts.ScriptTarget.ES2022, false);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node)
    ) {
      out.push(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

/** Ids the code of a file may report. */
export function reportedIds(text: string): string[] {
  return literals(text).flatMap((s) => {
    const m = ID.exec(s);
    return m === null ? [] : [m[1] as string];
  });
}

/** The block comments of a file. */
function blockComments(text: string): string[] {
  return [...text.matchAll(/\/\*[\s\S]*?\*\//g)].map((m) => m[0]);
}

/**
 * Ids a file's headers list: in a block comment, from a line that speaks of invariants on,
 * the lines that begin with an id and a description.
 */
export function listedIds(text: string): string[] {
  const ids: string[] = [];
  for (const c of blockComments(text)) {
    const lines = c.split("\n").map((l) => l.replace(/^\s*\/?\*+\/?\s?/, ""));
    const start = lines.findIndex((l) => /\binvariants?\b/i.test(l));
    if (start < 0) continue;
    for (const line of lines.slice(start + 1)) {
      const m = /^\s*([A-Z][A-Z0-9]*-[0-9]+[a-z]?)(,|:?\s+(\([\w./-]+\.ts\))?)/.exec(line);
      if (m !== null && m[2] !== "," && m[3] === undefined) ids.push(m[1] as string);
    }
  }
  return ids;
}

describe("invariant ids", () => {
  const reported = new Map<string, string[]>();
  const listed = new Map<string, string[]>();
  for (const f of FILES) {
    for (const id of reportedIds(f.text)) reported.set(id, [...(reported.get(id) ?? []), f.name]);
    for (const id of listedIds(f.text)) listed.set(id, [...(listed.get(id) ?? []), f.name]);
  }

  it("the extraction finds reported and listed ids, and skips references", () => {
    const sample = `/*
 * Invariants (verify() reports them by id):
 *   AB-1  a thing
 *  AB-2: another thing, with CD-1 inside
 *  AB-3  (debug) a third thing
 *  TABLE-1 (frame-table.ts)
 *  MK-1, MK-2: the arena's
 */
const x = "AB-1"; fail("AB-2", "y"); bad = \`CD-3: \${x}\`; // "EF-4"
/* "GH-5" */ const y = "ab-6";`;
    assert.deepEqual(listedIds(sample), ["AB-1", "AB-2", "AB-3"]);
    assert.deepEqual(reportedIds(sample), ["AB-1", "AB-2", "CD-3"]);
    assert.ok(reported.size >= 60, `${reported.size} ids reported`);
  });

  it("every id verify() can report is listed in exactly one file header", () => {
    const unlisted = [...reported.keys()].filter((id) => !listed.has(id));
    assert.deepEqual(unlisted.sort(), [], "reported, listed in no header");
    const twice = [...listed].filter(([, files]) => files.length > 1);
    assert.deepEqual(twice, [], "listed in more than one header");
  });

  it("every id a header lists is reported somewhere", () => {
    const stale = [...listed].filter(([id]) => !reported.has(id));
    assert.deepEqual(stale, [], "listed, reported nowhere");
  });
});

/** The lock words a file's code names: `Enum.LOCK`, `Enum.X_LOCK`, `Enum.LOCK_X`. */
function lockWords(text: string): string[] {
  const file = ts.createSourceFile("x.ts", text, ts.ScriptTarget.ES2022, false);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      /^([A-Z]+_)*LOCK(_[A-Z]+)*$/.test(node.name.text)
    ) {
      out.push(`${node.expression.text}.${node.name.text}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

/** The numbered list of the "Lock order" comment of src/sync/lock.ts: its entries' text. */
function lockOrder(): { number: string; text: string }[] {
  const text = readFileSync(join(SRC, "sync/lock.ts"), "utf8");
  const comment = blockComments(text).find((c) => /^\/\*\s*\n \* Lock order/.test(c));
  assert.ok(comment !== undefined, "src/sync/lock.ts has a comment that starts 'Lock order'");
  const entries: { number: string; text: string }[] = [];
  for (const raw of comment.split("\n")) {
    const line = raw.replace(/^\s*\*\/?\s?/, "");
    const m = /^\s*([0-9]+[a-z]?)\. (.*)$/.exec(line);
    if (m !== null) entries.push({ number: m[1] as string, text: m[2] as string });
    else if (entries.length > 0 && line.trim() !== "") {
      (entries[entries.length - 1] as { text: string }).text += ` ${line.trim()}`;
    }
  }
  return entries;
}

describe("lock order", () => {
  const order = lockOrder();

  it("is one list, numbered in order", () => {
    assert.ok(order.length >= 6, `${order.length} entries`);
    const numbers = order.map((e) => e.number);
    const sorted = [...numbers].sort((a, b) => parseInt(a) - parseInt(b) || a.localeCompare(b));
    assert.deepEqual(numbers, sorted);
    assert.equal(new Set(numbers).size, numbers.length, "no number twice");
  });

  it("names every lock word the code takes, and only those", () => {
    const used = new Set(FILES.flatMap((f) => lockWords(f.text)));
    assert.ok(used.has("Hdr.LOCK_SLAB") && used.has("Zone.LOCK"), [...used].join(", "));
    const listed = new Set(order.flatMap((e) => e.text.match(/\b[A-Z]\w*\.\w*LOCK\w*\b/g) ?? []));
    assert.deepEqual([...used].filter((w) => !listed.has(w)).sort(), [], "not in the order");
    assert.deepEqual([...listed].filter((w) => !used.has(w)).sort(), [], "in the order, not used");
  });

  it("each entry names the file whose header says what the lock guards", () => {
    for (const e of order) {
      const files = e.text.match(/src\/[\w/-]+\.ts/g) ?? [];
      assert.ok(files.length > 0, `entry ${e.number} names a file`);
      for (const f of files) {
        const held = FILES.find((x) => `src/${x.name}` === f);
        assert.ok(held !== undefined, `${f} exists`);
      }
    }
  });

  it("no other file numbers the lock order", () => {
    const numbered =
      /\b[0-9][a-c]?[.)]?\s+(\*\*)?(the )?(vmalloc lock|mempool lock|slab_mutex|slob_lock|zone lock)/i;
    assert.match("0 vmalloc lock, 1 mempool, 2 slab_mutex", numbered);
    assert.match("0. **vmalloc lock** (`Hdr.LOCK_VMALLOC`)", numbered);
    const others = [
      ...FILES.filter((f) => f.name !== "sync/lock.ts"),
      ...[
        "ARCHITECTURE.md",
        "README.md",
        ...readdirSync(join(ROOT, "docs")).map((f) => `docs/${f}`),
      ].map((name) => ({
        name,
        text: readFileSync(join(ROOT, name), "utf8"),
      })),
    ];
    for (const f of others) assert.doesNotMatch(f.text, numbered, f.name);
  });
});
