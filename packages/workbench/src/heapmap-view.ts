/*
 * The heap map viewer: the script the report inlines to draw heapmap.ts's series. Plain
 * browser JavaScript with no library (a string here, so that the DOM stays out of the
 * project's compilation), reading `HEAPMAPS` (per trace section, the series of each
 * allocator with its colour) and the page's `.heapmap` blocks:
 *
 *   the map       a canvas, a cell per page (or per 4 KiB of a heap), coloured by kind:
 *                 free by order (pale orange for order 0 to pale green for the largest),
 *                 each slab cache a hue of its own, darker the fuller its slab, ...
 *                 (the kinds and their names are heapmap.ts's, written into the script)
 *   the timeline  footprint and payload over the ops, with the external fragmentation
 *                 (1 - largest free block / free memory) and the slab fill on a 0..1 scale,
 *                 a cursor at the snapshot shown and a mark at the payload peak
 *   controls      an allocator per button, a slider to scrub, play/pause, the figures of the
 *                 snapshot, free blocks per order (pages view), a legend, and what a cell
 *                 holds under the pointer
 *
 * Snapshots are decoded when an allocator is first shown (DecompressionStream, gzip). When
 * every map has drawn its first snapshot, `document.body.dataset.heapmaps` is set to their
 * number (the browser test waits for it).
 */

import { CELL_KIND_NAMES, CellKind } from "./heapmap.js";

