/**
 * Small hand-made SVG charts (no library): every label is an SVG <text> child, so it is text, never markup.
 */
import { html } from "./common";

const W = 640;
const PAD = { l: 40, r: 12, t: 12, b: 28 };

/** A round upper bound for an axis: 1, 2, 5 × 10^n at or above `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return ([1, 2, 5, 10].find((m) => m * p >= max) ?? 10) * p;
}

export type Series = { name: string; values: number[]; cls: string };

/** Grouped vertical bars per category (e.g. per day), one bar a series. */
export function BarChart({ labels, series, height = 200, title, width: W = 640 }: { labels: string[]; series: Series[]; height?: number; title: string; width?: number }) {
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const ih = height - PAD.t - PAD.b;
  const iw = W - PAD.l - PAD.r;
  const slot = iw / Math.max(1, labels.length);
  const bw = Math.max(2, (slot * 0.8) / Math.max(1, series.length));
  const y = (v: number) => PAD.t + ih - (v / max) * ih;
  // Every n-th label, counted back from the last (today is always named).
  const every = Math.ceil(labels.length / 10);
  return html`
    <figure class="chart">
      <svg viewBox=${`0 0 ${W} ${height}`} role="img" aria-label=${title}>
        ${[0, 0.5, 1].map((f) => html`<g class="grid-line"><line x1=${PAD.l} x2=${W - PAD.r} y1=${y(max * f)} y2=${y(max * f)} /><text x=${PAD.l - 6} y=${y(max * f) + 4} text-anchor="end">${fmt(max * f)}</text></g>`)}
        ${labels.map((label, i) => html`<g>
          ${series.map((s, j) => {
            const v = s.values[i] ?? 0;
            return html`<rect class=${s.cls} x=${PAD.l + i * slot + slot * 0.1 + j * bw} y=${y(v)} width=${bw - 1} height=${Math.max(0, PAD.t + ih - y(v))}><title>${`${label} ${s.name}: ${v}`}</title></rect>`;
          })}
          ${(labels.length - 1 - i) % every === 0 && html`<text class="x-label" x=${PAD.l + i * slot + slot / 2} y=${height - 8} text-anchor="middle">${label}</text>`}
        </g>`)}
      </svg>
      <figcaption>${series.map((s) => html`<span class="legend"><i class=${s.cls}></i>${s.name}</span>`)}</figcaption>
    </figure>
  `;
}

/** Horizontal bars with their values: answers by path, handoff reasons. */
export function HBars({ items, title, format = String }: { items: { label: string; value: number }[]; title: string; format?: (v: number) => string }) {
  const max = Math.max(1, ...items.map((i) => i.value));
  const row = 24;
  const height = Math.max(row, items.length * row) + 4;
  return html`
    <svg class="hbars" viewBox=${`0 0 ${W} ${height}`} role="img" aria-label=${title}>
      ${items.map(
        (it, i) => html`<g class="hbar">
          <text x="150" y=${i * row + 16} text-anchor="end">${it.label}</text>
          <rect x="158" y=${i * row + 4} height=${row - 8} width=${Math.max(1, (it.value / max) * (W - 260))} />
          <text class="value" x=${162 + Math.max(1, (it.value / max) * (W - 260))} y=${i * row + 16}>${format(it.value)}</text>
        </g>`,
      )}
    </svg>
  `;
}

/** A curve over 0..1 × 0..1 (precision and coverage against the direct threshold), with a marker at `at`. */
export function CurveChart({ lines, at, title, height = 220 }: { lines: { name: string; cls: string; points: { x: number; y: number }[] }[]; at?: number; title: string; height?: number }) {
  const ih = height - PAD.t - PAD.b;
  const iw = W - PAD.l - PAD.r;
  const x = (v: number) => PAD.l + v * iw;
  const y = (v: number) => PAD.t + ih - v * ih;
  return html`
    <figure class="chart">
      <svg viewBox=${`0 0 ${W} ${height}`} role="img" aria-label=${title}>
        ${[0, 0.5, 1].map((f) => html`<g class="grid-line"><line x1=${PAD.l} x2=${W - PAD.r} y1=${y(f)} y2=${y(f)} /><text x=${PAD.l - 6} y=${y(f) + 4} text-anchor="end">${`${f * 100}%`}</text></g>`)}
        ${[0, 0.25, 0.5, 0.75, 1].map((f) => html`<text class="x-label" x=${x(f)} y=${height - 8} text-anchor="middle">${f.toFixed(2)}</text>`)}
        ${lines.map((l) => html`<polyline class=${`curve ${l.cls}`} fill="none" points=${l.points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ")} />`)}
        ${at !== undefined && html`<line class="marker" x1=${x(at)} x2=${x(at)} y1=${PAD.t} y2=${PAD.t + ih} />`}
      </svg>
      <figcaption>${lines.map((l) => html`<span class="legend"><i class=${l.cls}></i>${l.name}</span>`)}</figcaption>
    </figure>
  `;
}

const fmt = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k` : String(Math.round(v * 100) / 100));

/** Milliseconds as "40 ms", "1.8 s", "2.5 min". */
export const ms = (v: number) => (v < 1000 ? `${Math.round(v)} ms` : v < 60_000 ? `${(v / 1000).toFixed(1)} s` : `${(v / 60_000).toFixed(1)} min`);

/**
 * p50 and p95 per path on a log scale (a cache hit takes milliseconds, a human minutes: on a linear scale all
 * but the slowest would be invisible).
 */
export function LatencyBars({ rows, title }: { rows: { label: string; p50: number; p95: number }[]; title: string }) {
  const max = Math.max(10, ...rows.map((r) => r.p95));
  const span = Math.log10(max + 1);
  const len = (v: number) => Math.max(1, (Math.log10(Math.max(0, v) + 1) / span) * (W - 320));
  const row = 30;
  return html`
    <svg class="hbars latency-bars" viewBox=${`0 0 ${W} ${rows.length * row + 4}`} role="img" aria-label=${title}>
      ${rows.map(
        (r, i) => html`<g class="hbar">
          <text x="150" y=${i * row + 18} text-anchor="end">${r.label}</text>
          <rect class="s-1" x="158" y=${i * row + 5} height="9" width=${len(r.p50)}><title>${`p50 ${ms(r.p50)}`}</title></rect>
          <rect class="s-3" x="158" y=${i * row + 15} height="9" width=${len(r.p95)}><title>${`p95 ${ms(r.p95)}`}</title></rect>
          <text class="value" x=${164 + len(r.p95)} y=${i * row + 18}>${`${ms(r.p50)} · ${ms(r.p95)}`}</text>
        </g>`,
      )}
    </svg>
  `;
}
