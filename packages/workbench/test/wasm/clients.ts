/*
 * The WebAssembly clients the tests run (clients/build.js builds them, cached): their paths,
 * or why they cannot be built here. Without a toolchain the tests skip with that reason,
 * except under CI (CI set), where .ci/run installs it and a skip would hide a failure.
 */

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const BUILD = fileURLToPath(new URL("../../../../../clients/build.js", import.meta.url));

export interface Clients {
  /** Each client's bytes by name (sqlite-kmem, sqlite-libc, ...). */
  bytes(name: string): Uint8Array;
  /** Each client's path by name. */
  path(name: string): string;
}

/** The clients `names`, built if need be; or the reason the tests of them skip. */
export function buildClients(...names: string[]): Clients | string {
  const r = spawnSync(process.execPath, [BUILD, "--json", ...names], {
    encoding: "utf8",
    timeout: 600_000,
  });
  if (r.status === 2 && process.env.CI === undefined) {
    return `no WebAssembly toolchain: ${r.stderr.trim().replace(/^clients\/build\.js: /, "")}`;
  }
  if (r.status !== 0) {
    throw new Error(`clients/build.js ${names.join(" ")} failed (${r.status}): ${r.stderr}`);
  }
  const paths = JSON.parse(r.stdout) as Record<string, string>;
  const path = (name: string): string => {
    const p = paths[name];
    if (p === undefined) throw new Error(`${name} was not built`);
    return p;
  };
  return { path, bytes: (name) => readFileSync(path(name)) };
}
