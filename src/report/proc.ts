/*
 * /proc-style text, byte for byte in the formats of Linux's files, built from a plain
 * snapshot of the allocator state so that this layer reads no allocator internals.
 *
 *   buddyinfo       mm/vmstat.c frag_show_print:  "Node %d, zone %8s " then "%6lu " per order
 *   meminfo         fs/proc/meminfo.c show_val_kb: label padded to 16 columns, "%8lu kB"
 *   vmstat          mm/vmstat.c vmstat_show:       "%s %lu" per counter
 *   unusable_index  debugfs extfrag/unusable_index: "Node %d, zone %8s " then "%d.%03d " per order
 *   extfrag_index   debugfs extfrag/extfrag_index:  "Node %d, zone %8s " then "%2d.%03d " per order
 *   slabinfo        mm/slab_common.c: "slabinfo - version: 2.1" and the column header
 *   vmallocinfo     mm/vmalloc.c vmalloc_info_show: "0x%pK-0x%pK %7ld", caller, " pages=%d", kind, " N0=%u"
 *   numastat        numactl's numastat: a row per counter, a 16-column field per node
 *   zoneinfo        mm/vmstat.c zoneinfo_show_print: "Node %d, zone %8s", "  pages free     %lu",
 *                   the watermarks, spanned, present and managed ("        %-8s %lu"), start_pfn
 * The per-zone files have one line per NUMA node.
 */

import { extfragIndexMilli, formatMilli, unusableIndexMilli } from "../page/index.js";

/** A node as the reports need it. */
export interface NodeSnapshot {
  /** nr_free per order of the node's buddy lists. */
  freeByOrder: readonly number[];
  /** numastat counters, NUMA_STAT_NAMES order. */
  numa: readonly number[];
  /** The node's zone, for zoneinfo. */
  zone?: ZoneSnapshot;
}

/** A zone's pages as zoneinfo shows them. */
export interface ZoneSnapshot {
  free: number;
  min: number;
  low: number;
  high: number;
  startPfn: number;
  spanned: number;
  present: number;
  managed: number;
}

/** What the reports need to know, gathered by the facade. */
export interface MemSnapshot {
  pageSize: number;
  nodes: readonly NodeSnapshot[];
  managedPages: number;
  /** Buddy free pages (NR_FREE_PAGES). */
  buddyFreePages: number;
  /** Free pages parked on per-cpu lists. */
  pcpPages: number;
  wmarkLow: number;
  wmarkHigh: number;
  slabReclaimablePages: number;
  slabUnreclaimablePages: number;
  pageTablePages: number;
  vmallocTotalBytes: number;
  vmallocUsedPages: number;
  /** The LRU of swappable pages (Active(anon), Inactive(anon)). */
  activePages: number;
  inactivePages: number;
  /** Swap areas' slots, free slots; zswap's pool pages and the pages stored in it. */
  swapTotalPages: number;
  swapFreePages: number;
  zswapPages: number;
  zswappedPages: number;
  /** vmstat counters, in print order. */
  counters: readonly (readonly [string, number])[];
  /**
   * The kmalloc heap (src/kmalloc/heap.ts), bytes: its chunks, allocated blocks (headers
   * included), free space and largest free block; absent without a heap (and not printed
   * while it holds no chunk).
   */
  kheap?: { bytes: number; used: number; free: number; largestFree: number } | null;
}

/** The "Node %d, zone %8s " prefix of the per-zone files. */
function zone(nid: number): string {
  return `Node ${nid}, zone ${"Normal".padStart(8)} `;
}

export function buddyinfo(s: MemSnapshot): string {
  return perZone(s, (free, o) => `${String(free[o]).padStart(6)} `);
}

/** The per-zone files: a line per node, its prefix, then `field(nr_free, order)` per order. */
function perZone(
  s: MemSnapshot,
  field: (freeByOrder: readonly number[], order: number) => string,
): string {
  let out = "";
  s.nodes.forEach((n, nid) => {
    out += zone(nid);
    for (let o = 0; o < n.freeByOrder.length; o++) out += field(n.freeByOrder, o);
    out += "\n";
  });
  return out;
}

