/*
 * Physical memory: the buffer kmem manages, its page geometry, and the boot-time reservation
 * of the header and the mem_map (see layout.ts for the byte layout).
 *
 * Owns: creating or adopting the buffer, the typed-array views every layer works through,
 * and the header's geometry words. It knows nothing of free lists.
 *
 * Construction does no per-byte work on a fresh buffer (it is zero already, and zero is the
 * meaning of an unused frame); an adopted buffer gets its reserved region zeroed once.
 */

import { checkInteger, describe } from "../errors.js";
import { bootCacheBase, Frame, Hdr, headerWords, Layout, Zone, zoneBase } from "./layout.js";

/** Addresses are unsigned 32-bit: one instance manages at most 4 GiB. */
export const MAX_MEMORY_BYTES = 2 ** 32;
export const MIN_PAGE_SIZE = 1024;
export const MAX_PAGE_SIZE = 65536;

export type Backing = ArrayBuffer | SharedArrayBuffer;

export interface PhysMemConfig {
  /** Bytes to create, or a buffer to manage; with `nodes` alone, their sum. */
  memory?: number | Backing | undefined;
  /** Create a SharedArrayBuffer (when `memory` is a byte count). */
  shared?: boolean;
  pageSize: number;
  maxOrder: number;
  nrCpus: number;
  /** Header words the upper layers need after the page allocator's (the boot cache descriptor). */
  bootWords: number;
  /**
   * NUMA nodes: the bytes of each, in address order (node 0 first, holding the header and
   * mem_map). They must add up to the memory's whole pages. Default: one node.
   */
  nodes?: readonly number[];
  /** node_distance table, nodes x nodes: 10 on the diagonal, 11..255 elsewhere. Default 10/20. */
  distances?: readonly (readonly number[])[];
}

/** The word view of a buffer's first page, if it is big enough to hold a header. */
function headerOf(buffer: Backing): Int32Array | null {
  return buffer.byteLength >= Hdr.PCP * 4 ? new Int32Array(buffer, 0, Hdr.PCP) : null;
}

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

