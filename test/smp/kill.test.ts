/*
 * Kill at every point: a worker runs one operation (page allocation and free, with and
 * without a per-cpu refill or drain, order 3 with splits and merges, kmalloc and kfree,
 * a cache's slow paths under its list_lock (a new slab, a partial slab, a sheaf flush, a
 * remote free without a sheaf), zs_malloc with a new zspage, zs_free of a zspage's last
 * object, a zram discard, a zram write over a stored page, a zram writeback of a page to
 * the backing store and a discard of a written-back page, a zsmalloc object mapped, read
 * and unmapped (compaction must move its zspage after the kill), vmalloc and vfree, pool alloc
 * and free; with Linux's SLAB, an array refill that grows a slab or takes from a partial
 * one or from the shared array, a full array's flush to the shared array or back to the slabs, a SLAB cache made
 * with its array block and tuned, an OFF_SLAB one destroyed (slabs, index arrays, block),
 * a tune in place, a tune to larger arrays by the only online cpu (it takes the main
 * thread's offline first: a new block made, the old freed), on two nodes a free into a full
 * alien array (drained first) and a shrink draining a shared array that holds the other
 * node's objects; under
 * slab_mutex a
 * cache made, merged (an alias) and destroyed (its last name, or one of a merged cache's,
 * or with another cpu's sheaf and cpu slab to flush);
 * under SLOB's lock kmalloc, kfree, a cache's alloc, a cache made and destroyed; the
 * kmalloc heap's allocation with and without a new chunk, its free merging both neighbours
 * or giving a chunk back, its krealloc growing in place; a free into its cache of freed
 * blocks and an allocation from it; a large kmalloc cutting its block's tail back)
 * and is stopped dead after N statements, for N over the whole operation; then the main
 * thread offlines its cpu and checks that verify() passes, that its own allocations are
 * intact (stamps), that no lock is left held, that the cpu id is reused by the next attach,
 * and that every page comes back but those the dead context held.
 *
 * The steps are the inspector's: the main thread's inspector session drives the worker
 * (NodeWorker domain, waitForDebuggerOnStart), which stops at a `debugger` statement before
 * the operation; each Debugger.stepInto runs one statement or call. After N steps the
 * worker stays paused for good while the main thread recovers (a context that never runs
 * again is what a dead one is); it is terminated afterwards. Nothing depends on timing.
 *
 * `npm test` runs every STRIDE-th N of each operation, starting at a different N for each
 * operation (the slab_mutex operations, whose statements are mostly walks that change
 * nothing: at chosen points, SAMPLED_AT); KMEM_KILL_ALL=1 (`npm run test:slow`) runs every N, with one worker per operation
 * whose memory is copied after each step (sweepSnapshots: a context attached to the copy
 * offlines the worker's cpu; while the copy has slab_mutex or SLOB's lock held, which
 * opening it would wait for, the copy is reopened instead); KMEM_KILL_REAL=1 as well kills
 * a worker at every N of the shorter operations (quadratic: minutes each);
 * KMEM_KILL_STRIDE=k kills a worker for real at every k-th N of each operation run.
 *
 * Then reopen: a snapshot of the buffer where the worker died is opened with Kmem.reopen
 * (the dead cpu's locks recovered, the vmalloc lock once the layers are open), verified,
 * and every kind of operation runs on it; after a zram or zsmalloc operation, the device's
 * slots read as before or as written, and it serves.
 */

import assert from "node:assert/strict";
import { Session } from "node:inspector";
import { describe, it } from "node:test";
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { __GFP_THISNODE, GFP_NOWAIT, Kmem, KmemError, SLAB_NO_MERGE } from "../../src/index.js";
import { Frame, Hdr, Pg, PgFlag } from "../../src/memory/index.js";
import { growOrder } from "../../src/slub/layout.js";
import { memMap } from "../helpers.js";

const WORKER = new URL("./kill.worker.js", import.meta.url);
const ALL = process.env["KMEM_KILL_ALL"] === "1";
/** With KMEM_KILL_ALL: every N killed for real (sweep) but for the SNAPSHOTS operations. */
const REAL = process.env["KMEM_KILL_REAL"] === "1";
const STRIDE = ALL ? 1 : 15;
/** KMEM_KILL_STRIDE=k: real kills at every k-th N of each operation (a denser sample). */
const DENSE = Number(process.env["KMEM_KILL_STRIDE"] ?? 0);
/** Steps past which an operation is taken to run for ever (a hang is a failure). */
const MAX_STEPS = 20000;

interface Message {
  id?: number;
  method?: string;
  params?: { reason?: string };
  result?: unknown;
  error?: unknown;
}

/** A worker driven statement by statement through the main thread's inspector session. */
class Stepped {
  private readonly session = new Session();
  private sid = "";
  private nextId = 1;
  private readonly replies = new Map<number, (m: Message) => void>();
  private paused: ((reason: string) => void) | null = null;
  private worker: Worker | null = null;

  private post(method: string, params: object = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.session.post(method, params, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  private send(method: string, params: object = {}): Promise<Message> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.replies.set(id, resolve);
      this.session.post("NodeWorker.sendMessageToWorker", {
        sessionId: this.sid,
        message: JSON.stringify({ id, method, params }),
      });
    });
  }

  private untilPaused(): Promise<string> {
    return new Promise((resolve) => (this.paused = resolve));
  }

  /**
   * Starts the worker and lets it run to its `debugger` statement, then on to the first
   * line of `skip.file` holding `skip.text` (a long prefix of the operation with no shared
   * state, not stepped through), if given.
   */
  async start(data: object, skip: { file: URL; text: string } | null = null): Promise<void> {
    this.session.connect();
    let attached: () => void = () => {};
    const isAttached = new Promise<void>((resolve) => (attached = resolve));
    this.session.on("NodeWorker.attachedToWorker", (m) => {
      this.sid = (m.params as { sessionId: string }).sessionId;
      attached();
    });
    this.session.on("NodeWorker.receivedMessageFromWorker", (m) => {
      const msg = JSON.parse((m.params as { message: string }).message) as Message;
      if (msg.id !== undefined) {
        this.replies.get(msg.id)?.(msg);
        this.replies.delete(msg.id);
      } else if (msg.method === "Debugger.paused") {
        const p = this.paused;
        this.paused = null;
        p?.(msg.params?.reason ?? "");
      }
    });
    await this.post("NodeWorker.enable", { waitForDebuggerOnStart: true });
    this.worker = new Worker(WORKER, { workerData: data });
    await isAttached;
    await this.send("Debugger.enable");
    let paused = this.untilPaused();
    await this.send("Runtime.runIfWaitingForDebugger");
    // A first stop at the script's start (Break on start), then the debugger statement.
    while ((await paused) !== "other") {
      paused = this.untilPaused();
      await this.send("Debugger.resume");
    }
    if (skip !== null) {
      const lines = readFileSync(skip.file, "utf8").split("\n");
      const line = lines.findIndex((l) => l.includes(skip.text));
      assert.ok(line >= 0, `no line of ${skip.file.pathname} holds ${skip.text}`);
      const name = skip.file.pathname.split("/").slice(-2).join("/");
      const bp = (await this.send("Debugger.setBreakpointByUrl", {
        lineNumber: line,
        urlRegex: `${name.replace(/[.]/g, "\\.")}$`,
      })) as { result?: { breakpointId?: string } };
      paused = this.untilPaused();
      await this.send("Debugger.resume");
      await paused;
      await this.send("Debugger.removeBreakpoint", { breakpointId: bp.result?.breakpointId });
    }
  }

  /** Runs one statement (Debugger.stepInto). */
  async step(): Promise<void> {
    const paused = this.untilPaused();
    await this.send("Debugger.stepInto");
    await paused;
  }

  /** Ends the worker, paused where it is. */
  async kill(): Promise<void> {
    void this.send("Runtime.terminateExecution");
    await this.send("Debugger.resume");
    await this.worker?.terminate();
    await this.post("NodeWorker.disable");
    this.session.disconnect();
  }
}

