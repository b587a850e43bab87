import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CatalogProduct, StockStore } from '../../src/ports/stock-store.js';
import { ManualClock, type Fixture, type FixtureFactory } from './fixture.js';
import { orderId } from './support.js';

const EXPIRES = Date.UTC(2030, 0, 1, 12, 15);

function product(sku: string, onHand: number): CatalogProduct {
  return { sku, name: `Product ${sku}`, price: { amount: 1999, currency: 'USD' }, onHand };
}

/**
 * Fencing of the sync's writes (the sync lease's tokens): every StockStore adapter refuses
 * a reconcile or a mark carrying a token older than the newest it has seen, atomically
 * with the write, across every adapter on the same storage.
 */
export function describeStockFencingContract(
  name: string,
  factory: FixtureFactory<StockStore>,
): void {
  describe(`${name} StockStore fencing`, () => {
    let fixture: Fixture<StockStore>;
    let stock: StockStore;

    const available = async (sku: string) => (await stock.items([sku])).get(sku)?.available;

    /** An order of `qty` A sold (committed), not yet in the source of truth. */
    const sold = async (qty: number): Promise<string> => {
      const id = orderId();
      expect((await stock.reserve(id, [{ sku: 'A', qty }], EXPIRES)).ok).toBe(true);
      await stock.commit(id);
      return id;
    };

    beforeEach(async () => {
      fixture = await factory();
      stock = fixture.open(new ManualClock());
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('refuses a reconcile with a token older than the newest seen, and changes nothing', async () => {
      expect(await stock.reconcile([product('A', 10)], 5)).toBe(true);
      expect(await stock.reconcile([product('A', 12)], 5)).toBe(true);
      expect(await stock.reconcile([product('A', 20)], 4)).toBe(false);
      expect(await available('A')).toBe(12);
      expect(await stock.reconcile([product('A', 30)], 6)).toBe(true);
      expect(await stock.reconcile([product('A', 11)], 5)).toBe(false);
      expect(await available('A')).toBe(30);
    });

    it('records a token from a reconcile with no products: older runs are shut out', async () => {
      expect(await stock.reconcile([product('A', 10)], 1)).toBe(true);
      expect(await stock.reconcile([], 2)).toBe(true);
      expect(await stock.reconcile([product('A', 99)], 1)).toBe(false);
      expect(await available('A')).toBe(10);
    });

    it('fences marks too, and shares the newest token with reconciles', async () => {
      expect(await stock.reconcile([product('A', 10)], 3)).toBe(true);
      const stale = await sold(2);
      const fresh = await sold(3);
      expect(await stock.markSynced(fresh, true, 4)).toBe(true);
      expect(await stock.markSynced(stale, true, 3)).toBe(false);
      expect(await stock.reconcile([product('A', 7)], 3)).toBe(false);
      // on hand 7 reflects `fresh`; `stale` is still counted as sold but not in the SoT.
      expect(await stock.reconcile([product('A', 7)], 4)).toBe(true);
      expect(await available('A')).toBe(5);
    });

    it('lets unfenced writes through, without moving the fence', async () => {
      expect(await stock.reconcile([product('A', 10)], 7)).toBe(true);
      expect(await stock.reconcile([product('A', 8)])).toBe(true);
      expect(await available('A')).toBe(8);
      const id = await sold(1);
      expect(await stock.markSynced(id, true)).toBe(true);
      expect(await stock.reconcile([product('A', 9)], 6)).toBe(false);
      expect(await stock.reconcile([product('A', 9)], 7)).toBe(true);
      expect(await available('A')).toBe(9);
    });

    it('is one fence for every adapter on the same storage', async () => {
      const other = fixture.open(new ManualClock());
      expect(await stock.reconcile([product('A', 10)], 1)).toBe(true);
      expect(await other.reconcile([], 2)).toBe(true);
      expect(await stock.reconcile([product('A', 50)], 1)).toBe(false);
      expect(await available('A')).toBe(10);
    });
  });
}
