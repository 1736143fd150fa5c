/* The .rep reader: parsing, streaming across buffer boundaries, gzip, and every malformed case. */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { loadTrace, traceFiles } from "../src/source.js";
import { type OpChunk, readTrace, RepParser, TraceError } from "../src/trace.js";
import { MALFORMED } from "./malformed.js";

const dir = mkdtempSync(join(tmpdir(), "kmem-trace-"));
let n = 0;
function file(text: string | Uint8Array, ext = ".rep"): string {
  const path = join(dir, `t${n++}${ext}`);
  writeFileSync(path, text);
  return path;
}

const SMALL = "20000\n3\n6\n1\na 0 100\na 1 2000\nr 0 300\nf 1\na 2 7\nf 0\n";

function ops(chunks: OpChunk[]): string[] {
  const out: string[] = [];
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++) out.push(`${c.op[i]} ${c.id[i]} ${c.size[i]} @${c.line[i]}`);
  }
  return out;
}

async function collect(path: string, highWaterMark?: number): Promise<string[]> {
  const chunks: OpChunk[] = [];
  await readTrace(path, (c) => chunks.push(c), { keepChunks: true, highWaterMark });
  return ops(chunks);
}

after(() => rmSync(dir, { recursive: true, force: true }));

describe("trace reader", () => {
  it("a .gz name that is not gzip is a malformed trace, not text read as a trace", async () => {
    const path = file(SMALL, ".rep.gz");
    await assert.rejects(
      readTrace(path, () => {}),
      (err: unknown) =>
        err instanceof TraceError &&
        err.message ===
          `${path}:1: not gzip data: the name ends in .gz, but the file does not start with gzip's magic bytes 1f 8b`,
    );
  });

  it("decodes ops with their lines and sums up the trace", async () => {
    const path = file(SMALL);
    const chunks: OpChunk[] = [];
    const info = await readTrace(path, (c) => chunks.push(c), { keepChunks: true });
    assert.deepEqual(ops(chunks), [
      "0 0 100 @5",
      "0 1 2000 @6",
      "2 0 300 @7",
      "1 1 0 @8",
      "0 2 7 @9",
      "1 0 0 @10",
    ]);
    assert.deepEqual(info.header, { heapSize: 20000, ids: 3, ops: 6, weight: 1 });
    assert.equal(info.allocs, 3);
    assert.equal(info.frees, 2);
    assert.equal(info.reallocs, 1);
    assert.equal(info.peakPayloadBytes, 2300);
    assert.equal(info.maxRequestBytes, 2000);
    assert.equal(info.leftoverBlocks, 1, "id 2 is never freed");
    assert.equal(info.leftoverBytes, 7);
  });

  it("gives the same ops whatever the read size (lines split across buffers)", async () => {
    const path = file(SMALL);
    const whole = await collect(path);
    for (const hwm of [1, 2, 3, 7, 16]) assert.deepEqual(await collect(path, hwm), whole);
  });

  it("reads gzip by its magic bytes, CRLF line ends, blank lines and no final newline", async () => {
    const plain = await collect(file(SMALL));
    assert.deepEqual(await collect(file(gzipSync(SMALL), ".rep.gz")), plain);
    assert.deepEqual(await collect(file(gzipSync(SMALL), ".bin")), plain);
    assert.deepEqual(await collect(file(SMALL.replace(/\n/g, "\r\n"))), plain);
    assert.deepEqual(await collect(file(`${SMALL.trimEnd()}\n\n\n`)), plain);
    assert.deepEqual(await collect(file(SMALL.trimEnd())), plain);
  });

  it("hands on chunks of at most CHUNK_OPS ops", async () => {
    const lines = ["0", "70000", "70000", "1"];
    for (let i = 0; i < 35000; i++) lines.push(`a ${i} 8`, `f ${i}`);
    const path = file(`${lines.join("\n")}\n`);
    const sizes: number[] = [];
    const info = await readTrace(path, (c) => sizes.push(c.length));
    assert.deepEqual(sizes, [16384, 16384, 16384, 16384, 4464]);
    assert.equal(info.peakPayloadBytes, 8);
  });

  it("re-reads a trace too long to keep from its file, with the same ops", async () => {
    const path = file(SMALL);
    const source = await loadTrace(path, 2); // keep at most 2 ops: streamed again
    const seen: number[] = [];
    for (let pass = 0; pass < 2; pass++) {
      await source.forEachChunk((c) => {
        seen.push(c.length);
        return true;
      });
    }
    assert.deepEqual(seen, [6, 6]);
  });
});

describe("traceFiles", () => {
  it("lists a folder's .rep and .rep.gz files, sorted, and nothing for a missing folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "kmem-traces-"));
    try {
      for (const f of ["b.rep.gz", "a.rep", "c.txt", "d.rep.gz.bak", "e.REP"]) {
        writeFileSync(join(dir, f), "");
      }
      assert.deepEqual(traceFiles(dir), [join(dir, "a.rep"), join(dir, "b.rep.gz")]);
      assert.deepEqual(traceFiles(join(dir, "missing")), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("malformed traces", () => {
  for (const [name, text, line, message] of MALFORMED) {
    it(name, async () => {
      const path = file(text);
      await assert.rejects(
        readTrace(path, () => {}),
        (err: unknown) => {
          assert.ok(err instanceof TraceError, String(err));
          assert.equal(err.message, `${path}:${line}: ${message}`);
          assert.equal(err.line, line);
          return true;
        },
      );
    });
  }

  it("a truncated gzip file", async () => {
    const gz = gzipSync(SMALL);
    const path = file(gz.subarray(0, gz.length - 12), ".rep.gz");
    await assert.rejects(
      readTrace(path, () => {}),
      (err: unknown) => {
        assert.ok(err instanceof TraceError, String(err));
        assert.match(err.message, /^.*\.rep\.gz:\d+: the gzip data ends early \(truncated file\)$/);
        return true;
      },
    );
  });

  it("a corrupt gzip file", async () => {
    const gz = Buffer.from(gzipSync(SMALL));
    gz.fill(0x55, 12, 30);
    const path = file(gz, ".rep.gz");
    await assert.rejects(
      readTrace(path, () => {}),
      (err: unknown) => {
        assert.ok(err instanceof TraceError, String(err));
        assert.match(err.message, /:1: the gzip data is corrupt/);
        return true;
      },
    );
  });

  it("the parser stops at the first error, whatever comes after", () => {
    const p = new RepParser("mem", () => {});
    assert.throws(
      () => p.push(new TextEncoder().encode("0\n1\n1\n1\nf 0\nx\n")),
      /^TraceError: mem:5: free of id 0, which is never allocated$/,
    );
  });
});
