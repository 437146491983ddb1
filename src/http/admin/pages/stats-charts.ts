import { escapeHtml as esc } from '../../../rendering/escape.js';

/**
 * Server-drawn SVG charts (pure): no script, no CDN, readable without JS, printable. Each chart is
 * an image with a title and a description for screen readers; the page always shows the same
 * numbers in a table beside it, which is the accessible form of the data.
 */

export interface ChartSeries {
  name: string;
  values: number[];
  /** A fill with enough contrast on white; series are told apart by the legend too. */
  color: string;
}

export interface ChartSpec {
  /** Unique within the page (ids of the title and description). */
  id: string;
  title: string;
  description: string;
  labels: string[];
  series: ChartSeries[];
  /** How an axis value is written (e.g. percentages). */
  format?: (n: number) => string;
  width?: number;
  height?: number;
}

export const CHART_COLORS = ['#1d4ed8', '#b45309', '#047857', '#9d174d'];

/** A round axis maximum at or above `max`: 1, 2, 2.5 or 5 times a power of ten. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const pow = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * pow >= max) return step * pow;
  return 10 * pow;
}

const PAD = { top: 16, right: 44, bottom: 56, left: 56 };

function frame(spec: ChartSpec, body: string, width: number, height: number): string {
  const legend = spec.series
    .map(
      (s, i) =>
        `<g transform="translate(${PAD.left + i * 150},${height - 14})"><rect width="12" height="12" y="-10" fill="${esc(s.color)}"/><text x="16" font-size="12" fill="#111827">${esc(s.name)}</text></g>`,
    )
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-labelledby="${esc(spec.id)}-title ${esc(spec.id)}-desc" preserveAspectRatio="xMinYMin meet">` +
    `<title id="${esc(spec.id)}-title">${esc(spec.title)}</title>` +
    `<desc id="${esc(spec.id)}-desc">${esc(spec.description)}</desc>` +
    body +
    legend +
    '</svg>'
  );
}

function axis(max: number, width: number, height: number, format: (n: number) => string): string {
  const plotH = height - PAD.top - PAD.bottom;
  // Fifths of a maximum from niceMax() are round numbers (1, 2, 2.5, 5 or 10 times a power of ten, over 5).
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1].map((f) => {
    const y = PAD.top + plotH - f * plotH;
    return `<line x1="${PAD.left}" x2="${width - PAD.right}" y1="${y}" y2="${y}" stroke="#e5e7eb"/><text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end" font-size="11" fill="#4b5563">${esc(format(max * f))}</text>`;
  });
  return `<g aria-hidden="true">${ticks.join('')}</g>`;
}

function xLabels(labels: string[], x: (i: number) => number, height: number): string {
  // Long runs of labels are thinned so they never overlap; the table has every one.
  const every = Math.max(1, Math.ceil(labels.length / 12));
  return `<g aria-hidden="true">${labels
    .map((l, i) =>
      i % every === 0
        ? `<text x="${x(i)}" y="${height - PAD.bottom + 16}" text-anchor="middle" font-size="11" fill="#374151">${esc(l)}</text>`
        : '',
    )
    .join('')}</g>`;
}

const defaultFormat = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

/** Grouped vertical bars: one group per label, one bar per series. */
export function barChart(spec: ChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 280;
  const format = spec.format ?? defaultFormat;
  const max = niceMax(Math.max(0, ...spec.series.flatMap((s) => s.values)));
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const groupW = plotW / Math.max(1, spec.labels.length);
  const barW = Math.max(2, Math.min(40, (groupW * 0.8) / Math.max(1, spec.series.length)));
  const bars = spec.labels
    .map((label, i) =>
      spec.series
        .map((s, j) => {
          const v = s.values[i] ?? 0;
          const h = (v / max) * plotH;
          const x = PAD.left + i * groupW + (groupW - barW * spec.series.length) / 2 + j * barW;
          return `<rect x="${x.toFixed(1)}" y="${(PAD.top + plotH - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${esc(s.color)}"><title>${esc(`${label} · ${s.name}: ${format(v)}`)}</title></rect>`;
        })
        .join(''),
    )
    .join('');
  const body =
    axis(max, width, height, format) +
    bars +
    xLabels(spec.labels, (i) => PAD.left + i * groupW + groupW / 2, height);
  return frame(spec, body, width, height);
}

/** Lines with points: one line per series over the labels (e.g. hours or issues). */
export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 280;
  const format = spec.format ?? defaultFormat;
  const max = niceMax(Math.max(0, ...spec.series.flatMap((s) => s.values)));
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const n = spec.labels.length;
  const x = (i: number) => PAD.left + (n <= 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const lines = spec.series
    .map((s, j) => {
      const pts = spec.labels.map((_, i) => `${x(i).toFixed(1)},${y(s.values[i] ?? 0).toFixed(1)}`);
      const dots = spec.labels
        .map(
          (label, i) =>
            `<circle cx="${x(i).toFixed(1)}" cy="${y(s.values[i] ?? 0).toFixed(1)}" r="3" fill="${esc(s.color)}"><title>${esc(`${label} · ${s.name}: ${format(s.values[i] ?? 0)}`)}</title></circle>`,
        )
        .join('');
      // Later series are dashed, so lines that coincide stay visible and colour is not the only cue.
      const dash = j > 0 ? ' stroke-dasharray="6 4"' : '';
      return `<polyline fill="none" stroke="${esc(s.color)}" stroke-width="${j > 0 ? 2 : 3}"${dash} points="${pts.join(' ')}"/>${dots}`;
    })
    .join('');
  return frame(
    spec,
    axis(max, width, height, format) + lines + xLabels(spec.labels, x, height),
    width,
    height,
  );
}
