/*
 * Construction as a program meets it: `new Kmem` once, in a fresh process (code not yet
 * optimised, no earlier buffers for the collector to find). Run as a child by run.ts, ten
 * processes per size; prints the milliseconds of one construction.
 */

import { Kmem } from "../src/index.js";

const bytes = Number(process.argv[2]);
new Kmem({ memory: 1 << 20 }); // load and compile the modules first
const t = process.hrtime.bigint();
const mm = new Kmem({ memory: bytes });
const ms = Number(process.hrtime.bigint() - t) / 1e6;
if (mm.managedPages > 0) process.stdout.write(`${ms}\n`);
