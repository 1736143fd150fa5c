/*
 * The WebAssembly binary format's encodings that kmem needs to write a module by hand (the
 * KASAN checker, kasan.ts): unsigned LEB128, names, vectors and sections.
 */

/** `n` (unsigned, below 2^32) as unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

const UTF8 = new TextEncoder();

/** A name: its UTF-8 length, then its bytes. */
export const name = (s: string): number[] => {
  const bytes = UTF8.encode(s);
  return [...uleb(bytes.length), ...bytes];
};

/** A vector: its length, then its items. */
export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

/** Section `id` with `body`. */
export const section = (id: number, body: number[]): number[] => [
  id,
  ...uleb(body.length),
  ...body,
];
