import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { RetentionPolicy } from '../ports/retention.js';
import { parseHardening, type HardeningConfig } from './config-hardening.js';
import {
  ConfigError,
  parseDuration,
  parseDurationOrOff,
  parseFraction,
  parseInteger,
} from './config-values.js';

export { ConfigError, parseDuration };

export type Role = 'all' | 'api' | 'worker' | 'scheduler';
export type SqliteSync = 'normal' | 'full';
export type KeyRole = 'client' | 'admin';

export interface ApiKey {
  readonly role: KeyRole;
  readonly key: string;
  /** Stable, non-secret name of the key: the owner recorded on the orders it creates. */
  readonly id: string;
}

/** The whole configuration, read from the environment (an empty variable counts as unset). */
export interface Config extends HardeningConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Undefined: no authentication (only allowed on a loopback bind). */
  readonly apiKeys: readonly ApiKey[] | undefined;
  readonly redisUrl: string | undefined;
  readonly natsUrl: string | undefined;
  readonly databaseUrl: string | undefined;
  /** A Stripe-compatible provider; undefined = the simulated one. */
  readonly stripe: StripeConfig | undefined;
  /** How long the provider may keep failing before an order gives up. */
  readonly paymentGiveUpMs: number;
  readonly simPaymentFailureRate: number;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  readonly syncInIntervalMs: number;
  readonly syncOutIntervalMs: number;
  readonly reservationTtlMs: number;
  readonly role: Role;
  readonly namespace: string;
  /** Requests per second per API key and per IP; 0 = off. */
  readonly rateLimit: number;
  /** Declined payments per customer, per payment method and per IP per hour; 0 = off. */
  readonly declineLimit: number;
  /**
   * `PRAGMA synchronous` of the embedded SQLite files (`ORDERFLOW_SQLITE_SYNC`): `normal`
   * may lose the last commits on a power cut (never on a crash of the process), `full`
   * makes every commit durable before it is answered.
   */
  readonly sqliteSync: SqliteSync;
  /**
   * The header (lower case) in which the trusted caller in front (a proxy, the shop's
   * back end) names the end user's IP; undefined = the IP is the connection's peer.
   */
  readonly trustedProxyHeader: string | undefined;
  /** Open event streams per API key, and per IP, in one process; 0 = no cap. */
  readonly sseMaxPerKey: number;
  readonly sseMaxPerIp: number;
  /**
   * Fault injection for crash tests (`ORDERFLOW_FAULT_KILL_AT`): the named checkpoints at
   * which the process kills itself with SIGKILL. Empty in production.
   */
  readonly faultKillAt: readonly string[];
  /**
   * Where the embedded default (`ORDERFLOW_ROLE=all`, no Redis/NATS) runs its pipeline
   * (`ORDERFLOW_PIPELINE`): `process`, a child process of lower priority beside the API, so
   * the checkout's event loop serves the checkout; `inline`, in the API's own process.
   */
  readonly pipeline: 'process' | 'inline';
  /**
   * How long the embedded writer gathers writes before one commit
   * (`ORDERFLOW_SQLITE_COMMIT_WINDOW`, 0 = the next turn of the event loop); the pipeline
   * process uses a few ms so that it takes the file's write lock less often.
   */
  readonly sqliteCommitWindowMs: number;
  /**
   * What the hot stores keep (`ORDERFLOW_LOG_RETENTION`, `ORDERFLOW_ORDER_RETENTION`,
   * `ORDERFLOW_DLQ_LIMIT`, `ORDERFLOW_LOG_MAX_BYTES`): see `RetentionPolicy`.
   */
  readonly retention: RetentionPolicy;
}

/**
 * The three settings of a Stripe-compatible provider. The webhook secret is required: a
 * payment waiting for 3-D Secure is settled only by the provider's signed webhook.
 */
export interface StripeConfig {
  readonly url: string;
  readonly apiKey: string;
  /** The secret that signs the provider's webhooks (`whsec_…`). */
  readonly webhookSecret: string;
}

