/**
 * `/metrics` of a running service (in process, real SQLite, a real socket) against what
 * the test did: orders by status, transitions, deliveries, dead letters of a consumer that
 * fails on one order (a poison event) until a redrive, stock, the sync. And a store that
 * fails or hangs: the scrape still answers, the gauge keeps its last value, the failure
 * is counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLINED, ORDER_STATUSES, isTerminal, orderBody, type OrderView } from '../helpers/api.js';
import { startInProcess, type InProcessService } from '../helpers/in-process.js';
import { waitFor } from '../helpers/wait.js';
import { defineConsumer } from '../../src/workflow/define-consumer.js';
import type { OrderStore } from '../../src/ports/order-store.js';
import { METRIC_SOURCES } from '../../src/runtime/metrics-collector.js';
import { AS, startTestService, type TestService } from '../http/context.js';
import { parsePrometheusText, type Scrape } from './prometheus-text.js';

const POISONED_CUSTOMER = 'poisoned-customer';

describe('metrics of a running service', () => {
  let service: InProcessService;
  let fixed = false;
  const startedAt = Date.now();
  // Fails on the poisoned customer's order until fixed: the poison event.
  const poison = defineConsumer({
    name: 'poison',
    on: ['COMPLETED'],
    retry: { baseDelayMs: 10, maxDelayMs: 50 },
    handle: ({ order }) =>
      order.customerId === POISONED_CUSTOMER && !fixed
        ? Promise.reject(new Error('poison event'))
        : Promise.resolve(),
  });

  beforeAll(async () => {
    service = await startInProcess({ consumers: [poison] });
  });
  afterAll(async () => {
    await service?.close();
  });

  const scrape = async (): Promise<Scrape> => {
    const response = await service.request('GET', '/metrics', { key: 'none' });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    return parsePrometheusText(response.text);
  };

  /** Every group caught up (nothing unhanded, nothing in flight) and the sync backlog empty. */
  const quiet = (scraped: Scrape): boolean =>
    scraped.find('orderflow_consumer_lag').every((sample) => sample.value === 0) &&
    scraped.find('orderflow_consumer_in_flight').every((sample) => sample.value === 0) &&
    scraped.value('orderflow_sync_backlog') === 0;

  /** Scrapes until `ready` holds; the last scrape. */
  const scrapeUntil = (what: string, ready: (scraped: Scrape) => boolean): Promise<Scrape> => {
    let last = '';
    return waitFor(
      async () => {
        const scraped = await scrape();
        last = JSON.stringify(
          scraped.samples.filter((sample) => /consumer_|sync_backlog/.test(sample.name)),
        );
        return ready(scraped) ? scraped : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50, what, describe: () => `last seen ${last}` },
    );
  };

  const place = async (body: ReturnType<typeof orderBody>): Promise<string> => {
    const response = await service.request<{ orderId: string }>('POST', '/v1/orders', { body });
    expect(response.status).toBe(202);
    return response.json.orderId;
  };

  it('counts what the orders did, and the poison event as one dead letter until a redrive', async () => {
    const ids = [
      await place(orderBody()),
      await place(orderBody()),
      await place(orderBody({ customerId: POISONED_CUSTOMER, qty: 2 })),
      await place(orderBody({ paymentMethod: DECLINED })),
      await place(orderBody({ sku: 'B456' })),
    ];
    const views = await waitFor(
      async () => {
        const found = await Promise.all(
          ids.map(async (id) => (await service.request<OrderView>('GET', `/v1/orders/${id}`)).json),
        );
        return found.every((view) => isTerminal(view.status)) ? found : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50, what: 'every order to end' },
    );
    expect(views.map((view) => view.status)).toEqual([
      'COMPLETED',
      'COMPLETED',
      'COMPLETED',
      'PAYMENT_FAILED',
      'FAILED_NO_STOCK',
    ]);

    const scraped = await scrapeUntil(
      'the dead letter and quiet',
      (s) => s.value('orderflow_consumer_dead_letters', { group: 'poison' }) === 1 && quiet(s),
    );

    // Orders by current status: the gauge, and the admin stats it is read from, agree.
    const expected: Record<string, number> = {
      COMPLETED: 3,
      PAYMENT_FAILED: 1,
      FAILED_NO_STOCK: 1,
    };
    const stats = await service.request<{ orders: Record<string, number> }>(
      'GET',
      '/v1/admin/stats',
      { key: 'admin' },
    );
    for (const status of ORDER_STATUSES) {
      expect(scraped.value('orderflow_orders', { status }), status).toBe(expected[status] ?? 0);
      expect(stats.json.orders[status], status).toBe(expected[status] ?? 0);
    }
    for (const [status, n] of Object.entries(expected)) {
      expect(scraped.value('orderflow_order_transitions_total', { status }), status).toBe(n);
    }
    expect(scraped.value('orderflow_orders_accepted_total')).toBe(5);
    expect(
      scraped.value('orderflow_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/orders',
        status: '202',
      }),
    ).toBe(5);

    // The poison group: two orders acked, the poisoned one tried 3 times and dead-lettered.
    const poisonDeliveries = (outcome: string): number =>
      scraped.value('orderflow_deliveries_total', { group: 'poison', outcome });
    expect([poisonDeliveries('ack'), poisonDeliveries('nak'), poisonDeliveries('term')]).toEqual([
      2, 2, 1,
    ]);
    expect(
      scraped.value('orderflow_handler_duration_seconds_count', {
        group: 'poison',
        type: 'OrderStatusChanged.COMPLETED',
      }),
    ).toBe(5);
    expect(
      scraped.value('orderflow_handler_duration_seconds_count', {
        group: 'workflow',
        type: 'OrderPlaced',
      }),
    ).toBe(5);
    const deadLetters = scraped.find('orderflow_consumer_dead_letters');
    expect(deadLetters.map((sample) => sample.labels['group']).sort()).toEqual(
      ['analytics', 'notifications', 'poison', 'sync-out', 'warehouse', 'workflow'].sort(),
    );
    for (const sample of deadLetters) {
      expect(sample.value, sample.labels['group']).toBe(
        sample.labels['group'] === 'poison' ? 1 : 0,
      );
    }

    // Stock of the catalog's SKUs: 4 of A123 sold (the declined order's hold was released).
    expect(scraped.value('orderflow_stock_available', { sku: 'A123' })).toBe(96);
    expect(scraped.value('orderflow_stock_reserved', { sku: 'A123' })).toBe(0);
    expect(scraped.value('orderflow_stock_available', { sku: 'B456' })).toBe(0);
    expect(scraped.find('orderflow_stock_available')).toHaveLength(2);

    // The sync ran in this process; no store read failed; no breaker (simulated payments).
    const lastSync = scraped.value('orderflow_sync_last_success_timestamp_seconds');
    expect(lastSync * 1000).toBeGreaterThanOrEqual(startedAt - 1000);
    expect(lastSync * 1000).toBeLessThanOrEqual(Date.now() + 1000);
    for (const source of METRIC_SOURCES) {
      expect(scraped.value('orderflow_metrics_collect_failures_total', { source }), source).toBe(0);
    }
    expect(scraped.families.get('orderflow_circuit_breaker_state')?.samples).toEqual([]);

    // Fixed, then redriven: delivered once more, acked; the queue is empty.
    const { json } = await service.request<{
      deadLetters: { id: string; consumer: string; event: { key: string } }[];
    }>('GET', '/v1/admin/dlq', { key: 'admin' });
    const letter = json.deadLetters.find((each) => each.consumer === 'poison');
    expect(letter?.event.key).toBe(ids[2]);
    fixed = true;
    const redrive = await service.request('POST', `/v1/admin/dlq/${letter?.id ?? ''}/redrive`, {
      key: 'admin',
    });
    expect(redrive.status).toBe(202);
    const after = await scrapeUntil(
      'the redrive to be handled',
      (s) =>
        s.value('orderflow_deliveries_total', { group: 'poison', outcome: 'ack' }) === 3 &&
        quiet(s),
    );
    expect(after.value('orderflow_consumer_dead_letters', { group: 'poison' })).toBe(0);
    expect(after.value('orderflow_deliveries_total', { group: 'poison', outcome: 'term' })).toBe(1);
    expect(after.value('orderflow_orders', { status: 'COMPLETED' })).toBe(3);
  });
});

