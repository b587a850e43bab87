/** API keys created at run time: stored hashed, scoped per route, revoked at once. */
import { createHash } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiErrorBody } from '../helpers/api.js';
import { eventually } from '../contract/support.js';
import { SQLITE_FILES } from '../../src/adapters/sqlite/sqlite-files.js';
import { AS, bearer, orderBody, startTestService, type TestService } from './context.js';

interface CreatedKey {
  id: string;
  name: string | null;
  scopes: string[];
  createdAt: string;
  key: string;
}
interface ListedKey {
  id: string;
  name: string | null;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

async function createKey(
  service: TestService,
  body: Record<string, unknown>,
  headers: Record<string, string> = AS.admin,
): Promise<CreatedKey> {
  const res = await service.app.inject({
    method: 'POST',
    url: '/v1/admin/keys',
    headers,
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<CreatedKey>();
}

/** Every row of the hot file's `api_keys` table, read with a connection of its own. */
function storedRows(service: TestService): Record<string, unknown>[] {
  const db = new Database(path.join(service.ctx.config.dataDir, SQLITE_FILES.hot), {
    readonly: true,
  });
  try {
    return db.prepare<[], Record<string, unknown>>('SELECT * FROM api_keys').all();
  } finally {
    db.close();
  }
}

describe('API keys created at run time', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.close());

  it('creates a key that works at once, shown once, stored only as its SHA-256 digest', async () => {
    const created = await createKey(service, {
      name: 'shop one',
      scopes: ['orders:read', 'orders:write'],
    });
    expect(created).toMatchObject({ name: 'shop one', scopes: ['orders:write', 'orders:read'] });
    expect(created.key).toMatch(/^of_[A-Za-z0-9_-]{43}$/);
    expect(created.id).toMatch(/^key_[0-9a-f]{16}$/);
    const res = await service.app.inject({
      method: 'GET',
      url: '/v1/products/A123',
      headers: bearer(created.key),
    });
    expect(res.statusCode).toBe(200);

    const rows = storedRows(service);
    const row = rows.find((candidate) => candidate['id'] === created.id);
    expect(row?.['digest']).toBe(createHash('sha256').update(created.key).digest('hex'));
    const everything = JSON.stringify(rows);
    expect(everything).not.toContain(created.key);
    expect(everything).not.toContain(created.key.slice(3));

    const listed = await service.app.inject({
      method: 'GET',
      url: '/v1/admin/keys',
      headers: AS.admin,
    });
    expect(listed.statusCode).toBe(200);
    expect(listed.body).not.toContain(created.key.slice(3));
    expect(listed.body).not.toContain('digest');
    expect(listed.json<{ keys: ListedKey[] }>().keys).toContainEqual(
      expect.objectContaining({ id: created.id, name: 'shop one', createdAt: created.createdAt }),
    );
  });

  it('enforces each route’s scope with 403 forbidden', async () => {
    const readOnly = await createKey(service, { scopes: ['orders:read'] });
    const writeOnly = await createKey(service, { scopes: ['orders:write'] });
    const adminRead = await createKey(service, { scopes: ['admin:read'] });
    const call = (key: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
      service.app.inject({ method, url, headers: bearer(key), ...(payload && { payload }) });

    const placed = await call(writeOnly.key, 'POST', '/v1/orders', orderBody());
    expect(placed.statusCode, placed.body).toBe(202);
    const { orderId } = placed.json<{ orderId: string }>();
    expect((await service.backends.orders.get(orderId))?.owner).toBe(writeOnly.id);

    const refused = [
      [readOnly.key, 'POST', '/v1/orders', orderBody()],
      [writeOnly.key, 'GET', `/v1/orders/${orderId}`],
      [writeOnly.key, 'GET', `/v1/orders/${orderId}/events`],
      [writeOnly.key, 'GET', '/v1/products/A123'],
      [readOnly.key, 'GET', '/v1/admin/stats'],
      [adminRead.key, 'POST', '/v1/admin/sync/stock'],
      [adminRead.key, 'POST', '/v1/admin/keys', { scopes: ['admin:read'] }],
      [adminRead.key, 'DELETE', `/v1/admin/keys/${readOnly.id}`],
      [adminRead.key, 'POST', `/v1/orders/${orderId}/cancel`],
    ] as const;
    for (const [key, method, url, payload] of refused) {
      const res = await call(key, method, url, payload);
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json<ApiErrorBody>().error.code).toBe('forbidden');
    }
    expect((await call(adminRead.key, 'GET', '/v1/admin/stats')).statusCode).toBe(200);
    expect((await call(adminRead.key, 'GET', '/v1/admin/keys')).statusCode).toBe(200);
    // An admin scope sees every order; a client key only its own (404 for the others).
    expect((await call(adminRead.key, 'GET', `/v1/orders/${orderId}`)).statusCode).toBe(403);
    const reader = await createKey(service, { scopes: ['orders:read', 'admin:read'] });
    expect((await call(reader.key, 'GET', `/v1/orders/${orderId}`)).statusCode).toBe(200);
    const other = await call(readOnly.key, 'GET', `/v1/orders/${orderId}`);
    expect(other.statusCode).toBe(404);
    expect(other.json<ApiErrorBody>().error.code).toBe('not_found');
  });

  it('lets a client key read only its own orders, and no admin route', async () => {
    const shop = await createKey(service, { scopes: ['orders:write', 'orders:read'] });
    const mine = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: bearer(shop.key),
      payload: orderBody(),
    });
    const theirs = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: AS.client,
      payload: orderBody(),
    });
    const get = (id: string) =>
      service.app.inject({ method: 'GET', url: `/v1/orders/${id}`, headers: bearer(shop.key) });
    expect((await get(mine.json<{ orderId: string }>().orderId)).statusCode).toBe(200);
    expect((await get(theirs.json<{ orderId: string }>().orderId)).statusCode).toBe(404);
    for (const url of ['/v1/admin/stats', '/v1/admin/keys', '/v1/admin/dlq']) {
      const res = await service.app.inject({ method: 'GET', url, headers: bearer(shop.key) });
      expect(res.statusCode, url).toBe(403);
    }
  });

  it('does not let a key grant scopes it lacks', async () => {
    const keyAdmin = await createKey(service, { scopes: ['admin:write', 'admin:read'] });
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/admin/keys',
      headers: bearer(keyAdmin.key),
      payload: { scopes: ['admin:read', 'orders:write'] },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json<ApiErrorBody>().error).toMatchObject({
      code: 'forbidden',
      details: { missing: ['orders:write'] },
    });
    const allowed = await createKey(service, { scopes: ['admin:read'] }, bearer(keyAdmin.key));
    expect(allowed.name).toBeNull();
  });

  it('refuses unknown scopes, no scopes and unknown fields with 400', async () => {
    for (const payload of [
      { scopes: ['orders:delete'] },
      { scopes: [] },
      { scopes: ['orders:read'], key: 'x' },
    ]) {
      const res = await service.app.inject({
        method: 'POST',
        url: '/v1/admin/keys',
        headers: AS.admin,
        payload,
      });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
  });

  it('revokes a key: 401 at once, gone from the list, 404 the second time', async () => {
    const key = await createKey(service, { scopes: ['orders:read'] });
    const use = () =>
      service.app.inject({ method: 'GET', url: '/v1/products/A123', headers: bearer(key.key) });
    expect((await use()).statusCode).toBe(200);
    const revoke = () =>
      service.app.inject({ method: 'DELETE', url: `/v1/admin/keys/${key.id}`, headers: AS.admin });
    const revoked = await revoke();
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toEqual({ id: key.id, revoked: true });
    const refused = await use();
    expect(refused.statusCode).toBe(401);
    expect(refused.json<ApiErrorBody>().error.code).toBe('unauthorized');
    expect((await revoke()).statusCode).toBe(404);
    const listed = await service.app.inject({
      method: 'GET',
      url: '/v1/admin/keys',
      headers: AS.admin,
    });
    expect(listed.json<{ keys: ListedKey[] }>().keys.map(({ id }) => id)).not.toContain(key.id);
  });

  it('records the last use once, not on every request', async () => {
    const key = await createKey(service, { scopes: ['orders:read'] });
    const lastUsed = async () =>
      (await service.app.inject({ method: 'GET', url: '/v1/admin/keys', headers: AS.admin }))
        .json<{ keys: ListedKey[] }>()
        .keys.find(({ id }) => id === key.id)?.lastUsedAt;
    expect(await lastUsed()).toBeNull();
    const use = () =>
      service.app.inject({ method: 'GET', url: '/v1/products/A123', headers: bearer(key.key) });
    await use();
    const first = await eventually(async () => {
      const seen = await lastUsed();
      expect(seen).toEqual(expect.any(String));
      return seen;
    });
    for (let i = 0; i < 20; i++) await use();
    expect(await lastUsed()).toBe(first);
  });

  it('keeps the ids of ORDERFLOW_API_KEYS keys as they were (the owner of their orders)', async () => {
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: AS.client,
      payload: orderBody(),
    });
    const { orderId } = res.json<{ orderId: string }>();
    const expected = `client_${createHash('sha256').update('ck_http_test').digest('hex').slice(0, 16)}`;
    expect((await service.backends.orders.get(orderId))?.owner).toBe(expected);
    const revoke = await service.app.inject({
      method: 'DELETE',
      url: `/v1/admin/keys/${expected}`,
      headers: AS.admin,
    });
    expect(revoke.statusCode).toBe(404);
    expect(revoke.json<ApiErrorBody>().error.message).toContain('ORDERFLOW_API_KEYS');
  });

  it('names each route’s scope in the OpenAPI document', async () => {
    const doc = (await service.app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, { 'x-orderflow-scope'?: string }>>;
      components: { securitySchemes: Record<string, { description?: string }> };
    }>();
    expect(doc.paths['/v1/orders']?.['post']?.['x-orderflow-scope']).toBe('orders:write');
    expect(doc.paths['/v1/admin/keys']?.['get']?.['x-orderflow-scope']).toBe('admin:read');
    expect(doc.paths['/v1/admin/keys/{id}']?.['delete']?.['x-orderflow-scope']).toBe('admin:write');
    expect(doc.components.securitySchemes['bearerAuth']?.description).toContain('admin:write');
  });
});

describe('without ORDERFLOW_API_KEYS', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ env: { ORDERFLOW_API_KEYS: '' } });
  });
  afterAll(() => service.close());

  it('needs no key while none is stored, and a key as soon as one is', async () => {
    const open = await service.app.inject({ method: 'GET', url: '/v1/products/A123' });
    expect(open.statusCode).toBe(200);
    const created = await createKey(
      service,
      { scopes: ['orders:read', 'admin:read', 'admin:write'] },
      {},
    );
    const without = await service.app.inject({ method: 'GET', url: '/v1/products/A123' });
    expect(without.statusCode).toBe(401);
    const withKey = await service.app.inject({
      method: 'GET',
      url: '/v1/products/A123',
      headers: bearer(created.key),
    });
    expect(withKey.statusCode).toBe(200);
    // The last stored key revoked: open again (loopback only, as without keys at all).
    const revoked = await service.app.inject({
      method: 'DELETE',
      url: `/v1/admin/keys/${created.id}`,
      headers: bearer(created.key),
    });
    expect(revoked.statusCode).toBe(200);
    expect((await service.app.inject({ method: 'GET', url: '/v1/products/A123' })).statusCode).toBe(
      200,
    );
  });
});
