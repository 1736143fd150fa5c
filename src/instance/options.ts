/*
 * The options of `new Kmem`, `Kmem.attach` and `Kmem.reopen`: their types, defaults and
 * checks. Every option is checked before the buffer is written to, so a bad one leaves a
 * buffer passed in as it was.
 */

import { checkIntegerRange, checkKnownKeys, describe } from "../errors.js";
import type { LogFn } from "../page/index.js";
import type { SizeClasses } from "../kmalloc/index.js";
import { checkCtor, type Ctor, SlabFlag } from "../slab-common/index.js";

/** Options of {@link Kmem}. */
export interface KmemOptions {
  /**
   * Bytes of physical memory to create, or a buffer to manage (its contents are taken over).
   * May be left out with `nodes`: the memory is then the nodes' sum.
   */
  memory?: number | ArrayBuffer | SharedArrayBuffer;
  /**
   * With `memory` a buffer whose start belongs to something else (a WebAssembly module's
   * data and stack): the byte of it where kmem's memory starts, a multiple of the page
   * size. Address 0 is that byte: an address is an offset from it, and the bytes before it
   * are never touched. Default 0.
   */
  offset?: number;
  /**
   * Bytes the memory may grow to, from `offset`: the mem_map has room for their frames from
   * the start, the frames beyond the buffer belonging to no zone until memory hotplug brings
   * them online. Default: the memory's size.
   * @internal
   */
  maxMemory?: number;
  /**
   * NUMA nodes, node 0 first (it holds the header and mem_map); each has its own free
   * lists, watermarks and zone lock. Without `memory`, one buffer per node: a byte count
   * (whole pages; a buffer is created) or a buffer to take over, each node at its own
   * address window (see ARCHITECTURE.md). With `memory`, byte counts that split it at
   * consecutive addresses and add up to its whole pages. Default: one node.
   */
  nodes?: (number | ArrayBuffer | SharedArrayBuffer)[];
  /**
   * node_distance table, nodes x nodes (SLIT): 10 on the diagonal, 11..255 elsewhere;
   * allocations fall back to the nearest node first. Default: 10 local, 20 remote.
   */
  distances?: number[][];
  /** This context's node (numa_node_id), 0..nodes-1. Default 0. */
  node?: number;
  /**
   * With `memory` (or `nodes`) a buffer that holds a kmem instance already: `true` builds a
   * new instance over it, discarding the old one (every context still using it must be gone).
   * Without it `new Kmem` refuses such a buffer (KmemError BUSY): open it with
   * {@link Kmem.attach} or {@link Kmem.reopen} instead. Default false.
   */
  reinit?: boolean;
  /** Page size in bytes: a power of two, 1 KiB..64 KiB. Default 4096. */
  pageSize?: number;
  /** Orders 0..maxOrder-1 exist (Linux: 11 orders, 4 MiB blocks with 4 KiB pages). Default 11. */
  maxOrder?: number;
  /**
   * The min watermark in bytes (vm.min_free_kbytes). Default: derived from memory size as
   * Linux does. 0 disables the reserve.
   */
  minFreeBytes?: number;
  /** slub_debug-style letters for the slab layer: F, Z, P, U, T, A, O, or "-" for none. */
  debug?: string;
  /** Receives allocation-failure reports and fault-injection messages. Default: silent. */
  log?: LogFn;
  /** Zero every object and page block on allocation (the kernel's init_on_alloc). Default false. */
  initOnAlloc?: boolean;
  /** Zero every object on free (init_on_free). Default false. */
  initOnFree?: boolean;
  /**
   * The object allocator behind kmalloc and createCache: "slub" (default), "slob", the
   * simple list of blocks for tiny memories (no debugging, as in Linux), or "slab", Linux's
   * SLAB: per-cpu array caches with tunables (Kmem.tuneCache) and reaping (Kmem.reap).
   */
  slab?: SlabKind;
  /**
   * kmalloc's size classes (SLUB and SLAB; SLOB has none): "fine" (default), 8..64 bytes in steps
   * of 8 and four classes per power of two above, or "linux", Linux's powers of two with 96
   * and 192 (docs/slab.md).
   */
  sizeClasses?: SizeClasses;
  /**
   * slab "slab" only: per-cpu array limits adapt to load (Bonwick & Adams's magazine
   * resizing: grow under lock contention, shrink when idle, at each Kmem.reap()). Default false.
   */
  adaptive?: boolean;
  /**
   * Contexts (main thread and workers) that may use the instance at once, 1..64. Default 1.
   * With more than one, `memory` should be a SharedArrayBuffer (a byte count creates one)
   * and other contexts open it with {@link Kmem.attach}.
   */
  cpus?: number;
  /**
   * Per-cpu caching (default true). false is for measuring what it buys: per-cpu page lists
   * hold no page and caches keep no sheaves (cpu slabs remain: SLUB has no path without).
   */
  percpu?: boolean;
  /**
   * How long an allocation that may sleep (GFP_KERNEL) waits for another context to free
   * memory before it returns 0, in ms (default 100); __GFP_NOFAIL waits until it succeeds.
   * Waiting needs another cpu online; this context's own setting.
   */
  allocWaitMs?: number;
  /* Sanitizers (docs/sanitizers.md). */
  /**
   * KASAN: a shadow of one byte per 8 bytes of memory (in the reserved part of the buffer,
   * shared by every context), poisoned and unpoisoned by every allocator, checked by every
   * accessor; a bad access throws KmemError KASAN with Linux's report. `quarantine`: bytes
   * of freed objects held back from reuse per context (default 1/32 of memory, at most
   * 1 MiB); `stacks`: record a JS stack at each allocation and free for the reports.
   * Needs memory given as one buffer. Default off.
   */
  kasan?: boolean | KasanOptions;
  /**
   * KFENCE: every `sampleInterval`-th slab allocation of a context (or the first after
   * `sampleMs` ms) comes from a pool of `objects` guarded pages. Default off.
   */
  kfence?: KfenceOptions;
  /** kmemleak: track every object so that {@link Kmem.kmemleakScan} can look for leaks. */
  kmemleak?: boolean;
}