/** Free pages: the buddy lists' and the per-cpu lists'. */
function freePages(mm: Kmem): number {
  const s = mm.stats();
  return s.buddyFreePages + s.pcpPages;
}

/** Pages a dead context may take with it: what the operation had in hand. */
const SLACK: Record<string, number> = {
  "alloc0-refill": 1,
  alloc0: 1,
  free0: 0,
  "free0-drain": 0,
  alloc3: 8,
  free3: 0,
  kmalloc: 1,
  // kmalloc-2k's new slab once its slabs grew: two pages.
  "kmalloc-grown": 2,
  kfree: 0,
  // A zspage of the 112-byte class (its chain) and a slab for the handle.
  "zs-malloc": 9,
  "zs-free": 8,
  "zram-discard": 8,
  "zram-write": 8,
  "zram-writeback": 8,
  "zram-discard-wb": 8,
  "zs-map": 0,
  // The new slab (made before it is counted under the list_lock).
  "cache-new": 1,
  "cache-partial": 0,
  "cache-flush": 0,
  "cache-free-locked": 0,
  "pool-free": 0,
  "pool-alloc": 0,
  // The area (three pages and a table) when it was made and not yet recorded as held.
  vmalloc: 4,
  vfree: 1,
  "vfree-zone": 1,
  // SLAB: the new slab (counted under the list_lock); nothing else leaves the lists.
  "slab-grow": 1,
  "slab-refill": 0,
  "slab-flush": 0,
  "slab-free-block": 0,
  "slab-drain-shared": 0,
  "slab-refill-shared": 0,
  // Nor do the other node's objects of a shared array drained.
  "slab-drain-numa": 0,
  // slab_mutex: a slab for the descriptor (made before it is counted), a slab of the cache.
  "cache-create": 2,
  "cache-alias": 2,
  "cache-destroy": 1,
  "cache-destroy-remote": 1,
  "cache-destroy-alias": 0,
  // SLAB under slab_mutex: a slab for the descriptor, the array block being made or freed;
  // a slab or block being freed by the destroy; the tune only moves objects.
  "slab-cache-create": 2,
  "slab-cache-destroy": 1,
  "slab-tune": 0,
  "slab-alien": 0,
  // A tune to larger arrays: the new block (allocated, not yet recorded) or the old one
  // (its magic cleared, not yet freed), of one page.
  "slab-tune-grow": 1,
  // SLOB's lock: the page taken for the block (before it is SLOB's), or being freed.
  "slob-kmalloc": 1,
  "slob-kfree": 1,
  "slob-alloc": 1,
  "slob-create": 1,
  "slob-destroy": 1,
  // The kmalloc heap: a chunk taken and not yet in the heap, or one taken out and not yet
  // freed, or a chunk kept by the block the dead context allocated and never returned.
  "heap-grow": 16,
  "heap-alloc": 16,
  "heap-free": 0,
  "heap-free-chunk": 16,
  "heap-realloc": 0,
  // The heap's cache: a block taken from it and never returned keeps its chunk.
  "heap-free-cached": 0,
  "heap-alloc-cached": 16,
  // A large kmalloc (20,000 bytes: 5 pages): its order-3 block, before its tail goes back.
  "large-alloc": 8,
  // The large-run cache: a run taken out of it (20,000 bytes: 5 pages) and never returned.
  "large-free-cached": 0,
  "large-alloc-cached": 5,
};

/** Pages a kill may give back beyond those taken before: a descriptors' slab left empty. */
const GAIN: Record<string, number> = {
  // Compaction after the kill frees the sparse zspages (the mapped one's too).
  "zs-map": 16,
  "cache-destroy": 1,
  "cache-destroy-remote": 2,
  "cache-destroy-alias": 1,
  "slob-destroy": 1,
  // kz's slabs, block and index arrays' slab, and the descriptors' slab.
  "slab-cache-destroy": 8,
};

/** The compressed-memory paths are long: sampled more thinly unless every N is run. */
const THIN: Record<string, number> = {
  "zs-malloc": 150,
  "zs-free": 8,
  "zram-discard": 4,
  "zram-write": 200,
  "zram-writeback": 10,
  "zram-discard-wb": 4,
  "zs-map": 4,
  "cache-new": 12,
  "cache-partial": 4,
  "cache-flush": 10,
  "cache-free-locked": 2,
  "pool-free": 3,
  "pool-alloc": 2,
  vmalloc: 30,
  vfree: 6,
  "slab-grow": 50,
  "slab-refill": 4,
  "slab-flush": 4,
  "slab-free-block": 8,
  "slab-drain-shared": 25,
  "slab-refill-shared": 4,
  "slab-drain-numa": 25,
  "cache-destroy": 60,
  "cache-destroy-remote": 100,
  "cache-destroy-alias": 20,
  "slab-alien": 25,
  "slab-tune-grow": 40,
  "slob-kmalloc": 20,
  "slob-kfree": 13,
  "slob-alloc": 17,
  "slob-create": 25,
  "slob-destroy": 14,
  "heap-grow": 12,
  "heap-alloc": 8,
  "heap-free": 8,
  "heap-free-chunk": 8,
  "heap-realloc": 8,
  "heap-free-cached": 8,
  "heap-alloc-cached": 8,
  "large-alloc": 4,
  "large-free-cached": 8,
  "large-alloc-cached": 8,
};

