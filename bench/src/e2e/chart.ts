import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * Line charts as hand-written SVG, turned into PNG by rsvg-convert (Debian: librsvg2-bin) or
 * ImageMagick: no browser download and no native npm build. Without either tool the SVG is kept.
 */
export interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
  dashed?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  /** Vertical marker lines, e.g. the 5 s limit or step boundaries. */
  markers?: Array<{ x: number; label: string }>;
  width?: number;
  height?: number;
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceTicks(min: number, max: number, count: number): number[] {
  const span = max - min || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (Math.abs(v) >= 1000)
    return `${(v / 1000).toLocaleString('en', { maximumFractionDigits: 1 })}k`;
  return v.toLocaleString('en', { maximumFractionDigits: 2 });
}

export function renderSvg(spec: ChartSpec): string {
  const width = spec.width ?? 900;
  const height = spec.height ?? 500;
  const m = { left: 70, right: 20, top: 40, bottom: 110 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const all = spec.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const tx = (x: number): number => (spec.logX === true ? Math.log10(Math.max(x, 1e-9)) : x);
  const xs = all.map(([x]) => tx(x));
  const ys = all.map(([, y]) => y);
  let xMin = Math.min(...xs, ...(spec.markers ?? []).map((mk) => tx(mk.x)));
  let xMax = Math.max(...xs, ...(spec.markers ?? []).map((mk) => tx(mk.x)));
  if (spec.logX === true) {
    xMin = Math.floor(xMin);
    xMax = Math.ceil(xMax);
  } else {
    xMin = Math.min(0, xMin);
  }
  const yMin = 0;
  const yMax = Math.max(...ys, 1) * 1.05;
  const px = (x: number): number => m.left + ((tx(x) - xMin) / (xMax - xMin || 1)) * plotW;
  const py = (y: number): number => m.top + plotH - ((y - yMin) / (yMax - yMin || 1)) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(spec.title)}</text>`,
  ];
  const xTicks =
    spec.logX === true
      ? Array.from({ length: xMax - xMin + 1 }, (_, i) => 10 ** (xMin + i))
      : niceTicks(xMin, xMax, 8);
  for (const t of xTicks) {
    const x = px(t);
    parts.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + plotH}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${x}" y="${m.top + plotH + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(yMin, yMax, 6)) {
    const y = py(t);
    parts.push(
      `<line x1="${m.left}" y1="${y}" x2="${m.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`,
    );
    parts.push(`<text x="${m.left - 6}" y="${y + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
    `<text x="${m.left + plotW / 2}" y="${m.top + plotH + 36}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`,
  );
  for (const mk of spec.markers ?? []) {
    const x = px(mk.x);
    parts.push(
      `<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + plotH}" stroke="#c00" stroke-dasharray="4 3"/>`,
      `<text x="${x + 4}" y="${m.top + 14}" fill="#c00">${esc(mk.label)}</text>`,
    );
  }
  spec.series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length > 0) {
      const d = pts
        .map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
        .join(' ');
      parts.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`,
      );
    }
    const col = i % 2;
    const row = Math.floor(i / 2);
    const lx = m.left + col * (plotW / 2);
    const ly = m.top + plotH + 58 + row * 18;
    parts.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${s.color}" stroke-width="3"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${lx + 30}" y="${ly}">${esc(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Writes the PNG; returns false (and leaves an .svg next to it) when no converter is installed. */
export function writePng(spec: ChartSpec, pngPath: string): boolean {
  const svg = renderSvg(spec);
  const svgPath = pngPath.replace(/\.png$/, '.svg');
  fs.writeFileSync(svgPath, svg);
  for (const [cmd, args] of [
    ['rsvg-convert', ['-o', pngPath, svgPath]],
    ['convert', [svgPath, pngPath]],
  ] as const) {
    const result = spawnSync(cmd, [...args], { stdio: 'ignore' });
    if (result.status === 0) {
      fs.rmSync(svgPath);
      return true;
    }
  }
  return false;
}

/** Empirical CDF points of a latency sample (ms); never-seen changes stay off the curve. */
export function cdf(samples: readonly number[]): Array<[number, number]> {
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const total = samples.length;
  return sorted.map((v, i) => [Math.max(v, 1), ((i + 1) / total) * 100]);
}
