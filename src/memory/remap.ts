/*
 * Renewing views after the memory grew (physmem.ts, "Growth"): every typed array and
 * DataView over the memory's buffer that a context keeps, found by walking its objects from
 * a few roots (the PhysMem, the Kmem facade, a WasmHeap), is replaced by the same view over
 * the new buffer; a view of the whole memory (from address 0 to the end of the present
 * pages) is lengthened to the new end. References to the buffer itself are replaced too.
 *
 * The walk runs once per grow and per context, never on an allocation path. It records
 * before it replaces, so that the views of a non-shared memory can be collected before the
 * grow detaches them (a detached view reads as empty: offset and length 0).
 *
 * What it reaches: own enumerable properties of objects and class instances, array
 * elements and Map values, recursively; functions (and what their closures hold) are not
 * walked, so a layer keeps its views in fields, never only in a closure.
 */

import type { Backing } from "./physmem.js";

type AnyView = ArrayBufferView & { readonly length?: number };
type ViewCtor = new (buffer: Backing, byteOffset: number, length: number) => AnyView;

/** One place that holds a view (or the buffer): where, and what it was. */
interface Slot {
  holder: object;
  key: string | number | unknown;
  isMap: boolean;
  /** null: the slot holds the buffer itself. */
  ctor: ViewCtor | null;
  byteOffset: number;
  byteLength: number;
  /** The view covered the whole memory: it is lengthened. */
  whole: boolean;
  bytesPerElement: number;
  /** The view replaced: every slot that held it gets the one same new view. */
  old: object;
}

/** The views collectViews found, to be renewed by applyViews. */
export interface ViewPlan {
  readonly slots: readonly Slot[];
  readonly buffer: Backing;
}

/**
 * Every view over `buffer` reachable from `roots`; a view from byte `offset` of
 * `presentBytes` bytes is the whole memory's.
 */
export function collectViews(
  roots: readonly object[],
  buffer: Backing,
  offset: number,
  presentBytes: number,
): ViewPlan {
  const slots: Slot[] = [];
  const seen = new Set<object>();
  const stack: object[] = [...roots];
  const visit = (holder: object, key: unknown, value: unknown, isMap: boolean): void => {
    if (typeof value !== "object" || value === null) return;
    if (value === buffer) {
      slots.push({
        holder,
        key,
        isMap,
        ctor: null,
        byteOffset: 0,
        byteLength: 0,
        whole: false,
        bytesPerElement: 1,
        old: value,
      });
      return;
    }
    if (ArrayBuffer.isView(value)) {
      if (value.buffer !== buffer) return;
      const bpe =
        value instanceof DataView
          ? 1
          : (value as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
      slots.push({
        holder,
        key,
        isMap,
        ctor: value.constructor as ViewCtor,
        byteOffset: value.byteOffset,
        byteLength: value.byteLength,
        whole: value.byteOffset === offset && value.byteLength === presentBytes,
        bytesPerElement: bpe,
        old: value,
      });
      return;
    }
    if (value instanceof ArrayBuffer || isShared(value)) return;
    if (!seen.has(value)) {
      seen.add(value);
      stack.push(value);
    }
  };
  for (const r of roots) seen.add(r);
  while (stack.length > 0) {
    const obj = stack.pop() as object;
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) visit(obj, i, obj[i], false);
    } else if (obj instanceof Map) {
      for (const [k, v] of obj) visit(obj, k, v, true);
    } else if (obj instanceof Set || obj instanceof WeakMap || obj instanceof WeakSet) {
      continue;
    } else {
      const rec = obj as Record<string, unknown>;
      for (const k of Object.keys(rec)) visit(obj, k, rec[k], false);
    }
  }
  return { slots, buffer };
}

/** Replaces every view of `plan` by the same one over `buffer`, whole ones `newBytes` long. */
export function applyViews(plan: ViewPlan, buffer: Backing, newBytes: number): void {
  const made = new Map<object, unknown>();
  for (const s of plan.slots) {
    let value: unknown = s.ctor === null ? buffer : made.get(s.old);
    if (value === undefined && s.ctor !== null) {
      const bytes = s.whole ? newBytes : s.byteLength;
      value =
        s.ctor === (DataView as unknown as ViewCtor)
          ? new DataView(buffer, s.byteOffset, bytes)
          : new s.ctor(buffer, s.byteOffset, bytes / s.bytesPerElement);
      made.set(s.old, value);
    }
    if (s.isMap) (s.holder as Map<unknown, unknown>).set(s.key, value);
    else (s.holder as Record<string | number, unknown>)[s.key as string | number] = value;
  }
}

function isShared(value: object): boolean {
  return typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer;
}
