/**
 * The scale-out set: three processes (`all`, `api`, `worker`) on one namespace over the
 * real Redis, NATS JetStream and PostgreSQL. Same contract, same invariants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLINED, orderBody, type OrderView } from '../helpers/api.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { enginesUp } from '../helpers/engines.js';
import { soldQty, terminalOnceViolations } from '../helpers/invariants.js';
import { randomUUID } from 'node:crypto';
import type { HttpResponse } from '../helpers/http.js';
import type { Service } from '../helpers/service.js';
import { waitFor } from '../helpers/wait.js';

const up = await enginesUp('redis', 'nats', 'postgres');

/**
 * As a checkout places an order: one Idempotency-Key, and a 503 (a backend slower than its
 * timeout on a loaded machine) tried again after its Retry-After, a few times.
 */
async function placeAsCheckout(
  service: Service,
  body: unknown,
): Promise<HttpResponse<{ orderId: string }>> {
  const headers = { 'idempotency-key': randomUUID() };
  for (let attempt = 1; ; attempt++) {
    const res = await service.placeOrder(body, { headers, timeoutMs: 120_000 });
    if (res.status !== 503 || attempt === 5) return res;
    await new Promise((resolve) =>
      setTimeout(resolve, Number(res.headers['retry-after'] ?? 1) * 1000),
    );
  }
}

describe.skipIf(!up)('three processes on Redis, NATS JetStream and PostgreSQL', () => {
  let cluster: Cluster;
  let all: Service;
  let api: Service;

  beforeAll(async () => {
    cluster = await startCluster(['all', 'api', 'worker']);
    [all, api] = cluster.services as [Service, Service];
    for (const [sku, onHand] of [
      ['A123', 100],
      ['B456', 0],
    ] as const) {
      const put = await api.request('PUT', `/v1/admin/products/${sku}`, {
        key: 'admin',
        body: {
          name: sku,
          price: { amount: sku === 'A123' ? 1999 : 4900, currency: 'USD' },
          onHand,
        },
      });
      expect(put.status).toBe(200);
    }
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  const available = async (service: Service, sku: string): Promise<number> =>
    (await service.request<{ available: number }>('GET', `/v1/products/${sku}`)).json.available;

  it('runs the seed scenario table across processes', async () => {
    const happy = await api.placeOrder(orderBody({ sku: 'A123', qty: 1 }));
    const noStock = await all.placeOrder(orderBody({ sku: 'B456', qty: 1 }));
    const declined = await api.placeOrder(
      orderBody({ sku: 'A123', qty: 1, paymentMethod: DECLINED }),
    );
    const mixed = await all.placeOrder(
      orderBody({
        items: [
          { sku: 'A123', qty: 1 },
          { sku: 'B456', qty: 1 },
        ],
      }),
    );
    for (const answer of [happy, noStock, declined, mixed]) expect(answer.status).toBe(202);
    expect((await all.waitForTerminal(happy.json.orderId)).status).toBe('COMPLETED');
    const failed = await api.waitForTerminal(noStock.json.orderId);
    expect(failed.status).toBe('FAILED_NO_STOCK');
    expect(failed.history.map((h) => h.status)).not.toContain('PAID');
    expect((await api.waitForTerminal(declined.json.orderId)).status).toBe('PAYMENT_FAILED');
    expect((await all.waitForTerminal(mixed.json.orderId)).status).toBe('FAILED_NO_STOCK');
    // Stock follows a failed order's status by milliseconds: wait for it, then read it as a
    // client sees it from the API process.
    expect(await all.productWhen('A123', { available: 99, reserved: 0 })).toMatchObject({
      available: 99,
      reserved: 0,
    });
    expect(await available(api, 'A123')).toBe(99);
  });

  it('streams an order over SSE from the API process while the worker moves it', async () => {
    const placed = await api.placeOrder(orderBody({ sku: 'A123', qty: 1 }));
    const stream = await api.request('GET', `/v1/orders/${placed.json.orderId}/events`, {
      timeoutMs: 30_000,
    });
    expect(stream.status).toBe(200);
    expect(stream.text).toContain('COMPLETED');
  });

  it(
    'sells exactly 100 units to 600 concurrent buyers over both API processes',
    { timeout: 240_000 },
    async () => {
      const sku = 'DIST-100';
      const put = await api.request('PUT', `/v1/admin/products/${sku}`, {
        key: 'admin',
        body: { name: 'Limited', price: { amount: 500, currency: 'USD' }, onHand: 100 },
      });
      expect(put.status).toBe(200);
      const answers = await Promise.all(
        Array.from({ length: 600 }, (_, i) =>
          placeAsCheckout(i % 2 === 0 ? all : api, orderBody({ sku, qty: 1 })),
        ),
      );
      expect(answers.filter((a) => a.status !== 202).map((a) => `${a.status} ${a.text}`)).toEqual(
        [],
      );
      const accepted = answers.map((a) => a.json.orderId);
      expect(new Set(accepted).size).toBe(600);
      const orders = await api.waitForAllTerminal(accepted, 180_000);
      const views: OrderView[] = [...orders.values()];
      expect(terminalOnceViolations(views)).toEqual([]);
      expect(views.filter((o) => o.status === 'COMPLETED')).toHaveLength(100);
      expect(views.filter((o) => o.status === 'FAILED_NO_STOCK')).toHaveLength(500);
      const product = await all.request<{ available: number; reserved: number; onHand: number }>(
        'GET',
        `/v1/admin/products/${sku}`,
        { key: 'admin' },
      );
      expect(product.json).toMatchObject({ available: 0, reserved: 0 });

      // After sync-out: the SoT holds exactly the accepted orders, each with the status the
      // API gives it, and on_hand is what is left after the COMPLETED ones.
      const sotOrders = await waitFor(
        async () => {
          const rows = await cluster.sql<{ order_id: string; status: string }>(
            `SELECT o.order_id, o.status FROM orders o JOIN order_items i ON i.order_id = o.order_id
             WHERE i.sku = $1`,
            [sku],
          );
          return rows.length >= views.length ? rows : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250, what: `${views.length} ${sku} orders in the SoT` },
      );
      const byId = (rows: readonly { order_id: string; status: string }[]): string[] =>
        rows.map((row) => `${row.order_id} ${row.status}`).sort();
      expect(byId(sotOrders)).toEqual(
        byId(views.map((order) => ({ order_id: order.orderId, status: order.status }))),
      );
      const [onHand] = await cluster.sql<{ on_hand: string }>(
        'SELECT on_hand FROM products WHERE sku = $1',
        [sku],
      );
      expect(Number(onHand?.on_hand)).toBe(100 - soldQty(views, sku));
    },
  );

  it('serves health and metrics from the worker, and no API', async () => {
    const worker = cluster.services[2] as Service;
    expect((await worker.request('GET', '/readyz', { key: 'none' })).status).toBe(200);
    expect((await worker.request('GET', '/metrics', { key: 'none' })).text).toContain(
      'orderflow_deliveries_total',
    );
    expect((await worker.request('GET', '/v1/products/A123')).status).toBe(404);
  });
});
