/*
 * Runs under `node --cpu-prof` for the breakdown (breakdown.ts): node profile-runs.js
 * kmem|tlsf TRACE... replays every trace once (to compile), then once more on fresh
 * instances inside `profiledRuns`, whose samples the breakdown counts.
 */

import { KMEM, TLSF, type Timed } from "./timed-loops.js";
import { type FlatTrace, flatTrace } from "./traces.js";

const [which, ...files] = process.argv.slice(2);
const traces: FlatTrace[] = [];
for (const f of files) traces.push(await flatTrace(f));

async function once<A>(x: Timed<A>, t: FlatTrace, a: A): Promise<void> {
  x.run(a, t, new Int32Array(t.ids), 0, t.ops);
}

async function profiledRuns<A>(x: Timed<A>, fresh: A[]): Promise<void> {
  for (let i = 0; i < traces.length; i++) await once(x, traces[i] as FlatTrace, fresh[i] as A);
}

async function main<A>(x: Timed<A>): Promise<void> {
  for (const t of traces) await once(x, t, await x.fresh());
  const fresh: A[] = [];
  for (let i = 0; i < traces.length; i++) fresh.push(await x.fresh());
  await profiledRuns(x, fresh);
}

if (which === "kmem") await main(KMEM);
else if (which === "tlsf") await main(TLSF);
else {
  process.stderr.write("usage: profile-runs.js kmem|tlsf TRACE...\n");
  process.exit(2);
}
