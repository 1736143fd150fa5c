/*
 * The page allocator's invariant checker: verify() walks the header, every frame of the
 * mem_map and every list, and throws KmemError CORRUPTION naming the first broken invariant
 * by its id. The invariants and their ids are listed once, in the header of buddy.ts; the
 * checks run in that order (LAYOUT, NODE-1, MEMMAP-2, the block walk, the free lists, the
 * per-cpu lists), each on the counts the ones before it have established.
 *
 * Cold code: it allocates freely and reads the allocator's state through its internal
 * members, never through the fast paths.
 */

import { hex, KmemError } from "../errors.js";
import { Frame, FreeArea, Hdr, Layout, Pcp, Pg, PgFlag, Zone } from "../memory/index.js";
import type { BuddyAllocator } from "./buddy.js";

function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}

/**
 * Checks every invariant of buddy.ts's header; throws CORRUPTION naming the first broken.
 * Runs under the zone locks (in node order); the per-cpu lists of other online cpus are
 * exact only while those cpus are quiescent.
 */
export function verifyBuddy(b: BuddyAllocator): void {
  let held = 0;
  try {
    for (; held < b.nrNodes; held++) b.lockZone(held);
    checkHeader(b);
    checkZones(b);
    checkReserved(b);
    const walk = walkBlocks(b);
    checkFreeLists(b, walk.freeBlocks);
    checkPcpLists(b, walk.pcpPages);
  } finally {
    while (held > 0) b.unlockZone(--held);
  }
}

/** LAYOUT-1..3: the header's identity, geometry and per-cpu list sizes. */
function checkHeader(b: BuddyAllocator): void {
  const h = b.h;
  const f = b.f;
  if (h[Hdr.MAGIC] !== Layout.MAGIC || h[Hdr.VERSION] !== Layout.VERSION) {
    corrupt("LAYOUT-1", `header magic/version is ${hex(h[Hdr.MAGIC] as number)}/${h[Hdr.VERSION]}`);
  }
  if (
    h[Hdr.PAGE_SHIFT] !== b.pageShift ||
    h[Hdr.MAX_ORDER] !== b.maxOrder ||
    h[Hdr.TOTAL_PAGES] !== b.totalPages ||
    h[Hdr.FIRST_PFN] !== b.firstPfn ||
    h[Hdr.MANAGED_PAGES] !== b.managedPages ||
    h[Hdr.NR_CPUS] !== b.nrCpus ||
    h[Hdr.NR_NODES] !== b.nrNodes ||
    h[Hdr.MEMMAP_OFFSET] !== f.byteOffset - h.byteOffset ||
    h[Hdr.HEADER_WORDS] !== h.length
  ) {
    corrupt("LAYOUT-1", "header geometry words do not match the instance");
  }
  // Memory hotplug: this context's views cover the frames online now, and no more.
  if (
    h[Hdr.MAX_PAGES] !== b.mem.maxPages ||
    b.totalPages > b.mem.maxPages ||
    (!b.mem.split && b.mem.bytes.length !== b.totalPages * b.pageSize)
  ) {
    corrupt(
      "LAYOUT-1",
      `the views cover ${b.mem.bytes.length} bytes, the header has ${h[Hdr.TOTAL_PAGES]} pages online of room for ${h[Hdr.MAX_PAGES]}`,
    );
  }
  if (b.firstPfn * b.pageSize < f.byteOffset - h.byteOffset + f.byteLength) {
    corrupt("LAYOUT-2", "the reserved pages do not cover the header and mem_map");
  }
  const batch = h[Hdr.PCP_BATCH] as number;
  const high = h[Hdr.PCP_HIGH] as number;
  if (!(batch >= 1 && high >= batch)) {
    corrupt("LAYOUT-3", `per-cpu list batch ${batch} and high ${high} are out of range`);
  }
}

/**
 * NODE-1: the zones tile the managed frames in node order (with a buffer per node, each
 * from the start of its window); LAYOUT-3: each zone's watermarks are in order.
 */
function checkZones(b: BuddyAllocator): void {
  let expect = b.firstPfn;
  let managed = 0;
  for (let nid = 0; nid < b.nrNodes; nid++) {
    const z = b.zones[nid] as Int32Array;
    const start = z[Zone.START_PFN] as number;
    const end = z[Zone.END_PFN] as number;
    if (nid > 0) expect = b.nodeStarts[nid] as number;
    if (
      start !== expect ||
      end <= start ||
      end !== b.nodeEnds[nid] ||
      z[Zone.MANAGED] !== end - start
    ) {
      corrupt(
        "NODE-1",
        `zone of node ${nid} spans frames ${start}..${end - 1}, expected to start at ${expect} and end at ${(b.nodeEnds[nid] as number) - 1}`,
      );
    }
    expect = end;
    managed += end - start;
    const wmin = z[Zone.WMARK_MIN] as number;
    const wlow = z[Zone.WMARK_LOW] as number;
    const whigh = z[Zone.WMARK_HIGH] as number;
    if (!(wmin >= 0 && wmin <= wlow && wlow <= whigh && whigh <= end - start + 2 * wlow)) {
      corrupt(
        "LAYOUT-3",
        `node ${nid}: watermarks min ${wmin}, low ${wlow}, high ${whigh} are out of order`,
      );
    }
  }
  if (expect !== b.totalPages || managed !== b.managedPages) {
    corrupt(
      "NODE-1",
      `the zones cover ${managed} frames up to ${expect}, memory has ${b.managedPages} up to ${b.totalPages}`,
    );
  }
}

