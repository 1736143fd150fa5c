/*
 * The vmem arena's invariant checker: verify() walks the arena list, the free records, the
 * span list, the freelists and the hash, and throws KmemError CORRUPTION naming the first
 * broken invariant by its id (VMEM-1..8, listed in arena.ts's header), then has the quantum
 * caches check theirs (QCACHE-1..2, in qcache.ts's). Cold code: it allocates freely.
 */

import { KmemError } from "../errors.js";
import { Bound, FREELISTS, highbit, NIL, ROTOR, SEG0, Seg, SegType } from "./layout.js";
import type { QuantumCaches } from "./qcache.js";

/** What verify() reads of an arena: its records, lists, hash and totals, as they are. */
export interface ArenaState {
  readonly name: string;
  readonly quantum: number;
  /** Segment records (Seg.WORDS i32 each) and their bounds (Bound.WORDS f64 each). */
  readonly segs: Int32Array;
  readonly bounds: Float64Array;
  /** The free-record list's head and length. */
  readonly segFree: number;
  readonly nsegFree: number;
  /** Freelist heads, and the bitmap of the non-empty ones (lists 0..31, 32..). */
  readonly flHead: Int32Array;
  readonly freemapLo: number;
  readonly freemapHi: number;
  /** Hash buckets of allocated segments, the count of them, and the bucket of a start. */
  readonly buckets: Int32Array;
  readonly nalloc: number;
  bucketOf(addr: number): number;
  /** mem_total, mem_import, mem_inuse. */
  readonly memTotal: number;
  readonly memImport: number;
  readonly memInUse: number;
  /** Whether the arena gives imported spans back when all free (VMEM-8 applies). */
  readonly releases: boolean;
  readonly qc: QuantumCaches | null;
}