/** KASAN's knobs ({@link KmemOptions.kasan}). */
export interface KasanOptions {
  /** Bytes of freed objects a context holds back from reuse (0: none). */
  quarantine?: number;
  /** Record a JS stack at every allocation and free, for the reports. Default false. */
  stacks?: boolean;
}

/** KFENCE's knobs ({@link KmemOptions.kfence}). */
export interface KfenceOptions {
  /** One slab allocation in this many (per context) is sampled. Default 100. */
  sampleInterval?: number;
  /** Sample the first allocation after this many ms instead (Linux's kfence.sample_interval). */
  sampleMs?: number;
  /** Objects in the pool, 1..127 (each a page between guard pages). Default 63. */
  objects?: number;
}

/** Options of {@link Kmem.attach} and {@link Kmem.reopen}: what belongs to the opening context alone. */
export interface AttachOptions {
  /** Receives this context's allocation-failure reports. Default: silent. */
  log?: LogFn;
  /** As {@link KmemOptions.allocWaitMs}, for this context. */
  allocWaitMs?: number;
  /**
   * Constructors of caches made with one, by cache name: functions cannot cross threads,
   * so each context registers its own (or later, with {@link Kmem.registerCtor}).
   */
  ctors?: Record<string, Ctor>;
  /** This context's node (numa_node_id). Default: the cpu id modulo the number of nodes. */
  node?: number;
  /** The `offset` the instance was built with (the byte of the buffer that is address 0). */
  offset?: number;
  /**
   * Kmem.attach: how long (ms) to wait for slab_mutex or SLOB's lock, which opening the
   * allocators takes, while another cpu holds it. Past it attach throws KmemError BUSY
   * naming the lock and its cpu: a worker that died holding it is recovered only by
   * offlineCpu(cpu) from a context that lives, and attach cannot tell a dead holder from a
   * slow one. Default 1000; Infinity waits as long as it is held.
   */
  lockWaitMs?: number;
}

/** The object allocators kmalloc and createCache can be served by. */
export type SlabKind = "slub" | "slob" | "slab";

/** The options of `new Kmem` that the layers take, checked and with their defaults. */
export interface Settings {
  /** slub_debug letters in force, in slub_debug's order ("" for none). */
  debug: string;
  slab: SlabKind;
  sizeClasses: SizeClasses;
  log: LogFn | null;
  initOnAlloc: boolean;
  initOnFree: boolean;
  percpu: boolean;
  adaptive: boolean;
  node: number;
  minFreeBytes: number | undefined;
  allocWaitMs: number | undefined;
  /** Sanitizers, checked (null: off). */
  kasan: { quarantine: number | undefined; stacks: boolean } | null;
  kfence: { sampleInterval: number; sampleMs: number; objects: number } | null;
  kmemleak: boolean;
}

