/*
 * Building an instance's layers, and opening one another context built: the one wiring
 * path of `new Kmem`, `Kmem.attach` and `Kmem.reopen`.
 *
 *   new Kmem(options)      options checked -> physical memory laid out -> cpu 0 claimed ->
 *                          page allocator (watermarks, boot memory freed) -> object
 *                          allocator (boot caches) -> kmalloc -> vmalloc -> sealed
 *   Kmem.attach(buffer)    header checked -> the next free cpu claimed -> the same layers
 *                          over the state in the buffer (no write but the cpu's own)
 *   Kmem.reopen(buffer)    attach as cpu 0, once no lock is held; every other cpu that was
 *                          online is drained back to the shared lists (its context is gone):
 *                          its locks whose repair needs only the memory (zone, mempool,
 *                          slab_mutex, SLOB) recovered before the layers open, the rest
 *                          (the vmalloc lock, list_locks) once they are, in lock order
 *
 * attach and reopen hand the Kmem constructor the layers they opened inside its options
 * object, under a key of this module's own (a symbol), so that a constructor whose
 * signature is the public one can take either.
 */

import { checkInteger, checkIntegerRange, describe, KmemError } from "../errors.js";
import {
  type Backing,
  bootCacheBase,
  CpuState,
  Hdr,
  HdrOption,
  Layout,
  PhysMem,
  Zone,
  zoneBase,
} from "../memory/index.js";
import { BuddyAllocator, Gfp, type LogFn } from "../page/index.js";
import { shadowBytesFor } from "../kasan/index.js";
import { kfenceMaxObjects, kfencePoolOrder } from "../kfence/index.js";
import type { SanitizerSettings } from "../sanitize/index.js";
import { Kmalloc, type KmallocApi, KmallocHeap, type SizeClasses } from "../kmalloc/index.js";
import { repairArrays, SlabAllocator } from "../slab/index.js";
import { SLOB_DESCRIPTOR_WORDS, SlobAllocator, undoJournal } from "../slob/index.js";
import type { Ctor, ObjectAllocator } from "../slab-common/index.js";
import { descriptorWords, repairRegistry, SlubAllocator } from "../slub/index.js";
import {
  canBlock,
  claimCpu,
  cpuState,
  type DeadCpuReport,
  forceCpuState,
  lockOwner,
  type RobustLock,
  recoverLocks,
  setCpuState,
  wordOwner,
} from "../sync/index.js";
import { MemAccess, Vmalloc } from "../vm/index.js";
import { recoveryContext, ZsRecovery, zsLockWords } from "../zram/index.js";
import { recoverPools } from "../mempool/index.js";
import {
  type AttachOptions,
  checkAttachOptions,
  checkOptionsObject,
  checkSettings,
  debugLetters,
  guardLog,
  type KmemOptions,
  type SlabKind,
} from "./options.js";

/** An instance's layers as one context sees them. */
export interface Layers {
  readonly phys: PhysMem;
  readonly buddy: BuddyAllocator;
  /** The object allocator: SLUB's, SLAB's or SLOB's. */
  readonly slab: ObjectAllocator;
  /** kmalloc: SLUB's size classes, or SLOB itself. */
  readonly km: KmallocApi;
  readonly vm: Vmalloc;
  readonly slabKind: SlabKind;
  /** slub_debug letters in force ("" for none). */
  readonly debug: string;
  readonly initOnAlloc: boolean;
  /** KASAN, KFENCE and kmemleak, or null when none is on. */
  readonly sanitizers: SanitizerSettings | null;
}

const OPENED = Symbol("kmem opened layers");

/** vmalloc's descriptor and records: kmem's own metadata, which kfree refuses (kmallocOwn). */
function ownRecords(km: KmallocApi): {
  kmalloc(s: number, g: number): number;
  kfree(a: number): void;
} {
  return { kmalloc: (size, gfp) => km.kmallocOwn(size, gfp), kfree: (addr) => km.kfreeOwn(addr) };
}

