/*
 * AssemblyScript source of the TLSF peer, kept as a string so that tsc, ESLint and Prettier
 * (which all cover bench/) never see AssemblyScript syntax. It is compiled at bench time by
 * tlsf.ts with the AssemblyScript compiler's JS API.
 *
 * `heap.alloc`/`heap.free` are std/assembly/memory.ts wrappers over `__alloc`/`__free`, which
 * with `--runtime minimal` (rt/index-minimal.ts: tlsf + tcms) or `incremental` (tlsf + itcms)
 * are the TLSF functions in std/assembly/rt/tlsf.ts. The GC half is never entered here: only
 * `__new` involves it. (`--runtime stub` would give a bump allocator instead.)
 */
export const TLSF_SOURCE = `
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

export function free(ptr: usize): void {
  heap.free(ptr);
}
`;

/** The entry file name the source is compiled under (names the module in traps). */
export const TLSF_ENTRY = "tlsf_peer.ts";