/**
 * Where a sampled sweep makes its one kill (else it starts at a different N for each
 * operation and goes on to the end).
 */
const FIRST: Record<string, number> = {
  // The refill from the shared array: its objects leaving it for this cpu's array.
  "slab-refill-shared": 45,
  // Inside the drain of node 0's shared array (node 1's objects on their way out).
  "slab-drain-numa": 450,
  // The tune to larger arrays: from inside slab_mutex (the drains) to the end (the block
  // made, published, the old one freed).
  "slab-tune-grow": 300,
};

/**
 * The long operations: sampled from snapshots of one worker's run (sweepSnapshots), one
 * run's steps instead of one per kill. The others are killed for real at each sampled N
 * (sweep): their offlineCpu runs in the context of the instance, with slab_mutex or
 * SLOB's lock held by the dead cpu.
 */
const SNAPSHOTS = new Set([
  "zs-malloc",
  "zs-free",
  "zram-discard",
  "zram-writeback",
  "zram-discard-wb",
  "zs-map",
  "cache-new",
  "cache-flush",
  "kmalloc-grown",
  "vmalloc",
  "vfree",
  // The main thread's context is done with the instance (the worker took its cpu offline):
  // only a context of a snapshot checks.
  "slab-tune-grow",
]);

/** Run only when every N is (KMEM_KILL_ALL): long, and sharing its code with one sampled. */
const EVERY_POINT_ONLY = new Set(["cache-alias", "cache-create-reopen", "zram-write-reopen"]);

/** The reopen sweeps, sampled more thinly still. */
const REOPEN_THIN: Record<string, number> = {
  vmalloc: 30,
  vfree: 6,
  "cache-create": 40,
  "slob-kmalloc": 8,
  "zram-write": 200,
  "zram-writeback": 10,
  "zram-discard-wb": 4,
  "zs-map": 4,
};

/** Where stepping starts for an operation whose start is long and touches nothing shared. */
const SKIP: Record<string, { file: URL; text: string }> = {
  // Inside the zone lock, freeing the area's first page: the vmalloc lock held as well.
  "vfree-zone": {
    file: new URL("../../src/page/buddy.js", import.meta.url),
    text: "while (n < count) {",
  },
  // After compression: the object's allocation, the copy, the slot's swap, the old's free.
  "zram-write": {
    file: new URL("../../src/zram/zram.js", import.meta.url),
    text: "handle = this.pool.zsMalloc(compLen, 2048",
  },
};

/** The zram ops' backing store: pages of a shared buffer (kill.worker.ts has the same). */
function backingStore(buf: SharedArrayBuffer) {
  const bytes = new Uint8Array(buf);
  return {
    pages: buf.byteLength / 4096,
    read: (block: number, into: Uint8Array) =>
      into.set(bytes.subarray(block * 4096, (block + 1) * 4096)),
    write: (block: number, from: Uint8Array) => bytes.set(from, block * 4096),
  };
}

/**
 * As SKIP, for the sampled runs only (every N runs the whole operation): writeback's read
 * of the page it writes (a zsmalloc mapping, under the slot lock, as zram-write's) is
 * stepped over, to where the slot is marked.
 */
const SKIP_SAMPLED: Record<string, { file: URL; text: string }> = {
  "zram-writeback": {
    file: new URL("../../src/zram/zram.js", import.meta.url),
    text: "this.reg[this.intent + 10 /* Intent.WB_SLOT */] = i + 1;",
  },
};

/** Where one sampled kill falls: `steps` statements after the first line of `file` holding `text`. */
interface KillPoint {
  file: URL;
  text: string;
  steps: number;
}

const REGISTRY = new URL("../../src/slub/registry.js", import.meta.url);
const SLAB_TUNE = new URL("../../src/slab/tune.js", import.meta.url);
const LARGE_CACHE = new URL("../../src/kmalloc/large-cache.js", import.meta.url);

/**
 * The sampled kills of the slab_mutex operations, by place: most of their statements are
 * walks that change nothing (cache descriptors read for a name, a free id or a cache to
 * merge with; mem_map read for a cache's slabs), which a kill at every STRIDE-th N mostly
 * hits, at a cost of a step per statement before it. Each point here is reached through a
 * breakpoint instead, and falls where the registry, the arrays or the slabs change: the
 * intent record written and the descriptor allocated; the descriptor written; the array
 * block made and published; a tune's drain; a slab, the block and the descriptor given
 * back. KMEM_KILL_ALL runs every N from the start.
 */
const SAMPLED_AT: Record<string, KillPoint[]> = {
  "cache-create": [
    { file: REGISTRY, text: "intend(slub, 1 /* Intent.CREATE */, 0, 0);", steps: 150 },
    {
      file: REGISTRY,
      text: "return initCache(slub, desc, name, g, flags, ctor, randomSecret());",
      steps: 60,
    },
  ],
  "slab-cache-create": [
    { file: SLAB_TUNE, text: "const v = openArrays(slab, c);", steps: 40 },
    { file: SLAB_TUNE, text: "const v = openArrays(slab, c);", steps: 130 },
    { file: SLAB_TUNE, text: "const v = openArrays(slab, c);", steps: 300 },
  ],
  "slab-tune": [
    { file: SLAB_TUNE, text: "const v = openArrays(slab, c);", steps: 120 },
    { file: SLAB_TUNE, text: "const v = openArrays(slab, c);", steps: 300 },
  ],
  "slab-cache-destroy": [
    { file: REGISTRY, text: "slub.releaseCached(real);", steps: 20 },
    {
      file: new URL("../../src/slab/slabs.js", import.meta.url),
      text: "slab.buddy.freePages(p * slab.pageSize, c.order);",
      steps: 2,
    },
    {
      file: new URL("../../src/slab/slab.js", import.meta.url),
      text: "arrays.releaseBlock(this, c);",
      steps: 30,
    },
    { file: REGISTRY, text: "releaseDescriptor(slub, real);", steps: 20 },
  ],
  // The kmalloc large-run cache, inside its lock: a run linked but not yet marked, marked
  // but not yet counted; taken (its mark cleared) but its bin not yet updated.
  "large-free-cached": [
    {
      file: LARGE_CACHE,
      text: "f[i + 6 /* Run.LINK */] = d[32 /* LcDesc.HEADS */ + b];",
      steps: 1,
    },
    {
      file: LARGE_CACHE,
      text: "f[i + 6 /* Run.LINK */] = d[32 /* LcDesc.HEADS */ + b];",
      steps: 3,
    },
  ],
  "large-alloc-cached": [
    { file: LARGE_CACHE, text: "f[i + 5 /* Large.HEAD_PFN */] = 0;", steps: 1 },
    { file: LARGE_CACHE, text: "f[i + 5 /* Large.HEAD_PFN */] = 0;", steps: 3 },
  ],
};

