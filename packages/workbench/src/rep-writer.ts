/*
 * Writing a trace as a malloc-lab .rep file (gzip-compressed when the path ends in .gz) or to
 * a stream: the four header lines, then one op a line. The output is a function of the ops alone (gzip
 * headers carry no time stamp), so a seeded workload always writes the same bytes.
 */

import { createWriteStream } from "node:fs";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { TraceSource } from "./source.js";
import { Op, type OpChunk } from "./trace.js";

function chunkText(c: OpChunk): string {
  const lines: string[] = new Array<string>(c.length);
  for (let i = 0; i < c.length; i++) {
    const op = c.op[i] as number;
    const id = c.id[i] as number;
    lines[i] =
      op === Op.Alloc
        ? `a ${id} ${c.size[i]}`
        : op === Op.Free
          ? `f ${id}`
          : `r ${id} ${c.size[i]}`;
  }
  return `${lines.join("\n")}\n`;
}

async function* repText(source: TraceSource): AsyncGenerator<string> {
  const h = source.info.header;
  yield `${h.heapSize}\n${h.ids}\n${h.ops}\n${h.weight}\n`;
  const pieces: string[] = [];
  await source.forEachChunk((c) => {
    pieces.push(chunkText(c));
    return true;
  });
  yield* pieces;
}

/** Writes `source` to `path` as .rep (gzip if the path ends in .gz). */
export async function writeRep(path: string, source: TraceSource): Promise<void> {
  const text = Readable.from(repText(source));
  const out = createWriteStream(path);
  if (path.endsWith(".gz")) await pipeline(text, createGzip({ level: 9 }), out);
  else await pipeline(text, out);
}

/** Writes `source` as .rep text to a stream that stays open (standard output). */
export async function writeRepTo(out: Writable, source: TraceSource): Promise<void> {
  await pipeline(Readable.from(repText(source)), out, { end: false });
}
