/**
 * NATS stopped for a few seconds under load — the test's own NATS, never a shared one: the
 * intake answers 503 with Retry-After and /readyz is 503 during the outage, both recover by
 * themselves. Every client retries its 503s with its own Idempotency-Key (same key, same
 * body) until a 202, and every key ends as exactly one order, which exists and completes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totalOrders } from '../helpers/api.js';
import { startKeyedLoad } from '../helpers/keyed-load.js';
import {
  privateEnginesAvailable,
  startPrivateBackends,
  startServicesOn,
  type PrivateBackends,
} from '../helpers/private-engines.js';
import { stopAllServices, type Service } from '../helpers/service.js';
import { mapLimit, sleep, waitFor } from '../helpers/wait.js';

const SKU = 'OUTAGE-NATS';

describe.skipIf(!privateEnginesAvailable())('NATS down under load', () => {
  let backends: PrivateBackends;
  let all: Service;
  let api: Service;

  beforeAll(async () => {
    backends = await startPrivateBackends();
    [all, api] = (await startServicesOn(backends, ['all', 'api'])) as [Service, Service];
    await api.putProduct(SKU, {
      name: 'Outage',
      price: { amount: 300, currency: 'USD' },
      onHand: 100_000,
    });
  }, 120_000);

  afterAll(async () => {
    await stopAllServices();
    await backends?.dispose();
  }, 60_000);

  it(
    'answers 503 + Retry-After while NATS is down, recovers, and every key gets one order',
    { timeout: 300_000 },
    async () => {
      const load = startKeyedLoad([all, api], SKU, 2);
      const readiness: number[] = [];
      await sleep(2_000);
      await backends.nats.stop();
      try {
        for (let i = 0; i < 8; i += 1) {
          await sleep(500);
          readiness.push(
            (await api.request('GET', '/readyz', { key: 'none', timeoutMs: 5_000 })).status,
          );
        }
      } finally {
        await backends.nats.start();
      }
      // Recovery by itself: ready again, and the load gets 202s again.
      await waitFor(
        async () =>
          (await api.request('GET', '/readyz', { key: 'none' })).status === 200 ? true : undefined,
        { timeoutMs: 60_000, intervalMs: 250, what: 'the API to be ready again' },
      );
      await sleep(3_000);
      const keys = await load.stop();
      const answers = keys.flatMap((key) => key.answers);

      expect(readiness).toContain(503);
      const refused = answers.filter((a) => a.status !== 202);
      expect(refused.length).toBeGreaterThan(0);
      // A refusal is a 503 with Retry-After, or a 409 for a retry while its first try runs.
      const unexpected = refused.filter(
        (a) =>
          !(a.status === 503 && Number(a.retryAfter) >= 1) &&
          !(a.status === 409 && a.error === 'idempotency_key_in_use'),
      );
      expect(unexpected.map((a) => `${a.status} ${a.error ?? ''}`)).toEqual([]);
      expect(answers.slice(-20).every((a) => a.status === 202)).toBe(true);

      // Every key got its 202, each naming an order of its own.
      expect(keys.filter((key) => key.orderId === undefined).map((key) => key.key)).toEqual([]);
      const orderIds = keys.map((key) => key.orderId as string);
      expect(new Set(orderIds).size).toBe(keys.length);

      // Each of those orders exists (a 202 replayed for an order never stored would not) …
      const lookups = await mapLimit(orderIds, 16, async (orderId) => ({
        orderId,
        status: (await api.request('GET', `/v1/orders/${orderId}`, { key: 'admin' })).status,
      }));
      const missing = lookups.filter((lookup) => lookup.status !== 200);
      expect.soft(missing.map((lookup) => `${lookup.orderId}: GET ${lookup.status}`)).toEqual([]);

      // … reaches a terminal status, COMPLETED here, and no retry made a second order.
      const existing = lookups.filter((lookup) => lookup.status === 200).map((l) => l.orderId);
      const orders = await api.waitForAllTerminal(existing, 180_000);
      const notCompleted = [...orders.values()].filter((o) => o.status !== 'COMPLETED');
      expect(notCompleted.map((o) => `${o.orderId} ${o.status}`)).toEqual([]);
      expect(totalOrders(await api.stats())).toBe(keys.length);
    },
  );
});
