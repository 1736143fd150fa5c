/*
 * kmalloc_large: requests beyond what the object allocator serves go straight to the page
 * allocator as one block of 2^order pages, its head frame flagged HEAD | KMALLOC so that
 * kfree and ksize recognise it (and tell it from pages taken with allocPages). Shared by
 * the SLUB and SLOB kmalloc front ends.
 */

import { hex, KmemError } from "../errors.js";
import { Frame, Hdr, HdrOption, Pg, PgFlag, type PhysMem, Vm } from "../memory/index.js";
import { type BuddyAllocator, Gfp } from "../page/index.js";

export class LargeKmalloc {
  private readonly buddy: BuddyAllocator;
  private readonly f: Int32Array;
  private readonly pageSize: number;
  private readonly pageShift: number;
  private readonly maxOrder: number;
  private readonly firstAddr: number;
  private readonly endAddr: number;
  /** init_on_alloc: every block is zeroed. */
  private readonly initOnAlloc: boolean;

  constructor(phys: PhysMem, buddy: BuddyAllocator) {
    this.buddy = buddy;
    this.f = phys.frames;
    this.pageSize = phys.pageSize;
    this.pageShift = phys.pageShift;
    this.maxOrder = phys.maxOrder;
    this.firstAddr = phys.firstManagedPfn * phys.pageSize;
    this.endAddr = phys.totalPages * phys.pageSize;
    this.initOnAlloc = ((phys.header[Hdr.OPTIONS] as number) & HdrOption.INIT_ON_ALLOC) !== 0;
  }

  /**
   * Whole pages for `size` bytes, on node `nid` (-1: where the memory policy says); 0 when
   * the order is too large or memory is short. Zeroed with init_on_alloc, as every
   * allocation is.
   */
  alloc(size: number, gfp: number, nid = -1): number {
    const pages = Math.ceil(size / this.pageSize);
    const order = pages <= 1 ? 0 : 32 - Math.clz32(pages - 1);
    if (order >= this.maxOrder) return 0;
    const addr = this.buddy.allocPagesNode(nid, order, this.initOnAlloc ? gfp | Gfp.ZERO : gfp);
    if (addr === 0) return 0;
    const i = (addr >>> this.pageShift) * Frame.WORDS;
    this.f[i + Pg.FLAGS] = (this.f[i + Pg.FLAGS] as number) | PgFlag.KMALLOC;
    this.buddy.ev[Vm.KMALLOC_LARGE]!++;
    return addr;
  }

  /** Frees a large allocation; `fn` names the caller in errors. */
  free(addr: number, fn: string): void {
    const order = this.order(addr, fn);
    const i = (addr >>> this.pageShift) * Frame.WORDS;
    this.f[i + Pg.FLAGS] = PgFlag.HEAD;
    this.buddy.freePages(addr, order);
  }

  /** The order of the large allocation at `addr`; a KmemError if it is not one. */
  order(addr: number, fn: string): number {
    if (addr < this.firstAddr || addr >= this.endAddr) {
      throw new KmemError(
        "INVALID_FREE",
        `${fn}(${hex(addr)}): the address is outside managed memory`,
      );
    }
    const pfn = addr >>> this.pageShift;
    const flags = this.f[pfn * Frame.WORDS + Pg.FLAGS] as number;
    if ((addr & (this.pageSize - 1)) === 0 && flags === (PgFlag.HEAD | PgFlag.KMALLOC)) {
      return this.f[pfn * Frame.WORDS + Pg.ORDER] as number;
    }
    // Memory that is free (an object whose slab page went back, too): as kfree of a freed object.
    if ((flags & (PgFlag.BUDDY | PgFlag.PCP)) !== 0) {
      throw new KmemError("DOUBLE_FREE", `${fn}(${hex(addr)}): the memory is already free`);
    }
    if (flags === PgFlag.HEAD) {
      throw new KmemError(
        "INVALID_FREE",
        `${fn}(${hex(addr)}): these pages came from allocPages, not kmalloc (free them with freePages)`,
      );
    }
    throw new KmemError("INVALID_FREE", `${fn}(${hex(addr)}): not an address kmalloc returned`);
  }
}
