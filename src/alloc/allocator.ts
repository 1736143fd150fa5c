/*
 * One interface over every allocator kmem has, so a trace or a workload can be replayed
 * against any of them (the workbench) and the numbers compared.
 *
 *   alloc(size)      -> a handle >= 0, or -1 when the allocator cannot serve the request
 *   free(addr, size) -> gives back what alloc returned; size is the size that was asked for
 *   footprint()      -> bytes of backing memory the allocator holds now, metadata included
 *
 * Handles are addresses in the allocator's own space (physical addresses for the kmem
 * layers, offsets for range allocators, heap addresses for peers). -1 rather than 0 marks a
 * failure because 0 is a valid resource for range allocators (vmem, resource map).
 *
 * Footprint, as malloc-lab's utilization needs it: what the allocator took from the memory
 * below it. Page-backed allocators count the pages they took (with their mem_map share);
 * range allocators count the extent up to their highest allocated unit plus their metadata;
 * npm peers count their heap's high-water mark.
 */

/** An allocator the workbench can drive. */
export interface ByteAllocator {
  /** Short name as the CLI spells it (`slub`, `slob`, `buddy`, `rmap`, `vmem`, ...). */
  readonly name: string;
  /** Allocates `size` bytes (size >= 1); returns a handle >= 0, or -1 on failure. */
  alloc(size: number): number;
  /** Frees a handle returned by alloc; `size` is the size asked for. */
  free(addr: number, size: number): void;
  /**
   * Resizes in the allocator's own way (krealloc-like); returns the new handle or -1 (the old
   * one stays valid on failure). Absent: the caller allocates, copies and frees.
   */
  realloc?(addr: number, oldSize: number, newSize: number): number;
  /** Bytes of backing memory held now, metadata included. */
  footprint(): number;
  /** Bytes actually reserved for an allocation of `size` at `addr` (usable size). */
  usableSize?(addr: number, size: number): number;
  /** Checks the allocator's invariants (throws on inconsistency); absent for peers. */
  verify?(): void;
}
