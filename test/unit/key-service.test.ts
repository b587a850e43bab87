/**
 * The key service's per-process cache, on real SQLite stores: two services on one file stand
 * for two processes. The clock is moved by hand, so "within a second" is exact here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteApiKeyStore } from '../../src/adapters/sqlite/sqlite-api-key-store.js';
import type { ApiKeyStore } from '../../src/ports/api-key-store.js';
import {
  ANONYMOUS,
  KEY_CACHE_MS,
  KeyService,
  SESSION_MS,
  TOUCH_EVERY_MS,
} from '../../src/workflow/key-service.js';
import { ManualClock } from '../contract/fixture.js';

/** A real store that counts what reaches it. */
function counted(store: ApiKeyStore): {
  store: ApiKeyStore;
  reads: () => number;
  touches: () => number;
} {
  let reads = 0;
  let touches = 0;
  return {
    store: {
      create: (key) => store.create(key),
      findByDigest: (digest) => {
        reads += 1;
        return store.findByDigest(digest);
      },
      findById: (id) => {
        reads += 1;
        return store.findById(id);
      },
      list: () => store.list(),
      hasAny: () => store.hasAny(),
      revoke: (id) => store.revoke(id),
      touch: (id, at) => {
        touches += 1;
        return store.touch(id, at);
      },
      close: () => store.close(),
    },
    reads: () => reads,
    touches: () => touches,
  };
}

