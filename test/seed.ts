/*
 * The seed of every fast-check property of a test process, loaded before the test files
 * (`node --import ./dist/test/seed.js --test ...`, as package.json's test scripts run them).
 *
 * Fixed by default, so that `npm test` draws the same cases on every run and machine: a
 * failure there is a change in the code, never a new draw. KMEM_FC_SEED sets another seed
 * (a number: the one a failure report printed, to replay it) or "random" (a fresh seed per
 * property, as `npm run test:seeds` runs the suite to search beyond the fixed cases);
 * fast-check prints the seed and path of any counterexample it finds either way.
 */

import fc from "fast-check";

/** The seed of `npm test`'s properties. */
export const FIXED_SEED = 0x6b6d656d;

/** The seed KMEM_FC_SEED's value `env` asks for; undefined for "random" (one per property). */
export function seedOf(env: string | undefined): number | undefined {
  if (env === "random") return undefined;
  const seed = env === undefined || env === "" ? FIXED_SEED : Number(env);
  if (!Number.isInteger(seed)) {
    throw new Error(`KMEM_FC_SEED must be an integer or "random", not ${JSON.stringify(env)}`);
  }
  return seed;
}

const seed = seedOf(process.env.KMEM_FC_SEED);
if (seed !== undefined) fc.configureGlobal({ seed });
