/*
 * Physical memory: the buffer kmem manages (or one per NUMA node), its page geometry, and
 * the boot-time reservation of the header and the mem_map (see layout.ts for the byte
 * layout).
 *
 * Owns: creating or adopting the buffers, the address windows over them and the typed-array
 * views every layer works through (see "Windows" below), and the header's geometry words.
 * It knows nothing of free lists.
 *
 * Invariants: a block of pages lies in one window; addresses are u32 and every stored one
 * is read back unsigned (`>>> 0`) by the layers; node 0's buffer holds the header and the
 * mem_map, which covers every frame of every window, holes included.
 *
 * Construction does no per-byte work on a fresh buffer (it is zero already, and zero is the
 * meaning of an unused frame); an adopted buffer gets its reserved region zeroed once.
 *
 * A buffer whose start belongs to someone else (a WebAssembly module's data and stack) is
 * managed from byte `offset` on: address 0 is that byte, every view starts there, and the
 * bytes before it are never read or written.
 *
 * Growth (memory hotplug). A WebAssembly.Memory grows in place (`memory.grow`), but its
 * buffer is replaced: a non-shared memory's old buffer is detached at once (every view of it
 * reads as empty), a shared memory's keeps its old length, the longer one reached only
 * through `memory.buffer`. So every typed-array view of the memory, this class's and those
 * the layers keep, is renewed over the new buffer (src/memory/remap.ts walks them from
 * `roots`): in this thread at once, by whoever grows (every PhysMem of this thread over the
 * buffer is in one registry); in other threads (workers over a shared memory) lazily, by
 * `sync()`, which compares the header's MEM_GENERATION with the generation its views were
 * made at and renews them from `source` (the memory's buffer now). The page allocator calls
 * it under the zone lock, and the object allocators under their list locks, the only places
 * a frame another context brought online can reach this one; an address beyond this
 * context's views fails the layers' bounds checks, whose error paths sync and look again.
 * The mem_map's view covers its whole room (maxPages frames) from the start, and a memory
 * that may grow is one window (at most 2 GiB of room), so the views' layout stays the same.
 */

import { checkInteger, describe } from "../errors.js";
import { bootCacheBase, Frame, Hdr, headerWords, Layout, Zone, zoneBase } from "./layout.js";
import { applyViews, collectViews, type ViewPlan } from "./remap.js";

/** Addresses are unsigned 32-bit: one instance manages at most 4 GiB. */
export const MAX_MEMORY_BYTES = 2 ** 32;
export const MIN_PAGE_SIZE = 1024;
export const MAX_PAGE_SIZE = 65536;

export type Backing = ArrayBuffer | SharedArrayBuffer;

export interface PhysMemConfig {
  /** Bytes to create, or a buffer to manage; with `nodes` alone, their sum. */
  memory?: number | Backing | undefined;
  /**
   * With `memory` a buffer: the byte of it that is address 0 (a multiple of the page size;
   * default 0). The bytes before it are left alone.
   */
  offset?: number | undefined;
  /**
   * Frames the mem_map has room for (default: the memory's). With one buffer only: frames
   * beyond the buffer's end, up to this many, can be brought online later (memory hotplug).
   */
  maxPages?: number | undefined;
  /**
   * Frames present (attach: the header's count), when the buffer holds more than are online
   * yet (a memory grown but not yet brought online). Default: the buffer's whole pages.
   */
  pages?: number | undefined;
  /** Create a SharedArrayBuffer (when `memory` is a byte count). */
  shared?: boolean;
  pageSize: number;
  maxOrder: number;
  nrCpus: number;
  /** Header words the upper layers need after the page allocator's (the boot cache descriptor). */
  bootWords: number;
  /**
   * NUMA nodes, node 0 first (it holds the header and mem_map). With `memory`, byte counts
   * that split it and add up to its whole pages. Without, one buffer per node: a byte count
   * (a buffer of that size is created) or a buffer to take over. Default: one node.
   */
  nodes?: readonly (number | Backing)[];
  /** node_distance table, nodes x nodes: 10 on the diagonal, 11..255 elsewhere. Default 10/20. */
  distances?: readonly (readonly number[])[];
}

/** The words of a header at byte `offset` of a buffer, if the buffer is big enough to hold one. */
function headerOf(buffer: Backing, offset: number): Int32Array | null {
  return buffer.byteLength >= offset + Hdr.PCP * 4 ? new Int32Array(buffer, offset, Hdr.PCP) : null;
}

/** The most room a memory that grows may have (one window of addresses: see "Growth"). */
export const MAX_GROWABLE_BYTES = 2 ** 31;

/**
 * This thread's PhysMem objects by the buffer they manage, so that whoever grows the memory
 * renews them all (a non-shared memory's old buffer is detached by the grow).
 */
