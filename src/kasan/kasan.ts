/*
 * KASAN, generic mode (Linux mm/kasan/generic.c, common.c, quarantine.c, report.c): every
 * access through the checked accessors is tested against the shadow (shadow.ts); every
 * allocator poisons what it takes back and unpoisons what it hands out; freed slab
 * objects wait in a quarantine before SLUB may reuse them.
 *
 *   allocation                   unpoisoned                   poisoned
 *   slab object (SLUB)           [obj, obj + requested)       the rest of its slot: 0xFC
 *   kmalloc_large (pages)        [addr, addr + requested)     the rest of the block: 0xFE
 *   allocPages                   the whole block              --
 *   vmalloc                      each page, the last up to    the last page's tail: 0xF8
 *                                the requested size
 *   free                         --                           slab object 0xFB (into the
 *                                                             quarantine), pages 0xFF
 *
 * The hooks are installed on an instance with KASAN only (src/sanitize/install.ts): an
 * instance without it runs the code it always ran. SLUB caches of a KASAN instance carry
 * red zones (slub_debug Z), as generic KASAN adds them to every cache, so that the bytes
 * left of an object are a red zone too and SLUB's free-time checks run as well.
 *
 * The quarantine (quarantine.c) is per context: a FIFO of freed objects, still allocated
 * as far as SLUB knows, given back oldest first once it holds more than its byte budget,
 * at once when a cache is destroyed or the slabs are shrunk. A use after free is then
 * caught even where SLUB would have handed the object out again; a second free of an
 * object in it is a double free.
 *
 * Report (report.c), thrown as KmemError KASAN and kept for mm.report("kasan"):
 *
 *   ==================================================================
 *   BUG: KASAN: slab-out-of-bounds in getUint8
 *   Read of size 1 at addr 00012373 by task cpu0
 *
 *   The buggy address belongs to the object at 00012300
 *    which belongs to the cache kmalloc-128 of size 128
 *   The buggy address is located 0 bytes to the right of
 *    allocated 115-byte region [00012300, 00012373)
 *   ...                                  (allocation and free stacks, with `stacks`)
 *   Memory state around the buggy address:
 *    00012280: 00 00 ...
 *   >00012300: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 03 fc
 *                                                        ^
 *   ==================================================================
 *
 * Locks: none of its own. The shadow is shared: a context poisons and unpoisons only what
 * it allocates or frees, as the allocator's own locks make that object its alone at that
 * moment; the quarantine is the context's own.
 */

import { KmemError } from "../errors.js";
import { largePages } from "../kmalloc/index.js";
import { Frame, Pg, PgFlag, type PhysMem } from "../memory/index.js";
import type { KmemCache } from "../slab-common/index.js";
import type { SlubAllocator } from "../slub/index.js";
import { SlabAllocator, slabStart } from "../slab/index.js";
import { addrHex, callerStack, captureStack, ReportLog, RULE, stackLines } from "./report.js";
import { badValue, firstBad, poison, Shadow, unpoison } from "./shadow.js";

/** The slab object a buggy address belongs to (for reports). */
export interface SlabObject {
  /** Its start. */
  obj: number;
  /** Its cache's name, and the object size the report gives. */
  cache: string;
  size: number;
}

/** What KASAN needs of the instance's layers. */
export interface KasanEnv {
  readonly phys: PhysMem;
  /** vmalloc space [vstart, vend). */
  readonly vstart: number;
  readonly vend: number;
  /** The physical address behind a virtual one, or -1 when its page is not mapped. */
  translate(addr: number): number;
  /**
   * The real (un-hooked) free of a slab object: kmem_cache_free, or kfree's (`c` null: a
   * kmalloc object of SLOB, which has no cache).
   */
  realFree(c: KmemCache | null, addr: number, viaKfree: boolean): void;
  /** The slab object at or nearest below `addr` in its slab page; null outside slab pages. */
  objectAt(addr: number): SlabObject | null;
}

/** SLUB's and SLAB's objectAt: slot arithmetic in the slab holding `addr`. */
export function slubObjectAt(
  slub: SlubAllocator,
  addr: number,
  pageSize: number,
): SlabObject | null {
  const head = slub.slabOf(addr);
  if (head === 0) return null;
  const c = slub.slabCache(head);
  // A SLAB slab's objects start at its colour (src/slab/slabs.ts), a SLUB slab's at its page.
  const base = slub instanceof SlabAllocator ? slabStart(slub, head) : head * pageSize;
  const i = Math.max(0, Math.floor((addr - base) / c.size));
  return { obj: base + i * c.size + c.redLeft, cache: c.name, size: c.coreObjectSize };
}

