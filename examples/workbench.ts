// The workbench from a program: a built-in workload replayed against three allocators.
import { findAllocator, findWorkload, replay } from "kmem-workbench";

const trace = findWorkload("kernel-mix").generate(20_000, 1); // 20,000 ops, seed 1
const kib = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;
for (const name of ["slub", "slob", "malloc"]) {
  // Without the timed pass: memory figures only, the same on every run.
  const options = { memoryBytes: 64 << 20, timed: false };
  const { result: r } = await replay(trace, findAllocator(name), options);
  console.log(
    `${name}: ${kib(r.peakPayloadBytes)} of payload in ${kib(r.peakFootprintBytes)}, ` +
      `utilization ${r.utilization.toFixed(3)}, ${r.leftovers.blocks} blocks left live`,
  );
}