export const HEAPMAP_SCRIPT = String.raw`
(() => {
  const KIND = ${JSON.stringify(CellKind)};
  const KIND_NAMES = ${JSON.stringify(CELL_KIND_NAMES)};
  const FIXED = { [KIND.HOLE]: "#dcdcdc", [KIND.RESERVED]: "#4d4d4d", [KIND.PCP]: "#f6e27a", [KIND.KMALLOC]: "#e6550d", [KIND.KMALLOC_CACHED]: "#fb9a99", [KIND.VMALLOC]: "#756bb1", [KIND.PGTABLE]: "#843c39", [KIND.PAGES]: "#3182bd", [KIND.ZSMALLOC]: "#31a354", [KIND.UNTOUCHED]: "#f1f1f1", [KIND.OVERHEAD]: "#b0b0b0" };
  const mix = (a, b, t) => "#" + [1, 3, 5].map((i) => Math.round(parseInt(a.slice(i, i + 2), 16) * (1 - t) + parseInt(b.slice(i, i + 2), 16) * t).toString(16).padStart(2, "0")).join("");
  const hsl = (h, s, l) => "hsl(" + h.toFixed(0) + "," + s + "%," + l.toFixed(0) + "%)";
  const cacheHue = (attr) => ((attr - 1) * 137.508 + 20) % 360;
  function color(v, maxOrder) {
    const kind = v >>> 12, fill = (v >>> 8) & 15, attr = v & 255;
    if (kind === KIND.FREE) return mix("#fdc9a8", "#cfeccb", maxOrder > 1 ? Math.min(1, attr / (maxOrder - 1)) : 1);
    if (kind === KIND.SLAB || (kind === KIND.SLOB && attr > 0)) return hsl(cacheHue(attr), 62, 86 - fill * 3.2);
    if (kind === KIND.SLOB) return hsl(172, 55, 86 - fill * 3.2);
    if (kind === KIND.USED) return hsl(212, 60, 84 - fill * 3.2);
    if (kind === KIND.KHEAP) return hsl(28, 50, 76 - fill * 2.8);
    return FIXED[kind] || "#000000";
  }
  const units = (b) => { const u = ["B", "KiB", "MiB", "GiB"]; let i = 0; while (b >= 1024 && i < 3) { b /= 1024; i++; } return (Number.isInteger(b) ? b : b.toFixed(1)) + " " + u[i]; };
  const hex = (n) => "0x" + n.toString(16);
  async function decode(series) {
    const bin = Uint8Array.from(atob(series.data), (c) => c.charCodeAt(0));
    const stream = new Blob([bin]).stream().pipeThrough(new DecompressionStream("gzip"));
    const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    const frames = [];
    let prev = new Uint16Array(series.cells), pos = 0;
    while (pos < bytes.length) {
      const cells = new Uint16Array(series.cells);
      let i = 0;
      while (i < series.cells) {
        const v = bytes[pos] | (bytes[pos + 1] << 8);
        pos += 2;
        let len = 0, shift = 1;
        for (;;) { const b = bytes[pos++]; len += (b & 127) * shift; if (b < 128) break; shift *= 128; }
        for (let k = 0; k < len; k++, i++) cells[i] = prev[i] ^ v;
      }
      frames.push(cells);
      prev = cells;
    }
    return frames;
  }
  function setup(root, trace) {
    const maps = trace.maps;
    const mapCanvas = root.querySelector(".hm-map");
    const line = root.querySelector(".hm-timeline");
    const orders = root.querySelector(".hm-orders");
    const slider = root.querySelector(".hm-slider");
    const play = root.querySelector(".hm-play");
    const stats = root.querySelector(".hm-stats");
    const legend = root.querySelector(".hm-legend");
    const tip = root.querySelector(".hm-tip");
    const buttons = [...root.querySelectorAll(".hm-alloc")];
    const decoded = new Map();
    let cur = null, frames = null, at = 0, timer = null;
    const cols = (s) => (s.cells <= 4096 ? 64 : 128);
    function drawMap() {
      const s = cur.series, c = cols(s), rows = Math.ceil(s.cells / c);
      const px = Math.max(2, Math.floor(512 / c));
      mapCanvas.width = c * px; mapCanvas.height = rows * px;
      const g = mapCanvas.getContext("2d");
      g.fillStyle = "#ffffff"; g.fillRect(0, 0, mapCanvas.width, mapCanvas.height);
      const cells = frames[at], cache = new Map();
      for (let i = 0; i < cells.length; i++) {
        const v = cells[i];
        let col = cache.get(v);
        if (col === undefined) { col = color(v, s.maxOrder); cache.set(v, col); }
        g.fillStyle = col;
        g.fillRect((i % c) * px, Math.floor(i / c) * px, px - (px > 3 ? 1 : 0), px - (px > 3 ? 1 : 0));
      }
    }
    function drawTimeline() {
      const s = cur.series.samples, w = line.width = 520, h = line.height = 170, pad = 34;
      const g = line.getContext("2d");
      g.clearRect(0, 0, w, h);
      const n = s.op.length, lastOp = Math.max(1, s.op[n - 1]);
      const top = Math.max(1, ...s.footprintBytes, ...s.payloadBytes);
      const x = (op) => pad + (op / lastOp) * (w - 2 * pad);
      const y = (v, max) => h - 20 - (v / max) * (h - 34);
      g.strokeStyle = "#ccc"; g.lineWidth = 1; g.strokeRect(pad, 14, w - 2 * pad, h - 34);
      const series = (vals, max, colr, dash) => {
        g.strokeStyle = colr; g.setLineDash(dash); g.lineWidth = 1.6; g.beginPath();
        vals.forEach((v, i) => { if (v === null) return; const X = x(s.op[i]), Y = y(v, max); i === 0 ? g.moveTo(X, Y) : g.lineTo(X, Y); });
        g.stroke(); g.setLineDash([]);
      };
      const frag = s.freeBytes.map((f, i) => (f > 0 ? 1 - s.largestFreeBytes[i] / f : 0));
      series(s.payloadBytes, top, "#777", [5, 3]);
      series(s.footprintBytes, top, cur.color, []);
      series(frag, 1, "#e08214", [2, 2]);
      if (s.slabFill.some((v) => v !== null)) series(s.slabFill, 1, "#2c7fb8", [8, 3, 2, 3]);
      const peak = cur.series.peakSample;
      if (peak >= 0) { g.fillStyle = "#d62728"; g.beginPath(); g.arc(x(s.op[peak]), y(s.payloadBytes[peak], top), 3.5, 0, 7); g.fill(); }
      g.strokeStyle = "#000"; g.lineWidth = 1; g.beginPath(); g.moveTo(x(s.op[at]), 14); g.lineTo(x(s.op[at]), h - 20); g.stroke();
      g.fillStyle = "#444"; g.font = "11px system-ui, sans-serif";
      g.fillText(units(top), 2, 22); g.fillText("0", pad - 10, h - 20); g.fillText("1.0", w - pad + 4, 22);
      g.fillText("op " + lastOp.toLocaleString("en-US"), w - pad - 70, h - 5); g.fillText("0", pad, h - 5);
    }
    function drawOrders() {
      const s = cur.series, fb = s.samples.freeByOrder[at] || [];
      orders.style.display = fb.length > 0 ? "" : "none";
      if (fb.length === 0) return;
      const w = orders.width = 520, h = orders.height = 110, g = orders.getContext("2d");
      g.clearRect(0, 0, w, h);
      const max = Math.max(1, ...fb), bw = (w - 40) / fb.length;
      g.font = "10px system-ui, sans-serif";
      fb.forEach((n, o) => {
        const bh = n > 0 ? (Math.log10(n + 1) / Math.log10(max + 1)) * (h - 34) : 0;
        g.fillStyle = color((KIND.FREE << 12) | o, s.maxOrder);
        g.fillRect(30 + o * bw, h - 18 - bh, bw - 3, bh);
        g.strokeStyle = "#999"; g.strokeRect(30 + o * bw, h - 18 - bh, bw - 3, bh);
        g.fillStyle = "#333"; g.fillText(String(o), 30 + o * bw + bw / 2 - 6, h - 5);
        if (n > 0) g.fillText(String(n), 30 + o * bw + 1, h - 21 - bh);
      });
      g.textAlign = "right";
      g.fillText("free blocks per order (log scale)", w - 4, 10);
      g.textAlign = "left";
    }
    function showStats() {
      const s = cur.series.samples, i = at;
      const parts = [
        "op " + s.op[i].toLocaleString("en-US") + " of " + s.op[s.op.length - 1].toLocaleString("en-US") + (i === cur.series.peakSample ? " (payload peak)" : ""),
        "footprint " + units(s.footprintBytes[i]),
        "payload " + units(s.payloadBytes[i]),
        "free " + units(s.freeBytes[i]),
        "largest free block " + units(s.largestFreeBytes[i]),
        "external fragmentation " + (s.freeBytes[i] > 0 ? (1 - s.largestFreeBytes[i] / s.freeBytes[i]).toFixed(3) : "-"),
      ];
      if (s.slabFill[i] !== null) parts.push("slab fill " + (100 * s.slabFill[i]).toFixed(1) + "%");
      const fb = s.freeByOrder[i] || [];
      if (fb.length > 0) {
        const total = fb.reduce((a, n, o) => a + n * 2 ** o, 0);
        const costly = fb.reduce((a, n, o) => a + (o >= 3 ? n * 2 ** o : 0), 0);
        parts.push("unusable index (order 3) " + (total > 0 ? (1 - costly / total).toFixed(3) : "-"));
      }
      stats.textContent = parts.join(" · ");
    }
    function showLegend() {
      const s = cur.series, seen = new Set(), caches = new Set();
      for (const f of frames) for (const v of f) { const k = v >>> 12; seen.add(k); if ((k === KIND.SLAB || k === KIND.SLOB) && (v & 255) > 0) caches.add(v & 255); }
      const item = (col, text) => '<span class="hm-key"><i style="background:' + col + '"></i>' + text + "</span>";
      const out = [];
      for (const k of [...seen].sort((a, b) => a - b)) {
        if (k === KIND.FREE && s.view === "heap") out.push(item(color(KIND.FREE << 12, s.maxOrder), "free block (the allocator's own lists)"));
        else if (k === KIND.FREE) {
          out.push(item(color((KIND.FREE << 12) | 0, s.maxOrder), "free, order 0") + (s.maxOrder > 1 ? item(color((KIND.FREE << 12) | (s.maxOrder - 1), s.maxOrder), "free, order " + (s.maxOrder - 1)) : ""));
        } else if (k === KIND.SLAB) continue;
        else if (k === KIND.SLOB) out.push(item(color((KIND.SLOB << 12) | (15 << 8), s.maxOrder), "SLOB page (darker: fuller)"));
        else if (k === KIND.USED) out.push(item(color((KIND.USED << 12) | (15 << 8), 0), "live blocks (darker: fuller cell)"));
        else if (k === KIND.KHEAP) out.push(item(color((KIND.KHEAP << 12) | (15 << 8), 0), "kmalloc heap chunk (darker: fuller)"));
        else out.push(item(color(k << 12, s.maxOrder), KIND_NAMES[k]));
      }
      for (const a of [...caches].sort((x, y) => x - y)) out.push(item(color((KIND.SLAB << 12) | (12 << 8) | a, s.maxOrder), "slab " + (s.caches[a - 1] || "?")));
      legend.innerHTML = out.join("") + (caches.size > 0 ? '<span class="hm-note">slabs: lighter = emptier</span>' : "");
      legend.dataset.colors = JSON.stringify(out.map((h) => /background:([^"]+)"/.exec(h)[1]));
    }
    function show(i) {
      at = Math.max(0, Math.min(frames.length - 1, i));
      slider.value = String(at);
      drawMap(); drawTimeline(); drawOrders(); showStats();
    }
    async function select(k) {
      cur = maps[k];
      buttons.forEach((b, j) => b.classList.toggle("on", j === k));
      if (!decoded.has(k)) decoded.set(k, await decode(cur.series));
      frames = decoded.get(k);
      slider.max = String(frames.length - 1);
      showLegend();
      show(Math.min(at, frames.length - 1));
    }
    buttons.forEach((b, k) => b.addEventListener("click", () => select(k)));
    slider.addEventListener("input", () => show(Number(slider.value)));
    play.addEventListener("click", () => {
      if (timer !== null) { clearInterval(timer); timer = null; play.textContent = "▶ play"; return; }
      if (at >= frames.length - 1) show(0);
      play.textContent = "❚❚ pause";
      timer = setInterval(() => { if (at >= frames.length - 1) { clearInterval(timer); timer = null; play.textContent = "▶ play"; } else show(at + 1); }, 160);
    });
    root.querySelector(".hm-peak").addEventListener("click", () => { if (cur.series.peakSample >= 0) show(cur.series.peakSample); });
    mapCanvas.addEventListener("mousemove", (e) => {
      const s = cur.series, c = cols(s), r = mapCanvas.getBoundingClientRect();
      const px = r.width / c, i = Math.floor((e.clientY - r.top) / px) * c + Math.floor((e.clientX - r.left) / px);
      if (i < 0 || i >= s.cells) { tip.textContent = ""; return; }
      const v = frames[at][i], kind = v >>> 12, fill = (v >>> 8) & 15, attr = v & 255;
      let what = KIND_NAMES[kind];
      if ((kind === KIND.FREE && s.view === "pages") || kind === KIND.PCP) what += ", order " + attr;
      if ((kind === KIND.SLAB || kind === KIND.SLOB) && attr > 0) what += " of " + (s.caches[attr - 1] || "?");
      if (kind === KIND.SLAB || kind === KIND.SLOB || kind === KIND.USED || kind === KIND.KHEAP) what += ", " + Math.round((100 * fill) / 15) + "% full";
      const unit = s.view === "pages" ? (s.cellBytes === s.pageSize ? "pfn " + (i * s.cellBytes) / s.pageSize : "pfns " + (i * s.cellBytes) / s.pageSize + "+") : "offset";
      tip.textContent = unit + " at " + hex(i * s.cellBytes) + " (" + units(s.cellBytes) + "): " + what;
    });
    return select(0).then(() => {
      if (maps[0].series.peakSample >= 0) show(maps[0].series.peakSample);
    });
  }
  const roots = [...document.querySelectorAll(".heapmap")];
  Promise.all(roots.map((root) => setup(root, HEAPMAPS[Number(root.dataset.trace)]))).then(
    () => { document.body.dataset.heapmaps = String(roots.length); },
    (err) => { console.error(err); },
  );
})();
`;
