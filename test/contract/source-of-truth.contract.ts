import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyTransition, type Order } from '../../src/domain/order.js';
import type { SourceOfTruth } from '../../src/ports/source-of-truth.js';
import { ManualClock, type SqlFixture, type SqlFixtureFactory } from './fixture.js';
import { makeOrder } from './support.js';

const DONE_AT = '2030-01-01T12:03:00.000Z';

function finished(status: Order['status'], fields: Partial<Order> = {}): Order {
  return makeOrder({
    status,
    paymentRef: status === 'COMPLETED' || status === 'REFUNDED' ? 'pi_123' : undefined,
    updatedAt: DONE_AT,
    ...fields,
  });
}

/**
 * The behaviour every SourceOfTruth adapter must show. The fixture can be queried with SQL:
 * the schema (products, orders, order_items, shipments, sales_by_minute) is the same in
 * every adapter.
 */
export function describeSourceOfTruthContract(
  name: string,
  factory: SqlFixtureFactory<SourceOfTruth>,
): void {
  describe(`${name} SourceOfTruth`, () => {
    let fixture: SqlFixture<SourceOfTruth>;
    let sot: SourceOfTruth;
    const clock = new ManualClock();

    const onHand = async (sku: string) => (await sot.product(sku))?.onHand;

    beforeEach(async () => {
      fixture = await factory();
      sot = fixture.open(clock);
      await sot.putProduct({
        sku: 'A123',
        name: 'Widget',
        price: { amount: 1999, currency: 'USD' },
        onHand: 100,
      });
      await sot.putProduct({
        sku: 'B456',
        name: 'Gadget',
        price: { amount: 4900, currency: 'USD' },
        onHand: 10,
      });
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('creates, replaces and lists products', async () => {
      await sot.putProduct({
        sku: 'B456',
        name: 'Gadget 2',
        price: { amount: 5000, currency: 'EUR' },
        onHand: 3,
      });
      expect(await sot.products()).toEqual([
        { sku: 'A123', name: 'Widget', price: { amount: 1999, currency: 'USD' }, onHand: 100 },
        { sku: 'B456', name: 'Gadget 2', price: { amount: 5000, currency: 'EUR' }, onHand: 3 },
      ]);
      expect(await sot.product('nope')).toBeUndefined();
    });

    it('applies a completed order once: one row, summed items, stock taken once', async () => {
      const order = finished('COMPLETED', {
        items: [
          { sku: 'A123', qty: 2, unitPrice: { amount: 1999, currency: 'USD' } },
          { sku: 'B456', qty: 1, unitPrice: { amount: 4900, currency: 'USD' } },
          { sku: 'A123', qty: 3, unitPrice: { amount: 1999, currency: 'USD' } },
        ],
        total: { amount: 5 * 1999 + 4900, currency: 'USD' },
      });
      await sot.applyOrders([order]);
      await sot.applyOrders([order]);
      expect(await onHand('A123')).toBe(95);
      expect(await onHand('B456')).toBe(9);
      expect(
        await fixture.rows(
          'SELECT order_id, status, total_cents, currency, payment_ref FROM orders',
        ),
      ).toEqual([
        {
          order_id: order.orderId,
          status: 'COMPLETED',
          total_cents: 5 * 1999 + 4900,
          currency: 'USD',
          payment_ref: 'pi_123',
        },
      ]);
      expect(
        await fixture.rows('SELECT sku, qty, unit_price_cents FROM order_items ORDER BY sku'),
      ).toEqual([
        { sku: 'A123', qty: 5, unit_price_cents: 1999 },
        { sku: 'B456', qty: 1, unit_price_cents: 4900 },
      ]);
    });

    it('gives the stock of a completed order back once when it is refunded', async () => {
      const order = finished('COMPLETED');
      await sot.applyOrders([order]);
      expect(await onHand('A123')).toBe(98);
      const refunded = { ...order, status: 'REFUNDED' as const };
      await sot.applyOrders([refunded]);
      await sot.applyOrders([refunded]);
      await sot.applyOrders([order]);
      expect(await onHand('A123')).toBe(100);
      expect(await onHand('B456')).toBe(10);
      expect(await fixture.rows('SELECT status FROM orders')).toEqual([{ status: 'REFUNDED' }]);
    });

    it('takes no stock for orders that did not complete', async () => {
      const failed = finished('PAYMENT_FAILED');
      const refundedFirstSeen = finished('REFUNDED');
      await sot.applyOrders([
        failed,
        refundedFirstSeen,
        finished('CANCELLED'),
        finished('FAILED_NO_STOCK'),
      ]);
      await sot.applyOrders([failed]);
      expect(await onHand('A123')).toBe(100);
      expect(await fixture.rows('SELECT COUNT(*) AS n FROM orders')).toEqual([{ n: 4 }]);
    });

    it('applies a batch of orders together', async () => {
      const orders = Array.from({ length: 20 }, () => finished('COMPLETED'));
      await sot.applyOrders(orders);
      await sot.applyOrders(orders.slice(0, 10));
      expect(await onHand('A123')).toBe(60);
      expect(await fixture.rows('SELECT COUNT(*) AS n FROM order_items')).toEqual([{ n: 40 }]);
    });

    it('records a shipment request once per order', async () => {
      const order = finished('COMPLETED');
      await sot.requestShipment(order, clock.now());
      await sot.requestShipment(order, clock.now() + 1_000);
      const rows = await fixture.rows('SELECT order_id FROM shipments');
      expect(rows).toEqual([{ order_id: order.orderId }]);
    });

    it('counts a sale once per order and status, in its minute', async () => {
      const order = finished('COMPLETED');
      const at = Date.UTC(2030, 0, 1, 12, 3, 30);
      await sot.recordSale(order, 'COMPLETED', at);
      await sot.recordSale(order, 'COMPLETED', at);
      await sot.recordSale(finished('COMPLETED'), 'COMPLETED', at + 10_000);
      await sot.recordSale(order, 'REFUNDED', at + 60_000);
      const rows = await fixture.rows(
        'SELECT status, orders, revenue_cents FROM sales_by_minute ORDER BY minute, status',
      );
      expect(rows).toEqual([
        { status: 'COMPLETED', orders: 2, revenue_cents: 2 * order.total.amount },
        { status: 'REFUNDED', orders: 1, revenue_cents: order.total.amount },
      ]);
    });

    it('answers a written order as the cache had it: items, total, history, owner, reason', async () => {
      let order = makeOrder({
        owner: 'shop-frontend',
        items: [
          { sku: 'B456', qty: 1, unitPrice: { amount: 4900, currency: 'USD' } },
          { sku: 'A123', qty: 2, unitPrice: { amount: 1999, currency: 'USD' } },
        ],
      });
      order = applyTransition(order, 'RESERVED', '2030-01-01T12:00:01.000Z');
      order = applyTransition(order, 'PAYMENT_FAILED', '2030-01-01T12:00:02.500Z', {
        reason: 'card declined',
      });
      await sot.applyOrders([order]);
      await sot.applyOrders([order]);
      expect(await sot.order(order.orderId)).toEqual({
        orderId: order.orderId,
        status: 'PAYMENT_FAILED',
        customerId: order.customerId,
        email: order.email,
        items: order.items,
        total: order.total,
        owner: 'shop-frontend',
        history: order.history,
        reason: 'card declined',
        createdAt: order.createdAt,
        updatedAt: '2030-01-01T12:00:02.500Z',
        archived: true,
      });
      expect(await sot.order('nope')).toBeUndefined();
    });

    it('replaces the history of a completed order when it is refunded, once', async () => {
      let order = makeOrder();
      for (const [status, at] of [
        ['RESERVED', '2030-01-01T12:00:01.000Z'],
        ['PAID', '2030-01-01T12:00:02.000Z'],
        ['COMPLETED', '2030-01-01T12:00:03.000Z'],
      ] as const)
        order = applyTransition(order, status, at, status === 'PAID' ? { paymentRef: 'pi_9' } : {});
      await sot.applyOrders([order]);
      const refunded = applyTransition(order, 'REFUNDED', '2030-01-02T08:00:00.000Z', {
        reason: 'cancelled by the customer',
      });
      await sot.applyOrders([refunded]);
      await sot.applyOrders([refunded, order]);
      const archived = await sot.order(order.orderId);
      expect(archived).toMatchObject({
        status: 'REFUNDED',
        paymentRef: 'pi_9',
        reason: 'cancelled by the customer',
        updatedAt: '2030-01-02T08:00:00.000Z',
        history: refunded.history,
      });
      expect(
        await fixture.rows(
          `SELECT COUNT(*) AS n FROM order_history WHERE order_id = '${order.orderId}'`,
        ),
      ).toEqual([{ n: 5 }]);
      expect(await onHand('A123')).toBe(100);
    });

    it('answers ping', async () => {
      expect(await sot.ping()).toBe(true);
    });
  });
}
