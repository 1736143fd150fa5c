/*
 * The HTML report in headless Chromium (Debian's chromium, driven by playwright-core): every
 * chart and heap map drawn with something on its canvas, no console errors, no request leaving
 * the file, allocators and heap-map kinds in colours of their own, the heap map's slider
 * changing the picture, the layout one column wide at 420 px; screenshots of the page at both
 * widths and of a heap map are written to kmem-report-screens/ in the temporary folder
 * (replaced by each run: written to a folder of the run's own, then moved there at the end,
 * so that two runs at once never write into one folder).
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { ALLOCATORS } from "../../src/allocators.js";
import { nativeStatus } from "../../src/native.js";
import { deltaE } from "../../src/palette.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// In CI a missing browser is a failure (.ci/run installs it); elsewhere the test is skipped.
const skip =
  !existsSync(CHROMIUM) && process.env.CI === undefined ? `no browser at ${CHROMIUM}` : false;
const out = mkdtempSync(join(tmpdir(), "kmem-html-"));
const SHOTS = mkdtempSync(join(tmpdir(), "kmem-report-screens-"));
/** Where the last run's screenshots are kept, for a person to look at. */
const PUBLISHED = join(tmpdir(), "kmem-report-screens");
after(() => {
  rmSync(out, { recursive: true, force: true });
  // Skipped (no browser): nothing to show, the last run's screenshots stay.
  if (readdirSync(SHOTS).length === 0) return rmSync(SHOTS, { recursive: true, force: true });
  rmSync(PUBLISHED, { recursive: true, force: true });
  try {
    renameSync(SHOTS, PUBLISHED);
  } catch {
    // Another run published its screenshots at the same moment: those stand.
    rmSync(SHOTS, { recursive: true, force: true });
  }
});

/** Runs in the page: charts drawn, per canvas the pixels that are not transparent. */
const INKED_PIXELS = `(() => {
  const canvases = [...document.querySelectorAll("canvas")].filter((c) => c.offsetParent !== null);
  return {
    drawn: Number(document.body.dataset.charts),
    heapmaps: Number(document.body.dataset.heapmaps),
    inked: canvases.map((c) => {
      const ctx = c.getContext("2d");
      if (ctx === null || c.width === 0 || c.height === 0) return [c.className || c.id, 0];
      const px = ctx.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
      return [c.className || c.id, n];
    }),
  };
})()`;

/** A hash of the first heap map's pixels. */
const MAP_HASH = `(() => {
  const c = document.querySelector(".hm-map");
  const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  for (let i = 0; i < px.length; i += 7) h = (Math.imul(h, 31) + px[i]) | 0;
  return h;
})()`;

/** Swatch colours: the first results table's allocators, the first heap map's legend. */
const COLORS = `(() => ({
  allocators: [...document.querySelector("table.results").querySelectorAll("tbody .sw")].map((e) => getComputedStyle(e).backgroundColor),
  kinds: JSON.parse(document.querySelector(".hm-legend").dataset.colors),
}))()`;

/** The boxes of the charts and the page's width, for the narrow layout. */
const LAYOUT = `(() => ({
  scrollWidth: document.documentElement.scrollWidth,
  charts: [...document.querySelectorAll(".chart")].slice(0, 4).map((e) => { const r = e.getBoundingClientRect(); return [r.left, r.width]; }),
  tocBeforeSections: document.querySelector("nav").compareDocumentPosition(document.querySelector("#trace-0")) === 4,
  howBeforeSections: document.querySelector("#how").compareDocumentPosition(document.querySelector("#trace-0")) === 4,
}))()`;

function rgbHex(css: string): string {
  const m = /(\d+), (\d+), (\d+)/.exec(css);
  if (m === null) return css;
  return `#${[m[1], m[2], m[3]].map((v) => Number(v).toString(16).padStart(2, "0")).join("")}`;
}

async function open(browser: Browser, file: string, width: number): Promise<[Page, string[]]> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => {
    if (!r.url().startsWith("file:")) errors.push(`request to ${r.url()}`);
  });
  // Every wait of the page's (loading, drawing, a control's response) is a bound against a
  // page that never gets there, not a timing: generous, for a busy machine.
  page.setDefaultTimeout(120_000);
  page.setDefaultNavigationTimeout(120_000);
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector("body[data-charts]");
  await page.waitForSelector("body[data-heapmaps]");
  return [page, errors];
}