/** Where stepping starts for `op`. */
function skipOf(op: string): { file: URL; text: string } | null {
  return SKIP[op] ?? (ALL ? null : (SKIP_SAMPLED[op] ?? null));
}

/** A page for zram that compresses (not one value repeated). */
function zramPage(seed: number): Uint8Array {
  const page = new Uint8Array(4096);
  for (let i = 0; i < page.length; i++) page[i] = ((i >> 5) * 7 + seed) & 0xff;
  return page;
}

/** Stamps a range with a pattern of its own. */
function stamp(mm: Kmem, addr: number, len: number): void {
  for (let i = 0; i < len; i++) mm.memory[addr + i] = (addr + i * 7) & 0xff;
}

/** A copy of a shared buffer. */
function copyOf(b: ArrayBufferLike): SharedArrayBuffer {
  const out = new SharedArrayBuffer(b.byteLength);
  new Uint8Array(out).set(new Uint8Array(b));
  return out;
}

/** stamped() over another context's view of the memory (a reopened snapshot). */
function stampedIn(mm: Kmem, addr: number, len: number): boolean {
  const got = mm.read(addr, len);
  for (let i = 0; i < len; i++) if (got[i] !== ((addr + i * 7) & 0xff)) return false;
  return true;
}

function stamped(mm: Kmem, addr: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (mm.memory[addr + i] !== ((addr + i * 7) & 0xff)) return false;
  return true;
}

/** An instance made ready for `op`, and what the checks after a kill need of it. */
interface Scene {
  op: string;
  mm: Kmem;
  mine: [number, number][];
  /** The cache the cache- and slob- ops use ("kt" or "kd"). */
  kcName: string | null;
  sheafCap: number;
  theirs: number[];
  objs: Int32Array;
  objsBuf: SharedArrayBuffer;
  areas: number[];
  pool64: number;
  compressed: boolean;
  registry: boolean;
  before: number;
  /** The zram ops' backing store (8 pages). */
  backing: SharedArrayBuffer;
  /** zs-map: the pages of one zspage of pool "kp"'s class. */
  zsPages: number;
}

/**
 * Builds the instance for `op` (`cpus`: 2, or 3 when snapshots are checked by a context
 * of their own) with the main thread's allocations around what the worker will do.
 */
