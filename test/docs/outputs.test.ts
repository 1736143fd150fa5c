/*
 * What the Markdown files show is what runs: every generated block (an example's source, its
 * output, a `kmem` command's output; markers in blocks.ts) equals a fresh run, every example
 * is shown with its output, and every relative link leads to a file and heading that exist.
 * `npm run docs` rewrites the blocks after a change.
 */

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join, normalize } from "node:path";
import { describe, it } from "node:test";
import {
  anchors,
  type Block,
  dirOf,
  examples,
  ExampleSkipped,
  fromRoot,
  markdownFiles,
  parseBlocks,
  relativeLinks,
  render,
} from "./blocks.js";

const docs = markdownFiles().map((file) => {
  const text = readFileSync(fromRoot(file), "utf8");
  return { file, text, blocks: parseBlocks(text, file) };
});

for (const { file, blocks } of docs) {
  if (blocks.length === 0) continue;
  describe(file, () => {
    for (const b of blocks) {
      it(`line ${b.line}: ${b.kind} of ${b.spec.replace(/\n/g, " ")}`, (t) => {
        let fresh: string;
        try {
          fresh = render(b, file);
        } catch (err) {
          if (!(err instanceof ExampleSkipped) || process.env.CI !== undefined) throw err;
          t.skip(err.message);
          return;
        }
        assert.equal(
          b.shown,
          fresh,
          `${file}:${b.line} differs from a fresh run; \`npm run docs\` rewrites it`,
        );
      });
    }
  });
}

describe("examples", () => {
  const all: Block[] = docs.flatMap((d) => d.blocks);
  for (const ex of examples()) {
    it(`${ex} is shown with its output`, () => {
      assert.ok(
        all.some((b) => b.kind === "code" && b.spec === ex),
        `no <!-- code: ${ex} --> block`,
      );
      assert.ok(
        all.some((b) => b.kind === "output" && b.spec === ex),
        `no <!-- output: ${ex} --> block`,
      );
    });
  }
});

describe("links", () => {
  for (const { file, text } of docs) {
    const links = relativeLinks(text);
    if (links.length === 0) continue;
    it(`in ${file} lead somewhere`, () => {
      for (const { target, line } of links) {
        const [path = "", hash] = target.split("#");
        const dest = path === "" ? file : normalize(join(dirOf(file), path));
        assert.ok(existsSync(fromRoot(dest)), `${file}:${line}: ${target}: no ${dest}`);
        if (hash !== undefined && dest.endsWith(".md")) {
          const heads = anchors(readFileSync(fromRoot(dest), "utf8"));
          assert.ok(heads.has(hash), `${file}:${line}: ${target}: no heading #${hash} in ${dest}`);
        }
      }
    });
  }
});
