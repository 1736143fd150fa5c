/*
 * Colours of the report. An allocator keeps one colour in every chart, table swatch and
 * legend, chosen by its place in the registry (so `slub` is the same blue in every report),
 * from a palette of 23 colours no two of which are closer than 24 in CIE76 ΔE (the greedy
 * pick from Tableau's, Kelly's and Trubetskoy's lists that keeps that distance, and no colour
 * lighter than L* 80, which would vanish on white). Names beyond the palette take its colours
 * again with a dash pattern of their own (lineDash), so that no two series look alike.
 */

import { ALLOCATORS } from "./allocators.js";

export const PALETTE: readonly string[] = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
  "#393b79",
  "#882d17",
  "#2b3d26",
  "#f99379",
  "#b3446c",
  "#00a087",
  "#a6761d",
  "#e7298a",
  "#000075",
  "#808000",
  "#911eb4",
  "#f032e6",
  "#4363d8",
];

/** Dash patterns, so that a line is told apart where another runs on top of it. */
const DASHES: readonly (readonly number[])[] = [[], [6, 3], [2, 2], [10, 3, 2, 3], [1, 3], [12, 6]];

export interface SeriesStyle {
  color: string;
  dash: readonly number[];
}

/**
 * A style per name: the registry's names first, in registry order, then any other name in the
 * order given. Registry positions make colours stable across reports; the dash of a name
 * differs from those of the names next to it in the registry, so that lines of equal values
 * (several allocators with the same footprint) stay visible one over another.
 */
export function seriesStyles(names: readonly string[]): Map<string, SeriesStyle> {
  const order = ALLOCATORS.map((a) => a.name);
  for (const n of names) if (!order.includes(n)) order.push(n);
  const styles = new Map<string, SeriesStyle>();
  for (const n of names) {
    const i = order.indexOf(n);
    styles.set(n, {
      color: PALETTE[i % PALETTE.length] as string,
      dash: DASHES[(i + Math.floor(i / PALETTE.length)) % DASHES.length] as readonly number[],
    });
  }
  return styles;
}

/** CIE L*a*b* of an sRGB colour "#rrggbb" (D65). */
export function lab(hex: string): [number, number, number] {
  const lin = (c: number): number => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const [r, g, b] = [1, 3, 5].map((i) => lin(parseInt(hex.slice(i, i + 2), 16) / 255)) as [
    number,
    number,
    number,
  ];
  const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  const f = (t: number): number => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
}

/** CIE76 colour difference: about 2.3 is just noticeable; above 20, different colours. */
export function deltaE(a: string, b: string): number {
  const p = lab(a);
  const q = lab(b);
  return Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
}
