/*
 * The demo's HTML report in headless Chromium (Debian's chromium, driven by playwright-core):
 * every chart drawn with something on its canvas, no console errors, no request leaving the
 * file, and a screenshot written beside the report.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// In CI a missing browser is a failure (.ci/run installs it); elsewhere the test is skipped.
const skip =
  !existsSync(CHROMIUM) && process.env.CI === undefined ? `no browser at ${CHROMIUM}` : false;

/** Runs in the page: charts drawn, and per canvas the pixels that are not transparent. */
const INKED_PIXELS = `(() => {
  const canvases = [...document.querySelectorAll("canvas")];
  return {
    drawn: Number(document.body.dataset.charts),
    inked: canvases.map((c) => {
      const ctx = c.getContext("2d");
      if (ctx === null || c.width === 0 || c.height === 0) return 0;
      const px = ctx.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
      return n;
    }),
  };
})()`;

describe("HTML report in headless Chromium", { skip }, () => {
  it("draws every chart, logs no error, loads nothing from elsewhere; screenshot taken", async () => {
    const out = mkdtempSync(join(tmpdir(), "kmem-html-"));
    execFileSync(process.execPath, [MAIN, "demo", "-n", "1500", "--quick", "-o", out], {
      encoding: "utf8",
    });
    const report = join(out, "report.html");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("request", (r) => {
        if (!r.url().startsWith("file:")) requests.push(r.url());
      });
      await page.goto(pathToFileURL(report).href);
      await page.waitForSelector("body[data-charts]", { timeout: 20_000 });
      // A string, so that the DOM's types stay out of the project's compilation.
      const charts = (await page.evaluate(INKED_PIXELS)) as { drawn: number; inked: number[] };
      // 2 overall charts; per workload footprint, latency and buddyinfo.
      assert.equal(charts.inked.length, 2 + 5 * 3);
      assert.equal(charts.drawn, charts.inked.length);
      for (const [i, n] of charts.inked.entries())
        assert.ok(n > 1000, `canvas ${i}: ${n} pixels inked`);
      assert.deepEqual(errors, []);
      assert.deepEqual(requests, []);
      const shot = join(out, "report.png");
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 50_000, "a screenshot with content");
    } finally {
      await browser.close();
    }
  });
});
