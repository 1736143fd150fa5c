/* KFENCE: the sampled guarded pool (see kfence.ts). */
export { Kfence, kfenceMaxObjects, kfencePoolOrder, type KfenceSettings } from "./kfence.js";
