import fs from 'node:fs/promises';
import net, { type AddressInfo, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRedisBackend, type RedisBackend } from '../../src/adapters/redis/redis-backend.js';
import { RedisConnection } from '../../src/adapters/redis/redis-connection.js';
import { RedisIdempotencyStore } from '../../src/adapters/redis/redis-idempotency-store.js';
import { RedisLease } from '../../src/adapters/redis/redis-lease.js';
import { RedisOrderStore } from '../../src/adapters/redis/redis-order-store.js';
import { RedisStockStore } from '../../src/adapters/redis/redis-stock-store.js';
import { RedisSyncOutbox } from '../../src/adapters/redis/redis-sync-outbox.js';
import { SqliteEventLog } from '../../src/adapters/sqlite/sqlite-event-log.js';
import { RetryableError } from '../../src/domain/errors.js';
import { deleteNamespace, openRedis } from '../helpers/backends-redis.js';
import { ENGINES, enginesUp, randomNamespace } from '../helpers/engines.js';
import { ManualClock } from './fixture.js';
import { eventually, makeOrder } from './support.js';

/** Nothing listens on port 1. */
const NOWHERE = 'redis://127.0.0.1:1';

type ProxyMode = 'up' | 'stall' | 'refuse';

/** A TCP proxy to Redis that can stop answering (stall) or drop every connection (refuse). */
async function startProxy(target: string) {
  const { hostname, port } = new URL(target);
  let mode: ProxyMode = 'up';
  const sockets = new Set<Socket>();
  const server = net.createServer((client) => {
    if (mode === 'refuse') return void client.destroy();
    const upstream = net.connect(Number(port) || 6379, hostname);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', end).on('error', end);
    }
    client.on('data', (data) => mode === 'up' && upstream.write(data));
    upstream.on('data', (data) => mode === 'up' && client.write(data));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set(next: ProxyMode): void {
      mode = next;
      if (next === 'refuse') for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('Redis adapters while Redis is unreachable', () => {
  it('reject every call at once with a RetryableError, and ping false', async () => {
    const connection = new RedisConnection(NOWHERE);
    try {
      const clock = new ManualClock();
      const stock = new RedisStockStore(connection, 'nowhere');
      const calls: Promise<unknown>[] = [
        stock.items(['A']),
        stock.reserve('o1', [{ sku: 'A', qty: 1 }], 0),
        stock.release('o1'),
        new RedisOrderStore(connection, 'nowhere', undefined as never).get('o1'),
        new RedisIdempotencyStore(connection, 'nowhere', clock).begin('c', 'k', 'fp', 1_000, 'o1'),
        new RedisSyncOutbox(connection, 'nowhere', clock).size(),
        new RedisLease(connection, 'nowhere').acquire('sync', 'me', 1_000),
      ];
      for (const outcome of await Promise.allSettled(calls)) {
        expect(outcome.status).toBe('rejected');
        if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(RetryableError);
      }
      expect(await connection.ping()).toBe(false);
    } finally {
      await connection.close();
    }
  });

  it('refuse to open the backend, after a bounded wait', async () => {
    const opening = openRedisBackend({
      url: NOWHERE,
      namespace: 'nowhere',
      log: undefined as never,
      clock: new ManualClock(),
      readyTimeoutMs: 300,
    });
    await expect(opening).rejects.toMatchObject({ code: 'redis_unavailable' });
  });
});

const up = await enginesUp('redis');
describe.skipIf(!up)('redis backend', () => {
  let dir: string;
  let log: SqliteEventLog;
  let namespace: string;
  let admin: RedisConnection;
  const opened: RedisBackend[] = [];

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-redis-backend-'));
    log = new SqliteEventLog(path.join(dir, 'log.db'), new ManualClock());
    namespace = randomNamespace('backend');
    admin = await openRedis();
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((backend) => backend.close()));
    await deleteNamespace(admin, namespace);
    await admin.close();
    await log.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const open = async (url = ENGINES.redis): Promise<RedisBackend> => {
    const backend = await openRedisBackend({ url, namespace, log, clock: new ManualClock() });
    opened.push(backend);
    return backend;
  };

  it('opens every store on one connection and closes once', async () => {
    const backend = await open();
    expect(await backend.ping()).toBe(true);
    const order = makeOrder();
    await backend.orders.create(order);
    await backend.stock.reconcile([
      { sku: 'A123', name: 'Widget', price: { amount: 1999, currency: 'USD' }, onHand: 5 },
    ]);
    expect(await backend.stock.reserve(order.orderId, order.items, 0)).toEqual({
      ok: false,
      shortSkus: ['B456'],
    });
    expect(await backend.lease.acquire('sync', 'me', 1_000)).toBe(1);
    await backend.close();
    await backend.close();
    expect(await backend.ping()).toBe(false);
  });

  it('tells a watcher of a change it missed while its subscription was cut', async () => {
    const proxy = await startProxy(ENGINES.redis);
    try {
      const watching = await open(proxy.url);
      const writer = await open();
      const order = makeOrder();
      await writer.orders.create(order);
      const seen: string[] = [];
      watching.orders.watch(order.orderId, (changed) => seen.push(changed.status));

      proxy.set('refuse');
      await writer.orders.transition(order.orderId, 'PENDING', 'RESERVED', order.createdAt);
      proxy.set('up');
      await eventually(() => expect(seen).toContain('RESERVED'), 15_000);
    } finally {
      await proxy.close();
    }
  });

  it('fails fast while Redis stalls or is gone, and reconnects by itself', async () => {
    const proxy = await startProxy(ENGINES.redis);
    try {
      const backend = await open(proxy.url);
      await backend.outbox.add('o1', 'COMPLETED');

      proxy.set('stall');
      await expect(backend.outbox.size()).rejects.toBeInstanceOf(RetryableError);
      expect(await backend.ping()).toBe(false);

      proxy.set('refuse');
      await expect(backend.outbox.size()).rejects.toBeInstanceOf(RetryableError);

      proxy.set('up');
      await eventually(async () => expect(await backend.outbox.size()).toBe(1), 15_000);
      expect(await backend.ping()).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});