interface Freed {
  size: number;
  stack: Error | null;
}

export class Kasan {
  readonly sh: Uint8Array;
  readonly log = new ReportLog();
  private readonly lo: number;
  /** The end of the present memory (memory hotplug moves it: the shadow covers the room). */
  private physEnd: number;
  private readonly pageSize: number;
  private readonly cpu: number;
  /** Quarantine: objects, their caches, kfree or not, their bytes; a FIFO from `qHead`. */
  private qAddr: number[] = [];
  private qCache: (KmemCache | null)[] = [];
  private qKfree: boolean[] = [];
  private qSize: number[] = [];
  private qHead = 0;
  private qBytes = 0;
  readonly quarantineLimit: number;
  /** Objects freed by this context and not reused since: size and free stack. */
  private readonly freed = new Map<number, Freed>();
  /** Allocation stacks by object (with `stacks`). */
  private readonly allocStacks: Map<number, Error> | null;
  /** vmalloc ranges this context freed, [start, end) pairs, the last 64. */
  private readonly vfreed: number[] = [];

  constructor(
    private readonly env: KasanEnv,
    shadowAddr: number,
    shadowBytes: number,
    quarantine: number | undefined,
    stacks: boolean,
    cpu: number,
  ) {
    const phys = env.phys;
    this.sh = new Uint8Array(phys.buffer, phys.offset + shadowAddr, shadowBytes);
    this.lo = phys.firstManagedPfn * phys.pageSize;
    this.physEnd = phys.totalPages * phys.pageSize;
    phys.resized.push(() => {
      this.physEnd = phys.totalPages * phys.pageSize;
    });
    this.pageSize = phys.pageSize;
    this.cpu = cpu;
    const bytes = phys.managedPages * phys.pageSize;
    this.quarantineLimit = quarantine ?? Math.min(Math.floor(bytes / 32), 1 << 20);
    this.allocStacks = stacks ? new Map() : null;
  }

  /** A new instance: every managed page is free until handed out. */
  initShadow(): void {
    this.sh.fill(Shadow.PAGE_FREE);
  }

  /* ------------------------------------------------------------------ slab objects */

  /** A slab object of `c` was handed out for `size` bytes (kasan_slab_alloc / kmalloc). */
  objectAllocated(c: KmemCache, addr: number, size: number): void {
    const slot = addr - c.redLeft;
    const sh = this.sh;
    if (c.redLeft > 0) sh.fill(Shadow.SLAB_REDZONE, slot >>> 3, addr >>> 3);
    unpoison(sh, addr, size);
    poison(sh, addr + size, slot + c.size, Shadow.SLAB_REDZONE);
    this.freed.delete(addr);
    if (this.allocStacks !== null) this.allocStacks.set(addr, captureStack());
  }

  /**
   * A SLOB block handed out at `addr` for `size` of its `usable` bytes: the rest of the
   * block is a red zone (its slack), the block header before it stays as it was.
   */
  blockAllocated(addr: number, size: number, usable: number): void {
    unpoison(this.sh, addr, size);
    poison(this.sh, addr + size, addr + usable, Shadow.SLAB_REDZONE);
    this.freed.delete(addr);
    if (this.allocStacks !== null) this.allocStacks.set(addr, captureStack());
  }

  /** A block of another allocator (the classic ones) freed: its `bytes` poisoned as freed. */
  blockPoisoned(addr: number, bytes: number): void {
    this.sh.fill(Shadow.SLAB_FREE, addr >>> 3, (addr + bytes + 7) >>> 3);
    this.freed.set(addr, {
      size: bytes,
      stack: this.allocStacks === null ? null : captureStack(),
    });
  }

  /**
   * A free of slab object `addr` of `c` (kfree when `viaKfree`): a double or invalid free
   * is reported; else the object is poisoned and quarantined. `check` throws as the
   * allocator's free would for an object that is not live.
   */
  objectFree(c: KmemCache, addr: number, viaKfree: boolean, fn: string, check: () => void): void {
    this.checkFree(addr, fn, check);
    this.quarantine(c, addr, c.coreObjectSize, viaKfree);
  }

