/*
 * The OOM killer (mm/oom_kill.c): when reclaim can make no progress for a request that may
 * wait, it chooses the registered victim of the highest badness, calls its kill(), logs
 * Linux's lines, and the allocation is tried again (src/page/reclaim.ts). No victim left:
 * the request fails.
 *
 *   oom_badness = pages() + oomScoreAdj * totalpages / 1000    (totalpages: managed memory
 *                                                                plus swap, as Linux's)
 *   oomScoreAdj -1000 (OOM_SCORE_ADJ_MIN): never chosen
 *
 * Victims are this context's (their pages() and kill() are functions of this context): a
 * context's allocation chooses among the victims registered in it. Lines go to the kernel
 * log of this context (report("dmesg"), as `dmesg -t` prints it) and to the `log` option.
 *
 * The killer does not run while this context holds the vmalloc lock (an allocation inside
 * vmalloc): a victim frees through vfree, which takes it. Such a request fails instead.
 */

import { checkKnownKeys, describe } from "../errors.js";
import { gfpString } from "../page/index.js";

/** A process the OOM killer may choose: what {@link Kmem.registerOomVictim} takes. */
export interface OomVictim {
  /** Its name in the log ("comm"). */
  name: string;
  /** -1000..1000: added to its badness in thousandths of memory; -1000: never killed. */
  oomScoreAdj?: number;
  /** The pages it holds now (its rss + swap, as the killer weighs it). */
  pages(): number;
  /** Frees what it holds (synchronously); it is forgotten after. */
  kill(): void;
}

/** How many lines the kernel log keeps (the oldest go first). */
const LOG_LINES = 512;

interface Registered {
  pid: number;
  victim: OomVictim;
  adj: number;
}

export class OomKiller {
  private readonly victims: Registered[] = [];
  private nextPid = 1;
  private readonly lines: string[] = [];
  private readonly pageKb: number;
  /** Pages of memory plus swap (oom_badness's totalpages). */
  private readonly totalPages: () => number;
  private readonly log: () => ((line: string) => void) | null;
  private readonly locked: () => boolean;
  private readonly counted: () => void;
  /** True while kill() runs: an allocation inside it does not kill again. */
  private killing = false;

  constructor(
    pageSize: number,
    totalPages: () => number,
    log: () => ((line: string) => void) | null,
    locked: () => boolean,
    counted: () => void,
  ) {
    this.pageKb = pageSize / 1024;
    this.totalPages = totalPages;
    this.log = log;
    this.locked = locked;
    this.counted = counted;
  }

  /** Registers a victim; returns its pid (for unregister). */
  register(v: OomVictim): number {
    if (typeof v !== "object" || v === null) {
      throw new TypeError(
        `registerOomVictim takes { name, oomScoreAdj?, pages(), kill() }, got ${describe(v)}`,
      );
    }
    checkKnownKeys("registerOomVictim", v, ["name", "oomScoreAdj", "pages", "kill"]);
    if (typeof v.name !== "string" || v.name.length === 0) {
      throw new TypeError(`name must be a non-empty string, got ${describe(v.name)}`);
    }
    const adj = v.oomScoreAdj ?? 0;
    if (typeof adj !== "number" || !Number.isInteger(adj) || adj < -1000 || adj > 1000) {
      throw new RangeError(`oomScoreAdj must be an integer in -1000..1000, got ${describe(adj)}`);
    }
    if (typeof v.pages !== "function" || typeof v.kill !== "function") {
      throw new TypeError("pages and kill must be functions");
    }
    const pid = this.nextPid++;
    this.victims.push({ pid, victim: v, adj });
    return pid;
  }

  /** Forgets victim `pid`; false if there is none. */
  unregister(pid: number): boolean {
    const i = this.victims.findIndex((r) => r.pid === pid);
    if (i < 0) return false;
    this.victims.splice(i, 1);
    return true;
  }

  /** oom_badness, or null for a victim never chosen. */
  badness(r: Registered, total: number): number | null {
    if (r.adj === -1000) return null;
    const pages = r.victim.pages();
    if (typeof pages !== "number" || !Number.isFinite(pages) || pages < 0) {
      throw new TypeError(
        `the OOM victim ${r.victim.name}'s pages() must return a number >= 0, got ${describe(pages)}`,
      );
    }
    return Math.floor(pages) + Math.trunc((r.adj * total) / 1000);
  }

  /** out_of_memory for a request of `order` and `gfp`: true if a victim was killed. */
  kill(order: number, gfp: number): boolean {
    if (this.killing || this.locked()) return false;
    const total = this.totalPages();
    let chosen: Registered | null = null;
    let points = -Infinity;
    for (const r of this.victims) {
      const p = this.badness(r, total);
      if (p !== null && p > points) {
        points = p;
        chosen = r;
      }
    }
    this.print(
      `kmem invoked oom-killer: gfp_mask=${gfpString(gfp)}, order=${order}, oom_score_adj=0`,
    );
    if (chosen === null) {
      this.print("Out of memory and no killable processes...");
      return false;
    }
    const rss = Math.floor(chosen.victim.pages());
    this.print(
      `Out of memory: Killed process ${chosen.pid} (${chosen.victim.name}) total-vm:${rss * this.pageKb}kB, anon-rss:${rss * this.pageKb}kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:0kB oom_score_adj:${chosen.adj}`,
    );
    this.unregister(chosen.pid);
    this.counted();
    this.killing = true;
    try {
      chosen.victim.kill();
    } finally {
      this.killing = false;
    }
    return true;
  }

  private print(line: string): void {
    this.lines.push(line);
    if (this.lines.length > LOG_LINES) this.lines.shift();
    this.log()?.(line);
  }

  /** The kernel log, one line each (dmesg -t). */
  dmesg(): string {
    return this.lines.map((l) => `${l}\n`).join("");
  }
}
