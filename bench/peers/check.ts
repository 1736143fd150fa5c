/*
 * Correctness check of every peer adapter (run: node <outDir>/bench/peers/check.js).
 *
 * Per peer: allocate 10,000 blocks of random sizes 8..512 and write a pattern of its own into
 * each, free half in random order, allocate 5,000 more, then check that no two live blocks
 * overlap (address-based peers), that handles are distinct, and that every pattern is intact;
 * free everything. Then: an impossible request must return 0 (not throw) and leave the heap
 * usable, and 4 KiB blocks must fill most of the heap. Prints one row per peer with its
 * footprint, and exits non-zero on any failure.
 */

import { createPeers, type PeerAllocator } from "./index.js";

const HEAP_BYTES = 16 << 20;
const BLOCKS = 10_000;
const MIN_SIZE = 8;
const MAX_SIZE = 512;

/** mulberry32: a small seeded PRNG so every run checks the same sequence. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Block {
  handle: number;
  size: number;
  /** Distinct per block over the whole run; seeds its byte pattern. */
  tag: number;
}

function patternByte(tag: number, i: number): number {
  return (Math.imul(tag, 0x9e3779b1) + Math.imul(i, 0x85ebca6b) + (tag >>> 8)) >>> 24;
}

function fill(peer: PeerAllocator, b: Block): void {
  if (peer.bytes === undefined) return;
  const view = peer.bytes(b.handle, b.size);
  if (view.length !== b.size) throw new Error(`bytes(${b.handle}) gave ${view.length} bytes`);
  for (let i = 0; i < b.size; i++) view[i] = patternByte(b.tag, i);
}

