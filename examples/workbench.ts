/* The workbench from a program: a built-in workload replayed against two allocators. */

import { findAllocator, findWorkload, replay } from "kmem-workbench";

const trace = findWorkload("kernel-mix").generate(20_000, 1); // 20,000 ops, seed 1
for (const name of ["slub", "malloc"]) {
  const { result } = await replay(trace, findAllocator(name), { memoryBytes: 64 << 20 });
  console.log(
    `${name}: utilization ${result.utilization.toFixed(3)}, ` +
      `${(result.opsPerSec / 1e6).toFixed(2)} M ops/s, p99 ${result.latencyNs.p99} ns, ` +
      `${result.leftovers.blocks} blocks left live`,
  );
}
