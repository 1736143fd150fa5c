/*
 * A worker of test/smp/kill.test.ts: attaches, prepares (what it allocates goes into the
 * ledger, so that the main thread can count it after the worker is gone), stops at the
 * `debugger` statement below, runs one operation, and raises the done flag. The main thread
 * steps it statement by statement through the operation with the inspector and kills it
 * after N steps.
 *
 * ledger: [0] done flag, [1] count, [2..] addresses the worker holds (pages: address * 16 +
 * order; objects: address * 16 + 15; zsmalloc handles of pool "kp": handle * 16 + 14; objects
 * of cache "kt": address * 16 + 13; vmalloc areas: address * 16 + 12).
 */

import { workerData } from "node:worker_threads";
import { Kmem, SLAB_NO_MERGE } from "../../src/index.js";
import { Hdr } from "../../src/memory/index.js";

interface Job {
  buffer: SharedArrayBuffer;
  ledger: SharedArrayBuffer;
  op: string;
  /** Objects the main thread allocated for the worker to free (cache-flush, cache-free-locked). */
  objs: SharedArrayBuffer;
  /** The zram ops' backing store (kill.test.ts backingStore). */
  backing: SharedArrayBuffer;
}

const job = workerData as Job;
const mm = Kmem.attach(job.buffer);
const ledger = new Int32Array(job.ledger);
const OBJECT = 15;
const HANDLE = 14;
const CACHE_OBJECT = 13;
const VMALLOC_AREA = 12;
const objs = new Int32Array(job.objs);

function hold(addr: number, order: number): number {
  const n = ledger[1] as number;
  ledger[2 + n] = addr * 16 + order;
  ledger[1] = n + 1;
  return addr;
}

/** Pages onto this cpu's per-cpu list until it holds `count` (freed pages stay in it). */
function fillPcp(count: number): void {
  const pages: number[] = [];
  for (let i = 0; i < count; i++) pages.push(mm.allocPages(0));
  for (const p of pages) mm.freePages(p, 0);
}

/** A backing store over a shared buffer of pages. */
function backingStore(buf: SharedArrayBuffer) {
  const bytes = new Uint8Array(buf);
  return {
    pages: buf.byteLength / 4096,
    read: (block: number, into: Uint8Array) =>
      into.set(bytes.subarray(block * 4096, (block + 1) * 4096)),
    write: (block: number, from: Uint8Array) => bytes.set(from, block * 4096),
  };
}

