import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiKeyStore, StoredApiKey } from '../../src/ports/api-key-store.js';
import { ManualClock, type Fixture, type FixtureFactory } from './fixture.js';

let keys = 0;

/** A fresh stored key: a random key's digest, as the key service makes them. */
function storedKey(fields: Partial<StoredApiKey> = {}): StoredApiKey {
  keys += 1;
  return {
    id: `key_${process.pid}_${keys}`,
    name: `shop ${keys}`,
    scopes: ['orders:write', 'orders:read'],
    digest: createHash('sha256').update(randomBytes(32)).digest('hex'),
    createdAt: Date.UTC(2030, 0, 1) + keys,
    ...fields,
  };
}

const withoutDigest = ({
  digest: _digest,
  ...record
}: StoredApiKey): Omit<StoredApiKey, 'digest'> => record;

/** The behaviour every ApiKeyStore adapter must show; `factory` gives isolated storage per test. */
export function describeApiKeyStoreContract(
  name: string,
  factory: FixtureFactory<ApiKeyStore>,
): void {
  describe(`${name} ApiKeyStore`, () => {
    let fixture: Fixture<ApiKeyStore>;
    let clock: ManualClock;

    beforeEach(async () => {
      clock = new ManualClock();
      fixture = await factory();
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('finds a created key by its digest, and nothing by any other', async () => {
      const store = fixture.open(clock);
      expect(await store.hasAny()).toBe(false);
      const key = storedKey({ scopes: ['orders:read', 'admin:read'] });
      await store.create(key);
      expect(await store.hasAny()).toBe(true);
      expect(await store.findByDigest(key.digest)).toEqual(key);
      expect(await store.findByDigest(storedKey().digest)).toBeUndefined();
    });

    it('finds a created key by its id, digest included, and nothing by any other', async () => {
      const store = fixture.open(clock);
      const key = storedKey({ scopes: ['admin:read'] });
      await store.create(key);
      await store.touch(key.id, 7_000);
      expect(await store.findById(key.id)).toEqual({ ...key, lastUsedAt: 7_000 });
      expect(await store.findById('key_never_there')).toBeUndefined();
    });

    it('keeps a key without a name as null', async () => {
      const store = fixture.open(clock);
      const key = storedKey({ name: null });
      await store.create(key);
      expect((await store.findByDigest(key.digest))?.name).toBeNull();
    });

    it('refuses a second key with the same id or the same digest', async () => {
      const store = fixture.open(clock);
      const key = storedKey();
      await store.create(key);
      await expect(store.create(storedKey({ id: key.id }))).rejects.toThrow();
      await expect(store.create(storedKey({ digest: key.digest }))).rejects.toThrow();
      expect(await store.list()).toEqual([withoutDigest(key)]);
    });

    it('lists every key oldest first, never with its digest', async () => {
      const store = fixture.open(clock);
      const older = storedKey({ createdAt: 1_000 });
      const newer = storedKey({ createdAt: 2_000 });
      await store.create(newer);
      await store.create(older);
      const listed = await store.list();
      expect(listed).toEqual([withoutDigest(older), withoutDigest(newer)]);
      for (const record of listed) expect(record).not.toHaveProperty('digest');
    });

    it('revokes a key for good: not found, not listed, revoked once', async () => {
      const store = fixture.open(clock);
      const key = storedKey();
      const other = storedKey();
      await store.create(key);
      await store.create(other);
      expect(await store.revoke(key.id)).toBe(true);
      expect(await store.findByDigest(key.digest)).toBeUndefined();
      expect(await store.findById(key.id)).toBeUndefined();
      expect((await store.list()).map(({ id }) => id)).toEqual([other.id]);
      expect(await store.revoke(key.id)).toBe(false);
      expect(await store.revoke('key_never_there')).toBe(false);
      expect(await store.revoke(other.id)).toBe(true);
      expect(await store.hasAny()).toBe(false);
    });

    it('records the last use, only forwards, and never brings a revoked key back', async () => {
      const store = fixture.open(clock);
      const key = storedKey();
      await store.create(key);
      expect((await store.findByDigest(key.digest))?.lastUsedAt).toBeUndefined();
      await store.touch(key.id, 5_000);
      await store.touch(key.id, 4_000);
      expect((await store.findByDigest(key.digest))?.lastUsedAt).toBe(5_000);
      expect((await store.list())[0]?.lastUsedAt).toBe(5_000);
      await store.revoke(key.id);
      await store.touch(key.id, 6_000);
      expect(await store.findByDigest(key.digest)).toBeUndefined();
      expect(await store.list()).toEqual([]);
      expect(await store.hasAny()).toBe(false);
    });

    it('shares its keys with every other instance on the same storage (another process)', async () => {
      const one = fixture.open(clock);
      const other = fixture.open(clock);
      const key = storedKey();
      await one.create(key);
      expect(await other.findByDigest(key.digest)).toEqual(key);
      expect(await other.revoke(key.id)).toBe(true);
      expect(await one.findByDigest(key.digest)).toBeUndefined();
    });
  });
}
