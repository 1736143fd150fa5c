// Types for the codemix "malloc" package (CommonJS, ships none): the subset the peer uses.
declare module "malloc" {
  export default class Allocator {
    constructor(buffer: ArrayBuffer | Buffer, byteOffset?: number, byteLength?: number);
    readonly byteLength: number;
    readonly int32Array: Int32Array;
    /** Offset of a block of at least max(16, align8(size)) bytes, or 0 when none fits. */
    alloc(size: number): number;
    /** Frees the block at `address`; returns the bytes freed. Throws RangeError on a bad address. */
    free(address: number): number;
    sizeOf(address: number): number;
  }
}
