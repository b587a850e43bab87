import { isIP } from 'node:net';
import {
  ConfigError,
  parseBoolean,
  parseDurationOrOff,
  parseFraction,
  parseInteger,
} from './config-values.js';

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

/** proxy-addr's names for address ranges, accepted beside addresses and CIDRs. */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

export function parseHardening(get: (name: string) => string | undefined): HardeningConfig {
  const trustProxy = parseTrustProxy(get('ORDERFLOW_TRUST_PROXY'));
  // Two answers to "whose address is this": the header names one, X-Forwarded-For another.
  if (trustProxy !== undefined && get('ORDERFLOW_TRUSTED_PROXY_HEADER') !== undefined) {
    throw new ConfigError(
      'ORDERFLOW_TRUST_PROXY and ORDERFLOW_TRUSTED_PROXY_HEADER: set one or the other',
    );
  }
  return {
    trustProxy,
    protectOps: parseBoolean('ORDERFLOW_PROTECT_OPS', get('ORDERFLOW_PROTECT_OPS')),
    shedding: {
      maxEventLoopDelayMs: parseDurationOrOff(
        'ORDERFLOW_SHED_EVENT_LOOP_DELAY',
        get('ORDERFLOW_SHED_EVENT_LOOP_DELAY') ?? '1s',
      ),
      maxEventLoopUtilization: parseFraction(
        'ORDERFLOW_SHED_EVENT_LOOP_UTILIZATION',
        get('ORDERFLOW_SHED_EVENT_LOOP_UTILIZATION') ?? '0',
      ),
      maxHeapUsedBytes:
        parseInteger(
          'ORDERFLOW_SHED_HEAP_USED_MB',
          get('ORDERFLOW_SHED_HEAP_USED_MB') ?? '0',
          0,
          1_048_576,
        ) *
        1024 *
        1024,
    },
  };
}

function parseTrustProxy(text: string | undefined): number | string[] | undefined {
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops < 1 || hops > 32)
      throw new ConfigError(`ORDERFLOW_TRUST_PROXY: a hop count is 1 to 32, not ${text}`);
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
      throw new ConfigError(
        `ORDERFLOW_TRUST_PROXY: "${entry}" is not a hop count, an address, a CIDR or one of loopback, linklocal, uniquelocal`,
      );
    }
  }
  return entries;
}