const contexts = new WeakMap<Backing, WeakRef<PhysMem>[]>();

/** Managed pages a memory must leave: the slab of cache descriptors and some to spare. */
export const MIN_MANAGED_PAGES = 4;

function isResizable(buffer: Backing): boolean {
  const b = buffer as { resizable?: boolean; growable?: boolean };
  return b.resizable === true || b.growable === true;
}

function isBacking(value: unknown): value is Backing {
  return (
    value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer)
  );
}

/*
 * Windows. Node memories may be separate buffers, so memory is reached through windows of
 * 2^winShift bytes: the byte at address a is byteViews[a >>> winShift][a & winMask], the
 * word at word index i (address 4i) is wordViews[i >>> wordShift][i & wordMask].
 *
 *   one buffer (nodes split it or there is one node): windows of 2 GiB over that buffer
 *
 *     0                        2 GiB                      4 GiB
 *     +------------------------+--------------------------+
 *     | window 0               | window 1 (same buffer)   |
 *     +------------------------+--------------------------+
 *
 *   a buffer per node: window n is node n's buffer; W = the largest node, to a power of two
 *
 *     0            W            2W           3W
 *     +-------+----+----------+-+-----+------+
 *     |node 0 |hole| node 1   | |node2| hole |     holes: frames of no node, never handed out
 *     +-------+----+----------+-+-----+------+
 *
 * A page block never crosses a window (blocks stay inside their node), so a block's bytes
 * are one subarray of one view.
 */

export class PhysMem {
  /** Node 0's buffer (the only one unless each node has its own). */
  buffer: Backing;
  /** The buffer of each window: one, or one per node. */
  buffers: readonly Backing[];
  /** The buffer byte by byte, or node 0's with a buffer per node (header, mem_map in it). */
  bytes: Uint8Array;
  /** The same as i32 words (word i is bytes 4i..4i+3). */
  words: Int32Array;
  /** log2 of the window size, and the mask of an address's offset in its window. */
  readonly winShift: number;
  readonly winMask: number;
  /** The same for word indices: winShift - 2, winMask >>> 2. */
  readonly wordShift: number;
  readonly wordMask: number;
  /** Each window's bytes and words. */
  byteViews: readonly Uint8Array[];
  wordViews: readonly Int32Array[];
  /** True when each node is a buffer of its own (compared `=== true`: see SLUB's `smp`). */
  readonly split: boolean;
  /** The byte of `buffer` that is address 0 (0 unless its start belongs to someone else). */
  readonly offset: number;
  /** Header words (their indices: layout.ts, Hdr and the per-cpu and zone bases). */
  header: Int32Array;
  /** mem_map: Frame.WORDS words per frame, for every frame of its room (0..maxPages-1). */
  frames: Int32Array;
  readonly pageSize: number;
  readonly pageShift: number;
  readonly maxOrder: number;
  totalPages: number;
  /** Frames the mem_map has room for: totalPages, or more where memory may be added later. */
  readonly maxPages: number;
  /** Frames 0..firstManagedPfn-1 hold the header and mem_map and are never handed out. */
  readonly firstManagedPfn: number;
  managedPages: number;
  readonly nrCpus: number;
  /** Byte offset of the mem_map, and the header's size in words. */
  readonly memmapOffset: number;
  readonly headerWords: number;
  /** NUMA nodes (1 without the `nodes` option). */
  readonly nrNodes: number;
  /** First frame of each node, and one past its last (node n: nodeStart[n]..nodeEnd[n]-1). */
  readonly nodeStart: readonly number[];
  nodeEnd: readonly number[];
  /** node_distance(a, b) = distances[a][b]. */
  readonly distances: readonly (readonly number[])[];
  /** True when kmem created the buffer (it is all zero). */
  private readonly fresh: boolean;
  /** The header's MEM_GENERATION this context's views were made at (see "Growth"). */
  generation = 0;
  /** Where this context finds the memory's buffer after a grow (`memory.buffer`), if known. */
  source: (() => Backing) | null = null;
  /** Objects whose views of the memory are renewed with this one's (the Kmem, a WasmHeap). */
  readonly roots: object[] = [];
  /** Run after the views were renewed over more pages: layers update their geometry. */
  readonly resized: (() => void)[] = [];

