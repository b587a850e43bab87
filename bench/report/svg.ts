import { LABELS } from '../variants/index.js';
import type { Summary } from './summary.js';

interface Panel {
  readonly title: string;
  readonly series: readonly {
    readonly name: string;
    readonly color: string;
    readonly pick: (s: Summary) => number;
  }[];
}

const PANELS: readonly Panel[] = [
  {
    title: 'throughput (higher is better)',
    series: [
      { name: 'intake req/s', color: '#4e79a7', pick: (s) => s.intakeRps },
      { name: 'end-to-end orders/s', color: '#59a14f', pick: (s) => s.e2eOrdersPerS },
      { name: 'hot SKU orders/s', color: '#edc948', pick: (s) => s.hotOrdersPerS },
    ],
  },
  {
    title: 'p99 latency, ms (lower is better)',
    series: [
      { name: 'intake p99', color: '#e15759', pick: (s) => s.intakeP99 },
      { name: '202 → COMPLETED p99', color: '#b07aa1', pick: (s) => s.latencyP99 },
    ],
  },
];

const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A hand-written SVG: one panel of grouped bars per kind of figure, one group per variant. */
export function chart(summaries: readonly Summary[], title: string): string {
  const width = 900;
  const panelHeight = 260;
  const left = 70;
  const plotWidth = width - left - 20;
  const parts: string[] = [];
  PANELS.forEach((panel, panelIndex) => {
    const top = 60 + panelIndex * (panelHeight + 70);
    const values = summaries.flatMap((s) => panel.series.map((series) => series.pick(s)));
    const max = Math.max(1, ...values.filter((value) => Number.isFinite(value)));
    const group = plotWidth / Math.max(1, summaries.length);
    const bar = (group * 0.8) / panel.series.length;
    parts.push(
      `<text x="${left}" y="${top - 10}" font-weight="bold">${escape(panel.title)}</text>`,
    );
    parts.push(
      `<line x1="${left}" y1="${top + panelHeight}" x2="${width - 20}" y2="${top + panelHeight}" stroke="#333"/>`,
    );
    parts.push(
      `<text x="${left - 6}" y="${top + 10}" text-anchor="end" font-size="10">${Math.round(max)}</text>`,
    );
    summaries.forEach((summary, index) => {
      const x0 = left + index * group + group * 0.1;
      panel.series.forEach((series, seriesIndex) => {
        const value = series.pick(summary);
        if (!Number.isFinite(value)) return;
        const h = (value / max) * panelHeight;
        const x = x0 + seriesIndex * bar;
        parts.push(
          `<rect x="${x.toFixed(1)}" y="${(top + panelHeight - h).toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${series.color}"><title>${escape(`${LABELS[summary.variant]}: ${series.name} ${Math.round(value)}`)}</title></rect>`,
          `<text x="${(x + bar / 2).toFixed(1)}" y="${(top + panelHeight - h - 3).toFixed(1)}" text-anchor="middle" font-size="9">${Math.round(value)}</text>`,
        );
      });
      parts.push(
        `<text x="${(x0 + group * 0.4).toFixed(1)}" y="${top + panelHeight + 15}" text-anchor="middle" font-size="11">${escape(LABELS[summary.variant])}</text>`,
      );
    });
    panel.series.forEach((series, seriesIndex) => {
      const x = left + seriesIndex * 200;
      const y = top + panelHeight + 32;
      parts.push(
        `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${series.color}"/>`,
        `<text x="${x + 14}" y="${y}" font-size="11">${escape(series.name)}</text>`,
      );
    });
  });
  const height = 60 + PANELS.length * (panelHeight + 70);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">${escape(title)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
