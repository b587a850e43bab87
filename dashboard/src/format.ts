import type { Money } from './types';

/** Amounts are integer minor units: `1234` USD reads `12.34 USD`, `1234` JPY `1234 JPY`. */
export function formatMoney({ amount, currency }: Money): string {
  const digits = minorDigits(currency);
  return `${(amount / 10 ** digits).toFixed(digits)} ${currency}`;
}

/** How many minor-unit digits a currency has (ISO 4217, as the browser knows it); 2 if unknown. */
function minorDigits(currency: string): number {
  try {
    return (
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
        .maximumFractionDigits ?? 2
    );
  } catch {
    return 2;
  }
}

/** A local date and time to the second, the same in every browser. */
export function formatTime(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const pad = (n: number): string => String(n).padStart(2, '0');
  const date = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
  return `${date} ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

/** A latency in whole milliseconds, or a dash when there is none yet. */
export function formatMs(ms: number | undefined): string {
  return ms === undefined ? '–' : `${Math.round(ms)} ms`;
}

/** A per-second rate: whole numbers as they are, others to one decimal. */
export function formatRate(perS: number): string {
  return Number.isInteger(perS) ? String(perS) : perS.toFixed(1);
}
