/*
 * vmalloc's invariant checker: VM-1, VM-6 and VM-7 over the descriptor, the areas and the
 * page tables (listed in vmalloc.ts's header; VM-2 is pgtable.ts's, VM-3..VM-5 areas.ts's).
 * It reads the layer's state and changes nothing.
 */

import { hex, KmemError } from "../errors.js";
import { Frame, Hdr, Pg, PgFlag } from "../memory/index.js";
import { PgVm, VaFlag, VmDesc } from "./layout.js";
import type { Vmalloc } from "./vmalloc.js";

function corrupt(id: string, what: string): never {
  throw new KmemError("CORRUPTION", `${id}: ${what}`);
}

/** Checks VM-1, VM-6 and VM-7; `isObject` says whether an address is a live kmalloc object. */
export function verifyVmalloc(v: Vmalloc, isObject: (addr: number) => boolean): void {
  const f = v.f;
  const managed = v.phys.firstManagedPfn;
  const total = v.phys.totalPages;
  const desc = (v.h[Hdr.VMALLOC] as number) >>> 0;
  let vmallocFrames = 0;
  let tableFrames = 0;
  for (let pfn = managed; pfn < total; pfn++) {
    const flags = f[pfn * Frame.WORDS + Pg.FLAGS] as number;
    if ((flags & PgFlag.VMALLOC) !== 0) vmallocFrames++;
    if ((flags & PgFlag.PGTABLE) !== 0) tableFrames++;
  }
  if (desc !== v.desc) {
    corrupt("VM-1", `header[VMALLOC] is ${hex(desc)}, the instance's descriptor ${hex(v.desc)}`);
  }
  if (desc === 0) {
    if (vmallocFrames !== 0 || tableFrames !== 0) {
      corrupt(
        "VM-1",
        `no vmalloc descriptor, yet ${vmallocFrames} VMALLOC and ${tableFrames} PGTABLE frames`,
      );
    }
    return;
  }
  const d = v.d;
  if (
    !isObject(desc) ||
    d[VmDesc.MAGIC] !== VmDesc.MAGIC_VALUE ||
    d[VmDesc.START_PAGE] !== v.start / v.pageSize ||
    d[VmDesc.NR_PAGES] !== v.nrPages ||
    d[VmDesc.LEVELS] !== v.geometry.levels ||
    ((d[VmDesc.PGD] as number) * v.pageSize) / 4 !== v.pt.pgd
  ) {
    corrupt("VM-1", "the vmalloc descriptor's magic, geometry or pgd is wrong");
  }
  const swapEntries = new Map<number, number>();
  const leaves = v.pt.verify(managed, total, v.nrPages, (page, e) => {
    swapEntries.set(page, e);
  });
  const busy = v.areas.verify(v.nrPages, isObject);
  const swappable: [number, number, number][] = [];
  let mapped = 0;
  let owned = 0;
  let swapped = 0;
  for (const rec of busy) {
    const start = v.areas.start(rec);
    const guard = start + v.areas.pages(rec) - 1;
    const vmalloc = v.areas.flags(rec) === VaFlag.VMALLOC;
    const swaps = vmalloc && v.areas.swappable(rec);
    if (swaps) swappable.push([rec, start, guard]);
    const at = hex(v.start + start * v.pageSize);
    if (v.pt.lookup(guard) >= 0 || swapEntries.has(guard))
      corrupt("VM-6", `the guard page of the area at ${at} is mapped`);
    for (let page = start; page < guard; page++) {
      const phys = v.pt.lookup(page);
      if (phys < 0 && swaps && swapEntries.has(page)) {
        swapped++;
        continue;
      }
      if (phys < 0) corrupt("VM-6", `page ${page - start} of the area at ${at} is not mapped`);
      const pfn = phys / v.pageSize;
      if (vmalloc) {
        const i = pfn * Frame.WORDS;
        if (
          f[i + Pg.FLAGS] !== (PgFlag.HEAD | PgFlag.VMALLOC) ||
          f[i + Pg.ORDER] !== 0 ||
          f[i + PgVm.VM_PAGE] !== page ||
          f[i + PgVm.VM_AREA] !== rec
        ) {
          corrupt(
            "VM-6",
            `page ${page - start} of the vmalloc area at ${at} maps frame ${pfn}, which is not its page`,
          );
        }
        owned++;
      } else {
        const owner = pfn >= managed ? v.buddy.ownerOf(pfn) : null;
        if (owner === null || (owner.flags & PgFlag.HEAD) === 0) {
          corrupt(
            "VM-6",
            `page ${page - start} of the vmap area at ${at} maps frame ${pfn}, which is not allocated`,
          );
        }
      }
      mapped++;
    }
  }
  if (mapped !== leaves) {
    corrupt("VM-6", `${leaves} pages are mapped but the areas account for ${mapped}`);
  }
  if (swapped !== swapEntries.size) {
    corrupt(
      "VM-6",
      `${swapEntries.size} swap entries are in the tables but the swappable areas account for ${swapped}`,
    );
  }
  if (v.swap !== null) v.swap.verify(swapEntries, swappable);
  else if (swappable.length > 0 || swapEntries.size > 0) {
    corrupt("VM-6", "swappable areas exist but this context has no swap layer");
  }
  if (d[VmDesc.NR_VMALLOC] !== owned || vmallocFrames !== owned) {
    corrupt(
      "VM-7",
      `nr_vmalloc is ${d[VmDesc.NR_VMALLOC]}, the vmalloc areas hold ${owned} pages and ${vmallocFrames} frames are VMALLOC`,
    );
  }
}