  constructor(config: PhysMemConfig) {
    const { memory, pageSize, maxOrder, nrCpus, bootWords } = config;
    checkInteger("pageSize", pageSize);
    if (pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE || (pageSize & (pageSize - 1)) !== 0) {
      throw new RangeError(
        `pageSize must be a power of two in ${MIN_PAGE_SIZE}..${MAX_PAGE_SIZE}, got ${pageSize}`,
      );
    }
    checkInteger("maxOrder", maxOrder);
    if (maxOrder < 1 || maxOrder > Layout.MAX_ORDER_LIMIT) {
      throw new RangeError(`maxOrder must be in 1..${Layout.MAX_ORDER_LIMIT}, got ${maxOrder}`);
    }
    checkInteger("cpus", nrCpus);
    if (nrCpus < 1 || nrCpus > Layout.MAX_CPUS_LIMIT) {
      throw new RangeError(`cpus must be in 1..${Layout.MAX_CPUS_LIMIT}, got ${nrCpus}`);
    }

    // The nodes' entries are checked first: without `memory`, they make it.
    const nodeSizes =
      config.nodes === undefined ? null : checkNodes(config.nodes, pageSize, memory !== undefined);
    if (memory === undefined && nodeSizes === null) {
      throw new TypeError(
        "memory must be given: a byte count or a buffer (or nodes: the bytes or buffer of each NUMA node)",
      );
    }
    const offset = checkOffset(config.offset, memory, pageSize);
    let buffer: Backing;
    let fresh: boolean;
    let nodeBuffers: Backing[] | null = null;
    if (memory === undefined) {
      const entries = config.nodes as readonly (number | Backing)[];
      // Byte counts become buffers of the given buffers' kind (or shared when asked).
      const given = entries.find(isBacking);
      const shared = given === undefined ? config.shared === true : !(given instanceof ArrayBuffer);
      const made = entries.map((e) =>
        typeof e !== "number" ? e : shared ? new SharedArrayBuffer(e) : new ArrayBuffer(e),
      );
      buffer = made[0] as Backing;
      fresh = typeof entries[0] === "number";
      if (made.length > 1) nodeBuffers = made;
    } else if (typeof memory === "number") {
      checkInteger("memory", memory);
      if (memory <= 0 || memory > MAX_MEMORY_BYTES) {
        throw new RangeError(`memory must be in 1..${MAX_MEMORY_BYTES} bytes, got ${memory}`);
      }
      buffer = config.shared === true ? new SharedArrayBuffer(memory) : new ArrayBuffer(memory);
      fresh = true;
    } else if (isBacking(memory)) {
      if (isResizable(memory)) {
        throw new TypeError(
          "memory must not be a resizable ArrayBuffer or growable SharedArrayBuffer: its pages would vanish under live allocations",
        );
      }
      if (memory.byteLength - offset > MAX_MEMORY_BYTES) {
        throw new RangeError(
          `memory buffer is ${memory.byteLength - offset} bytes${offset > 0 ? ` from offset ${offset}` : ""}; at most ${MAX_MEMORY_BYTES} can be managed`,
        );
      }
      buffer = memory;
      fresh = false;
    } else {
      throw new TypeError(
        `memory must be a byte count, an ArrayBuffer or a SharedArrayBuffer, got ${describe(memory)}`,
      );
    }

    const pageShift = Math.log2(pageSize);
    let winShift = 31;
    let totalPages = Math.floor((buffer.byteLength - offset) / pageSize);
    if (config.pages !== undefined && nodeBuffers === null) {
      if (config.pages > totalPages) {
        throw new RangeError(
          `the buffer holds ${totalPages} pages but the instance has ${config.pages} online: its memory grew; open it with the memory's buffer now (memory.buffer)`,
        );
      }
      totalPages = config.pages;
    }
    if (nodeBuffers !== null) {
      const pages = nodeSizes as number[];
      const largest = Math.max(...pages) * pageSize;
      winShift = Math.max(pageShift, Math.ceil(Math.log2(largest)));
      const span =
        (pages.length - 1) * 2 ** winShift + (pages[pages.length - 1] as number) * pageSize;
      if (span > MAX_MEMORY_BYTES) {
        throw new RangeError(
          `nodes need ${span} bytes of addresses (${pages.length} windows of ${2 ** winShift} bytes, the largest node to a power of two); at most ${MAX_MEMORY_BYTES} can be addressed`,
        );
      }
      totalPages = span / pageSize;
    } else if (nodeSizes !== null) {
      const sum = nodeSizes.reduce((a, b) => a + b, 0);
      if (sum !== totalPages) {
        throw new RangeError(
          `nodes add up to ${sum * pageSize} bytes but the memory has ${totalPages * pageSize} bytes of whole pages`,
        );
      }
    }
    const nodePages = nodeSizes ?? [totalPages];
    const nrNodes = nodePages.length;
    const split = nodeBuffers !== null;
    const distances = checkDistances(config.distances, nrNodes);
    const maxPages = checkMaxPages(config.maxPages, totalPages, nrNodes, pageSize);
    const hWords = headerWords(nrCpus, nrNodes, bootWords);
    const memmapOffset = Math.ceil((hWords * 4) / 8) * 8;
    const reservedBytes = memmapOffset + maxPages * Frame.BYTES;
    const firstManagedPfn = Math.ceil(reservedBytes / pageSize);
    const node0Pages = nodePages[0] as number;
    if (firstManagedPfn + MIN_MANAGED_PAGES > node0Pages) {
      const what = nrNodes > 1 ? "node 0" : "memory";
      throw new RangeError(
        `${what} of ${node0Pages * pageSize} bytes is too small: its ${node0Pages} pages of ${pageSize} bytes ` +
          `leave ${Math.max(0, node0Pages - firstManagedPfn)} once ${firstManagedPfn} are reserved for the ` +
          `header and mem_map (at least ${MIN_MANAGED_PAGES} are needed)` +
          (maxPages > totalPages ? `; the mem_map has room for ${maxPages} pages` : "") +
          (split
            ? `; the mem_map covers ${nrNodes} windows of ${2 ** winShift} bytes (the largest node to a power of two), holes included`
            : ""),
      );
    }
    const nodeStart: number[] = [];
    const nodeEnd: number[] = [];
    let pfn = 0;
    for (const pages of nodePages) {
      if (split) pfn = nodeStart.length * 2 ** (winShift - pageShift);
      nodeStart.push(pfn);
      pfn += pages;
      nodeEnd.push(pfn);
    }

    // Window views: a buffer per node, or the one buffer cut at every 2 GiB.
    const buffers = nodeBuffers ?? [buffer];
    const byteViews: Uint8Array[] = [];
    const wordViews: Int32Array[] = [];
    if (split) {
      nodePages.forEach((pages, n) => {
        const b = buffers[n] as Backing;
        byteViews.push(new Uint8Array(b, 0, pages * pageSize));
        wordViews.push(new Int32Array(b, 0, (pages * pageSize) / 4));
      });
    } else {
      const bytes = totalPages * pageSize;
      for (let at = 0; at < bytes || at === 0; at += 2 ** winShift) {
        const len = Math.min(bytes - at, 2 ** winShift);
        byteViews.push(new Uint8Array(buffer, offset + at, len));
        wordViews.push(new Int32Array(buffer, offset + at, len / 4));
      }
    }
    this.buffer = buffer;
    this.buffers = buffers;
    this.split = split;
    this.offset = offset;
    this.winShift = winShift;
    this.winMask = 2 ** winShift - 1;
    this.wordShift = winShift - 2;
    this.wordMask = 2 ** (winShift - 2) - 1;
    this.byteViews = byteViews;
    this.wordViews = wordViews;
    this.bytes = split
      ? (byteViews[0] as Uint8Array)
      : new Uint8Array(buffer, offset, totalPages * pageSize);
    this.words = split
      ? (wordViews[0] as Int32Array)
      : new Int32Array(buffer, offset, (totalPages * pageSize) / 4);

    this.header = new Int32Array(buffer, offset, hWords);
    this.frames = new Int32Array(buffer, offset + memmapOffset, maxPages * Frame.WORDS);
    this.pageSize = pageSize;
    this.pageShift = pageShift;
    this.maxOrder = maxOrder;
    this.totalPages = totalPages;
    this.maxPages = maxPages;
    this.firstManagedPfn = firstManagedPfn;
    this.managedPages = nodePages.reduce((a, b) => a + b, 0) - firstManagedPfn;
    this.nrCpus = nrCpus;
    this.nrNodes = nrNodes;
    this.nodeStart = nodeStart;
    this.nodeEnd = nodeEnd;
    this.distances = distances;
    this.fresh = fresh;
    this.memmapOffset = memmapOffset;
    this.headerWords = hWords;
    if (!split) {
      const list = contexts.get(buffer) ?? [];
      list.push(new WeakRef(this));
      contexts.set(buffer, list);
    }
  }

