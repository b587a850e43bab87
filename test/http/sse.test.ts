import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderStatus } from '../../src/domain/status.js';
import type { Backends } from '../../src/runtime/context.js';
import { openStream, parseSse, type Stream } from '../helpers/http.js';
import { waitFor as poll } from '../helpers/wait.js';
import { AS, orderBody, startTestService, type TestService, match } from './context.js';

/** Polls `check` until it is true; fails after 5 s saying what it waited for. */
async function waitFor(check: () => boolean, what: string): Promise<void> {
  await poll(() => (check() ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The order store with a count of the watches open on it: the sentinel of a stream's end. */
function countingWatches() {
  let open = 0;
  return {
    watching: () => open,
    override: ({ orders }: Backends) => ({
      orders: Object.assign(Object.create(orders) as typeof orders, {
        watch: (id: string, listener: Parameters<typeof orders.watch>[1]) => {
          open++;
          const stop = orders.watch(id, listener);
          let stopped = false;
          return () => {
            if (!stopped) open--;
            stopped = true;
            stop();
          };
        },
      }),
    }),
  };
}

describe('GET /v1/orders/{id}/events (SSE over a real socket)', () => {
  let service: TestService;
  let baseUrl: string;
  const watches = countingWatches();

  beforeAll(async () => {
    service = await startTestService({
      override: watches.override,
    });
    await service.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => service.close());

  const placeOrder = async (): Promise<string> => {
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: AS.client,
      payload: orderBody(),
    });
    return res.json<{ orderId: string }>().orderId;
  };
  const move = async (orderId: string, from: OrderStatus, to: OrderStatus): Promise<void> => {
    const moved = await service.backends.orders.transition(
      orderId,
      from,
      to,
      new Date().toISOString(),
    );
    expect(moved?.status).toBe(to);
  };
  /** The events a stream received so far. */
  const received = (stream: Stream) => parseSse(stream.text());
  const statuses = (text: string) =>
    parseSse(text).map((event) => ({
      event: event.event,
      id: event.id,
      status: (JSON.parse(event.data) as { status: string }).status,
    }));

  it('sends the history, then each change live, and ends after the terminal status', async () => {
    const orderId = await placeOrder();
    const stream = await openStream(baseUrl, `/v1/orders/${orderId}/events`, AS.client);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    await waitFor(() => stream.text().includes('PENDING'), 'the history');

    await move(orderId, 'PENDING', 'RESERVED');
    await move(orderId, 'RESERVED', 'PAID');
    await move(orderId, 'PAID', 'COMPLETED');
    const body = await withTimeout(stream.ended, 5000, 'the end of the stream');
    expect(statuses(body)).toEqual([
      { event: 'status', id: '0', status: 'PENDING' },
      { event: 'status', id: '1', status: 'RESERVED' },
      { event: 'status', id: '2', status: 'PAID' },
      { event: 'status', id: '3', status: 'COMPLETED' },
    ]);
    const first = parseSse(body)[0];
    expect(JSON.parse(first?.data ?? '')).toEqual({ status: 'PENDING', at: match.string() });
  });

  it('resumes after Last-Event-ID on a reconnect: the missed changes, then the live ones', async () => {
    const orderId = await placeOrder();
    const path = `/v1/orders/${orderId}/events`;
    const first = await openStream(baseUrl, path, AS.client);
    await waitFor(() => received(first).length === 1, 'the history');
    first.destroy();
    const lastEventId = received(first)[0]?.id ?? '';
    expect(lastEventId).toBe('0');

    // Missed while disconnected.
    await move(orderId, 'PENDING', 'RESERVED');
    await move(orderId, 'RESERVED', 'PAID');
    const again = await openStream(baseUrl, path, { ...AS.client, 'last-event-id': lastEventId });
    expect(again.status).toBe(200);
    await waitFor(() => again.text().includes('PAID'), 'the missed changes');
    await move(orderId, 'PAID', 'COMPLETED');
    const body = await withTimeout(again.ended, 5000, 'the end of the resumed stream');
    expect(statuses(body)).toEqual([
      { event: 'status', id: '1', status: 'RESERVED' },
      { event: 'status', id: '2', status: 'PAID' },
      { event: 'status', id: '3', status: 'COMPLETED' },
    ]);
  });

  it('ends at once, sending nothing, when the reconnect saw the final status already', async () => {
    const orderId = await placeOrder();
    await move(orderId, 'PENDING', 'FAILED_NO_STOCK');
    const path = `/v1/orders/${orderId}/events`;
    const resumed = await openStream(baseUrl, path, { ...AS.client, 'last-event-id': '1' });
    expect(resumed.status).toBe(200);
    expect(parseSse(await withTimeout(resumed.ended, 5000, 'the end'))).toEqual([]);
    // An id that is no history index is ignored: the whole history again.
    const garbled = await openStream(baseUrl, path, { ...AS.client, 'last-event-id': 'x1' });
    const body = await withTimeout(garbled.ended, 5000, 'the end');
    expect(statuses(body).map((event) => event.id)).toEqual(['0', '1']);
  });

  it('ends at once for an order already terminal', async () => {
    const orderId = await placeOrder();
    await move(orderId, 'PENDING', 'FAILED_NO_STOCK');
    const stream = await openStream(baseUrl, `/v1/orders/${orderId}/events`, AS.client);
    const body = await withTimeout(stream.ended, 5000, 'the end of the stream');
    expect(statuses(body).map((event) => event.status)).toEqual(['PENDING', 'FAILED_NO_STOCK']);
  });

  it('goes on past COMPLETED while a cancel is pending, until REFUNDED', async () => {
    const orderId = await placeOrder();
    await move(orderId, 'PENDING', 'RESERVED');
    await move(orderId, 'RESERVED', 'PAID');
    await move(orderId, 'PAID', 'COMPLETED');
    await service.backends.orders.requestCancel(orderId);
    const stream = await openStream(baseUrl, `/v1/orders/${orderId}/events`, AS.client);
    await waitFor(() => stream.text().includes('COMPLETED'), 'COMPLETED');
    await move(orderId, 'COMPLETED', 'REFUNDED');
    const body = await withTimeout(stream.ended, 5000, 'the end of the stream');
    expect(statuses(body).map((event) => event.status)).toEqual([
      'PENDING',
      'RESERVED',
      'PAID',
      'COMPLETED',
      'REFUNDED',
    ]);
  });

  it('stops watching when the client goes away', async () => {
    const orderId = await placeOrder();
    const before = watches.watching();
    const stream = await openStream(baseUrl, `/v1/orders/${orderId}/events`, AS.client);
    await waitFor(() => stream.text().includes('PENDING'), 'the history');
    expect(watches.watching()).toBe(before + 1);
    stream.destroy();
    await waitFor(() => watches.watching() === before, 'the unsubscribe');
  });

  it("answers 404 for another client's order and 401 without a key, before streaming", async () => {
    const orderId = await placeOrder();
    const before = watches.watching();
    const other = await openStream(baseUrl, `/v1/orders/${orderId}/events`, AS.client2);
    expect(other.status).toBe(404);
    expect(JSON.parse(await other.ended)).toMatchObject({ error: { code: 'not_found' } });
    const anonymous = await openStream(baseUrl, `/v1/orders/${orderId}/events`, {});
    expect(anonymous.status).toBe(401);
    await anonymous.ended;
    expect(watches.watching()).toBe(before);
  });
});

describe('open event streams are capped per API key and per IP (a real socket)', () => {
  const MAX_PER_KEY = 3;
  const MAX_PER_IP = 5;
  let service: TestService;
  let baseUrl: string;
  const watches = countingWatches();
  const streams: Stream[] = [];

  beforeAll(async () => {
    service = await startTestService({
      env: {
        ORDERFLOW_SSE_MAX_PER_KEY: String(MAX_PER_KEY),
        ORDERFLOW_SSE_MAX_PER_IP: String(MAX_PER_IP),
        ORDERFLOW_TRUSTED_PROXY_HEADER: 'x-forwarded-for',
      },
      override: watches.override,
    });
    await service.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const stream of streams) stream.destroy();
    await service.close();
  });

  /** An order of `as` that stays PENDING (no saga runs here), so its stream stays open. */
  const placeOrder = async (as: Record<string, string>): Promise<string> => {
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: as,
      payload: orderBody(),
    });
    expect(res.statusCode).toBe(202);
    return res.json<{ orderId: string }>().orderId;
  };

  /** Opens a stream of a new order; an accepted one is kept (and closed after the suite). */
  const open = async (as: Record<string, string>, endUserIp?: string): Promise<Stream> => {
    const orderId = await placeOrder(as);
    const headers = endUserIp === undefined ? as : { ...as, 'x-forwarded-for': endUserIp };
    const stream = await openStream(baseUrl, `/v1/orders/${orderId}/events`, headers);
    if (stream.status === 200) {
      streams.push(stream);
      await waitFor(() => stream.text().includes('PENDING'), 'the history');
    }
    return stream;
  };

  const closeAll = async (): Promise<void> => {
    const before = watches.watching();
    const closing = streams.splice(0);
    for (const stream of closing) stream.destroy();
    await waitFor(() => watches.watching() === before - closing.length, 'every stream released');
  };

  const expectRefused = async (stream: Stream, what: string): Promise<void> => {
    expect(stream.status).toBe(429);
    expect(Number(stream.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(await stream.ended)).toMatchObject({
      error: { code: 'too_many_streams', message: expect.stringContaining(what) as unknown },
    });
  };

  it('the stream past the cap of a key gets 429 too_many_streams; closing one lets a new one in', async () => {
    const before = watches.watching();
    for (let i = 0; i < MAX_PER_KEY; i++) {
      expect((await open(AS.client, '198.51.100.1')).status).toBe(200);
    }
    // From another end user too: the cap is the key's.
    await expectRefused(await open(AS.client, '198.51.100.2'), 'API key');
    expect(watches.watching()).toBe(before + MAX_PER_KEY);
    // Another key is not affected.
    expect((await open(AS.client2, '198.51.100.1')).status).toBe(200);

    // The client goes away: its slot is given back once the server sees the close.
    const gone = streams.shift();
    gone?.destroy();
    await waitFor(() => watches.watching() === before + MAX_PER_KEY, 'the closed stream released');
    expect((await open(AS.client, '198.51.100.1')).status).toBe(200);
    await expectRefused(await open(AS.client), 'API key');
    await closeAll();
  });

  it('a stream that ends (its order final) gives its slot back', async () => {
    for (let i = 0; i < MAX_PER_KEY + 2; i++) {
      const orderId = await placeOrder(AS.client);
      await service.backends.orders.transition(
        orderId,
        'PENDING',
        'FAILED_NO_STOCK',
        new Date().toISOString(),
      );
      const stream = await openStream(baseUrl, `/v1/orders/${orderId}/events`, AS.client);
      expect(stream.status).toBe(200);
      await withTimeout(stream.ended, 5000, 'the end of a final order stream');
    }
    for (let i = 0; i < MAX_PER_KEY; i++) expect((await open(AS.client)).status).toBe(200);
    await closeAll();
  });

  it("the IP cap counts the end user's IP from the trusted header, across keys", async () => {
    const user = '203.0.113.50';
    for (let i = 0; i < MAX_PER_KEY; i++) expect((await open(AS.client, user)).status).toBe(200);
    for (let i = 0; i < MAX_PER_IP - MAX_PER_KEY; i++) {
      expect((await open(AS.client2, user)).status).toBe(200);
    }
    await expectRefused(await open(AS.admin, user), 'IP');
    // Another end user behind the same proxy (the same socket address) is not affected.
    expect((await open(AS.admin, '203.0.113.51')).status).toBe(200);
    // A forged entry before the proxy's own counts for nothing: the last address is the user.
    await expectRefused(await open(AS.admin, `198.51.100.9, ${user}`), 'IP');
    await closeAll();
  });
});
