/** API keys and roles: who may call what, and whose orders a client key can see. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, orderBody } from '../helpers/api.js';
import type { HttpResponse, KeyChoice } from '../helpers/http.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';

const SHOP_A = 'ck_a';
const SHOP_B = 'ck_b';
const ADMIN = 'ak_test';

let svc: Service;

beforeAll(async () => {
  svc = await startService({
    env: { ORDERFLOW_API_KEYS: `client:${SHOP_A},client:${SHOP_B},admin:${ADMIN}` },
  });
});

afterAll(async () => {
  await stopAllServices();
});

/** Follows up to 5 redirects (the docs UI may redirect to its index page). */
async function getFollowing(path: string, key: KeyChoice): Promise<HttpResponse> {
  let res = await svc.request('GET', path, { key });
  for (let hops = 0; hops < 5 && res.status >= 300 && res.status < 400; hops++) {
    const location = res.headers.location;
    if (!location) break;
    res = await svc.request('GET', new URL(location, `${svc.url}${path}`).pathname, { key });
  }
  return res;
}

describe('authentication', () => {
  it('no key → 401 unauthorized', async () => {
    const post = await svc.placeOrder(orderBody(), { key: 'none' });
    expect(post.status).toBe(401);
    expect(errorCode(post.json)).toBe('unauthorized');
    const get = await svc.request('GET', '/v1/products/A123', { key: 'none' });
    expect(get.status).toBe(401);
    expect(errorCode(get.json)).toBe('unauthorized');
  });

  it('a wrong key → 401 unauthorized', async () => {
    const res = await svc.placeOrder(orderBody(), { key: 'ck_wrong' });
    expect(res.status).toBe(401);
    expect(errorCode(res.json)).toBe('unauthorized');
  });

  it('a key in another scheme (Basic) → 401 unauthorized', async () => {
    const res = await svc.request('GET', '/v1/products/A123', {
      key: 'none',
      headers: { authorization: `Basic ${Buffer.from(`${SHOP_A}:`).toString('base64')}` },
    });
    expect(res.status).toBe(401);
    expect(errorCode(res.json)).toBe('unauthorized');
  });

  it('a client key on an admin route → 403 forbidden, and nothing is written', async () => {
    const stats = await svc.request('GET', '/v1/admin/stats', { key: SHOP_A });
    expect(stats.status).toBe(403);
    expect(errorCode(stats.json)).toBe('forbidden');

    const put = await svc.request('PUT', '/v1/admin/products/A123', {
      key: SHOP_A,
      body: { name: 'Stolen', price: { amount: 1, currency: 'USD' }, onHand: 100_000 },
    });
    expect(put.status).toBe(403);
    expect(errorCode(put.json)).toBe('forbidden');
    const product = await svc.request<{ name: string; price: { amount: number } }>(
      'GET',
      '/v1/products/A123',
      { key: SHOP_A },
    );
    expect(product.json).toMatchObject({ name: 'Widget', price: { amount: 1999 } });
  });

  it('the admin key works on admin routes', async () => {
    const res = await svc.request('GET', '/v1/admin/stats', { key: ADMIN });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      orders: expect.any(Object) as unknown,
      consumers: expect.any(Object) as unknown,
      sync: expect.any(Object) as unknown,
    });
  });

  it('a client key sees only its own orders; the admin key sees all', async () => {
    const placed = await svc.placeOrder(orderBody(), { key: SHOP_A });
    expect(placed.status).toBe(202);
    const path = `/v1/orders/${placed.json.orderId}`;

    expect((await svc.request('GET', path, { key: SHOP_A })).status).toBe(200);
    const other = await svc.request('GET', path, { key: SHOP_B });
    expect(other.status).toBe(404);
    expect(errorCode(other.json)).toBe('not_found');
    expect((await svc.request('GET', `${path}/events`, { key: SHOP_B })).status).toBe(404);
    const cancel = await svc.request('POST', `${path}/cancel`, { key: SHOP_B });
    expect(cancel.status).toBe(404);
    expect((await svc.request('GET', path, { key: ADMIN })).status).toBe(200);

    const order = await svc.waitForTerminal(placed.json.orderId);
    expect(order.status).toBe('COMPLETED');
    expect(order.history.map((h) => h.status)).not.toContain('CANCELLED');
  });

  it('/healthz and /readyz need no key', async () => {
    expect((await svc.request('GET', '/healthz', { key: 'none' })).status).toBe(200);
    expect((await svc.request('GET', '/readyz', { key: 'none' })).status).toBe(200);
  });

  it('/metrics answers Prometheus text', async () => {
    const res = await svc.request('GET', '/metrics', { key: ADMIN });
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^# (HELP|TYPE) /m);
  });

  it('/docs serves the OpenAPI UI and /docs/json an OpenAPI document with /v1/orders', async () => {
    const ui = await getFollowing('/docs', ADMIN);
    expect(ui.status).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    expect(ui.text.toLowerCase()).toContain('swagger');

    const doc = await svc.request<{
      openapi?: string;
      swagger?: string;
      paths?: Record<string, unknown>;
    }>('GET', '/docs/json', { key: ADMIN });
    expect(doc.status).toBe(200);
    expect(doc.json.openapi ?? doc.json.swagger).toBeTruthy();
    expect(Object.keys(doc.json.paths ?? {})).toContain('/v1/orders');
  });
});
