import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTransition, newOrder, type Order } from '../../src/domain/order.js';
import type { SourceOfTruth } from '../../src/ports/source-of-truth.js';
import { postgresSotFixture, type PostgresSotFixture } from '../helpers/backends-postgres.js';
import { ENGINES, enginesUp } from '../helpers/engines.js';
import { deadPort } from '../helpers/net.js';
import http from 'node:http';
import { httpRequest, parseSse } from '../helpers/http.js';
import { AS, KEYS, orderBody, startTestService, type TestService } from './context.js';

const DAY = 86_400_000;
const pgUp = await enginesUp('postgres');

interface ErrorReply {
  error: { code: string; message: string };
}

/**
 * A REFUNDED order placed `ageDays` ago, as the sync-out hands it to the source of truth:
 * what the API must still show once the order has left the hot cache.
 */
function refundedOrder(owner: string, ageDays: number): Order {
  const placed = Date.now() - ageDays * DAY;
  const at = (seconds: number) => new Date(placed + seconds * 1_000).toISOString();
  let order = newOrder({
    orderId: `old-${Math.random().toString(36).slice(2)}`,
    customerId: 'cust-9',
    email: 'grace@example.com',
    items: [
      { sku: 'B456', qty: 1, unitPrice: { amount: 4900, currency: 'USD' } },
      { sku: 'A123', qty: 2, unitPrice: { amount: 1999, currency: 'USD' } },
    ],
    total: { amount: 2 * 1999 + 4900, currency: 'USD' },
    paymentMethod: 'pm_card_visa',
    owner,
    clientIp: '127.0.0.1',
    createdAt: at(0),
  });
  order = applyTransition(order, 'RESERVED', at(1));
  order = applyTransition(order, 'PAID', at(2), { paymentRef: 'pi_old' });
  order = applyTransition(order, 'COMPLETED', at(3));
  return applyTransition(order, 'REFUNDED', at(3_600), { reason: 'cancelled by the customer' });
}

/** The source of truth a variant runs on: the service's own SQLite file, or PostgreSQL. */
interface Variant {
  readonly name: string;
  readonly up: boolean;
  setUp(): Promise<{
    /** The SoT the service is given instead of its own SQLite one. */
    readonly sot?: SourceOfTruth;
    dispose(): Promise<void>;
  }>;
}

const VARIANTS: readonly Variant[] = [
  { name: 'SQLite', up: true, setUp: () => Promise.resolve({ dispose: () => Promise.resolve() }) },
  {
    name: 'PostgreSQL',
    up: pgUp,
    async setUp() {
      const fixture: PostgresSotFixture = await postgresSotFixture();
      const sot = fixture.open({ now: () => Date.now() });
      return { sot, dispose: () => fixture.dispose() };
    },
  },
];

