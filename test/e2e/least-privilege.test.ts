/**
 * Each process role with its least-privilege users (`orderflow grants`), on a schema and
 * streams `orderflow migrate` made as their owner: an order placed on an `api` process, run
 * by a `worker`, synced by a `scheduler`, ends COMPLETED and in PostgreSQL; and what a role
 * may not do, the engine itself refuses — not orderflow.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { natsServerOptions } from '../../src/adapters/nats/nats-connection.js';
import type { GrantRole } from '../../src/adapters/shared/grant-roles.js';
import { errorCode, orderBody } from '../helpers/api.js';
import { ENGINES, enginesUp } from '../helpers/engines.js';
import { startLeastPrivilege, type LeastPrivilegeDeployment } from '../helpers/least-privilege.js';
import { pgQuery } from '../helpers/postgres.js';
import { privateEnginesAvailable } from '../helpers/private-engines.js';
import { ENTRY, startService, stopAllServices, type Service } from '../helpers/service.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const available = privateEnginesAvailable() && (await enginesUp('postgres'));

let deployment: LeastPrivilegeDeployment;
let api: Service;
let operator: Service;

const product = { name: 'Least', price: { amount: 500, currency: 'USD' }, onHand: 10 };

function sqlAs(role: GrantRole, text: string): Promise<unknown[]> {
  return pgQuery(deployment.env(role).ORDERFLOW_DATABASE_URL ?? '', text);
}

async function superQuery(text: string): Promise<void> {
  await pgQuery(ENGINES.postgres, text);
}

async function redisAs<T>(role: GrantRole, work: (redis: Redis) => Promise<T>): Promise<T> {
  const url = deployment.env(role).ORDERFLOW_REDIS_URL ?? '';
  const redis = new Redis(url, { maxRetriesPerRequest: 0 });
  try {
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

async function deleteStreamAs(role: GrantRole, stream: string): Promise<unknown> {
  const url = deployment.env(role).ORDERFLOW_NATS_URL ?? '';
  const nc = await connect({ ...natsServerOptions(url), timeout: 2000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    return await jsm.streams.delete(stream);
  } finally {
    await nc.close();
  }
}

describe.skipIf(!available)('least-privilege users per process role', () => {
  beforeAll(async () => {
    deployment = await startLeastPrivilege();
    const shared = {
      ORDERFLOW_RATE_LIMIT: '0',
      ORDERFLOW_DECLINE_LIMIT: '0',
      ORDERFLOW_SYNC_OUT_INTERVAL: '200ms',
    };
    const start = (role: 'api' | 'worker' | 'scheduler', user: GrantRole): Promise<Service> =>
      startService({ env: { ...shared, ...deployment.env(user), ORDERFLOW_ROLE: role } });
    await start('scheduler', 'scheduler');
    await start('worker', 'worker');
    api = await start('api', 'api');
    // The operators' api process: the catalog writes are the admin user's.
    operator = await start('api', 'admin');
  }, 120_000);

  afterAll(async () => {
    await stopAllServices();
    await deployment?.dispose();
  });

  it('takes an order on the api, runs it on the worker and syncs it with the scheduler', async () => {
    await operator.putProduct('LP1', product);
    const order = await api.placeAccepted(orderBody({ sku: 'LP1', qty: 2 }));
    const final = await api.waitForTerminal(order.orderId, 30_000);
    expect(final.status).toBe('COMPLETED');
    const rows = await waitFor(
      async () => {
        const found = await deployment.sql<{ status: string }>(
          'SELECT status FROM orders WHERE order_id = $1',
          [order.orderId],
        );
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 20_000, what: 'the order in PostgreSQL' },
    );
    expect(rows).toEqual([{ status: 'COMPLETED' }]);
    await waitFor(
      async () => {
        const [row] = await deployment.sql<{ on_hand: string }>(
          "SELECT on_hand FROM products WHERE sku = 'LP1'",
        );
        return Number(row?.on_hand) === 8 ? true : undefined;
      },
      { timeoutMs: 20_000, what: 'on_hand moved by the sync-out' },
    );
    // Nothing of their own work was refused along the way, by either engine.
    const redis = new Redis(deployment.redis.url);
    try {
      expect(await redis.call('ACL', 'LOG')).toEqual([]);
    } finally {
      redis.disconnect();
    }
    expect(deployment.nats.logs()).not.toMatch(/Violation/);
  });

  it('has the api refused the catalog writes the admin user may make', async () => {
    const res = await api.request('PUT', '/v1/admin/products/LP2', { key: 'admin', body: product });
    expect(res.status).toBe(403);
    expect(errorCode(res.json)).toBe('forbidden');
    expect(res.text).toMatch(/permission denied/);
    expect(await deployment.sql("SELECT sku FROM products WHERE sku = 'LP2'")).toEqual([]);
  });

  it('has a runtime user on a schema never migrated report it, not migrate it', async () => {
    const empty = `${deployment.namespace}_unmigrated`;
    await superQuery(`CREATE DATABASE ${empty}`);
    try {
      const url = new URL(deployment.env('api').ORDERFLOW_DATABASE_URL ?? '');
      url.pathname = `/${empty}`;
      const env = { ...deployment.env('api'), ORDERFLOW_DATABASE_URL: url.toString() };
      await expect(
        startService({ env: { ...env, ORDERFLOW_ROLE: 'api' }, readyTimeoutMs: 8_000 }),
      ).rejects.toThrow(/not ready: the source-of-truth schema lacks .*orderflow migrate/);
    } finally {
      await superQuery(`DROP DATABASE IF EXISTS ${empty} WITH (FORCE)`);
    }
  });

  it('has PostgreSQL refuse what a role was not granted', async () => {
    const denied = /permission denied|must be owner/;
    await expect(sqlAs('api', 'DROP TABLE orders')).rejects.toThrow(denied);
    await expect(
      sqlAs(
        'api',
        "INSERT INTO orders VALUES ('x', 'c', 'e', 'COMPLETED', 1, 'USD', NULL, now(), now())",
      ),
    ).rejects.toThrow(denied);
    await expect(sqlAs('api', "UPDATE products SET on_hand = 0 WHERE sku = 'LP1'")).rejects.toThrow(
      denied,
    );
    await expect(sqlAs('api', 'CREATE TABLE intruder (id int)')).rejects.toThrow(denied);
    await expect(sqlAs('worker', 'DELETE FROM orders')).rejects.toThrow(denied);
    await expect(sqlAs('scheduler', 'UPDATE products SET price_cents = 1')).rejects.toThrow(denied);
    await expect(sqlAs('scheduler', 'DELETE FROM orders')).rejects.toThrow(denied);
    await expect(sqlAs('admin', 'DROP TABLE products')).rejects.toThrow(denied);
    // and what it was granted works
    await expect(sqlAs('api', 'SELECT count(*) FROM products')).resolves.toBeDefined();
  });

  it('has Redis refuse commands and keys outside a user’s grant (NOPERM)', async () => {
    for (const role of ['api', 'worker', 'scheduler', 'admin'] as const) {
      await redisAs(role, async (redis) => {
        await expect(redis.flushall()).rejects.toThrow(/NOPERM/);
        await expect(redis.flushdb()).rejects.toThrow(/NOPERM/);
        await expect(redis.keys('*')).rejects.toThrow(/NOPERM/);
        await expect(redis.config('SET', 'appendonly', 'yes')).rejects.toThrow(/NOPERM/);
        await expect(redis.set('elsewhere:key', '1')).rejects.toThrow(/NOPERM/);
        await expect(redis.get('elsewhere:key')).rejects.toThrow(/NOPERM/);
        await expect(redis.set(`${deployment.namespace}:probe`, '1')).resolves.toBe('OK');
      });
    }
  });

  it('has NATS refuse deleting the streams to every runtime user', async () => {
    const stream = `${deployment.namespace.toUpperCase()}_EVENTS`;
    for (const role of ['api', 'worker', 'scheduler', 'admin'] as const) {
      await expect(deleteStreamAs(role, stream)).rejects.toThrow(/permission/i);
    }
    const nc = await connect(natsServerOptions(deployment.natsAdminUrl));
    try {
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info(stream)).state.messages).toBeGreaterThan(0);
      // A stream gone missing is not re-created by a runtime user: it says who may.
      await jsm.streams.delete(`${deployment.namespace.toUpperCase()}_DROPPED`);
      const migrated = run(process.execPath, [ENTRY, 'migrate'], {
        env: { ...process.env, ...deployment.env('api'), ORDERFLOW_REDIS_URL: '' },
      });
      await expect(migrated).rejects.toMatchObject({
        stderr: expect.stringMatching(/_DROPPED is missing .*orderflow migrate/) as unknown,
      });
    } finally {
      await nc.close();
    }
  });
});
