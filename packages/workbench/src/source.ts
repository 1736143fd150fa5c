/*
 * A trace ready to replay: validated once, then read as many times as there are allocators.
 * A trace of at most CACHE_OPS ops keeps its decoded chunks from the validating pass (17 bytes
 * an op); a longer one is read from its file again for every pass, so memory stays bounded.
 */

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type OpChunk, readTrace, type TraceInfo } from "./trace.js";

/** Ops a file trace keeps decoded in memory between passes. */
export const CACHE_OPS = 3_000_000;

export interface TraceSource {
  /** The file's path, or the workload's name. */
  readonly name: string;
  readonly info: TraceInfo;
  /**
   * Hands every chunk to `fn` in order; `fn` returns false to stop early. Chunks may be
   * reused once `fn` returns.
   */
  forEachChunk(fn: (chunk: OpChunk) => boolean): Promise<void>;
}

/** The traces in folder `dir` (files ending in .rep or .rep.gz), sorted; none if it is missing. */
export function traceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.rep(\.gz)?$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/** Reads and validates the trace at `path` (TraceError on the first malformed line). */
export async function loadTrace(path: string, cacheOps = CACHE_OPS): Promise<TraceSource> {
  let chunks: OpChunk[] | null = [];
  let kept = 0;
  const info = await readTrace(
    path,
    (chunk) => {
      if (chunks === null) return;
      kept += chunk.length;
      if (kept > cacheOps) chunks = null;
      else chunks.push(chunk);
    },
    { keepChunks: true },
  );
  const cached = chunks as OpChunk[] | null;
  if (cached !== null) return memorySource(path, info, cached);
  return {
    name: path,
    info,
    async forEachChunk(fn) {
      let go = true;
      // Stopping early still reads to the end of the file; passes rarely stop.
      await readTrace(path, (chunk) => {
        if (go) go = fn(chunk);
      });
    },
  };
}

/** A trace held in memory (a generated workload, or a file small enough to cache). */
export function memorySource(name: string, info: TraceInfo, chunks: OpChunk[]): TraceSource {
  return {
    name,
    info,
    forEachChunk(fn) {
      for (const chunk of chunks) if (!fn(chunk)) break;
      return Promise.resolve();
    },
  };
}
