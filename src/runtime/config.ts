import { createHash } from 'node:crypto';
import { isIP } from 'node:net';

export type Role = 'all' | 'api' | 'worker' | 'scheduler';
export type KeyRole = 'client' | 'admin';

export interface ApiKey {
  readonly role: KeyRole;
  readonly key: string;
  /** Stable, non-secret name of the key: the owner recorded on the orders it creates. */
  readonly id: string;
}

/** The whole configuration, read from the environment (an empty variable counts as unset). */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Undefined: no authentication (only allowed on a loopback bind). */
  readonly apiKeys: readonly ApiKey[] | undefined;
  readonly redisUrl: string | undefined;
  readonly natsUrl: string | undefined;
  readonly databaseUrl: string | undefined;
  readonly paymentsUrl: string | undefined;
  readonly paymentsKey: string | undefined;
  /** The secret that signs the provider's webhooks (`whsec_…`). */
  readonly paymentsWebhookSecret: string | undefined;
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
  /** Declined payments per customer and per IP per hour; 0 = off. */
  readonly declineLimit: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
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
    paymentsUrl: get('ORDERFLOW_PAYMENTS_URL'),
    paymentsKey: get('ORDERFLOW_PAYMENTS_KEY'),
    paymentsWebhookSecret: get('ORDERFLOW_PAYMENTS_WEBHOOK_SECRET'),
    paymentGiveUpMs: parseDuration(
      'ORDERFLOW_PAYMENTS_GIVE_UP_AFTER',
      get('ORDERFLOW_PAYMENTS_GIVE_UP_AFTER') ?? '1h',
    ),
    simPaymentFailureRate: parseRate(get('ORDERFLOW_SIM_PAYMENT_FAILURE_RATE') ?? '0'),
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
  };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
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

function parseInteger(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}: "${text}" is not an integer from ${min} to ${max}`);
  }
  return value;
}

function parseRate(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new ConfigError(
      `ORDERFLOW_SIM_PAYMENT_FAILURE_RATE: "${text}" is not a number from 0 to 1`,
    );
  }
  return value;
}

function parseRole(text: string): Role {
  if (text === 'all' || text === 'api' || text === 'worker' || text === 'scheduler') return text;
  throw new ConfigError(`ORDERFLOW_ROLE: "${text}" is not one of all, api, worker, scheduler`);
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
