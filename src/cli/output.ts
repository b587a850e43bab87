import type { Money } from './api-types.js';

/** Where a command writes: stdout for its result, stderr for progress and errors. */
export interface Output {
  /** `--json`: one JSON document on stdout, for scripts; else text for people. */
  readonly json: boolean;
  out(text: string): void;
  err(text: string): void;
}

export function consoleOutput(json: boolean): Output {
  return {
    json,
    out: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  };
}

/** The result: as JSON with `--json`, else as `text()` renders it. */
export function print(output: Output, value: unknown, text: () => string): void {
  output.out(output.json ? JSON.stringify(value, null, 2) : text());
}

/**
 * Columns padded to their widest cell, two spaces apart, a header row on top. Enough for
 * an operator's terminal; no dependency for it.
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return columns([headers, ...rows]);
}

/** Rows of cells in aligned columns, without a header. */
export function columns(rows: readonly (readonly string[])[]): string {
  const count = Math.max(0, ...rows.map((row) => row.length));
  const widths = Array.from({ length: count }, (_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) =>
        column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return rows.map(line).join('\n');
}

/** `label: value` lines, the labels aligned. */
export function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([label]) => label.length)) + 1;
  return pairs.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`).join('\n');
}

/** `1999 USD` → `19.99 USD`: minor units by the currency's own number of decimals. */
export function money({ amount, currency }: Money): string {
  let digits = 2;
  try {
    digits =
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
        .maximumFractionDigits ?? 2;
  } catch {
    // an unknown currency code: two decimals
  }
  return `${(amount / 10 ** digits).toFixed(digits)} ${currency}`;
}

/** Cuts a long cell (an error message) to `max` characters. */
export function clip(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
