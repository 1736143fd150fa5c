/* KASAN: shadow memory, quarantine and reports (see kasan.ts). */
export { Kasan, type KasanEnv, type SlabObject, slubObjectAt } from "./kasan.js";
export { addrHex, callerStack, captureStack, ReportLog, RULE, stackLines } from "./report.js";
export { Shadow, shadowBytesFor } from "./shadow.js";