/** Options that carry layers attach or reopen opened (see the header). */
type Opened = KmemOptions & { readonly [OPENED]: Layers };

/** The layers for `new Kmem(options)`: those attach/reopen opened, or a new instance's. */
export function layersFor(options: KmemOptions): Layers {
  const opened =
    typeof options === "object" && options !== null
      ? (options as Partial<Opened>)[OPENED]
      : undefined;
  return opened ?? createInstance(options);
}

/** What the object allocators need to be wired, whether new or opened. */
interface ObjectSettings {
  slabKind: SlabKind;
  sizeClasses: SizeClasses;
  debug: string;
  initOnAlloc: boolean;
  initOnFree: boolean;
  log: LogFn | null;
  /** SLAB: adaptive array limits; per-cpu caching on. */
  adaptive: boolean;
  percpu: boolean;
}

/** The object allocator and kmalloc over a page allocator (new, or opened with `ctors`). */
function wireObjects(
  phys: PhysMem,
  buddy: BuddyAllocator,
  s: ObjectSettings,
  fresh: boolean,
  ctors: Map<string, Ctor>,
): { slab: ObjectAllocator; km: KmallocApi } {
  const common = { initOnAlloc: s.initOnAlloc, initOnFree: s.initOnFree, log: s.log };
  if (s.slabKind === "slob") {
    const slob = new SlobAllocator(phys, buddy, common, fresh, ctors);
    return { slab: slob, km: slob };
  }
  if (s.slabKind === "slab") {
    const options = { ...common, debug: s.debug, adaptive: s.adaptive };
    const slab = new SlabAllocator(phys, buddy, options, fresh, ctors, s.percpu);
    return { slab, km: new Kmalloc(phys, buddy, slab, fresh, s.sizeClasses) };
  }
  const slub = new SlubAllocator(phys, buddy, { ...common, debug: s.debug }, fresh, ctors);
  return { slab: slub, km: new Kmalloc(phys, buddy, slub, fresh, s.sizeClasses) };
}

/** The mem_map's room in frames for `maxMemory` bytes (checked by PhysMem), or undefined. */
function maxPagesFor(maxMemory: unknown, pageSize: unknown): number | undefined {
  if (maxMemory === undefined) return undefined;
  checkInteger("maxMemory", maxMemory);
  if (maxMemory < 0) throw new RangeError(`maxMemory must not be negative, got ${maxMemory}`);
  return typeof pageSize === "number" && pageSize > 0 ? Math.floor(maxMemory / pageSize) : 0;
}

/**
 * Whether the options ask for the kmalloc heap (src/kmalloc/heap.ts) and its large-run
 * cache: kmalloc's fine classes over SLUB or SLAB, no sanitizer. Read before the options
 * are checked (the header's room is sized first) and after (the heap is made if it fits).
 */
function heapAsked(o: KmemOptions): boolean {
  return (
    (o.slab === undefined || o.slab === "slub" || o.slab === "slab") &&
    (o.sizeClasses === undefined || o.sizeClasses === "fine") &&
    !o.kasan &&
    !o.kfence &&
    !o.kmemleak
  );
}