describe('metrics when a store fails', () => {
  type Mode = 'answers' | 'fails' | 'hangs';
  let mode: Mode = 'answers';
  let service: TestService;

  /** The real order store, but `countByStatus` answers, fails or never answers, as told. */
  const faulty = (real: OrderStore): OrderStore =>
    new Proxy(real, {
      get(target, property) {
        if (property === 'countByStatus') {
          return (): ReturnType<OrderStore['countByStatus']> =>
            mode === 'answers'
              ? target.countByStatus()
              : mode === 'fails'
                ? Promise.reject(new Error('order store down'))
                : new Promise(() => undefined);
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function'
          ? (value as (...args: unknown[]) => unknown).bind(target)
          : value;
      },
    });

  beforeAll(async () => {
    // The `api` role: orders stay PENDING, so the counts are what this test placed.
    service = await startTestService({
      override: (backends) => ({ orders: faulty(backends.orders) }),
    });
  });
  afterAll(async () => {
    await service?.close();
  });

  const scrape = async (): Promise<Scrape> => {
    const response = await service.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    return parsePrometheusText(response.body);
  };
  const place = async (): Promise<void> => {
    const response = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: AS.client,
      payload: orderBody(),
    });
    expect(response.statusCode).toBe(202);
  };
  const pending = (scraped: Scrape): number =>
    scraped.value('orderflow_orders', { status: 'PENDING' });
  const failures = (scraped: Scrape): number =>
    scraped.value('orderflow_metrics_collect_failures_total', { source: 'orders' });

  it('answers the scrape, keeps the last value and counts the failure', async () => {
    await place();
    const first = await scrape();
    expect([pending(first), failures(first)]).toEqual([1, 0]);

    await place();
    mode = 'fails';
    const failed = await scrape();
    expect([pending(failed), failures(failed)]).toEqual([1, 1]);
    // The other gauges are read from other stores and are current.
    expect(failed.value('orderflow_sync_backlog')).toBe(0);

    mode = 'hangs';
    const hung = await scrape();
    expect([pending(hung), failures(hung)]).toEqual([1, 2]);

    // The hung read was let go: the next scrape reads afresh.
    mode = 'answers';
    const recovered = await scrape();
    expect([pending(recovered), failures(recovered)]).toEqual([2, 2]);
  });
});

