/*
 * /proc formats are an interface: golden text for a fixed history. 4 MiB, 4 KiB pages,
 * Linux's kmalloc size classes:
 * 1015 managed pages, two of them the slabs of cache descriptors (kmem_cache); allocate
 * order 0 (the per-cpu list refills one page), allocate order 3, free the order-0 page (it
 * stays on the per-cpu list).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem } from "../../src/index.js";

function history(): Kmem {
  const mm = new Kmem({ memory: 4 << 20, sizeClasses: "linux" });
  const a = mm.allocPages(0);
  mm.allocPages(3);
  mm.freePages(a, 0);
  return mm;
}

describe("reports", () => {
  it("buddyinfo: 'Node 0, zone   Normal ' then %6lu per order", () => {
    assert.equal(
      history().report("buddyinfo"),
      "Node 0, zone   Normal      0      0      1      1      0      1      1      1      1      1      0 \n",
    );
  });

  it("meminfo: labels padded to 16 columns, values %8lu kB", () => {
    assert.equal(
      history().report("meminfo"),
      [
        "MemTotal:           4060 kB",
        "MemFree:            4016 kB",
        "MemAvailable:       3644 kB",
        "Active:                0 kB",
        "Inactive:              0 kB",
        "SwapTotal:             0 kB",
        "SwapFree:              0 kB",
        "Zswap:                 0 kB",
        "Zswapped:              0 kB",
        "Slab:                  8 kB",
        "SReclaimable:          0 kB",
        "SUnreclaim:            8 kB",
        "PageTables:            0 kB",
        "VmallocTotal:       8192 kB",
        "VmallocUsed:           0 kB",
        "VmallocChunk:          0 kB",
        "",
      ].join("\n"),
    );
  });

  it("vmstat: one 'name value' line per counter", () => {
    assert.equal(
      history().report("vmstat"),
      [
        "nr_free_pages 1004",
        "nr_free_pcp 1",
        "nr_slab_reclaimable 0",
        "nr_slab_unreclaimable 2",
        "nr_vmalloc 0",
        "nr_page_table_pages 0",
        "pgalloc_normal 11",
        "pgfree 1",
        "allocstall_normal 0",
        "pageoutrun 0",
        "pgalloc_fail 0",
        "pcp_drain 0",
        "fault_injected 0",
        "kswapd_wake 0",
        "slab_alloc_slowpath 2",
        "slab_free_slowpath 0",
        "slab_new 2",
        "slab_discard 0",
        "slab_errors 0",
        "kmalloc_large 0",
        "vmalloc_alloc 0",
        "vmalloc_fail 0",
        "vmalloc_free 0",
        "vmap 0",
        "vunmap 0",
        "pgtable_alloc 0",
        "pgtable_free 0",
        "pswpin 0",
        "pswpout 0",
        "zswpin 0",
        "zswpout 0",
        "pgscan_kswapd 0",
        "pgscan_direct 0",
        "pgsteal_kswapd 0",
        "pgsteal_direct 0",
        "pgactivate 0",
        "pgdeactivate 0",
        "pgmajfault 0",
        "oom_kill 0",
        "swap_fail 0",
        "",
      ].join("\n"),
    );
  });

  it("unusable_index and extfrag_index as debugfs prints them", () => {
    const mm = history();
    assert.equal(
      mm.report("unusable_index"),
      "Node 0, zone   Normal 0.000 0.000 0.000 0.003 0.011 0.011 0.043 0.107 0.235 0.490 1.000 \n",
    );
    assert.equal(
      mm.report("extfrag_index"),
      "Node 0, zone   Normal -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000  0.718 \n",
    );
  });

  it("vmallocinfo: range with the guard page, size, caller, pages=, kind, N0=", () => {
    // 4 MiB of memory: VMALLOC_START = (4 MiB + 8 MiB) & ~(8 MiB - 1) = 8 MiB.
    const mm = history();
    assert.equal(mm.report("vmallocinfo"), "");
    const a = mm.vmalloc(3 * 4096 + 1);
    mm.vzalloc(4096);
    const pages = [mm.allocPages(0), mm.allocPages(0)];
    mm.vmap(pages);
    assert.equal(
      mm.report("vmallocinfo"),
      [
        "0x00800000-0x00805000   20480 vmalloc pages=4 vmalloc N0=4",
        "0x00805000-0x00807000    8192 vzalloc pages=1 vmalloc N0=1",
        "0x00807000-0x0080a000   12288 vmap vmap",
        "",
      ].join("\n"),
    );
    mm.vfree(a);
    mm.vmalloc(4096); // best fit: the 5-page hole a left, not the space after the vmap
    assert.match(mm.report("vmallocinfo"), /^0x00800000-0x00802000 {4}8192 vmalloc pages=1 /);
    const meminfo = mm.report("meminfo");
    assert.match(meminfo, /^PageTables: {12}8 kB$/m); // the pgd and one table
    assert.match(meminfo, /^VmallocTotal: {7}8192 kB$/m);
    assert.match(meminfo, /^VmallocUsed: {11}8 kB$/m); // two pages: vmap's are not vmalloc's
    const vmstat = mm.report("vmstat");
    assert.match(vmstat, /^nr_vmalloc 2$/m);
    assert.match(vmstat, /^nr_page_table_pages 2$/m);
    assert.match(vmstat, /^vmalloc_alloc 3$/m);
    assert.match(vmstat, /^vmalloc_free 1$/m);
    assert.match(vmstat, /^vmap 1$/m);
    const s = mm.stats();
    assert.equal(s.vmallocPages, 2);
    assert.equal(s.pageTablePages, 2);
    mm.verify();
  });

  it("slabinfo: the version 2.1 header, a line per cache, aliases as comments", () => {
    const mm = history();
    const dentry = mm.createCache("dentry", 192);
    const objs = [dentry?.alloc(), dentry?.alloc(), mm.kmalloc(100)];
    assert.ok(objs.every((a) => a !== 0));
    mm.createCache("dentry_copy", 190); // merged into dentry
    const text = mm.report("slabinfo");
    assert.match(text, /^slabinfo - version: 2\.1\n# name {12}<active_objs> <num_objs> <objsize>/);
    const lines = text.split("\n");
    assert.ok(
      lines.includes(
        "dentry                 2     21    192   21    1 : tunables    0    0    0 : slabdata      1      1      0",
      ),
      text,
    );
    assert.ok(
      lines.includes(
        "kmalloc-128            1     32    128   32    1 : tunables    0    0    0 : slabdata      1      1      0",
      ),
      text,
    );
    assert.ok(lines.includes("# alias dentry_copy -> dentry"));
  });

  it("stats() agrees with the reports", () => {
    const s = history().stats();
    assert.equal(s.totalPages, 1024);
    assert.equal(s.managedPages, 1015);
    assert.equal(s.reservedPages, 9);
    assert.equal(s.freePages, 1005);
    assert.equal(s.buddyFreePages, 1004);
    assert.equal(s.pcpPages, 1);
    assert.equal(s.slabPages, 2);
    assert.deepEqual(s.freeByOrder, [0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0]);
    assert.equal(s.events.pgalloc_normal, 11);
    assert.equal(s.events.pgfree, 1);
    assert.deepEqual(
      s.caches.map((c) => c.name),
      [
        "kmem_meta-8192",
        "kmem_meta-2048",
        "kmem_meta-512",
        "kmem_meta-128",
        "kmem_meta-32",
        "kmem_meta-16",
        "kmalloc-8k",
        "kmalloc-4k",
        "kmalloc-2k",
        "kmalloc-1k",
        "kmalloc-512",
        "kmalloc-256",
        "kmalloc-192",
        "kmalloc-128",
        "kmalloc-96",
        "kmalloc-64",
        "kmalloc-32",
        "kmalloc-16",
        "kmalloc-8",
        "kmem_cache",
      ],
    );
  });
});