  /**
   * Opens the instance another context built in `buffer` (from byte `offset`, as it was
   * built): the geometry comes from its header, nothing is written. Throws an Error saying
   * why when the buffer holds no kmem instance of this layout version.
   */
  static attach(given: unknown, fn = "Kmem.attach", offset = 0): PhysMem {
    const list = Array.isArray(given) ? (given as unknown[]) : null;
    const buffer: unknown = list === null ? given : list[0];
    if (!isBacking(buffer) || (list !== null && !list.every(isBacking))) {
      throw new TypeError(
        `${fn} needs the SharedArrayBuffer (or ArrayBuffer) of a kmem instance, or the array of its node buffers (mm.buffers), got ${describe(given)}`,
      );
    }
    if (offset !== 0) checkOffset(offset, list === null ? buffer : 0, MIN_PAGE_SIZE);
    const h = headerOf(buffer, offset);
    if (h === null || Atomics.load(h, Hdr.MAGIC) !== Layout.MAGIC) {
      const where = offset === 0 ? "" : ` at offset ${offset}`;
      throw new Error(
        `${fn}: the buffer (${buffer.byteLength} bytes) is not a kmem instance: its header${where} has no kmem magic`,
      );
    }
    const version = h[Hdr.VERSION] as number;
    if (version !== Layout.VERSION) {
      throw new Error(
        `${fn}: the buffer holds a kmem instance of layout version ${version}; this kmem reads version ${Layout.VERSION}`,
      );
    }
    const nrCpus = h[Hdr.NR_CPUS] as number;
    const nrNodes = h[Hdr.NR_NODES] as number;
    const pageShift = h[Hdr.PAGE_SHIFT] as number;
    if (
      nrCpus < 1 ||
      nrCpus > Layout.MAX_CPUS_LIMIT ||
      nrNodes < 1 ||
      nrNodes > Layout.MAX_NODES ||
      (h[Hdr.HEADER_WORDS] as number) * 4 > buffer.byteLength - offset
    ) {
      throw new Error(`${fn}: the buffer's kmem header is damaged (cpus, nodes or size)`);
    }
    const nrBuffers = h[Hdr.NR_BUFFERS] as number;
    if (nrBuffers !== 1 && nrBuffers !== nrNodes) {
      throw new Error(`${fn}: the buffer's kmem header is damaged (buffers)`);
    }
    if (nrBuffers !== (list === null ? 1 : list.length)) {
      throw new Error(
        nrBuffers > 1
          ? `${fn}: the instance keeps its ${nrNodes} nodes in ${nrBuffers} buffers; attach with all of them, in node order (mm.buffers)`
          : `${fn}: the instance is one buffer, but ${list?.length} were given`,
      );
    }
    const bootWords = (h[Hdr.HEADER_WORDS] as number) - bootCacheBase(nrCpus, nrNodes);
    if (bootWords <= 0 || (h[Hdr.HEADER_WORDS] as number) * 4 > buffer.byteLength - offset) {
      throw new Error(`${fn}: the buffer's kmem header is damaged (its size)`);
    }
    const words = new Int32Array(buffer, offset, h[Hdr.HEADER_WORDS] as number);
    const nodes: number[] = [];
    const distances: number[][] = [];
    for (let n = 0; n < nrNodes; n++) {
      const z = zoneBase(nrCpus, n);
      const start = n === 0 ? 0 : (words[z + Zone.START_PFN] as number);
      nodes.push(((words[z + Zone.END_PFN] as number) - start) * 2 ** pageShift);
      const row: number[] = [];
      for (let m = 0; m < nrNodes; m++) row.push(words[z + Zone.DISTANCE + m] as number);
      distances.push(row);
    }
    let mem: PhysMem;
    try {
      mem = new PhysMem({
        ...(list === null ? { memory: buffer, offset, pages: h[Hdr.TOTAL_PAGES] as number } : {}),
        maxPages: h[Hdr.MAX_PAGES] as number,
        pageSize: 2 ** pageShift,
        maxOrder: h[Hdr.MAX_ORDER] as number,
        nrCpus,
        bootWords,
        nodes: list === null ? nodes : (list as Backing[]),
        distances,
      });
    } catch (err) {
      // Every value here came from the header: what the geometry refuses is its damage.
      throw new Error(
        `${fn}: the buffer's kmem header is damaged (${err instanceof Error ? err.message : String(err)})`,
      );
    }
    if (
      h[Hdr.TOTAL_PAGES] !== mem.totalPages ||
      h[Hdr.FIRST_PFN] !== mem.firstManagedPfn ||
      h[Hdr.MEMMAP_OFFSET] !== mem.memmapOffset ||
      h[Hdr.WIN_SHIFT] !== mem.winShift ||
      mem.nodeEnd.some((end, n) => end !== words[zoneBase(nrCpus, n) + Zone.END_PFN])
    ) {
      throw new Error(
        `${fn}: the buffer's kmem header does not match its size (a damaged or truncated instance)`,
      );
    }
    mem.generation = Atomics.load(h, Hdr.MEM_GENERATION);
    return mem;
  }

