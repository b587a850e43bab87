import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiErrorBody } from '../helpers/api.js';
import { AS, KEYS, orderBody, startTestService, type TestService } from './context.js';

type ErrorReply = ApiErrorBody;

describe('authentication', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.close());

  it('answers 401 unauthorized without a key, with WWW-Authenticate', async () => {
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      payload: orderBody(),
    });
    expect(res.statusCode).toBe(401);
    expect(res.json<ErrorReply>().error.code).toBe('unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('answers 401 for a wrong key, a key of another length, or another scheme', async () => {
    for (const authorization of [
      'Bearer ck_http_tesT',
      'Bearer x',
      `Bearer ${KEYS.client}x`,
      `Basic ${KEYS.client}`,
      'Bearer',
    ]) {
      const res = await service.app.inject({
        method: 'GET',
        url: '/v1/products/A123',
        headers: { authorization },
      });
      expect(res.statusCode, authorization).toBe(401);
      expect(res.json<ErrorReply>().error.code).toBe('unauthorized');
    }
    const res = await service.app.inject({
      method: 'GET',
      url: '/v1/products/A123',
      headers: { 'x-api-key': 'wrong' },
    });
    expect(res.statusCode).toBe(401);
  });

  it('accepts Bearer in any case and X-API-Key', async () => {
    for (const headers of [
      { authorization: `bearer ${KEYS.client}` },
      { 'x-api-key': KEYS.client },
    ]) {
      const res = await service.app.inject({ method: 'GET', url: '/v1/products/A123', headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(200);
    }
  });

  it('checks the key before the body: no key and a bad body is 401', async () => {
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      payload: { nonsense: true },
    });
    expect(res.statusCode).toBe(401);
  });

  it('answers 403 forbidden to a client key on an admin route, 200 to the admin key', async () => {
    for (const url of ['/v1/admin/stats', '/v1/admin/dlq', '/v1/admin/products/A123']) {
      const client = await service.app.inject({ method: 'GET', url, headers: AS.client });
      expect(client.statusCode, url).toBe(403);
      expect(client.json<ErrorReply>().error.code).toBe('forbidden');
      const admin = await service.app.inject({ method: 'GET', url, headers: AS.admin });
      expect(admin.statusCode, url).toBe(200);
    }
    const put = await service.app.inject({
      method: 'PUT',
      url: '/v1/admin/products/A123',
      headers: AS.client,
      payload: { name: 'x', price: { amount: 1, currency: 'USD' }, onHand: 1 },
    });
    expect(put.statusCode).toBe(403);
  });

  it('needs no key for /healthz, /readyz, /metrics and /docs', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/docs/json', '/docs']) {
      const res = await service.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
    }
  });
});

describe('without API keys (loopback, no auth)', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ env: { ORDERFLOW_API_KEYS: '' } });
  });
  afterAll(() => service.close());

  it('lets every caller in as an admin-capable anonymous owner', async () => {
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      payload: orderBody(),
    });
    expect(res.statusCode).toBe(202);
    const { orderId } = res.json<{ orderId: string }>();
    expect((await service.backends.orders.get(orderId))?.owner).toBe('anonymous');
    expect(
      (await service.app.inject({ method: 'GET', url: `/v1/orders/${orderId}` })).statusCode,
    ).toBe(200);
    expect((await service.app.inject({ method: 'GET', url: '/v1/admin/stats' })).statusCode).toBe(
      200,
    );
  });
});

describe('rate limit', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ env: { ORDERFLOW_RATE_LIMIT: '1' } });
  });
  afterAll(() => service.close());

  const get = (headers: Record<string, string>, remoteAddress: string, url = '/v1/products/A123') =>
    service.app.inject({ method: 'GET', url, headers, remoteAddress });

  it('allows a burst of twice the rate per key, then 429 rate_limited with Retry-After', async () => {
    // Each request from another IP: only the key's bucket counts.
    expect((await get(AS.client, '10.0.0.1')).statusCode).toBe(200);
    expect((await get(AS.client, '10.0.0.2')).statusCode).toBe(200);
    const limited = await get(AS.client, '10.0.0.3');
    expect(limited.statusCode).toBe(429);
    expect(limited.json<ErrorReply>().error.code).toBe('rate_limited');
    expect(limited.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    // Another key is not affected.
    expect((await get(AS.client2, '10.0.0.4')).statusCode).toBe(200);
  });

  it('limits per IP too, whatever the key', async () => {
    expect((await get(AS.admin, '10.0.1.1', '/v1/admin/stats')).statusCode).toBe(200);
    expect((await get({ authorization: 'Bearer wrong' }, '10.0.1.1')).statusCode).toBe(401);
    const limited = await get({ authorization: 'Bearer wrong' }, '10.0.1.1');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toMatch(/^[1-9]\d*$/);
  });

  it('never limits /healthz and /readyz', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await get({}, '10.0.2.1', '/healthz')).statusCode).toBe(200);
      expect((await get({}, '10.0.2.1', '/readyz')).statusCode).toBe(200);
    }
    expect((await get({}, '10.0.2.1', '/metrics')).statusCode).toBe(200);
  });
});
