/*
 * --machine, --ram and --scale (machines.ts) as recommend and replay take them: the targets
 * (the machine's workloads unless some are named), the memory per allocator, the line that
 * says what was run, and the refusals (exit 2).
 */

import { findMachine, machineMemoryBytes } from "../machines.js";
import { CliError, Exit } from "./exit.js";
import { formatBytes } from "./format.js";

export interface MachineOptions {
  machine?: string;
  ram?: number;
  scale?: number;
  memory?: number;
  workers?: number;
}

/** What --machine, --ram and --scale stand for, checked; null without --machine. */
export function machineSetup(
  targets: readonly string[],
  options: MachineOptions,
): {
  targets: readonly string[];
  memoryBytes: number;
  line: string;
  /** The machine's workloads that run on every cpu at once. */
  smpWorkloads: readonly string[];
  json: { name: string; ramBytes: number; scale: number; memoryBytes: number; cpus: number };
} | null {
  if (options.machine === undefined) {
    if (options.ram !== undefined || options.scale !== undefined || options.workers !== undefined)
      throw new CliError(Exit.Usage, "--ram, --scale and --workers need --machine");
    return null;
  }
  if (options.memory !== undefined)
    throw new CliError(Exit.Usage, "--memory and --machine: give one (--machine sets the memory)");
  const m = findMachine(options.machine);
  const ramBytes = options.ram ?? (m.ramBytes[0] as number);
  const scale = options.scale ?? m.defaultScale;
  let memoryBytes: number;
  try {
    memoryBytes = machineMemoryBytes(m, ramBytes, scale);
  } catch (err) {
    throw new CliError(Exit.Usage, (err as Error).message);
  }
  const line =
    `machine ${m.name} (${m.description}): ${formatBytes(ramBytes)} scaled 1/${scale}, ` +
    `${formatBytes(memoryBytes)} per allocator; each replay runs on one cpu`;
  return {
    targets: targets.length > 0 ? targets : m.workloads,
    memoryBytes,
    line,
    smpWorkloads: m.smpWorkloads,
    json: { name: m.name, ramBytes, scale, memoryBytes, cpus: m.cpus },
  };
}