/** zoneinfo: each node's zone, its free pages, watermarks and spans (those hotplug grows). */
export function zoneinfo(s: MemSnapshot): string {
  let out = "";
  s.nodes.forEach((n, nid) => {
    const z = n.zone;
    if (z === undefined) return;
    out += `Node ${nid}, zone ${"Normal".padStart(8)}\n`;
    out += `  pages free     ${z.free}\n`;
    for (const [k, v] of [
      ["min", z.min],
      ["low", z.low],
      ["high", z.high],
      ["spanned", z.spanned],
      ["present", z.present],
      ["managed", z.managed],
    ] as const) {
      out += `        ${k.padEnd(8)} ${v}\n`;
    }
    out += `  start_pfn:           ${z.startPfn}\n`;
  });
  return out;
}

/** numastat: the counters of every node, a row per counter. */
export function numastat(s: MemSnapshot, names: readonly string[]): string {
  let out = "".padEnd(16) + s.nodes.map((_, nid) => `node${nid}`.padStart(16)).join("") + "\n";
  names.forEach((name, k) => {
    out += name.padEnd(16) + s.nodes.map((n) => String(n.numa[k]).padStart(16)).join("") + "\n";
  });
  return out;
}

function kbLine(label: string, pages: number, pageSize: number): string {
  return kbValueLine(label, (pages * pageSize) / 1024);
}

function kbValueLine(label: string, kb: number): string {
  return `${`${label}:`.padEnd(16)}${String(Math.floor(kb)).padStart(8)} kB\n`;
}

/**
 * MemAvailable as si_mem_available: NR_FREE_PAGES less the reserve (the high watermark),
 * plus the reclaimable slab less min(half of it, the low watermark).
 */
function memAvailablePages(s: MemSnapshot): number {
  const reclaimable =
    s.slabReclaimablePages - Math.min(Math.floor(s.slabReclaimablePages / 2), s.wmarkLow);
  return Math.max(0, s.buddyFreePages - s.wmarkHigh + reclaimable);
}

export function meminfo(s: MemSnapshot): string {
  const p = s.pageSize;
  const slab = s.slabReclaimablePages + s.slabUnreclaimablePages;
  return (
    kbLine("MemTotal", s.managedPages, p) +
    kbLine("MemFree", s.buddyFreePages, p) +
    kbLine("MemAvailable", memAvailablePages(s), p) +
    kbLine("Active", s.activePages, p) +
    kbLine("Inactive", s.inactivePages, p) +
    kbLine("SwapTotal", s.swapTotalPages, p) +
    kbLine("SwapFree", s.swapFreePages, p) +
    kbLine("Zswap", s.zswapPages, p) +
    kbLine("Zswapped", s.zswappedPages, p) +
    kbLine("Slab", slab, p) +
    kbLine("SReclaimable", s.slabReclaimablePages, p) +
    kbLine("SUnreclaim", s.slabUnreclaimablePages, p) +
    kbLine("PageTables", s.pageTablePages, p) +
    kbValueLine("VmallocTotal", s.vmallocTotalBytes / 1024) +
    kbLine("VmallocUsed", s.vmallocUsedPages, p) +
    kbValueLine("VmallocChunk", 0) +
    (s.kheap == null || s.kheap.bytes === 0
      ? ""
      : // kmem's own lines: the kmalloc heap's chunks, blocks, free space, largest free block.
        kbValueLine("KmallocHeap", s.kheap.bytes / 1024) +
        kbValueLine("KmallocHeapUsed", s.kheap.used / 1024) +
        kbValueLine("KmallocHeapFree", s.kheap.free / 1024) +
        kbValueLine("KmallocHeapMax", s.kheap.largestFree / 1024))
  );
}

export function vmstat(s: MemSnapshot): string {
  return s.counters.map(([name, value]) => `${name} ${value}\n`).join("");
}

export function unusableIndexReport(s: MemSnapshot): string {
  return perZone(s, (free, o) => `${formatMilli(unusableIndexMilli(free, o))} `);
}

export function extfragIndexReport(s: MemSnapshot): string {
  return perZone(s, (free, o) => `${formatMilli(extfragIndexMilli(free, o)).padStart(6)} `);
}