/**
 * MEMMAP-2: the reserved frames, and those of the holes between node windows, belong to
 * nobody.
 */
function checkReserved(b: BuddyAllocator): void {
  const f = b.f;
  for (let i = 0; i < b.firstPfn * Frame.WORDS; i++) {
    if (f[i] !== 0)
      corrupt("MEMMAP-2", `reserved frame ${Math.floor(i / Frame.WORDS)} has non-zero metadata`);
  }
  // The mem_map's room beyond the frames online (memory hotplug brings them in).
  for (let i = b.totalPages * Frame.WORDS; i < b.mem.maxPages * Frame.WORDS; i++) {
    if (f[i] !== 0) {
      corrupt(
        "MEMMAP-2",
        `frame ${Math.floor(i / Frame.WORDS)}, not online, has non-zero metadata`,
      );
    }
  }
  for (let nid = 0; nid < b.nrNodes - 1; nid++) {
    const from = (b.nodeEnds[nid] as number) * Frame.WORDS;
    const to = (b.nodeStarts[nid + 1] as number) * Frame.WORDS;
    for (let i = from; i < to; i++) {
      if (f[i] !== 0) {
        corrupt(
          "MEMMAP-2",
          `frame ${Math.floor(i / Frame.WORDS)} of no node has non-zero metadata`,
        );
      }
    }
  }
}

/**
 * MEMMAP-1, BUDDY-1, BUDDY-3 and NODE-1's blocks: walks each zone's frames block by block.
 * Returns, per node, the free blocks found of each order and the pages marked per-cpu.
 */
function walkBlocks(b: BuddyAllocator): { freeBlocks: number[][]; pcpPages: number[] } {
  const f = b.f;
  const pcpPages = new Array<number>(b.nrNodes).fill(0);
  const freeBlocks: number[][] = [];
  for (let nid = 0; nid < b.nrNodes; nid++) {
    const z = b.zones[nid] as Int32Array;
    const zstart = z[Zone.START_PFN] as number;
    const zend = z[Zone.END_PFN] as number;
    const blocksByOrder = new Array<number>(b.maxOrder).fill(0);
    freeBlocks.push(blocksByOrder);
    let pfn = zstart;
    while (pfn < zend) {
      const i = pfn * Frame.WORDS;
      const flags = f[i + Pg.FLAGS] as number;
      const state = flags & PgFlag.STATE_MASK;
      if (state !== PgFlag.BUDDY && state !== PgFlag.HEAD && state !== PgFlag.PCP) {
        corrupt(
          "MEMMAP-1",
          `frame ${pfn} is neither a block head nor inside a block (flags ${hex(flags)})`,
        );
      }
      const order = f[i + Pg.ORDER] as number;
      if (order < 0 || order >= b.maxOrder || (state === PgFlag.PCP && order !== 0)) {
        corrupt("MEMMAP-1", `frame ${pfn} has order ${order}`);
      }
      if (pfn % 2 ** order !== 0 || pfn + 2 ** order > b.totalPages) {
        corrupt(
          "BUDDY-1",
          `block at frame ${pfn} of order ${order} is misaligned or runs past memory`,
        );
      }
      if (pfn + 2 ** order > zend) {
        corrupt(
          "NODE-1",
          `block at frame ${pfn} of order ${order} runs past the end of node ${nid}`,
        );
      }
      for (let t = pfn + 1; t < pfn + 2 ** order; t++) {
        if (f[t * Frame.WORDS + Pg.FLAGS] !== 0 || f[t * Frame.WORDS + Pg.ORDER] !== 0) {
          corrupt(
            "MEMMAP-1",
            `frame ${t} is inside the order-${order} block at frame ${pfn} but is not a zero tail`,
          );
        }
      }
      if (state === PgFlag.BUDDY) {
        blocksByOrder[order] = (blocksByOrder[order] as number) + 1;
        const buddy = pfn ^ (1 << order);
        if (
          order < b.maxOrder - 1 &&
          buddy >= zstart &&
          buddy < zend &&
          ((f[buddy * Frame.WORDS + Pg.FLAGS] as number) & PgFlag.BUDDY) !== 0 &&
          f[buddy * Frame.WORDS + Pg.ORDER] === order
        ) {
          corrupt(
            "BUDDY-3",
            `free blocks at frames ${pfn} and ${buddy} (order ${order}) are unmerged buddies`,
          );
        }
      }
      if (state === PgFlag.PCP) pcpPages[nid] = (pcpPages[nid] as number) + 1;
      pfn += 2 ** order;
    }
  }
  return { freeBlocks, pcpPages };
}