type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env = process.env): Config {
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const host = get('HOST') ?? '127.0.0.1';
  const apiKeys = parseApiKeys(get('ORDERFLOW_API_KEYS'));
  if (!apiKeys && !isLoopback(host)) {
    throw new ConfigError(`ORDERFLOW_API_KEYS is required when binding to ${host} (not loopback)`);
  }
  return {
    port: parseInteger('PORT', get('PORT') ?? '3000', 0, 65535),
    host,
    dataDir: get('ORDERFLOW_DATA_DIR') ?? './data',
    apiKeys,
    redisUrl: get('ORDERFLOW_REDIS_URL'),
    natsUrl: get('ORDERFLOW_NATS_URL'),
    databaseUrl: get('ORDERFLOW_DATABASE_URL'),
    stripe: parseStripe(
      get('ORDERFLOW_PAYMENTS_URL'),
      get('ORDERFLOW_PAYMENTS_KEY'),
      get('ORDERFLOW_PAYMENTS_WEBHOOK_SECRET'),
    ),
    paymentGiveUpMs: parseDuration(
      'ORDERFLOW_PAYMENTS_GIVE_UP_AFTER',
      get('ORDERFLOW_PAYMENTS_GIVE_UP_AFTER') ?? '1h',
    ),
    simPaymentFailureRate: parseFraction(
      'ORDERFLOW_SIM_PAYMENT_FAILURE_RATE',
      get('ORDERFLOW_SIM_PAYMENT_FAILURE_RATE') ?? '0',
    ),
    smtpUrl: get('ORDERFLOW_SMTP_URL'),
    mailFrom: get('ORDERFLOW_MAIL_FROM') ?? 'orderflow <orders@localhost>',
    syncInIntervalMs: parseDuration(
      'ORDERFLOW_SYNC_IN_INTERVAL',
      get('ORDERFLOW_SYNC_IN_INTERVAL') ?? '5m',
    ),
    syncOutIntervalMs: parseDuration(
      'ORDERFLOW_SYNC_OUT_INTERVAL',
      get('ORDERFLOW_SYNC_OUT_INTERVAL') ?? '1s',
    ),
    reservationTtlMs: parseDuration(
      'ORDERFLOW_RESERVATION_TTL',
      get('ORDERFLOW_RESERVATION_TTL') ?? '15m',
    ),
    role: parseRole(get('ORDERFLOW_ROLE') ?? 'all'),
    namespace: parseNamespace(get('ORDERFLOW_NAMESPACE') ?? 'orderflow'),
    rateLimit: parseInteger(
      'ORDERFLOW_RATE_LIMIT',
      get('ORDERFLOW_RATE_LIMIT') ?? '500',
      0,
      1_000_000,
    ),
    declineLimit: parseInteger(
      'ORDERFLOW_DECLINE_LIMIT',
      get('ORDERFLOW_DECLINE_LIMIT') ?? '0',
      0,
      1_000_000,
    ),
    sqliteSync: parseSqliteSync(get('ORDERFLOW_SQLITE_SYNC') ?? 'normal'),
    trustedProxyHeader: parseHeaderName(get('ORDERFLOW_TRUSTED_PROXY_HEADER')),
    ...parseHardening(get),
    sseMaxPerKey: parseInteger(
      'ORDERFLOW_SSE_MAX_PER_KEY',
      get('ORDERFLOW_SSE_MAX_PER_KEY') ?? '100',
      0,
      1_000_000,
    ),
    sseMaxPerIp: parseInteger(
      'ORDERFLOW_SSE_MAX_PER_IP',
      get('ORDERFLOW_SSE_MAX_PER_IP') ?? '200',
      0,
      1_000_000,
    ),
    pipeline: parsePipeline(get('ORDERFLOW_PIPELINE') ?? 'process'),
    sqliteCommitWindowMs: parseDurationOrOff(
      'ORDERFLOW_SQLITE_COMMIT_WINDOW',
      get('ORDERFLOW_SQLITE_COMMIT_WINDOW'),
    ),
    retention: {
      logMs: parseDurationOrOff('ORDERFLOW_LOG_RETENTION', get('ORDERFLOW_LOG_RETENTION') ?? '7d'),
      orderMs: parseDurationOrOff(
        'ORDERFLOW_ORDER_RETENTION',
        get('ORDERFLOW_ORDER_RETENTION') ?? '30d',
      ),
      deadLettersPerGroup: parseInteger(
        'ORDERFLOW_DLQ_LIMIT',
        get('ORDERFLOW_DLQ_LIMIT') ?? '10000',
        1,
        100_000_000,
      ),
      logMaxBytes: parseBytes('ORDERFLOW_LOG_MAX_BYTES', get('ORDERFLOW_LOG_MAX_BYTES') ?? '0'),
    },
    faultKillAt: (get('ORDERFLOW_FAULT_KILL_AT') ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  };
}

const BYTE_UNITS = { '': 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 } as const;

/** `0` (no bound), a number of bytes, or one with a unit: `512mb`, `10GB`, `1tb`. */
function parseBytes(name: string, text: string): number {
  const match = /^(\d+)\s*(kb|mb|gb|tb)?$/i.exec(text);
  if (!match) throw new ConfigError(`${name}: "${text}" is not a size like 0, 500mb or 10gb`);
  const unit = (match[2]?.toLowerCase() ?? '') as keyof typeof BYTE_UNITS;
  return Number(match[1]) * BYTE_UNITS[unit];
}

function parsePipeline(value: string): 'process' | 'inline' {
  const lower = value.toLowerCase();
  if (lower === 'process' || lower === 'inline') return lower;
  throw new ConfigError(`ORDERFLOW_PIPELINE must be process or inline, not ${value}`);
}

function parseStripe(
  url: string | undefined,
  apiKey: string | undefined,
  webhookSecret: string | undefined,
): StripeConfig | undefined {
  if (url === undefined && apiKey === undefined) {
    if (webhookSecret !== undefined) {
      throw new ConfigError(
        'ORDERFLOW_PAYMENTS_WEBHOOK_SECRET is set but no provider is: set ORDERFLOW_PAYMENTS_URL and ORDERFLOW_PAYMENTS_KEY too',
      );
    }
    return undefined;
  }
  if (url === undefined || apiKey === undefined) {
    throw new ConfigError(
      'ORDERFLOW_PAYMENTS_URL and ORDERFLOW_PAYMENTS_KEY are set together or not at all',
    );
  }
  if (webhookSecret === undefined) {
    throw new ConfigError(
      'ORDERFLOW_PAYMENTS_WEBHOOK_SECRET is required with ORDERFLOW_PAYMENTS_URL: without the ' +
        "provider's webhooks a payment that waits for 3-D Secure is never settled",
    );
  }
  return { url, apiKey, webhookSecret };
}

/** Headers that name something else, never the client's address. */
const NOT_AN_ADDRESS_HEADER = new Set(['host', 'authorization', 'cookie', 'content-type']);

function parseHeaderName(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const name = text.toLowerCase();
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$/.test(name) || NOT_AN_ADDRESS_HEADER.has(name)) {
    throw new ConfigError(
      `ORDERFLOW_TRUSTED_PROXY_HEADER: "${text}" is not a header that carries an IP (e.g. x-forwarded-for, x-real-ip)`,
    );
  }
  return name;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function parseRole(text: string): Role {
  if (text === 'all' || text === 'api' || text === 'worker' || text === 'scheduler') return text;
  throw new ConfigError(`ORDERFLOW_ROLE: "${text}" is not one of all, api, worker, scheduler`);
}

function parseSqliteSync(text: string): SqliteSync {
  const value = text.toLowerCase();
  if (value === 'normal' || value === 'full') return value;
  throw new ConfigError(`ORDERFLOW_SQLITE_SYNC: "${text}" is not one of normal, full`);
}

function parseNamespace(text: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(text)) {
    throw new ConfigError('ORDERFLOW_NAMESPACE: 1–64 letters, digits, _ or -');
  }
  return text;
}

/** `client:KEY,admin:KEY2`; several keys may share a role. */
export function parseApiKeys(text: string | undefined): ApiKey[] | undefined {
  if (text === undefined) return undefined;
  const keys = text.split(',').map((pair, index) => {
    const [role, key] = pair
      .trim()
      .split(/:(.*)/s, 2)
      .map((part) => part?.trim());
    if ((role !== 'client' && role !== 'admin') || !key) {
      throw new ConfigError(
        `ORDERFLOW_API_KEYS: entry ${index + 1} is not role:key with role client or admin`,
      );
    }
    const id = `${role}_${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
    return { role, key, id } satisfies ApiKey;
  });
  return keys;
}
