/**
 * The payment breaker on the dashboard comes from the processes that pay, not from the API
 * process serving the page: embedded, from the pipeline process beside the API; scaled out,
 * from a worker process. A Stripe-compatible provider (a real socket) goes down: the
 * dashboard's live stream, read over a real socket from the API process, shows the breaker
 * open, then closed again once the provider is back, then none once the worker is gone.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { orderBody } from '../helpers/api.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { enginesUp } from '../helpers/engines.js';
import { FakeStripe } from '../helpers/fake-stripe.js';
import { DEFAULT_KEYS, openStream, parseSse, type Stream } from '../helpers/http.js';
import { startService, stopAllServices, type Env, type Service } from '../helpers/service.js';
import { waitFor } from '../helpers/wait.js';

interface Breaker {
  state: string;
  processes: number;
  open: number;
}

/** The dashboard's live stream, logged in with the admin key, as the page opens it. */
async function liveStream(api: Service): Promise<Stream> {
  const login = await fetch(`${api.url}/dashboard/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: DEFAULT_KEYS.admin }),
  });
  expect(login.status).toBe(200);
  const cookie = (login.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
  const stream = await openStream(api.url, '/dashboard/live', { cookie });
  expect(stream.status).toBe(200);
  return stream;
}

const breakers = (stream: Stream): Breaker[] =>
  parseSse(stream.text())
    .filter(({ event }) => event === 'snapshot')
    .map(({ data }) => (JSON.parse(data) as { breaker: Breaker }).breaker);

/**
 * The first breaker `wanted` shows in a snapshot sent after this call: one sent before (the
 * state before a fault) must not answer for one that has to come.
 */
function breakerSeen(stream: Stream, wanted: (breaker: Breaker) => boolean): Promise<Breaker> {
  const seen = breakers(stream).length;
  return waitFor(() => breakers(stream).slice(seen).find(wanted), {
    timeoutMs: 60_000,
    intervalMs: 200,
    what: 'the breaker on the dashboard',
  });
}

const scaleOut = await enginesUp('redis', 'nats', 'postgres');

describe('the payment breaker on the dashboard', () => {
  const fake = new FakeStripe();
  let cluster: Cluster | undefined;
  const streams: Stream[] = [];

  const stripeEnv = (): Env => ({
    ORDERFLOW_PAYMENTS_URL: fake.url,
    ORDERFLOW_PAYMENTS_KEY: 'sk_test_x',
    ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: 'whsec_test',
    ORDERFLOW_RATE_LIMIT: '0',
    ORDERFLOW_DECLINE_LIMIT: '0',
  });

  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.destroy();
    await cluster?.destroy();
    cluster = undefined;
    await stopAllServices();
    await fake.setFaults({ down: false });
  });
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());

  /** Orders that reach the provider while it is down: five failed charges open the breaker. */
  const chargeWhileDown = async (api: Service): Promise<void> => {
    for (let i = 0; i < 8; i++) await api.placeAccepted(orderBody());
  };

  it('embedded: the pipeline process reports it; open while the provider is down, closed after', async () => {
    const api = await startService({ env: stripeEnv() });
    const stream = await liveStream(api);
    streams.push(stream);
    await api.placeAccepted(orderBody());
    expect(await breakerSeen(stream, (b) => b.state === 'closed')).toEqual({
      state: 'closed',
      processes: 1,
      open: 0,
    });
    await fake.setFaults({ down: 'unavailable' });
    await chargeWhileDown(api);
    expect(await breakerSeen(stream, (b) => b.state === 'open')).toMatchObject({ open: 1 });
    await fake.setFaults({ down: false });
    await breakerSeen(stream, (b) => b.state === 'closed');
  });

  it.skipIf(!scaleOut)(
    'scaled out: the worker reports it to the API process; gone with the worker',
    async () => {
      cluster = await startCluster(['api', 'worker'], stripeEnv());
      const [api, worker] = cluster.services;
      if (!api || !worker) throw new Error('the cluster did not start');
      const put = await api.request('PUT', '/v1/admin/products/A123', {
        key: 'admin',
        body: { name: 'Widget', price: { amount: 1999, currency: 'USD' }, onHand: 1000 },
      });
      expect(put.status).toBe(200);
      const stream = await liveStream(api);
      streams.push(stream);
      expect(await breakerSeen(stream, (b) => b.state === 'closed')).toMatchObject({
        processes: 1,
      });
      await fake.setFaults({ down: 'unavailable' });
      await chargeWhileDown(api);
      expect(await breakerSeen(stream, (b) => b.state === 'open')).toEqual({
        state: 'open',
        processes: 1,
        open: 1,
      });
      await fake.setFaults({ down: false });
      await breakerSeen(stream, (b) => b.state === 'closed');
      await worker.stop(15_000);
      expect(await breakerSeen(stream, (b) => b.state === 'none')).toEqual({
        state: 'none',
        processes: 0,
        open: 0,
      });
    },
  );
});
