/**
 * Schedules run once across processes: two `scheduler` processes, one holds the lease.
 * Killed with SIGKILL, the other takes over and sync-out goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody } from '../helpers/api.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { enginesUp } from '../helpers/engines.js';
import type { Service } from '../helpers/service.js';

const up = await enginesUp('redis', 'nats', 'postgres');
const WON = 'lease won';

async function synced(cluster: Cluster, orderId: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows = await cluster.sql('SELECT 1 FROM orders WHERE order_id = $1', [orderId]);
    if (rows.length === 1) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

describe.skipIf(!up)('schedules under a lease', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster(['api', 'worker', 'scheduler', 'scheduler']);
  }, 120_000);
  afterAll(async () => {
    await cluster?.destroy();
  });

  it(
    'runs in one scheduler, and in the other once the holder dies',
    { timeout: 120_000 },
    async () => {
      const [api, , first, second] = cluster.services as [Service, Service, Service, Service];
      const put = await api.request('PUT', '/v1/admin/products/LEASE-1', {
        key: 'admin',
        body: { name: 'Lease', price: { amount: 100, currency: 'USD' }, onHand: 10 },
      });
      expect(put.status).toBe(200);
      const holders = [first, second].filter((service) => service.logs().includes(WON));
      expect(holders).toHaveLength(1);
      const holder = holders[0] as Service;
      const standby = holder === first ? second : first;

      const before = await api.placeOrder(orderBody({ sku: 'LEASE-1', qty: 1 }));
      expect((await api.waitForTerminal(before.json.orderId)).status).toBe('COMPLETED');
      expect(await synced(cluster, before.json.orderId, 30_000)).toBe(true);

      await holder.kill('SIGKILL');
      const after = await api.placeOrder(orderBody({ sku: 'LEASE-1', qty: 1 }));
      expect((await api.waitForTerminal(after.json.orderId)).status).toBe('COMPLETED');
      expect(await synced(cluster, after.json.orderId, 60_000)).toBe(true);
      expect(standby.logs()).toContain(WON);
    },
  );
});
