import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint, IDEMPOTENCY_TTL_MS } from '../../src/workflow/idempotent.js';
import { AS, KEYS, orderBody, startTestService, type TestService, match } from './context.js';

interface Accepted {
  orderId: string;
  status: string;
  total: { amount: number; currency: string };
}
interface ErrorReply {
  error: {
    code: string;
    message: string;
    details?: { in?: string; issues?: { path: (string | number)[]; message: string }[] };
  };
}

describe('orders API', () => {
  let service: TestService;
  const post = (payload: unknown, headers: Record<string, string> = AS.client) =>
    service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers,
      payload: payload as Record<string, unknown>,
    });
  const pendingCount = async () => (await service.backends.orders.countByStatus()).PENDING ?? 0;
  const scopeOf = (key: string) =>
    service.ctx.config.apiKeys?.find((apiKey) => apiKey.key === key)?.id ?? '';

  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.close());

  describe('POST /v1/orders', () => {
    it('answers 202 with the order id, PENDING and the catalog total, and a Location', async () => {
      const res = await post(
        orderBody({
          items: [
            { sku: 'A123', qty: 2 },
            { sku: 'A123', qty: 1 },
          ],
        }),
      );
      expect(res.statusCode).toBe(202);
      const body = res.json<Accepted>();
      expect(body).toEqual({
        orderId: match.string(),
        status: 'PENDING',
        total: { amount: 3 * 1999, currency: 'USD' },
      });
      expect(res.headers.location).toBe(`/v1/orders/${body.orderId}`);
      const stored = await service.backends.orders.get(body.orderId);
      expect(stored?.owner).toBe(scopeOf(KEYS.client));
      expect(stored?.clientIp).toBe('127.0.0.1');
    });

    it('refuses an unknown SKU with 422 unknown_sku and stores nothing', async () => {
      const before = await pendingCount();
      const res = await post(
        orderBody({
          items: [
            { sku: 'A123', qty: 1 },
            { sku: 'NOPE', qty: 1 },
          ],
        }),
      );
      expect(res.statusCode).toBe(422);
      expect(res.json<ErrorReply>().error).toMatchObject({
        code: 'unknown_sku',
        details: { skus: ['NOPE'] },
      });
      expect(await pendingCount()).toBe(before);
    });

    const invalid: [string, Record<string, unknown>, (string | number)[]][] = [
      ['a missing customerId', { customerId: undefined }, ['customerId']],
      ['an empty customerId', { customerId: '' }, ['customerId']],
      ['a customerId of 129 characters', { customerId: 'c'.repeat(129) }, ['customerId']],
      ['an invalid email', { email: 'not-an-email' }, ['email']],
      ['an email longer than 254', { email: `${'a'.repeat(250)}@example.com` }, ['email']],
      ['no items', { items: [] }, ['items']],
      [
        '101 items',
        { items: Array.from({ length: 101 }, () => ({ sku: 'A123', qty: 1 })) },
        ['items'],
      ],
      ['a quantity given as a string', { items: [{ sku: 'A123', qty: '2' }] }, ['items', 0, 'qty']],
      ['a quantity of 0', { items: [{ sku: 'A123', qty: 0 }] }, ['items', 0, 'qty']],
      ['a quantity of 10001', { items: [{ sku: 'A123', qty: 10_001 }] }, ['items', 0, 'qty']],
      ['a fractional quantity', { items: [{ sku: 'A123', qty: 1.5 }] }, ['items', 0, 'qty']],
      ['an empty sku', { items: [{ sku: '', qty: 1 }] }, ['items', 0, 'sku']],
      ['a sku of 65 characters', { items: [{ sku: 'S'.repeat(65), qty: 1 }] }, ['items', 0, 'sku']],
      ['a paymentMethod of 129 characters', { paymentMethod: 'p'.repeat(129) }, ['paymentMethod']],
      ['a client-sent total', { total: { amount: 1, currency: 'USD' } }, []],
      ['a client-sent unit price', { items: [{ sku: 'A123', qty: 1, price: 1 }] }, ['items', 0]],
    ];
    it.each(invalid)(
      'refuses %s with 400 validation_error and the path',
      async (_what, overrides, path) => {
        const before = await pendingCount();
        const res = await post(orderBody(overrides));
        expect(res.statusCode).toBe(400);
        const { error } = res.json<ErrorReply>();
        expect(error.code).toBe('validation_error');
        expect(error.details?.in).toBe('body');
        expect(error.details?.issues?.map((issue) => issue.path)).toContainEqual(path);
        expect(error.details?.issues?.[0]?.message).toEqual(match.string());
        expect(await pendingCount()).toBe(before);
      },
    );

    it('refuses a body that is not an object, or none at all', async () => {
      for (const payload of ['[]', '"text"', '42', 'null', '']) {
        const res = await service.app.inject({
          method: 'POST',
          url: '/v1/orders',
          headers: { ...AS.client, 'content-type': 'application/json' },
          payload,
        });
        expect(res.statusCode, payload).toBe(400);
        expect(res.json<ErrorReply>().error.code).toBe('validation_error');
      }
    });

    it('refuses broken JSON with 400 validation_error', async () => {
      const res = await service.app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: { ...AS.client, 'content-type': 'application/json' },
        payload: '{"customerId": "c1", ',
      });
      expect(res.statusCode).toBe(400);
      expect(res.json<ErrorReply>().error.code).toBe('validation_error');
    });

    it('refuses __proto__ and constructor.prototype keys with 400 validation_error', async () => {
      const base = JSON.stringify(orderBody()).slice(1, -1);
      for (const poison of [
        '"__proto__":{"isAdmin":true}',
        '"constructor":{"prototype":{"isAdmin":true}}',
      ]) {
        const res = await service.app.inject({
          method: 'POST',
          url: '/v1/orders',
          headers: { ...AS.client, 'content-type': 'application/json' },
          payload: `{${base},${poison}}`,
        });
        expect(res.statusCode, poison).toBe(400);
        // Refused by the parser, before the schema would refuse the unknown key.
        expect(res.json<ErrorReply>().error).toMatchObject({
          code: 'validation_error',
          message: match.containing('__proto__'),
        });
      }
    });

    it('refuses a body that is not application/json with 415 unsupported_media_type', async () => {
      const cases: Record<string, string>[] = [
        { 'content-type': 'text/plain' },
        { 'content-type': 'application/x-www-form-urlencoded' },
        { 'content-type': 'application/xml' },
        {},
      ];
      for (const headers of cases) {
        const res = await service.app.inject({
          method: 'POST',
          url: '/v1/orders',
          headers: { ...AS.client, ...headers },
          payload: Buffer.from(JSON.stringify(orderBody())),
        });
        expect(res.statusCode, JSON.stringify(headers)).toBe(415);
        expect(res.json<ErrorReply>().error.code).toBe('unsupported_media_type');
      }
    });

    it('accepts application/json with a charset', async () => {
      const res = await service.app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: { ...AS.client, 'content-type': 'application/json; charset=utf-8' },
        payload: JSON.stringify(orderBody()),
      });
      expect(res.statusCode).toBe(202);
    });

    it('refuses a body over 1 MiB with 413 payload_too_large', async () => {
      const huge = JSON.stringify(orderBody({ customerId: 'x'.repeat(1_048_577) }));
      const res = await service.app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: { ...AS.client, 'content-type': 'application/json' },
        payload: huge,
      });
      expect(res.statusCode).toBe(413);
      expect(res.json<ErrorReply>().error.code).toBe('payload_too_large');
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the same answer for the same key and body, with Idempotent-Replayed', async () => {
      const before = await pendingCount();
      const headers = { ...AS.client, 'idempotency-key': 'replay-1' };
      const first = await post(orderBody(), headers);
      // Same body with its keys in another order: the same canonical fingerprint.
      const { paymentMethod, items, email, customerId } = orderBody();
      const second = await post({ paymentMethod, items, email, customerId }, headers);
      expect(first.statusCode).toBe(202);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      expect(second.statusCode).toBe(202);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.json()).toEqual(first.json());
      expect(second.headers.location).toBe(first.headers.location);
      expect(await pendingCount()).toBe(before + 1);
    });

    it('answers 422 idempotency_key_reused for the same key with another body', async () => {
      const headers = { ...AS.client, 'idempotency-key': 'reuse-1' };
      expect((await post(orderBody(), headers)).statusCode).toBe(202);
      const res = await post(orderBody({ customerId: 'someone-else' }), headers);
      expect(res.statusCode).toBe(422);
      expect(res.json<ErrorReply>().error.code).toBe('idempotency_key_reused');
    });

    it('answers 409 idempotency_key_in_use while the first request is in flight', async () => {
      const body = orderBody({ customerId: 'in-flight' });
      const claim = await service.backends.idempotency.begin(
        scopeOf(KEYS.client),
        'flight-1',
        fingerprint(body),
        IDEMPOTENCY_TTL_MS,
        'ord_in_flight',
      );
      expect(claim.state).toBe('started');
      const res = await post(body, { ...AS.client, 'idempotency-key': 'flight-1' });
      expect(res.statusCode).toBe(409);
      expect(res.json<ErrorReply>().error.code).toBe('idempotency_key_in_use');
      await service.backends.idempotency.abandon(scopeOf(KEYS.client), 'flight-1');
    });

    it('stores nothing for a request that fails validation', async () => {
      const headers = { ...AS.client, 'idempotency-key': 'invalid-first' };
      expect((await post(orderBody({ items: [] }), headers)).statusCode).toBe(400);
      const res = await post(orderBody(), headers);
      expect(res.statusCode).toBe(202);
      expect(res.headers['idempotent-replayed']).toBeUndefined();
    });

    it('frees the key when the order is refused (unknown SKU)', async () => {
      const headers = { ...AS.client, 'idempotency-key': 'unknown-first' };
      expect(
        (await post(orderBody({ items: [{ sku: 'NOPE', qty: 1 }] }), headers)).statusCode,
      ).toBe(422);
      const res = await post(orderBody(), headers);
      expect(res.statusCode).toBe(202);
      expect(res.headers['idempotent-replayed']).toBeUndefined();
    });

    it('scopes keys per API key', async () => {
      const first = await post(orderBody(), { ...AS.client, 'idempotency-key': 'shared-key' });
      const other = await post(orderBody(), { ...AS.client2, 'idempotency-key': 'shared-key' });
      expect(other.statusCode).toBe(202);
      expect(other.headers['idempotent-replayed']).toBeUndefined();
      expect(other.json<Accepted>().orderId).not.toBe(first.json<Accepted>().orderId);
    });

    it('refuses an empty key or one longer than 255 characters with 400', async () => {
      for (const key of ['', 'k'.repeat(256)]) {
        const res = await post(orderBody(), { ...AS.client, 'idempotency-key': key });
        expect(res.statusCode, `length ${key.length}`).toBe(400);
        expect(res.json<ErrorReply>().error).toMatchObject({
          code: 'validation_error',
          details: { in: 'headers' },
        });
      }
      expect(
        (await post(orderBody(), { ...AS.client, 'idempotency-key': 'k'.repeat(255) })).statusCode,
      ).toBe(202);
    });
  });

  describe('GET /v1/orders/{id}', () => {
    it('shows the order without owner, IP or payment method', async () => {
      const { orderId } = (await post(orderBody())).json<Accepted>();
      const res = await service.app.inject({
        method: 'GET',
        url: `/v1/orders/${orderId}`,
        headers: AS.client,
      });
      expect(res.statusCode).toBe(200);
      const body = res.json<Record<string, unknown>>();
      expect(body).toEqual({
        orderId,
        status: 'PENDING',
        customerId: 'cust-1',
        email: 'ada@example.com',
        items: [{ sku: 'A123', qty: 2, unitPrice: { amount: 1999, currency: 'USD' } }],
        total: { amount: 3998, currency: 'USD' },
        history: [{ status: 'PENDING', at: match.string() }],
        createdAt: match.string(),
        updatedAt: match.string(),
      });
    });

    it('adds the reason once the order has one', async () => {
      const { orderId } = (await post(orderBody())).json<Accepted>();
      await service.backends.orders.transition(
        orderId,
        'PENDING',
        'FAILED_NO_STOCK',
        new Date().toISOString(),
        {
          reason: 'out of stock: A123',
        },
      );
      const res = await service.app.inject({
        method: 'GET',
        url: `/v1/orders/${orderId}`,
        headers: AS.client,
      });
      expect(res.json()).toMatchObject({ status: 'FAILED_NO_STOCK', reason: 'out of stock: A123' });
    });

    it('answers 404 not_found for an unknown order', async () => {
      const res = await service.app.inject({
        method: 'GET',
        url: '/v1/orders/nope',
        headers: AS.client,
      });
      expect(res.statusCode).toBe(404);
      expect(res.json<ErrorReply>().error.code).toBe('not_found');
    });

    it("hides another client's order (404) and shows every order to an admin", async () => {
      const { orderId } = (await post(orderBody())).json<Accepted>();
      const other = await service.app.inject({
        method: 'GET',
        url: `/v1/orders/${orderId}`,
        headers: AS.client2,
      });
      expect(other.statusCode).toBe(404);
      expect(other.json<ErrorReply>().error.code).toBe('not_found');
      const admin = await service.app.inject({
        method: 'GET',
        url: `/v1/orders/${orderId}`,
        headers: AS.admin,
      });
      expect(admin.statusCode).toBe(200);
    });
  });

  describe('POST /v1/orders/{id}/cancel', () => {
    it('accepts a cancel with 202 and the order status', async () => {
      const { orderId } = (await post(orderBody())).json<Accepted>();
      const res = await service.app.inject({
        method: 'POST',
        url: `/v1/orders/${orderId}/cancel`,
        headers: AS.client,
      });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ orderId, status: 'PENDING' });
      expect((await service.backends.orders.get(orderId))?.cancelRequested).toBe(true);
      const events = await service.backends.log.trace(orderId);
      expect(events.map((trace) => trace.event.type)).toEqual(['OrderPlaced', 'CancelRequested']);
    });

    it('answers 409 not_cancellable where the status forbids it', async () => {
      const { orderId } = (await post(orderBody())).json<Accepted>();
      await service.backends.orders.transition(
        orderId,
        'PENDING',
        'FAILED_NO_STOCK',
        new Date().toISOString(),
      );
      const res = await service.app.inject({
        method: 'POST',
        url: `/v1/orders/${orderId}/cancel`,
        headers: AS.client,
      });
      expect(res.statusCode).toBe(409);
      expect(res.json<ErrorReply>().error).toMatchObject({
        code: 'not_cancellable',
        details: { status: 'FAILED_NO_STOCK' },
      });
    });

    it("answers 404 for an unknown order and for another client's", async () => {
      const { orderId } = (await post(orderBody())).json<Accepted>();
      const other = await service.app.inject({
        method: 'POST',
        url: `/v1/orders/${orderId}/cancel`,
        headers: AS.client2,
      });
      expect(other.statusCode).toBe(404);
      expect((await service.backends.orders.get(orderId))?.cancelRequested).toBeUndefined();
      const unknown = await service.app.inject({
        method: 'POST',
        url: '/v1/orders/nope/cancel',
        headers: AS.client,
      });
      expect(unknown.statusCode).toBe(404);
    });

    it('accepts a cancel sent with an empty JSON body', async () => {
      const { orderId } = (await post(orderBody())).json<Accepted>();
      const res = await service.app.inject({
        method: 'POST',
        url: `/v1/orders/${orderId}/cancel`,
        headers: { ...AS.client, 'content-type': 'application/json' },
      });
      expect(res.statusCode).toBe(202);
    });
  });

  describe('GET /v1/products/{sku}', () => {
    it('shows name, price and what can be sold', async () => {
      const res = await service.app.inject({
        method: 'GET',
        url: '/v1/products/B456',
        headers: AS.client,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        sku: 'B456',
        name: 'Gadget',
        price: { amount: 4900, currency: 'USD' },
        available: 0,
      });
    });

    it('answers 404 for an unknown SKU', async () => {
      const res = await service.app.inject({
        method: 'GET',
        url: '/v1/products/NOPE',
        headers: AS.client,
      });
      expect(res.statusCode).toBe(404);
      expect(res.json<ErrorReply>().error.code).toBe('not_found');
    });
  });
});
