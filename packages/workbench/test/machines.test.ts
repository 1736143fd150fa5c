/* Machine profiles: the Raspberry Pi's sizes, the scaled memory, and what is refused. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UnknownNameError } from "../src/allocators.js";
import { findMachine, machineMemoryBytes, machineNames } from "../src/machines.js";
import { findWorkload } from "../src/workloads/index.js";

const GiB = 2 ** 30;

describe("machines", () => {
  it("rpi: 1, 2, 4 and 8 GiB, 4 cpus, workloads that exist", () => {
    assert.deepEqual(machineNames(), ["rpi"]);
    const rpi = findMachine("rpi");
    assert.deepEqual(rpi.ramBytes, [GiB, 2 * GiB, 4 * GiB, 8 * GiB]);
    assert.equal(rpi.cpus, 4);
    assert.deepEqual(rpi.workloads, ["webserver", "broker", "desktop", "control-loop"]);
    for (const w of rpi.workloads) assert.equal(findWorkload(w).name, w);
    assert.throws(() => findMachine("rpi5"), UnknownNameError);
  });

  it("scales each size by a power of two into 64 KiB..4 GiB", () => {
    const rpi = findMachine("rpi");
    assert.equal(machineMemoryBytes(rpi, GiB, 256), 4 << 20);
    assert.equal(machineMemoryBytes(rpi, 8 * GiB, 256), 32 << 20);
    assert.equal(machineMemoryBytes(rpi, 4 * GiB, 1), 4 * GiB);
    assert.equal(machineMemoryBytes(rpi, GiB, 16384), 64 * 1024);
  });

  it("refuses a size the machine does not come in, a bad scale, a result out of range", () => {
    const rpi = findMachine("rpi");
    assert.throws(() => machineMemoryBytes(rpi, 3 * GiB, 256), /comes with 1G, 2G, 4G, 8G/);
    for (const scale of [0, 3, 1.5, -2, Number.NaN])
      assert.throws(() => machineMemoryBytes(rpi, GiB, scale), /power of two/);
    assert.throws(() => machineMemoryBytes(rpi, 8 * GiB, 1), /64K\.\.4G/);
    assert.throws(() => machineMemoryBytes(rpi, GiB, 32768), /64K\.\.4G/);
  });
});