/** `new Kmem(options)`: checks every option, then builds the instance as cpu 0. */
function createInstance(options: KmemOptions): Layers {
  checkOptionsObject(options);
  const cpus = options.cpus === undefined ? 1 : options.cpus;
  const nrNodes = Array.isArray(options.nodes) ? options.nodes.length : 1;
  const pageSize = options.pageSize === undefined ? 4096 : options.pageSize;
  const shadow = kasanShadowBytes(options);
  const boot = bootWordsFor(options.slab, cpus, nrNodes);
  const phys = new PhysMem({
    memory: options.memory,
    offset: options.offset,
    maxPages: maxPagesFor(options.maxMemory, pageSize),
    pageSize,
    maxOrder: options.maxOrder === undefined ? 11 : options.maxOrder,
    nrCpus: cpus,
    bootWords:
      boot +
      shadow / 4 +
      KmallocHeap.headerWords(nrNodes) +
      KmallocHeap.largeCacheWords(nrNodes, heapAsked(options)),
    shared: cpus > 1,
    ...(options.nodes === undefined ? {} : { nodes: options.nodes }),
    ...(options.distances === undefined ? {} : { distances: options.distances }),
  });
  const s = checkSettings(options, phys.nrNodes, phys.managedPages * phys.pageSize);
  if (options.reinit !== undefined && typeof options.reinit !== "boolean") {
    throw new TypeError(`reinit must be a boolean, got ${describe(options.reinit)}`);
  }
  if (options.reinit !== true && phys.header[Hdr.MAGIC] === Layout.MAGIC) {
    // A buffer holding an instance (perhaps one other contexts use): never silently rebuilt.
    throw new KmemError(
      "BUSY",
      `new Kmem: the buffer holds a kmem instance (layout version ${phys.header[Hdr.VERSION]}); open it with Kmem.attach or Kmem.reopen, or pass reinit: true to discard it`,
    );
  }
  const kfenceOrder = s.kfence === null ? -1 : kfencePoolOrder(s.kfence.objects);
  if (s.kfence !== null) checkKfence(s.kfence.objects, kfenceOrder, phys);
  // Every option is valid: only now is the buffer written to.
  phys.init();
  const h = phys.header;
  h[Hdr.OPTIONS] =
    (s.initOnAlloc ? HdrOption.INIT_ON_ALLOC : 0) |
    (s.initOnFree ? HdrOption.INIT_ON_FREE : 0) |
    (s.slab === "slob" ? HdrOption.SLOB : 0) |
    (s.slab === "slab" ? HdrOption.SLAB : 0) |
    (s.adaptive ? HdrOption.ADAPTIVE : 0) |
    (s.percpu ? 0 : HdrOption.NO_PERCPU) |
    (s.sizeClasses === "linux" ? HdrOption.LINUX_SIZES : 0) |
    (s.kasan !== null ? HdrOption.KASAN : 0) |
    (s.kasan?.stacks === true ? HdrOption.KASAN_STACKS : 0) |
    (s.kmemleak ? HdrOption.KMEMLEAK : 0);
  if (s.kasan !== null) {
    h[Hdr.KASAN_SHADOW] = (bootCacheBase(cpus, phys.nrNodes) + boot) * 4;
    h[Hdr.KASAN_SHADOW_BYTES] = shadow;
    // Contexts that attach follow the instance's quarantine (no more than memory is useful).
    const q = s.kasan.quarantine;
    h[Hdr.KASAN_QUARANTINE] = q === undefined ? -1 : Math.min(q, 2 ** 31 - 1);
  }
  // The kmalloc heap: its descriptors in the header, after the KASAN shadow's room.
  if (heapAsked(options) && KmallocHeap.fits(phys)) {
    const at = (bootCacheBase(cpus, phys.nrNodes) + boot) * 4;
    h[Hdr.KHEAP] = KmallocHeap.headerAddress(at + shadow);
  }
  claimCpu(h, cpus);
  const buddy = new BuddyAllocator(phys, s.minFreeBytes);
  buddy.setLocalNode(s.node);
  buddy.log = s.log;
  if (s.allocWaitMs !== undefined) buddy.waitMs = s.allocWaitMs;
  if (s.kfence !== null) {
    // The KFENCE pool: one block, taken before anything else can fragment memory.
    const pool = buddy.allocPages(kfenceOrder, Gfp.KERNEL | Gfp.ZERO);
    if (pool === 0) throw new RangeError("memory is too small for the KFENCE pool");
    h[Hdr.KFENCE_POOL] = pool;
    h[Hdr.KFENCE_OBJECTS] = s.kfence.objects;
    h[Hdr.KFENCE_INTERVAL] = s.kfence.sampleInterval > 0 ? s.kfence.sampleInterval : 100;
    h[Hdr.KFENCE_MS] = s.kfence.sampleMs;
  }
  // KASAN's SLUB caches carry red zones (generic KASAN adds them to every cache). SLAB's
  // keep their arrays (a debug cache has none): their red zones are each object's slack.
  const debug =
    s.kasan !== null && s.slab === "slub" && !s.debug.includes("Z")
      ? withRedZone(s.debug)
      : s.debug;
  const settings = { ...s, debug, slabKind: s.slab };
  const { slab, km } = wireObjects(phys, buddy, settings, true, new Map());
  const vm = new Vmalloc(phys, buddy, ownRecords(km), s.debug.includes("U"));
  phys.seal();
  return {
    phys,
    buddy,
    slab,
    km,
    vm,
    slabKind: s.slab,
    debug,
    initOnAlloc: s.initOnAlloc,
    sanitizers:
      s.kasan === null && s.kfence === null && !s.kmemleak
        ? null
        : { kasan: s.kasan, kfence: s.kfence, kmemleak: s.kmemleak, fresh: true },
  };
}

