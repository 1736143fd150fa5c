// KASAN, KFENCE and kmemleak: an out-of-bounds read, a use after free, a sampled object
// on a guarded page and a leak, each reported in the words Linux uses.
import { Kmem, KmemError } from "kmem";

const mm = new Kmem({ memory: 4 * 1024 * 1024, kasan: true, kfence: { sampleInterval: 50 } });
// The report ends with the caller's stack (file paths of this machine): left out here.
const report = (err: unknown) => {
  if (err instanceof KmemError) console.log(err.message.split("\nCall trace:")[0]);
};

const p = mm.kmalloc(115); // kmalloc-128: 13 bytes of red zone after the object
try {
  mm.getUint8(p + 115);
} catch (err) {
  report(err);
}
mm.kfree(p); // into the quarantine: not handed out again for a while
try {
  mm.getUint32(p + 8);
} catch (err) {
  report(err);
}

// Every 50th slab allocation comes from KFENCE's pool of guarded pages.
const objs = Array.from({ length: 50 }, () => mm.kmalloc(32));
// The first sampled object sits at the left edge of its page (SLUB's never do: red zones).
const k = objs.find((a) => a % mm.pageSize === 0) as number;
try {
  mm.getUint8(k - 1);
} catch (err) {
  if (err instanceof KmemError) console.log(err.message.split("\n").slice(0, 3).join("\n"));
}

const leaky = new Kmem({ memory: 1024 * 1024, kmemleak: true });
const list = leaky.kmalloc(64);
leaky.setUint32(list, leaky.kmalloc(32)); // reachable from `list`
const lost = leaky.kmalloc(48); // nobody keeps this one
leaky.write(lost, new TextEncoder().encode("a note nobody will read again..."));
for (const leak of leaky.kmemleakScan([list])) {
  console.log(leak.report.split("  backtrace")[0]);
}
