import { scopesIn } from '../../domain/scopes.js';
import type { ApiKeyRecord, ApiKeyStore, StoredApiKey } from '../../ports/api-key-store.js';
import type { RedisConnection, RedisScript } from './redis-connection.js';

/**
 * KEYS: the key's hash, its digest's pointer, the set of ids. ARGV: id, name ('' = none),
 * scopes, digest, createdAt. Stores all three or nothing: 0 when the id or digest is taken.
 */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'name', ARGV[2], 'scopes', ARGV[3], 'digest', ARGV[4], 'createdAt', ARGV[5])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
`;

/** KEYS: the digest's pointer. ARGV: the prefix of keys' hashes. The key's hash, or nil. */
const FIND = `
local id = redis.call('GET', KEYS[1])
if not id then return nil end
local fields = redis.call('HGETALL', ARGV[1] .. id)
if #fields == 0 then return nil end
return fields
`;

/** KEYS: the key's hash, the set of ids. ARGV: id, the prefix of digest pointers. 1 if it was there. */
const REVOKE = `
local digest = redis.call('HGET', KEYS[1], 'digest')
if not digest then return 0 end
redis.call('DEL', KEYS[1], ARGV[2] .. digest)
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`;

/** KEYS: the key's hash. ARGV: at. Only an existing key, only forwards. */
const TOUCH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last = tonumber(redis.call('HGET', KEYS[1], 'lastUsedAt'))
if last and last >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[1])
return 1
`;

/**
 * API keys in Redis: a hash per key at `<ns>:api-keys:key:<id>`, a pointer from the digest
 * to the id at `<ns>:api-keys:digest:<sha256 hex>`, and the set of ids at `<ns>:api-keys:ids`.
 * Every write is one script, so a key is never half there; a lookup is one round trip.
 */
export class RedisApiKeyStore implements ApiKeyStore {
  private readonly createScript: RedisScript;
  private readonly findScript: RedisScript;
  private readonly revokeScript: RedisScript;
  private readonly touchScript: RedisScript;
  private readonly prefix: string;

  constructor(
    private readonly connection: RedisConnection,
    namespace: string,
  ) {
    this.prefix = `${namespace}:api-keys`;
    this.createScript = connection.script('orderflowApiKeyCreate', CREATE);
    this.findScript = connection.script('orderflowApiKeyFind', FIND);
    this.revokeScript = connection.script('orderflowApiKeyRevoke', REVOKE);
    this.touchScript = connection.script('orderflowApiKeyTouch', TOUCH);
  }

  async create(key: StoredApiKey): Promise<void> {
    const created = await this.createScript(
      [this.keyOf(key.id), this.digestOf(key.digest), this.idsKey()],
      [key.id, key.name ?? '', key.scopes.join(','), key.digest, key.createdAt],
    );
    if (Number(created) !== 1) throw new Error(`an API key ${key.id} or its digest exists already`);
  }

  async findByDigest(digest: string): Promise<StoredApiKey | undefined> {
    const fields = await this.findScript([this.digestOf(digest)], [`${this.prefix}:key:`]);
    if (!Array.isArray(fields)) return undefined;
    const hash: Record<string, string> = {};
    for (let index = 0; index + 1 < fields.length; index += 2)
      hash[String(fields[index])] = String(fields[index + 1]);
    return storedOf(hash);
  }

  findById(id: string): Promise<StoredApiKey | undefined> {
    return this.connection.run(async (client) => {
      const hash = await client.hgetall(this.keyOf(id));
      return hash['id'] === undefined ? undefined : storedOf(hash);
    });
  }

  list(): Promise<readonly ApiKeyRecord[]> {
    return this.connection.run(async (client) => {
      const ids = await client.smembers(this.idsKey());
      const pipeline = client.pipeline();
      for (const id of ids) pipeline.hgetall(this.keyOf(id));
      const results = (await pipeline.exec()) ?? [];
      const records: ApiKeyRecord[] = [];
      for (const [error, hash] of results) {
        if (error) throw error;
        const fields = hash as Record<string, string>;
        // Revoked between the two reads.
        if (fields['id'] !== undefined) records.push(recordOf(fields));
      }
      return records.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    });
  }

  hasAny(): Promise<boolean> {
    return this.connection.run(async (client) => (await client.scard(this.idsKey())) > 0);
  }

  async revoke(id: string): Promise<boolean> {
    const removed = await this.revokeScript(
      [this.keyOf(id), this.idsKey()],
      [id, `${this.prefix}:digest:`],
    );
    return Number(removed) === 1;
  }

  async touch(id: string, at: number): Promise<void> {
    await this.touchScript([this.keyOf(id)], [at]);
  }

  /** The connection belongs to the backend that opened it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private keyOf(id: string): string {
    return `${this.prefix}:key:${id}`;
  }

  private digestOf(digest: string): string {
    return `${this.prefix}:digest:${digest}`;
  }

  private idsKey(): string {
    return `${this.prefix}:ids`;
  }
}

function storedOf(hash: Readonly<Record<string, string>>): StoredApiKey {
  return { ...recordOf(hash), digest: hash['digest'] ?? '' };
}

function recordOf(hash: Readonly<Record<string, string>>): ApiKeyRecord {
  const record: ApiKeyRecord = {
    id: hash['id'] ?? '',
    name: hash['name'] ? hash['name'] : null,
    scopes: scopesIn(hash['scopes'] ?? ''),
    createdAt: Number(hash['createdAt']),
  };
  const lastUsedAt = hash['lastUsedAt'];
  return lastUsedAt === undefined ? record : { ...record, lastUsedAt: Number(lastUsedAt) };
}