for (const variant of VARIANTS) {
  describe.skipIf(!variant.up)(`an order that has left the hot cache (${variant.name})`, () => {
    let service: TestService;
    let baseUrl: string;
    let dispose: () => Promise<void>;
    let order: Order;
    let sot: SourceOfTruth;
    const agent = new http.Agent();
    const ownerOf = (key: string) =>
      service.ctx.config.apiKeys?.find((apiKey) => apiKey.key === key)?.id ?? '';

    beforeAll(async () => {
      const setup = await variant.setUp();
      dispose = () => setup.dispose();
      const { sot: given } = setup;
      service = await startTestService(given ? { override: () => ({ sot: given }) } : {});
      sot = given ?? service.backends.sot;
      await service.app.listen({ host: '127.0.0.1', port: 0 });
      baseUrl = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
      order = refundedOrder(ownerOf(KEYS.client), 40);
      // Written to the source of truth only, as the sync-out did before the cache let it go.
      await sot.applyOrders([order]);
      expect(await service.backends.orders.get(order.orderId)).toBeUndefined();
    });
    afterAll(async () => {
      agent.destroy();
      await service?.close();
      await dispose?.();
    });

    const get = (path: string, headers: Record<string, string>) =>
      service.app.inject({ method: 'GET', url: path, headers });

    it('answers GET with the shape and history of a cached order', async () => {
      const res = await get(`/v1/orders/${order.orderId}`, AS.client);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        orderId: order.orderId,
        status: 'REFUNDED',
        customerId: 'cust-9',
        email: 'grace@example.com',
        items: order.items,
        total: order.total,
        history: order.history,
        reason: 'cancelled by the customer',
        createdAt: order.createdAt,
        updatedAt: order.updatedAt,
      });
    });

    it('answers the same shape for an order still in the cache', async () => {
      const placed = await service.app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: AS.client,
        payload: orderBody(),
      });
      const { orderId } = placed.json<{ orderId: string }>();
      const cached = await get(`/v1/orders/${orderId}`, AS.client);
      const archived = await get(`/v1/orders/${order.orderId}`, AS.client);
      const keys = (body: object) =>
        Object.keys(body)
          .filter((key) => key !== 'reason')
          .sort();
      expect(keys(archived.json<object>())).toEqual(keys(cached.json<object>()));
    });

    it('answers 404 to a client key of another owner, 200 to an admin key', async () => {
      const other = await get(`/v1/orders/${order.orderId}`, AS.client2);
      expect(other.statusCode).toBe(404);
      expect(other.json<ErrorReply>().error.code).toBe('not_found');
      expect((await get(`/v1/orders/${order.orderId}`, AS.admin)).statusCode).toBe(200);
      expect((await get('/v1/orders/never-placed', AS.client)).statusCode).toBe(404);
    });

    it('refuses a cancel with 409 not_cancellable, naming the order retention', async () => {
      const res = await service.app.inject({
        method: 'POST',
        url: `/v1/orders/${order.orderId}/cancel`,
        headers: AS.client,
      });
      expect(res.statusCode).toBe(409);
      const { error } = res.json<ErrorReply>();
      expect(error.code).toBe('not_cancellable');
      expect(error.message).toContain('ORDERFLOW_ORDER_RETENTION');
      const other = await service.app.inject({
        method: 'POST',
        url: `/v1/orders/${order.orderId}/cancel`,
        headers: AS.client2,
      });
      expect(other.statusCode).toBe(404);
    });

    it('sends the history as events and ends the stream', async () => {
      // Read to its end within the timeout: the stream of an archived order ends by itself.
      const res = await httpRequest(agent, baseUrl, 'GET', `/v1/orders/${order.orderId}/events`, {
        headers: AS.client,
        timeoutMs: 5_000,
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('text/event-stream');
      const events = parseSse(res.text);
      expect(events.map(({ event, id }) => ({ event, id }))).toEqual(
        order.history.map((_, index) => ({ event: 'status', id: String(index) })),
      );
      expect(events.map(({ data }) => JSON.parse(data) as unknown)).toEqual(order.history);
    });

    it('answers the timeline with no events, saying the log retention removed them', async () => {
      const res = await get(`/v1/admin/orders/${order.orderId}/timeline`, AS.admin);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        orderId: order.orderId,
        logRetention: '7d',
        complete: false,
        note: 'events older than the log retention (7d) have been removed from the log',
        events: [],
      });
      expect((await get('/v1/admin/orders/never-placed/timeline', AS.admin)).statusCode).toBe(404);
    });

    it('answers a recent order as complete', async () => {
      const placed = await service.app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: AS.client,
        payload: orderBody(),
      });
      const { orderId } = placed.json<{ orderId: string }>();
      const res = await get(`/v1/admin/orders/${orderId}/timeline`, AS.admin);
      expect(res.statusCode).toBe(200);
      const body = res.json<{ complete: boolean; note?: string; events: unknown[] }>();
      expect(body).toMatchObject({ logRetention: '7d', complete: true });
      expect(body.note).toBeUndefined();
      expect(body.events.length).toBeGreaterThan(0);
    });
  });
}

describe('an order read while the source of truth is down', () => {
  let service: TestService;

  beforeAll(async () => {
    // The shop's PostgreSQL, on a port nothing listens on: a real refused connection.
    const url = new URL(ENGINES.postgres);
    url.port = String(await deadPort());
    service = await startTestService({ env: { ORDERFLOW_DATABASE_URL: url.toString() } });
  });
  afterAll(() => service.close());

  it('answers 503 with Retry-After for an order not in the cache, never 404', async () => {
    const res = await service.app.inject({
      method: 'GET',
      url: '/v1/orders/maybe-archived',
      headers: AS.client,
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json<ErrorReply>().error.code).toBe('service_unavailable');
  });

  it('still answers an order in the cache', async () => {
    // In the cache as the intake leaves it (the intake itself prices from the SoT, down here).
    const owner = service.ctx.config.apiKeys?.find(({ key }) => key === KEYS.client)?.id ?? '';
    const order = refundedOrder(owner, 0);
    await service.backends.orders.create(order);
    const { orderId } = order;
    const res = await service.app.inject({
      method: 'GET',
      url: `/v1/orders/${orderId}`,
      headers: AS.client,
    });
    expect(res.statusCode).toBe(200);
  });
});
