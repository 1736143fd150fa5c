/* Memory pools: guaranteed reserves over kmalloc or a cache. */
export { checkMinNr, MEMPOOL_MAX_NR, Mempool, type PoolBackend } from "./mempool.js";
