/* The SVR4 resource map: first-fit allocation of integer ranges. */
export {
  ResourceMap,
  type ResourceMapOptions,
  type ResourceMapStats,
  type Segment,
} from "./rmap.js";
