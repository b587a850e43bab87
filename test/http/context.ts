import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { expect } from 'vitest';
import { openSqliteBackend } from '../../src/adapters/sqlite/sqlite-backend.js';
import type { Clock } from '../../src/ports/clock.js';
import type { CatalogProduct } from '../../src/ports/stock-store.js';
import { loadConfig } from '../../src/runtime/config.js';
import type {
  Backends,
  ServiceContext,
  SyncCommands,
  SyncReport,
} from '../../src/runtime/context.js';
import { Intake } from '../../src/workflow/intake.js';
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
  /** Environment for `loadConfig`; defaults: the test keys, rate limit off. */
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
 * A service context from real parts: the SQLite backend in a fresh temporary directory,
 * the real Intake, config from `loadConfig`, a silent pino logger and its own registry.
 * The catalog holds A123 (Widget, 1999 USD, 100 on hand) and B456 (Gadget, 4900, 0).
 */
export async function startTestService(options: TestContextOptions = {}): Promise<TestService> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderflow-http-'));
  const clock: Clock = { now: () => Date.now() };
  const sqlite = openSqliteBackend(dataDir, clock);
  const real: Backends = sqlite;
  const backends: Backends = { ...real, ...options.override?.(real), close: () => real.close() };
  const config = loadConfig({
    ORDERFLOW_API_KEYS: API_KEYS_ENV,
    ORDERFLOW_RATE_LIMIT: '0',
    ...options.env,
  });
  const sync = testSync(backends, clock);
  await sync.putProduct(WIDGET);
  await sync.putProduct(GADGET);
  const ctx: ServiceContext = {
    webhooks: undefined,
    config,
    clock,
    backends,
    intake: new Intake({
      orders: backends.orders,
      stock: backends.stock,
      log: backends.log,
      clock,
      newId: randomUUID,
    }),
    sync,
    logger: pino({ level: 'silent' }),
    metrics: new Registry(),
    ready: async () => {
      const checks = {
        log: await backends.log.ping(),
        sourceOfTruth: await backends.sot.ping().catch(() => false),
      };
      return { ready: checks.log, checks };
    },
  };
  const app = await buildApp(ctx, options.app);
  return {
    ctx,
    app,
    backends: real,
    close: async () => {
      await app.close();
      await real.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sync commands for tests: the same port calls the scheduler's syncs make, without it. */
function testSync(backends: Backends, clock: Clock): SyncCommands {
  let lastSyncAt: string | undefined;
  const report = (count: number): SyncReport => {
    const at = new Date(clock.now()).toISOString();
    lastSyncAt = at;
    return { count, at };
  };
  return {
    async stock() {
      const products = await backends.sot.products();
      await backends.stock.reconcile(products);
      return report(products.length);
    },
    async orders() {
      const entries = await backends.outbox.take(100);
      const orders = [];
      for (const entry of entries) {
        const order = await backends.orders.get(entry.orderId);
        if (order) orders.push(order);
      }
      await backends.sot.applyOrders(orders);
      await backends.outbox.done(entries);
      return report(orders.length);
    },
    async putProduct(product) {
      await backends.sot.putProduct(product);
      await backends.stock.reconcile([product]);
    },
    lastSyncAt: () => lastSyncAt,
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
