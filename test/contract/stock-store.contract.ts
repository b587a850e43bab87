import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CatalogProduct, StockStore } from '../../src/ports/stock-store.js';
import { ManualClock, type Fixture, type FixtureFactory } from './fixture.js';
import { orderId } from './support.js';

const EXPIRES = Date.UTC(2030, 0, 1, 12, 15);

function product(sku: string, onHand: number, name = `Product ${sku}`): CatalogProduct {
  return { sku, name, price: { amount: 1999, currency: 'USD' }, onHand };
}

/** The behaviour every StockStore adapter must show; `factory` gives isolated storage per test. */
export function describeStockStoreContract(
  name: string,
  factory: FixtureFactory<StockStore>,
): void {
  describe(`${name} StockStore`, () => {
    let fixture: Fixture<StockStore>;
    let stock: StockStore;

    const levels = async (sku: string) => {
      const item = (await stock.items([sku])).get(sku);
      return item && { available: item.available, reserved: item.reserved };
    };

    beforeEach(async () => {
      fixture = await factory();
      stock = fixture.open(new ManualClock());
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('lists catalog items with their stock and leaves unknown SKUs out', async () => {
      await stock.reconcile([product('A', 5, 'Widget'), product('B', 0, 'Gadget')]);
      const items = await stock.items(['A', 'B', 'nope']);
      expect([...items.keys()].sort()).toEqual(['A', 'B']);
      expect(items.get('A')).toEqual({
        sku: 'A',
        name: 'Widget',
        price: { amount: 1999, currency: 'USD' },
        available: 5,
        reserved: 0,
      });
    });

    it('reserves every line of an order or none', async () => {
      await stock.reconcile([product('A', 5), product('B', 1)]);
      expect(
        await stock.reserve(
          orderId(),
          [
            { sku: 'A', qty: 2 },
            { sku: 'B', qty: 2 },
          ],
          EXPIRES,
        ),
      ).toEqual({
        ok: false,
        shortSkus: ['B'],
      });
      expect(await levels('A')).toEqual({ available: 5, reserved: 0 });
      expect(
        await stock.reserve(
          orderId(),
          [
            { sku: 'A', qty: 2 },
            { sku: 'B', qty: 1 },
          ],
          EXPIRES,
        ),
      ).toEqual({ ok: true, expiresAt: EXPIRES });
      expect(await levels('A')).toEqual({ available: 3, reserved: 2 });
      expect(await levels('B')).toEqual({ available: 0, reserved: 1 });
    });

    it('counts an unknown SKU as short', async () => {
      await stock.reconcile([product('A', 5)]);
      expect(
        await stock.reserve(
          orderId(),
          [
            { sku: 'A', qty: 1 },
            { sku: 'Z', qty: 1 },
          ],
          EXPIRES,
        ),
      ).toEqual({
        ok: false,
        shortSkus: ['Z'],
      });
      expect(await levels('A')).toEqual({ available: 5, reserved: 0 });
    });

    it('sums the lines of one SKU', async () => {
      await stock.reconcile([product('A', 5)]);
      const twice = [
        { sku: 'A', qty: 3 },
        { sku: 'A', qty: 3 },
      ];
      expect(await stock.reserve(orderId(), twice, EXPIRES)).toEqual({
        ok: false,
        shortSkus: ['A'],
      });
      expect(
        await stock.reserve(
          orderId(),
          [
            { sku: 'A', qty: 2 },
            { sku: 'A', qty: 3 },
          ],
          EXPIRES,
        ),
      ).toEqual({ ok: true, expiresAt: EXPIRES });
      expect(await levels('A')).toEqual({ available: 0, reserved: 5 });
    });

    it('answers a repeated reserve of one order with its first answer', async () => {
      await stock.reconcile([product('A', 5), product('B', 0)]);
      const held = orderId();
      expect(await stock.reserve(held, [{ sku: 'A', qty: 2 }], EXPIRES)).toEqual({
        ok: true,
        expiresAt: EXPIRES,
      });
      expect(await stock.reserve(held, [{ sku: 'A', qty: 2 }], EXPIRES)).toEqual({
        ok: true,
        expiresAt: EXPIRES,
      });
      expect(await levels('A')).toEqual({ available: 3, reserved: 2 });

      const refused = orderId();
      expect(await stock.reserve(refused, [{ sku: 'B', qty: 1 }], EXPIRES)).toEqual({
        ok: false,
        shortSkus: ['B'],
      });
      await stock.reconcile([product('B', 10)]);
      expect(await stock.reserve(refused, [{ sku: 'B', qty: 1 }], EXPIRES)).toEqual({
        ok: false,
        shortSkus: ['B'],
      });
      expect(await levels('B')).toEqual({ available: 10, reserved: 0 });
    });

    it('commits a hold once, and a release after the commit returns the stock once', async () => {
      await stock.reconcile([product('A', 5)]);
      const order = orderId();
      await stock.reserve(order, [{ sku: 'A', qty: 2 }], EXPIRES);
      await stock.commit(order);
      await stock.commit(order);
      expect(await levels('A')).toEqual({ available: 3, reserved: 0 });
      await stock.release(order);
      await stock.release(order);
      expect(await levels('A')).toEqual({ available: 5, reserved: 0 });
    });

    it('releases a hold once and ignores orders never reserved', async () => {
      await stock.reconcile([product('A', 5)]);
      const order = orderId();
      await stock.reserve(order, [{ sku: 'A', qty: 2 }], EXPIRES);
      await stock.release(order);
      await stock.release(order);
      await stock.release(orderId());
      await stock.commit(order);
      expect(await levels('A')).toEqual({ available: 5, reserved: 0 });
    });

    it('announces expired holds oldest first, each once per re-announce period', async () => {
      await stock.reconcile([product('A', 100)]);
      const [first, second, third] = [orderId(), orderId(), orderId()];
      await stock.reserve(second ?? '', [{ sku: 'A', qty: 1 }], 2_000);
      await stock.reserve(first ?? '', [{ sku: 'A', qty: 1 }], 1_000);
      await stock.reserve(third ?? '', [{ sku: 'A', qty: 1 }], 3_000);
      const ids = async (now: number, limit: number) =>
        (await stock.claimExpired(now, limit, 1_000)).map((hold) => hold.orderId);
      expect(await stock.claimExpired(2_500, 1, 1_000)).toEqual([
        { orderId: first, expiresAt: 1_000 },
      ]);
      expect(await ids(2_500, 10)).toEqual([second]);
      expect(await ids(2_600, 10)).toEqual([]);
      await stock.commit(first ?? '');
      await stock.release(second ?? '');
      // Still held past the re-announce period: announced again; gone ones are not.
      expect(await ids(3_600, 10)).toEqual([third]);
      expect(await ids(3_700, 10)).toEqual([]);
    });

    it('does not let holds nobody releases starve newer expiries', async () => {
      await stock.reconcile([product('A', 100)]);
      const stuck = [orderId(), orderId(), orderId()];
      for (const id of stuck) await stock.reserve(id, [{ sku: 'A', qty: 1 }], 1_000);
      const fresh = orderId();
      await stock.reserve(fresh, [{ sku: 'A', qty: 1 }], 2_000);
      // A sweep that reads 2 at a time, every 100 ms, while nothing releases the stuck ones.
      const seen = new Set<string>();
      for (let now = 2_000; now < 2_500 && !seen.has(fresh); now += 100) {
        for (const hold of await stock.claimExpired(now, 2, 60_000)) seen.add(hold.orderId);
      }
      expect(seen.has(fresh)).toBe(true);
    });

    it('holds a released reservation anew when its order is reserved again', async () => {
      await stock.reconcile([product('A', 5)]);
      const order = orderId();
      await stock.reserve(order, [{ sku: 'A', qty: 2 }], 1_000);
      await stock.release(order);
      expect(await stock.reserve(order, [{ sku: 'A', qty: 2 }], 2_000)).toEqual({
        ok: true,
        expiresAt: 2_000,
      });
      expect(await levels('A')).toEqual({ available: 3, reserved: 2 });
      await stock.commit(order);
      expect(await levels('A')).toEqual({ available: 3, reserved: 0 });
    });

    it('keeps the first hold and its expiry when an order is reserved again', async () => {
      await stock.reconcile([product('A', 5)]);
      const order = orderId();
      expect(await stock.reserve(order, [{ sku: 'A', qty: 2 }], 1_000)).toEqual({
        ok: true,
        expiresAt: 1_000,
      });
      expect(await stock.reserve(order, [{ sku: 'A', qty: 2 }], 9_000)).toEqual({
        ok: true,
        expiresAt: 1_000,
      });
      expect(await levels('A')).toEqual({ available: 3, reserved: 2 });
    });

    it('never sells more than it has: 200 concurrent reserves for 50 units', async () => {
      await stock.reconcile([product('A', 50)]);
      const results = await Promise.all(
        Array.from({ length: 200 }, () =>
          stock.reserve(orderId(), [{ sku: 'A', qty: 1 }], EXPIRES),
        ),
      );
      expect(results.filter((result) => result.ok)).toHaveLength(50);
      expect(await levels('A')).toEqual({ available: 0, reserved: 50 });
    });

    it('reconciles available = onHand − sold not yet synced + returned still taken − held', async () => {
      await stock.reconcile([product('A', 100), product('B', 10)]);
      const held = orderId();
      const sold = orderId();
      const soldSynced = orderId();
      const returnedUnsynced = orderId();
      const returnedSynced = orderId();
      await stock.reserve(held, [{ sku: 'A', qty: 2 }], EXPIRES);
      await stock.reserve(
        sold,
        [
          { sku: 'A', qty: 3 },
          { sku: 'B', qty: 5 },
        ],
        EXPIRES,
      );
      await stock.reserve(soldSynced, [{ sku: 'A', qty: 4 }], EXPIRES);
      await stock.reserve(returnedUnsynced, [{ sku: 'A', qty: 6 }], EXPIRES);
      await stock.reserve(returnedSynced, [{ sku: 'A', qty: 7 }], EXPIRES);
      for (const order of [sold, soldSynced, returnedUnsynced, returnedSynced])
        await stock.commit(order);
      await stock.markSynced(soldSynced, true);
      await stock.markSynced(returnedUnsynced, true);
      await stock.release(returnedUnsynced);
      await stock.release(returnedSynced);
      await stock.markSynced(returnedSynced, false);

      await stock.reconcile([product('A', 80, 'Renamed'), product('B', 2), product('C', 7)]);
      expect(await levels('A')).toEqual({ available: 80 - 3 + 6 - 2, reserved: 2 });
      expect(await levels('B')).toEqual({ available: 0, reserved: 0 });
      expect(await levels('C')).toEqual({ available: 7, reserved: 0 });
      expect((await stock.items(['A'])).get('A')?.name).toBe('Renamed');
    });
  });
}
