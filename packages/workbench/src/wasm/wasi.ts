/*
 * A WASI (preview 1) for programs that need no file system, enough for C programs built with
 * wasi-libc to run their main or serve as a library: arguments, environment, standard output
 * and error collected, a clock and randomness that are fixed (so that a run allocates the same
 * way every time), proc_exit. Whatever else a module imports from wasi_snapshot_preview1
 * answers ENOSYS; a file it opens does not exist.
 */

import type { WasmMemory } from "kmem/wasm";
import type { WasmModule } from "./webassembly.js";
import { WA } from "./webassembly.js";

/** WASI errno values. */
const enum Errno {
  SUCCESS = 0,
  BADF = 8,
  NOSYS = 52,
  SPIPE = 70,
}

/** proc_exit, thrown through the module's frames to whoever called into it. */
export class ProcExit extends Error {
  readonly code: number;
  constructor(code: number) {
    super(`the program exited with ${code}`);
    this.name = "ProcExit";
    this.code = code;
  }
}

export interface WasiOptions {
  /** argv, the program's name first. */
  args?: readonly string[];
  env?: Readonly<Record<string, string>>;
  /** Receives what fd 1 and fd 2 are written; default: collected in stdout / stderr. */
  write?: (fd: 1 | 2, bytes: Uint8Array) => void;
}

type WasiFn = (...args: number[]) => number;

export class Wasi {
  private memory: WasmMemory | null = null;
  private readonly args: Uint8Array[];
  private readonly env: Uint8Array[];
  private readonly out: Uint8Array[][] = [[], []];
  private readonly write: ((fd: 1 | 2, bytes: Uint8Array) => void) | null;
  /** A xorshift state: random_get's sequence is the same every run. */
  private seed = 0x2545f491;
  /** The clock, in ns: starts at 2026-01-01 and advances a microsecond a reading. */
  private now = 1767225600n * 1_000_000_000n;

  constructor(options: WasiOptions = {}) {
    const enc = new TextEncoder();
    this.args = (options.args ?? ["program"]).map((a) => enc.encode(`${a}\0`));
    this.env = Object.entries(options.env ?? {}).map(([k, v]) => enc.encode(`${k}=${v}\0`));
    this.write = options.write ?? null;
  }

  /** The memory the module's pointers point into (the one it imports or exports). */
  setMemory(memory: WasmMemory): void {
    this.memory = memory;
  }

  /** What fd 1 (stdout) or fd 2 (stderr) received, as text (when no `write` was given). */
  text(fd: 1 | 2): string {
    return Buffer.concat(this.out[fd - 1] as Uint8Array[]).toString("utf8");
  }

  /** The module's wasi_snapshot_preview1 imports: every one it names (ENOSYS if unknown). */
  imports(module: WasmModule): Record<string, WasiFn> {
    const known = this.functions();
    const out: Record<string, WasiFn> = {};
    for (const i of WA.Module.imports(module)) {
      if (i.module !== "wasi_snapshot_preview1" || i.kind !== "function") continue;
      out[i.name] = known[i.name] ?? (() => Errno.NOSYS);
    }
    return out;
  }

  private view(): DataView {
    if (this.memory === null) throw new Error("Wasi: setMemory first");
    return new DataView(this.memory.buffer);
  }

  private bytes(): Uint8Array {
    return new Uint8Array((this.memory as WasmMemory).buffer);
  }

  /** Writes `list` (NUL-terminated strings) as an argv-like array of pointers and a buffer. */
  private strings(list: Uint8Array[], ptrs: number, buf: number): number {
    const dv = this.view();
    const mem = this.bytes();
    for (const s of list) {
      dv.setUint32(ptrs, buf, true);
      ptrs += 4;
      mem.set(s, buf);
      buf += s.length;
    }
    return Errno.SUCCESS;
  }

  private sizes(list: Uint8Array[], count: number, size: number): number {
    const dv = this.view();
    dv.setUint32(count, list.length, true);
    dv.setUint32(
      size,
      list.reduce((n, s) => n + s.length, 0),
      true,
    );
    return Errno.SUCCESS;
  }

  private functions(): Record<string, WasiFn> {
    return {
      args_get: (argv, buf) => this.strings(this.args, argv, buf),
      args_sizes_get: (count, size) => this.sizes(this.args, count, size),
      environ_get: (env, buf) => this.strings(this.env, env, buf),
      environ_sizes_get: (count, size) => this.sizes(this.env, count, size),
      fd_write: (fd, iovs, n, written) => {
        if (fd !== 1 && fd !== 2) return Errno.BADF;
        const dv = this.view();
        let total = 0;
        for (let i = 0; i < n; i++) {
          const p = dv.getUint32(iovs + 8 * i, true);
          const len = dv.getUint32(iovs + 8 * i + 4, true);
          const chunk = this.bytes().slice(p, p + len);
          if (this.write !== null) this.write(fd, chunk);
          else (this.out[fd - 1] as Uint8Array[]).push(chunk);
          total += len;
        }
        dv.setUint32(written, total, true);
        return Errno.SUCCESS;
      },
      fd_read: (fd, _iovs, _n, read) => {
        if (fd !== 0) return Errno.BADF;
        this.view().setUint32(read, 0, true);
        return Errno.SUCCESS;
      },
      fd_close: () => Errno.SUCCESS,
      fd_seek: () => Errno.SPIPE,
      fd_fdstat_get: (fd, stat) => {
        if (fd > 2) return Errno.BADF;
        const dv = this.view();
        // A character device (2) with no flags and every right.
        for (let i = 0; i < 24; i += 4) dv.setUint32(stat + i, 0, true);
        dv.setUint8(stat, 2);
        dv.setBigUint64(stat + 8, 0xffffffffn, true);
        return Errno.SUCCESS;
      },
      fd_prestat_get: () => Errno.BADF,
      clock_time_get: (_id, _precision, time) => {
        this.now += 1000n;
        this.view().setBigUint64(time, this.now, true);
        return Errno.SUCCESS;
      },
      clock_res_get: (_id, res) => {
        this.view().setBigUint64(res, 1000n, true);
        return Errno.SUCCESS;
      },
      random_get: (buf, len) => {
        const mem = this.bytes();
        for (let i = 0; i < len; i++) {
          let x = this.seed;
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          this.seed = x >>> 0;
          mem[buf + i] = x & 0xff;
        }
        return Errno.SUCCESS;
      },
      sched_yield: () => Errno.SUCCESS,
      proc_exit: (code) => {
        throw new ProcExit(code);
      },
    };
  }
}