export class PhysMem {
  readonly buffer: Backing;
  /** The whole physical memory, byte by byte. */
  readonly bytes: Uint8Array;
  /** The whole physical memory as i32 words (word i is bytes 4i..4i+3). */
  readonly words: Int32Array;
  /** Header words (layout.ts H_*). */
  readonly header: Int32Array;
  /** mem_map: Frame.WORDS words per frame, for every frame 0..totalPages-1. */
  readonly frames: Int32Array;
  readonly pageSize: number;
  readonly pageShift: number;
  readonly maxOrder: number;
  readonly totalPages: number;
  /** Frames 0..firstManagedPfn-1 hold the header and mem_map and are never handed out. */
  readonly firstManagedPfn: number;
  readonly managedPages: number;
  readonly nrCpus: number;
  /** Byte offset of the mem_map, and the header's size in words. */
  readonly memmapOffset: number;
  readonly headerWords: number;
  /** NUMA nodes (1 without the `nodes` option). */
  readonly nrNodes: number;
  /** First frame of each node, and one past its last (node n: nodeStart[n]..nodeEnd[n]-1). */
  readonly nodeStart: readonly number[];
  readonly nodeEnd: readonly number[];
  /** node_distance(a, b) = distances[a][b]. */
  readonly distances: readonly (readonly number[])[];
  /** True when kmem created the buffer (it is all zero). */
  private readonly fresh: boolean;

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
    const nodeSizes = config.nodes === undefined ? null : checkNodes(config.nodes, pageSize);
    if (memory === undefined && nodeSizes === null) {
      throw new TypeError(
        "memory must be given: a byte count or a buffer (or nodes: the bytes of each NUMA node)",
      );
    }
    let buffer: Backing;
    let fresh: boolean;
    if (memory === undefined) {
      const bytes = (nodeSizes as number[]).reduce((a, b) => a + b, 0) * pageSize;
      if (bytes > MAX_MEMORY_BYTES) {
        throw new RangeError(
          `nodes add up to ${bytes} bytes; at most ${MAX_MEMORY_BYTES} can be managed`,
        );
      }
      buffer = config.shared === true ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
      fresh = true;
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
      if (memory.byteLength > MAX_MEMORY_BYTES) {
        throw new RangeError(
          `memory buffer is ${memory.byteLength} bytes; at most ${MAX_MEMORY_BYTES} can be managed`,
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
    const totalPages = Math.floor(buffer.byteLength / pageSize);
    if (nodeSizes !== null) {
      const sum = nodeSizes.reduce((a, b) => a + b, 0);
      if (sum !== totalPages) {
        throw new RangeError(
          `nodes add up to ${sum * pageSize} bytes but the memory has ${totalPages * pageSize} bytes of whole pages`,
        );
      }
    }
    const nodePages = nodeSizes ?? [totalPages];
    const nrNodes = nodePages.length;
    const distances = checkDistances(config.distances, nrNodes);
    const hWords = headerWords(nrCpus, nrNodes, bootWords);
    const memmapOffset = Math.ceil((hWords * 4) / 8) * 8;
    const reservedBytes = memmapOffset + totalPages * Frame.BYTES;
    const firstManagedPfn = Math.ceil(reservedBytes / pageSize);
    const node0Pages = nodePages[0] as number;
    if (firstManagedPfn + MIN_MANAGED_PAGES > node0Pages) {
      const what = nrNodes > 1 ? "node 0" : "memory";
      throw new RangeError(
        `${what} of ${node0Pages * pageSize} bytes is too small: its ${node0Pages} pages of ${pageSize} bytes ` +
          `leave ${Math.max(0, node0Pages - firstManagedPfn)} once ${firstManagedPfn} are reserved for the ` +
          `header and mem_map (at least ${MIN_MANAGED_PAGES} are needed)`,
      );
    }
    const nodeStart: number[] = [];
    const nodeEnd: number[] = [];
    let pfn = 0;
    for (const pages of nodePages) {
      nodeStart.push(pfn);
      pfn += pages;
      nodeEnd.push(pfn);
    }

    this.buffer = buffer;
    this.bytes = new Uint8Array(buffer, 0, totalPages * pageSize);
    this.words = new Int32Array(buffer, 0, (totalPages * pageSize) / 4);
    this.header = new Int32Array(buffer, 0, hWords);
    this.frames = new Int32Array(buffer, memmapOffset, totalPages * Frame.WORDS);
    this.pageSize = pageSize;
    this.pageShift = pageShift;
    this.maxOrder = maxOrder;
    this.totalPages = totalPages;
    this.firstManagedPfn = firstManagedPfn;
    this.managedPages = totalPages - firstManagedPfn;
    this.nrCpus = nrCpus;
    this.nrNodes = nrNodes;
    this.nodeStart = nodeStart;
    this.nodeEnd = nodeEnd;
    this.distances = distances;
    this.fresh = fresh;
    this.memmapOffset = memmapOffset;
    this.headerWords = hWords;
  }

  /**
   * Opens the instance another context built in `buffer`: the geometry comes from its
   * header, nothing is written. Throws an Error saying why when the buffer holds no kmem
   * instance of this layout version.
   */
  static attach(buffer: unknown): PhysMem {
    if (!isBacking(buffer)) {
      throw new TypeError(
        `Kmem.attach needs the SharedArrayBuffer (or ArrayBuffer) of a kmem instance, got ${describe(buffer)}`,
      );
    }
    const h = headerOf(buffer);
    if (h === null || Atomics.load(h, Hdr.MAGIC) !== Layout.MAGIC) {
      throw new Error(
        `Kmem.attach: the buffer (${buffer.byteLength} bytes) is not a kmem instance: its header has no kmem magic`,
      );
    }
    const version = h[Hdr.VERSION] as number;
    if (version !== Layout.VERSION) {
      throw new Error(
        `Kmem.attach: the buffer holds a kmem instance of layout version ${version}; this kmem reads version ${Layout.VERSION}`,
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
      (h[Hdr.HEADER_WORDS] as number) * 4 > buffer.byteLength
    ) {
      throw new Error("Kmem.attach: the buffer's kmem header is damaged (cpus, nodes or size)");
    }
    const bootWords = (h[Hdr.HEADER_WORDS] as number) - bootCacheBase(nrCpus, nrNodes);
    const words = new Int32Array(buffer, 0, h[Hdr.HEADER_WORDS] as number);
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
    const mem = new PhysMem({
      memory: buffer,
      pageSize: 2 ** pageShift,
      maxOrder: h[Hdr.MAX_ORDER] as number,
      nrCpus,
      bootWords,
      nodes,
      distances,
    });
    if (
      h[Hdr.TOTAL_PAGES] !== mem.totalPages ||
      h[Hdr.FIRST_PFN] !== mem.firstManagedPfn ||
      h[Hdr.MEMMAP_OFFSET] !== mem.memmapOffset
    ) {
      throw new Error(
        "Kmem.attach: the buffer's kmem header does not match its size (a damaged or truncated instance)",
      );
    }
    return mem;
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

  /** Marks the header valid; called once every layer has initialised its state. */
  seal(): void {
    Atomics.store(this.header, Hdr.MAGIC, Layout.MAGIC);
  }
}

/**
 * Pages of each node from the `nodes` option: byte counts, whole pages each (the caller
 * checks that they add up to the memory's whole pages).
 */
function checkNodes(nodes: readonly number[], pageSize: number): number[] {
  if (!Array.isArray(nodes) || nodes.length < 1 || nodes.length > Layout.MAX_NODES) {
    throw new TypeError(
      `nodes must be an array of 1..${Layout.MAX_NODES} byte counts, got ${describe(nodes)}`,
    );
  }
  return nodes.map((bytes: unknown, n) => {
    if (typeof bytes !== "number") {
      throw new TypeError(
        `nodes[${n}] must be a byte count (all nodes live in one buffer, at consecutive addresses), got ${describe(bytes)}`,
      );
    }
    checkInteger(`nodes[${n}]`, bytes);
    if (bytes <= 0 || bytes % pageSize !== 0) {
      throw new RangeError(
        `nodes[${n}] must be a positive multiple of the page size (${pageSize}), got ${bytes}`,
      );
    }
    if (n > 0 && bytes / pageSize < MIN_MANAGED_PAGES) {
      throw new RangeError(
        `nodes[${n}] is ${bytes} bytes; a node needs at least ${MIN_MANAGED_PAGES} pages (${MIN_MANAGED_PAGES * pageSize} bytes)`,
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