function setUp(op: string, cpus: number): Scene {
  // Without per-cpu caching a remote free goes to the slab under the list_lock (no sheaf).
  const slob = op.startsWith("slob-");
  // The registry ops walk every cache: Linux's size classes make fewer (and fewer steps).
  const registry = /^(cache-(create|alias|destroy)|slob-(create|destroy)|slab-cache-)/.test(op);
  // The slab- ops: Linux's SLAB, a cache "ks" with small arrays (limit 8, batchcount 4).
  const slabKind = op.startsWith("slab-");
  // slab-alien, slab-drain-numa: two nodes (the worker's cpu 1 is node 1's).
  const numa = op === "slab-alien" || op === "slab-drain-numa";
  const mm = new Kmem({
    memory: 1 << 20,
    ...(numa ? { nodes: [1 << 19, 1 << 19] } : {}),
    cpus,
    percpu: op !== "cache-free-locked" && op !== "vfree-zone",
    ...(slob ? { slab: "slob" as const } : {}),
    ...(slabKind ? { slab: "slab" as const } : {}),
    ...(registry ? { sizeClasses: "linux" as const } : {}),
  });
  const mine: [number, number][] = [];
  for (let i = 0; i < 4; i++) mine.push([mm.allocPages(i % 3), 4096 << (i % 3)]);
  for (let i = 0; i < 6; i++) mine.push([mm.kmalloc(64), 64]);
  // kmalloc-grown: 40 blocks of kmalloc-2k, 18 slabs (16 of a page, then two of two): the
  // worker's first allocation makes a slab of two pages (slub/layout.ts growOrder).
  if (op === "kmalloc-grown") {
    for (let i = 0; i < 40; i++) mine.push([mm.kmalloc(2048), 2048]);
    const c = mm.findCache("kmalloc-2k");
    const slabs = mm.stats().caches.find((x) => x.name === "kmalloc-2k")?.slabs ?? 0;
    assert.ok(
      c !== null && growOrder(c.order, c.topOrder, slabs) === 1,
      "a slab of two pages next",
    );
  }
  for (const [a, len] of mine) stamp(mm, a, len);
  // zsmalloc and zram: a pool "kp" and a device "z0" (and its pool), slots 0 and 1 written.
  const compressed = op.startsWith("zs-") || op.startsWith("zram-");
  if (compressed) assert.notEqual(mm.createZsPool("kp"), null);
  const z = compressed ? mm.createZram({ disksize: 16 * 4096, name: "z0" }) : null;
  const backing = new SharedArrayBuffer(8 * 4096);
  if (z !== null) {
    assert.ok(z.write(0, zramPage(0)) && z.write(1, zramPage(1)));
    if (op === "zram-writeback" || op === "zram-discard-wb") {
      // Slot 0 idle, slot 1 read since (not idle): writeback takes slot 0 only.
      z.setBackingStore(backingStore(backing));
      z.markIdle();
      z.read(1);
      if (op === "zram-discard-wb") assert.equal(z.writeback("idle"), 1);
    }
    mm.shrinkSlabs();
  }
  // Caches "kt" and "kd" for the cache- ops; `theirs` holds the main thread's objects of
  // them (freed after the count), objs what the worker frees.
  const objsBuf = new SharedArrayBuffer(4 * 64);
  const objs = new Int32Array(objsBuf);
  const kc =
    op.startsWith("cache-") || slob
      ? mm.createCache(op === "cache-free-locked" ? "kd" : "kt", 64)
      : slabKind
        ? mm.createCache("ks", 64)
        : null;
  if (slabKind) {
    mm.tuneCache("ks", { limit: 8, batchcount: 4, shared: op === "slab-free-block" ? 0 : 1 });
  }
  // The registry ops' caches: "kz" to destroy (no object left), "ka" an alias of "kt".
  if (op === "cache-destroy" || op === "slob-destroy") {
    const kz = mm.createCache("kz", 96, { flags: SLAB_NO_MERGE });
    kz?.free(kz.alloc());
    kz?.shrink();
  }
  if (op === "cache-destroy-remote") {
    // This cpu's sheaf holds objects of "kz" and its cpu slab is one: the worker's destroy
    // flushes them (another cpu's), under every node's list_lock.
    const kz = mm.createCache("kz", 96, { flags: SLAB_NO_MERGE });
    assert.ok(kz !== null);
    const objs = Array.from({ length: 6 }, () => kz.alloc());
    for (const o of objs) kz.free(o);
  }
  if (op === "cache-destroy-alias") assert.notEqual(mm.createCache("ka", 64), null);
  if (op === "slab-cache-destroy") {
    // OFF_SLAB (a constructor: no OBJFREELIST): three slabs, each with its index array in
    // an object of slab-freelist-N; objects in this cpu's array and on the slabs.
    const kz = mm.createCache("kz", 512, { flags: SLAB_NO_MERGE, ctor: () => {} });
    assert.ok(kz !== null);
    const all = Array.from({ length: 20 }, () => kz.alloc());
    for (const a of all) kz.free(a);
  }
  const theirs: number[] = [];
  if (kc !== null && op === "cache-partial") {
    const a = [kc.alloc(), kc.alloc(), kc.alloc()];
    kc.free(a[1] as number);
    theirs.push(a[0] as number, a[2] as number);
    kc.shrink();
  } else if (kc !== null && op === "cache-flush") {
    const cap = (kc as unknown as { sheafCap: number }).sheafCap;
    for (let k = 0; k < 70; k++) {
      const o = kc.alloc();
      if (k <= cap) objs[k] = o;
      else theirs.push(o);
    }
  } else if (kc !== null && op === "cache-free-locked") {
    objs[0] = kc.alloc();
    theirs.push(kc.alloc());
  } else if (kc !== null && op === "slab-refill") {
    // A partial slab (two objects in use) and nothing in any array.
    const a = [kc.alloc(), kc.alloc(), kc.alloc()];
    kc.free(a[1] as number);
    theirs.push(a[0] as number, a[2] as number);
    kc.shrink();
  } else if (kc !== null && op === "slab-drain-numa") {
    // Node 0's pages all taken and its slab of ks full: a refill falls back to node 1
    // (fallback_alloc), so this cpu's array holds node 1's objects; the frees after fill it
    // and flush them (the oldest) to node 0's shared array, with one of node 0's.
    for (let k = 0; k < 6; k++) theirs.push(kc.alloc());
    kc.shrink();
    const pages: number[] = [];
    for (let p = mm.allocPagesNode(0, 0, GFP_NOWAIT | __GFP_THISNODE); p !== 0;) {
      pages.push(p);
      p = mm.allocPagesNode(0, 0, GFP_NOWAIT | __GFP_THISNODE);
    }
    const local: number[] = [];
    let o = kc.alloc();
    while (mm.nodeOf(o) === 0) {
      local.push(o);
      o = kc.alloc();
    }
    theirs.push(o);
    for (const p of pages) mm.freePages(p, 0);
    for (const a of local) kc.free(a);
    assert.match(mm.report("slabinfo"), /^ks .* 4$/m, "node 0's shared array holds four");
  } else if (kc !== null && op === "slab-alien") {
    // objs[0..12]: node 0's objects (this cpu's node) the worker, on node 1, frees.
    for (let k = 0; k < 13; k++) objs[k] = kc.alloc();
    for (let k = 0; k < 6; k++) theirs.push(kc.alloc());
    kc.shrink();
  } else if (
    kc !== null &&
    (op === "slab-flush" ||
      op === "slab-free-block" ||
      op === "slab-tune" ||
      op === "slab-tune-grow" ||
      op === "slab-refill-shared" ||
      op === "slab-drain-shared")
  ) {
    // objs[0..8]: the worker frees 8 (its array at its limit), then the ninth (a flush).
    for (let k = 0; k < 9; k++) objs[k] = kc.alloc();
    for (let k = 0; k < 6; k++) theirs.push(kc.alloc());
    kc.shrink();
  }
  let zsPages = 0;
  if (op === "zs-map") {
    // Sparse zspages of pool "kp": every 8th of 40 objects kept; objs[0] the worker's.
    const kp = mm.findZsPool("kp");
    assert.ok(kp !== null);
    // The pages of one zspage of the class (all the kept objects fit in one).
    const one = kp.malloc(500);
    zsPages = kp.stats().pagesAllocated;
    kp.free(one);
    const hs: number[] = [];
    for (let k = 0; k < 40; k++) hs.push(kp.malloc(500));
    hs.forEach((h, k) => {
      if (k % 8 !== 0) return kp.free(h);
      mm.write(kp.map(h), new Uint8Array(4).fill(k));
      kp.unmap(h);
    });
    objs[0] = hs[8] as number;
  }
  // A pool of 4 elements of 64 bytes for the pool- ops, one of them out (pool-free).
  const pool64 = op.startsWith("pool-") ? mm.createMempool(4, 64) : null;
  if (pool64 !== null) {
    objs[0] = pool64.address;
    if (op === "pool-free") {
      mm.setFault("failslab", { probability: 100, times: 1, verbose: 0 });
      objs[1] = pool64.alloc();
      mm.setFault("failslab", null);
      assert.equal(pool64.currNr, 3);
    }
  }
  // The main thread's vmalloc areas around the worker's (vmalloc, vfree).
  const areas =
    op.startsWith("vmalloc") || op.startsWith("vfree") ? [mm.vmalloc(8192), mm.vmalloc(4096)] : [];
  for (const a of areas) mm.write(a, new Uint8Array(4096).fill(a & 0xff));
  mm.drainPages();
  const before = freePages(mm);
  return {
    op,
    mm,
    mine,
    kcName: kc === null ? null : kc.name,
    sheafCap: kc === null ? 0 : (kc as unknown as { sheafCap: number }).sheafCap,
    theirs,
    objs,
    objsBuf,
    areas,
    pool64: pool64 === null ? 0 : pool64.address,
    compressed,
    registry,
    before,
    backing,
    zsPages,
  };
}

/**
 * The checks after the worker of `sc` died after `n` steps: `m` (a context of the instance,
 * or of a snapshot of it) offlines cpu 1 (or the snapshot is reopened) and checks what it
 * finds; `ledger` is the worker's ledger as it was then.
 */
