/*
 * Recording a WebAssembly program's malloc calls as a malloc-lab trace: the recorder over a
 * heap's imports (exact ops for a known sequence of calls), and `kmem record` on a real C
 * program (clients/build.js), whose trace the workbench then replays.
 */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { WasmHeap } from "kmem/wasm";
import { loadTrace, MallocRecorder } from "../../src/index.js";
import { writeRepTo } from "../../src/rep-writer.js";
import { buildClients } from "./clients.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "kmem-record-"));

async function repText(recorder: MallocRecorder): Promise<string> {
  let text = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  await writeRepTo(sink, recorder.finish("calls"));
  return text;
}

describe("MallocRecorder", () => {
  it("writes each call that succeeded as an op, a block's id from allocation to free", async () => {
    const heap = WasmHeap.create({ heapBase: 70000, initial: 16, misuse: "log", log: () => {} });
    const recorder = new MallocRecorder();
    const env = recorder.wrap(heap.imports.env);
    const a = env.malloc(100);
    const b = env.calloc(10, 30);
    const c = env.realloc(0, 40); // a malloc
    const a2 = env.realloc(a, 5000); // moves
    env.free(b);
    env.free(b); // a misuse: reported, no op
    assert.equal(env.malloc(1 << 30), 0); // fails: no op
    const d = env.aligned_alloc(256, 1000);
    assert.equal(env.posix_memalign(64, 4096, 10), 0);
    const e = new DataView(heap.memory.buffer).getUint32(64, true);
    assert.equal(env.realloc(c, 0), 0); // a free
    env.free(a2);
    env.free(d);
    env.free(0); // nothing
    assert.equal(env.malloc_usable_size(e) >= 10, true); // not an op
    assert.deepEqual([...recorder.live().keys()], [e]);
    // Peak payload 6,050 bytes (after e): the heap-size line is twice that, to a power of two.
    assert.equal(
      await repText(recorder),
      "16384\n5\n10\n1\na 0 100\na 1 300\na 2 40\nr 0 5000\nf 1\na 3 1000\na 4 10\nf 2\nf 0\nf 3\n",
    );
    heap.kmem.verify();
  });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

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

const built = buildClients("sqlite-kmem", "csem-libc");
const skip = typeof built === "string" ? built : false;

describe("kmem record", { skip }, () => {
  if (typeof built === "string") return;

  it("records a C program's malloc calls as a trace the workbench replays", async () => {
    const r = await kmem("record", built.path("sqlite-kmem"), "-o", "sqlite.rep.gz", "--", "3000");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^-- integrity\nok$/m, "the program's output");
    assert.match(r.stderr, /^sqlite 3\.\d+\.\d+: 3000 rows/m);
    assert.match(
      r.stdout,
      /^sqlite\.rep\.gz: sqlite-kmem-[0-9a-f]+: [\d,]+ ops \([\d,]+ a, [\d,]+ f, [\d,]+ r\), peak payload [\d.]+ [KM]iB, 2 blocks left live; the program exited with 0$/m,
    );
    const trace = await loadTrace(join(dir, "sqlite.rep.gz"));
    assert.ok(trace.info.allocs > 10000);
    assert.equal(trace.info.leftoverBlocks, 2);
    const replay = await kmem(
      "replay",
      "sqlite.rep.gz",
      "-a",
      "slub",
      "-a",
      "slob",
      "--json",
      "-q",
    );
    assert.equal(replay.code, 0, replay.stderr);
    const rows = JSON.parse(replay.stdout) as { allocator: string; failures: number }[];
    assert.deepEqual(
      rows.map((x) => [x.allocator, x.failures]),
      [
        ["slub", 0],
        ["slob", 0],
      ],
    );
  });

  it("-o - writes the trace to standard output, the program's output to standard error", async () => {
    const r = await kmem("record", built.path("sqlite-kmem"), "-o", "-", "--", "50");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+\n\d+\n\d+\n1\na 0 \d+\n/);
    assert.match(r.stderr, /^-- integrity\nok$/m);
    assert.match(r.stderr, /^stdout: sqlite-kmem-/m);
  });

  it("refuses a program with a malloc of its own, and what is not a program", async () => {
    const own = await kmem("record", built.path("csem-libc"), "-o", "x.rep");
    assert.equal(own.code, 1);
    assert.match(
      own.stderr,
      /^kmem: .*csem-libc-[0-9a-f]+\.wasm: the module has its own malloc .*kmem-malloc\.c/,
    );
    const notWasm = await kmem("record", MAIN, "-o", "x.rep");
    assert.equal(notWasm.code, 1);
    assert.match(notWasm.stderr, /^kmem: .*main\.js: .*(magic|CompileError|expected)/i);
    const missing = await kmem("record", "nothing.wasm", "-o", "x.rep");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^kmem: nothing\.wasm: ENOENT/);
    assert.equal(readFileSync(join(dir, "sqlite.rep.gz")).length > 0, true);
  });
});
