/* Fault injection (fail_page_alloc, failslab): used by the page and slab layers. */
export { FaultAttr, type FaultOptions, type FaultState } from "./fault-attr.js";