let op: () => void;
switch (job.op) {
  case "alloc0-refill": // this cpu's list is empty: a batch comes from the buddy lists
    op = () => void mm.allocPages(0);
    break;
  case "alloc0": {
    fillPcp(4);
    op = () => void mm.allocPages(0);
    break;
  }
  case "free0": {
    const p = hold(mm.allocPages(0), 0);
    op = () => mm.freePages(p, 0);
    break;
  }
  case "free0-drain": {
    // The list one below its high mark: the free pushes a batch back to the buddy lists.
    const high = new Int32Array(job.buffer, 0, Hdr.PCP_HIGH + 1)[Hdr.PCP_HIGH] as number;
    const pages: number[] = [];
    for (let i = 0; i < high; i++) pages.push(mm.allocPages(0));
    mm.drainPages();
    for (let i = 1; i < high; i++) mm.freePages(pages[i] as number, 0);
    const p = hold(pages[0] as number, 0);
    op = () => mm.freePages(p, 0);
    break;
  }
  case "alloc3":
    op = () => void mm.allocPages(3);
    break;
  case "free3": {
    const p = hold(mm.allocPages(3), 3);
    op = () => mm.freePages(p, 3);
    break;
  }
  case "kmalloc": {
    hold(mm.kmalloc(64), OBJECT);
    op = () => void mm.kmalloc(64);
    break;
  }
  case "kmalloc-grown": {
    // kmalloc-2k's slabs grew (the main thread's 40 blocks): a new slab of two pages.
    op = () => void hold(mm.kmalloc(2048), OBJECT);
    break;
  }
  case "kfree": {
    const a = hold(mm.kmalloc(64), OBJECT);
    hold(mm.kmalloc(64), OBJECT);
    op = () => mm.kfree(a);
    break;
  }
  case "zs-malloc": {
    // Pool "kp" (made by the main thread) has no object of this class: a zspage is made.
    const pool = mm.findZsPool("kp");
    if (pool === null) throw new Error("no pool kp");
    op = () => void hold(pool.malloc(100), HANDLE);
    break;
  }
  case "zs-free": {
    // The zspage's only object: its pages go back under the pool's lock.
    const pool = mm.findZsPool("kp");
    if (pool === null) throw new Error("no pool kp");
    const handle = hold(pool.malloc(100), HANDLE);
    op = () => pool.free(handle);
    break;
  }
  case "zram-discard": {
    // Slot 0 of "z0" holds a compressed page (written by the main thread): its object is
    // freed under the slot lock, then its handle.
    const z = mm.findZram("z0");
    if (z === null) throw new Error("no zram z0");
    op = () => z.discard(0);
    break;
  }
  case "zram-writeback": {
    // Slot 0 of "z0" is idle (slot 1 was read since): its page goes to a backing block,
    // the slot's object freed, the slot made ZRAM_WB.
    const z = mm.findZram("z0");
    if (z === null) throw new Error("no zram z0");
    z.setBackingStore(backingStore(job.backing));
    op = () => void z.writeback("idle");
    break;
  }
  case "zram-discard-wb": {
    // Slot 0 of "z0" is written back: its block's bit cleared under the bitmap lock.
    const z = mm.findZram("z0");
    if (z === null) throw new Error("no zram z0");
    z.setBackingStore(backingStore(job.backing));
    op = () => z.discard(0);
    break;
  }
  case "zs-map": {
    // objs[0]: a handle of pool "kp" in a sparse zspage (the main thread's): mapped, read,
    // unmapped.
    const pool = mm.findZsPool("kp");
    if (pool === null) throw new Error("no pool kp");
    const h = objs[0] as number;
    op = () => {
      const at = pool.map(h, "ro");
      void mm.read(at, 4);
      pool.unmap(h);
    };
    break;
  }
  case "zram-write": {
    // Slot 0 of "z0" holds a compressed page: a new one (zeros but its last byte: quick to
    // compress, to a few bytes) goes into an object of a new zspage of the smallest class,
    // stored under the slot lock, and the old object freed.
    const z = mm.findZram("z0");
    if (z === null) throw new Error("no zram z0");
    const page = new Uint8Array(4096);
    page[4095] = 2;
    op = () => void z.write(0, page);
    break;
  }
  case "slab-grow": // SLAB cache "ks" has no slab: the refill grows one, then takes from it
  case "slab-refill": {
    // (slab-refill: "ks" has a partial slab: the refill takes its free objects)
    const c = mm.findCache("ks");
    if (c === null) throw new Error("no cache ks");
    op = () => void hold(c.alloc(), CACHE_OBJECT);
    break;
  }
  case "slab-refill-shared": {
    // Nine frees: this cpu's array at its limit flushes four objects to the shared array;
    // five allocations empty the array; the next refills it from the shared array.
    const c = mm.findCache("ks");
    if (c === null) throw new Error("no cache ks");
    for (let k = 0; k < 9; k++) c.free(objs[k] as number);
    for (let k = 0; k < 5; k++) hold(c.alloc(), CACHE_OBJECT);
    op = () => void hold(c.alloc(), CACHE_OBJECT);
    break;
  }
  case "slab-drain-shared": {
    // Nine frees fill the array and flush four objects to the shared array; then
    // kmem_cache_shrink drains this cpu's array and the shared array back to the slabs.
    const c = mm.findCache("ks");
    if (c === null) throw new Error("no cache ks");
    for (let k = 0; k < 9; k++) c.free(objs[k] as number);
    op = () => void c.shrink();
    break;
  }
  case "slab-flush": // the array full (limit 8): half of it to the shared array
  case "slab-free-block": {
    // (slab-free-block: no shared array: back to the slabs under the list_lock, free_block)
    const c = mm.findCache("ks");
    if (c === null) throw new Error("no cache ks");
    for (let k = 0; k < 8; k++) c.free(objs[k] as number);
    op = () => c.free(objs[8] as number);
    break;
  }
  case "cache-new": // cache "kt" has no slab: a new one is made, counted and frozen
  case "cache-partial": {
    // cache "kt" has a partial slab (the main thread's): taken off the list and frozen
    const c = mm.findCache("kt");
    if (c === null) throw new Error("no cache kt");
    op = () => void hold(c.alloc(), CACHE_OBJECT);
    break;
  }
  case "cache-flush": {
    // objs: objects of a full slab of "kt", not this cpu's: the first fill the sheaf, the
    // next free flushes half of it back under the list_lock (the slab goes partial).
    const c = mm.findCache("kt");
    if (c === null) throw new Error("no cache kt");
    const cap = (c as unknown as { sheafCap: number }).sheafCap;
    for (let k = 0; k < cap; k++) c.free(objs[k] as number);
    op = () => c.free(objs[cap] as number);
    break;
  }
  case "cache-free-locked": {
    // cache "kd" (no per-cpu caching: no sheaf): a remote free goes to the slab under the list_lock
    const c = mm.findCache("kd");
    if (c === null) throw new Error("no cache kd");
    op = () => c.free(objs[0] as number);
    break;
  }
  case "vmalloc": // three pages, a record split from the free space, maybe a table
    op = () => void hold(mm.vmalloc(3 * 4096), VMALLOC_AREA);
    break;
  case "vfree-zone": // (no per-cpu lists: each page freed goes to the zone, under its lock)
  case "vfree": {
    // The area's pages and record go back, merging with the free space after it.
    const a = hold(mm.vmalloc(3 * 4096), VMALLOC_AREA);
    op = () => mm.vfree(a);
    break;
  }
  case "pool-free": {
    // objs: [0] the pool's address, [1] an element it gave from its reserve: the free puts
    // it back in the reserve (sorted) under the mempool lock.
    const pool = mm.openMempool(objs[0] as number);
    op = () => pool.free(objs[1] as number);
    break;
  }
  case "pool-alloc": {
    // The allocator fails (failslab, this context's): the element comes from the reserve.
    const pool = mm.openMempool(objs[0] as number);
    mm.setFault("failslab", { probability: 100, times: 1, verbose: 0 });
    op = () => void hold(pool.alloc(), OBJECT);
    break;
  }
  /* slab_mutex: the registry (caches made, merged, destroyed), and SLOB's lock. */
  case "cache-create": // a cache of its own: a descriptor allocated, written and linked
    op = () => void mm.createCache("kn", 96, { flags: SLAB_NO_MERGE });
    break;
  case "cache-alias": // merged into "kt": an alias descriptor, kt's count raised
    op = () => void mm.createCache("ka", 56);
    break;
  case "cache-destroy-remote": // (the main thread's sheaf and cpu slab of "kz" flushed too)
  case "cache-destroy": {
    // "kz" (the main thread's) has a partial slab; this cpu's slab of it too: both go back.
    const c = mm.findCache("kz");
    if (c === null) throw new Error("no cache kz");
    c.free(c.alloc());
    op = () => c.destroy();
    break;
  }
  case "cache-destroy-alias": {
    // "ka", an alias of "kt": its name dropped, its descriptor released.
    const c = mm.findCache("ka");
    if (c === null) throw new Error("no cache ka");
    op = () => c.destroy();
    break;
  }
  /* SLAB under slab_mutex: a cache made with its array block, destroyed, tuned. */
  case "slab-drain-numa": {
    // Two nodes: node 0's shared array of "ks" holds objects of node 1's slabs (the main
    // thread's, a refill's fallback to node 1 flushed there); kmem_cache_shrink on this cpu
    // (node 1's) drains it: node 0's objects back to their slabs under node 0's lock, node
    // 1's under node 1's.
    const c = mm.findCache("ks");
    if (c === null) throw new Error("no cache ks");
    op = () => void c.shrink();
    break;
  }
  case "slab-cache-create": // a SLAB cache, its array block made and tuned (in place)
    op = () => {
      mm.createCache("kn", 96, { flags: SLAB_NO_MERGE });
      mm.tuneCache("kn", { limit: 16, batchcount: 8, shared: 2 });
    };
    break;
  case "slab-cache-destroy": {
    // "kz" (the main thread's, OFF_SLAB: index arrays in slab-freelist-N, slabs and objects
    // in arrays left): its slabs, index arrays, block and descriptor go.
    const c = mm.findCache("kz");
    if (c === null) throw new Error("no cache kz");
    op = () => c.destroy();
    break;
  }
  case "slab-alien": {
    // Two nodes: this cpu is node 1's, objs are node 0's. Twelve fill this cpu's alien
    // array for node 0; the thirteenth drains it into node 0's shared array and slabs
    // (node 0's list_lock), then goes in.
    const c = mm.findCache("ks");
    if (c === null) throw new Error("no cache ks");
    for (let k = 0; k < 12; k++) c.free(objs[k] as number);
    op = () => c.free(objs[12] as number);
    break;
  }
  case "slab-tune": {
    // "ks": this cpu's array at its limit (8); tuned to 4 in place, 4 objects drain back.
    const c = mm.findCache("ks");
    if (c === null) throw new Error("no cache ks");
    for (let k = 0; k < 8; k++) c.free(objs[k] as number);
    op = () => mm.tuneCache("ks", { limit: 4, batchcount: 2, shared: 2 });
    break;
  }
  case "slab-tune-grow": {
    // "ks": this cpu takes the main thread's cpu offline (its context is done with the
    // instance), so that it is the only online cpu: a tune to a limit past the arrays' room
    // (120) makes a new block. Nine frees fill its array (limit 8) and flush four objects to
    // the shared array; the tune drains both, makes the block (the node records copied in),
    // publishes it and frees the old one, under slab_mutex and SLAB's array intent record.
    mm.offlineCpu(0);
    const c = mm.findCache("ks");
    if (c === null) throw new Error("no cache ks");
    for (let k = 0; k < 9; k++) c.free(objs[k] as number);
    op = () => mm.tuneCache("ks", { limit: 124, batchcount: 8, shared: 1 });
    break;
  }
  case "slob-kmalloc": // SLOB: first fit, a page split (a new page when none has room)
    hold(mm.kmalloc(200), OBJECT);
    op = () => void hold(mm.kmalloc(200), OBJECT);
    break;
  case "slob-kfree": {
    // The object's units merge with their free neighbours; the page's last one frees it.
    const a = hold(mm.kmalloc(100), OBJECT);
    op = () => mm.kfree(a);
    break;
  }
  case "slob-alloc": {
    // An object of SLOB cache "kt" (aligned blocks on the small list).
    const c = mm.findCache("kt");
    if (c === null) throw new Error("no cache kt");
    op = () => void hold(c.alloc(), CACHE_OBJECT);
    break;
  }
  case "slob-create": // a SLOB cache: its descriptor a block of the boot cache, linked
    op = () => void mm.createCache("kn", 96);
    break;
  case "slob-destroy": {
    // "kz" (the main thread's, no live object): unlinked, its descriptor block freed.
    const c = mm.findCache("kz");
    if (c === null) throw new Error("no cache kz");
    op = () => c.destroy();
    break;
  }
  case "heap-grow": // the heap has no chunk yet: one is taken and put in
    op = () => void hold(mm.kmalloc(3000), OBJECT);
    break;
  case "heap-alloc": {
    // A chunk with room: a free block is split.
    hold(mm.kmalloc(3000), OBJECT);
    op = () => void hold(mm.kmalloc(3000), OBJECT);
    break;
  }
  case "heap-free": {
    // Its neighbours on both sides are free: the three merge (the cache's bin of their
    // size is full, so that a, c and b go to the free lists).
    const a = mm.kmalloc(3000);
    const b = hold(mm.kmalloc(3000), OBJECT);
    const c = mm.kmalloc(3000);
    hold(mm.kmalloc(3000), OBJECT);
    const fill = [0, 1, 2, 3].map(() => mm.kmalloc(3000));
    hold(mm.kmalloc(3000), OBJECT);
    for (const x of fill) mm.kfree(x);
    mm.kfree(a);
    mm.kfree(c);
    op = () => mm.kfree(b);
    break;
  }
  // The kmalloc heap's cache of freed blocks: a free into it, an allocation from it.
  case "heap-free-cached": {
    const b = hold(mm.kmalloc(3000), OBJECT);
    hold(mm.kmalloc(3000), OBJECT);
    op = () => mm.kfree(b);
    break;
  }
  case "heap-alloc-cached": {
    hold(mm.kmalloc(3000), OBJECT);
    mm.kfree(mm.kmalloc(3000));
    op = () => void hold(mm.kmalloc(3000), OBJECT);
    break;
  }
  case "heap-free-chunk": {
    // A spare chunk is kept already: the chunk this free empties goes back.
    const first = [0, 1, 2, 3].map(() => mm.kmalloc(16000));
    const last = hold(mm.kmalloc(16000), OBJECT);
    for (const a of first) mm.kfree(a);
    op = () => mm.kfree(last);
    break;
  }
  case "heap-realloc": {
    // The next block is free: the block grows into it.
    const a = hold(mm.kmalloc(3000), OBJECT);
    const b = mm.kmalloc(3000);
    hold(mm.kmalloc(3000), OBJECT);
    mm.kfree(b);
    op = () => void mm.krealloc(a, 5000);
    break;
  }
  // The kmalloc large-run cache (src/kmalloc/large-cache.ts): a free into it, a take from it.
  case "large-free-cached": {
    const b = hold(mm.kmalloc(20000), OBJECT);
    op = () => mm.kfree(b);
    break;
  }
  case "large-alloc":
    // 5 pages: an order-3 block cut back, its last 3 pages freed under the zone lock.
    op = () => void hold(mm.kmalloc(20000), OBJECT);
    break;
  case "large-alloc-cached":
    mm.kfree(mm.kmalloc(20000));
    op = () => void hold(mm.kmalloc(20000), OBJECT);
    break;
  default:
    throw new Error(`unknown op ${job.op}`);
}
// Node loads its Web Crypto bindings on the first getRandomValues (thousands of statements
// of its own JavaScript): done here, so that the steps are kmem's (a cache's secret).
globalThis.crypto.getRandomValues(new Uint32Array(1));
// eslint-disable-next-line no-debugger
debugger;
op();
Atomics.store(ledger, 0, 1);
