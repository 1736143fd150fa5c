/*
 * Instructions by JavaScript function, from a callgrind run of node: callgrind names the code
 * V8 compiled by its address only, and V8's perf map (`node --perf-basic-prof` writes
 * /tmp/perf-PID.map: start, size and name of every code object) names the addresses:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=cg.out \
 *     node --perf-basic-prof --no-concurrent-recompilation \
 *     dist/bench/trace-instructions.js kmem-replay TRACE 0 3 8
 *   node dist/bench/jit-instructions.js cg.out /tmp/perf-PID.map [TOP]
 *
 * prints the TOP (default 30) functions by instructions, each compiled function under V8's
 * name for it: `JS:*kfree file:...` is kfree's optimized code with whatever V8 inlined into
 * it, `^` baseline code, `~` the interpreter's entry. Inlined functions count in their
 * caller, so a function listed apart from its callers is one V8 left as a call. Divide by
 * the runs (warm-up included) and the ops for instructions per op.
 */

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const [cgOut, perfMap, topArg] = process.argv.slice(2);
if (cgOut === undefined || perfMap === undefined) {
  process.stderr.write("usage: jit-instructions.js CALLGRIND_OUT PERF_MAP [TOP]\n");
  process.exit(2);
}

/** V8's code objects, by start address; `seq` is the line of the map that named it. */
interface Code {
  start: number;
  end: number;
  name: string;
  seq: number;
}

function readMap(file: string): Code[] {
  const codes: Code[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m === null) continue;
    const start = Number.parseInt(m[1] as string, 16);
    const end = start + Number.parseInt(m[2] as string, 16);
    codes.push({ start, end, name: m[3] as string, seq: codes.length });
  }
  return codes.sort((a, b) => a.start - b.start);
}

/**
 * The name of the code holding `addr`, or null. The collector frees code and V8 puts new
 * code where old code was, so several entries of the map may hold one address, and
 * callgrind sums an address's instructions over the whole run: then every one is named,
 * the latest first ("A, earlier B"), the count theirs together.
 */
function codeAt(codes: Code[], addr: number, longest: number): string | null {
  let lo = 0;
  let hi = codes.length - 1;
  // The last entry starting at or below addr.
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((codes[mid] as Code).start <= addr) lo = mid + 1;
    else hi = mid - 1;
  }
  const held: Code[] = [];
  for (let i = hi; i >= 0 && (codes[i] as Code).start > addr - longest; i--) {
    const c = codes[i] as Code;
    if (addr < c.end) held.push(c);
  }
  if (held.length === 0) return null;
  held.sort((x, y) => y.seq - x.seq);
  return held.map((c, i) => (i === 0 ? c.name : `earlier ${c.name}`)).join(", ");
}

const codes = readMap(perfMap);
const longest = codes.reduce((m, c) => Math.max(m, c.end - c.start), 0);
// Every function callgrind saw, with its self count (instructions in it, not its callees).
const annotated = execFileSync("callgrind_annotate", ["--threshold=100", cgOut], {
  encoding: "utf8",
  maxBuffer: 256 * 2 ** 20,
});
const byName = new Map<string, number>();
let total = 0;
for (const line of annotated.split("\n")) {
  const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+)/.exec(line);
  if (m === null) continue;
  const count = Number((m[1] as string).replaceAll(",", ""));
  const fn = m[2] as string;
  if (fn === "PROGRAM") {
    total = count;
    continue;
  }
  const jit = /^\?\?\?:0x([0-9a-f]+)/.exec(fn);
  const name =
    jit === null ? fn : (codeAt(codes, Number.parseInt(jit[1] as string, 16), longest) ?? "?");
  byName.set(name, (byName.get(name) ?? 0) + count);
}
const top = Number(topArg ?? 30);
const rows = [...byName].sort((a, b) => b[1] - a[1]).slice(0, top);
process.stdout.write(`${total.toLocaleString("en-US")} instructions in all\n`);
for (const [name, count] of rows) {
  process.stdout.write(`${count.toLocaleString("en-US").padStart(16)}  ${name}\n`);
}
