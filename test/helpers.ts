/* Shared test helpers: raw views of an instance's metadata and "nothing changed" checks. */

import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { __GFP_MEMALLOC, type Kmem, KmemError, type KmemErrorCode } from "../src/index.js";
import { Frame, Hdr } from "../src/memory/index.js";

/** The header and mem_map bytes: every bit of allocator state. */
export function metadata(mm: Kmem): Uint8Array {
  const header = new Int32Array(mm.buffer, mm.memory.byteOffset, 32);
  const firstPfn = header[Hdr.FIRST_PFN] as number;
  return mm.memory.slice(0, firstPfn * mm.pageSize);
}

/** A copy of every byte of every buffer of the instance (each node's, in node order). */
export function allMemory(mm: Kmem): Uint8Array {
  return Buffer.concat(mm.buffers.map((b) => new Uint8Array(b)));
}

/** The mem_map as i32 words (Frame.WORDS per frame), for corrupting on purpose. */
export function memMap(mm: Kmem): Int32Array {
  const header = new Int32Array(mm.buffer, mm.memory.byteOffset, 32);
  return new Int32Array(
    mm.buffer,
    mm.memory.byteOffset + (header[Hdr.MEMMAP_OFFSET] as number),
    mm.totalPages * Frame.WORDS,
  );
}

/** Runs `fn`, asserts it threw KmemError `code`, and returns the error. */
export function expectKmemError(code: KmemErrorCode, fn: () => unknown): KmemError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof KmemError, `expected KmemError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** Runs `fn` and asserts it threw `type` with a message matching `pattern`. */
export function expectArgumentError(
  type: typeof TypeError | typeof RangeError,
  pattern: RegExp,
  fn: () => unknown,
): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.match((err as Error).message, pattern);
    return true;
  });
}

/**
 * For the allocators whose state is a plain object's (vmem arenas, resource maps): asserts
 * `fn` throws KmemError `code`, leaves `snapshot(subject)` as it was, and verify() passes.
 */
export function assertMisuseOf<T extends { verify(): void }>(
  subject: T,
  snapshot: (subject: T) => unknown,
  code: KmemErrorCode,
  fn: () => unknown,
): KmemError {
  const before = snapshot(subject);
  const caught = expectKmemError(code, fn);
  assert.deepEqual(snapshot(subject), before, `${code} must leave the state untouched`);
  subject.verify();
  return caught;
}

/** As assertMisuseOf, for a bad argument: `type` with a message matching `pattern`. */
export function assertBadArgumentOf<T extends { verify(): void }>(
  subject: T,
  snapshot: (subject: T) => unknown,
  type: typeof TypeError | typeof RangeError,
  pattern: RegExp,
  fn: () => unknown,
): void {
  const before = snapshot(subject);
  expectArgumentError(type, pattern, fn);
  assert.deepEqual(snapshot(subject), before, "a rejected argument must leave the state untouched");
  subject.verify();
}

/**
 * Asserts `fn` throws KmemError `code` and leaves every byte of metadata as it was (with
 * `whole`, every byte of memory: slab freelists and bitmaps live in the slabs).
 */
export function assertMisuse(
  mm: Kmem,
  code: KmemErrorCode,
  fn: () => unknown,
  whole = false,
): KmemError {
  const snap = () => (whole ? allMemory(mm) : metadata(mm));
  const before = snap();
  const caught = expectKmemError(code, fn);
  assert.ok(
    Buffer.from(snap()).equals(Buffer.from(before)),
    `${code} must leave the allocator state untouched`,
  );
  mm.verify();
  return caught;
}

/** Asserts `fn` throws `type` with a message matching `pattern`, state untouched. */
export function assertBadArgument(
  mm: Kmem,
  type: typeof TypeError | typeof RangeError,
  pattern: RegExp,
  fn: () => unknown,
): void {
  assertBadArgumentOf(mm, metadata, type, pattern, fn);
}

/**
 * Allocates order-0 pages until exactly `free` pages are left free, with a gfp that takes
 * reserves and wakes no reclaim (so the test starts from a quiet state).
 */
export function consumeUntilFree(mm: Kmem, free: number, gfp: number = __GFP_MEMALLOC): number[] {
  const taken: number[] = [];
  while (mm.stats().freePages > free) {
    const addr = mm.allocPages(0, gfp);
    assert.notEqual(addr, 0, "setup allocation failed");
    taken.push(addr);
  }
  mm.drainPages();
  assert.equal(mm.stats().buddyFreePages, free);
  return taken;
}

/**
 * Runs the worker script at `url` with `workerData`; resolves with the last message it
 * posted once it has exited cleanly, rejects if it failed, exited otherwise or said nothing.
 */
export function runWorker<R>(url: URL, workerData: unknown): Promise<R> {
  return new Promise((resolve, reject) => {
    const w = new Worker(url, { workerData });
    let reply: { value: R } | null = null;
    w.on("message", (m: R) => (reply = { value: m }));
    w.on("error", reject);
    w.on("exit", (code) => {
      if (code !== 0 || reply === null) {
        reject(
          new Error(`${url.pathname} exited with ${code}${reply === null ? ", no reply" : ""}`),
        );
      } else resolve(reply.value);
    });
  });
}

/**
 * The object allocators whose caches are SLUB's slabs and so share the slab test suites
 * (model, misuse, debug, failslab): SLUB and SLAB. SLOB has its own (test/slob).
 */
export const SLAB_ALLOCATORS = ["slub", "slab"] as const;
export type SlabAllocatorName = (typeof SLAB_ALLOCATORS)[number];
