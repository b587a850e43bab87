/**
 * The seed scenario table over HTTP, against one real service process: happy path, out of
 * stock, declined card, mixed order, pricing from the catalog, cancel/refund, SSE, and
 * finally what sync-out wrote to the source of truth.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DECLINED,
  errorCode,
  historyStatuses,
  isTerminal,
  orderBody,
  type OrderView,
} from '../helpers/api.js';
import { sseStatuses } from '../helpers/http.js';
import {
  checkStockConservation,
  fetchOrders,
  terminalOnceViolations,
  waitForSotConsistent,
} from '../helpers/invariants.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';
import { sotProduct, sotShipments } from '../helpers/sot.js';

const A123_PRICE = 1999;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

let svc: Service;
/** Every order answered 202 in this file: the final checks account for all of them. */
const accepted: string[] = [];

async function place(body: Parameters<Service['placeAccepted']>[0]): Promise<string> {
  const { orderId } = await svc.placeAccepted(body);
  accepted.push(orderId);
  return orderId;
}

beforeAll(async () => {
  svc = await startService({
    env: { ORDERFLOW_SYNC_OUT_INTERVAL: '200ms', ORDERFLOW_DECLINE_LIMIT: '0' },
  });
});

afterAll(async () => {
  await stopAllServices();
});