describe('stock metrics of a large catalog', () => {
  let service: TestService;
  let catalogReads = 0;

  beforeAll(async () => {
    service = await startTestService({
      override: ({ sot }) => ({
        sot: new Proxy(sot, {
          get(target, property) {
            const value: unknown = Reflect.get(target, property, target);
            if (typeof value !== 'function') return value;
            const method = (value as (...args: unknown[]) => unknown).bind(target);
            if (property !== 'products') return method;
            return (...args: unknown[]) => {
              catalogReads += 1;
              return method(...args);
            };
          },
        }),
      }),
    });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('reports the first 50 SKUs of the catalog, sorted, and reads the catalog now and then', async () => {
    const skus = Array.from({ length: 60 }, (_, n) => `SKU-${String(n).padStart(2, '0')}`);
    for (const sku of skus) {
      const put = await service.app.inject({
        method: 'PUT',
        url: `/v1/admin/products/${sku}`,
        headers: AS.admin,
        payload: { name: sku, price: { amount: 100, currency: 'USD' }, onHand: 7 },
      });
      expect(put.statusCode).toBe(200);
    }
    const readsBefore = catalogReads;
    const scrapes = [];
    for (let n = 0; n < 3; n += 1) {
      const response = await service.app.inject({ method: 'GET', url: '/metrics' });
      scrapes.push(parsePrometheusText(response.body));
    }
    const expected = ['A123', 'B456', ...skus].sort().slice(0, 50);
    for (const scraped of scrapes) {
      const available = scraped.find('orderflow_stock_available');
      expect(available.map((sample) => sample.labels['sku']).sort()).toEqual(expected);
      expect(scraped.value('orderflow_stock_available', { sku: 'SKU-00' })).toBe(7);
      expect(scraped.find('orderflow_stock_reserved')).toHaveLength(50);
    }
    // One catalog read for the three scrapes (the list is read again after a minute).
    expect(catalogReads - readsBefore).toBe(1);
  });
});