function checkAfter(
  sc: Scene,
  m: Kmem,
  ledger: Int32Array,
  n: number,
  done: boolean,
  reopenOf: SharedArrayBuffer | null,
): { done: boolean; locked: boolean; unrepaired: boolean } {
  const { op, mine, theirs, objs, areas, compressed, registry, before } = sc;
  let locked = false;
  let unrepaired = false;
  if (reopenOf !== null) {
    // A snapshot of the buffer as the worker left it, reopened: every lock it held is
    // recovered (the vmalloc lock once the layers are open) and the instance is whole.
    const snap = reopenOf;
    const r = Kmem.reopen(snap);
    r.verify();
    const h = new Int32Array(snap, 0, Hdr.PCP + 64);
    for (const i of [Hdr.LOCK_SLAB, Hdr.LOCK_SLOB, Hdr.LOCK_POOL, Hdr.LOCK_VMALLOC]) {
      assert.equal(h[i], 0, `${op} at ${n}: lock word ${i}`);
    }
    for (const [a, len] of mine) assert.ok(stampedIn(r, a, len), `${op} at ${n}: stamp`);
    for (const a of areas) {
      assert.deepEqual(r.read(a, 4096), new Uint8Array(4096).fill(a & 0xff), `${op} at ${n}`);
    }
    if (compressed) {
      // zram's slots as before or as written (none lost), and the device and pool serve.
      const z = r.findZram("z0");
      const pool = r.findZsPool("kp");
      assert.ok(z !== null && pool !== null, `${op} at ${n}: zram z0 and pool kp`);
      if (op === "zram-writeback" || op === "zram-discard-wb") {
        z.setBackingStore(backingStore(sc.backing));
      }
      assert.deepEqual(z.read(1), zramPage(1), `${op} at ${n}: zram slot 1`);
      const s0 = z.read(0);
      const written = new Uint8Array(4096);
      written[4095] = 2;
      const ok = [zramPage(0), written];
      if (op.startsWith("zram-discard")) ok.push(new Uint8Array(4096));
      assert.ok(
        ok.some((p) => Buffer.compare(p, s0) === 0),
        `${op} at ${n}: zram slot 0`,
      );
      assert.ok(z.write(0, zramPage(0)));
      pool.free(pool.malloc(100));
      pool.compact();
      assert.equal(z.stats().origDataSize, 2 * 4096, `${op} at ${n}: pages_stored`);
      r.verify();
    }
    r.vfree(r.vmalloc(5 * 4096));
    r.kfree(r.kmalloc(64));
    r.freePages(r.allocPages(3), 3);
    const kq = r.createCache("kq", 96, { flags: SLAB_NO_MERGE });
    assert.notEqual(kq, null, `${op} at ${n}: createCache`);
    kq?.free(kq.alloc());
    kq?.destroy();
    for (const a of areas) r.vfree(a);
    r.verify();
    return { done, locked: false, unrepaired: false };
  }
  // The worker never runs again: its cpu is dead.
  const report = m.offlineCpu(1);
  locked = report.recovered.length > 0;
  // The main thread's handles, as this context sees them (no lock the dead cpu held now).
  const kc = sc.kcName === null ? null : m.findCache(sc.kcName);
  const pool = compressed ? m.findZsPool("kp") : null;
  const z = compressed ? m.findZram("z0") : null;
  if (z !== null && (op === "zram-writeback" || op === "zram-discard-wb")) {
    z.setBackingStore(backingStore(sc.backing));
  }
  const pool64 = sc.pool64 === 0 ? null : m.openMempool(sc.pool64);
  unrepaired = report.unrecovered.length > 0;
  assert.deepEqual(report.unrecovered, [], `${op} killed at ${n}`);
  m.verify();
  for (const [a, len] of mine) assert.ok(stamped(m, a, len), `${op} at ${n}: stamp`);
  const h = new Int32Array(m.buffer, 0, Hdr.PCP + 64);
  for (const i of [Hdr.LOCK_SLAB, Hdr.LOCK_SLOB, Hdr.LOCK_POOL, Hdr.LOCK_VMALLOC]) {
    assert.equal(h[i], 0);
  }
  // What the dead context held goes back, then what this one holds.
  const f = memMap(m);
  for (let k = 0; k < (ledger[1] as number); k++) {
    const e = ledger[2 + k] as number;
    const addr = Math.floor(e / 16);
    const order = e % 16;
    if (order === 12) {
      try {
        m.vfree(addr);
      } catch (err) {
        // Only the area a vfree was given may be free already.
        assert.ok(op.startsWith("vfree"), `${op} at ${n}: ${String(err)}`);
      }
    } else if (order === 13) {
      kc?.free(addr);
    } else if (order === 14) {
      try {
        pool?.free(addr);
      } catch (err) {
        // Only the handle a free was given may be free already.
        assert.ok(op === "zs-free", `${op} at ${n}: ${String(err)}`);
      }
    } else if (order === 15) {
      try {
        m.kfree(addr);
      } catch (err) {
        // Only the operation's own object may be free already (kfree killed after it).
        assert.ok(
          op === "kfree" ||
            op === "slob-kfree" ||
            op.startsWith("heap-free") ||
            op === "large-free-cached",
          `${op} at ${n}: ${String(err)}`,
        );
      }
    } else if ((f[(addr / m.pageSize) * Frame.WORDS + Pg.FLAGS] as number) === PgFlag.HEAD) {
      m.freePages(addr, order);
    }
  }
  if (z !== null && pool !== null) {
    assert.deepEqual(z.read(1), zramPage(1), `${op} at ${n}: zram slot 1`);
    // Slot 0 as before (discarded or not), or as written.
    const s0 = z.read(0);
    const zero = new Uint8Array(4096);
    const written = new Uint8Array(4096);
    written[4095] = 2; // what zram-write writes
    assert.ok(
      [zramPage(0), written, zero].some((p) => Buffer.compare(p, s0) === 0),
      `${op} at ${n}: zram slot 0`,
    );
    if (!op.startsWith("zram-discard")) {
      assert.notDeepEqual(s0, zero, `${op} at ${n}: slot 0 lost`);
    }
    if (op === "zs-map") {
      // The mapping the dead context held is gone: compaction moves its zspage too.
      const kept = sc.objs[0] as number;
      assert.ok(pool.compact() > 0, `${op} at ${n}: compaction moved nothing`);
      assert.equal(pool.stats().pagesAllocated, sc.zsPages, `${op} at ${n}: one zspage left`);
      const at = pool.map(kept, "ro");
      assert.deepEqual(m.read(at, 4), new Uint8Array(4).fill(8), `${op} at ${n}: moved`);
      pool.unmap(kept);
    }
    assert.ok(z.write(0, zramPage(0)));
    assert.ok(z.write(2, zramPage(3)));
    z.discard(2);
    const h = pool.malloc(100);
    pool.free(pool.malloc(3000));
    pool.compact();
    z.compact();
    pool.free(h);
    const st = z.stats();
    assert.equal(st.origDataSize, 2 * 4096, `${op} at ${n}: pages_stored`);
  }
  if (
    op === "slab-flush" ||
    op === "slab-free-block" ||
    op === "slab-tune" ||
    op === "slab-alien"
  ) {
    try {
      kc?.free(objs[op === "slab-alien" ? 12 : 8] as number);
    } catch (err) {
      assert.ok(
        err instanceof KmemError && err.code === "DOUBLE_FREE",
        `${op} at ${n}: ${String(err)}`,
      );
    }
  }
  if (op === "cache-flush" || op === "cache-free-locked") {
    // The object the worker was freeing: allocated still, unless the free got far enough.
    const o = objs[op === "cache-flush" ? sc.sheafCap : 0];
    try {
      kc?.free(o as number);
    } catch (err) {
      assert.ok(
        err instanceof KmemError && err.code === "DOUBLE_FREE",
        `${op} at ${n}: ${String(err)}`,
      );
    }
  }
  if (kc !== null) kc.free(kc.alloc());
  if (registry) {
    // The worker's cache: gone (rolled back or destroyed) or whole; the next cache works.
    for (const name of ["kn", "ka", "kz"]) {
      const c = m.findCache(name);
      if (c === null) continue;
      // kz of slab-cache-destroy has a constructor: this context's, if it is another.
      if (op === "slab-cache-destroy" && m !== sc.mm) m.registerCtor(name, () => {});
      c.free(c.alloc());
      c.shrink();
      c.destroy();
      assert.equal(m.findCache(name), null, `${op} at ${n}: ${name} destroyed`);
    }
    const kq = m.createCache("kq", 96, { flags: SLAB_NO_MERGE });
    assert.notEqual(kq, null, `${op} at ${n}: createCache`);
    kq?.free(kq.alloc());
    kq?.shrink();
    kq?.destroy();
    m.verify();
  }
  if (areas.length > 0) {
    for (const a of areas) {
      assert.deepEqual(m.read(a, 4096), new Uint8Array(4096).fill(a & 0xff), `${op} at ${n}`);
    }
    m.vfree(m.vmalloc(5 * 4096));
  }
  if (pool64 !== null) {
    // The element the worker was freeing is in the reserve, or still its (freed here);
    // the reserve holds distinct live elements, sorted, and serves and takes back.
    if (op === "pool-free") {
      try {
        pool64.free(objs[1] as number);
      } catch (err) {
        assert.ok(
          err instanceof KmemError && err.code === "DOUBLE_FREE",
          `${op} at ${n}: ${String(err)}`,
        );
      }
      assert.equal(pool64.currNr, 4, `${op} at ${n}: the reserve is full again`);
    }
    m.setFault("failslab", { probability: 100, times: 1, verbose: 0 });
    const e = pool64.alloc();
    m.setFault("failslab", null);
    assert.notEqual(e, 0);
    pool64.free(e);
  }
  const other = Kmem.attach(m.buffer);
  assert.equal(other.cpu, 1, "the dead cpu's id is free again");
  other.kfree(other.kmalloc(64));
  other.freePages(other.allocPages(3), 3);
  m.offlineCpu(other.cpu);
  m.shrinkSlabs();
  m.drainPages();
  const after = freePages(m);
  assert.ok(
    after <= before + (GAIN[op] ?? 0),
    `${op} at ${n}: ${after} free pages, ${before} before`,
  );
  assert.ok(
    before - after <= (SLACK[op] as number),
    `${op} at ${n}: ${before - after} pages lost (at most ${SLACK[op]} were in its hands)`,
  );
  for (const o of theirs) kc?.free(o);
  for (const a of areas) m.vfree(a);
  for (const [a, len] of mine) {
    if (len === 64 || len === 2048) m.kfree(a);
    else m.freePages(a, Math.log2(len / 4096));
  }
  m.verify();
  return { done, locked, unrepaired };
}