/**
 * Words of the header's boot area: SLUB's (and SLAB's) boot cache descriptor, or SLOB's
 * descriptor with its undo journal, whichever is larger for the slab option given.
 */
function bootWordsFor(slab: unknown, cpus: number, nrNodes: number): number {
  const slub = descriptorWords(cpus, nrNodes);
  return slab === "slob" ? Math.max(slub, SLOB_DESCRIPTOR_WORDS) : slub;
}

/* ---------------------------------------------------------------- sanitizers */

/**
 * Bytes of KASAN shadow `options` need (0 without kasan): one per 8 bytes of the memory
 * (and of what it may grow to), kept in the header after the boot cache descriptor.
 */
function kasanShadowBytes(options: KmemOptions): number {
  if (options.kasan === undefined || options.kasan === false) return 0;
  const m = options.memory;
  let bytes: number;
  if (typeof m === "number") bytes = m;
  else if (
    m instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== "undefined" && m instanceof SharedArrayBuffer)
  ) {
    bytes = m.byteLength - (typeof options.offset === "number" ? options.offset : 0);
  } else {
    throw new RangeError(
      "kasan needs memory given as one byte count or buffer (not nodes of their own)",
    );
  }
  if (typeof options.maxMemory === "number") bytes = Math.max(bytes, options.maxMemory);
  return Number.isFinite(bytes) && bytes > 0 ? shadowBytesFor(bytes) : 0;
}

/** The KFENCE pool must fit: its metadata in a page, its pages in one block. */
function checkKfence(objects: number, order: number, phys: PhysMem): void {
  const max = kfenceMaxObjects(phys.pageSize);
  if (objects > max) {
    throw new RangeError(
      `kfence.objects must be at most ${max} with ${phys.pageSize}-byte pages, got ${objects}`,
    );
  }
  if (order >= phys.maxOrder) {
    throw new RangeError(
      `kfence.objects ${objects} needs a block of order ${order}; the largest is ${phys.maxOrder - 1}`,
    );
  }
}

/** slub_debug letters with Z added, in slub_debug's order. */
function withRedZone(letters: string): string {
  return "FZPUTAO"
    .split("")
    .filter((ch) => ch === "Z" || letters.includes(ch))
    .join("");
}

/**
 * Kmem.attach (`reopen` false) and Kmem.reopen: opens the instance in `buffer` as a cpu of
 * this context's own, and returns options that carry its layers to the Kmem constructor.
 */
