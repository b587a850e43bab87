import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { displayUrl } from '../../src/adapters/shared/display-url.js';
import { backendSummary } from '../../src/runtime/backend-summary.js';
import { loadConfig } from '../../src/runtime/config.js';

describe('the backends as the ready line names them', () => {
  it('drops users, passwords, queries and fragments from URLs', () => {
    expect(displayUrl('postgres://shop:s3cret@db.internal:5432/orders?sslkey=k&password=p')).toBe(
      'postgres://db.internal:5432/orders',
    );
    expect(displayUrl('redis://:s3cret@127.0.0.1:6379/0')).toBe('redis://127.0.0.1:6379/0');
    expect(displayUrl('nats://user:s3cret@127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
    expect(displayUrl('https://api.stripe.com/')).toBe('https://api.stripe.com');
    expect(displayUrl('not a url s3cret')).toBe('(an unparsable URL)');
  });

  it('names the embedded files by their absolute paths', () => {
    const dataDir = path.resolve('./data');
    expect(backendSummary(loadConfig({ ORDERFLOW_DATA_DIR: './data' }))).toEqual({
      eventLog: path.join(dataDir, 'orderflow.db'),
      hotStore: path.join(dataDir, 'orderflow.db'),
      sourceOfTruth: path.join(dataDir, 'sot.db'),
      payments: 'simulated',
      mail: `outbox ${path.join(dataDir, 'outbox')}`,
    });
  });

  it('names the engines of the scale-out set', () => {
    const config = loadConfig({
      ORDERFLOW_REDIS_URL: 'redis://:pw@10.0.0.2:6379/1',
      ORDERFLOW_NATS_URL: 'nats://u:pw@10.0.0.3:4222',
      ORDERFLOW_DATABASE_URL: 'postgres://u:pw@10.0.0.4/shop',
      ORDERFLOW_PAYMENTS_URL: 'https://api.stripe.com',
      ORDERFLOW_PAYMENTS_KEY: 'sk_live_x',
      ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: 'whsec_x',
      ORDERFLOW_SMTP_URL: 'smtp://u:pw@mail.example.com:587',
    });
    const summary = backendSummary(config);
    expect(summary).toEqual({
      eventLog: 'nats://10.0.0.3:4222',
      hotStore: 'redis://10.0.0.2:6379/1',
      sourceOfTruth: 'postgres://10.0.0.4/shop',
      payments: 'https://api.stripe.com',
      mail: 'smtp://mail.example.com:587',
    });
    expect(JSON.stringify(summary)).not.toMatch(/pw|sk_live|whsec/);
  });
});