const OPTION_KEYS = [
  "memory",
  "offset",
  "maxMemory",
  "pageSize",
  "maxOrder",
  "minFreeBytes",
  "debug",
  "log",
  "initOnAlloc",
  "initOnFree",
  "slab",
  "sizeClasses",
  "cpus",
  "percpu",
  "adaptive",
  "allocWaitMs",
  "nodes",
  "distances",
  "node",
  "kasan",
  "kfence",
  "kmemleak",
  "reinit",
] as const;
const ATTACH_KEYS = ["log", "ctors", "allocWaitMs", "node", "offset", "lockWaitMs"] as const;
/** The longest wait Atomics.wait takes (ms): the bound of allocWaitMs. */
const MAX_WAIT_MS = 2 ** 31 - 1;
const DEBUG_LETTERS = "FZPUTAO-";

/** `new Kmem`'s argument must be an object of known options (checked before anything else). */
export function checkOptionsObject(options: unknown): asserts options is KmemOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Kmem options must be an object, got ${describe(options)}`);
  }
  checkKnownKeys("Kmem", options, OPTION_KEYS);
}

/**
 * The options the physical memory does not check itself (it checks memory, nodes,
 * distances, pageSize, maxOrder and cpus), once it knows its node count and managed bytes.
 */
export function checkSettings(
  options: KmemOptions,
  nrNodes: number,
  managedBytes: number,
): Settings {
  if (options.node !== undefined) checkIntegerRange("node", options.node, 0, nrNodes - 1);
  if (options.minFreeBytes !== undefined) {
    checkIntegerRange("minFreeBytes", options.minFreeBytes, 0, managedBytes);
  }
  const debug = parseDebug(options.debug);
  const slab = options.slab ?? "slub";
  if (slab !== "slub" && slab !== "slob" && slab !== "slab") {
    throw new RangeError(`slab must be "slub", "slab" or "slob", got ${describe(slab)}`);
  }
  const adaptive = checkBoolean("adaptive", options.adaptive, false);
  if (adaptive && slab !== "slab") {
    throw new RangeError(`adaptive needs slab: "slab" (the adaptive part is SLAB's array caches)`);
  }
  if (slab === "slob" && debug !== "") {
    throw new RangeError(
      `debug ${JSON.stringify(options.debug)} needs slab: "slub" (SLOB has no debugging, as in Linux)`,
    );
  }
  const sizeClasses = options.sizeClasses ?? "fine";
  if (sizeClasses !== "fine" && sizeClasses !== "linux") {
    throw new RangeError(`sizeClasses must be "fine" or "linux", got ${describe(sizeClasses)}`);
  }
  checkLog(options.log);
  const initOnAlloc = checkBoolean("initOnAlloc", options.initOnAlloc, false);
  const initOnFree = checkBoolean("initOnFree", options.initOnFree, false);
  const percpu = checkBoolean("percpu", options.percpu, true);
  checkWaitMs(options.allocWaitMs);
  const sanitizers = checkSanitizers(options, slab);
  return {
    ...sanitizers,
    debug,
    slab,
    sizeClasses,
    log: guardLog(options.log),
    initOnAlloc,
    initOnFree,
    percpu,
    adaptive,
    node: options.node ?? 0,
    minFreeBytes: options.minFreeBytes,
    allocWaitMs: options.allocWaitMs,
  };
}

