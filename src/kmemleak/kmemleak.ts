/*
 * kmemleak (Linux mm/kmemleak.c): every slab object, kmalloc_large block and vmalloc area
 * this context allocates is recorded; a scan is a conservative tracing collection over
 * them. The roots are the instance's anchors in the header (as a kernel's globals are),
 * what the caller names (values it holds, ranges of memory to read) and the objects
 * marked not-a-leak; every 4-byte aligned word of a reached object that
 * points at the start of, or inside, a recorded object reaches that one too. Objects left
 * unreached are reported in kmemleak's form:
 *
 *   unreferenced object 0x00012340 (size 64):
 *     comm "cpu0", pid 0, jiffies 17 (cache kmalloc-64)
 *     hex dump (first 32 bytes):
 *       01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
 *       00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
 *     backtrace (crc 0):
 *       at ...                                (the allocating caller's JS stack)
 *
 * ("jiffies" is the allocation's sequence number in this context.) A conservative scan
 * errs both ways: a word that happens to hold an object's address keeps it (a false
 * negative: a leak not reported), and a pointer kept where the scan does not look (a JS
 * variable not passed as a root, another context's objects, page-allocator blocks, which
 * kmemleak does not track either) leaves its object unreached (a false positive).
 *
 * Locks: none; the records are this context's own, memory is read as it is.
 */

import { Hdr, type PhysMem } from "../memory/index.js";
import { addrHex, captureStack, ReportLog, stackLines } from "../kasan/index.js";

/** A range of memory kmemleak reads as a root. */
export interface KmemleakRange {
  addr: number;
  size: number;
}

/** One object a scan found unreferenced. */
export interface KmemleakLeak {
  addr: number;
  size: number;
  /** The cache name, "kmalloc_large" or "vmalloc". */
  cache: string;
  /** Allocation sequence number in this context. */
  seq: number;
  /** The allocating caller's stack, outermost last. */
  stack: string[];
  /** The first (up to 32) bytes. */
  bytes: Uint8Array;
  /** The report text of this object. */
  report: string;
}

interface Rec {
  size: number;
  cache: string;
  seq: number;
  stack: Error;
  /** Marked not-a-leak (kmemleak_not_leak): a root, never reported. */
  notLeak: boolean;
  /** Cleared (echo clear): not reported again. */
  cleared: boolean;
}

export class Kmemleak {
  readonly log = new ReportLog(1);
  private readonly objects = new Map<number, Rec>();
  private seq = 0;
  private readonly physEnd: number;
  private readonly ps: number;

  constructor(
    private readonly phys: PhysMem,
    private readonly translate: (addr: number) => number,
    private readonly cpu: number,
  ) {
    this.physEnd = phys.totalPages * phys.pageSize;
    this.ps = phys.pageSize;
  }

  add(addr: number, size: number, cache: string): void {
    this.objects.set(addr, {
      size,
      cache,
      seq: ++this.seq,
      stack: captureStack(),
      notLeak: false,
      cleared: false,
    });
  }

  remove(addr: number): void {
    this.objects.delete(addr);
  }

  resize(addr: number, size: number): void {
    const r = this.objects.get(addr);
    if (r !== undefined) r.size = size;
  }

  /** kmemleak_not_leak; false when `addr` is not a recorded object. */
  notLeak(addr: number): boolean {
    const r = this.objects.get(addr);
    if (r === undefined) return false;
    r.notLeak = true;
    return true;
  }

  /** echo clear: the objects unreferenced now are not reported again. */
  clear(roots: readonly (number | KmemleakRange)[] = []): void {
    for (const leak of this.unreached(roots)) (this.objects.get(leak) as Rec).cleared = true;
  }

  /** Objects recorded now. */
  get size(): number {
    return this.objects.size;
  }

  /** The last scan's counts: objects tracked, unreferenced, reported (not cleared); or null. */
  private last: { tracked: number; unreferenced: number; reported: number } | null = null;

  /** The state mm.report("kmemleak") ends with: objects tracked, the last scan's counts. */
  summary(): string {
    const l = this.last;
    return l === null
      ? `kmemleak: ${this.objects.size} objects tracked; no scan yet\n`
      : `kmemleak: ${this.objects.size} objects tracked; last scan: ${l.tracked} objects scanned, ` +
          `${l.tracked - l.unreferenced} referenced, ${l.unreferenced} unreferenced, ${l.reported} new suspected memory leaks\n`;
  }

