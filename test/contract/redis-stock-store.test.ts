import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RedisConnection } from '../../src/adapters/redis/redis-connection.js';
import { RedisStockStore } from '../../src/adapters/redis/redis-stock-store.js';
import type { CatalogProduct } from '../../src/ports/stock-store.js';
import { deleteNamespace, openRedis } from '../helpers/backends-redis.js';
import { enginesUp, randomNamespace } from '../helpers/engines.js';
import { orderId } from './support.js';

const EXPIRES = Date.UTC(2030, 0, 1, 12, 15);

function product(sku: string, onHand: number): CatalogProduct {
  return { sku, name: `Product ${sku}`, price: { amount: 1999, currency: 'USD' }, onHand };
}

const up = await enginesUp('redis');
describe.skipIf(!up)('redis', () => {
  describe('RedisStockStore on two connections', () => {
    let connections: RedisConnection[];
    let namespace: string;
    let stores: RedisStockStore[];

    const levels = async (sku: string) => {
      const item = (await stores[0]?.items([sku]))?.get(sku);
      return item && { available: item.available, reserved: item.reserved };
    };

    beforeEach(async () => {
      connections = await Promise.all([openRedis(), openRedis()]);
      namespace = randomNamespace('stock');
      stores = connections.map((connection) => new RedisStockStore(connection, namespace));
    });

    afterEach(async () => {
      const [first] = connections;
      if (first) await deleteNamespace(first, namespace);
      await Promise.all(connections.map((connection) => connection.close()));
    });

    it('lets exactly 100 of 400 concurrent multi-SKU reserves hold 100 units, all lines or none', async () => {
      await stores[0]?.reconcile([product('A', 100), product('B', 100), product('C', 1_000)]);
      const lines = [
        { sku: 'C', qty: 2 },
        { sku: 'A', qty: 1 },
        { sku: 'B', qty: 1 },
      ];
      const results = await Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          (stores[i % 2] as RedisStockStore).reserve(orderId(), lines, EXPIRES),
        ),
      );
      expect(results.filter((result) => result.ok)).toHaveLength(100);
      for (const result of results) {
        if (!result.ok) expect(result.shortSkus).toEqual(['A', 'B']);
      }
      expect(await levels('A')).toEqual({ available: 0, reserved: 100 });
      expect(await levels('B')).toEqual({ available: 0, reserved: 100 });
      expect(await levels('C')).toEqual({ available: 800, reserved: 200 });
    });

    it('counts a sale once however often it is committed, released and marked', async () => {
      const [one, two] = stores as [RedisStockStore, RedisStockStore];
      await one.reconcile([product('A', 10)]);
      const sold = orderId();
      const returned = orderId();
      await one.reserve(sold, [{ sku: 'A', qty: 3 }], EXPIRES);
      await two.reserve(returned, [{ sku: 'A', qty: 2 }], EXPIRES);
      await Promise.all([one.commit(sold), two.commit(sold), one.commit(returned)]);
      await Promise.all([one.markSynced(sold, true), two.markSynced(sold, true)]);
      await Promise.all([one.markSynced(returned, true), two.markSynced(returned, true)]);
      await Promise.all([one.release(returned), two.release(returned)]);
      // The SoT took 3 + 2 and has not given the 2 back yet: on hand 5 there.
      await one.reconcile([product('A', 5)]);
      expect(await levels('A')).toEqual({ available: 7, reserved: 0 });
      await Promise.all([one.markSynced(returned, false), two.markSynced(returned, false)]);
      // Now the SoT gave them back: on hand 7 there.
      await two.reconcile([product('A', 7)]);
      expect(await levels('A')).toEqual({ available: 7, reserved: 0 });
    });
  });
});
