/* The sanitizers' hooks into the allocators (see install.ts, slob.ts, classic.ts). */
export { hookClassic } from "./classic.js";
export {
  installSanitizers,
  type SanitizerLayers,
  type Sanitizers,
  type SanitizerSettings,
} from "./install.js";
