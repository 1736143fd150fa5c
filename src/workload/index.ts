/* Workloads: the seeded PRNG and the page benchmarks' order mix. */
export { pickOrder } from "./order-mix.js";
export { Prng } from "./prng.js";