  /**
   * Before a slab object is freed: a second free (its shadow says freed) or a free the
   * allocator's `check` refuses (INVALID_FREE, DOUBLE_FREE) is reported.
   */
  checkFree(addr: number, fn: string, check: () => void): void {
    if (this.sh[addr >>> 3] === Shadow.SLAB_FREE) this.badFree("double-free", addr, fn);
    try {
      check();
    } catch (err) {
      if (err instanceof KmemError && (err.code === "INVALID_FREE" || err.code === "DOUBLE_FREE")) {
        this.badFree(err.code === "DOUBLE_FREE" ? "double-free" : "invalid-free", addr, fn);
      }
      throw err;
    }
  }

  /**
   * A checked free of slab object `addr` of `size` bytes (of cache `c`, null for SLOB's
   * kmalloc): poisoned, and into the quarantine (the allocator frees it later).
   */
  quarantine(c: KmemCache | null, addr: number, size: number, viaKfree: boolean): void {
    this.freed.set(addr, {
      size: this.liveSize(addr, size),
      stack: this.allocStacks === null ? null : captureStack(),
    });
    this.sh.fill(Shadow.SLAB_FREE, addr >>> 3, (addr + size + 7) >>> 3);
    if (this.quarantineLimit === 0) {
      this.env.realFree(c, addr, viaKfree);
      return;
    }
    this.qAddr.push(addr);
    this.qCache.push(c);
    this.qKfree.push(viaKfree);
    this.qSize.push(size);
    this.qBytes += size;
    while (this.qBytes > this.quarantineLimit) this.releaseOldest();
  }

  /** The size the object at `addr` was allocated with, read from its shadow. */
  private liveSize(addr: number, max: number): number {
    const sh = this.sh;
    let n = 0;
    for (let g = addr >>> 3; n < max; g++) {
      const v = sh[g] as number;
      if (v === 0) n += 8;
      else return v < 8 ? n + v : n;
    }
    return Math.min(n, max);
  }

  private releaseOldest(): void {
    const i = this.qHead++;
    const addr = this.qAddr[i] as number;
    const c = this.qCache[i] as KmemCache | null;
    const kfree = this.qKfree[i] as boolean;
    this.qBytes -= this.qSize[i] as number;
    if (this.qHead > 256 && this.qHead * 2 > this.qAddr.length) {
      this.qAddr = this.qAddr.slice(this.qHead);
      this.qCache = this.qCache.slice(this.qHead);
      this.qKfree = this.qKfree.slice(this.qHead);
      this.qSize = this.qSize.slice(this.qHead);
      this.qHead = 0;
    }
    // SLUB's own checks run now (red zones with slub_debug): damage found is logged
    // (it is not the fault of the free that made room).
    try {
      this.env.realFree(c, addr, kfree);
    } catch (err) {
      this.log.add(
        `${RULE}\nkasan: quarantined object ${addrHex(addr)}: ${String(err)}\n${RULE}\n`,
      );
    }
  }

  /**
   * Empties the quarantine (of cache `c` only, when given: kasan_cache_shutdown). Returns
   * the objects given back.
   */
  drain(c: KmemCache | null = null): number {
    let n = 0;
    if (c === null) {
      while (this.qHead < this.qAddr.length) {
        this.releaseOldest();
        n++;
      }
      this.qAddr = [];
      this.qCache = [];
      this.qKfree = [];
      this.qSize = [];
      this.qHead = 0;
      return n;
    }
    const keepA: number[] = [];
    const keepC: (KmemCache | null)[] = [];
    const keepK: boolean[] = [];
    const keepS: number[] = [];
    for (let i = this.qHead; i < this.qAddr.length; i++) {
      const qc = this.qCache[i] as KmemCache | null;
      if (qc !== null && qc.realId === c.realId) {
        this.qBytes -= this.qSize[i] as number;
        this.env.realFree(qc, this.qAddr[i] as number, this.qKfree[i] as boolean);
        n++;
      } else {
        keepA.push(this.qAddr[i] as number);
        keepC.push(qc);
        keepK.push(this.qKfree[i] as boolean);
        keepS.push(this.qSize[i] as number);
      }
    }
    this.qAddr = keepA;
    this.qCache = keepC;
    this.qKfree = keepK;
    this.qSize = keepS;
    this.qHead = 0;
    return n;
  }