/**
 * Runs `op` in a worker killed after `n` steps and checks the instance; returns whether
 * the operation had completed within the n steps.
 */
async function killAt(
  op: string,
  n: number,
  reopen = false,
  skip = skipOf(op),
): Promise<{ done: boolean; locked: boolean; unrepaired: boolean }> {
  const sc = setUp(op, 2);
  const ledgerBuf = new SharedArrayBuffer(4 * 64);
  const ledger = new Int32Array(ledgerBuf);
  const w = new Stepped();
  await w.start(
    { buffer: sc.mm.buffer, ledger: ledgerBuf, op, objs: sc.objsBuf, backing: sc.backing },
    skip,
  );
  let done = false;
  for (let k = 0; k < n && !done; k++) {
    await w.step();
    done = Atomics.load(ledger, 0) === 1;
  }
  try {
    return checkAfter(sc, sc.mm, ledger, n, done, reopen ? copyOf(sc.mm.buffer) : null);
  } finally {
    await w.kill();
  }
}

/**
 * Every N of `op` with one worker: after each step the buffer is copied (the worker is
 * paused: the copy is the memory of a context dead at that statement) and checked by a
 * context attached to the copy (or the copy is reopened), and the worker steps on. Each
 * step costs one step, not N: what makes every N of the long operations affordable.
 */
