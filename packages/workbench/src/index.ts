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
  mallocMaxOrder,
  rangeAllocator,
  UnknownNameError,
} from "./allocators.js";
export { resultsCsv, rankingCsv } from "./csv.js";
export {
  CELL_KIND_NAMES,
  CellKind,
  decodeHeapMap,
  HeapMapRecorder,
  type HeapMapSamples,
  type HeapMapSeries,
  MAX_CELLS,
} from "./heapmap.js";
export {
  type CompareOptions,
  type CompareRow,
  type Comparison,
  compareAllocators,
  orderings,
  PAIRS_LIVE,
  pairsWorkload,
  PUBLISHED,
  PUBLISHED_NOTES,
  type PublishedFigure,
} from "./literature.js";
export { renderHtml, type ReportData, type ReportWorkload } from "./html-report.js";
export { type ClockCost, clockCost, LatencyHistogram } from "./latency.js";
export { nativeStatus } from "./native.js";
export { deltaE, PALETTE, seriesStyles } from "./palette.js";
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
  type Blocks,
  defaultMemoryBytes,
  freshTimedLoop,
  medianCI95,
  newBlocks,
  replay,
  type ReplayDetail,
  type ReplayOptions,
  type ReplayOutcome,
  type ReplayResult,
  type TimedLoop,
  timedBuffer,
} from "./replay.js";
export { loadTrace, memorySource, traceFiles, type TraceSource } from "./source.js";
export {
  SUMMARY_CRITERIA,
  type Summary,
  type SummaryRow,
  summarize,
  type TraceResults,
} from "./summary.js";
export {
  CHUNK_OPS,
  Op,
  type OpChunk,
  readTrace,
  RepParser,
  TraceError,
  type TraceHeader,
  type TraceInfo,
} from "./trace.js";
export {
  importedMemory,
  instantiate,
  MALLOC_FAMILY,
  MALLOC_KINDS,
  type MallocKind,
  type Program,
  type ProgramOptions,
  runMain,
} from "./wasm/program.js";
export { MallocRecorder } from "./wasm/recorder.js";
export { ProcExit, Wasi, type WasiOptions } from "./wasm/wasi.js";
export { jsonPages, Zstd } from "./wasm/zstd.js";
export { TraceBuilder } from "./workloads/builder.js";
export { DEFAULT_OPS, findWorkload, type Workload, WORKLOADS } from "./workloads/index.js";

// Machine profiles (`--machine`) and their workloads.
export {
  findMachine,
  type Machine,
  machineMemoryBytes,
  machineNames,
  MACHINES,
} from "./machines.js";
export { MACHINE_WORKLOADS } from "./workloads/index.js";
