/** Invariant 2 under contention: 500 buyers race for 50 units; exactly 50 sell. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody, type OrderView } from '../helpers/api.js';
import {
  checkStockConservation,
  rawAvailable,
  terminalOnceViolations,
  waitForSotConsistent,
  watchStock,
} from '../helpers/invariants.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';

const SKU = 'OVERSELL-50';
const STOCK = 50;
const BUYERS = 500;

let svc: Service;

beforeAll(async () => {
  svc = await startService({
    env: {
      ORDERFLOW_RATE_LIMIT: '0',
      ORDERFLOW_DECLINE_LIMIT: '0',
      ORDERFLOW_SYNC_OUT_INTERVAL: '200ms',
    },
  });
});

afterAll(async () => {
  await stopAllServices();
});

describe('no oversell', () => {
  it(
    `${BUYERS} concurrent buyers of ${STOCK} units: all 202, exactly ${STOCK} COMPLETED`,
    { timeout: 240_000 },
    async () => {
      await svc.putProduct(SKU, {
        name: 'Limited edition',
        price: { amount: 2500, currency: 'USD' },
        onHand: STOCK,
      });
      expect(await svc.adminProduct(SKU)).toMatchObject({
        onHand: STOCK,
        available: STOCK,
        reserved: 0,
      });

      const watch = watchStock(svc, SKU);
      let orders: Map<string, OrderView>;
      try {
        const answers = await Promise.all(
          Array.from({ length: BUYERS }, () =>
            svc.placeOrder(orderBody({ sku: SKU, qty: 1 }), { timeoutMs: 120_000 }),
          ),
        );
        const refused = answers
          .filter((res) => res.status !== 202)
          .map((res) => `${res.status} ${res.text}`);
        expect(refused).toEqual([]);
        orders = await svc.waitForAllTerminal(
          answers.map((res) => res.json.orderId),
          180_000,
        );
      } finally {
        await watch.stop();
      }
      const negatives = await watch.stop();

      const views = [...orders.values()];
      const count = (status: string): number => views.filter((o) => o.status === status).length;
      expect({ COMPLETED: count('COMPLETED'), FAILED_NO_STOCK: count('FAILED_NO_STOCK') }).toEqual({
        COMPLETED: STOCK,
        FAILED_NO_STOCK: BUYERS - STOCK,
      });
      expect(terminalOnceViolations(views)).toEqual([]);
      expect(negatives).toEqual([]);

      const stock = await checkStockConservation(svc, SKU, STOCK, views);
      expect(stock.violations).toEqual([]);
      expect({ available: stock.available, reserved: stock.reserved }).toEqual({
        available: 0,
        reserved: 0,
      });

      expect(await waitForSotConsistent(svc, views, [SKU], { timeoutMs: 60_000 })).toEqual([]);
      // The watch's unclamped reading agrees with the cache once everything is synced.
      expect(rawAvailable(svc.dataDir, SKU)).toBe(stock.available);
    },
  );
});
