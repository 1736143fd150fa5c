/*
 * The workbench (`kmem-workbench`): traces, workloads, replays and rankings, for programs that
 * want the numbers without the command line. Node only (it reads files); the npm peers are
 * loaded when first replayed against.
 */
export {
  ALLOCATORS,
  type AllocatorEntry,
  type AllocatorKind,
  allocatorNames,
  type Candidate,
  findAllocator,
  rangeAllocator,
  UnknownNameError,
} from "./allocators.js";
export { renderHtml, type ReportData, type ReportWorkload } from "./html-report.js";
export { LatencyHistogram } from "./latency.js";
export { codemixMallocHeap, peerAllocator, type PeerHeap, thingMallocHeap } from "./peers.js";
export { Prng } from "./prng.js";
export {
  CRITERIA,
  explain,
  type Goal,
  GOALS,
  pressureMemoryBytes,
  rank,
  type Ranked,
} from "./recommend.js";
export { writeRep } from "./rep-writer.js";
export { TLSF_WASM, tlsfHeap } from "./tlsf.js";
export {
  AllocatorFault,
  defaultMemoryBytes,
  replay,
  type ReplayDetail,
  type ReplayOptions,
  type ReplayOutcome,
  type ReplayResult,
} from "./replay.js";
export { loadTrace, memorySource, type TraceSource } from "./source.js";
export {
  Op,
  type OpChunk,
  readTrace,
  RepParser,
  TraceError,
  type TraceHeader,
  type TraceInfo,
} from "./trace.js";
export { TraceBuilder } from "./workloads/builder.js";
export { DEFAULT_OPS, findWorkload, type Workload, WORKLOADS } from "./workloads/index.js";
