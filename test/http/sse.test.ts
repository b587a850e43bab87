import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderStatus } from '../../src/domain/status.js';
import { parseSse } from '../helpers/http.js';
import { waitFor as poll } from '../helpers/wait.js';
import { AS, orderBody, startTestService, type TestService, match } from './context.js';

interface Stream {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** Everything received so far. */
  text(): string;
  /** Resolves with the whole body once the server ends the stream. */
  readonly ended: Promise<string>;
  destroy(): void;
}

/** Opens the event stream over a real socket; resolves once the response has started. */
function openStream(
  baseUrl: string,
  path: string,
  headers: Record<string, string>,
): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const request = http.get(new URL(path, baseUrl), { headers, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      const ended = new Promise<string>((resolveEnd, rejectEnd) => {
        response.on('end', () => resolveEnd(text));
        response.on('error', rejectEnd);
      });
      ended.catch(() => undefined);
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        text: () => text,
        ended,
        destroy: () => request.destroy(),
      });
    });
    request.on('error', reject);
  });
}

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

describe('GET /v1/orders/{id}/events (SSE over a real socket)', () => {
  let service: TestService;
  let baseUrl: string;
  let watching = 0;

  beforeAll(async () => {
    service = await startTestService({
      override: ({ orders }) => ({
        orders: Object.assign(Object.create(orders) as typeof orders, {
          watch: (id: string, listener: Parameters<typeof orders.watch>[1]) => {
            watching++;
            const stop = orders.watch(id, listener);
            let stopped = false;
            return () => {
              if (!stopped) watching--;
              stopped = true;
              stop();
            };
          },
        }),
      }),
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
    const before = watching;
    const stream = await openStream(baseUrl, `/v1/orders/${orderId}/events`, AS.client);
    await waitFor(() => stream.text().includes('PENDING'), 'the history');
    expect(watching).toBe(before + 1);
    stream.destroy();
    await waitFor(() => watching === before, 'the unsubscribe');
  });

  it("answers 404 for another client's order and 401 without a key, before streaming", async () => {
    const orderId = await placeOrder();
    const before = watching;
    const other = await openStream(baseUrl, `/v1/orders/${orderId}/events`, AS.client2);
    expect(other.status).toBe(404);
    expect(JSON.parse(await other.ended)).toMatchObject({ error: { code: 'not_found' } });
    const anonymous = await openStream(baseUrl, `/v1/orders/${orderId}/events`, {});
    expect(anonymous.status).toBe(401);
    await anonymous.ended;
    expect(watching).toBe(before);
  });
});
