/*
 * A worker of test/zram/zram.test.ts: attaches, finds the zram device by name, checks the
 * pages the main thread wrote, writes its own sectors, and writes and reads a range of
 * sectors the other worker writes too (every read must be a whole page of one writer),
 * compacting between rounds. Nothing waits on the other side: any interleaving passes.
 */

import { parentPort, workerData } from "node:worker_threads";
import { Kmem } from "../../src/index.js";
import { pageOf, sharedOwner } from "./pages.js";

const { sab, name, me, mainPages, own, shared, rounds } = workerData as {
  sab: SharedArrayBuffer;
  name: string;
  me: number;
  mainPages: number;
  own: [number, number];
  shared: [number, number];
  rounds: number;
};
const mm = Kmem.attach(sab);
const z = mm.findZram(name);
if (z === null) throw new Error(`no zram named ${name}`);
const P = mm.pageSize;
const out = new Uint8Array(P);
const problems: string[] = [];
const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
for (let i = 0; i < mainPages; i++) {
  if (!same(z.read(i, out), pageOf(0, i, 0, P))) problems.push(`main's sector ${i} differs`);
}
for (let r = 0; r < rounds; r++) {
  for (let i = own[0]; i < own[1]; i++) {
    if (!z.write(i, pageOf(me, i, r, P))) problems.push(`write ${i} failed`);
  }
  for (let i = shared[0]; i < shared[1]; i++) {
    z.write(i, pageOf(me, i, r, P));
    const got = z.read(i, out);
    if (sharedOwner(got, i, P) < 0) problems.push(`shared sector ${i} is torn`);
  }
  z.compact();
  for (let i = own[0]; i < own[1]; i++) {
    if (!same(z.read(i, out), pageOf(me, i, r, P)))
      problems.push(`own sector ${i} round ${r} differs`);
  }
}
parentPort?.postMessage({ cpu: mm.cpu, problems });