  /**
   * The state mm.report("kasan") ends with: the reports made, the quarantine, and the
   * shadow's granules by value (what is accessible, red zone, freed, free pages).
   */
  summary(): string {
    const q = this.quarantined();
    const counts = new Float64Array(256);
    const sh = this.sh;
    const first = this.lo >>> 3;
    const end = Math.min(sh.length, this.physEnd >>> 3);
    for (let g = first; g < end; g++) {
      const v = sh[g] as number;
      counts[v] = (counts[v] as number) + 1;
    }
    let partial = 0;
    for (let v = 1; v < 8; v++) partial += counts[v] as number;
    const kinds: [string, number][] = [
      ["accessible", counts[0] as number],
      ["partial", partial],
      ["slab red zone", counts[Shadow.SLAB_REDZONE] as number],
      ["slab freed", counts[Shadow.SLAB_FREE] as number],
      ["page red zone", counts[Shadow.PAGE_REDZONE] as number],
      ["vmalloc red zone", counts[Shadow.VMALLOC_INVALID] as number],
      ["page free", counts[Shadow.PAGE_FREE] as number],
    ];
    const granules = end - first;
    let other = granules;
    for (const [, n] of kinds) other -= n;
    if (other > 0) kinds.push(["other", other]);
    return (
      `kasan: ${this.log.count} report${this.log.count === 1 ? "" : "s"}; quarantine ${q.objects} objects, ${q.bytes} of ${this.quarantineLimit} bytes\n` +
      `shadow: ${sh.length} bytes, one per 8 bytes of memory; the ${granules} granules of managed memory: ` +
      kinds.map(([k, n]) => `${n} ${k}`).join(", ") +
      "\n"
    );
  }

  /** Objects and bytes in the quarantine. */
  quarantined(): { objects: number; bytes: number } {
    return { objects: this.qAddr.length - this.qHead, bytes: this.qBytes };
  }

  /** krealloc in place: the object (or large block) is now `size` of `usable` bytes. */
  resized(addr: number, size: number, usable: number, slab: boolean): void {
    unpoison(this.sh, addr, size);
    poison(this.sh, addr + size, addr + usable, slab ? Shadow.SLAB_REDZONE : Shadow.PAGE_REDZONE);
  }

  /** krealloc/ksize of a freed object is a use after free (kasan_check_byte). */
  checkByte(addr: number, fn: string): void {
    if (addr < this.lo || addr >= this.physEnd) return;
    const v = this.sh[addr >>> 3] as number;
    if (v === Shadow.SLAB_FREE || v === Shadow.PAGE_FREE) this.report(addr, 1, false, fn, addr);
  }

  /* ------------------------------------------------------------------ pages, vmalloc */

  /** A kmalloc_large block of `bytes` (whole pages) handed out for `size` bytes. */
  largeAllocated(addr: number, size: number, bytes: number): void {
    unpoison(this.sh, addr, size);
    poison(this.sh, addr + size, addr + bytes, Shadow.PAGE_REDZONE);
    this.freed.delete(addr);
    if (this.allocStacks !== null) this.allocStacks.set(addr, captureStack());
  }

  /** Before kfree of a kmalloc_large block: a second free is a double free. */
  largeFreeing(addr: number, fn: string): void {
    if (addr >= this.lo && addr < this.physEnd && this.sh[addr >>> 3] === Shadow.PAGE_FREE) {
      this.badFree("double-free", addr, fn);
    }
  }

  /** After a block of 2^order pages went back to the page allocator. */
  pagesFreed(addr: number, order: number, size = -1): void {
    this.blockFreed(addr, this.pageSize << order, size);
  }

  /** After a block of `bytes` (whole pages) went back to the page allocator. */
  blockFreed(addr: number, bytes: number, size = -1): void {
    if (size >= 0) {
      this.freed.set(addr, {
        size,
        stack: this.allocStacks === null ? null : captureStack(),
      });
    }
    this.sh.fill(Shadow.PAGE_FREE, addr >>> 3, (addr + bytes) >>> 3);
  }