async function sweepSnapshots(
  op: string,
  reopen: boolean,
  every = 1,
  first = 0,
): Promise<[number, number, number, number]> {
  const sc = setUp(op, 3);
  const ledgerBuf = new SharedArrayBuffer(4 * 64);
  const ledger = new Int32Array(ledgerBuf);
  const w = new Stepped();
  await w.start(
    { buffer: sc.mm.buffer, ledger: ledgerBuf, op, objs: sc.objsBuf, backing: sc.backing },
    skipOf(op),
  );
  let locked = 0;
  let unrepaired = 0;
  let reopened = 0;
  let checked = 0;
  try {
    for (let n = 0; n < MAX_STEPS; n++) {
      const done = Atomics.load(ledger, 0) === 1;
      if (!done && (n < first || (n - first) % every !== 0)) {
        await w.step();
        continue;
      }
      checked++;
      const snap = copyOf(sc.mm.buffer);
      const led = new Int32Array(ledger);
      // Opening the copy takes slab_mutex (and reads SLOB's lists): while the dead cpu
      // holds either, only reopen can open it (it recovers them first).
      const hv = new Int32Array(snap, 0, Hdr.PCP);
      const held =
        ((hv[Hdr.LOCK_SLAB] as number) & 0xffff) === 2 ||
        ((hv[Hdr.LOCK_SLOB] as number) & 0xffff) === 2;
      const r =
        reopen || held
          ? checkAfter(sc, sc.mm, led, n, done, snap)
          : checkAfter(sc, Kmem.attach(snap), led, n, done, null);
      if (held && !reopen) reopened++;
      if (r.locked) locked++;
      if (r.unrepaired) unrepaired++;
      if (done) return [n, checked - reopened, locked, unrepaired];
      await w.step();
    }
  } finally {
    await w.kill();
  }
  assert.fail(`${op} did not complete within ${MAX_STEPS} steps`);
}

/**
 * Every STRIDE-th N of `op` from `first` until the operation completes within N steps;
 * returns that N, the kills, and how many found a lock held.
 */
async function sweep(
  op: string,
  first: number,
  stride: number,
  reopen = false,
  once = false,
): Promise<[number, number, number, number]> {
  let kills = 0;
  let locked = 0;
  let unrepaired = 0;
  for (let n = first; n < MAX_STEPS; n += stride) {
    const r = await killAt(op, n, reopen);
    kills++;
    if (r.locked) locked++;
    if (r.unrepaired) unrepaired++;
    if (r.done || once) return [n, kills, locked, unrepaired];
  }
  assert.fail(`${op} did not complete within ${MAX_STEPS} steps`);
}

describe("kill at every point", () => {
  const ops = [
    "alloc0",
    "alloc0-refill",
    "free0",
    "free0-drain",
    "alloc3",
    "free3",
    "kmalloc",
    "kmalloc-grown",
    "kfree",
    "zs-malloc",
    "zs-free",
    "zram-discard",
    "zram-write",
    "zram-writeback",
    "zram-discard-wb",
    "zs-map",
    "cache-new",
    "cache-partial",
    "cache-flush",
    "cache-free-locked",
    "pool-free",
    "pool-alloc",
    "vmalloc",
    "vfree",
    "cache-create",
    "cache-alias",
    "cache-destroy",
    "cache-destroy-remote",
    "cache-destroy-alias",
    "slob-kmalloc",
    "slob-kfree",
    "slob-alloc",
    "slob-create",
    "slob-destroy",
    "slab-grow",
    "slab-refill",
    "slab-flush",
    "slab-free-block",
    "slab-drain-shared",
    "slab-refill-shared",
    "slab-drain-numa",
    "slab-cache-create",
    "slab-cache-destroy",
    "slab-tune",
    "slab-alien",
    "slab-tune-grow",
    "heap-grow",
    "heap-alloc",
    "heap-free",
    "heap-free-chunk",
    "heap-realloc",
    "heap-free-cached",
    "heap-alloc-cached",
    "large-alloc",
    "large-free-cached",
    "large-alloc-cached",
  ];
  ops.forEach((op, k) => {
    it(`${op}: a worker killed at any statement costs at most what it held`, async (t) => {
      if (!ALL && EVERY_POINT_ONLY.has(op)) {
        t.diagnostic(`${op}: run with KMEM_KILL_ALL=1 (npm run test:slow)`);
        return;
      }
      const points = ALL || DENSE > 0 ? undefined : SAMPLED_AT[op];
      if (points !== undefined) {
        let locked = 0;
        for (const p of points) {
          const r = await killAt(op, p.steps, false, p);
          // Each point falls inside the operation, where a lock is held.
          assert.ok(!r.done && r.locked, `${op}: ${p.steps} steps after "${p.text}": in a lock`);
          locked++;
        }
        t.diagnostic(`${op}: ${points.length} kills at chosen points, ${locked} holding a lock`);
        return;
      }
      const stride = DENSE > 0 ? DENSE : ALL ? 1 : (THIN[op] ?? 1) * STRIDE;
      const first = ALL || DENSE > 0 ? 0 : (FIRST[op] ?? k % stride);
      const [steps, kills, locked, unrepaired] =
        (ALL && !REAL) || SNAPSHOTS.has(op)
          ? await sweepSnapshots(op, false, stride, first)
          : await sweep(op, first, stride, false, !ALL && !DENSE && FIRST[op] !== undefined);
      t.diagnostic(
        `${op}: completes in ${steps} steps or fewer; ${kills} kills, ${locked} holding a lock, ${unrepaired} released unrepaired`,
      );
      assert.ok(steps > 0);
    });
  });
});

/**
 * A worker killed inside vfree while it holds the zone lock too (no per-cpu lists: each
 * page goes straight to the zone): the vmalloc recovery frees the area's pages into that
 * zone, whose lock is recovered and released first (src/sync/robust.ts).
 */
describe("kill with an inner lock held", () => {
  it("vfree killed inside the zone lock: both locks recovered, the area's pages freed", async () => {
    for (const n of [0, 4]) {
      const r = await killAt("vfree-zone", n);
      assert.ok(!r.done && r.locked, `vfree-zone at ${n}: killed holding the locks`);
    }
  });
});

/** Kmem.reopen of a snapshot taken where the worker died (the vmalloc lock held, ...). */
describe("kill at every point, then reopen", () => {
  const ops = [
    "vmalloc",
    "vfree",
    "cache-create",
    "slob-kmalloc",
    "zram-write",
    "zram-writeback",
    "zram-discard-wb",
    "zs-map",
  ];
  ops.forEach((op, k) => {
    it(`${op}: a snapshot reopened after a kill at any statement is whole`, async (t) => {
      if (!ALL && EVERY_POINT_ONLY.has(`${op}-reopen`)) {
        t.diagnostic(`${op}: run with KMEM_KILL_ALL=1 (npm run test:slow)`);
        return;
      }
      const stride = ALL ? 1 : (REOPEN_THIN[op] ?? 1) * STRIDE;
      const first = ALL ? 0 : (FIRST[op] ?? (k * 7) % stride);
      const [steps, kills] = await sweepSnapshots(op, true, stride, first);
      t.diagnostic(`${op}: completes in ${steps} steps or fewer; ${kills} snapshots reopened`);
      assert.ok(steps > 0);
    });
  });
});
