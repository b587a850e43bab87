import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiErrorBody } from '../helpers/api.js';
import { waitFor } from '../helpers/wait.js';
import type { Delivery, Subscription } from '../../src/ports/event-log.js';
import { ORDER_STATUSES } from '../../src/domain/status.js';
import {
  AS,
  connectionRefused,
  orderBody,
  startTestService,
  type TestService,
  match,
} from './context.js';

type ErrorReply = ApiErrorBody;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

async function waitUntil(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  await waitFor(async () => ((await check()) ? true : undefined), {
    timeoutMs: 5000,
    intervalMs: 20,
    what,
  });
}

describe('admin API', () => {
  let service: TestService;
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: Record<string, unknown>) =>
    service.app.inject({ method, url, headers: AS.admin, ...(payload && { payload }) });
  const placeOrder = async () =>
    (
      await service.app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: AS.client,
        payload: orderBody(),
      })
    ).json<{
      orderId: string;
    }>().orderId;

  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.close());

  describe('products', () => {
    it('PUT writes the SoT and the stock cache at once and answers the admin view', async () => {
      const res = await admin('PUT', '/v1/admin/products/C789', {
        name: 'Doohickey',
        price: { amount: 250, currency: 'EUR' },
        onHand: 7,
      });
      expect(res.statusCode).toBe(200);
      const view = {
        sku: 'C789',
        name: 'Doohickey',
        price: { amount: 250, currency: 'EUR' },
        onHand: 7,
        available: 7,
        reserved: 0,
      };
      expect(res.json()).toEqual(view);
      expect((await admin('GET', '/v1/admin/products/C789')).json()).toEqual(view);
      const client = await service.app.inject({
        method: 'GET',
        url: '/v1/products/C789',
        headers: AS.client,
      });
      expect(client.json()).toEqual({
        sku: 'C789',
        name: 'Doohickey',
        price: { amount: 250, currency: 'EUR' },
        available: 7,
      });
      expect(await service.backends.sot.product('C789')).toEqual({
        sku: 'C789',
        name: 'Doohickey',
        price: { amount: 250, currency: 'EUR' },
        onHand: 7,
      });
    });

    it('refuses an invalid product with 400 validation_error', async () => {
      const valid = { name: 'X', price: { amount: 1, currency: 'USD' }, onHand: 1 };
      const invalid: Record<string, unknown>[] = [
        { ...valid, name: '' },
        { ...valid, name: 'n'.repeat(201) },
        { ...valid, price: { amount: 1, currency: 'usd' } },
        { ...valid, price: { amount: 1, currency: 'USDX' } },
        { ...valid, price: { amount: -1, currency: 'USD' } },
        { ...valid, price: { amount: 1.5, currency: 'USD' } },
        { ...valid, onHand: -1 },
        { ...valid, onHand: '3' },
        { ...valid, available: 3 },
      ];
      for (const body of invalid) {
        const res = await admin('PUT', '/v1/admin/products/BAD1', body);
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(res.json<ErrorReply>().error.code).toBe('validation_error');
      }
      expect(await service.backends.sot.product('BAD1')).toBeUndefined();
    });

    it('shows onHand from the SoT and available/reserved from the stock cache', async () => {
      await placeOrder();
      const res = await admin('GET', '/v1/admin/products/A123');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        sku: 'A123',
        name: 'Widget',
        price: { amount: 1999, currency: 'USD' },
        onHand: 100,
      });
    });

    it('answers 404 when neither the SoT nor the cache knows the SKU', async () => {
      const res = await admin('GET', '/v1/admin/products/NOPE');
      expect(res.statusCode).toBe(404);
      expect(res.json<ErrorReply>().error.code).toBe('not_found');
    });
  });

  describe('dead letters', () => {
    let subscription: Subscription | undefined;
    afterAll(() => subscription?.stop());

    it('lists dead letters and redrives one (202), 404 for an unknown one', async () => {
      const orderId = await placeOrder();
      const deliveries: Delivery[] = [];
      subscription = service.backends.log.consume(
        { group: 'http-test-dlq', types: ['OrderPlaced'], maxInFlight: 10 },
        (delivery) => {
          deliveries.push(delivery);
          delivery.term('boom');
        },
      );
      type Letters = {
        deadLetters: {
          id: string;
          consumer: string;
          event: { key: string; type: string; seq: number; at: string };
          attempts: number;
          lastError: string;
          at: string;
        }[];
      };
      let letters: Letters['deadLetters'] = [];
      await waitUntil(async () => {
        letters = (await admin('GET', '/v1/admin/dlq'))
          .json<Letters>()
          .deadLetters.filter((letter) => letter.event.key === orderId);
        return letters.length > 0;
      }, 'the dead letter');
      const letter = letters[0];
      expect(letter).toMatchObject({
        id: match.string(),
        consumer: 'http-test-dlq',
        event: { type: 'OrderPlaced', key: orderId, seq: match.number() },
        attempts: match.number(),
        lastError: match.containing('boom'),
      });
      expect(letter?.at).toMatch(ISO);
      expect(letter?.event.at).toMatch(ISO);

      const redrive = await admin('POST', `/v1/admin/dlq/${letter?.id ?? ''}/redrive`);
      expect(redrive.statusCode).toBe(202);
      expect(redrive.json()).toEqual({ id: letter?.id, redriven: true });
      await waitUntil(
        () => deliveries.filter((delivery) => delivery.event.key === orderId).length >= 2,
        'the redelivery',
      );

      const unknown = await admin('POST', '/v1/admin/dlq/no-such-letter/redrive');
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json<ErrorReply>().error.code).toBe('not_found');
    });

    it('replays a consumer from a sequence number or a time (202)', async () => {
      const bySeq = await admin('POST', '/v1/admin/replay', {
        consumer: 'http-test-dlq',
        fromSeq: 0,
      });
      expect(bySeq.statusCode).toBe(202);
      expect(bySeq.json()).toEqual({
        jobId: match.string(),
        consumer: 'http-test-dlq',
        fromSeq: 0,
        from: 1,
        through: match.number(),
      });
      const at = new Date(Date.now() - 60_000).toISOString();
      const byIso = await admin('POST', '/v1/admin/replay', {
        consumer: 'http-test-dlq',
        fromTime: at,
      });
      expect(byIso.statusCode).toBe(202);
      expect(byIso.json()).toMatchObject({ consumer: 'http-test-dlq', fromTime: at });
      const byMs = await admin('POST', '/v1/admin/replay', {
        consumer: 'http-test-dlq',
        fromTime: Date.parse(at),
      });
      expect(byMs.statusCode).toBe(202);
      expect(byMs.json()).toMatchObject({ consumer: 'http-test-dlq', fromTime: at });
      expect(byMs.json<{ jobId: string }>().jobId).not.toBe(byIso.json<{ jobId: string }>().jobId);
    });

    it('answers the progress of a replay job until its consumer is through the range', async () => {
      await placeOrder();
      const accepted = await admin('POST', '/v1/admin/replay', {
        consumer: 'http-test-dlq',
        fromSeq: 1,
      });
      expect(accepted.statusCode).toBe(202);
      const { jobId, from, through } = accepted.json<{
        jobId: string;
        from: number;
        through: number;
      }>();
      expect(from).toBe(1);
      type Job = {
        jobId: string;
        consumer: string;
        from: number;
        through: number;
        delivered: number;
        total: number;
        done: boolean;
      };
      // The test's consumer terms whatever it is handed: the group moves through the range.
      const done = await waitFor(
        async () => {
          const res = await admin('GET', `/v1/admin/replay/${jobId}`);
          expect(res.statusCode).toBe(200);
          const job = res.json<Job>();
          return job.done ? job : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 20, what: 'the replay to be done' },
      );
      expect(done).toEqual({
        jobId,
        consumer: 'http-test-dlq',
        from,
        through,
        delivered: through - from + 1,
        total: through - from + 1,
        done: true,
      });

      const unknown = await admin('GET', '/v1/admin/replay/not-a-job');
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json<ErrorReply>().error.code).toBe('not_found');
      // A well-formed id of a consumer the log does not know.
      const forged = Buffer.from(JSON.stringify(['replay1', 'no-such-group', 1, 2, 3])).toString(
        'base64url',
      );
      expect((await admin('GET', `/v1/admin/replay/${forged}`)).statusCode).toBe(404);
    });

    it('refuses a replay with both or neither starting point (400), or of an unknown consumer (404)', async () => {
      for (const body of [
        { consumer: 'http-test-dlq' },
        { consumer: 'http-test-dlq', fromSeq: 1, fromTime: 1 },
        { consumer: 'http-test-dlq', fromTime: 'yesterday' },
        { consumer: 'http-test-dlq', fromSeq: -1 },
      ]) {
        const res = await admin('POST', '/v1/admin/replay', body);
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(res.json<ErrorReply>().error.code).toBe('validation_error');
      }
      const unknown = await admin('POST', '/v1/admin/replay', {
        consumer: 'no-such-group',
        fromSeq: 0,
      });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json<ErrorReply>().error.code).toBe('not_found');
    });

    it('counts orders by every status, consumers, and the sync backlog', async () => {
      const res = await admin('GET', '/v1/admin/stats');
      expect(res.statusCode).toBe(200);
      const stats = res.json<{
        orders: Record<string, number>;
        consumers: Record<string, { lag: number; inFlight: number; dlq: number }>;
        sync: { backlog: number; lastSyncAt: string | null };
      }>();
      expect(Object.keys(stats.orders).sort()).toEqual([...ORDER_STATUSES].sort());
      expect(stats.orders.PENDING).toBeGreaterThan(0);
      expect(stats.orders.REFUNDED).toBe(0);
      expect(stats.consumers['http-test-dlq']).toEqual({
        lag: match.number(),
        inFlight: match.number(),
        dlq: match.number(),
      });
      expect(stats.sync).toEqual({ backlog: match.number(), lastSyncAt: null });
    });
  });

  describe('dead letters filtered and paged', () => {
    const subscriptions: Subscription[] = [];
    afterAll(() => Promise.all(subscriptions.map((subscription) => subscription.stop())));

    type Letter = { id: string; consumer: string; lastError: string; event: { key: string } };
    type Letters = { deadLetters: Letter[]; nextCursor?: string };
    const list = async (query: string): Promise<Letters> => {
      const res = await admin('GET', `/v1/admin/dlq?${query}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json<Letters>();
    };

    it('lists one consumer’s letters, or those with a text in their last error, page by page', async () => {
      const orders = [await placeOrder(), await placeOrder(), await placeOrder()];
      for (const [group, reason] of [
        ['http-dlq-a', 'warehouse timeout'],
        ['http-dlq-b', 'mail refused'],
      ] as const) {
        subscriptions.push(
          service.backends.log.consume(
            { group, types: ['OrderPlaced'], maxInFlight: 10 },
            (delivery) =>
              orders.includes(delivery.event.key) ? delivery.term(reason) : delivery.ack(),
          ),
        );
      }
      await waitUntil(
        async () => (await list('consumer=http-dlq-b')).deadLetters.length === 3,
        'the dead letters of both groups',
      );
      await waitUntil(
        async () => (await list('consumer=http-dlq-a')).deadLetters.length === 3,
        'the dead letters of both groups',
      );

      const first = await list('consumer=http-dlq-a&limit=2');
      expect(first.deadLetters).toHaveLength(2);
      expect(first.nextCursor).toEqual(match.string());
      const second = await list(`consumer=http-dlq-a&limit=2&cursor=${first.nextCursor ?? ''}`);
      expect(second.deadLetters).toHaveLength(1);
      expect(second.nextCursor).toBeUndefined();
      const paged = [...first.deadLetters, ...second.deadLetters];
      expect(paged.every((letter) => letter.consumer === 'http-dlq-a')).toBe(true);
      expect(new Set(paged.map((letter) => letter.event.key))).toEqual(new Set(orders));

      const refused = await list('error=refused');
      expect(refused.deadLetters.map((letter) => letter.consumer)).toEqual([
        'http-dlq-b',
        'http-dlq-b',
        'http-dlq-b',
      ]);
      expect((await list('consumer=http-dlq-a&error=refused')).deadLetters).toEqual([]);
      expect((await list('consumer=nobody')).deadLetters).toEqual([]);
    });

    it('refuses a bad page size, cursor or parameter with 400 validation_error', async () => {
      for (const query of [
        'limit=0',
        'limit=1001',
        'limit=ten',
        'limit=1.5',
        'cursor=not-a-cursor',
        'error=',
        'consumers=http-dlq-a',
        // A cursor of the order list is not one of this list.
        `cursor=${Buffer.from(JSON.stringify(['orders', 'x'])).toString('base64url')}`,
      ]) {
        const res = await admin('GET', `/v1/admin/dlq?${query}`);
        expect(res.statusCode, query).toBe(400);
        expect(res.json<ErrorReply>().error.code).toBe('validation_error');
      }
    });
  });

  describe('orders by status', () => {
    type Listed = {
      orders: {
        orderId: string;
        status: string;
        customerId: string;
        total: { amount: number; currency: string };
        createdAt: string;
        updatedAt: string;
      }[];
      nextCursor?: string;
    };
    const list = async (query: string): Promise<Listed> => {
      const res = await admin('GET', `/v1/admin/orders${query === '' ? '' : `?${query}`}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json<Listed>();
    };

    it('lists orders newest first, filtered by current status, page by page', async () => {
      const placed = [
        await placeOrder(),
        await placeOrder(),
        await placeOrder(),
        await placeOrder(),
      ];
      const [oldest, , third, newest] = placed as [string, string, string, string];
      const moved = await service.backends.orders.transition(
        third,
        'PENDING',
        'RESERVED',
        new Date().toISOString(),
      );
      expect(moved?.status).toBe('RESERVED');

      const all = await list('');
      expect(all.orders.slice(0, 4).map((order) => order.orderId)).toEqual([...placed].reverse());
      expect(all.orders[0]).toEqual({
        orderId: newest,
        status: 'PENDING',
        customerId: 'cust-1',
        total: { amount: 2 * 1999, currency: 'USD' },
        createdAt: match.matching(ISO),
        updatedAt: match.matching(ISO),
      });
      const reserved = await list('status=RESERVED');
      expect(reserved.orders.map((order) => order.orderId)).toContain(third);
      expect(reserved.orders.every((order) => order.status === 'RESERVED')).toBe(true);

      // Page by page through the PENDING ones: each once, newest first, the moved one not.
      const pending: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await list(`status=PENDING&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.orders.length).toBeLessThanOrEqual(2);
        pending.push(...page.orders.map((order) => order.orderId));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      expect(new Set(pending).size).toBe(pending.length);
      expect(pending).not.toContain(third);
      expect(pending.indexOf(newest)).toBeLessThan(pending.indexOf(oldest));
      const counted = (await admin('GET', '/v1/admin/stats')).json<{
        orders: Record<string, number>;
      }>().orders.PENDING;
      expect(pending).toHaveLength(counted ?? -1);
    });

    it('refuses an unknown status, a bad page size or cursor with 400 validation_error', async () => {
      for (const query of [
        'status=STUCK',
        'status=pending',
        'status=',
        'limit=0',
        'limit=501',
        'limit=-1',
        'cursor=%%%',
        'stauts=PENDING',
        `cursor=${Buffer.from(JSON.stringify(['dlq', 1, 'x'])).toString('base64url')}`,
      ]) {
        const res = await admin('GET', `/v1/admin/orders?${query}`);
        expect(res.statusCode, query).toBe(400);
        expect(res.json<ErrorReply>().error.code).toBe('validation_error');
      }
    });

    it('needs an admin key', async () => {
      const res = await service.app.inject({
        method: 'GET',
        url: '/v1/admin/orders',
        headers: AS.client,
      });
      expect(res.statusCode).toBe(403);
    });
  });

  describe('timeline', () => {
    it("lists the order's events with each consumer's outcome", async () => {
      const orderId = await placeOrder();
      await service.app.inject({
        method: 'POST',
        url: `/v1/orders/${orderId}/cancel`,
        headers: AS.client,
      });
      const res = await admin('GET', `/v1/admin/orders/${orderId}/timeline`);
      expect(res.statusCode).toBe(200);
      const timeline = res.json<{
        orderId: string;
        events: {
          seq: number;
          type: string;
          at: string;
          data: unknown;
          outcomes: Record<string, unknown>;
        }[];
      }>();
      expect(timeline.orderId).toBe(orderId);
      expect(timeline.events.map((event) => event.type)).toEqual([
        'OrderPlaced',
        'CancelRequested',
      ]);
      expect(timeline.events[0]?.at).toMatch(ISO);
      expect(timeline.events[0]?.data).toMatchObject({ type: 'OrderPlaced', order: { orderId } });
      expect(timeline.events[0]!.seq).toBeLessThan(timeline.events[1]!.seq);
      expect(timeline.events[0]?.outcomes['http-test-dlq']).toMatchObject({
        state: match.string(),
        attempts: match.number(),
      });
    });

    it('answers 404 for an order without events', async () => {
      const res = await admin('GET', '/v1/admin/orders/nope/timeline');
      expect(res.statusCode).toBe(404);
    });
  });

  describe('sync', () => {
    it('runs sync-in and sync-out now and answers the report', async () => {
      const stock = await admin('POST', '/v1/admin/sync/stock');
      expect(stock.statusCode).toBe(200);
      expect(stock.json()).toEqual({ count: match.number(), at: match.matching(ISO) });
      const orders = await admin('POST', '/v1/admin/sync/orders');
      expect(orders.statusCode).toBe(200);
      expect(orders.json()).toEqual({ count: match.number(), at: match.matching(ISO) });
      const stats = (await admin('GET', '/v1/admin/stats')).json<{
        sync: { lastSyncAt: string };
      }>();
      expect(stats.sync.lastSyncAt).toMatch(ISO);
    });
  });
});

describe('admin API with the order cache down', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({
      override: ({ orders }) => ({
        orders: new Proxy(orders, {
          get(target, property) {
            if (property === 'list') return () => Promise.reject(connectionRefused());
            const value: unknown = Reflect.get(target, property, target);
            return typeof value === 'function'
              ? (value as (...args: unknown[]) => unknown).bind(target)
              : value;
          },
        }),
      }),
    });
  });
  afterAll(() => service.close());

  it('answers the order list with 503 service_unavailable and Retry-After', async () => {
    const res = await service.app.inject({
      method: 'GET',
      url: '/v1/admin/orders?status=PENDING',
      headers: AS.admin,
    });
    expect(res.statusCode).toBe(503);
    expect(res.json<ErrorReply>().error.code).toBe('service_unavailable');
    expect(res.headers['retry-after']).toBe('1');
  });
});

describe('admin API with the source of truth down', () => {
  let service: TestService;
  beforeAll(async () => {
    let down = false;
    service = await startTestService({
      override: ({ sot }) => ({
        sot: {
          ...sot,
          products: () => (down ? Promise.reject(new Error('SoT is down')) : sot.products()),
          product: (sku) => (down ? Promise.reject(connectionRefused()) : sot.product(sku)),
          putProduct: (product) =>
            down ? Promise.reject(new Error('SoT is down')) : sot.putProduct(product),
          applyOrders: sot.applyOrders.bind(sot),
          requestShipment: sot.requestShipment.bind(sot),
          recordSale: sot.recordSale.bind(sot),
          ping: () => Promise.resolve(!down),
          close: sot.close.bind(sot),
        },
      }),
    });
    down = true;
  });
  afterAll(() => service.close());

  it('answers a product from the cache with onHand null', async () => {
    const res = await service.app.inject({
      method: 'GET',
      url: '/v1/admin/products/A123',
      headers: AS.admin,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      sku: 'A123',
      name: 'Widget',
      price: { amount: 1999, currency: 'USD' },
      onHand: null,
      available: 100,
      reserved: 0,
    });
  });

  it('answers 503 service_unavailable with Retry-After for what only the SoT knows', async () => {
    const requests = [
      { method: 'GET' as const, url: '/v1/admin/products/UNKNOWN' },
      { method: 'POST' as const, url: '/v1/admin/sync/stock' },
      {
        method: 'PUT' as const,
        url: '/v1/admin/products/A123',
        payload: { name: 'W', price: { amount: 1, currency: 'USD' }, onHand: 1 },
      },
    ];
    for (const request of requests) {
      const res = await service.app.inject({ ...request, headers: AS.admin });
      expect(res.statusCode, request.url).toBe(503);
      expect(res.json<ErrorReply>().error.code).toBe('service_unavailable');
      expect(res.headers['retry-after']).toBe('1');
    }
  });

  it('still accepts orders', async () => {
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: AS.client,
      payload: orderBody(),
    });
    expect(res.statusCode).toBe(202);
  });
});
