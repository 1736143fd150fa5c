/*
 * Errors and argument checks shared by every layer.
 *
 * Two kinds of failure, kept apart as the contract (api.md) says:
 *  - a malformed argument (not an integer, negative, out of its range) is a programming error:
 *    TypeError or RangeError whose message names the argument and the value;
 *  - misuse of memory (bad free, double free, corruption) is a KmemError with a stable `code`,
 *    thrown before any state is touched, so every other allocation stays intact.
 * Running out of memory is neither: allocation functions return 0.
 */

/** Stable codes of {@link KmemError}, as listed in the API contract. */
export type KmemErrorCode =
  | "INVALID_FREE"
  | "DOUBLE_FREE"
  | "WRONG_CACHE"
  | "REDZONE"
  | "POISON"
  | "BUSY"
  | "FAULT"
  | "CORRUPTION"
  | "DEADLOCK"
  | "DESTROYED"
  /* The sanitizers' findings (src/kasan, src/kfence). */
  | "KASAN"
  | "KFENCE";

/** Misuse of memory or detected corruption. `code` says which; the message says where. */
export class KmemError extends Error {
  readonly code: KmemErrorCode;

  constructor(code: KmemErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "KmemError";
    this.code = code;
  }
}

/** Describes a value for an error message without risking another exception. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) {
    return String(value);
  }
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  return Object.prototype.toString.call(value);
}

/** Throws TypeError unless `value` is an integer number. */
export function checkInteger(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
}

/** Throws TypeError/RangeError unless `value` is an integer in [min, max]. */
export function checkIntegerRange(
  name: string,
  value: unknown,
  min: number,
  max: number,
): asserts value is number {
  checkInteger(name, value);
  if (value < min || value > max) {
    throw new RangeError(`${name} must be in ${min}..${max}, got ${value}`);
  }
}

/**
 * Throws RangeError unless `nid` is a node id of an instance of `nrNodes` nodes, or -1
 * (NUMA_NO_NODE); `prefix` starts the message (a cache's name).
 */
export function checkNodeArg(nid: unknown, nrNodes: number, prefix = ""): asserts nid is number {
  if (typeof nid !== "number" || !Number.isInteger(nid) || nid < -1 || nid >= nrNodes) {
    throw new RangeError(
      `${prefix}node must be an integer in -1..${nrNodes - 1} (-1: no node), got ${describe(nid)}`,
    );
  }
}

/** Throws TypeError if `options` has a key outside `known` (catches misspelt options). */
export function checkKnownKeys(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `${what}: unknown option ${JSON.stringify(key)} (known: ${known.join(", ")})`,
      );
    }
  }
}

/** Formats an address the way kernel messages do. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}
