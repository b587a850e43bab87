/**
 * NATS stopped for a few seconds under load: the intake answers 503 with Retry-After and
 * /readyz is 503 during the outage, both recover by themselves, and every accepted order
 * completes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { startNats, stopNats } from '../helpers/engine-control.js';
import { enginesUp } from '../helpers/engines.js';
import { sleep, startLoad } from '../helpers/load.js';
import type { Service } from '../helpers/service.js';

const up = await enginesUp('redis', 'nats', 'postgres');
const SKU = 'OUTAGE-NATS';

describe.skipIf(!up)('NATS down under load', () => {
  let cluster: Cluster;
  let all: Service;
  let api: Service;

  beforeAll(async () => {
    cluster = await startCluster(['all', 'api']);
    [all, api] = cluster.services as [Service, Service];
    const put = await api.request('PUT', `/v1/admin/products/${SKU}`, {
      key: 'admin',
      body: { name: 'Outage', price: { amount: 300, currency: 'USD' }, onHand: 100_000 },
    });
    expect(put.status).toBe(200);
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('answers 503 + Retry-After while NATS is down, recovers, and loses no accepted order', async () => {
    const load = startLoad([all, api], SKU, 2);
    const readiness: number[] = [];
    await sleep(2_000);
    const stopped = await stopNats();
    try {
      for (let i = 0; i < 8; i += 1) {
        await sleep(500);
        readiness.push(
          (await api.request('GET', '/readyz', { key: 'none', timeoutMs: 5_000 })).status,
        );
      }
    } finally {
      startNats(stopped);
    }
    // Recovery by itself: ready again, and the load gets 202s again.
    const deadline = Date.now() + 60_000;
    while ((await api.request('GET', '/readyz', { key: 'none' })).status !== 200) {
      if (Date.now() > deadline) throw new Error('not ready again within 60 s');
      await sleep(250);
    }
    await sleep(3_000);
    const answers = await load.stop();

    expect(readiness).toContain(503);
    const refused = answers.filter((a) => a.status !== 202);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(answer.status).toBe(503);
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    const lastAnswers = answers.slice(-20);
    expect(lastAnswers.every((a) => a.status === 202)).toBe(true);

    const accepted = answers.flatMap((a) => (a.orderId ? [a.orderId] : []));
    const orders = await api.waitForAllTerminal(accepted, 180_000);
    const notCompleted = [...orders.values()].filter((o) => o.status !== 'COMPLETED');
    expect(notCompleted.map((o) => `${o.orderId} ${o.status}`)).toEqual([]);
  });
});
