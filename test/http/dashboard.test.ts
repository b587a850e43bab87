/**
 * The dashboard's server side: the page and its assets with their caching, the login that
 * turns an admin key into a session cookie, and the live stream only that cookie opens —
 * over a real socket, on real SQLite files.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderStatus } from '../../src/domain/status.js';
import { DASHBOARD_DIR, SESSION_COOKIE } from '../../src/http/routes/dashboard.js';
import { openStream, parseSse, type Stream } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';
import { AS, KEYS, orderBody, startTestService, type TestService } from './context.js';

interface Snapshot {
  orders: Record<OrderStatus, number>;
  transitions: Record<string, number>;
  rates: { acceptedPerS: number; completedPerS: number };
  latency: { p50Ms: number; p99Ms: number; orders: number } | null;
  consumers: Record<string, { lag: number; inFlight: number; dlq: number }>;
  breaker: { state: string };
  stock: { sku: string; available: number; low: boolean }[];
}

const snapshots = (stream: Stream): Snapshot[] =>
  parseSse(stream.text())
    .filter(({ event }) => event === 'snapshot')
    .map(({ data }) => JSON.parse(data) as Snapshot);

describe('the dashboard', () => {
  let service: TestService;
  let baseUrl: string;
  const streams: Stream[] = [];

  beforeAll(async () => {
    service = await startTestService();
    await service.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const stream of streams) stream.destroy();
    await service.close();
  });

  const login = async (key: string | undefined) =>
    service.app.inject({
      method: 'POST',
      url: '/dashboard/session',
      payload: key === undefined ? {} : { key },
    });
  const cookieOf = (setCookie: string | string[] | undefined): string => {
    const header = Array.isArray(setCookie) ? setCookie[0] : setCookie;
    return (header ?? '').split(';')[0] ?? '';
  };
  const live = async (cookie: string | undefined): Promise<Stream> => {
    const stream = await openStream(baseUrl, '/dashboard/live', cookie ? { cookie } : {});
    streams.push(stream);
    return stream;
  };

  it('serves the page uncached and its hashed assets for a year, with a CSP of its own', async () => {
    const page = await service.app.inject({ method: 'GET', url: '/dashboard' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    const html = readFileSync(join(DASHBOARD_DIR, 'index.html'), 'utf8');
    const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await service.app.inject({ method: 'GET', url: script ?? '' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const missing = await service.app.inject({ method: 'GET', url: '/dashboard/assets/nope.js' });
    expect(missing.statusCode).toBe(404);
  });

  it('tells the login a key is needed', async () => {
    const res = await service.app.inject({ method: 'GET', url: '/dashboard/session' });
    expect(res.json()).toEqual({ keyRequired: true });
  });

  it('refuses a wrong key and a key without admin:read, setting no cookie', async () => {
    const wrong = await login('ak_wrong');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const none = await login(undefined);
    expect(none.statusCode).toBe(401);
    const client = await login(KEYS.client);
    expect(client.statusCode).toBe(403);
    expect(client.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect(client.headers['set-cookie']).toBeUndefined();
  });

  it('logs an admin key in with an HttpOnly, SameSite=Strict session cookie for /dashboard', async () => {
    const res = await login(KEYS.admin);
    expect(res.statusCode).toBe(200);
    const body = res.json<{ keyId: string; scopes: string[]; expiresAt: string }>();
    expect(body.scopes).toContain('admin:read');
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
    const header = String(res.headers['set-cookie']);
    expect(header).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    expect(header).toContain('HttpOnly');
    expect(header).toContain('SameSite=Strict');
    expect(header).toContain('Path=/dashboard');
    expect(header).not.toContain(KEYS.admin);
    const out = await service.app.inject({ method: 'DELETE', url: '/dashboard/session' });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/Expires=Thu, 01 Jan 1970/);
  });

  it('refuses the stream without a session, with a forged one, with a key, and to a client key', async () => {
    expect((await live(undefined)).status).toBe(401);
    expect((await live(`${SESSION_COOKIE}=admin.99999999999999.forged`)).status).toBe(401);
    const withKey = await openStream(baseUrl, '/dashboard/live', AS.admin);
    streams.push(withKey);
    expect(withKey.status).toBe(401);
    // A client can sign a session with its own key; the stream still refuses it.
    const { token } = await service.ctx.keys.openSession(KEYS.client);
    const client = await live(`${SESSION_COOKIE}=${token}`);
    expect(client.status).toBe(403);
    expect(client.text()).not.toContain('snapshot');
  });

  it('streams the history, then a snapshot a second that follows the orders placed', async () => {
    const cookie = cookieOf((await login(KEYS.admin)).headers['set-cookie']);
    const stream = await live(cookie);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    await waitFor(() => (snapshots(stream).length > 0 ? true : undefined), {
      what: 'a first snapshot',
      timeoutMs: 5000,
    });
    const first = parseSse(stream.text())[0];
    expect(first?.event).toBe('history');
    const history = JSON.parse(first?.data ?? '{}') as { samples?: unknown };
    expect(Array.isArray(history.samples)).toBe(true);
    const before = snapshots(stream).at(-1)?.orders.PENDING ?? 0;

    for (let i = 0; i < 3; i++) {
      const placed = await service.app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: AS.client,
        payload: orderBody({ items: [{ sku: 'A123', qty: 31 }] }),
      });
      expect(placed.statusCode).toBe(202);
    }
    const after = await waitFor(
      () => snapshots(stream).find((snapshot) => snapshot.orders.PENDING === before + 3),
      { what: 'a snapshot with the three orders', timeoutMs: 5000 },
    );
    // The api role ends no order: no latency yet, no transition made.
    expect(after.latency).toBeNull();
    expect(after.transitions).toEqual({});
    await waitFor(() => snapshots(stream).find((snapshot) => snapshot.rates.acceptedPerS > 0), {
      what: 'a second with orders accepted',
      timeoutMs: 5000,
    });
    // The api role runs no payments: no breaker reports.
    expect(after.breaker.state).toBe('none');
    // A123 is the hottest SKU; its stock is what the cache has (nothing reserved yet).
    expect(after.stock[0]).toMatchObject({ sku: 'A123', available: 100 });
  });

  it('ends the stream of a key revoked meanwhile', async () => {
    const created = await service.ctx.keys.create(
      { name: 'operator', scopes: ['admin:read'] },
      { id: 'test', scopes: ['admin:read'] },
    );
    const cookie = cookieOf((await login(created.key)).headers['set-cookie']);
    const stream = await live(cookie);
    expect(stream.status).toBe(200);
    await waitFor(() => (snapshots(stream).length > 0 ? true : undefined), {
      what: 'a first snapshot',
      timeoutMs: 5000,
    });
    await service.ctx.keys.revoke(created.id);
    const body = await stream.ended;
    expect(parseSse(body).at(-1)).toMatchObject({ event: 'end' });
  });
});

describe('the dashboard where nobody needs a key (anonymous loopback mode)', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ env: { ORDERFLOW_API_KEYS: '' } });
    await service.app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await service.close();
  });

  it('needs no key to log in or to stream', async () => {
    const required = await service.app.inject({ method: 'GET', url: '/dashboard/session' });
    expect(required.json()).toEqual({ keyRequired: false });
    const login = await service.app.inject({
      method: 'POST',
      url: '/dashboard/session',
      payload: {},
    });
    expect(login.statusCode).toBe(200);
    expect(login.json()).toMatchObject({ keyId: 'anonymous' });
    const port = (service.app.server.address() as AddressInfo).port;
    const stream = await openStream(`http://127.0.0.1:${port}`, '/dashboard/live', {});
    expect(stream.status).toBe(200);
    await waitFor(() => (snapshots(stream).length > 0 ? true : undefined), {
      what: 'a snapshot',
      timeoutMs: 5000,
    });
    stream.destroy();
  });
});