describe('seed scenario table', () => {
  it('seeds the demo catalog', async () => {
    expect(await svc.product('A123')).toEqual({
      sku: 'A123',
      name: 'Widget',
      price: { amount: 1999, currency: 'USD' },
      available: 100,
    });
    expect(await svc.product('B456')).toMatchObject({
      sku: 'B456',
      name: 'Gadget',
      price: { amount: 4900, currency: 'USD' },
      available: 0,
    });
  });

  it('A123 × 1 is answered 202 PENDING, then COMPLETED, and leaves 99 available', async () => {
    const res = await svc.placeOrder(orderBody({ sku: 'A123', qty: 1 }));
    expect(res.status).toBe(202);
    expect(res.json).toEqual({
      orderId: expect.any(String) as unknown,
      status: 'PENDING',
      total: { amount: A123_PRICE, currency: 'USD' },
    });
    expect(res.headers.location).toBe(`/v1/orders/${res.json.orderId}`);
    accepted.push(res.json.orderId);

    const order = await svc.waitForTerminal(res.json.orderId);
    expect(order.status).toBe('COMPLETED');
    expect(historyStatuses(order)).toEqual(['PENDING', 'RESERVED', 'PAID', 'COMPLETED']);
    expect((await svc.product('A123')).available).toBe(99);
  });

  it('GET /v1/orders/{id} has the contract shape', async () => {
    const body = orderBody({ sku: 'A123', qty: 2 });
    const orderId = await place(body);
    const order = await svc.waitForTerminal(orderId);
    const res = await svc.request<OrderView>('GET', `/v1/orders/${orderId}`, { key: 'client' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      orderId,
      status: order.status,
      customerId: body.customerId,
      email: body.email,
      items: [{ sku: 'A123', qty: 2, unitPrice: { amount: A123_PRICE, currency: 'USD' } }],
      total: { amount: 2 * A123_PRICE, currency: 'USD' },
    });
    expect(res.json.createdAt).toMatch(ISO_TIME);
    expect(res.json.updatedAt).toMatch(ISO_TIME);
    expect(res.json.history.length).toBeGreaterThan(0);
    for (const entry of res.json.history) expect(entry.at).toMatch(ISO_TIME);
    expect(res.json.history[0]?.status).toBe('PENDING');
  });

  it('an unknown order id is 404 not_found', async () => {
    const res = await svc.request('GET', '/v1/orders/does-not-exist', { key: 'client' });
    expect(res.status).toBe(404);
    expect(errorCode(res.json)).toBe('not_found');
  });

  it('prices from the catalog: total = 1999 × qty', async () => {
    const res = await svc.placeOrder(orderBody({ sku: 'A123', qty: 3 }));
    expect(res.status).toBe(202);
    accepted.push(res.json.orderId);
    expect(res.json.total).toEqual({ amount: 3 * A123_PRICE, currency: 'USD' });
    await svc.waitForTerminal(res.json.orderId);
  });

  it('never prices from the client: a client price/total is rejected or ignored', async () => {
    const body = {
      ...orderBody(),
      items: [
        {
          sku: 'A123',
          qty: 2,
          price: { amount: 1, currency: 'USD' },
          unitPrice: { amount: 1, currency: 'USD' },
        },
      ],
      total: { amount: 1, currency: 'USD' },
    };
    const res = await svc.placeOrder(body);
    if (res.status === 202) {
      accepted.push(res.json.orderId);
      expect(res.json.total).toEqual({ amount: 2 * A123_PRICE, currency: 'USD' });
      const order = await svc.waitForTerminal(res.json.orderId);
      expect(order.total).toEqual({ amount: 2 * A123_PRICE, currency: 'USD' });
      expect(order.items[0]?.unitPrice).toEqual({ amount: A123_PRICE, currency: 'USD' });
    } else {
      expect(res.status).toBe(400);
      expect(errorCode(res.json)).toBe('validation_error');
    }
  });

  it('B456 (none on hand) → FAILED_NO_STOCK, never reserved nor charged', async () => {
    const orderId = await place(orderBody({ sku: 'B456', qty: 1 }));
    const order = await svc.waitForTerminal(orderId);
    expect(order.status).toBe('FAILED_NO_STOCK');
    expect(historyStatuses(order)).toEqual(['PENDING', 'FAILED_NO_STOCK']);
    expect(order.paymentRef ?? undefined).toBeUndefined();
    expect(await svc.adminProduct('B456')).toMatchObject({ available: 0, reserved: 0 });
  });

  it('a declined card → PAYMENT_FAILED and the reservation is released', async () => {
    const before = await svc.adminProduct('A123');
    const orderId = await place(orderBody({ sku: 'A123', qty: 2, paymentMethod: DECLINED }));
    const order = await svc.waitForTerminal(orderId);
    expect(order.status).toBe('PAYMENT_FAILED');
    expect(historyStatuses(order)).toEqual(['PENDING', 'RESERVED', 'PAYMENT_FAILED']);
    expect(order.paymentRef ?? undefined).toBeUndefined();
    const after = await svc.productWhen('A123', { available: before.available, reserved: 0 });
    expect(after.available).toBe(before.available);
    expect(after.reserved).toBe(0);
  });

  it('a mixed order [A123 × 1, B456 × 1] → FAILED_NO_STOCK and nothing reserved (all or nothing)', async () => {
    const before = await svc.adminProduct('A123');
    const orderId = await place(
      orderBody({
        items: [
          { sku: 'A123', qty: 1 },
          { sku: 'B456', qty: 1 },
        ],
      }),
    );
    const order = await svc.waitForTerminal(orderId);
    expect(order.status).toBe('FAILED_NO_STOCK');
    expect(order.total).toEqual({ amount: A123_PRICE + 4900, currency: 'USD' });
    const after = await svc.adminProduct('A123');
    expect(after.available).toBe(before.available);
    expect(after.reserved).toBe(0);
  });

  it('cancel right after placing → CANCELLED, or REFUNDED if it had been paid; stock returned', async () => {
    const before = await svc.adminProduct('A123');
    const orderId = await place(orderBody({ sku: 'A123', qty: 4 }));
    const res = await svc.cancel(orderId);
    expect(res.status).toBe(202);
    const order = await svc.waitForStatus(orderId, ['CANCELLED', 'REFUNDED']);
    expect(historyStatuses(order)).not.toContain('PAYMENT_FAILED');
    const after = await svc.productWhen('A123', { available: before.available, reserved: 0 });
    expect(after.available).toBe(before.available);
    expect(after.reserved).toBe(0);
  });

  it('cancel of a COMPLETED order → REFUNDED and the stock comes back', async () => {
    const before = await svc.adminProduct('A123');
    const orderId = await place(orderBody({ sku: 'A123', qty: 5 }));
    await svc.waitForStatus(orderId, ['COMPLETED']);
    expect((await svc.adminProduct('A123')).available).toBe(before.available - 5);

    expect((await svc.cancel(orderId)).status).toBe(202);
    const order = await svc.waitForStatus(orderId, ['REFUNDED']);
    expect(historyStatuses(order)).toEqual([
      'PENDING',
      'RESERVED',
      'PAID',
      'COMPLETED',
      'REFUNDED',
    ]);
    expect((await svc.productWhen('A123', { available: before.available })).available).toBe(
      before.available,
    );
  });

  it('cancel of a terminal order other than COMPLETED → 409 not_cancellable', async () => {
    const noStock = await place(orderBody({ sku: 'B456' }));
    const declined = await place(orderBody({ sku: 'A123', paymentMethod: DECLINED }));
    for (const orderId of [noStock, declined]) {
      await svc.waitForTerminal(orderId);
      const res = await svc.cancel(orderId);
      expect(res.status).toBe(409);
      expect(errorCode(res.json)).toBe('not_cancellable');
    }
    const unknown = await svc.cancel('no-such-order');
    expect(unknown.status).toBe(404);
  });

  it('SSE streams the history and ends after the terminal status', async () => {
    const orderId = await place(orderBody({ sku: 'A123', qty: 1 }));
    const res = await svc.request('GET', `/v1/orders/${orderId}/events`, {
      key: 'client',
      timeoutMs: 30_000,
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const streamed = sseStatuses(res.text);
    const order = await svc.getOrder(orderId);
    expect(isTerminal(order.status)).toBe(true);
    expect(streamed).toEqual(historyStatuses(order));
  });

  it('SSE of an order already terminal sends its history and ends at once', async () => {
    const orderId = await place(orderBody({ sku: 'B456' }));
    await svc.waitForTerminal(orderId);
    const res = await svc.request('GET', `/v1/orders/${orderId}/events`, {
      key: 'client',
      timeoutMs: 10_000,
    });
    expect(res.status).toBe(200);
    expect(sseStatuses(res.text)).toEqual(['PENDING', 'FAILED_NO_STOCK']);
  });

  it('SSE of a COMPLETED order with a cancel pending goes on until REFUNDED', async () => {
    const orderId = await place(orderBody({ sku: 'A123', qty: 1 }));
    await svc.waitForStatus(orderId, ['COMPLETED']);
    expect((await svc.cancel(orderId)).status).toBe(202);
    const res = await svc.request('GET', `/v1/orders/${orderId}/events`, {
      key: 'client',
      timeoutMs: 30_000,
    });
    expect(res.status).toBe(200);
    expect(sseStatuses(res.text)).toEqual(['PENDING', 'RESERVED', 'PAID', 'COMPLETED', 'REFUNDED']);
  });

  it('a replay of every consumer group from the start changes nothing', async () => {
    await svc.waitForAllTerminal(accepted);
    const before = await fetchOrders(svc, accepted);
    expect(await waitForSotConsistent(svc, before.values(), ['A123', 'B456'])).toEqual([]);
    const stockBefore = await svc.adminProduct('A123');
    for (const group of ['workflow', 'notifications', 'warehouse', 'analytics', 'sync-out']) {
      await svc.replay(group, 1);
    }
    for (const group of ['workflow', 'notifications', 'warehouse', 'analytics', 'sync-out']) {
      await svc.waitForConsumerIdle(group);
    }
    expect(await fetchOrders(svc, accepted)).toEqual(before);
    expect(await svc.productWhen('A123', stockBefore)).toEqual(stockBefore);
  });

  it('after sync-out the SoT holds each terminal order once, on_hand = 100 − sold, one shipment per COMPLETED order', async () => {
    const orders = await svc.waitForAllTerminal(accepted, 60_000);
    const views = [...(await fetchOrders(svc, accepted)).values()];
    expect(orders.size).toBe(accepted.length);
    expect(terminalOnceViolations(views)).toEqual([]);

    const stock = await checkStockConservation(svc, 'A123', 100, views);
    expect(stock.violations).toEqual([]);
    expect(stock.reserved).toBe(0);
    const gadget = await checkStockConservation(svc, 'B456', 0, views);
    expect(gadget.violations).toEqual([]);
    expect(gadget.sold).toBe(0);

    expect(await waitForSotConsistent(svc, views, ['A123', 'B456'])).toEqual([]);
    expect(sotProduct(svc.dataDir, 'A123')?.on_hand).toBe(100 - stock.sold);
    expect(sotProduct(svc.dataDir, 'B456')?.on_hand).toBe(0);

    const shipments = sotShipments(svc.dataDir).map((row) => row.order_id);
    const completed = views.filter((o) => o.status === 'COMPLETED').map((o) => o.orderId);
    const everCompleted = new Set(
      views.filter((o) => historyStatuses(o).includes('COMPLETED')).map((o) => o.orderId),
    );
    for (const orderId of completed)
      expect(shipments.filter((id) => id === orderId)).toHaveLength(1);
    expect(shipments.filter((id) => !everCompleted.has(id))).toEqual([]);
  });
});
