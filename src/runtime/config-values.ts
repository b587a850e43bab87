/** The parsers of configuration values, shared by every part of the configuration. */

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `250ms`, `1s`, `5m`, `1h`, `2d`; a bare number is milliseconds. */
export function parseDuration(name: string, text: string): number {
  const match = DURATION.exec(text);
  if (!match)
    throw new ConfigError(`${name}: "${text}" is not a duration like 500ms, 1s, 5m or 1h`);
  const unit = (match[2] ?? 'ms') as keyof typeof UNIT_MS;
  const ms = Math.round(Number(match[1]) * UNIT_MS[unit]);
  if (ms <= 0) throw new ConfigError(`${name}: must be more than 0`);
  return ms;
}

/** A duration as a setting would be written: its largest whole unit (`7d`, `36h`, `90s`); `0` for none. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0';
  const units = Object.entries(UNIT_MS).sort(([, a], [, b]) => b - a);
  const [unit, size] = units.find(([, size]) => ms % size === 0) ?? ['ms', 1];
  return `${ms / size}${unit}`;
}

/** A duration, or 0 (`0`, `0ms`, `0s`) for none; unset is 0 too. */
export function parseDurationOrOff(name: string, text: string | undefined): number {
  if (text === undefined || /^0(ms|s)?$/.test(text)) return 0;
  return parseDuration(name, text);
}

export function parseInteger(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}: "${text}" is not an integer from ${min} to ${max}`);
  }
  return value;
}

/** A number from 0 to 1. */
export function parseFraction(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new ConfigError(`${name}: "${text}" is not a number from 0 to 1`);
  }
  return value;
}

/** `true`/`1` or `false`/`0`; unset is false. */
export function parseBoolean(name: string, text: string | undefined): boolean {
  if (text === undefined) return false;
  const value = text.toLowerCase();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`${name}: "${text}" is not true or false`);
}