  /** A block of 2^order pages handed out whole (allocPages). */
  pagesAllocated(addr: number, order: number): void {
    this.sh.fill(0, addr >>> 3, (addr + (this.pageSize << order)) >>> 3);
    this.freed.delete(addr);
  }

  /** A vmalloc area of `size` bytes at `addr` was mapped. */
  vmallocAllocated(addr: number, size: number): void {
    const ps = this.pageSize;
    for (let off = 0; off < size; off += ps) {
      const p = this.env.translate(addr + off);
      if (p < 0) continue;
      const n = Math.min(ps, size - off);
      unpoison(this.sh, p, n);
      poison(this.sh, p + n, p + ps, Shadow.VMALLOC_INVALID);
    }
    const end = addr + Math.ceil(size / ps) * ps;
    for (let i = 0; i < this.vfreed.length; i += 2) {
      if ((this.vfreed[i] as number) < end && (this.vfreed[i + 1] as number) > addr) {
        this.vfreed.splice(i, 2);
        i -= 2;
      }
    }
    if (this.allocStacks !== null) this.allocStacks.set(addr, captureStack());
  }

  /**
   * Swapped-out vmalloc pages (by page index in vmalloc space), each with its accessible
   * bytes: a page swapped back in gets its shadow again (src/swap frees the page and
   * brings the contents back in another one).
   */
  private readonly swapped = new Map<number, number>();

  /** The accessible bytes at the start of page `phys` (its leading unpoisoned granules). */
  accessibleBytes(phys: number): number {
    return this.liveSize(phys, this.pageSize);
  }

  /** Page `vpage` of vmalloc space (physical `phys`, `bytes` accessible) was swapped out. */
  pageSwappedOut(vpage: number, phys: number, bytes: number): void {
    this.swapped.set(vpage, bytes);
    this.sh.fill(Shadow.PAGE_FREE, phys >>> 3, (phys + this.pageSize) >>> 3);
  }

  /**
   * Page `vpage` is mapped at `phys` after a swap-in: the shadow it had when it was
   * swapped out; a page another context swapped out (a fresh page's shadow still says
   * free) becomes accessible whole. A page that was present already is left as it is.
   */
  pageSwappedIn(vpage: number, phys: number): void {
    const bytes = this.swapped.get(vpage);
    if (bytes === undefined && this.sh[phys >>> 3] !== Shadow.PAGE_FREE) return;
    this.swapped.delete(vpage);
    const n = bytes ?? this.pageSize;
    unpoison(this.sh, phys, n);
    poison(this.sh, phys + n, phys + this.pageSize, Shadow.VMALLOC_INVALID);
  }

  /** The physical pages of the vmalloc area at `addr` (before it is freed). */
  vmallocPages(addr: number): number[] {
    const pages: number[] = [];
    for (let a = addr; a < this.env.vend; a += this.pageSize) {
      const p = this.env.translate(a);
      if (p < 0) break;
      pages.push(p);
    }
    return pages;
  }

  /** After vfree: the pages are free, the range remembered for use-after-free reports. */
  vmallocFreed(addr: number, pages: number[]): void {
    for (const p of pages) this.sh.fill(Shadow.PAGE_FREE, p >>> 3, (p + this.pageSize) >>> 3);
    this.vfreed.push(addr, addr + pages.length * this.pageSize);
    if (this.vfreed.length > 128) this.vfreed.splice(0, 2);
    this.freed.set(addr, {
      size: pages.length * this.pageSize,
      stack: this.allocStacks === null ? null : captureStack(),
    });
  }

  /* ------------------------------------------------------------------ accesses */

  /**
   * Checks an access of `size` bytes at `addr` (physical or virtual) before it is made;
   * a bad one throws the report. Addresses the accessor itself refuses (the header, holes,
   * malformed ones) are left to it.
   */
  check(addr: number, size: number, write: boolean, fn: string): void {
    if (typeof addr !== "number" || size === 0) return;
    if (addr >= this.lo && addr + size <= this.physEnd) {
      const bad = firstBad(this.sh, addr, size);
      if (bad >= 0) this.report(addr, size, write, fn, bad);
      return;
    }
    const env = this.env;
    if (addr < env.vstart || addr + size > env.vend || !Number.isInteger(addr)) return;
    const ps = this.pageSize;
    for (let a = addr, end = addr + size; a < end;) {
      const next = Math.min(end, a - ((a - env.vstart) % ps) + ps);
      const p = env.translate(a);
      if (p < 0) this.reportVirtual(addr, size, write, fn, a);
      const bad = firstBad(this.sh, p, next - a);
      if (bad >= 0) this.report(addr, size, write, fn, bad, a + (bad - p));
      a = next;
    }
  }

