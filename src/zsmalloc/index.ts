/* zsmalloc: an allocator of compressed pages over order-0 pages (Linux mm/zsmalloc.c). */
export { ZsContext, type ZsDeps, type ZsPoolOptions } from "./context.js";
export {
  DEFAULT_CHAIN_SIZE,
  Intent,
  intentAt,
  Pool,
  Reg,
  registryWords,
  type ZsGeometry,
  zsGeometry,
  ZS_HANDLE_SIZE,
} from "./layout.js";
export { drainBuild, recoverPool, registryOf, releaseMap } from "./recover.js";
export { verifyZsmalloc } from "./verify.js";
export { MapMode, type ZsClassStats, ZsPool, type ZsPoolStats } from "./zsmalloc.js";
