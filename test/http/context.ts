import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { expect } from 'vitest';
import type { CatalogProduct } from '../../src/ports/stock-store.js';
import { loadConfig } from '../../src/runtime/config.js';
import type { Backends, ServiceContext } from '../../src/runtime/context.js';
import { Service } from '../../src/runtime/service.js';
import { buildApp, type AppOptions } from '../../src/http/app.js';

/** The keys the HTTP tests use; `client2` is a second client, to check order ownership. */
export const KEYS = {
  client: 'ck_http_test',
  client2: 'ck_http_other',
  admin: 'ak_http_test',
} as const;
export const API_KEYS_ENV = `client:${KEYS.client},client:${KEYS.client2},admin:${KEYS.admin}`;

export const WIDGET: CatalogProduct = {
  sku: 'A123',
  name: 'Widget',
  price: { amount: 1999, currency: 'USD' },
  onHand: 100,
};
export const GADGET: CatalogProduct = {
  sku: 'B456',
  name: 'Gadget',
  price: { amount: 4900, currency: 'USD' },
  onHand: 0,
};

export interface TestContextOptions {
  /** Environment for `loadConfig`; defaults: the test keys, rate limit off, the `api` role. */
  readonly env?: Record<string, string>;
  /** Replaces backends (a failing one, for outage tests). */
  readonly override?: (backends: Backends) => Partial<Omit<Backends, 'close'>>;
  readonly app?: AppOptions;
}

export interface TestService {
  readonly ctx: ServiceContext;
  readonly app: FastifyInstance;
  /** The real SQLite backends (not the overrides). */
  readonly backends: Backends;
  close(): Promise<void>;
}

/**
 * The service as production builds it (`Service.open`, the one composition root) in the
 * `api` role — HTTP and the intake, no consumers or schedules, so orders stay where a test
 * puts them — on the SQLite backend in a fresh temporary directory, with a silent logger.
 * Its first start seeds the demo catalog: A123 (Widget, 1999 USD, 100 on hand) and B456
 * (Gadget, 4900, 0).
 */
export async function startTestService(options: TestContextOptions = {}): Promise<TestService> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderflow-http-'));
  const config = loadConfig({
    ORDERFLOW_DATA_DIR: dataDir,
    ORDERFLOW_API_KEYS: API_KEYS_ENV,
    ORDERFLOW_RATE_LIMIT: '0',
    ORDERFLOW_ROLE: 'api',
    ...options.env,
  });
  let real: Backends | undefined;
  const service = await Service.open({
    config,
    logger: pino({ level: 'silent' }),
    wrapBackends: (opened) => {
      real = opened;
      return { ...opened, ...options.override?.(opened), close: () => opened.close() };
    },
  });
  await service.start();
  const app = await buildApp(service.ctx, options.app);
  if (!real) throw new Error('the service opened no backends');
  return {
    ctx: service.ctx,
    app,
    backends: real,
    close: async () => {
      await app.close();
      await service.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An error as a driver throws it when its server is gone. */
export function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
}

export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

export const AS = {
  client: bearer(KEYS.client),
  client2: bearer(KEYS.client2),
  admin: bearer(KEYS.admin),
} as const;

export function orderBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    customerId: 'cust-1',
    email: 'ada@example.com',
    items: [{ sku: 'A123', qty: 2 }],
    paymentMethod: 'pm_card_visa',
    ...overrides,
  };
}

/** vitest's asymmetric matchers, typed `unknown` instead of `any`. */
export const match = {
  string: (): unknown => expect.any(String),
  number: (): unknown => expect.any(Number),
  containing: (text: string): unknown => expect.stringContaining(text),
  matching: (pattern: RegExp): unknown => expect.stringMatching(pattern),
  object: (shape: Record<string, unknown>): unknown => expect.objectContaining(shape),
};