  /**
   * Reports an access of `size` bytes at `addr` that no allocation can own (kmem's own
   * header and mem_map, reached by a WebAssembly module's load or store): Linux's
   * wild-memory-access, `what` saying where the address lies.
   */
  wild(addr: number, size: number, write: boolean, fn: string, what: string): never {
    const lines = this.head("wild-memory-access", fn);
    lines.push(this.accessLine(addr, size, write), "", `The buggy address lies in ${what}`);
    this.finish(lines);
  }

  /** An access that reached an unmapped vmalloc page: a guard page, or a freed area. */
  private reportVirtual(
    addr: number,
    size: number,
    write: boolean,
    fn: string,
    bad: number,
  ): never {
    let freed = -1;
    for (let i = 0; i < this.vfreed.length; i += 2) {
      if (bad >= (this.vfreed[i] as number) && bad < (this.vfreed[i + 1] as number)) {
        freed = this.vfreed[i] as number;
      }
    }
    const lines = this.head(freed >= 0 ? "use-after-free" : "vmalloc-out-of-bounds", fn);
    lines.push(this.accessLine(addr, size, write), "");
    if (freed >= 0) {
      const f = this.freed.get(freed);
      lines.push(
        `The buggy address belongs to the freed vmalloc area at ${addrHex(freed)}`,
        `The buggy address is located ${bad - freed} bytes inside of`,
        ` freed ${f?.size ?? 0}-byte region [${addrHex(freed)}, ${addrHex(freed + (f?.size ?? 0))})`,
      );
      this.stacksOf(freed, lines);
    } else {
      lines.push("The buggy address lies in an unmapped vmalloc page (a guard page or free space)");
    }
    this.finish(lines);
  }

  /**
   * Builds and throws the report of a bad access: `bad` the first physical byte at fault,
   * `badVirt` the same byte's virtual address when the access was to a virtual one.
   */
  private report(
    addr: number,
    size: number,
    write: boolean,
    fn: string,
    bad: number,
    badVirt = bad,
  ): never {
    const v = badValue(this.sh, bad);
    const inSlab = this.env.objectAt(bad) !== null;
    const kind =
      v === Shadow.SLAB_REDZONE || v === Shadow.PAGE_REDZONE
        ? "slab-out-of-bounds"
        : v === Shadow.SLAB_FREE
          ? "slab-use-after-free"
          : v === Shadow.PAGE_FREE
            ? inSlab
              ? "slab-out-of-bounds"
              : "use-after-free"
            : v === Shadow.VMALLOC_INVALID
              ? "vmalloc-out-of-bounds"
              : "wild-memory-access";
    const lines = this.head(kind, fn);
    lines.push(this.accessLine(addr, size, write), "");
    this.describe(bad, badVirt, lines);
    lines.push("", "Memory state around the buggy address:");
    this.shadowRows(bad, lines);
    this.finish(lines);
  }

  private head(kind: string, fn: string): string[] {
    return [RULE, `BUG: KASAN: ${kind} in ${fn}`];
  }

  private accessLine(addr: number, size: number, write: boolean): string {
    return `${write ? "Write" : "Read"} of size ${size} at addr ${addrHex(addr)} by task cpu${this.cpu}`;
  }

  private finish(lines: string[]): never {
    lines.push("", "Call trace:", ...callerStack(), RULE, "");
    const text = lines.join("\n");
    this.log.add(text);
    throw new KmemError("KASAN", text.slice(RULE.length + 1));
  }

  private badFree(kind: string, addr: number, fn: string): never {
    const lines = this.head(kind, fn);
    lines.push("");
    if (addr >= this.lo && addr < this.physEnd) this.describe(addr, addr, lines);
    this.finish(lines);
  }

