/* Locks and cpu ids for contexts sharing one buffer (the main thread and workers). */
export { claimCpu, cpuState, forceCpuState, setCpuState } from "./cpu.js";
export {
  canBlock,
  LockWord,
  lock,
  lockOwner,
  lockSynced,
  takeOverLock,
  tryLock,
  unlock,
  wordOwner,
} from "./lock.js";
export { type DeadCpuReport, type RobustLock, recoverLocks } from "./robust.js";
export { waitAsyncOn, waitRound, wakeUp } from "./waitq.js";