/** Checks VMEM-1..8 and QCACHE-1..2; throws KmemError CORRUPTION naming the first broken. */
export function verifyArena(a: ArenaState): void {
  const corrupt = (id: string, what: string): never => {
    throw new KmemError("CORRUPTION", `vmem ${a.name}: ${id}: ${what}`);
  };
  const s = a.segs;
  const b = a.bounds;
  const q = a.quantum;
  const records = s.length / Seg.WORDS;
  const start = (r: number) => b[r * Bound.WORDS + Bound.START] as number;
  const end = (r: number) => b[r * Bound.WORDS + Bound.END] as number;
  const type = (r: number) => s[r * Seg.WORDS + Seg.TYPE] as number;

  // VMEM-1: the ring, and the free records.
  const inRing = new Uint8Array(records);
  let rotors = 0;
  let n = 0;
  for (let r = SEG0, prev = s[SEG0 * Seg.WORDS + Seg.APREV] as number; ;) {
    if (r < 0 || r >= records) corrupt("VMEM-1", `link to record ${r} outside the table`);
    if (inRing[r]) corrupt("VMEM-1", `record ${r} twice in the arena list`);
    inRing[r] = 1;
    if (s[r * Seg.WORDS + Seg.APREV] !== prev)
      corrupt("VMEM-1", `record ${r}: aprev ${s[r * Seg.WORDS + Seg.APREV]}, expected ${prev}`);
    if (type(r) === SegType.ROTOR) rotors++;
    else if (type(r) === SegType.NONE) corrupt("VMEM-1", `free record ${r} in the arena list`);
    n++;
    prev = r;
    r = s[r * Seg.WORDS + Seg.ANEXT] as number;
    if (r === SEG0) {
      if (s[SEG0 * Seg.WORDS + Seg.APREV] !== prev) corrupt("VMEM-1", "the ring does not close");
      break;
    }
  }
  if (rotors !== 1 || type(ROTOR) !== SegType.ROTOR) corrupt("VMEM-1", `${rotors} rotors`);
  let freeRecords = 0;
  for (let r = a.segFree; r !== NIL; r = s[r * Seg.WORDS + Seg.KNEXT] as number) {
    if (r < 0 || r >= records || inRing[r] || type(r) !== SegType.NONE)
      corrupt("VMEM-1", `bad free record ${r}`);
    if (++freeRecords > records) corrupt("VMEM-1", "the free-record list loops");
  }
  if (freeRecords !== a.nsegFree || n + freeRecords !== records) {
    corrupt(
      "VMEM-1",
      `${n} records in the list and ${freeRecords} free of ${records} (free count ${a.nsegFree})`,
    );
  }

  // VMEM-2, 3, 6, 8: walk spans and their segments.
  let total = 0;
  let imported = 0;
  let inUse = 0;
  let allocated = 0;
  let prevSpanEnd = -1;
  let span = NIL;
  let cursor = 0;
  let prevType = SegType.SPAN as number;
  let spanSegs = 0;
  let spanFreeSegs = 0;
  let spanRotor = false;
  const spans: number[] = [];
  const tagged = new Map<number, { start: number; size: number }>();
  const closeSpan = () => {
    if (span === NIL) return;
    if (cursor !== end(span))
      corrupt("VMEM-2", `span [${start(span)}, ${end(span)}) is tiled only up to ${cursor}`);
    // (The rotor beside its one free segment keeps a span from being released.)
    if (
      spanSegs === 1 &&
      spanFreeSegs === 1 &&
      !spanRotor &&
      (type(span) & SegType.IMPORTED) !== 0 &&
      a.releases
    ) {
      corrupt(
        "VMEM-8",
        `imported span [${start(span)}, ${end(span)}) is all free but was not released`,
      );
    }
  };
  for (
    let r = s[SEG0 * Seg.WORDS + Seg.ANEXT] as number;
    r !== SEG0;
    r = s[r * Seg.WORDS + Seg.ANEXT] as number
  ) {
    const t = type(r);
    if (t === SegType.ROTOR) {
      if (span === NIL) continue;
      prevType = SegType.ROTOR;
      spanRotor = true;
      continue;
    }
    if ((t & SegType.SPAN) !== 0) {
      closeSpan();
      span = r;
      spans.push(r);
      if (start(r) < prevSpanEnd || end(r) <= start(r)) {
        corrupt("VMEM-2", `span [${start(r)}, ${end(r)}) overlaps or precedes the previous one`);
      }
      if (start(r) % q !== 0 || end(r) % q !== 0)
        corrupt("VMEM-2", `span [${start(r)}, ${end(r)}) not aligned to the quantum`);
      prevSpanEnd = end(r);
      cursor = start(r);
      total += end(r) - start(r);
      if ((t & SegType.IMPORTED) !== 0) imported += end(r) - start(r);
      prevType = SegType.SPAN;
      spanSegs = 0;
      spanFreeSegs = 0;
      spanRotor = false;
      continue;
    }
    if (span === NIL) corrupt("VMEM-2", `segment [${start(r)}, ${end(r)}) before any span`);
    if (start(r) !== cursor || end(r) <= start(r) || end(r) % q !== 0) {
      corrupt("VMEM-2", `segment [${start(r)}, ${end(r)}) does not continue the span at ${cursor}`);
    }
    cursor = end(r);
    spanSegs++;
    if (t === SegType.FREE) {
      spanFreeSegs++;
      if (prevType === SegType.FREE) corrupt("VMEM-3", `free segments meet at ${start(r)}`);
    } else if (t === SegType.ALLOC) {
      inUse += end(r) - start(r);
      allocated++;
      const slab = s[r * Seg.WORDS + Seg.SLAB] as number;
      if (slab !== NIL) tagged.set(slab, { start: start(r), size: end(r) - start(r) });
    } else {
      corrupt("VMEM-1", `record ${r} has type ${t}`);
    }
    prevType = t;
  }
  closeSpan();
  if (total !== a.memTotal || imported !== a.memImport || inUse !== a.memInUse) {
    corrupt(
      "VMEM-6",
      `spans ${total}, imported ${imported}, allocated ${inUse}; counted ${a.memTotal}, ${a.memImport}, ${a.memInUse}`,
    );
  }

  // VMEM-7: the span list.
  let i = 0;
  for (
    let sp = s[SEG0 * Seg.WORDS + Seg.KNEXT] as number, prev = SEG0;
    ;
    sp = s[sp * Seg.WORDS + Seg.KNEXT] as number
  ) {
    if (s[sp * Seg.WORDS + Seg.KPREV] !== prev)
      corrupt("VMEM-7", `span record ${sp} has a bad kprev`);
    if (sp === SEG0) break;
    if (spans[i] !== sp)
      corrupt("VMEM-7", `span list entry ${i} is record ${sp}, expected ${spans[i]}`);
    i++;
    prev = sp;
  }
  if (i !== spans.length) corrupt("VMEM-7", `span list has ${i} spans, the arena ${spans.length}`);

  // VMEM-4: freelists and freemap.
  const onList = new Uint8Array(records);
  for (let k = 0; k < FREELISTS; k++) {
    const bit = k < 32 ? (a.freemapLo >>> k) & 1 : (a.freemapHi >>> (k - 32)) & 1;
    const head = a.flHead[k] as number;
    if ((head !== NIL) !== (bit === 1))
      corrupt(
        "VMEM-4",
        `freelist ${k} ${head === NIL ? "empty" : "non-empty"} but freemap bit ${bit}`,
      );
    for (
      let r = head, prev = NIL;
      r !== NIL;
      prev = r, r = s[r * Seg.WORDS + Seg.KNEXT] as number
    ) {
      if (r < 0 || r >= records || !inRing[r] || type(r) !== SegType.FREE)
        corrupt("VMEM-4", `freelist ${k} holds record ${r}, not a free segment`);
      if (onList[r]) corrupt("VMEM-4", `record ${r} twice on the freelists`);
      onList[r] = 1;
      if (s[r * Seg.WORDS + Seg.KPREV] !== prev)
        corrupt("VMEM-4", `freelist ${k}: record ${r} has a bad kprev`);
      if (highbit(end(r) - start(r)) - 1 !== k)
        corrupt("VMEM-4", `segment of size ${end(r) - start(r)} on freelist ${k}`);
    }
  }
  for (let r = 0; r < records; r++) {
    if (inRing[r] && type(r) === SegType.FREE && !onList[r])
      corrupt("VMEM-4", `free segment [${start(r)}, ${end(r)}) on no freelist`);
  }

  // VMEM-5: the hash.
  let hashed = 0;
  const inHash = new Uint8Array(records);
  for (let k = 0; k < a.buckets.length; k++) {
    for (let r = a.buckets[k] as number; r !== NIL; r = s[r * Seg.WORDS + Seg.KNEXT] as number) {
      if (r < 0 || r >= records || !inRing[r] || type(r) !== SegType.ALLOC)
        corrupt("VMEM-5", `hash bucket ${k} holds record ${r}, not an allocated segment`);
      if (inHash[r]) corrupt("VMEM-5", `record ${r} twice in the hash`);
      inHash[r] = 1;
      if (a.bucketOf(start(r)) !== k)
        corrupt(
          "VMEM-5",
          `segment at ${start(r)} in bucket ${k}, belongs in ${a.bucketOf(start(r))}`,
        );
      hashed++;
    }
  }
  if (hashed !== allocated || hashed !== a.nalloc) {
    corrupt(
      "VMEM-5",
      `hash holds ${hashed}, arena has ${allocated} allocated segments, count ${a.nalloc}`,
    );
  }

  if (a.qc !== null) a.qc.verify(tagged);
  else if (tagged.size > 0) corrupt("QCACHE-1", "slab segments in an arena without quantum caches");
}
