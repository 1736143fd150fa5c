/*
 * What the sanitizers share for their reports: the caller's stack outside the library,
 * Linux's report rule lines, and a bounded log of the reports made (mm.report("kasan"),
 * "kfence", "kmemleak").
 */

/** The library's own folder: frames inside it are not the caller's. */
const LIBRARY_DIR = new URL("..", import.meta.url).pathname;

export const RULE = "==================================================================";

/** The caller's frames (outside the library), at most `depth`, each as "  at ...". */
export function callerStack(depth = 6): string[] {
  return stackLines(captureStack(), depth);
}

/**
 * The stack here, captured but not formatted (V8 formats `.stack` on first read, the
 * expensive part): what the sanitizers keep per allocation, formatted only in a report.
 */
export function captureStack(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const err = new Error();
  Error.stackTraceLimit = limit;
  return err;
}

/** A frame of Node's own modules: `at f (node:...)`, or `at async node:...` (Node 24). */
const NODE_FRAME = /\(node:|^\s*at (?:async )?node:/;

/** A captured stack's frames outside the library and Node's own modules, at most `depth`. */
export function stackLines(err: Error, depth = 6): string[] {
  const stack = err.stack ?? "";
  const out: string[] = [];
  for (const line of stack.split("\n").slice(1)) {
    if (line.includes(LIBRARY_DIR) || NODE_FRAME.test(line)) continue;
    out.push(` ${line.trim()}`);
    if (out.length === depth) break;
  }
  return out;
}

/** An address as Linux prints it in reports: 8 hex digits (16 beyond 4 GiB). */
export function addrHex(addr: number): string {
  return addr.toString(16).padStart(addr > 0xffffffff ? 16 : 8, "0");
}

/** The reports of one sanitizer in this context, the last `max` kept. */
export class ReportLog {
  private readonly texts: string[] = [];
  /** Reports made in all (kept or not). */
  count = 0;

  constructor(private readonly max = 64) {}

  add(text: string): void {
    this.count++;
    this.texts.push(text);
    if (this.texts.length > this.max) this.texts.shift();
  }

  /** Every kept report, one after the other ("" when none). */
  text(): string {
    return this.texts.join("");
  }

  clear(): void {
    this.texts.length = 0;
  }
}
