/* zram: a compressed RAM block device over zsmalloc (Linux drivers/block/zram). */
export { ZramContext, type ZramOptions } from "./registry.js";
export {
  type WritebackMode,
  Zram,
  type ZramBackingStore,
  type ZramReportName,
  type ZramStats,
  type ZramVm,
} from "./zram.js";
export { type LockWord, recoveryContext, ZsRecovery, zsLockWords } from "./robust.js";
