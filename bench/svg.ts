/** Hand-written SVG charts for bench/results (no dependency): grouped bars and lines with markers. */

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** The n-th colour of a fixed palette (cycles). */
export const colour = (i: number): string => PALETTE[i % PALETTE.length] as string;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const n = (x: number): string => (Math.round(x * 10) / 10).toString();

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${n(x)}" y="${n(y)}" ${attrs}>${esc(s)}</text>`;
}

/** 0, and about five round steps up to at least `max`. */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = 0, i = 0; v < max + step && i < 12; v += step, i++) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

export interface BarGroup {
  label: string;
  /** One value per series (null: no figure), and the text shown above its bar. */
  bars: { value: number | null; label: string }[];
}

/** Grouped bars: one group per category, one bar per series, heights as given (0..yMax). */
export function barChart(o: { title: string; subtitle?: string; yLabel: string; series: readonly string[]; groups: readonly BarGroup[] }): string {
  const barW = 14;
  const gap = 18;
  const left = 70;
  // Room above the tallest bar for its rotated label.
  const top = 110;
  const plotH = 300;
  const groupW = o.series.length * barW + gap;
  const width = Math.max(660, left + o.groups.length * groupW + 20);
  const legendRows = Math.ceil(o.series.length / 3);
  const height = top + plotH + 110 + legendRows * 18;
  const max = Math.max(0, ...o.groups.flatMap((g) => g.bars.map((b) => b.value ?? 0)));
  const ticks = niceTicks(max);
  const yMax = ticks[ticks.length - 1] as number;
  const y = (v: number): number => top + plotH - (v / yMax) * plotH;
  const parts = titleAndGrid(o.title, o.subtitle, left, width - 10, ticks, y);
  parts.push(text(16, top + plotH / 2, o.yLabel, `font-size="12" text-anchor="middle" transform="rotate(-90 16 ${top + plotH / 2})"`));
  o.groups.forEach((g, gi) => {
    const x0 = left + gap / 2 + gi * groupW;
    g.bars.forEach((b, si) => {
      if (b.value === null) return;
      const x = x0 + si * barW;
      parts.push(`<rect x="${n(x)}" y="${n(y(b.value))}" width="${barW - 2}" height="${n(top + plotH - y(b.value))}" fill="${colour(si)}"><title>${esc(`${o.series[si]}: ${b.label}`)}</title></rect>`);
      const ty = y(b.value) - 4;
      parts.push(text(x + barW / 2 + 3, ty, b.label, `font-size="9" transform="rotate(-90 ${n(x + barW / 2 + 3)} ${n(ty)})"`));
    });
    const cx = x0 + (o.series.length * barW) / 2;
    const ly = top + plotH + 14;
    parts.push(text(cx, ly, g.label, `font-size="11" text-anchor="end" transform="rotate(-35 ${n(cx)} ${ly})"`));
  });
  parts.push(`<line x1="${left}" x2="${width - 10}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  o.series.forEach((s, i) => {
    const lx = left + (i % 3) * 220;
    const ly = top + plotH + 100 + Math.floor(i / 3) * 18;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colour(i)}"/>`);
    parts.push(text(lx + 18, ly, s, 'font-size="12"'));
  });
  return svgDoc(width, height, parts);
}

export interface Line {
  name: string;
  points: readonly { x: number; y: number }[];
}

export interface Marker {
  x: number;
  label: string;
  colour: string;
}

/** Lines over a shared x axis, with vertical markers (events). */
export function lineChart(o: { title: string; subtitle?: string; xLabel: string; yLabel: string; lines: readonly Line[]; markers: readonly Marker[] }): string {
  const left = 80;
  const top = 60;
  const plotW = 760;
  const plotH = 340;
  const legendRows = Math.ceil(o.lines.length / 3);
  const width = left + plotW + 30;
  const height = top + plotH + 70 + legendRows * 18;
  const xs = o.lines.flatMap((l) => l.points.map((p) => p.x)).concat(o.markers.map((m) => m.x));
  const ys = o.lines.flatMap((l) => l.points.map((p) => p.y));
  const xMaxRaw = Math.max(1, ...xs);
  const xTicks = niceTicks(xMaxRaw);
  const xMax = xTicks[xTicks.length - 1] as number;
  const yTicks = niceTicks(Math.max(1, ...ys));
  const yMax = yTicks[yTicks.length - 1] as number;
  const X = (v: number): number => left + (v / xMax) * plotW;
  const Y = (v: number): number => top + plotH - (v / yMax) * plotH;
  const parts = titleAndGrid(o.title, o.subtitle, left, left + plotW, yTicks, Y);
  for (const t of xTicks) {
    parts.push(`<line x1="${n(X(t))}" x2="${n(X(t))}" y1="${top + plotH}" y2="${top + plotH + 4}" stroke="#333"/>`);
    parts.push(text(X(t), top + plotH + 16, String(t), 'font-size="11" text-anchor="middle"'));
  }
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push(text(left + plotW / 2, top + plotH + 34, o.xLabel, 'font-size="12" text-anchor="middle"'));
  parts.push(text(18, top + plotH / 2, o.yLabel, `font-size="12" text-anchor="middle" transform="rotate(-90 18 ${top + plotH / 2})"`));
  for (const m of o.markers) {
    parts.push(`<line x1="${n(X(m.x))}" x2="${n(X(m.x))}" y1="${top}" y2="${top + plotH}" stroke="${m.colour}" stroke-dasharray="4 3"/>`);
    parts.push(text(X(m.x) + 3, top + 10, m.label, `font-size="10" fill="${m.colour}"`));
  }
  o.lines.forEach((l, i) => {
    if (l.points.length === 0) return;
    // A process seen once has no line to draw: a dot.
    const only = l.points.length === 1 ? (l.points[0] as { x: number; y: number }) : null;
    if (only) parts.push(`<circle cx="${n(X(only.x))}" cy="${n(Y(only.y))}" r="2.5" fill="${colour(i)}"/>`);
    const pts = l.points.map((p) => `${n(X(p.x))},${n(Y(p.y))}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${colour(i)}" stroke-width="1.5" points="${pts}"><title>${esc(l.name)}</title></polyline>`);
    const lx = left + (i % 3) * 250;
    const ly = top + plotH + 54 + Math.floor(i / 3) * 18;
    parts.push(`<line x1="${lx}" x2="${lx + 16}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colour(i)}" stroke-width="3"/>`);
    parts.push(text(lx + 22, ly, l.name, 'font-size="12"'));
  });
  return svgDoc(width, height, parts);
}

/** The title, the subtitle and the horizontal grid lines with their labels, from `left` to `right`. */
function titleAndGrid(title: string, subtitle: string | undefined, left: number, right: number, ticks: readonly number[], y: (v: number) => number): string[] {
  const parts = [text(left, 22, title, 'font-size="15" font-weight="bold"')];
  if (subtitle) parts.push(text(left, 40, subtitle, 'font-size="11" fill="#555"'));
  for (const t of ticks) {
    parts.push(`<line x1="${left}" x2="${right}" y1="${n(y(t))}" y2="${n(y(t))}" stroke="#ddd"/>`);
    parts.push(text(left - 6, y(t) + 4, String(t), 'font-size="11" text-anchor="end"'));
  }
  return parts;
}

function svgDoc(width: number, height: number, parts: readonly string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
