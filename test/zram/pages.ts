/* Page contents for the zram tests: compressible text-like pages named by (writer, sector, round). */

/** The page writer `who` writes to sector `i` in round `r`: compressible, and unique. */
export function pageOf(who: number, i: number, r: number, pageSize: number): Uint8Array {
  const text = `{"writer":${who},"sector":${i},"round":${r},"items":[`;
  const page = new Uint8Array(pageSize);
  const enc = new TextEncoder().encode(text + "1,2,3,".repeat(pageSize));
  page.set(enc.subarray(0, pageSize));
  // Some bytes that do not repeat, so that pages of a sector differ past the header.
  for (let k = 0; k < 64; k++)
    page[pageSize - 64 + k] = (who * 131 + i * 17 + r * 7 + k * 29) & 255;
  return page;
}

/** Which writer (1 or 2, any round < 1000) wrote `got` to sector `i`; -1 if no one did. */
export function sharedOwner(got: Uint8Array, i: number, pageSize: number): number {
  const head = new TextDecoder().decode(got.subarray(0, 48));
  const m = /^\{"writer":(\d+),"sector":(\d+),"round":(\d+),/.exec(head);
  if (m === null || Number(m[2]) !== i) return -1;
  const want = pageOf(Number(m[1]), i, Number(m[3]), pageSize);
  return Buffer.compare(Buffer.from(got), Buffer.from(want)) === 0 ? Number(m[1]) : -1;
}