  /** "The buggy address belongs to ...": the object or page holding physical `bad`. */
  private describe(bad: number, badVirt: number, lines: string[]): void {
    const o = this.env.objectAt(bad);
    const ps = this.pageSize;
    if (badVirt !== bad) {
      lines.push(`The buggy address ${addrHex(badVirt)} maps physical address ${addrHex(bad)}`);
    }
    if (o !== null && o.obj >= 0) {
      const obj = o.obj;
      const freed = this.sh[obj >>> 3] === Shadow.SLAB_FREE;
      const size = freed ? (this.freed.get(obj)?.size ?? o.size) : this.liveSize(obj, o.size);
      lines.push(
        `The buggy address belongs to the object at ${addrHex(obj)}`,
        ` which belongs to the cache ${o.cache} of size ${o.size}`,
        `The buggy address is located ${where(bad, obj, size)}`,
        ` ${freed ? "freed" : "allocated"} ${size}-byte region [${addrHex(obj)}, ${addrHex(obj + size)})`,
      );
      this.stacksOf(obj, lines);
      return;
    }
    const pfn = Math.floor(bad / ps);
    const f = this.env.phys.frames;
    let h = pfn;
    for (let o = 0; o < 20 && h >= 0; o++) {
      const flags = f[h * Frame.WORDS + Pg.FLAGS] as number;
      if ((flags & PgFlag.HEAD) !== 0 && pfn < h + (1 << (f[h * Frame.WORDS + Pg.ORDER] as number)))
        break;
      h = pfn & ~((2 << o) - 1);
    }
    const flags = f[h * Frame.WORDS + Pg.FLAGS] as number;
    if ((flags & PgFlag.KMALLOC) !== 0 && (flags & PgFlag.HEAD) !== 0) {
      // A large block of exact pages is several buddy blocks: the first holds its size.
      h = largeFirst(f, h);
      const start = h * ps;
      const size = this.liveSize(start, largePages(f, h) * ps);
      lines.push(
        `The buggy address belongs to the physical page: pfn ${h} (kmalloc_large, ${largePages(f, h)} pages)`,
        `The buggy address is located ${where(bad, start, size)}`,
        ` allocated ${size}-byte region [${addrHex(start)}, ${addrHex(start + size)})`,
      );
      this.stacksOf(start, lines);
      return;
    }
    const what =
      (flags & PgFlag.VMALLOC) !== 0
        ? "vmalloc"
        : (flags & (PgFlag.BUDDY | PgFlag.PCP)) !== 0 || flags === 0
          ? "free"
          : "allocated";
    lines.push(`The buggy address belongs to the physical page: pfn ${pfn} (${what})`);
    const fr = this.freed.get(h * ps);
    if (fr !== undefined) this.stacksOf(h * ps, lines);
  }

  private stacksOf(obj: number, lines: string[]): void {
    const a = this.allocStacks?.get(obj);
    if (a !== undefined) lines.push("", `Allocated by task cpu${this.cpu}:`, ...stackLines(a));
    const fr = this.freed.get(obj)?.stack;
    if (fr !== undefined && fr !== null) {
      lines.push("", `Freed by task cpu${this.cpu}:`, ...stackLines(fr));
    }
  }

  /** Five rows of 16 shadow bytes around `bad`'s, each row's memory address first. */
  private shadowRows(bad: number, lines: string[]): void {
    const g = bad >>> 3;
    const row = g - (g % 16);
    for (let r = row - 32; r <= row + 32; r += 16) {
      if (r < 0 || r >= this.sh.length) continue;
      const bytes: string[] = [];
      for (let i = r; i < r + 16 && i < this.sh.length; i++) {
        bytes.push((this.sh[i] as number).toString(16).padStart(2, "0"));
      }
      lines.push(`${r === row ? ">" : " "}${addrHex(r * 8)}: ${bytes.join(" ")}`);
      if (r === row) lines.push(" ".repeat(addrHex(r * 8).length + 3 + (g - row) * 3) + "^");
    }
  }
}

/** The first buddy block of the large kmalloc whose block (of its pieces) starts at `pfn`. */
function largeFirst(f: Int32Array, pfn: number): number {
  return largePages(f, pfn) === 0 ? (f[pfn * Frame.WORDS + Pg.OWNER + 1] as number) : pfn;
}

function where(bad: number, start: number, size: number): string {
  if (bad < start) return `${start - bad} bytes to the left of`;
  if (bad >= start + size) return `${bad - start - size} bytes to the right of`;
  return `${bad - start} bytes inside of`;
}
