/* Swap: LRU lists of swappable vmalloc pages, zswap, swap areas, swap-in; the OOM killer. */
export { MAX_SWAPFILES, SW_VMSTAT_NAMES } from "./layout.js";
export { OomKiller, type OomVictim } from "./oom.js";
export {
  checkZswapConfig,
  type SwapAreaInfo,
  SwapContext,
  type SwapDeps,
  type SwaponOptions,
  type ZswapConfig,
  type ZswapStats,
} from "./swap.js";
