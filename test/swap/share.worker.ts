/*
 * A worker of test/swap/swap.test.ts: attaches, reads every page of the swappable area the
 * main thread swapped out (swap-in from this context), writes its own contents, and swaps
 * them out again from here. The main thread waits for it to exit: no timing.
 */

import { parentPort, workerData } from "node:worker_threads";
import { Kmem } from "../../src/index.js";

const { sab, addr, pages } = workerData as { sab: SharedArrayBuffer; addr: number; pages: number };
const mm = Kmem.attach(sab);
const P = mm.pageSize;
const problems: string[] = [];

function pageOf(tag: number, page: number): Uint8Array {
  const out = new Uint8Array(P);
  const text = new TextEncoder().encode(
    `{"tag":${tag},"page":${page},"items":[${"1,2,3,".repeat(P / 6)}`,
  );
  out.set(text.subarray(0, P));
  for (let k = 0; k < 32; k++) out[P - 32 + k] = (tag * 31 + page * 7 + k * 13) & 255;
  return out;
}

const count = (name: string): number =>
  Number(/^(\d+)$/m.exec(mm.report("vmstat").split(`\n${name} `)[1] ?? "0")?.[1] ?? 0);
const inBefore = count("zswpin") + count("pswpin");
for (let i = 0; i < pages; i++) {
  const got = mm.read(addr + i * P, P);
  if (Buffer.compare(Buffer.from(got), Buffer.from(pageOf(1, i))) !== 0) {
    problems.push(`page ${i} differs`);
  }
}
const swappedIn = count("zswpin") + count("pswpin") - inBefore;
for (let i = 0; i < pages; i++) mm.write(addr + i * P, pageOf(2, i));
const outBefore = count("zswpout") + count("pswpout");
mm.reclaim(pages);
mm.reclaim(pages);
mm.verify();
parentPort?.postMessage({
  problems,
  swappedIn,
  out: count("zswpout") + count("pswpout") - outBefore,
});
