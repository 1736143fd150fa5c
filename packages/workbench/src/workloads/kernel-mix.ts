/*
 * `kernel-mix`: object sizes and lifetimes shaped like the slab caches of a busy Linux box.
 *
 * Sizes are the objsize column of /proc/slabinfo on x86_64 Linux 6.x for each cache (the
 * kmalloc-N rows draw sizes between the class below and N). The shares of allocations follow
 * the shape `slabtop` shows on a busy file or web server, not any one measurement: dentries,
 * buffer heads and inodes are the largest populations, then vm_area_struct, filp,
 * anon_vma_chain and the small kmalloc classes, with a thin tail of large objects.
 *
 * Lifetimes come in three kinds:
 *   cache      dentries, inodes, buffer heads, radix-tree nodes: long-lived (mean 20,000
 *              steps), and every SHRINK_EVERY steps a shrinker frees the oldest quarter of
 *              them at once (as memory pressure does through the dcache/icache shrinkers)
 *   process    vm_area_struct, anon_vma_chain, filp, task_struct...: mean 2,000 steps
 *   transient  skbuffs and most kmalloc memory: mean 30 steps
 */

import { Prng } from "../prng.js";
import type { TraceSource } from "../source.js";
import { EventQueue, TraceBuilder } from "./builder.js";
import { exponential, pickWeighted, uniform } from "./dist.js";

const enum Life {
  Cache = 0,
  Process = 1,
  Transient = 2,
}

/** name, smallest size, largest size (equal for a named cache), share of allocations, lifetime. */
const CACHES: readonly [string, number, number, number, Life][] = [
  ["dentry", 192, 192, 20, Life.Cache],
  ["buffer_head", 104, 104, 14, Life.Cache],
  ["inode_cache", 600, 600, 4, Life.Cache],
  ["ext4_inode_cache", 1184, 1184, 6, Life.Cache],
  ["radix_tree_node", 576, 576, 4, Life.Cache],
  ["kernfs_node_cache", 128, 128, 2, Life.Cache],
  ["vm_area_struct", 200, 200, 7, Life.Process],
  ["anon_vma_chain", 64, 64, 6, Life.Process],
  ["anon_vma", 104, 104, 2, Life.Process],
  ["filp", 256, 256, 5, Life.Process],
  ["mm_struct", 1152, 1152, 0.3, Life.Process],
  ["task_struct", 9856, 9856, 0.2, Life.Process],
  ["skbuff_head_cache", 232, 232, 5, Life.Transient],
  ["kmalloc-8", 1, 8, 2, Life.Transient],
  ["kmalloc-16", 9, 16, 2, Life.Transient],
  ["kmalloc-32", 17, 32, 3, Life.Transient],
  ["kmalloc-64", 33, 64, 5, Life.Transient],
  ["kmalloc-128", 65, 128, 3, Life.Transient],
  ["kmalloc-192", 129, 192, 2, Life.Process],
  ["kmalloc-256", 193, 256, 2, Life.Transient],
  ["kmalloc-512", 257, 512, 2.5, Life.Transient],
  ["kmalloc-1k", 513, 1024, 1.5, Life.Transient],
  ["kmalloc-2k", 1025, 2048, 1.5, Life.Transient],
  ["kmalloc-4k", 2049, 4096, 0.6, Life.Process],
  ["kmalloc-8k", 4097, 8192, 0.2, Life.Process],
];

const MEAN_LIFE = [20_000, 2_000, 30];
const SHRINK_EVERY = 10_000;
const SHRINK_SHARE = 0.25;

export function generateKernelMix(ops: number, seed: number): TraceSource {
  const rng = new Prng(seed);
  const b = new TraceBuilder(ops);
  const weights = CACHES.map((c) => c[3]);
  const total = weights.reduce((s, w) => s + w, 0);
  const deaths = new EventQueue();
  const ev = new Int32Array(2);
  // Cache objects in allocation order, for the shrinker (oldest first); freed ones skipped.
  let lru = new Int32Array(1024);
  let lruHead = 0;
  let lruTail = 0;
  for (let now = 1; !b.full; now++) {
    while (deaths.peekTime() <= now && !b.full) {
      deaths.pop(ev);
      const id = ev[1] as number;
      if (b.isLive(id)) b.free(id);
    }
    if (now % SHRINK_EVERY === 0) {
      let cached = 0;
      for (let i = lruHead; i < lruTail; i++) if (b.isLive(lru[i] as number)) cached++;
      let toFree = Math.floor(cached * SHRINK_SHARE);
      while (toFree > 0 && lruHead < lruTail && !b.full) {
        const id = lru[lruHead++] as number;
        if (b.isLive(id)) {
          b.free(id);
          toFree--;
        }
      }
    }
    const [, lo, hi, , life] = CACHES[pickWeighted(rng, weights, total)] as [
      string,
      number,
      number,
      number,
      Life,
    ];
    const id = b.alloc(uniform(rng, lo, hi));
    if (id < 0) break;
    deaths.push(now + exponential(rng, MEAN_LIFE[life] as number), 0, id);
    if (life === Life.Cache) {
      if (lruTail === lru.length) {
        const live = lru.subarray(lruHead, lruTail);
        const next = new Int32Array(Math.max(1024, live.length * 2));
        next.set(live);
        lru = next;
        lruTail -= lruHead;
        lruHead = 0;
      }
      lru[lruTail++] = id;
    }
  }
  return b.finish("kernel-mix");
}
