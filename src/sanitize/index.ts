/* The sanitizers' hooks into the allocators (see install.ts). */
export {
  installSanitizers,
  type SanitizerLayers,
  type Sanitizers,
  type SanitizerSettings,
} from "./install.js";