/** One cache as slabinfo needs it. */
export interface SlabinfoCache {
  name: string;
  activeObjects: number;
  totalObjects: number;
  size: number;
  objectsPerSlab: number;
  pagesPerSlab: number;
  slabs: number;
  aliases: readonly string[];
  /** SLAB's tunables and sharedavail; absent (printed as zeros) for SLUB. */
  tunables?: { limit: number; batchcount: number; shared: number; sharedAvail: number };
}

/**
 * /proc/slabinfo, version 2.1 (mm/slab_common.c cache_show): SLUB prints zero tunables (SLAB
 * its limit, batchcount, shared factor and the objects in its shared arrays) and
 * active_slabs == num_slabs. Caches merged into another are not lines of their own in Linux;
 * here they follow as comment lines ("# alias NAME -> CACHE") that parsers skip.
 */
export function slabinfo(caches: readonly SlabinfoCache[]): string {
  let text =
    "slabinfo - version: 2.1\n" +
    "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>" +
    " : tunables <limit> <batchcount> <sharedfactor>" +
    " : slabdata <active_slabs> <num_slabs> <sharedavail>\n";
  for (const c of caches) {
    text +=
      `${c.name.padEnd(17)} ${pad(c.activeObjects, 6)} ${pad(c.totalObjects, 6)} ${pad(c.size, 6)} ` +
      `${pad(c.objectsPerSlab, 4)} ${pad(c.pagesPerSlab, 4)}` +
      ` : tunables ${pad(c.tunables?.limit ?? 0, 4)} ${pad(c.tunables?.batchcount ?? 0, 4)} ${pad(c.tunables?.shared ?? 0, 4)}` +
      ` : slabdata ${pad(c.slabs, 6)} ${pad(c.slabs, 6)} ${pad(c.tunables?.sharedAvail ?? 0, 6)}\n`;
  }
  for (const c of caches) {
    for (const alias of c.aliases) text += `# alias ${alias} -> ${c.name}\n`;
  }
  return text;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width);
}

/** One swap area as /proc/swaps needs it. */
export interface SwapsArea {
  name: string;
  /** Pages of the area, and pages in use. */
  size: number;
  used: number;
  priority: number;
}

/**
 * /proc/swaps (mm/swapfile.c swap_show): a header, then per area its name, type, size and
 * used in kB, and priority. An area with a zram device is a "partition"; one only zswap
 * holds pages of is printed as a "file" named zswap.
 */
export function swaps(areas: readonly SwapsArea[], pageSize: number): string {
  let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
  const kb = pageSize / 1024;
  for (const a of areas) {
    const name = a.name === "zswap" ? "zswap" : `/dev/${a.name}`;
    const type = a.name === "zswap" ? "file" : "partition";
    text += `${name.padEnd(40)}${type}\t${type === "file" ? "\t" : ""}${a.size * kb}\t\t${a.used * kb}\t\t${a.priority}\n`;
  }
  return text;
}

/** One vmalloc or vmap area as vmallocinfo needs it. */
export interface VmallocinfoArea {
  start: number;
  end: number;
  size: number;
  caller: string;
  /** Pages the area owns (0 for a vmap area, which prints none). */
  pages: number;
  kind: "vmalloc" | "vmap";
}

/**
 * /proc/vmallocinfo (mm/vmalloc.c vmalloc_info_show): one line per busy area in address
 * order: the range (guard page included, as Linux prints v->size), the size, the caller,
 * `pages=N` for areas that own pages, the kind, and the pages per node as a NUMA kernel
 * prints them. Addresses are hex padded to `digits` (8 when they fit in 32 bits).
 */
export function vmallocinfo(areas: readonly VmallocinfoArea[], digits: number): string {
  let text = "";
  for (const a of areas) {
    const range = `0x${a.start.toString(16).padStart(digits, "0")}-0x${a.end.toString(16).padStart(digits, "0")}`;
    text += `${range} ${pad(a.size, 7)} ${a.caller}`;
    if (a.pages > 0) text += ` pages=${a.pages}`;
    text += ` ${a.kind}`;
    if (a.pages > 0) text += ` N0=${a.pages}`;
    text += "\n";
  }
  return text;
}
