/*
 * The built-in workloads: seeded generators, each a function of (ops, seed) alone, so the same
 * seed gives the same trace (and the same .rep bytes) on every machine.
 */

import { UnknownNameError } from "../allocators.js";
import type { Goal } from "../recommend.js";
import type { TraceSource } from "../source.js";
import { generateBroker } from "./broker.js";
import { generateControlLoop } from "./control-loop.js";
import { generateDesktop } from "./desktop.js";
import { generateFragmenter } from "./fragmenter.js";
import { generateKernelMix } from "./kernel-mix.js";
import { generateRandom } from "./random.js";
import { generateRealtime } from "./realtime.js";
import { generateWebserver } from "./webserver.js";

export interface Workload {
  readonly name: string;
  readonly description: string;
  /** What the system it models cares about most, for `recommend` and the demo. */
  readonly goal: Goal;
  generate(ops: number, seed: number): TraceSource;
}

export const WORKLOADS: readonly Workload[] = [
  {
    name: "webserver",
    goal: "balanced",
    description: "bursty connections: per-connection objects and network buffers, short lives",
    generate: generateWebserver,
  },
  {
    name: "realtime",
    goal: "latency",
    description: "fixed-size messages through a bounded queue (the memory-pool case)",
    generate: generateRealtime,
  },
  {
    name: "kernel-mix",
    goal: "balanced",
    description: "slab caches shaped like /proc/slabinfo of a busy box (dentry, inode, ...)",
    generate: generateKernelMix,
  },
  {
    name: "fragmenter",
    goal: "memory",
    description: "adversarial rounds of growing sizes that defeat buddy and first fit",
    generate: generateFragmenter,
  },
  {
    name: "random",
    goal: "balanced",
    description: "log-uniform sizes 8..16K, exponential lifetimes, some reallocs",
    generate: generateRandom,
  },
];

/**
 * The workloads of the machine profiles (machines.ts) beside `webserver`: what a small board
 * runs. Kept apart from WORKLOADS so that the tables over every workload stay as they are;
 * every command that takes a workload name takes these too.
 */
export const MACHINE_WORKLOADS: readonly Workload[] = [
  {
    name: "broker",
    goal: "balanced",
    description: "an IoT message broker: fixed-size messages through bounded topic queues",
    generate: generateBroker,
  },
  {
    name: "desktop",
    goal: "balanced",
    description: "a desktop mix: small short-lived objects, medium buffers, large surfaces",
    generate: generateDesktop,
  },
  {
    name: "control-loop",
    goal: "latency",
    description: "a fixed-rate real-time loop: the same objects every tick, the worst op counts",
    generate: generateControlLoop,
  },
];

export const DEFAULT_OPS = 200_000;

export function workloadNames(): string[] {
  return [...WORKLOADS, ...MACHINE_WORKLOADS].map((w) => w.name);
}

/** The workload named `name`; throws UnknownNameError listing the known names. */
export function findWorkload(name: string): Workload {
  const w = [...WORKLOADS, ...MACHINE_WORKLOADS].find((x) => x.name === name);
  if (w === undefined) throw new UnknownNameError("workload", name, workloadNames());
  return w;
}