export function openInstance(
  fn: "Kmem.attach" | "Kmem.reopen",
  buffer: Backing | readonly Backing[],
  options: AttachOptions,
  reopen: boolean,
): KmemOptions {
  checkAttachOptions(fn, options);
  const phys = PhysMem.attach(buffer, fn, options.offset ?? 0);
  const h = phys.header;
  if (options.node !== undefined) checkIntegerRange("node", options.node, 0, phys.nrNodes - 1);
  if (reopen) checkAtRest(h, phys);
  // Reopened: cpu 0 becomes this context's, every other cpu that was online is DEAD.
  const gone = reopen ? takeOver(h, phys.nrCpus) : [];
  const cpu = reopen ? 0 : claimCpu(h, phys.nrCpus);
  if (cpu < 0) {
    throw new Error(
      `Kmem.attach: all ${phys.nrCpus} cpus of the instance are in use (offline one with offlineCpu when its worker exits, or create the instance with more cpus)`,
    );
  }
  let layers: Layers;
  try {
    const opts = h[Hdr.OPTIONS] as number;
    const log = guardLog(options.log);
    const buddy = new BuddyAllocator(phys, undefined, cpu, false);
    buddy.log = log;
    if (options.node !== undefined) buddy.setLocalNode(options.node);
    if (options.allocWaitMs !== undefined) buddy.waitMs = options.allocWaitMs;
    const settings: ObjectSettings = {
      slabKind:
        (opts & HdrOption.SLOB) !== 0 ? "slob" : (opts & HdrOption.SLAB) !== 0 ? "slab" : "slub",
      adaptive: (opts & HdrOption.ADAPTIVE) !== 0,
      percpu: (opts & HdrOption.NO_PERCPU) === 0,
      sizeClasses: (opts & HdrOption.LINUX_SIZES) !== 0 ? "linux" : "fine",
      debug: debugLetters(h[Hdr.SLAB_FLAGS] as number),
      initOnAlloc: (opts & HdrOption.INIT_ON_ALLOC) !== 0,
      initOnFree: (opts & HdrOption.INIT_ON_FREE) !== 0,
      log,
    };
    const ctors = new Map(Object.entries(options.ctors ?? {}));
    if (!reopen) waitForOpenLocks(phys, cpu, options.lockWaitMs ?? 1000);
    // Reopened: the header and zone locks of the cpus whose contexts are gone are recovered
    // before the object allocator opens (it takes slab_mutex), those whose recovery needs
    // only the memory: the zone's, the mempool lock, slab_mutex (the registry), SLOB's.
    // (any cpu but 0: one that was OFFLINE cannot hold a lock, but a snapshot may say so).
    // The vmalloc lock stays its dead owner's until the layers are open (drainDeadCpu below
    // recovers it, with every lock left, in lock order).
    if (reopen) {
      const zr = new ZsRecovery(phys);
      const locks = robustLocks(phys, buddy, null, null, null, [], zr).filter(
        (l) => l.i !== Hdr.LOCK_VMALLOC,
      );
      for (let id = 1; id < phys.nrCpus; id++) recoverLocks(locks, id, 0, newReport(id));
      for (const a of zr.pending.splice(0)) buddy.freePages(a, 0);
    }
    const { slab, km } = wireObjects(phys, buddy, settings, false, ctors);
    const vm = new Vmalloc(phys, buddy, ownRecords(km), settings.debug.includes("U"));
    const kasanOn = (opts & HdrOption.KASAN) !== 0;
    const kfenceOn = (h[Hdr.KFENCE_POOL] as number) !== 0;
    const leakOn = (opts & HdrOption.KMEMLEAK) !== 0;
    const sanitizers: SanitizerSettings | null =
      !kasanOn && !kfenceOn && !leakOn
        ? null
        : {
            // The instance's settings, from the header, as every context follows them.
            kasan: kasanOn
              ? {
                  quarantine:
                    (h[Hdr.KASAN_QUARANTINE] as number) < 0
                      ? undefined
                      : (h[Hdr.KASAN_QUARANTINE] as number),
                  stacks: (opts & HdrOption.KASAN_STACKS) !== 0,
                }
              : null,
            kfence: kfenceOn
              ? {
                  sampleInterval: h[Hdr.KFENCE_INTERVAL] as number,
                  sampleMs: h[Hdr.KFENCE_MS] as number,
                }
              : null,
            kmemleak: leakOn,
            fresh: false,
          };
    layers = { phys, buddy, slab, km, vm, ...settings, sanitizers };
    // Then their list_locks, per-cpu pages and objects, as offlineCpu does; and a list_lock
    // cpu 0 itself held (its snapshot taken inside a call) is released as theirs are.
    // zram's slot locks and slots are reached through the page tables: a translation of
    // this context's (the layers are open now).
    const v2p = reopen ? reopenTranslation(phys, vm) : null;
    for (const id of gone) drainDeadCpu(layers, id, v2p);
    if (reopen) {
      const zr = new ZsRecovery(phys);
      const locks = robustLocks(phys, buddy, slab, vm, v2p, [], zr, km);
      for (let id = 0; id < phys.nrCpus; id++) recoverLocks(locks, id, 0, newReport(id));
      // cpu 0's intent record too (a snapshot taken inside its call): its zram write or
      // writeback settled, its mapping taken down (this context maps nothing yet).
      zr.drain(zsRecoveryContext(layers), 0, v2p);
      for (const a of zr.pending.splice(0)) buddy.freePages(a, 0);
    }
  } catch (err) {
    if (!reopen) setCpuState(h, cpu, CpuState.ONLINE, CpuState.OFFLINE);
    // Reopened: the buffer stays as takeOver left it (cpu 0 this context's, the others DEAD).
    throw err;
  }
  return { [OPENED]: layers } as Opened;
}

