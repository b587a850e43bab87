/**
 * Sync between the stock cache and the source of truth: sync-out applies each order once,
 * also across a SIGKILL and forced re-syncs; sync-in picks up an external restock, also
 * while orders are in flight, without ever overselling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody, type OrderView } from '../helpers/api.js';
import {
  checkStockConservation,
  terminalOnceViolations,
  waitForSotConsistent,
  watchStock,
} from '../helpers/invariants.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';
import { sotExecute, sotOrders, sotProduct } from '../helpers/sot.js';
import { sleep } from '../helpers/wait.js';

const N = 5;

let svc: Service;
/** Every order of this file, final views: the SoT must hold exactly these. */
const allOrders = new Map<string, OrderView>();

beforeAll(async () => {
  svc = await startService({
    env: { ORDERFLOW_SYNC_OUT_INTERVAL: '200ms', ORDERFLOW_RATE_LIMIT: '0' },
  });
});

afterAll(async () => {
  await stopAllServices();
});

describe('source-of-truth sync', () => {
  it(`sync-out writes ${N} completed orders once and takes their stock off on_hand`, async () => {
    const placed = await Promise.all(
      Array.from({ length: N }, () => svc.placeAccepted(orderBody({ sku: 'A123', qty: 1 }))),
    );
    const orders = await svc.waitForAllTerminal(placed.map((p) => p.orderId));
    for (const [id, view] of orders) allOrders.set(id, view);
    expect([...orders.values()].map((o) => o.status)).toEqual(
      Array.from({ length: N }, () => 'COMPLETED'),
    );

    expect(await waitForSotConsistent(svc, allOrders.values(), ['A123'])).toEqual([]);
    expect(sotProduct(svc.dataDir, 'A123')?.on_hand).toBe(100 - N);
  });

  it('after SIGKILL, restart and forced syncs the SoT still has each order once, stock taken once', async () => {
    await svc.kill('SIGKILL');
    await svc.restart();
    await svc.syncNow('orders');
    await svc.syncNow('stock');

    const rows = sotOrders(svc.dataDir);
    expect(rows.map((r) => r.order_id).sort()).toEqual([...allOrders.keys()].sort());
    expect(sotProduct(svc.dataDir, 'A123')?.on_hand).toBe(100 - N);
    expect(await svc.adminProduct('A123')).toMatchObject({
      onHand: 100 - N,
      available: 100 - N,
      reserved: 0,
    });
    expect(await waitForSotConsistent(svc, allOrders.values(), ['A123'])).toEqual([]);
  });

  it('a replay of the sync-out group re-applies nothing', async () => {
    await svc.replay('sync-out', 1);
    await svc.waitForConsumerIdle('sync-out');
    await svc.syncNow('orders');

    expect(
      sotOrders(svc.dataDir)
        .map((r) => r.order_id)
        .sort(),
    ).toEqual([...allOrders.keys()].sort());
    expect(sotProduct(svc.dataDir, 'A123')?.on_hand).toBe(100 - N);
    expect(await waitForSotConsistent(svc, allOrders.values(), ['A123'])).toEqual([]);
  });

  it('an external restock written into the SoT is picked up by sync/stock', async () => {
    expect(
      sotExecute(svc.dataDir, "UPDATE products SET on_hand = on_hand + 10 WHERE sku = 'A123'"),
    ).toBe(1);
    await svc.syncNow('stock');
    expect(await svc.adminProduct('A123')).toMatchObject({
      onHand: 100 - N + 10,
      available: 100 - N + 10,
      reserved: 0,
    });
  });

  it(
    'a restock synced while orders are in flight never oversells',
    { timeout: 180_000 },
    async () => {
      const sku = 'SYNC-20';
      await svc.putProduct(sku, {
        name: 'Restocked',
        price: { amount: 300, currency: 'USD' },
        onHand: 20,
      });
      const watch = watchStock(svc, sku);
      let orders: Map<string, OrderView>;
      try {
        const buyers = Promise.all(
          Array.from({ length: 60 }, () =>
            svc.placeOrder(orderBody({ sku, qty: 1 }), { timeoutMs: 60_000 }),
          ),
        );
        await sleep(20);
        expect(
          sotExecute(svc.dataDir, 'UPDATE products SET on_hand = on_hand + 10 WHERE sku = ?', sku),
        ).toBe(1);
        await svc.syncNow('stock');
        await sleep(50);
        await svc.syncNow('stock');
        const answers = await buyers;
        expect(
          answers.filter((res) => res.status !== 202).map((res) => `${res.status} ${res.text}`),
        ).toEqual([]);
        orders = await svc.waitForAllTerminal(answers.map((res) => res.json.orderId));
      } finally {
        await watch.stop();
      }
      expect(await watch.stop()).toEqual([]);
      for (const [id, view] of orders) allOrders.set(id, view);

      const views = [...orders.values()];
      expect(terminalOnceViolations(views)).toEqual([]);
      expect(views.filter((o) => o.status === 'COMPLETED').length).toBeLessThanOrEqual(30);
      await svc.syncNow('stock');
      const stock = await checkStockConservation(svc, sku, 30, views);
      expect(stock.violations).toEqual([]);
      expect(stock.reserved).toBe(0);

      expect(await waitForSotConsistent(svc, allOrders.values(), ['A123', sku])).toEqual([]);
      expect(sotProduct(svc.dataDir, sku)?.on_hand).toBe(30 - stock.sold);
    },
  );
});
