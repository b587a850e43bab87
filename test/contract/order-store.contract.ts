import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Order } from '../../src/domain/order.js';
import type { OrderStore } from '../../src/ports/order-store.js';
import { ManualClock, type Fixture, type FixtureFactory } from './fixture.js';
import { makeOrder } from './support.js';

const AT = '2030-01-01T12:00:05.000Z';

/** The behaviour every OrderStore adapter must show; `factory` gives isolated storage per test. */
export function describeOrderStoreContract(
  name: string,
  factory: FixtureFactory<OrderStore>,
): void {
  describe(`${name} OrderStore`, () => {
    let fixture: Fixture<OrderStore>;
    let store: OrderStore;
    const clock = new ManualClock();

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.open(clock);
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('stores a new order once and reads it back', async () => {
      const order = makeOrder();
      await store.create(order);
      await store.create({ ...order, email: 'other@example.com' });
      expect(await store.get(order.orderId)).toEqual(order);
      expect(await store.get('missing')).toBeUndefined();
    });

    it('abandons an id never created, not an order that exists', async () => {
      const order = makeOrder();
      await store.create(order);
      expect(await store.abandon(order.orderId)).toBe(false);
      expect(await store.get(order.orderId)).toEqual(order);
      expect(await store.abandon(makeOrder().orderId)).toBe(true);
    });

    it('keeps orders across a reopen', async () => {
      const order = makeOrder();
      await store.create(order);
      await store.close();
      const reopened = fixture.open(clock);
      expect(await reopened.get(order.orderId)).toEqual(order);
    });

    it('moves an order by compare-and-set, appending history and the patch', async () => {
      const order = makeOrder();
      await store.create(order);
      const reserved = await store.transition(order.orderId, 'PENDING', 'RESERVED', AT);
      expect(reserved).toMatchObject({ status: 'RESERVED', updatedAt: AT });
      expect(reserved?.history).toEqual([
        { status: 'PENDING', at: order.createdAt },
        { status: 'RESERVED', at: AT },
      ]);
      expect(await store.transition(order.orderId, 'PENDING', 'CANCELLED', AT)).toBeUndefined();
      const paid = await store.transition(order.orderId, 'RESERVED', 'PAID', AT, {
        paymentRef: 'pi_1',
      });
      expect(paid).toMatchObject({ status: 'PAID', paymentRef: 'pi_1' });
      expect(await store.get(order.orderId)).toEqual(paid);
      expect(await store.transition('missing', 'PENDING', 'RESERVED', AT)).toBeUndefined();
    });

    it('lets exactly one of many concurrent transitions from one status win', async () => {
      const order = makeOrder();
      await store.create(order);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.transition(order.orderId, 'PENDING', i % 2 ? 'RESERVED' : 'FAILED_NO_STOCK', AT),
        ),
      );
      const winners = results.filter((result): result is Order => result !== undefined);
      expect(winners).toHaveLength(1);
      const stored = await store.get(order.orderId);
      expect(stored?.status).toBe(winners[0]?.status);
      expect(stored?.history).toHaveLength(2);
    });

    it('records a cancel request only while the status allows one', async () => {
      const open = makeOrder();
      const done = makeOrder({ status: 'FAILED_NO_STOCK' });
      await store.create(open);
      await store.create(done);
      expect(await store.requestCancel(open.orderId)).toMatchObject({
        status: 'PENDING',
        cancelRequested: true,
      });
      expect(await store.requestCancel(open.orderId)).toMatchObject({ cancelRequested: true });
      expect((await store.get(open.orderId))?.cancelRequested).toBe(true);
      const refused = await store.requestCancel(done.orderId);
      expect(refused?.status).toBe('FAILED_NO_STOCK');
      expect(refused?.cancelRequested).toBeUndefined();
      expect(await store.requestCancel('missing')).toBeUndefined();
    });

    it('tells watchers about every change of the order until they unsubscribe', async () => {
      const order = makeOrder();
      const other = makeOrder();
      const seen: Order[] = [];
      const unsubscribe = store.watch(order.orderId, (changed) => seen.push(changed));
      await store.create(order);
      await store.create(other);
      await store.transition(order.orderId, 'PENDING', 'RESERVED', AT);
      await store.transition(other.orderId, 'PENDING', 'RESERVED', AT);
      await store.requestCancel(order.orderId);
      expect(seen.map((o) => [o.status, o.cancelRequested ?? false])).toEqual([
        ['PENDING', false],
        ['RESERVED', false],
        ['RESERVED', true],
      ]);
      unsubscribe();
      await store.transition(order.orderId, 'RESERVED', 'CANCELLED', AT);
      expect(seen).toHaveLength(3);
    });

    it('counts orders by their current status', async () => {
      const orders = [makeOrder(), makeOrder(), makeOrder()];
      await Promise.all(orders.map((order) => store.create(order)));
      await store.transition(orders[0]?.orderId ?? '', 'PENDING', 'RESERVED', AT);
      expect(await store.countByStatus()).toEqual({ PENDING: 2, RESERVED: 1 });
    });
  });
}