/* ------------------------------------------------------------------ dead contexts */

/**
 * Kmem.attach, before the allocators open (they take slab_mutex, or read SLOB's lists
 * under its lock): waits up to `ms` for each to be free, then throws KmemError BUSY naming
 * the lock and the cpu holding it. A holder that died is not told from a slow one (no
 * context's death is seen but through offlineCpu): the message says what recovers it. A
 * holder that is OFFLINE, or a lock another context of this thread holds (an unshared
 * buffer), can never be released: DEADLOCK at once.
 */
function waitForOpenLocks(phys: PhysMem, cpu: number, ms: number): void {
  const h = phys.header;
  const slob = ((h[Hdr.OPTIONS] as number) & HdrOption.SLOB) !== 0;
  const i = slob ? Hdr.LOCK_SLOB : Hdr.LOCK_SLAB;
  const name = slob ? "the SLOB lock" : "slab_mutex";
  const deadline = Date.now() + ms;
  for (;;) {
    const v = Atomics.load(h, i);
    if (v === 0) return;
    // The holder from this one read: read again, the word may be free already (the holder
    // released it meanwhile), and a free word names no cpu (-1: DEADLOCK by mistake).
    const owner = wordOwner(v);
    const state = owner >= 0 && owner < phys.nrCpus ? cpuState(h, owner) : -1;
    if (owner === cpu || state === CpuState.OFFLINE || state < 0) {
      throw new KmemError(
        "DEADLOCK",
        `Kmem.attach: ${name} is held by cpu ${owner}, which is offline or not a cpu of the instance`,
      );
    }
    const left = deadline - Date.now();
    if (left <= 0 || !canBlock || !(h.buffer instanceof SharedArrayBuffer)) {
      throw new KmemError(
        "BUSY",
        `Kmem.attach: ${name} is held by cpu ${owner}${ms > 0 ? ` (still after ${ms} ms)` : ""}; if the context of cpu ${owner} has exited, call offlineCpu(${owner}) from a context that lives (its locks are recovered), then attach`,
      );
    }
    Atomics.wait(h, i, v, Math.min(left, 100));
  }
}

function newReport(cpu: number): DeadCpuReport {
  return { cpu, recovered: [], unrecovered: [], pages: 0, objects: 0 };
}

/**
 * Every lock word of the instance in lock order (ARCHITECTURE.md, "Lock order"), each with
 * its recovery (sync/robust.ts). slab_mutex's from its intent record (slub/registry.ts),
 * SLOB's from its journal (slob/slob.ts), both from the memory alone when no allocator is
 * open yet (reopen). zsmalloc's and zram's are found from their registry and
 * repaired by `zr` (zram/robust.ts: pages it frees wait in zr.pending until every lock is
 * released); a zram slot lock is found through the page tables (`virtToPhys`), and left
 * out without it. What could not be looked at goes to `skipped`.
 */
