/**
 * The payment circuit breaker in `/metrics`: a Stripe-compatible provider (a real socket)
 * goes down, the breaker trips once and reports open; the provider comes back, a trial
 * call closes it and the orders complete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody, type OrderView } from '../helpers/api.js';
import type { FakeStripe } from '../helpers/fake-stripe.js';
import { startWithFakeStripe } from './with-fake-stripe.js';
import type { InProcessService } from '../helpers/in-process.js';
import { waitFor } from '../helpers/wait.js';
import { parsePrometheusText, type Scrape } from './prometheus-text.js';

describe('circuit breaker metrics', () => {
  let fake: FakeStripe;
  let service: InProcessService;

  beforeAll(async () => {
    ({ fake, service } = await startWithFakeStripe({ ORDERFLOW_DECLINE_LIMIT: '0' }));
  });
  afterAll(async () => {
    await service?.close();
    await fake?.stop();
  });

  const scrape = async (): Promise<Scrape> => {
    const response = await service.request('GET', '/metrics', { key: 'none' });
    expect(response.status).toBe(200);
    return parsePrometheusText(response.text);
  };
  const breaker = (scraped: Scrape): { state: string | undefined; trips: number } => ({
    state: scraped
      .find('orderflow_circuit_breaker_state', { breaker: 'payments' })
      .find((sample) => sample.value === 1)?.labels['state'],
    trips: scraped.value('orderflow_circuit_breaker_trips_total', { breaker: 'payments' }),
  });
  const scrapeUntil = (what: string, ready: (scraped: Scrape) => boolean): Promise<Scrape> =>
    waitFor(
      async () => {
        const scraped = await scrape();
        return ready(scraped) ? scraped : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, what },
    );

  it('reports closed, then open with one trip while the provider is down, then closed', async () => {
    const states = (await scrape()).find('orderflow_circuit_breaker_state');
    expect(states).toHaveLength(3);
    expect(breaker(await scrape())).toEqual({ state: 'closed', trips: 0 });

    await fake.setFaults({ down: 'unavailable' });
    const ids: string[] = [];
    for (let n = 0; n < 6; n += 1) {
      const placed = await service.request<{ orderId: string }>('POST', '/v1/orders', {
        body: orderBody(),
      });
      expect(placed.status).toBe(202);
      ids.push(placed.json.orderId);
    }
    const tripped = await scrapeUntil('the breaker to open', (s) => breaker(s).trips > 0);
    await fake.setFaults({ down: false });
    expect(breaker(tripped)).toEqual({ state: 'open', trips: 1 });

    await waitFor(
      async () => {
        const views = await Promise.all(
          ids.map(async (id) => (await service.request<OrderView>('GET', `/v1/orders/${id}`)).json),
        );
        return views.every((view) => view.status === 'COMPLETED') ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'the orders to complete' },
    );
    expect(breaker(await scrape())).toEqual({ state: 'closed', trips: 1 });
  });
});
