/**
 * The worker killed with SIGKILL under load and PostgreSQL — the test's own, never a shared
 * one — stopped for 10 s in the same window: every accepted order completes; after sync the
 * SoT holds exactly the accepted orders and on_hand = initial − Σ qty of COMPLETED.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soldQty } from '../helpers/invariants.js';
import { sleep, startLoad } from '../helpers/load.js';
import {
  privateEnginesAvailable,
  startPrivateBackends,
  startServicesOn,
  type PrivateBackends,
} from '../helpers/private-engines.js';
import { stopAllServices, type Service } from '../helpers/service.js';
import { waitFor } from '../helpers/wait.js';

const SKU = 'OUTAGE-PG';
const INITIAL = 100_000;

describe.skipIf(!privateEnginesAvailable())(
  'a worker killed and PostgreSQL stopped under load',
  () => {
    let backends: PrivateBackends;
    let api: Service;
    let worker: Service;

    beforeAll(async () => {
      backends = await startPrivateBackends();
      [api, , worker] = (await startServicesOn(backends, ['api', 'scheduler', 'worker'])) as [
        Service,
        Service,
        Service,
      ];
      await api.putProduct(SKU, {
        name: 'Outage',
        price: { amount: 700, currency: 'USD' },
        onHand: INITIAL,
      });
    }, 120_000);

    afterAll(async () => {
      await stopAllServices();
      await backends?.dispose();
    }, 60_000);

    it('completes every accepted order and syncs each once', { timeout: 300_000 }, async () => {
      const load = startLoad([api], SKU, 4);
      try {
        await sleep(2_000);
        await worker.kill('SIGKILL');
        await sleep(1_000);
        await backends.postgres.stop();
        await sleep(3_000);
        await worker.start(); // comes up while PostgreSQL is still down
        await sleep(7_000);
      } finally {
        await backends.postgres.start();
      }
      await sleep(2_000);
      const answers = await load.stop();
      const accepted = answers.flatMap((a) => (a.orderId ? [a.orderId] : []));
      expect(accepted.length).toBeGreaterThan(50);
      expect(
        answers.filter((a) => a.status !== 202).map((a) => `${a.status} ${a.error ?? ''}`),
      ).toEqual([]);

      const orders = await api.waitForAllTerminal(accepted, 180_000);
      const notCompleted = [...orders.values()].filter((o) => o.status !== 'COMPLETED');
      expect(notCompleted.map((o) => `${o.orderId} ${o.status}`)).toEqual([]);
      const sold = soldQty(orders.values(), SKU);

      // The SoT holds exactly the accepted orders (none missing, none extra), as COMPLETED.
      const rows = await waitFor(
        async () => {
          const found = await backends.postgres.sql<{ order_id: string; status: string }>(
            'SELECT order_id, status FROM orders',
          );
          return found.length >= accepted.length ? found : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 500, what: `${accepted.length} orders in the SoT` },
      );
      expect(rows.map((row) => row.order_id).sort()).toEqual([...accepted].sort());
      expect(rows.filter((row) => row.status !== 'COMPLETED')).toEqual([]);

      const [product] = await backends.postgres.sql<{ on_hand: string }>(
        'SELECT on_hand FROM products WHERE sku = $1',
        [SKU],
      );
      expect(Number(product?.on_hand)).toBe(INITIAL - sold);
      expect(await api.adminProduct(SKU)).toMatchObject({
        onHand: INITIAL - sold,
        available: INITIAL - sold,
        reserved: 0,
      });
    });
  },
);