function robustLocks(
  phys: PhysMem,
  buddy: BuddyAllocator,
  slab: ObjectAllocator | null,
  vm: Vmalloc | null,
  virtToPhys: ((addr: number) => number) | null = null,
  skipped: string[] = [],
  zr: ZsRecovery | null = null,
  km: KmallocApi | null = null,
): RobustLock[] {
  const h = phys.header;
  const zs = zsLockWords(phys, virtToPhys, skipped);
  const locks: RobustLock[] = [
    {
      w: h,
      i: Hdr.LOCK_VMALLOC,
      name: "the vmalloc lock",
      recover: vm === null ? null : () => vm.recover(),
    },
    { w: h, i: Hdr.LOCK_POOL, name: "the mempool lock", recover: () => recoverPools(phys) },
    { w: h, i: Hdr.LOCK_SLAB, name: "slab_mutex", recover: () => repairSlabMutex(phys) },
  ];
  for (const l of zs.outer) locks.push({ ...l, recover: zr === null ? null : zr.recoverer(l) });
  // SLOB's lock: the critical section under way undone from its journal (slob.ts); before
  // SLOB is open (reopen), in the memory alone.
  const slobDesc = (h[Hdr.SLOB] as number) >>> 0;
  locks.push({
    w: h,
    i: Hdr.LOCK_SLOB,
    name: "the SLOB lock",
    recover:
      slab instanceof SlobAllocator
        ? () => slab.recover()
        : slobDesc === 0
          ? null
          : () => undoJournal(phys, phys.wordsAt(slobDesc, SLOB_DESCRIPTOR_WORDS)),
  });
  if (slab instanceof SlubAllocator) {
    // SLUB's are rebuilt from mem_map (slub/recover.ts); SLAB's, its shared array and three
    // lists too (slab/recover.ts).
    for (const l of slab.listLocks()) locks.push(l);
  }
  for (const l of zs.inner) locks.push({ ...l, recover: zr === null ? null : zr.recoverer(l) });
  // The kmalloc heap's locks (4b), one per node: rebuilt from their chunks' blocks.
  if (km instanceof Kmalloc && km.heap !== null) {
    const heap = km.heap;
    for (const l of heap.lockWords()) {
      locks.push({
        w: l.w,
        i: l.i,
        name: phys.nrNodes === 1 ? "the kmalloc heap lock" : `the kmalloc heap lock of node ${l.n}`,
        recover: () => heap.recover(l.n),
      });
    }
  }
  // The kmalloc large-run cache's locks (4c), one per node: rebuilt from the marked runs.
  if (km instanceof Kmalloc && km.largeCache !== null) {
    const lc = km.largeCache;
    for (const l of lc.lockWords()) {
      locks.push({
        w: l.w,
        i: l.i,
        name:
          phys.nrNodes === 1
            ? "the kmalloc large-run cache lock"
            : `the kmalloc large-run cache lock of node ${l.n}`,
        recover: () => lc.recover(l.n),
      });
    }
  }
  for (let n = 0; n < phys.nrNodes; n++) {
    locks.push({
      w: h,
      i: buddy.zoneLockAt(n),
      name: phys.nrNodes === 1 ? "the zone lock" : `the zone lock of node ${n}`,
      recover: (dead) => buddy.recoverZone(n, dead),
    });
  }
  return locks;
}

/**
 * slab_mutex's recovery: the registry's intent record (slub/registry.ts), then, with
 * Linux's SLAB, its array intent record (slab/recover.ts).
 */
function repairSlabMutex(phys: PhysMem): string {
  const done = repairRegistry(phys);
  if (((phys.header[Hdr.OPTIONS] as number) & HdrOption.SLAB) === 0) return done;
  const arrays = repairArrays(phys);
  return arrays === "" ? done : `${done}; ${arrays}`;
}

/**
 * offlineCpu of cpu `id`, DEAD: the locks it held are taken over, what they guard repaired
 * and released (sync/robust.ts); its per-cpu objects and pages go back to the shared lists;
 * then it is OFFLINE (free for the next attach), no lock naming it. Returns what was done.
 */
