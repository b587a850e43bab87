import { isIP } from 'node:net';

/** The HTTP hardening settings, read beside the rest of the configuration (config.ts). */
export interface HardeningConfig {
  /**
   * Which peers' X-Forwarded-For fastify believes (`ORDERFLOW_TRUST_PROXY`): a hop count
   * (the number of proxies in front) or the proxies' addresses and CIDRs; undefined = none.
   */
  readonly trustProxy: number | readonly string[] | undefined;
  /** `/metrics` and `/docs` need an admin key (`ORDERFLOW_PROTECT_OPS`). */
  readonly protectOps: boolean;
  /** Load shedding thresholds; 0 turns a check off. */
  readonly shedding: SheddingConfig;
}

export interface SheddingConfig {
  /** Mean event loop delay over a second (`ORDERFLOW_SHED_EVENT_LOOP_DELAY`, 1s). */
  readonly maxEventLoopDelayMs: number;
  /** Event loop utilization 0–1 (`ORDERFLOW_SHED_EVENT_LOOP_UTILIZATION`, 0 = off). */
  readonly maxEventLoopUtilization: number;
  /** V8 heap in use, bytes (`ORDERFLOW_SHED_HEAP_USED_MB`, 0 = off). */
  readonly maxHeapUsedBytes: number;
}

/** Thrown with the variable's name; config.ts turns nothing into anything else. */
type Fail = (message: string) => never;

/** proxy-addr's names for address ranges, accepted beside addresses and CIDRs. */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

export function parseHardening(
  get: (name: string) => string | undefined,
  fail: Fail,
): HardeningConfig {
  const trustProxy = parseTrustProxy(get('ORDERFLOW_TRUST_PROXY'), fail);
  // Two answers to "whose address is this": the header names one, X-Forwarded-For another.
  if (trustProxy !== undefined && get('ORDERFLOW_TRUSTED_PROXY_HEADER') !== undefined) {
    fail('ORDERFLOW_TRUST_PROXY and ORDERFLOW_TRUSTED_PROXY_HEADER: set one or the other');
  }
  return {
    trustProxy,
    protectOps: parseBoolean('ORDERFLOW_PROTECT_OPS', get('ORDERFLOW_PROTECT_OPS'), fail),
    shedding: {
      maxEventLoopDelayMs: parseDelay(get('ORDERFLOW_SHED_EVENT_LOOP_DELAY') ?? '1s', fail),
      maxEventLoopUtilization: parseFraction(
        get('ORDERFLOW_SHED_EVENT_LOOP_UTILIZATION') ?? '0',
        fail,
      ),
      maxHeapUsedBytes:
        parseCount('ORDERFLOW_SHED_HEAP_USED_MB', get('ORDERFLOW_SHED_HEAP_USED_MB') ?? '0', fail) *
        1024 *
        1024,
    },
  };
}

function parseTrustProxy(text: string | undefined, fail: Fail): number | string[] | undefined {
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops < 1 || hops > 32) fail(`ORDERFLOW_TRUST_PROXY: a hop count is 1 to 32, not ${text}`);
    return hops;
  }
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address ?? '');
    const prefixOk =
      prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
    if (!RANGE_NAMES.has(entry) && (family === 0 || !prefixOk)) {
      fail(
        `ORDERFLOW_TRUST_PROXY: "${entry}" is not a hop count, an address, a CIDR or one of loopback, linklocal, uniquelocal`,
      );
    }
  }
  return entries;
}

function parseBoolean(name: string, text: string | undefined, fail: Fail): boolean {
  if (text === undefined) return false;
  const value = text.toLowerCase();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return fail(`${name}: "${text}" is not true or false`);
}

function parseDelay(text: string, fail: Fail): number {
  const match = /^(\d+)(ms|s)?$/.exec(text);
  if (!match) return fail(`ORDERFLOW_SHED_EVENT_LOOP_DELAY: "${text}" is not like 500ms or 1s`);
  return Number(match[1]) * (match[2] === 's' ? 1000 : 1);
}

function parseFraction(text: string, fail: Fail): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    return fail(`ORDERFLOW_SHED_EVENT_LOOP_UTILIZATION: "${text}" is not a number from 0 to 1`);
  }
  return value;
}

function parseCount(name: string, text: string, fail: Fail): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 1_048_576) {
    return fail(`${name}: "${text}" is not an integer from 0 to 1048576`);
  }
  return value;
}
