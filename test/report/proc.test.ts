/*
 * /proc formats are an interface: golden text for a fixed history. 4 MiB, 4 KiB pages:
 * 1015 managed pages; allocate order 0 (the per-cpu list refills one page), allocate order
 * 3, free the order-0 page (it stays on the per-cpu list).
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kmem } from "../../src/index.js";

function history(): Kmem {
  const mm = new Kmem({ memory: 4 << 20 });
  const a = mm.allocPages(0);
  mm.allocPages(3);
  mm.freePages(a, 0);
  return mm;
}

describe("reports", () => {
  it("buddyinfo: 'Node 0, zone   Normal ' then %6lu per order", () => {
    assert.equal(
      history().report("buddyinfo"),
      "Node 0, zone   Normal      0      1      1      1      0      1      1      1      1      1      0 \n",
    );
  });

  it("meminfo: labels padded to 16 columns, values %8lu kB", () => {
    assert.equal(
      history().report("meminfo"),
      [
        "MemTotal:           4060 kB",
        "MemFree:            4028 kB",
        "MemAvailable:       3656 kB",
        "Slab:                  0 kB",
        "SReclaimable:          0 kB",
        "SUnreclaim:            0 kB",
        "PageTables:            0 kB",
        "VmallocTotal:          0 kB",
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
        "nr_free_pages 1006",
        "nr_free_pcp 1",
        "nr_slab_reclaimable 0",
        "nr_slab_unreclaimable 0",
        "nr_page_table_pages 0",
        "pgalloc_normal 9",
        "pgfree 1",
        "allocstall_normal 0",
        "pageoutrun 0",
        "pgalloc_fail 0",
        "pcp_drain 0",
        "fault_injected 0",
        "kswapd_wake 0",
        "",
      ].join("\n"),
    );
  });

  it("unusable_index and extfrag_index as debugfs prints them", () => {
    const mm = history();
    assert.equal(
      mm.report("unusable_index"),
      "Node 0, zone   Normal 0.000 0.000 0.001 0.005 0.013 0.013 0.045 0.109 0.236 0.491 1.000 \n",
    );
    assert.equal(
      mm.report("extfrag_index"),
      "Node 0, zone   Normal -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000  0.753 \n",
    );
  });

  it("slabinfo: the version 2.1 header", () => {
    const text = history().report("slabinfo");
    assert.match(text, /^slabinfo - version: 2\.1\n# name {12}<active_objs> <num_objs> <objsize>/);
  });

  it("stats() agrees with the reports", () => {
    const s = history().stats();
    assert.equal(s.totalPages, 1024);
    assert.equal(s.managedPages, 1015);
    assert.equal(s.reservedPages, 9);
    assert.equal(s.freePages, 1007);
    assert.equal(s.buddyFreePages, 1006);
    assert.equal(s.pcpPages, 1);
    assert.deepEqual(s.freeByOrder, [0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0]);
    assert.equal(s.events.pgalloc_normal, 9);
    assert.equal(s.events.pgfree, 1);
    assert.deepEqual(s.caches, []);
  });
});
