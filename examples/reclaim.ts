// Watermarks and reserves: how far each GFP flag may go, a shrinker giving pages back under
// pressure, and failures injected on purpose.
import { __GFP_NOWARN, GFP_ATOMIC, GFP_KERNEL, GFP_NOWAIT, Kmem } from "kmem";

const mm = new Kmem({ memory: 4 * 1024 * 1024 }); // min_free_kbytes derived from the size
const { minFreeKb, min, low, high } = mm.watermarks;
console.log(`min_free_kbytes ${minFreeKb}: min ${min}, low ${low}, high ${high} pages`);

// A cache of pages that gives some back when the allocator asks: a shrinker.
const cached: number[] = [];
mm.registerShrinker((nrToScan) => {
  const freed = cached.splice(0, nrToScan);
  for (const p of freed) mm.freePages(p, 0);
  return freed.length;
});

const fill = (gfp: number, into: number[]) => {
  for (let p; (p = mm.allocPages(0, gfp | __GFP_NOWARN)) !== 0;) into.push(p);
  return `${into.length} pages, ${mm.stats().buddyFreePages} left free`;
};
console.log(`GFP_NOWAIT takes ${fill(GFP_NOWAIT, cached)}`); // stops at min
const urgent: number[] = [];
console.log(`GFP_ATOMIC then takes ${fill(GFP_ATOMIC, urgent)}`); // dips below min

// A request that may sleep runs reclaim first: kswapd, woken by the fills above, has the
// shrinker give pages back (up to the high watermark), and the request is served.
const block = mm.allocPages(2, GFP_KERNEL);
console.log(
  `GFP_KERNEL order 2: ${block === 0 ? "failed" : "served"}, ${cached.length} still cached`,
);
const vmstat = mm.report("vmstat").split("\n");
console.log(vmstat.filter((l) => /^(allocstall|pageoutrun|kswapd_wake)/.test(l)).join("\n"));
mm.freePages(block, 2);
for (const p of [...cached.splice(0), ...urgent]) mm.freePages(p, 0);

// fail_page_alloc: every 3rd eligible request fails, twice at most (order 0 included).
mm.setFault("fail_page_alloc", { probability: 100, interval: 3, times: 2, minOrder: 0 });
const tries = Array.from({ length: 9 }, () => mm.allocPages(0, GFP_ATOMIC | __GFP_NOWARN));
console.log(`with fail_page_alloc: ${tries.map((p) => (p === 0 ? "x" : ".")).join("")}`);
mm.setFault("fail_page_alloc", null);
for (const p of tries) if (p !== 0) mm.freePages(p, 0);
mm.verify();
