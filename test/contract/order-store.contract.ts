import { v7 as timeOrderedId } from 'uuid';
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

    it('counts the status changes made, by FROM>TO, and no compare-and-set that missed', async () => {
      const [first, second] = [makeOrder(), makeOrder()];
      await Promise.all([first, second].map((order) => store.create(order)));
      expect(await store.countTransitions()).toEqual({});
      for (const order of [first, second])
        await store.transition(order.orderId, 'PENDING', 'RESERVED', AT);
      await store.transition(first.orderId, 'RESERVED', 'PAID', AT);
      await store.transition(first.orderId, 'PENDING', 'CANCELLED', AT);
      await store.transition(second.orderId, 'RESERVED', 'CANCELLED', AT);
      expect(await store.countTransitions()).toEqual({
        'PENDING>RESERVED': 2,
        'RESERVED>PAID': 1,
        'RESERVED>CANCELLED': 1,
      });
    });

    /** Orders with time-ordered ids, as the intake makes them, created oldest first. */
    async function created(count: number): Promise<string[]> {
      const ids: string[] = [];
      for (let n = 0; n < count; n++) {
        const order = makeOrder({ orderId: timeOrderedId() });
        await store.create(order);
        ids.push(order.orderId);
      }
      return ids;
    }

    const idsOf = (orders: readonly Order[]): string[] => orders.map((order) => order.orderId);

    it('lists orders newest first, of one status or all, a page at a time', async () => {
      const ids = await created(7);
      const o = (n: number): string => ids[n] ?? '';
      await store.transition(o(1), 'PENDING', 'RESERVED', AT);
      await store.transition(o(4), 'PENDING', 'RESERVED', AT);
      await store.transition(o(4), 'RESERVED', 'CANCELLED', AT);
      await store.transition(o(5), 'PENDING', 'RESERVED', AT);

      expect(idsOf(await store.list({ limit: 10 }))).toEqual([...ids].reverse());
      expect(idsOf(await store.list({ limit: 3 }))).toEqual([o(6), o(5), o(4)]);
      expect(idsOf(await store.list({ before: o(4), limit: 3 }))).toEqual([o(3), o(2), o(1)]);
      expect(idsOf(await store.list({ status: 'RESERVED', limit: 10 }))).toEqual([o(5), o(1)]);
      expect(idsOf(await store.list({ status: 'CANCELLED', limit: 10 }))).toEqual([o(4)]);
      expect(idsOf(await store.list({ status: 'PENDING', limit: 2 }))).toEqual([o(6), o(3)]);
      expect(idsOf(await store.list({ status: 'PENDING', before: o(3), limit: 2 }))).toEqual([
        o(2),
        o(0),
      ]);
      expect(await store.list({ status: 'PENDING', before: o(0), limit: 2 })).toEqual([]);
      expect(await store.list({ status: 'PAID', limit: 10 })).toEqual([]);
      // The orders as `get` answers them.
      const [reserved] = await store.list({ status: 'RESERVED', limit: 1 });
      expect(reserved).toEqual(await store.get(o(5)));
    });

    it('pages without gaps or repeats while statuses change', async () => {
      const ids = await created(12);
      const newestFirst = [...ids].reverse();
      const at = (n: number): string => newestFirst[n] ?? '';

      // Every order: statuses changing between pages change nothing about which are listed.
      const listed: string[] = [];
      let before: string | undefined;
      for (let page = 0; ; page++) {
        const orders = await store.list({ limit: 5, ...(before && { before }) });
        if (orders.length === 0) break;
        listed.push(...idsOf(orders));
        before = orders.at(-1)?.orderId;
        // One already listed and one still to come move on meanwhile.
        await store.transition(at(page * 5), 'PENDING', 'RESERVED', AT);
        await store.transition(at(page * 5 + 7), 'PENDING', 'RESERVED', AT);
      }
      expect(listed).toEqual(newestFirst);

      // By status: an order that leaves it is not on a later page, one that stays is on one.
      const pending = new Set(idsOf(await store.list({ status: 'PENDING', limit: 100 })));
      const first = await store.list({ status: 'PENDING', limit: 3 });
      const rest = idsOf(await store.list({ status: 'PENDING', limit: 100 })).slice(3);
      const [leaves, stays] = rest;
      await store.transition(leaves ?? '', 'PENDING', 'RESERVED', AT);
      await store.transition(idsOf(first)[0] ?? '', 'PENDING', 'RESERVED', AT);
      const pages: string[] = [...idsOf(first)];
      let cursor = first.at(-1)?.orderId;
      while (cursor !== undefined) {
        const orders = await store.list({ status: 'PENDING', limit: 2, before: cursor });
        pages.push(...idsOf(orders));
        cursor = orders.length < 2 ? undefined : orders.at(-1)?.orderId;
      }
      expect(new Set(pages).size).toBe(pages.length);
      expect(pages).toContain(stays);
      expect(pages).not.toContain(leaves);
      expect(pages).toEqual([...pending].filter((id) => id !== leaves));
    });
  });
}
