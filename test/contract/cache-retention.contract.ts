import { afterEach, describe, expect, it } from 'vitest';
import type { OrderStore } from '../../src/ports/order-store.js';
import type { RetentionPolicy } from '../../src/ports/retention.js';
import type { CatalogProduct, StockStore } from '../../src/ports/stock-store.js';
import { eventually, makeOrder } from './support.js';

/** The order and stock caches of one backend on isolated storage, opened with one policy. */
export interface RetentionCacheFixture {
  /** The caches on this fixture's storage; again after a close: the same data. */
  open(): RetentionCaches;
  /** Lets `ms` pass for the caches' retention: a manual clock moves, a TTL is waited out. */
  pass(ms: number): Promise<void>;
  /** Closes what is still open and removes the storage. */
  dispose(): Promise<void>;
}

export interface RetentionCaches {
  readonly orders: OrderStore;
  readonly stock: StockStore;
}

export type RetentionCacheFactory = (policy: RetentionPolicy) => Promise<RetentionCacheFixture>;

/** Short enough for an engine that expires keys in real time. */
export const ORDER_RETENTION_MS = 1_500;
const PAST_RETENTION_MS = ORDER_RETENTION_MS + 500;
/** How long an engine may take to expire what the retention lets go. */
const EXPIRY_TIMEOUT_MS = 10_000;
const AT = '2030-01-01T12:00:05.000Z';
const EXPIRES = Date.UTC(2030, 0, 1, 12, 15);

export const CACHE_POLICY: RetentionPolicy = {
  logMs: 0,
  orderMs: ORDER_RETENTION_MS,
  deadLettersPerGroup: 1_000,
  logMaxBytes: 0,
};

function product(sku: string, onHand: number): CatalogProduct {
  return { sku, name: `Product ${sku}`, price: { amount: 1999, currency: 'USD' }, onHand };
}

