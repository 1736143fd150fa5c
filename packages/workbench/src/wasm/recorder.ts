/*
 * Recording the malloc-family calls of a program compiled to WebAssembly as a malloc-lab
 * trace: wrap the imports its heap gives it, run it, and the calls that succeeded are the
 * trace's ops, each block an id from its allocation to its free:
 *
 *   malloc(n), calloc(c, n), aligned_alloc(a, n), posix_memalign(p, a, n)   a id bytes
 *   free(p)                                                                 f id
 *   realloc(p, n): r id n; realloc(NULL, n) is a, realloc(p, 0) is f
 *
 * Calls that failed (NULL, a misuse reported) leave no op: a trace has no way to say them.
 */

import type { MallocImports } from "kmem/wasm";
import type { TraceSource } from "../source.js";
import { TraceBuilder } from "../workloads/builder.js";

export class MallocRecorder {
  private readonly builder = new TraceBuilder(Infinity);
  /** The id of each live block, by pointer. */
  private readonly ids = new Map<number, number>();

  /** The imports `env` with every call recorded. */
  wrap(env: MallocImports): MallocImports {
    const b = this.builder;
    const ids = this.ids;
    const born = (p: number, size: number): void => {
      if (p !== 0) ids.set(p >>> 0, b.alloc(size >>> 0));
    };
    return {
      ...env,
      malloc: (size) => {
        const p = env.malloc(size);
        born(p, size);
        return p;
      },
      calloc: (count, size) => {
        const p = env.calloc(count, size);
        born(p, (count >>> 0) * (size >>> 0));
        return p;
      },
      aligned_alloc: (alignment, size) => {
        const p = env.aligned_alloc(alignment, size);
        born(p, size);
        return p;
      },
      posix_memalign: (memptr, alignment, size) => {
        const rc = env.posix_memalign(memptr, alignment, size);
        if (rc === 0) born(new DataView(env.memory.buffer).getUint32(memptr >>> 0, true), size);
        return rc;
      },
      free: (ptr) => {
        env.free(ptr);
        const id = ids.get(ptr >>> 0);
        if (id === undefined) return;
        ids.delete(ptr >>> 0);
        b.free(id);
      },
      realloc: (ptr, size) => {
        const q = env.realloc(ptr, size);
        const id = ids.get(ptr >>> 0);
        if (ptr === 0) born(q, size);
        else if (id === undefined) return q;
        else if (size >>> 0 === 0) {
          ids.delete(ptr >>> 0);
          b.free(id);
        } else if (q !== 0) {
          ids.delete(ptr >>> 0);
          ids.set(q >>> 0, id);
          b.realloc(id, size >>> 0);
        }
        return q;
      },
    };
  }

  /** Ops recorded so far. */
  get ops(): number {
    return this.builder.ops;
  }

  /** Blocks live now, by pointer, with their trace ids. */
  live(): ReadonlyMap<number, number> {
    return this.ids;
  }

  /** The trace (the header's heap size: 2 x the peak payload, to a power of two). */
  finish(name: string): TraceSource {
    return this.builder.finish(name);
  }
}
