/**
 * NATS answering late, then not at all, while checkout clients retry their 503s with their
 * Idempotency-Key: a publish whose ack comes after the timeout has landed all the same. Every
 * key must end with ONE order that exists and reaches a terminal status; no order may exist
 * that its client was told failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totalOrders, type StatsView } from '../helpers/api.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { ENGINES, enginesUp } from '../helpers/engines.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { startKeyedLoad } from '../helpers/keyed-load.js';
import type { Service } from '../helpers/service.js';
import { sleep } from '../helpers/wait.js';

const up = await enginesUp('redis', 'nats', 'postgres');
const ON_HAND = 100_000;

describe.skipIf(!up)('late and lost NATS acks under keyed retries', () => {
  let proxy: FaultProxy;
  let cluster: Cluster;
  let service: Service;

  beforeAll(async () => {
    proxy = await FaultProxy.start(ENGINES.nats);
    cluster = await startCluster(['all'], { ORDERFLOW_NATS_URL: proxy.url });
    [service] = cluster.services as [Service];
    const put = await service.request('PUT', '/v1/admin/products/A123', {
      key: 'admin',
      body: { name: 'Widget', price: { amount: 1999, currency: 'USD' }, onHand: ON_HAND },
    });
    expect(put.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
    await proxy?.close();
  });

  it('binds every key to one order that exists and ends', async () => {
    const load = startKeyedLoad([service], 'A123', 24);
    await sleep(1_000);
    proxy.delay(1_600); // acks arrive after the 1 s publish timeout: landed, yet 503
    await sleep(3_000);
    proxy.blackhole(); // nothing answers: publishes hang, time out, and land later
    await sleep(2_000);
    proxy.restore();
    proxy.cut(); // connections reset: what was in flight is lost for good
    await sleep(2_500);
    proxy.restore();
    await sleep(1_000);
    const keyed = await load.stop(90_000);

    const timedOut = keyed.filter((order) => order.answers.some((answer) => answer.status === 503));
    expect(timedOut.length).toBeGreaterThan(0);
    const unanswered = keyed.filter((order) => order.orderId === undefined);
    expect(unanswered.map((order) => order.answers.at(-1))).toEqual([]);

    const ids = keyed.map((order) => order.orderId as string);
    expect(new Set(ids).size).toBe(keyed.length);
    for (const orderId of ids) {
      const order = await service.waitForTerminal(orderId, 60_000);
      expect(order.status).toBe('COMPLETED');
    }
    // No other order was made: nothing the clients were told failed, nothing twice.
    const stats = await service.request<StatsView>('GET', '/v1/admin/stats', { key: 'admin' });
    expect(totalOrders(stats.json)).toBe(keyed.length);
    const product = await service.request<{ available: number; reserved: number }>(
      'GET',
      '/v1/admin/products/A123',
      { key: 'admin' },
    );
    expect(product.json.reserved).toBe(0);
    expect(product.json.available).toBe(ON_HAND - keyed.length);
    console.log(
      `late/lost acks: ${keyed.length} keys, ${timedOut.length} retried after a 503, ` +
        `${new Set(ids).size} orders, all COMPLETED`,
    );
  }, 240_000);
});