  /** A scan: the unreferenced objects, oldest first; the text kept for report("kmemleak"). */
  scan(roots: readonly (number | KmemleakRange)[] = []): KmemleakLeak[] {
    const leaks: KmemleakLeak[] = [];
    const unreached = this.unreached(roots);
    for (const addr of unreached) {
      const r = this.objects.get(addr) as Rec;
      if (r.cleared) continue;
      const stack = stackLines(r.stack);
      const bytes = this.readRange(addr, Math.min(32, r.size));
      const lines = [
        `unreferenced object 0x${addrHex(addr)} (size ${r.size}):`,
        `  comm "cpu${this.cpu}", pid 0, jiffies ${r.seq} (cache ${r.cache})`,
        `  hex dump (first ${bytes.length} bytes):`,
      ];
      for (let i = 0; i < bytes.length; i += 16) {
        const row = bytes.subarray(i, i + 16);
        const hexes = Array.from(row, (b) => b.toString(16).padStart(2, "0")).join(" ");
        const text = Array.from(row, (b) =>
          b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".",
        ).join("");
        lines.push(`    ${hexes.padEnd(47)}  ${text}`);
      }
      lines.push("  backtrace (crc 0):", ...stack.map((l) => `   ${l}`));
      leaks.push({
        addr,
        size: r.size,
        cache: r.cache,
        seq: r.seq,
        stack,
        bytes,
        report: lines.join("\n") + "\n",
      });
    }
    leaks.sort((a, b) => a.seq - b.seq);
    this.last = {
      tracked: this.objects.size,
      unreferenced: unreached.length,
      reported: leaks.length,
    };
    this.log.clear();
    this.log.add(leaks.map((l) => l.report).join(""));
    return leaks;
  }

  /** The addresses of the recorded objects no root reaches. */
  private unreached(roots: readonly (number | KmemleakRange)[]): number[] {
    const starts = [...this.objects.keys()].sort((a, b) => a - b);
    const ends = starts.map((a) => a + Math.max(1, (this.objects.get(a) as Rec).size));
    const reached = new Uint8Array(starts.length);
    const grey: number[] = [];
    const mark = (v: number): void => {
      // The last object starting at or below v.
      let lo = 0;
      let hi = starts.length - 1;
      let k = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if ((starts[mid] as number) <= v) {
          k = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      if (k >= 0 && v < (ends[k] as number) && reached[k] === 0) {
        reached[k] = 1;
        grey.push(k);
      }
    };
    const scanRange = (addr: number, size: number): void => {
      const bytes = this.readRange(addr, size);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = (4 - (addr & 3)) & 3; i + 4 <= bytes.length; i += 4) mark(dv.getUint32(i, true));
    };
    // The instance's own anchors are roots, as a kernel's globals are: the header words
    // that hold its upper layers' descriptors (vmalloc's, zsmalloc's, the slab caches').
    scanRange(Hdr.ROOTS * 4, Hdr.NR_ROOTS * 4);
    for (const root of roots) {
      if (typeof root === "number") mark(root);
      else scanRange(root.addr, root.size);
    }
    starts.forEach((a, k) => {
      if ((this.objects.get(a) as Rec).notLeak && reached[k] === 0) {
        reached[k] = 1;
        grey.push(k);
      }
    });
    while (grey.length > 0) {
      const k = grey.pop() as number;
      const a = starts[k] as number;
      scanRange(a, (this.objects.get(a) as Rec).size);
    }
    return starts.filter((_, k) => reached[k] === 0);
  }

  /** A copy of [addr, addr + size): physical, or virtual page by page ("" where unmapped). */
  private readRange(addr: number, size: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, size));
    if (addr >= 0 && addr + size <= this.physEnd) {
      out.set(this.phys.bytes.subarray(addr, addr + size));
      return out;
    }
    for (let i = 0; i < size;) {
      const a = addr + i;
      const n = Math.min(size - i, this.ps - (a % this.ps));
      const p = this.translate(a);
      if (p >= 0) out.set(this.phys.bytes.subarray(p, p + n), i);
      i += n;
    }
    return out;
  }
}