  /* ------------------------------------------------------------------ growth */

  /** This thread's PhysMem objects over this one's buffer, this one included. */
  peers(): PhysMem[] {
    const list = contexts.get(this.buffer) ?? [];
    const live: PhysMem[] = [];
    for (const ref of list) {
      const p = ref.deref();
      if (p !== undefined) live.push(p);
    }
    if (live.length !== list.length)
      contexts.set(
        this.buffer,
        live.map((p) => new WeakRef(p)),
      );
    if (!live.includes(this)) live.push(this);
    return live;
  }

  /** Where every view of this context (its own and its roots') lies, before a grow. */
  collectViews(): ViewPlan {
    return collectViews(
      [this, ...this.roots],
      this.buffer,
      this.offset,
      this.totalPages * this.pageSize,
    );
  }

  /**
   * Renews the views of `plan` over `buffer` (the memory's buffer now), the views of the whole
   * memory lengthened to `totalPages`; then the geometry, and the layers' (`resized`).
   */
  applyViews(plan: ViewPlan, buffer: Backing, totalPages: number): void {
    const old = this.buffer;
    applyViews(plan, buffer, totalPages * this.pageSize);
    if (buffer !== old) {
      const list = contexts.get(old) ?? [];
      contexts.delete(old);
      contexts.set(buffer, [...(contexts.get(buffer) ?? []), ...list]);
    }
    if (totalPages !== this.totalPages) {
      this.totalPages = totalPages;
      this.managedPages = totalPages - this.firstManagedPfn;
      this.nodeEnd = [totalPages];
      for (const fn of this.resized) fn();
    }
  }

