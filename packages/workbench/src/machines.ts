/*
 * Machine profiles: what `--machine NAME` stands for. A profile names the memory sizes the
 * machine is sold with, its cpus, and the workloads it typically runs. The workbench cannot
 * give every allocator 8 GiB (kmem manages at most 4 GiB, and a replay of that size would not
 * fit beside the others on a test machine), so the memory is scaled: RAM / scale bytes per
 * allocator, with the scale printed beside every result. The workloads' live sets are those of
 * their generators, not scaled; a smaller scale gives the allocators more room relative to them.
 */

import { UnknownNameError } from "./allocators.js";

export interface Machine {
  readonly name: string;
  readonly description: string;
  /** The memory sizes the machine comes with, in bytes, smallest first. */
  readonly ramBytes: readonly number[];
  readonly cpus: number;
  /** The workloads it runs, built-in workload names. */
  readonly workloads: readonly string[];
  /** Those of them that run on every cpu at once (a worker per cpu, smp.ts). */
  readonly smpWorkloads: readonly string[];
  /** RAM is divided by this unless --scale says otherwise. */
  readonly defaultScale: number;
}

const GiB = 2 ** 30;

export const MACHINES: readonly Machine[] = [
  {
    name: "rpi",
    description: "a Raspberry Pi 4/5: 1, 2, 4 or 8 GiB, 4 cpus",
    ramBytes: [1 * GiB, 2 * GiB, 4 * GiB, 8 * GiB],
    cpus: 4,
    workloads: ["webserver", "broker", "desktop", "control-loop"],
    smpWorkloads: ["webserver", "broker"],
    defaultScale: 256,
  },
];

/** The smallest and largest memory a replay may be given (as --memory). */
export const MIN_MACHINE_MEMORY = 64 * 1024;
export const MAX_MACHINE_MEMORY = 4 * GiB;

export function machineNames(): string[] {
  return MACHINES.map((m) => m.name);
}

/** The machine named `name`; throws UnknownNameError listing the known names. */
export function findMachine(name: string): Machine {
  const m = MACHINES.find((x) => x.name === name);
  if (m === undefined) throw new UnknownNameError("machine", name, machineNames());
  return m;
}

/**
 * The memory each allocator gets on `machine` with `ramBytes` of RAM scaled down by `scale`;
 * throws RangeError, saying why, for a size the machine does not come in, a scale that is not
 * a power of two, or a result outside 64 KiB..4 GiB.
 */
export function machineMemoryBytes(machine: Machine, ramBytes: number, scale: number): number {
  if (!machine.ramBytes.includes(ramBytes)) {
    throw new RangeError(
      `${machine.name} comes with ${machine.ramBytes.map((b) => `${b / GiB}G`).join(", ")} of memory, not ${ramBytes} bytes`,
    );
  }
  if (!Number.isSafeInteger(scale) || scale < 1 || (scale & (scale - 1)) !== 0) {
    throw new RangeError(`the scale must be a power of two (1, 2, 4, ...), got ${scale}`);
  }
  const bytes = ramBytes / scale;
  if (bytes < MIN_MACHINE_MEMORY || bytes > MAX_MACHINE_MEMORY) {
    throw new RangeError(
      `${ramBytes / GiB}G / ${scale} is ${bytes} bytes: each allocator needs 64K..4G; choose another scale`,
    );
  }
  return bytes;
}
