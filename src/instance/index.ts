/* Building and opening instances: options and the one wiring path of new, attach, reopen. */
export type {
  AttachOptions,
  KasanOptions,
  KfenceOptions,
  KmemOptions,
  SlabKind,
} from "./options.js";
export { drainDeadCpu, type Layers, layersFor, openInstance } from "./wire.js";