export function drainDeadCpu(
  layers: Layers,
  id: number,
  virtToPhys: ((addr: number) => number) | null = null,
): DeadCpuReport {
  const report = newReport(id);
  const skipped: string[] = [];
  const { phys, buddy, km } = layers;
  const zr = new ZsRecovery(phys);
  const locks = robustLocks(phys, buddy, layers.slab, layers.vm, virtToPhys, skipped, zr, km);
  recoverLocks(locks, id, buddy.cpu, report);
  for (const s of skipped) report.unrecovered.push(s);
  // zsmalloc's and zram's intent records, once no lock is held (zram/robust.ts).
  const zd = zr.drain(zsRecoveryContext(layers), id, virtToPhys);
  report.recovered.push(...zd.recovered);
  report.unrecovered.push(...zd.unrecovered);
  report.objects = layers.slab.drainCpu(id);
  report.pages = layers.buddy.drainOffline(id);
  for (const l of locks) {
    // Not one can name it now (it was dead before the call, and every one it held was
    // released), short of a context that was not dead after all.
    if (lockOwner(l.w, l.i) === id) report.unrecovered.push(`${l.name}: held again by cpu ${id}`);
  }
  setCpuState(layers.phys.header, id, CpuState.DEAD, CpuState.OFFLINE);
  return report;
}

/** A ZsContext for the zsmalloc and zram repairs of a dead cpu, in this context. */
function zsRecoveryContext(layers: Layers): ReturnType<typeof recoveryContext> {
  const { phys, buddy, km } = layers;
  return recoveryContext({
    phys,
    cpu: buddy.cpu,
    allocPages: (order, gfp) => buddy.allocPages(order, gfp),
    freePages: (addr, order) => buddy.freePages(addr, order),
    kmalloc: (size, gfp) => km.kmallocOwn(size, gfp),
    kfree: (addr) => km.kfreeOwn(addr),
  });
}

/**
 * Kmem.reopen's page-table translation for the zram repairs (their slot tables are
 * vmalloc areas), before the Kmem (a MemAccess itself) exists.
 */
function reopenTranslation(phys: PhysMem, vm: Vmalloc): (addr: number) => number {
  const access = new MemAccess(phys, vm);
  return (addr) => access.virtToPhys(addr);
}

/**
 * Kmem.reopen: no header or zone lock may be held by cpu 0, the context that becomes this
 * one (its snapshot was taken inside its own call); those of other cpus, whose contexts are
 * gone, are recovered as offlineCpu does.
 */
function checkAtRest(h: Int32Array, phys: PhysMem): void {
  const locks: [number, string][] = [
    [Hdr.LOCK_SLAB, "slab_mutex"],
    [Hdr.LOCK_SLOB, "the SLOB lock"],
    [Hdr.LOCK_POOL, "the mempool lock"],
    [Hdr.LOCK_VMALLOC, "the vmalloc lock"],
  ];
  for (let n = 0; n < phys.nrNodes; n++)
    locks.push([zoneBase(phys.nrCpus, n) + Zone.LOCK, `the zone lock of node ${n}`]);
  for (const [i, name] of locks) {
    if (((h[i] as number) & 0xffff) === 1) {
      throw new Error(
        `Kmem.reopen: ${name} is held (by cpu ${((h[i] as number) & 0xffff) - 1}): the snapshot was taken inside a call, not between calls`,
      );
    }
  }
}

/**
 * Kmem.reopen, once the checks passed: cpu 0 becomes this context's, every other cpu
 * that was online is marked DEAD for draining (returned), and nobody waits for memory.
 */
function takeOver(h: Int32Array, nrCpus: number): number[] {
  const gone: number[] = [];
  for (let id = 1; id < nrCpus; id++) {
    if (cpuState(h, id) !== CpuState.OFFLINE) {
      forceCpuState(h, id, CpuState.DEAD);
      gone.push(id);
    }
  }
  forceCpuState(h, 0, CpuState.ONLINE);
  h[Hdr.FREE_WAITERS] = 0;
  return gone;
}
