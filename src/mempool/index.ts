/* Memory pools: guaranteed reserves over kmalloc or a cache. */
export { PoolContext, type PoolCaches, type PoolKmalloc } from "./context.js";
export {
  checkMinNr,
  checkNotReserved,
  MEMPOOL_MAX_NR,
  Mempool,
  type PoolBackend,
  recoverPools,
} from "./mempool.js";