/** BUDDY-2 and BUDDY-4: each zone's free lists agree with the walk's free blocks. */
function checkFreeLists(b: BuddyAllocator, freeBlocks: number[][]): void {
  const f = b.f;
  for (let nid = 0; nid < b.nrNodes; nid++) {
    const z = b.zones[nid] as Int32Array;
    const zstart = z[Zone.START_PFN] as number;
    const zend = z[Zone.END_PFN] as number;
    const blocksByOrder = freeBlocks[nid] as number[];
    const where = b.nrNodes === 1 ? "" : ` of node ${nid}`;
    let freePages = 0;
    for (let o = 0; o < b.maxOrder; o++) {
      const fa = Zone.FREE_AREA + FreeArea.WORDS * o;
      const nr = z[fa + FreeArea.NR_FREE] as number;
      if (nr !== blocksByOrder[o]) {
        corrupt(
          "BUDDY-2",
          `nr_free[${o}]${where} is ${nr} but ${blocksByOrder[o]} free blocks of order ${o} exist`,
        );
      }
      let prev = 0;
      let cur = z[fa + FreeArea.HEAD] as number;
      let len = 0;
      while (cur !== 0) {
        if (cur < zstart || cur >= zend) {
          corrupt("BUDDY-2", `free_area[${o}]${where} links to frame ${cur}, outside its zone`);
        }
        const i = cur * Frame.WORDS;
        if (
          ((f[i + Pg.FLAGS] as number) & PgFlag.STATE_MASK) !== PgFlag.BUDDY ||
          f[i + Pg.ORDER] !== o
        ) {
          corrupt(
            "BUDDY-2",
            `free_area[${o}]${where} holds frame ${cur}, which is not a free block of order ${o}`,
          );
        }
        if (f[i + Pg.PREV] !== prev) {
          corrupt(
            "BUDDY-2",
            `free_area[${o}]${where}: frame ${cur} has prev ${f[i + Pg.PREV]}, expected ${prev}`,
          );
        }
        if (++len > nr)
          corrupt("BUDDY-2", `free_area[${o}]${where} is longer than nr_free (${nr}) or cyclic`);
        prev = cur;
        cur = f[i + Pg.NEXT] as number;
      }
      if (len !== nr)
        corrupt("BUDDY-2", `free_area[${o}]${where} has ${len} blocks, nr_free says ${nr}`);
      freePages += nr * 2 ** o;
    }
    if (z[Zone.NR_FREE] !== freePages) {
      corrupt(
        "BUDDY-4",
        `nr_free_pages${where} is ${z[Zone.NR_FREE]} but the free lists hold ${freePages}`,
      );
    }
  }
}

/** PCP-1: each per-cpu list is consistent and they hold the pages the walk found marked. */
function checkPcpLists(b: BuddyAllocator, pcpPages: number[]): void {
  const f = b.f;
  for (let nid = 0; nid < b.nrNodes; nid++) {
    const z = b.zones[nid] as Int32Array;
    const zstart = z[Zone.START_PFN] as number;
    const zend = z[Zone.END_PFN] as number;
    let pcpListed = 0;
    for (let cpu = 0; cpu < b.nrCpus; cpu++) {
      const p = b.pcpList(cpu, nid);
      const name = b.nrNodes === 1 ? `cpu ${cpu}` : `cpu ${cpu}, node ${nid}`;
      const count = p[Pcp.COUNT] as number;
      let prev = 0;
      let cur = p[Pcp.HEAD] as number;
      let len = 0;
      while (cur !== 0) {
        if (cur < zstart || cur >= zend) {
          corrupt("PCP-1", `pcp list of ${name} links to frame ${cur}, outside its zone`);
        }
        const i = cur * Frame.WORDS;
        if (((f[i + Pg.FLAGS] as number) & PgFlag.STATE_MASK) !== PgFlag.PCP) {
          corrupt("PCP-1", `pcp list of ${name} holds frame ${cur}, which is not a per-cpu page`);
        }
        if (f[i + Pg.PREV] !== prev) {
          corrupt(
            "PCP-1",
            `pcp list of ${name}: frame ${cur} has prev ${f[i + Pg.PREV]}, expected ${prev}`,
          );
        }
        if (++len > count)
          corrupt("PCP-1", `pcp list of ${name} is longer than its count (${count}) or cyclic`);
        prev = cur;
        cur = f[i + Pg.NEXT] as number;
      }
      if (len !== count || p[Pcp.TAIL] !== prev) {
        corrupt(
          "PCP-1",
          `pcp list of ${name}: ${len} pages listed, count ${count}, tail ${p[Pcp.TAIL]}`,
        );
      }
      pcpListed += len;
    }
    if (pcpListed !== pcpPages[nid]) {
      corrupt(
        "PCP-1",
        `${pcpPages[nid]} frames of node ${nid} are marked per-cpu but the lists hold ${pcpListed}`,
      );
    }
  }
}