function verify(peer: PeerAllocator, live: Block[], when: string): void {
  const handles = new Set<number>();
  for (const b of live) {
    if (handles.has(b.handle)) throw new Error(`${when}: handle ${b.handle} is live twice`);
    handles.add(b.handle);
  }
  if (peer.addressOf !== undefined) {
    const spans = live
      .map((b) => ({ start: (peer.addressOf as (h: number) => number)(b.handle), b }))
      .sort((x, y) => x.start - y.start);
    for (let i = 1; i < spans.length; i++) {
      const prev = spans[i - 1] as (typeof spans)[number];
      const cur = spans[i] as (typeof spans)[number];
      if (prev.start + prev.b.size > cur.start) {
        throw new Error(
          `${when}: [${prev.start}, +${prev.b.size}) overlaps [${cur.start}, +${cur.b.size})`,
        );
      }
    }
  }
  if (peer.bytes !== undefined) {
    for (const b of live) {
      const view = peer.bytes(b.handle, b.size);
      for (let i = 0; i < b.size; i++) {
        if (view[i] !== patternByte(b.tag, i)) {
          throw new Error(`${when}: block ${b.handle} (tag ${b.tag}) byte ${i} was overwritten`);
        }
      }
    }
  }
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

/** Largest power of two (up to 4096) dividing every address: the alignment actually given. */
function observedAlignment(peer: PeerAllocator, live: Block[]): number | undefined {
  if (peer.addressOf === undefined) return undefined;
  let bits = 0;
  for (const b of live) bits |= peer.addressOf(b.handle);
  let align = 1;
  while (align < 4096 && (bits & align) === 0) align *= 2;
  return align;
}

interface Report {
  name: string;
  ok: boolean;
  error?: string;
  align?: number;
  peakFootprint?: number;
  emptyFootprint?: number;
  fill4k?: number;
  ms?: number;
}

function checkPeer(peer: PeerAllocator, seed: number): Report {
  const started = performance.now();
  const random = rng(seed);
  let nextTag = 1;
  const alloc = (live: Block[]): void => {
    const size = MIN_SIZE + Math.floor(random() * (MAX_SIZE - MIN_SIZE + 1));
    const handle = peer.alloc(size);
    if (!(handle > 0)) throw new Error(`alloc(${size}) failed with ${live.length} blocks live`);
    const b = { handle, size, tag: nextTag++ };
    fill(peer, b);
    live.push(b);
  };

  let live: Block[] = [];
  for (let i = 0; i < BLOCKS; i++) alloc(live);
  verify(peer, live, "after first allocations");

  shuffle(live, random);
  const freed = live.slice(0, BLOCKS / 2);
  live = live.slice(BLOCKS / 2);
  for (const b of freed) peer.free(b.handle);
  verify(peer, live, "after freeing half");

  for (let i = 0; i < BLOCKS / 2; i++) alloc(live);
  verify(peer, live, "after reallocating");
  const align = observedAlignment(peer, live);
  const peakFootprint = peer.footprint();

  shuffle(live, random);
  for (const b of live) peer.free(b.handle);
  live = [];
  const emptyFootprint = peer.footprint();

  // Failure must be a 0, and the heap must still work after it.
  if (peer.baseline === undefined) {
    for (const size of [HEAP_BYTES * 2, 2 ** 31]) {
      const h = peer.alloc(size);
      if (h !== 0) throw new Error(`alloc(${size}) on a ${HEAP_BYTES}-byte heap gave ${h}`);
    }
  }
  const probe = peer.alloc(64);
  if (!(probe > 0)) throw new Error("alloc(64) failed on an empty heap");
  peer.free(probe);

  // Capacity: 4 KiB blocks until the heap is full (the floor counts slots; no bound for
  // Uint8Array, so it is skipped).
  let fill4k: number | undefined;
  if (peer.baseline !== "Uint8Array") {
    const handles: number[] = [];
    const size = peer.baseline === "floor" ? 1 : 4096;
    for (;;) {
      const h = peer.alloc(size);
      if (h === 0) break;
      handles.push(h);
      if (handles.length > HEAP_BYTES) throw new Error("capacity test never failed");
    }
    fill4k =
      peer.baseline === "floor"
        ? handles.length / (HEAP_BYTES / 16)
        : (handles.length * size) / HEAP_BYTES;
    for (const h of handles) peer.free(h);
    const again = peer.alloc(4096);
    if (!(again > 0)) throw new Error("alloc(4096) failed after freeing a full heap");
    peer.free(again);
  }

  return {
    name: peer.name,
    ok: true,
    ...(align === undefined ? {} : { align }),
    peakFootprint,
    emptyFootprint,
    ...(fill4k === undefined ? {} : { fill4k }),
    ms: performance.now() - started,
  };
}

function bytes(n: number | undefined): string {
  if (n === undefined || n < 0) return "n/a";
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

async function main(): Promise<void> {
  const peers = await createPeers(HEAP_BYTES);
  const reports: Report[] = [];
  for (const [i, peer] of peers.entries()) {
    try {
      reports.push(checkPeer(peer, 0x6b6d656d + i));
    } catch (e) {
      reports.push({ name: peer.name, ok: false, error: (e as Error).message });
    }
  }
  console.log(`heap ${bytes(HEAP_BYTES)}, ${BLOCKS} blocks of ${MIN_SIZE}..${MAX_SIZE} bytes\n`);
  console.log(
    "| peer | result | alignment | footprint at peak | footprint empty | 4 KiB fill | ms |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of reports) {
    console.log(
      `| ${r.name} | ${r.ok ? "ok" : `FAIL: ${r.error}`} | ${r.align ?? "n/a"} | ${bytes(r.peakFootprint)} | ${bytes(r.emptyFootprint)} | ${r.fill4k === undefined ? "n/a" : `${(r.fill4k * 100).toFixed(1)}%`} | ${r.ms?.toFixed(0) ?? ""} |`,
    );
  }
  const failed = reports.filter((r) => !r.ok).length;
  console.log(`\n${reports.length - failed} passed, ${failed} failed`);
  if (failed > 0) process.exitCode = 1;
}

await main();