  /** collectViews then applyViews, for views that are still readable (a shared memory's). */
  renew(buffer: Backing, totalPages: number): void {
    this.applyViews(this.collectViews(), buffer, totalPages);
  }

  /**
   * Catches up with memory another context brought online (see "Growth"): false when the
   * views are current; else renews them over `source()` and returns true. Throws an Error
   * when this context has no way to the grown buffer.
   */
  sync(): boolean {
    const gen = Atomics.load(this.header, Hdr.MEM_GENERATION);
    if (gen === this.generation) return false;
    const total = Atomics.load(this.header, Hdr.TOTAL_PAGES);
    const buffer = this.source === null ? null : this.source();
    if (buffer === null || buffer.byteLength - this.offset < total * this.pageSize) {
      throw new Error(
        `kmem: another context brought memory online (now ${total} pages); this context cannot see it: open the instance with its WebAssembly.Memory (mm.onlineMemory(memory))`,
      );
    }
    if (total > this.totalPages || buffer !== this.buffer) this.renew(buffer, total);
    this.generation = gen;
    return true;
  }

  /**
   * Takes the buffer over: zeroes the reserved part of an adopted buffer and writes the
   * geometry words. Nothing is written before this, so a construction that fails validation
   * leaves a passed-in buffer as it was.
   */
  init(): void {
    const h = this.header;
    if (!this.fresh) this.bytes.fill(0, 0, this.firstManagedPfn * this.pageSize);
    h[Hdr.VERSION] = Layout.VERSION;
    h[Hdr.PAGE_SHIFT] = this.pageShift;
    h[Hdr.MAX_ORDER] = this.maxOrder;
    h[Hdr.TOTAL_PAGES] = this.totalPages;
    h[Hdr.FIRST_PFN] = this.firstManagedPfn;
    h[Hdr.MANAGED_PAGES] = this.managedPages;
    h[Hdr.NR_CPUS] = this.nrCpus;
    h[Hdr.NR_NODES] = this.nrNodes;
    h[Hdr.MEMMAP_OFFSET] = this.memmapOffset;
    h[Hdr.HEADER_WORDS] = this.headerWords;
    h[Hdr.WIN_SHIFT] = this.winShift;
    h[Hdr.NR_BUFFERS] = this.buffers.length;
    h[Hdr.MAX_PAGES] = this.maxPages;
    for (let n = 0; n < this.nrNodes; n++) {
      const z = zoneBase(this.nrCpus, n);
      const start = n === 0 ? this.firstManagedPfn : (this.nodeStart[n] as number);
      const end = this.nodeEnd[n] as number;
      h[z + Zone.START_PFN] = start;
      h[z + Zone.END_PFN] = end;
      h[z + Zone.MANAGED] = end - start;
      const row = this.distances[n] as readonly number[];
      for (let m = 0; m < this.nrNodes; m++) h[z + Zone.DISTANCE + m] = row[m] as number;
    }
  }

  /*
   * With one buffer (`split` false) a word is words[wi], over the whole buffer, behind one
   * compare of a field that never changes. With a buffer per node, the window's view and
   * the offset in it.
   */

  /** The i32 at word index `wi` (address 4 * wi), in whichever window. */
  word(wi: number): number {
    if (this.split === false) return this.words[wi] as number;
    return (this.wordViews[wi >>> this.wordShift] as Int32Array)[wi & this.wordMask] as number;
  }

  setWord(wi: number, value: number): void {
    if (this.split === false) this.words[wi] = value;
    else (this.wordViews[wi >>> this.wordShift] as Int32Array)[wi & this.wordMask] = value;
  }

  /** The view holding word index `wi`, and its index there (for Atomics). */
  wordView(wi: number): Int32Array {
    return this.split === true ? (this.wordViews[wi >>> this.wordShift] as Int32Array) : this.words;
  }

