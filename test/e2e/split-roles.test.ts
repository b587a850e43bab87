/**
 * The embedded default split over processes on one data dir: an `api` process takes the
 * orders, a `worker` process runs the saga and the consumers, a `scheduler` process runs the
 * schedules (sync-out, sync-in, reservation expiry). They meet only in the SQLite files, so
 * the worker must notice what the api appends and the api's SSE streams what the worker does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLINED, historyStatuses, orderBody, type OrderView } from '../helpers/api.js';
import { sseStatuses } from '../helpers/http.js';
import { terminalOnceViolations, waitForSotConsistent } from '../helpers/invariants.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';
import { waitFor } from '../helpers/wait.js';
import { parsePrometheusText } from '../ops/prometheus-text.js';

let api: Service;
const startedAt = Date.now();
/** Every order placed in this file, as last seen: the SoT must hold exactly these. */
const placed = new Map<string, OrderView>();

beforeAll(async () => {
  const env = { ORDERFLOW_SYNC_OUT_INTERVAL: '200ms', ORDERFLOW_RATE_LIMIT: '0' };
  api = await startService({ env: { ...env, ORDERFLOW_ROLE: 'api' } });
  await startService({ dataDir: api.dataDir, env: { ...env, ORDERFLOW_ROLE: 'worker' } });
  await startService({ dataDir: api.dataDir, env: { ...env, ORDERFLOW_ROLE: 'scheduler' } });
}, 120_000);

afterAll(async () => {
  await stopAllServices();
});

const terminal = async (orderId: string): Promise<OrderView> => {
  const order = await api.waitForTerminal(orderId, 20_000);
  placed.set(orderId, order);
  return order;
};

describe('api, worker and scheduler processes on one embedded data dir', () => {
  it('drives orders placed on the api process to their terminal status', async () => {
    const happy = await api.placeAccepted(orderBody({ sku: 'A123', qty: 2 }));
    const noStock = await api.placeAccepted(orderBody({ sku: 'B456', qty: 1 }));
    const declined = await api.placeAccepted(orderBody({ sku: 'A123', paymentMethod: DECLINED }));
    expect((await terminal(happy.orderId)).status).toBe('COMPLETED');
    expect((await terminal(noStock.orderId)).status).toBe('FAILED_NO_STOCK');
    expect((await terminal(declined.orderId)).status).toBe('PAYMENT_FAILED');
    expect(await api.productWhen('A123', { available: 98, reserved: 0 })).toMatchObject({
      available: 98,
      reserved: 0,
    });
  });

  it('streams an order over SSE on the api process until its terminal status', async () => {
    const order = await api.placeAccepted(orderBody({ sku: 'A123', qty: 1 }));
    const stream = await api.request('GET', `/v1/orders/${order.orderId}/events`, {
      timeoutMs: 20_000,
    });
    expect(stream.status).toBe(200);
    const final = await terminal(order.orderId);
    expect(final.status).toBe('COMPLETED');
    expect(sseStatuses(stream.text)).toEqual(historyStatuses(final));
  });

  it('refunds a cancelled order, streamed over SSE from the api process', async () => {
    const order = await api.placeAccepted(orderBody({ sku: 'A123', qty: 1 }));
    await api.waitForStatus(order.orderId, ['COMPLETED'], 20_000);
    expect((await api.cancel(order.orderId)).status).toBe(202);
    const stream = await api.request('GET', `/v1/orders/${order.orderId}/events`, {
      timeoutMs: 20_000,
    });
    expect(sseStatuses(stream.text)).toEqual([
      'PENDING',
      'RESERVED',
      'PAID',
      'COMPLETED',
      'REFUNDED',
    ]);
    expect((await terminal(order.orderId)).status).toBe('REFUNDED');
  });

  it('has the scheduler write every order to the SoT once things are quiet', async () => {
    await api.waitForConsumerIdle('sync-out', 20_000);
    const orders = [...placed.values()];
    expect(orders.map((order) => order.status).sort()).toEqual([
      'COMPLETED',
      'COMPLETED',
      'FAILED_NO_STOCK',
      'PAYMENT_FAILED',
      'REFUNDED',
    ]);
    expect(terminalOnceViolations(orders)).toEqual([]);
    expect(await waitForSotConsistent(api, orders, ['A123', 'B456'])).toEqual([]);
  });

  it("shows on the api process the scheduler's last sync-out, in its stats and /metrics", async () => {
    // The api process runs no schedule: what it shows, the scheduler recorded in the store.
    const stats = await waitFor(
      async () => {
        const seen = await api.stats();
        return typeof seen.sync.lastSyncAt === 'string' ? seen.sync.lastSyncAt : undefined;
      },
      { timeoutMs: 20_000, what: 'a last sync on the api process' },
    );
    expect(Date.parse(stats)).toBeGreaterThanOrEqual(startedAt);
    const scraped = parsePrometheusText(
      (await api.request('GET', '/metrics', { key: 'none' })).text,
    );
    expect(scraped.find('orderflow_schedule_runs_total')).toEqual([]);
    const lastSync = scraped.value('orderflow_sync_last_success_timestamp_seconds');
    expect(lastSync * 1000).toBeGreaterThanOrEqual(startedAt);
    expect(lastSync * 1000).toBeLessThanOrEqual(Date.now() + 1000);
  });
});
