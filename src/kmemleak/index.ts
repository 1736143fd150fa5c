/* kmemleak: object records and the conservative scan (see kmemleak.ts). */
export { Kmemleak, type KmemleakLeak, type KmemleakRange } from "./kmemleak.js";