describe("HTML report in headless Chromium", { skip }, () => {
  it("draws every chart and heap map, in distinct colours; the slider scrubs; 420 px is one column", async () => {
    execFileSync(process.execPath, [MAIN, "demo", "-n", "1500", "--quick", "-o", out], {
      encoding: "utf8",
    });
    const report = join(out, "report.html");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const [page, errors] = await open(browser, report, 1280);
      // A string, so that the DOM's types stay out of the project's compilation.
      const r = (await page.evaluate(INKED_PIXELS)) as {
        drawn: number;
        heapmaps: number;
        inked: [string, number][];
      };
      // 2 overall charts; per workload footprint, latency and buddyinfo; a heap map each.
      assert.equal(r.drawn, 2 + 5 * 3);
      assert.equal(r.heapmaps, 5);
      const maps = r.inked.filter(([name]) => name === "hm-map");
      assert.equal(maps.length, 5);
      for (const [name, n] of r.inked) assert.ok(n > 1000, `${name}: ${n} pixels inked`);
      const colors = (await page.evaluate(COLORS)) as { allocators: string[]; kinds: string[] };
      // Every allocator of the registry; the native one where it can run.
      const native = (await nativeStatus()) === null ? 1 : 0;
      assert.equal(
        colors.allocators.length,
        ALLOCATORS.filter((a) => a.kind !== "native").length + native,
      );
      const hexes = colors.allocators.map(rgbHex);
      for (let i = 0; i < hexes.length; i++)
        for (let j = i + 1; j < hexes.length; j++)
          assert.ok(deltaE(hexes[i] as string, hexes[j] as string) > 20, `${hexes[i]} ${hexes[j]}`);
      assert.equal(new Set(colors.kinds).size, colors.kinds.length, colors.kinds.join(" "));
      // The map opens at the payload peak; the slider's first snapshot is the empty heap.
      const atPeak = (await page.evaluate(MAP_HASH)) as number;
      await page.locator(".hm-slider").first().fill("0");
      const atStart = (await page.evaluate(MAP_HASH)) as number;
      assert.notEqual(atStart, atPeak, "scrubbing redraws the map");
      assert.match(
        (await page.locator(".hm-stats").first().textContent()) ?? "",
        /^op 0 of 1,500 · footprint /,
      );
      // Another allocator's map: a peer's heap.
      await page
        .locator(".heapmap")
        .first()
        .locator(".hm-alloc", { hasText: "malloc" })
        .last()
        .click();
      await page.waitForFunction(
        `document.querySelector(".hm-stats").textContent.includes("largest free block")`,
      );
      const layout = (await page.evaluate(LAYOUT)) as {
        tocBeforeSections: boolean;
        howBeforeSections: boolean;
      };
      assert.ok(
        layout.tocBeforeSections && layout.howBeforeSections,
        "contents and how-to-read come first",
      );
      await page.screenshot({ path: join(SHOTS, "report-1280.png"), fullPage: true });
      await page
        .locator(".heapmap")
        .first()
        .screenshot({ path: join(SHOTS, "heapmap.png") });
      assert.deepEqual(errors, []);
      const [narrow, narrowErrors] = await open(browser, report, 420);
      const l = (await narrow.evaluate(LAYOUT)) as {
        scrollWidth: number;
        charts: [number, number][];
      };
      assert.ok(l.scrollWidth <= 420, `the page is ${l.scrollWidth} px wide at 420`);
      for (const [left, width] of l.charts) {
        assert.ok(width > 300 && width <= 420, `a chart ${width} px wide`);
        assert.equal(left, l.charts[0]?.[0], "one chart to a row");
      }
      await narrow.screenshot({ path: join(SHOTS, "report-420.png"), fullPage: true });
      assert.deepEqual(narrowErrors, []);
      for (const f of ["report-1280.png", "report-420.png", "heapmap.png"])
        assert.ok(statSync(join(SHOTS, f)).size > 20_000, f);
    } finally {
      await browser.close();
    }
  });

  it("replay --html of two traces: the summary across them, a heap map per trace", async () => {
    const file = join(out, "two.html");
    execFileSync(
      process.execPath,
      [
        MAIN,
        "replay",
        "webserver",
        "fragmenter",
        "-n",
        "1500",
        "-q",
        "-a",
        "slub,slob,malloc",
        "--html",
        file,
      ],
      { encoding: "utf8" },
    );
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const [page, errors] = await open(browser, file, 1280);
      const r = (await page.evaluate(INKED_PIXELS)) as { drawn: number; heapmaps: number };
      assert.equal(r.drawn, 2 + 2 * 3);
      assert.equal(r.heapmaps, 2);
      assert.match((await page.locator("#summary").textContent()) ?? "", /Across the 2 traces/);
      await page.screenshot({ path: join(SHOTS, "replay-two.png"), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
