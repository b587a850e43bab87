/**
 * The worker killed with SIGKILL under load and PostgreSQL stopped for 10 s in the same
 * window: every accepted order completes; after sync the SoT holds each order once and
 * on_hand = initial − completed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { startPostgres, stopPostgres } from '../helpers/engine-control.js';
import { enginesUp } from '../helpers/engines.js';
import { sleep, startLoad } from '../helpers/load.js';
import type { Service } from '../helpers/service.js';

const up = await enginesUp('redis', 'nats', 'postgres');
const SKU = 'OUTAGE-PG';
const INITIAL = 100_000;

describe.skipIf(!up)('a worker killed and PostgreSQL stopped under load', () => {
  let cluster: Cluster;
  let api: Service;
  let worker: Service;

  beforeAll(async () => {
    cluster = await startCluster(['api', 'scheduler', 'worker']);
    [api, , worker] = cluster.services as [Service, Service, Service];
    const put = await api.request('PUT', `/v1/admin/products/${SKU}`, {
      key: 'admin',
      body: { name: 'Outage', price: { amount: 700, currency: 'USD' }, onHand: INITIAL },
    });
    expect(put.status).toBe(200);
  });

  afterAll(async () => {
    await startPostgres().catch(() => undefined);
    await cluster?.destroy();
  });

  it('completes every accepted order and syncs each once', async () => {
    const load = startLoad([api], SKU, 4);
    try {
      await sleep(2_000);
      await worker.kill('SIGKILL');
      await sleep(1_000);
      await stopPostgres();
      await sleep(3_000);
      await worker.start(); // comes up while PostgreSQL is still down
      await sleep(7_000);
    } finally {
      await startPostgres();
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

    const deadline = Date.now() + 90_000;
    let synced = 0;
    while (Date.now() < deadline) {
      const [row] = await cluster
        .sql<{ n: string }>('SELECT count(*) AS n FROM orders')
        .catch(() => [{ n: '0' }]);
      synced = Number(row?.n);
      if (synced >= accepted.length) break;
      await sleep(500);
    }
    expect(synced).toBe(accepted.length);
    const [distinct] = await cluster.sql<{ n: string }>(
      'SELECT count(DISTINCT order_id) AS n FROM orders',
    );
    expect(Number(distinct?.n)).toBe(accepted.length);
    const [product] = await cluster.sql<{ on_hand: string }>(
      'SELECT on_hand FROM products WHERE sku = $1',
      [SKU],
    );
    expect(Number(product?.on_hand)).toBe(INITIAL - accepted.length);
    const admin = await api.request<{ onHand: number; available: number; reserved: number }>(
      'GET',
      `/v1/admin/products/${SKU}`,
      { key: 'admin' },
    );
    expect(admin.json).toMatchObject({ onHand: INITIAL - accepted.length, reserved: 0 });
    expect(admin.json.available).toBe(INITIAL - accepted.length);
  });
});
