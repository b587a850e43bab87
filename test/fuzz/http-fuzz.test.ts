/**
 * Property-based fuzzing of the HTTP surface (fast-check, `inject`, the real SQLite-backed
 * service as production builds it): generated bodies, headers and paths against
 * `POST /v1/orders`, the admin routes and the webhook. Never a 5xx, never a crash, and a
 * refused request stores nothing: the order store, the event log and the idempotency keys
 * hold as many rows after it as before.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQLITE_FILES } from '../../src/adapters/sqlite/sqlite-files.js';
import { AS, KEYS, startTestService, type TestService } from '../http/context.js';

const SECRET = `whsec_${randomBytes(16).toString('hex')}`;
/** A provider with webhooks, never called: `verify` checks signatures locally. */
const WEBHOOKS_ENV = {
  ORDERFLOW_PAYMENTS_URL: 'http://127.0.0.1:9',
  ORDERFLOW_PAYMENTS_KEY: 'sk_test_fuzz',
  ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: SECRET,
};
/** Sized for a 2-core machine: the whole file runs in well under a minute. */
const RUNS = Number(process.env.ORDERFLOW_FUZZ_RUNS ?? 1500);

let service: TestService;
let hot: Database.Database;

beforeAll(async () => {
  service = await startTestService({ env: WEBHOOKS_ENV });
  hot = new Database(path.join(service.ctx.config.dataDir, SQLITE_FILES.hot), { readonly: true });
});
afterAll(async () => {
  hot.close();
  await service.close();
});

/** What a request may have stored: orders, events and idempotency keys. */
async function stored(): Promise<string> {
  const byStatus = await service.backends.orders.countByStatus();
  const orders = Object.values(byStatus).reduce((sum, n) => sum + (n ?? 0), 0);
  const count = (table: string): number =>
    (hot.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  return JSON.stringify({ orders, events: count('events'), keys: count('idempotency_keys') });
}

/** Header values light-my-request can send (visible ASCII and spaces). */
const headerText = fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,300}$/);
const anyText = fc.string({ maxLength: 200, unit: 'grapheme' });
const sku = fc.oneof(fc.constantFrom('A123', 'B456', 'NOPE'), anyText);
const validish = fc.record(
  {
    customerId: fc.oneof(fc.constant('cust-fuzz'), anyText, fc.integer(), fc.constant(null)),
    email: fc.oneof(fc.constant('fuzz@example.com'), fc.emailAddress(), anyText),
    items: fc.oneof(
      fc.array(
        fc.record(
          { sku, qty: fc.oneof(fc.integer({ min: -5, max: 20_000 }), fc.double(), anyText) },
          { requiredKeys: [] },
        ),
        { maxLength: 120 },
      ),
      fc.jsonValue(),
    ),
    paymentMethod: fc.oneof(fc.constant('pm_card_visa'), anyText),
    extra: fc.jsonValue(),
  },
  { requiredKeys: [] },
);
/** Nested arrays and objects, some deeper than the parser allows. */
const deep = fc
  .integer({ min: 1, max: 5_000 })
  .map((depth) => `${'['.repeat(depth)}1${']'.repeat(depth)}`);
const bodyText = fc.oneof(
  validish.map((body) => JSON.stringify(body)),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 400 }),
  deep,
  fc.constantFrom('{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', '', '{', 'null'),
);
const contentType = fc.oneof(
  fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain'),
  headerText,
);
const authorization = fc.oneof(
  fc.constant(AS.client.authorization),
  fc.constant(AS.admin.authorization),
  headerText,
);

const isRefusal = (status: number): boolean => status >= 400;

describe('fuzzing POST /v1/orders', () => {
  it('answers every generated request below 500, and a refused one stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        bodyText,
        contentType,
        authorization,
        fc.option(headerText, { nil: undefined }),
        async (payload, type, auth, idempotencyKey) => {
          const before = await stored();
          const res = await service.app.inject({
            method: 'POST',
            url: '/v1/orders',
            headers: {
              'content-type': type,
              authorization: auth,
              ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }),
            },
            payload,
          });
          expect(res.statusCode, res.body).toBeLessThan(500);
          if (isRefusal(res.statusCode)) {
            expect(res.json<{ error: { code: string } }>().error.code).toMatch(/^[a-z_]+$/);
            expect(await stored()).toBe(before);
          }
        },
      ),
      { numRuns: RUNS },
    );
  }, 120_000);
});