/** The sanitizer options: KASAN, KFENCE, kmemleak. */
function checkSanitizers(
  options: KmemOptions,
  slab: SlabKind,
): Pick<Settings, "kasan" | "kfence" | "kmemleak"> {
  let kasan: Settings["kasan"] = null;
  const k = options.kasan;
  if (k !== undefined && k !== false) {
    if (k !== true && (typeof k !== "object" || k === null)) {
      throw new TypeError(`kasan must be a boolean or { quarantine, stacks }, got ${describe(k)}`);
    }
    const o = k === true ? {} : k;
    if (k !== true) checkKnownKeys("kasan", o, ["quarantine", "stacks"]);
    if (o.quarantine !== undefined) checkIntegerRange("kasan.quarantine", o.quarantine, 0, 2 ** 32);
    kasan = { quarantine: o.quarantine, stacks: checkBoolean("kasan.stacks", o.stacks, false) };
  }
  let kfence: Settings["kfence"] = null;
  const f = options.kfence;
  if (f !== undefined) {
    if (typeof f !== "object" || f === null) {
      throw new TypeError(
        `kfence must be an object { sampleInterval, sampleMs, objects }, got ${describe(f)}`,
      );
    }
    checkKnownKeys("kfence", f, ["sampleInterval", "sampleMs", "objects"]);
    if (f.sampleInterval !== undefined) {
      checkIntegerRange("kfence.sampleInterval", f.sampleInterval, 1, 2 ** 31 - 1);
    }
    if (f.sampleMs !== undefined) checkIntegerRange("kfence.sampleMs", f.sampleMs, 0, 2 ** 31 - 1);
    if (f.objects !== undefined) checkIntegerRange("kfence.objects", f.objects, 1, 127);
    kfence = {
      sampleInterval: f.sampleInterval ?? (f.sampleMs === undefined ? 100 : 0),
      sampleMs: f.sampleMs ?? -1,
      objects: f.objects ?? 63,
    };
  }
  const kmemleak = checkBoolean("kmemleak", options.kmemleak, false);
  if (kfence !== null && slab === "slob") {
    throw new RangeError('kfence needs slab: "slub" or "slab" (it samples slab caches)');
  }
  return { kasan, kfence, kmemleak };
}

/** Kmem.attach's and Kmem.reopen's options (`fn` names the call in messages). */
export function checkAttachOptions(fn: string, options: unknown): asserts options is AttachOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${fn} options must be an object, got ${describe(options)}`);
  }
  checkKnownKeys(fn, options, ATTACH_KEYS);
  const o = options as AttachOptions;
  checkLog(o.log);
  checkWaitMs(o.allocWaitMs);
  if (o.lockWaitMs !== undefined && o.lockWaitMs !== Number.POSITIVE_INFINITY) {
    checkIntegerRange("lockWaitMs", o.lockWaitMs, 0, MAX_WAIT_MS);
  }
  if (o.ctors !== undefined) {
    if (typeof o.ctors !== "object" || o.ctors === null) {
      throw new TypeError(`ctors must be an object of functions, got ${describe(o.ctors)}`);
    }
    for (const ctor of Object.values(o.ctors)) checkCtor(ctor);
  }
}

/**
 * The `log` callback as the layers call it: a report made while the callback runs (it
 * allocated, and that allocation failed or was injected a fault) is dropped, so a callback
 * that allocates cannot recurse without bound.
 */
export function guardLog(log: LogFn | undefined): LogFn | null {
  if (log === undefined) return null;
  let depth = 0;
  return (message) => {
    if (depth !== 0) return;
    depth++;
    try {
      log(message);
    } finally {
      depth--;
    }
  };
}

function checkLog(log: unknown): void {
  if (log !== undefined && typeof log !== "function") {
    throw new TypeError(`log must be a function, got ${describe(log)}`);
  }
}

function checkWaitMs(ms: unknown): void {
  if (ms !== undefined) checkIntegerRange("allocWaitMs", ms, 0, MAX_WAIT_MS);
}

function checkBoolean(name: string, value: unknown, otherwise: boolean): boolean {
  if (value === undefined) return otherwise;
  if (typeof value !== "boolean") {
    throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  }
  return value;
}

/** slub_debug letters: checked, upper case, "-" (none) dropped. */
function parseDebug(debug: unknown): string {
  if (debug === undefined) return "";
  if (typeof debug !== "string") {
    throw new TypeError(`debug must be a string of slub_debug letters, got ${describe(debug)}`);
  }
  for (const ch of debug) {
    if (!DEBUG_LETTERS.includes(ch.toUpperCase())) {
      throw new RangeError(
        `debug has unknown letter ${JSON.stringify(ch)} (known: ${DEBUG_LETTERS.split("").join(" ")})`,
      );
    }
  }
  return debug.toUpperCase().replace(/-/g, "");
}

/** The debug letters of slab flags (an instance's header), in slub_debug's order. */
export function debugLetters(flags: number): string {
  let out = "";
  if ((flags & SlabFlag.CONSISTENCY_CHECKS) !== 0) out += "F";
  if ((flags & SlabFlag.RED_ZONE) !== 0) out += "Z";
  if ((flags & SlabFlag.POISON) !== 0) out += "P";
  if ((flags & SlabFlag.STORE_USER) !== 0) out += "U";
  if ((flags & SlabFlag.TRACE) !== 0) out += "T";
  if ((flags & SlabFlag.FAILSLAB) !== 0) out += "A";
  if ((flags & SlabFlag.ORDER_OFF) !== 0) out += "O";
  return out;
}
