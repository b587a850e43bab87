import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseApiKeys, parseDuration } from '../../src/runtime/config.js';
import { formatDuration } from '../../src/runtime/config-values.js';
import { backoffMs } from '../../src/runtime/backoff.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      dataDir: './data',
      apiKeys: undefined,
      simPaymentFailureRate: 0,
      syncInIntervalMs: 300_000,
      syncOutIntervalMs: 1000,
      reservationTtlMs: 900_000,
      role: 'all',
      namespace: 'orderflow',
      rateLimit: 500,
      declineLimit: 0,
      stripe: undefined,
      trustedProxyHeader: undefined,
      sseMaxPerKey: 100,
      sseMaxPerIp: 200,
      retention: {
        logMs: 7 * 86_400_000,
        orderMs: 30 * 86_400_000,
        deadLettersPerGroup: 10_000,
        logMaxBytes: 0,
      },
    });
  });
  it('reads the retentions: durations or 0 for none, the DLQ limit, the log size bound', () => {
    const { retention } = loadConfig({
      ORDERFLOW_LOG_RETENTION: '2s',
      ORDERFLOW_ORDER_RETENTION: '0',
      ORDERFLOW_DLQ_LIMIT: '50',
      ORDERFLOW_LOG_MAX_BYTES: '10GB',
    });
    expect(retention).toEqual({
      logMs: 2000,
      orderMs: 0,
      deadLettersPerGroup: 50,
      logMaxBytes: 10 * 1024 ** 3,
    });
    expect(loadConfig({ ORDERFLOW_LOG_MAX_BYTES: '1048576' }).retention.logMaxBytes).toBe(2 ** 20);
    expect(() => loadConfig({ ORDERFLOW_LOG_RETENTION: 'a week' })).toThrow(/LOG_RETENTION/);
    expect(() => loadConfig({ ORDERFLOW_DLQ_LIMIT: '0' })).toThrow(/DLQ_LIMIT/);
    expect(() => loadConfig({ ORDERFLOW_LOG_MAX_BYTES: 'lots' })).toThrow(/LOG_MAX_BYTES/);
  });
  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', ORDERFLOW_API_KEYS: ' ' }).port).toBe(3000);
  });
  it('parses durations', () => {
    expect(parseDuration('X', '200ms')).toBe(200);
    expect(parseDuration('X', '1s')).toBe(1000);
    expect(parseDuration('X', '5m')).toBe(300_000);
    expect(parseDuration('X', '1h')).toBe(3_600_000);
    expect(parseDuration('X', '1500')).toBe(1500);
    expect(() => parseDuration('X', 'soon')).toThrow(ConfigError);
    expect(() => parseDuration('X', '0s')).toThrow(ConfigError);
  });
  it('writes a duration back as a setting would read: its largest whole unit', () => {
    expect(formatDuration(7 * 86_400_000)).toBe('7d');
    expect(formatDuration(36 * 3_600_000)).toBe('36h');
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(1_500)).toBe('1500ms');
    expect(formatDuration(0)).toBe('0');
    for (const text of ['7d', '36h', '90s', '1500ms'])
      expect(formatDuration(parseDuration('X', text))).toBe(text);
  });
  it('parses API keys into roles with a non-secret id', () => {
    const keys = parseApiKeys('client:abc, admin:def,client:ghi') ?? [];
    expect(keys.map((k) => k.role)).toEqual(['client', 'admin', 'client']);
    expect(keys[0]?.id).toMatch(/^client_[0-9a-f]{16}$/);
    expect(keys[0]?.id).not.toContain('abc');
    expect(() => parseApiKeys('root:abc')).toThrow(ConfigError);
    expect(() => parseApiKeys('client:')).toThrow(ConfigError);
  });
  it('refuses to run without keys off loopback', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(ConfigError);
    expect(loadConfig({ HOST: '0.0.0.0', ORDERFLOW_API_KEYS: 'client:a' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '::1' }).apiKeys).toBeUndefined();
  });
  it('rejects bad values with a clear error', () => {
    expect(() => loadConfig({ ORDERFLOW_ROLE: 'boss' })).toThrow(/ORDERFLOW_ROLE/);
    expect(() => loadConfig({ ORDERFLOW_SIM_PAYMENT_FAILURE_RATE: '2' })).toThrow(/RATE/);
    expect(() => loadConfig({ PORT: 'http' })).toThrow(/PORT/);
    expect(() => loadConfig({ ORDERFLOW_NAMESPACE: 'a b' })).toThrow(/NAMESPACE/);
    expect(() => loadConfig({ ORDERFLOW_SSE_MAX_PER_KEY: '-1' })).toThrow(/SSE_MAX_PER_KEY/);
    expect(() => loadConfig({ ORDERFLOW_SSE_MAX_PER_IP: 'many' })).toThrow(/SSE_MAX_PER_IP/);
  });
  it('a Stripe-compatible provider needs its URL, key and webhook secret together', () => {
    const url = 'http://127.0.0.1:12111';
    const stripe = {
      ORDERFLOW_PAYMENTS_URL: url,
      ORDERFLOW_PAYMENTS_KEY: 'sk_test_1',
      ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: 'whsec_1',
    };
    expect(loadConfig(stripe).stripe).toEqual({
      url,
      apiKey: 'sk_test_1',
      webhookSecret: 'whsec_1',
    });
    const withoutSecret = { ...stripe, ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: undefined };
    expect(() => loadConfig(withoutSecret)).toThrow(ConfigError);
    expect(() => loadConfig(withoutSecret)).toThrow(
      /ORDERFLOW_PAYMENTS_WEBHOOK_SECRET is required/,
    );
    expect(() => loadConfig({ ...stripe, ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: ' ' })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ ...stripe, ORDERFLOW_PAYMENTS_KEY: '' })).toThrow(/set together/);
    expect(() => loadConfig({ ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: 'whsec_1' })).toThrow(
      /no provider is/,
    );
  });
  it('reads the trusted proxy header in lower case, and refuses one that cannot carry an IP', () => {
    expect(
      loadConfig({ ORDERFLOW_TRUSTED_PROXY_HEADER: 'X-Forwarded-For' }).trustedProxyHeader,
    ).toBe('x-forwarded-for');
    expect(() => loadConfig({ ORDERFLOW_TRUSTED_PROXY_HEADER: 'Host' })).toThrow(
      /TRUSTED_PROXY_HEADER/,
    );
    expect(() => loadConfig({ ORDERFLOW_TRUSTED_PROXY_HEADER: 'x forwarded' })).toThrow(
      ConfigError,
    );
  });
  it('reads ORDERFLOW_SQLITE_SYNC: normal unless set to full, anything else refused', () => {
    expect(loadConfig({}).sqliteSync).toBe('normal');
    expect(loadConfig({ ORDERFLOW_SQLITE_SYNC: '' }).sqliteSync).toBe('normal');
    expect(loadConfig({ ORDERFLOW_SQLITE_SYNC: 'normal' }).sqliteSync).toBe('normal');
    expect(loadConfig({ ORDERFLOW_SQLITE_SYNC: 'full' }).sqliteSync).toBe('full');
    expect(loadConfig({ ORDERFLOW_SQLITE_SYNC: ' FULL ' }).sqliteSync).toBe('full');
    expect(() => loadConfig({ ORDERFLOW_SQLITE_SYNC: 'off' })).toThrow(ConfigError);
    expect(() => loadConfig({ ORDERFLOW_SQLITE_SYNC: 'extra' })).toThrow(
      'ORDERFLOW_SQLITE_SYNC: "extra" is not one of normal, full',
    );
  });
});

describe('backoff', () => {
  it('doubles per attempt, with jitter, up to the cap', () => {
    expect(backoffMs(1, 100, 30_000, () => 0)).toBe(50);
    expect(backoffMs(1, 100, 30_000, () => 0.999)).toBeLessThanOrEqual(100);
    expect(backoffMs(3, 100, 30_000, () => 1)).toBe(400);
    expect(backoffMs(20, 100, 30_000, () => 1)).toBe(30_000);
  });
});
