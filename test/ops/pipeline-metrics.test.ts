/**
 * `/metrics` of a real `orderflow start` on the embedded default, whose saga, consumers and
 * schedules run in its pipeline process: the API's scrape carries what the pipeline counts
 * (deliveries, step latencies, transitions, schedule runs), the store-derived gauges once,
 * not doubled. A pipeline that stops answering (SIGSTOP) leaves the scrape answered without
 * its figures, the absence counted, and they come back once it answers again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLINED, ORDER_STATUSES, orderBody, type StatsView } from '../helpers/api.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';
import { logLines } from '../helpers/log-lines.js';
import { waitFor } from '../helpers/wait.js';
import { parsePrometheusText, type Scrape } from './prometheus-text.js';

let service: Service;
let pipelinePid: number;

beforeAll(async () => {
  service = await startService({ env: { ORDERFLOW_SYNC_OUT_INTERVAL: '200ms' } });
  pipelinePid = await waitFor(
    () =>
      logLines<{ msg: string; pid: number }>(service.logs()).find(
        (line) => line.msg === 'orderflow pipeline ready',
      )?.pid,
    { timeoutMs: 30_000, what: 'the pipeline process to say it is ready' },
  );
}, 60_000);

afterAll(async () => {
  await stopAllServices();
});

const scrape = async (timeoutMs = 10_000): Promise<Scrape> => {
  const response = await service.request('GET', '/metrics', { key: 'none', timeoutMs });
  expect(response.status).toBe(200);
  return parsePrometheusText(response.text);
};

const scrapeUntil = (what: string, ready: (scraped: Scrape) => boolean): Promise<Scrape> =>
  waitFor(
    async () => {
      const scraped = await scrape();
      return ready(scraped) ? scraped : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100, what },
  );

const delivered = (scraped: Scrape, group: string): number =>
  scraped
    .find('orderflow_deliveries_total', { group, outcome: 'ack' })
    .reduce((sum, sample) => sum + sample.value, 0);

const syncRunsOk = (scraped: Scrape): number =>
  scraped.find('orderflow_schedule_runs_total', { schedule: 'sync-out', outcome: 'ok' })[0]
    ?.value ?? 0;

describe('metrics of the pipeline process on the API', () => {
  it("shows the pipeline's counters beside the API's, and the store gauges once", async () => {
    const completed = await service.placeAccepted(orderBody());
    const declined = await service.placeAccepted(orderBody({ paymentMethod: DECLINED }));
    expect((await service.waitForTerminal(completed.orderId)).status).toBe('COMPLETED');
    expect((await service.waitForTerminal(declined.orderId)).status).toBe('PAYMENT_FAILED');

    // Both terminal statuses mailed and synced: the pipeline is done with them.
    const scraped = await scrapeUntil(
      'the pipeline to have handled both orders',
      (s) =>
        delivered(s, 'notifications') === 2 &&
        delivered(s, 'sync-out') === 2 &&
        s.value('orderflow_sync_backlog') === 0 &&
        // The run that emptied the backlog counts itself once it has returned.
        syncRunsOk(s) > 0,
    );

    // What the pipeline counts: the saga's steps, each status reached, the schedules.
    expect(delivered(scraped, 'workflow')).toBeGreaterThanOrEqual(2);
    expect(
      scraped.value('orderflow_handler_duration_seconds_count', {
        group: 'workflow',
        type: 'OrderPlaced',
      }),
    ).toBe(2);
    for (const status of ['RESERVED', 'PAID', 'COMPLETED', 'PAYMENT_FAILED']) {
      expect(scraped.value('orderflow_order_transitions_total', { status }), status).toBe(
        status === 'RESERVED' ? 2 : 1,
      );
    }
    expect(syncRunsOk(scraped)).toBeGreaterThan(0);

    // What the API counts itself.
    expect(scraped.value('orderflow_orders_accepted_total')).toBe(2);

    // Store-derived gauges are read once (the parser refuses a duplicate sample), not summed.
    const stats = await service.request<StatsView>('GET', '/v1/admin/stats', { key: 'admin' });
    for (const status of ORDER_STATUSES) {
      expect(scraped.value('orderflow_orders', { status }), status).toBe(
        stats.json.orders[status] ?? 0,
      );
    }
    expect(scraped.value('orderflow_orders', { status: 'COMPLETED' })).toBe(1);
    expect(scraped.find('orderflow_consumer_lag', { group: 'workflow' })).toHaveLength(1);
    expect(scraped.value('orderflow_sync_last_success_timestamp_seconds')).toBeGreaterThan(0);
    // A process's start time cannot be combined: the API's own.
    expect(scraped.find('orderflow_process_start_time_seconds')).toHaveLength(1);
    expect(scraped.value('orderflow_peer_metrics_failures_total', { process: 'pipeline' })).toBe(0);
  });

  it('answers without the pipeline while it is stuck, counts that, and shows it again after', async () => {
    process.kill(pipelinePid, 'SIGSTOP');
    let stuck: Scrape;
    try {
      stuck = await scrape(5_000);
    } finally {
      process.kill(pipelinePid, 'SIGCONT');
    }
    expect(stuck.find('orderflow_deliveries_total')).toEqual([]);
    expect(stuck.find('orderflow_order_transitions_total')).toEqual([]);
    expect(stuck.value('orderflow_peer_metrics_failures_total', { process: 'pipeline' })).toBe(1);
    // The API's own figures and the store gauges are all there.
    expect(stuck.value('orderflow_orders_accepted_total')).toBe(2);
    expect(stuck.value('orderflow_orders', { status: 'COMPLETED' })).toBe(1);
    expect(service.logs()).toContain("a peer process's metrics are left out");

    const back = await scrapeUntil(
      'the pipeline to answer again',
      (s) => delivered(s, 'workflow') > 0,
    );
    expect(back.value('orderflow_order_transitions_total', { status: 'COMPLETED' })).toBe(1);
  });
});
