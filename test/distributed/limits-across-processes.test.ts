/**
 * The request limits hold for the deployment, not per process: on the real Redis, NATS
 * JetStream and PostgreSQL, with a namespace of its own, two `api` processes share one rate
 * limit (Redis counts at `<ns>:rate:`), and the card-testing limit counts the declines the
 * saga sees in a separate `worker` process against placements on either `api` process.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLINED, errorCode, orderBody, totalOrders } from '../helpers/api.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { scanKeys } from '../helpers/redis-keys.js';
import { ENGINES, enginesUp } from '../helpers/engines.js';
import type { Service } from '../helpers/service.js';
import { waitFor } from '../helpers/wait.js';

const up = await enginesUp('redis', 'nats', 'postgres');
/** ORDERFLOW_RATE_LIMIT: a bucket of 2× this per key and per IP, refilled at this per second. */
const RATE = 10;
const DECLINE_LIMIT = 3;

async function seedCatalog(api: Service): Promise<void> {
  const put = await api.request('PUT', '/v1/admin/products/A123', {
    key: 'admin',
    body: { name: 'Widget', price: { amount: 1999, currency: 'USD' }, onHand: 100 },
  });
  expect(put.status).toBe(200);
}

describe.skipIf(!up)('two api processes on one namespace', () => {
  let cluster: Cluster;
  let apis: [Service, Service];

  beforeAll(async () => {
    cluster = await startCluster(['api', 'api'], { ORDERFLOW_RATE_LIMIT: String(RATE) });
    apis = [cluster.services[0]!, cluster.services[1]!];
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('share one rate limit: the 2xx across both stay within one bucket and its refill', async () => {
    const startedAt = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        apis[i % 2]!.request('GET', '/v1/products/A123', { key: 'client' }),
      ),
    );
    const elapsed = Date.now() - startedAt;
    const passed = answers.filter((res) => res.status === 200 || res.status === 404);
    const limited = answers.filter((res) => res.status === 429);
    expect(passed.length + limited.length).toBe(answers.length);
    // One full bucket, and what it refilled while the burst lasted (a slow machine stretches
    // it); two processes with a bucket each would let through twice that.
    expect(passed.length).toBeGreaterThan(0);
    expect(passed.length).toBeLessThanOrEqual(2 * RATE + Math.ceil((RATE * elapsed) / 1000));
    for (const res of limited) {
      expect(errorCode(res.json)).toBe('rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    // The counts are in Redis under the namespace.
    const redis = new Redis(ENGINES.redis, { lazyConnect: true });
    try {
      await redis.connect();
      const keys = await scanKeys(redis, `${cluster.namespace}:rate:*`);
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });
});

describe.skipIf(!up)('two api processes and a worker process on one namespace', () => {
  let cluster: Cluster;
  let apis: [Service, Service];

  beforeAll(async () => {
    cluster = await startCluster(['api', 'api', 'worker'], {
      ORDERFLOW_DECLINE_LIMIT: String(DECLINE_LIMIT),
    });
    apis = [cluster.services[0]!, cluster.services[1]!];
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('trip the card-testing limit after N declines seen by the worker, on either api', async () => {
    await seedCatalog(apis[0]);
    const customer = orderBody({ paymentMethod: DECLINED });
    for (let i = 0; i < DECLINE_LIMIT; i++) {
      const api = apis[i % 2]!;
      const { orderId } = await api.placeAccepted({ ...customer });
      expect((await api.waitForTerminal(orderId, 30_000)).status).toBe('PAYMENT_FAILED');
    }
    // The worker counts a decline just after the status change: wait for its count.
    const redis = new Redis(ENGINES.redis, { lazyConnect: true });
    try {
      await redis.connect();
      await waitFor(
        async () => {
          const keys = await scanKeys(redis, `${cluster.namespace}:declines:*`);
          const counts = await Promise.all(keys.map((key) => redis.zcard(key)));
          return counts.some((n) => n >= DECLINE_LIMIT) || undefined;
        },
        { timeoutMs: 10_000, what: `${DECLINE_LIMIT} declines counted in Redis` },
      );
    } finally {
      redis.disconnect();
    }
    for (const api of apis) {
      const before = totalOrders(await api.stats());
      const res = await api.placeOrder({ ...customer });
      expect(res.status).toBe(429);
      expect(errorCode(res.json)).toBe('too_many_declines');
      expect(res.headers['retry-after']).toBe('600');
      expect(totalOrders(await api.stats())).toBe(before);
    }
  }, 120_000);
});