describe('fuzzing the admin routes and paths', () => {
  const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH');
  const segment = fc.oneof(
    fc.constantFrom('v1', 'admin', 'products', 'A123', 'dlq', 'orders', 'stats', 'replay', 'keys'),
    fc.stringMatching(/^[A-Za-z0-9._~%-]{0,40}$/),
  );
  const urlPath = fc.oneof(
    fc.array(segment, { maxLength: 6 }).map((parts) => `/${parts.join('/')}`),
    fc
      .tuple(fc.constantFrom('/v1/admin/orders', '/v1/admin/dlq', '/v1/orders'), headerText)
      .map(
        ([route, query]) => `${route}?${encodeURIComponent(query)}=${encodeURIComponent(query)}`,
      ),
  );

  it('answers below 500, and a refused product write leaves the product as it was', async () => {
    const product = async (): Promise<string> =>
      (
        await service.app.inject({
          method: 'GET',
          url: '/v1/admin/products/A123',
          headers: AS.admin,
        })
      ).body;
    await fc.assert(
      fc.asyncProperty(
        method,
        urlPath,
        bodyText,
        authorization,
        async (verb, url, payload, auth) => {
          const res = await service.app.inject({
            method: verb,
            url,
            headers: { authorization: auth, 'content-type': 'application/json' },
            ...(verb === 'GET' || verb === 'DELETE' ? {} : { payload }),
          });
          expect(res.statusCode, `${verb} ${url}: ${res.body}`).toBeLessThan(500);
        },
      ),
      { numRuns: Math.ceil(RUNS / 2) },
    );
    await fc.assert(
      fc.asyncProperty(bodyText, async (payload) => {
        const before = await product();
        const res = await service.app.inject({
          method: 'PUT',
          url: '/v1/admin/products/A123',
          headers: { ...AS.admin, 'content-type': 'application/json' },
          payload,
        });
        expect(res.statusCode, res.body).toBeLessThan(500);
        if (isRefusal(res.statusCode)) expect(await product()).toBe(before);
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  }, 120_000);
});

describe('fuzzing the webhook', () => {
  const signature = fc.oneof(
    headerText,
    fc
      .tuple(fc.integer({ min: 0, max: 2 ** 32 }), fc.stringMatching(/^[0-9a-f]{0,64}$/))
      .map(([t, v1]) => `t=${t},v1=${v1}`),
  );

  it('refuses unsigned and badly signed bodies with a 4xx and records nothing', async () => {
    await fc.assert(
      fc.asyncProperty(bodyText, signature, contentType, async (payload, sig, type) => {
        const before = await stored();
        const res = await service.app.inject({
          method: 'POST',
          url: '/v1/webhooks/stripe',
          headers: { 'content-type': type, 'stripe-signature': sig },
          payload,
        });
        expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, res.body).toBeLessThan(500);
        expect(await stored()).toBe(before);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  }, 120_000);

  /** Provider-shaped events with generated insides, beside any body at all. */
  const event = fc
    .record({
      id: fc.oneof(fc.string(), fc.jsonValue()),
      type: fc.constantFrom('payment_intent.succeeded', 'payment_intent.payment_failed', 'x'),
      data: fc.oneof(
        fc.jsonValue(),
        fc.record({
          object: fc.record(
            {
              id: fc.oneof(fc.string(), fc.jsonValue()),
              amount: fc.oneof(fc.integer(), fc.jsonValue()),
              amount_received: fc.oneof(fc.integer(), fc.jsonValue()),
              currency: fc.oneof(fc.constant('usd'), fc.jsonValue()),
              metadata: fc.oneof(
                fc.record({ order_id: fc.oneof(fc.string(), fc.jsonValue()) }),
                fc.jsonValue(),
              ),
              last_payment_error: fc.jsonValue(),
            },
            { requiredKeys: [] },
          ),
        }),
      ),
    })
    .map((value) => JSON.stringify(value));

  it('answers correctly signed generated events below 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(bodyText, event), async (payload) => {
        const res = await service.app.inject({
          method: 'POST',
          url: '/v1/webhooks/stripe',
          headers: {
            'content-type': 'application/json',
            'stripe-signature': Stripe.webhooks.generateTestHeaderString({
              payload,
              secret: SECRET,
            }),
          },
          payload,
        });
        expect(res.statusCode, res.body).toBeLessThan(500);
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  }, 120_000);
});

// Keys stay out of answers, whatever was sent.
it('never echoes an API key in an answer', async () => {
  for (const key of Object.values(KEYS)) {
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: { authorization: `Bearer ${key}x`, 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(res.body).not.toContain(key);
  }
});
