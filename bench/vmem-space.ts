/*
 * `node dist/bench/vmem-space.js`: what the byte churn of bench/vmem.ts does to each
 * integer-range allocator besides time: free segments examined per allocation (vmem's
 * `searches` counter), free segments left, and the extent the live blocks spread over.
 * Also the longest the resource map gets in the shuffled id batch. Deterministic (seeded).
 */

import { Prng } from "kmem-workbench";
import { ResourceMap, VmemArena, type VmemPolicy } from "../src/index.js";

const LIVE = 10_000;
const OPS = 200_000;
const UNIT = 16;
const MiB = 2 ** 20;

interface Units {
  alloc(units: number): number;
  free(start: number, units: number): void;
}

/** Fills LIVE blocks of 8..512 bytes (in 16-byte units), then frees one and allocates one OPS times. */
function churn(a: Units): number {
  const rng = new Prng(7);
  const slots = new Float64Array(LIVE);
  const units = new Int32Array(LIVE);
  const size = () => Math.ceil((8 + rng.below(505)) / UNIT);
  let live = 0;
  for (let i = 0; i < LIVE; i++) {
    units[i] = size();
    slots[i] = a.alloc(units[i] as number);
    live += units[i] as number;
  }
  for (let i = 0; i < OPS; i++) {
    const k = rng.below(LIVE);
    a.free(slots[k] as number, units[k] as number);
    live -= units[k] as number;
    units[k] = size();
    slots[k] = a.alloc(units[k] as number);
    live += units[k] as number;
    if (slots[k] === -1) throw new Error("out of space");
  }
  return live;
}

const rows: string[] = [
  "| allocator | segments examined per allocation | free segments | live | extent | extent / live |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
];
const mib = (units: number) => `${((units * UNIT) / MiB).toFixed(2)} MiB`;

for (const policy of ["instantfit", "bestfit", "nextfit"] as VmemPolicy[]) {
  const arena = new VmemArena({ name: policy, base: 0, size: 16 * MiB, quantum: 1, policy });
  const before = arena.stats().searches;
  const live = churn({
    alloc: (n) => arena.alloc(n),
    free: (t, n) => arena.free(t, n),
  });
  const s = arena.stats();
  const extent = arena.allocatedEnd();
  rows.push(
    `| vmem ${policy} | ${((s.searches - before) / (LIVE + OPS)).toFixed(2)} | ${s.freeSegments} | ${mib(live)} | ${mib(extent)} | ${(extent / live).toFixed(2)} |`,
  );
}
const map = new ResourceMap({ base: 0, size: 16 * MiB });
const live = churn({ alloc: (n) => map.alloc(n), free: (t, n) => void map.free(t, n) });
rows.push(
  `| rmap (first fit) | (a scan) | ${map.segmentCount} | ${mib(live)} | ${mib(map.allocatedEnd())} | ${(map.allocatedEnd() / live).toFixed(2)} |`,
);
process.stdout.write(`${rows.join("\n")}\n`);

// The shuffled 100,000-id batch of bench/vmem.ts (same seed): how long the map gets.
const ids = new ResourceMap({ base: 0, size: 2 ** 20 });
const order = Int32Array.from({ length: 100_000 }, (_, i) => i);
const rng = new Prng(13);
for (let i = order.length - 1; i > 0; i--) {
  const j = rng.below(i + 1);
  const t = order[i] as number;
  order[i] = order[j] as number;
  order[j] = t;
}
const got = Array.from(order, () => ids.alloc(1));
let peak = 0;
for (const i of order) {
  ids.free(got[i] as number, 1);
  peak = Math.max(peak, ids.segmentCount);
}
process.stdout.write(`\nrmap, 100,000 ids freed shuffled: at most ${peak} free segments\n`);
