/**
 * API keys on the scale-out set: two `api` processes (real child processes) on one Redis,
 * NATS and PostgreSQL. A key created through one works on both; revoked with the CLI through
 * one, both refuse it within about a second. Redis holds only the key's digest.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, runCli } from '../cli/run-cli.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { ENGINES, enginesUp } from '../helpers/engines.js';
import { DEFAULT_KEYS } from '../helpers/http.js';
import type { Service } from '../helpers/service.js';
import { waitFor } from '../helpers/wait.js';

const up = await enginesUp('redis', 'nats', 'postgres');

/** Every key of the namespace with its value(s), as text. */
async function namespaceDump(namespace: string): Promise<string> {
  const redis = new Redis(ENGINES.redis, { maxRetriesPerRequest: 1 });
  try {
    const dump: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const value =
          type === 'string'
            ? await redis.get(key)
            : type === 'hash'
              ? JSON.stringify(await redis.hgetall(key))
              : type === 'set'
                ? JSON.stringify(await redis.smembers(key))
                : type;
        dump.push(`${key} ${value ?? ''}`);
      }
    } while (cursor !== '0');
    return dump.join('\n');
  } finally {
    redis.disconnect();
  }
}

describe.runIf(up)('API keys across api processes (Redis + NATS + PostgreSQL)', () => {
  let cluster: Cluster;
  let one: Service;
  let two: Service;

  beforeAll(async () => {
    cluster = await startCluster(['api', 'api']);
    [one, two] = cluster.services as [Service, Service];
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  /** 404 for an order nobody has: authenticated; 401: the key was refused. */
  const statusWith = async (service: Service, key: string): Promise<number> =>
    (await service.request('GET', '/v1/orders/no-such-order', { key })).status;

  it('accepts a key created on one process on both, and refuses it on both once revoked', async () => {
    const created = await one.request<{ id: string; key: string }>('POST', '/v1/admin/keys', {
      key: 'admin',
      body: { name: 'shop', scopes: ['orders:write', 'orders:read'] },
    });
    expect(created.status, created.text).toBe(201);
    const { id, key } = created.json;
    expect(await statusWith(one, key)).toBe(404);
    expect(await statusWith(two, key)).toBe(404);

    const dump = await namespaceDump(cluster.namespace);
    expect(dump).toContain(
      `${cluster.namespace}:api-keys:digest:${createHash('sha256').update(key).digest('hex')}`,
    );
    expect(dump).not.toContain(key);
    expect(dump).not.toContain(key.slice(3));

    const revoke = await runCli(['keys', 'revoke', id, '--url', one.url], {
      ORDERFLOW_ADMIN_KEY: DEFAULT_KEYS.admin,
    });
    expect(revoke.code, describeRun(revoke)).toBe(0);
    const revokedAt = Date.now();
    for (const service of [one, two]) {
      await waitFor(async () => ((await statusWith(service, key)) === 401 ? true : undefined), {
        timeoutMs: 5_000,
        intervalMs: 50,
        what: `${service.url} to refuse the revoked key`,
      });
    }
    // Informational: the cache lives ≤ 1 s; the poll above allows for a busy machine.
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    expect(await namespaceDump(cluster.namespace)).not.toContain(`api-keys:key:${id}`);
  });
});
