/*
 * `npm run docs`: rewrites every generated block of the Markdown files (README.md, docs/, ...)
 * from the built examples and `kmem` runs; see blocks.ts for the markers.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { fromRoot, markdownFiles, parseBlocks, rewrite } from "./blocks.js";

let changed = 0;
for (const file of markdownFiles()) {
  const text = readFileSync(fromRoot(file), "utf8");
  const blocks = parseBlocks(text, file);
  if (blocks.length === 0) continue;
  const next = rewrite(text, file);
  const stale = parseBlocks(next, file).filter((b, i) => b.shown !== blocks[i]?.shown);
  if (stale.length > 0) {
    writeFileSync(fromRoot(file), next);
    changed += stale.length;
  }
  const lines = stale.map((b) => `  line ${b.line}: ${b.kind} ${b.spec.replace(/\n/g, " ")}`);
  console.log(`${file}: ${blocks.length} blocks, ${stale.length} rewritten`);
  for (const l of lines) console.log(l);
}
console.log(changed === 0 ? "every block is up to date" : `${changed} block(s) rewritten`);