describe('KeyService', () => {
  let dir: string;
  let clock: ManualClock;
  let stores: SqliteApiKeyStore[];
  const admin = { id: 'admin_x', scopes: ANONYMOUS.scopes };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderflow-keys-'));
    clock = new ManualClock();
    stores = [];
  });

  afterEach(async () => {
    await Promise.all(stores.map((store) => store.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const open = (bootstrap?: ConstructorParameters<typeof KeyService>[0]['bootstrap']) => {
    const store = new SqliteApiKeyStore(path.join(dir, 'orderflow.db'));
    stores.push(store);
    const spy = counted(store);
    return { service: new KeyService({ apiKeys: spy.store, clock, bootstrap }), ...spy };
  };

  it('reads the store once per key and second, and sees another process revoke it within one', async () => {
    const one = open([]);
    const two = open([]);
    const { key } = await one.service.create({ scopes: ['orders:read'] }, admin);
    for (let i = 0; i < 100; i++) await two.service.authenticate(key);
    expect(two.reads()).toBe(1);

    await one.service.revoke((await one.service.list())[0]?.id ?? '');
    await expect(one.service.authenticate(key)).rejects.toMatchObject({ code: 'unauthorized' });
    clock.advance(KEY_CACHE_MS - 1);
    await expect(two.service.authenticate(key)).resolves.toMatchObject({ scopes: ['orders:read'] });
    clock.advance(1);
    await expect(two.service.authenticate(key)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('remembers a miss for at most a second too', async () => {
    const one = open([]);
    const two = open([]);
    await one.service.create({ scopes: ['admin:read'] }, admin);
    await expect(two.service.authenticate('of_made_up')).rejects.toMatchObject({
      code: 'unauthorized',
    });
    await expect(two.service.authenticate('of_made_up')).rejects.toThrow();
    expect(two.reads()).toBe(1);
    clock.advance(KEY_CACHE_MS);
    await expect(two.service.authenticate('of_made_up')).rejects.toThrow();
    expect(two.reads()).toBe(2);
  });

  it('records a use at most once a minute per key', async () => {
    const one = open([]);
    const { key, id } = await one.service.create({ scopes: ['orders:read'] }, admin);
    await one.service.authenticate(key);
    for (let i = 0; i < 30; i++) {
      clock.advance(KEY_CACHE_MS);
      await one.service.authenticate(key);
    }
    expect(one.touches()).toBe(1);
    clock.advance(TOUCH_EVERY_MS);
    await one.service.authenticate(key);
    expect(one.touches()).toBe(2);
    await expect
      .poll(async () => (await one.service.list()).find((k) => k.id === id)?.lastUsedAt)
      .toBe(clock.now());
  });

  it('needs a key once one is stored, though no bootstrap key is set', async () => {
    const one = open(undefined);
    await expect(one.service.authenticate(undefined)).resolves.toBe(ANONYMOUS);
    const { key } = await one.service.create({ scopes: ['orders:read'] }, ANONYMOUS);
    await expect(one.service.authenticate(undefined)).rejects.toMatchObject({
      code: 'unauthorized',
    });
    await expect(one.service.authenticate('of_wrong')).rejects.toMatchObject({
      code: 'unauthorized',
    });
    await expect(one.service.authenticate(key)).resolves.toMatchObject({ scopes: ['orders:read'] });
  });

  it('gives bootstrap keys the scopes of their role and their ids as before', async () => {
    const one = open([
      { id: 'client_1', role: 'client', key: 'ck_1' },
      { id: 'admin_1', role: 'admin', key: 'ak_1' },
    ]);
    await expect(one.service.authenticate('ck_1')).resolves.toEqual({
      id: 'client_1',
      scopes: ['orders:write', 'orders:read'],
    });
    await expect(one.service.authenticate('ak_1')).resolves.toMatchObject({ id: 'admin_1' });
    expect(one.reads()).toBe(0);
    const client = await one.service.authenticate('ck_1');
    await expect(one.service.create({ scopes: ['admin:read'] }, client)).rejects.toMatchObject({
      code: 'forbidden',
    });
  });

  describe('dashboard sessions', () => {
    const unauthorized = { code: 'unauthorized' };

    it('opens a session for a stored key that another process accepts until it expires', async () => {
      const one = open([]);
      const two = open([]);
      const { key, id } = await one.service.create({ scopes: ['admin:read'] }, admin);
      const session = await one.service.openSession(key);
      expect(session.holder).toEqual({ id, scopes: ['admin:read'] });
      expect(session.expiresAt).toBe(clock.now() + SESSION_MS);
      expect(session.token).not.toContain(key);
      await expect(two.service.authenticateSession(session.token)).resolves.toEqual({
        id,
        scopes: ['admin:read'],
      });
      clock.advance(SESSION_MS - 1);
      await expect(two.service.authenticateSession(session.token)).resolves.toMatchObject({ id });
      clock.advance(1);
      await expect(two.service.authenticateSession(session.token)).rejects.toMatchObject(
        unauthorized,
      );
    });

    it('refuses a wrong key, a forged or altered token, and none', async () => {
      const one = open([]);
      const { key, id } = await one.service.create({ scopes: ['admin:read'] }, admin);
      await expect(one.service.openSession('of_wrong')).rejects.toMatchObject(unauthorized);
      await expect(one.service.openSession(undefined)).rejects.toMatchObject(unauthorized);
      const { token } = await one.service.openSession(key);
      const [, expiry, mac] = token.split('.');
      const later = `${id}.${Number(expiry) + SESSION_MS}.${mac}`;
      const forged = `${id}.${expiry}.${'A'.repeat(mac?.length ?? 43)}`;
      for (const bad of [later, forged, `${id}.${expiry}.`, 'garbage', ''])
        await expect(one.service.authenticateSession(bad)).rejects.toMatchObject(unauthorized);
      await expect(one.service.authenticateSession(undefined)).rejects.toMatchObject(unauthorized);
    });

    it('ends every session of a revoked key, in another process within a second', async () => {
      const one = open([]);
      const two = open([]);
      const { key, id } = await one.service.create({ scopes: ['admin:read'] }, admin);
      await one.service.create({ scopes: ['orders:read'] }, admin);
      const { token } = await one.service.openSession(key);
      await two.service.authenticateSession(token);
      await one.service.revoke(id);
      await expect(one.service.authenticateSession(token)).rejects.toMatchObject(unauthorized);
      clock.advance(KEY_CACHE_MS);
      await expect(two.service.authenticateSession(token)).rejects.toMatchObject(unauthorized);
    });

    it('signs sessions of bootstrap keys without the store', async () => {
      const one = open([{ id: 'admin_1', role: 'admin', key: 'ak_1' }]);
      const other = open([{ id: 'admin_1', role: 'admin', key: 'ak_other' }]);
      const { token } = await one.service.openSession('ak_1');
      await expect(one.service.authenticateSession(token)).resolves.toMatchObject({
        id: 'admin_1',
      });
      expect(one.reads()).toBe(0);
      // Another deployment's key of the same id does not sign for this one.
      await expect(other.service.authenticateSession(token)).rejects.toMatchObject(unauthorized);
    });

    it('needs no session where nobody needs a key', async () => {
      const one = open(undefined);
      const { token } = await one.service.openSession(undefined);
      await expect(one.service.authenticateSession(token)).resolves.toBe(ANONYMOUS);
      await expect(one.service.authenticateSession(undefined)).resolves.toBe(ANONYMOUS);
    });
  });
});
