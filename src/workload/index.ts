/* Workloads: seeded generators and their runners. */
export {
  type PageChurnOptions,
  type PageChurnResult,
  pickOrder,
  runPageChurn,
} from "./page-churn.js";
export { Prng } from "./prng.js";