  wordIndex(wi: number): number {
    return this.split === true ? wi & this.wordMask : wi;
  }

  /** A live view of the `length` bytes at `addr`, which lie in one window (one block). */
  span(addr: number, length: number): Uint8Array {
    const at = addr & this.winMask;
    return (this.byteViews[addr >>> this.winShift] as Uint8Array).subarray(at, at + length);
  }

  /** A live i32 view of `n` words at `addr` (a descriptor), which lie in one window. */
  wordsAt(addr: number, n: number): Int32Array {
    const v = this.wordViews[addr >>> this.winShift] as Int32Array;
    return new Int32Array(v.buffer, v.byteOffset + (addr & this.winMask), n);
  }

  /** Sets the bytes [from, to) to `value`; the range lies in one window. */
  fill(value: number, from: number, to: number): void {
    if (to <= from) return;
    const w = from >>> this.winShift;
    const at = from & this.winMask;
    // Within the window's view, without a subarray object (krealloc and zeroing call this).
    (this.byteViews[w] as Uint8Array).fill(value, at, at + (to - from));
  }

  /** Copies `length` bytes from `src` to `dst` (each range in one window; they may overlap). */
  copy(dst: number, src: number, length: number): void {
    if (length <= 0) return;
    // A small copy of whole words between ranges apart in one buffer (krealloc's of a small
    // block): word stores, not copyWithin, a call into the engine's runtime that costs more
    // than the copy below 128 bytes (about 17 ns a call; the word loop takes 4 ns for 16
    // bytes, 14 ns for 96, 17 ns for 128, 31 ns for 256: BENCHMARKS.md, "Four more
    // programs, and krealloc's copy").
    if (
      length < 128 &&
      ((dst | src | length) & 3) === 0 &&
      this.split === false &&
      (dst + length <= src || src + length <= dst)
    ) {
      const words = this.words;
      const d = dst >>> 2;
      const s = src >>> 2;
      for (let k = 0; k < length >>> 2; k++) words[d + k] = words[s + k] as number;
      return;
    }
    const w = dst >>> this.winShift;
    if (src >>> this.winShift === w) {
      // One window (always, with one buffer): a memmove within its view, no subarray objects.
      const s = src & this.winMask;
      (this.byteViews[w] as Uint8Array).copyWithin(dst & this.winMask, s, s + length);
    } else this.span(dst, length).set(this.span(src, length));
  }

  /** Whether `addr` is a byte of memory (header and mem_map included), not of a hole. */
  hasByte(addr: number): boolean {
    if (addr >>> 0 !== addr || addr >= this.totalPages * this.pageSize) return false;
    return (addr & this.winMask) < (this.byteViews[addr >>> this.winShift] as Uint8Array).length;
  }

  /** Whether frame `pfn` belongs to a node (not the reserve, not a hole between windows). */
  hasFrame(pfn: number): boolean {
    if (pfn < this.firstManagedPfn || pfn >= this.totalPages) return false;
    if (this.split === false) return true;
    const n = pfn >>> (this.winShift - this.pageShift);
    return pfn < (this.nodeEnd[n] as number);
  }

  /** Marks the header valid; called once every layer has initialised its state. */
  seal(): void {
    Atomics.store(this.header, Hdr.MAGIC, Layout.MAGIC);
  }
}

/**
 * Pages of each node from the `nodes` option. With `memory`, byte counts (the caller checks
 * that they add up to its whole pages); without, byte counts or buffers (whole pages of each
 * are used), distinct, of one kind (all shared or none), none resizable.
 */
