/* A replay result with plausible numbers, for tests of what is built from results. */

import type { ReplayResult } from "../src/replay.js";

export function result(allocator: string, over: Partial<ReplayResult> = {}): ReplayResult {
  return {
    trace: "t.rep",
    allocator,
    memoryBytes: 16 << 20,
    ops: 1000,
    complete: true,
    opsPerSec: 1e6,
    opsPerSecCI95: null,
    runs: 1,
    elapsedMs: 1,
    peakPayloadBytes: 1000,
    peakFootprintBytes: 1250,
    utilization: 0.8,
    internalFragmentation: 0.1,
    overheadFraction: 0.1,
    requests: 500,
    failures: 0,
    latencyNs: { p50: 100, p99: 400, p999: 1000, max: 5000, samples: 1000, floorNs: 10 },
    leftovers: { blocks: 0, bytes: 0 },
    contentsChecked: true,
    contentsNotChecked: null,
    error: null,
    ...over,
  };
}