/** The retention every order and stock cache must apply; `factory` opens isolated storage. */
export function describeCacheRetentionContract(name: string, factory: RetentionCacheFactory): void {
  describe(`${name} cache retention`, () => {
    let fixture: RetentionCacheFixture | undefined;

    const openWith = async (policy: RetentionPolicy = CACHE_POLICY): Promise<RetentionCaches> => {
      fixture = await factory(policy);
      return fixture.open();
    };
    const pass = (ms: number): Promise<void> => fixture?.pass(ms) ?? Promise.resolve();

    afterEach(async () => {
      await fixture?.dispose();
      fixture = undefined;
    });

    it('evicts a settled terminal order past the retention and keeps counting it', async () => {
      const { orders } = await openWith();
      const done = makeOrder({ status: 'COMPLETED' });
      const kept = makeOrder({ status: 'COMPLETED' });
      await orders.create(done);
      await orders.create(kept);
      const counts = await orders.countByStatus();
      await orders.settled([{ orderId: done.orderId, status: 'COMPLETED' }]);
      await pass(PAST_RETENTION_MS);

      await eventually(async () => {
        await orders.evictSettled();
        expect(await orders.get(done.orderId)).toBeUndefined();
      }, EXPIRY_TIMEOUT_MS);
      expect(await orders.get(kept.orderId)).toEqual(kept);
      const listed = await orders.list({ status: 'COMPLETED', limit: 10 });
      expect(listed.map((order) => order.orderId)).toEqual([kept.orderId]);
      expect(await orders.countByStatus()).toEqual(counts);
    });

    it('keeps unsettled, non-terminal, wrongly settled and young orders', async () => {
      const { orders } = await openWith();
      const unsettled = makeOrder({ status: 'PAYMENT_FAILED' });
      const paid = makeOrder({ status: 'PAID' });
      const otherStatus = makeOrder({ status: 'CANCELLED' });
      const young = makeOrder({ status: 'REFUNDED' });
      const sentinel = makeOrder({ status: 'COMPLETED' });
      for (const order of [unsettled, paid, otherStatus, young, sentinel])
        await orders.create(order);
      await orders.settled([
        { orderId: paid.orderId, status: 'PAID' },
        { orderId: otherStatus.orderId, status: 'COMPLETED' },
        { orderId: sentinel.orderId, status: 'COMPLETED' },
        { orderId: 'never-created', status: 'COMPLETED' },
      ]);
      await pass(PAST_RETENTION_MS);
      await orders.settled([{ orderId: young.orderId, status: 'REFUNDED' }]);

      // The sentinel goes: the others were weighed by the same eviction.
      await eventually(async () => {
        await orders.evictSettled();
        expect(await orders.get(sentinel.orderId)).toBeUndefined();
      }, EXPIRY_TIMEOUT_MS);
      for (const order of [unsettled, paid, otherStatus, young])
        expect(await orders.get(order.orderId)).toEqual(order);
    });

    it('keeps an order that moved after it was settled until its new status is settled too', async () => {
      const { orders } = await openWith();
      const refunded = makeOrder({ status: 'COMPLETED' });
      const sentinel = makeOrder({ status: 'COMPLETED' });
      await orders.create(refunded);
      await orders.create(sentinel);
      await orders.settled([
        { orderId: refunded.orderId, status: 'COMPLETED' },
        { orderId: sentinel.orderId, status: 'COMPLETED' },
      ]);
      const moved = await orders.transition(refunded.orderId, 'COMPLETED', 'REFUNDED', AT);
      await pass(PAST_RETENTION_MS);
      await eventually(async () => {
        await orders.evictSettled();
        expect(await orders.get(sentinel.orderId)).toBeUndefined();
      }, EXPIRY_TIMEOUT_MS);
      expect(await orders.get(refunded.orderId)).toEqual(moved);

      await orders.settled([{ orderId: refunded.orderId, status: 'REFUNDED' }]);
      await pass(PAST_RETENTION_MS);
      await eventually(async () => {
        await orders.evictSettled();
        expect(await orders.get(refunded.orderId)).toBeUndefined();
      }, EXPIRY_TIMEOUT_MS);
      expect((await orders.countByStatus()).REFUNDED).toBe(1);
    });

    it('keeps every order when the retention is 0', async () => {
      const { orders } = await openWith({ ...CACHE_POLICY, orderMs: 0 });
      const order = makeOrder({ status: 'COMPLETED' });
      await orders.create(order);
      await orders.settled([{ orderId: order.orderId, status: 'COMPLETED' }]);
      await pass(PAST_RETENTION_MS);
      expect(await orders.evictSettled()).toBe(0);
      expect(await orders.get(order.orderId)).toEqual(order);
    });

    it("removes a synced order's reservation records and never a hold", async () => {
      const { stock } = await openWith();
      const level = async (): Promise<number | undefined> =>
        (await stock.items(['A'])).get('A')?.available;
      await stock.reconcile([product('A', 10)]);
      await stock.reserve('sold', [{ sku: 'A', qty: 2 }], EXPIRES);
      await stock.commit('sold');
      await stock.markSynced('sold', true);
      await stock.reserve('held', [{ sku: 'A', qty: 3 }], EXPIRES);
      await stock.markSynced('held', false);
      expect(await level()).toBe(5);
      await pass(PAST_RETENTION_MS);

      // Once its record is gone the cache no longer knows the order reserved: it holds anew.
      await eventually(async () => {
        await stock.evictSettled();
        expect(await stock.reserve('sold', [{ sku: 'A', qty: 2 }], EXPIRES + 1)).toEqual({
          ok: true,
          expiresAt: EXPIRES + 1,
        });
      }, EXPIRY_TIMEOUT_MS);
      expect(await stock.reserve('held', [{ sku: 'A', qty: 3 }], EXPIRES + 1)).toEqual({
        ok: true,
        expiresAt: EXPIRES,
      });
      await stock.release('sold');
      await stock.release('held');
      expect(await level()).toBe(8);
    });

    it("removes a synced order's refusal: a refused order's record goes too", async () => {
      const { stock } = await openWith();
      await stock.reconcile([product('A', 1)]);
      expect(await stock.reserve('refused', [{ sku: 'A', qty: 5 }], EXPIRES)).toEqual({
        ok: false,
        shortSkus: ['A'],
      });
      await stock.reconcile([product('A', 10)]);
      // Remembered: the same order is refused again, whatever the stock now.
      expect(await stock.reserve('refused', [{ sku: 'A', qty: 5 }], EXPIRES)).toMatchObject({
        ok: false,
      });
      await stock.markSynced('refused', false);
      await pass(PAST_RETENTION_MS);
      await eventually(async () => {
        await stock.evictSettled();
        expect(await stock.reserve('refused', [{ sku: 'A', qty: 5 }], EXPIRES)).toEqual({
          ok: true,
          expiresAt: EXPIRES,
        });
      }, EXPIRY_TIMEOUT_MS);
    });
  });
}