function checkNodes(
  nodes: readonly (number | Backing)[],
  pageSize: number,
  withMemory: boolean,
): number[] {
  if (!Array.isArray(nodes) || nodes.length < 1 || nodes.length > Layout.MAX_NODES) {
    throw new TypeError(
      `nodes must be an array of 1..${Layout.MAX_NODES} byte counts or buffers, got ${describe(nodes)}`,
    );
  }
  const seen = new Set<Backing>();
  let shared: boolean | null = null;
  return nodes.map((entry: unknown, n) => {
    let bytes: number;
    if (typeof entry === "number") {
      checkInteger(`nodes[${n}]`, entry);
      if (entry <= 0 || entry % pageSize !== 0 || entry > MAX_MEMORY_BYTES) {
        throw new RangeError(
          `nodes[${n}] must be a positive multiple of the page size (${pageSize}) up to ${MAX_MEMORY_BYTES}, got ${entry}`,
        );
      }
      bytes = entry;
    } else if (isBacking(entry)) {
      if (withMemory) {
        throw new TypeError(
          `nodes[${n}] is a buffer, but memory is given too: nodes that split one memory are byte counts (leave memory out to give each node a buffer)`,
        );
      }
      if (isResizable(entry)) {
        throw new TypeError(
          `nodes[${n}] must not be a resizable ArrayBuffer or growable SharedArrayBuffer: its pages would vanish under live allocations`,
        );
      }
      if (seen.has(entry))
        throw new TypeError(`nodes[${n}] is a buffer already given as another node`);
      seen.add(entry);
      const isShared = !(entry instanceof ArrayBuffer);
      if (shared !== null && shared !== isShared) {
        throw new TypeError(
          "nodes mix SharedArrayBuffers and ArrayBuffers: the nodes of one instance are all shared or none",
        );
      }
      shared = isShared;
      if (entry.byteLength > MAX_MEMORY_BYTES) {
        throw new RangeError(
          `nodes[${n}] is a buffer of ${entry.byteLength} bytes; at most ${MAX_MEMORY_BYTES} can be managed`,
        );
      }
      bytes = Math.floor(entry.byteLength / pageSize) * pageSize;
    } else {
      throw new TypeError(
        `nodes[${n}] must be a byte count or a buffer (ArrayBuffer or SharedArrayBuffer), got ${describe(entry)}`,
      );
    }
    if (n > 0 && bytes / pageSize < MIN_MANAGED_PAGES) {
      throw new RangeError(
        `nodes[${n}] is ${bytes} bytes of whole pages; a node needs at least ${MIN_MANAGED_PAGES} pages (${MIN_MANAGED_PAGES * pageSize} bytes)`,
      );
    }
    return bytes / pageSize;
  });
}

/** The node_distance table: as given (checked), or Linux's default of 10 local, 20 remote. */
function checkDistances(
  distances: readonly (readonly number[])[] | undefined,
  nrNodes: number,
): number[][] {
  const table: number[][] = [];
  if (distances !== undefined && (!Array.isArray(distances) || distances.length !== nrNodes)) {
    throw new TypeError(
      `distances must be a ${nrNodes} x ${nrNodes} array (one row per node), got ${describe(distances)}`,
    );
  }
  for (let a = 0; a < nrNodes; a++) {
    const row = distances?.[a];
    if (distances !== undefined && (!Array.isArray(row) || row.length !== nrNodes)) {
      throw new TypeError(
        `distances[${a}] must be an array of ${nrNodes} numbers, got ${describe(row)}`,
      );
    }
    const out: number[] = [];
    for (let b = 0; b < nrNodes; b++) {
      const d: unknown =
        row === undefined ? (a === b ? Layout.LOCAL_DISTANCE : Layout.REMOTE_DISTANCE) : row[b];
      const ok =
        typeof d === "number" &&
        Number.isInteger(d) &&
        (a === b ? d === Layout.LOCAL_DISTANCE : d > Layout.LOCAL_DISTANCE && d <= 255);
      if (!ok) {
        throw new RangeError(
          `distances[${a}][${b}] must be ${a === b ? `${Layout.LOCAL_DISTANCE} (a node to itself)` : `an integer in ${Layout.LOCAL_DISTANCE + 1}..255`}, got ${describe(d)}`,
        );
      }
      out.push(d as number);
    }
    table.push(out);
  }
  return table;
}

/**
 * The `offset` option: a multiple of the page size inside a buffer given as `memory` (0
 * when left out). `memory` is 0 from attach with several buffers, where no offset is allowed.
 */
function checkOffset(offset: unknown, memory: unknown, pageSize: number): number {
  if (offset === undefined || offset === 0) return 0;
  checkInteger("offset", offset);
  if (!isBacking(memory)) {
    throw new TypeError(
      "offset needs memory to be a buffer (one buffer whose start belongs to someone else), not a byte count or nodes of their own",
    );
  }
  if (offset < 0 || offset % pageSize !== 0 || offset >= memory.byteLength) {
    throw new RangeError(
      `offset must be a multiple of the page size (${pageSize}) inside the buffer (${memory.byteLength} bytes), got ${offset}`,
    );
  }
  return offset;
}

/** The `maxPages` room: at least the memory's pages, one node, addresses under 4 GiB. */
function checkMaxPages(
  maxPages: unknown,
  totalPages: number,
  nrNodes: number,
  pageSize: number,
): number {
  if (maxPages === undefined || maxPages === 0 || maxPages === totalPages) return totalPages;
  checkInteger("maxPages", maxPages);
  if (nrNodes !== 1) {
    throw new RangeError("maxPages beyond the memory's pages needs one node");
  }
  if (maxPages < totalPages || maxPages * pageSize > MAX_GROWABLE_BYTES) {
    throw new RangeError(
      `maxPages must be in ${totalPages}..${MAX_GROWABLE_BYTES / pageSize} (the memory's pages; memory that grows up to 2 GiB), got ${maxPages}`,
    );
  }
  return maxPages;
}
