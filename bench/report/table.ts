import type { VariantName } from '../options.js';
import { LABELS } from '../variants/index.js';
import { FIGURES, type Summary } from './summary.js';

function format(value: unknown, digits: number): string {
  if (typeof value !== 'number' || Number.isNaN(value)) return '–';
  return value.toFixed(digits);
}

function ratio(value: unknown, reference: unknown): string {
  if (typeof value !== 'number' || typeof reference !== 'number') return '–';
  if (Number.isNaN(value) || Number.isNaN(reference) || reference === 0) return '–';
  return (value / reference).toFixed(2);
}

export function renderTable(rows: readonly (readonly string[])[]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
        )
        .join('  '),
    )
    .join('\n');
}

/** The figures, one column per variant. */
export function valuesTable(summaries: readonly Summary[]): string {
  const header = [
    'figure (median of runs)',
    ...summaries.map((summary) => LABELS[summary.variant]),
  ];
  const rows = FIGURES.map((figure) => [
    figure.label,
    ...summaries.map((summary) => format(summary[figure.key], figure.digits)),
  ]);
  return renderTable([header, ...rows]);
}

/** Each figure divided by the bare server's (the limit) and by the BullMQ peer's. */
export function ratiosTable(summaries: readonly Summary[]): string {
  const find = (name: VariantName): Summary | undefined =>
    summaries.find((summary) => summary.variant === name);
  const bare = find('bare');
  const bullmq = find('bullmq');
  const others = summaries.filter((summary) => summary.variant !== 'bare');
  const header = [
    'ratio (variant ÷ bare | ÷ BullMQ)',
    ...others.map((summary) => LABELS[summary.variant]),
  ];
  const rows = FIGURES.map((figure) => [
    figure.label,
    ...others.map((summary) => {
      const vsBare = figure.vsBare && bare ? ratio(summary[figure.key], bare[figure.key]) : '–';
      const vsPeer =
        bullmq && summary !== bullmq ? ratio(summary[figure.key], bullmq[figure.key]) : '–';
      return `${vsBare.padStart(6)} | ${vsPeer.padEnd(7)}`;
    }),
  ]);
  return renderTable([header, ...rows]);
}

/** The hot SKU's outcome per run, and the other checks a reader needs beside the numbers. */
export function checks(summaries: readonly Summary[]): string {
  const lines: string[] = [];
  for (const summary of summaries) {
    const label = LABELS[summary.variant];
    if (summary.failedRuns > 0)
      lines.push(`${label}: ${summary.failedRuns} run(s) failed (see the JSON)`);
    summary.hotRuns.forEach((run, index) => {
      const completed = run.byStatus['COMPLETED'] ?? 0;
      const verdict = summary.hotExact === true ? 'exact' : 'NOT exact';
      lines.push(
        `${label} hot SKU run ${index + 1}: ${completed} COMPLETED, ` +
          `${run.byStatus['FAILED_NO_STOCK'] ?? 0} FAILED_NO_STOCK, ${run.open} open, ` +
          `stock left ${run.available} available / ${run.reserved} reserved (${verdict})`,
      );
    });
    if (summary.allDrained === false)
      lines.push(`${label}: an intake backlog did not drain within the timeout`);
    if (summary.intakeNon2xxOrErrors > 0)
      lines.push(`${label}: ${summary.intakeNon2xxOrErrors} intake answers were not 2xx or failed`);
    if (summary.latencyNotCompleted > 0)
      lines.push(
        `${label}: ${summary.latencyNotCompleted} open-loop orders did not end COMPLETED (or were not seen)`,
      );
  }
  return lines.join('\n');
}
