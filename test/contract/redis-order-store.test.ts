import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { v7 as timeOrderedId } from 'uuid';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RedisConnection } from '../../src/adapters/redis/redis-connection.js';
import { RedisOrderStore } from '../../src/adapters/redis/redis-order-store.js';
import { SqliteEventLog } from '../../src/adapters/sqlite/sqlite-event-log.js';
import type { Order } from '../../src/domain/order.js';
import type { OrderStatus } from '../../src/domain/status.js';
import type { NewEvent } from '../../src/ports/event-log.js';
import { deleteNamespace, openRedis } from '../helpers/backends-redis.js';
import { enginesUp, randomNamespace } from '../helpers/engines.js';
import { ManualClock } from './fixture.js';
import { eventually, makeOrder } from './support.js';

const AT = '2030-01-01T12:00:05.000Z';

/** A log that is down: every append fails. */
class DownLog extends SqliteEventLog {
  override append(): Promise<void> {
    return Promise.reject(new Error('log down'));
  }
}

const up = await enginesUp('redis');
describe.skipIf(!up)('redis', () => {
  describe('RedisOrderStore in two processes', () => {
    let dir: string;
    let namespace: string;
    let connections: RedisConnection[];
    let logs: SqliteEventLog[];
    let stores: RedisOrderStore[];

    beforeEach(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-redis-orders-'));
      namespace = randomNamespace('orders');
      connections = await Promise.all([openRedis(), openRedis()]);
      const clock = new ManualClock();
      logs = [
        new SqliteEventLog(path.join(dir, 'log.db'), clock),
        new DownLog(path.join(dir, 'log.db'), clock),
      ];
      stores = connections.map(
        (connection) => new RedisOrderStore(connection, namespace, logs[0] as SqliteEventLog),
      );
    });

    afterEach(async () => {
      await Promise.all(stores.map((store) => store.close()));
      const [first] = connections;
      if (first) await deleteNamespace(first, namespace);
      await Promise.all(connections.map((connection) => connection.close()));
      await Promise.all(logs.map((log) => log.close()));
      await fs.rm(dir, { recursive: true, force: true });
    });

    it('tells a watcher on another store about every change', async () => {
      const [writer, reader] = stores as [RedisOrderStore, RedisOrderStore];
      const order = makeOrder();
      const seen: Order[] = [];
      const unsubscribe = reader.watch(order.orderId, (changed) => seen.push(changed));
      await reader.watching();
      await writer.create(order);
      await eventually(() => expect(seen.at(-1)?.status).toBe('PENDING'));
      await writer.transition(order.orderId, 'PENDING', 'RESERVED', AT);
      await eventually(() => expect(seen.at(-1)?.status).toBe('RESERVED'));
      await writer.requestCancel(order.orderId);
      await eventually(() => expect(seen.at(-1)?.cancelRequested).toBe(true));
      expect(seen.at(-1)?.history).toHaveLength(2);
      const count = seen.length;
      unsubscribe();
      // The sentinel: another order the reader watches, changed by the writer last. Its
      // change reaches the reader after the ones before it (one channel, one connection).
      const sentinel = makeOrder();
      await writer.create(sentinel);
      const sentinelSeen: string[] = [];
      reader.watch(sentinel.orderId, (changed) => sentinelSeen.push(changed.status));
      await writer.transition(order.orderId, 'RESERVED', 'CANCELLED', AT);
      await reader.transition(order.orderId, 'CANCELLED', 'REFUNDED', AT);
      await writer.transition(sentinel.orderId, 'PENDING', 'RESERVED', AT);
      await eventually(() => expect(sentinelSeen).toContain('RESERVED'));
      expect(seen).toHaveLength(count);
    });

    it('abandons an order whose events the log refused, for good', async () => {
      const store = new RedisOrderStore(
        connections[0] as RedisConnection,
        namespace,
        logs[1] as SqliteEventLog,
      );
      stores.push(store);
      const order = makeOrder();
      const placed: NewEvent = {
        id: `${order.orderId}.placed`,
        type: 'T',
        key: order.orderId,
        data: {},
      };
      await expect(store.create(order, [placed])).rejects.toThrow('log down');
      expect(await store.get(order.orderId)).toBeUndefined();
      expect(await store.countByStatus()).toEqual({});
      expect(await store.list({ limit: 10 })).toEqual([]);
      expect(await store.list({ status: 'PENDING', limit: 10 })).toEqual([]);
      // A late create of the same id (its first attempt still running) cannot bring it back.
      await expect((stores[0] as RedisOrderStore).create(order, [placed])).rejects.toMatchObject({
        code: 'order_abandoned',
      });
      await (stores[0] as RedisOrderStore).create(order);
      expect(await store.get(order.orderId)).toBeUndefined();
      expect(await store.abandon(order.orderId)).toBe(true);
    });

    it('abandons an id never created so that placing it later fails; an existing order stays', async () => {
      const [one, two] = stores as [RedisOrderStore, RedisOrderStore];
      const order = makeOrder();
      const placed: NewEvent = {
        id: `${order.orderId}.placed`,
        type: 'T',
        key: order.orderId,
        data: {},
      };
      expect(await one.abandon(order.orderId)).toBe(true);
      await expect(two.create(order, [placed])).rejects.toMatchObject({ code: 'order_abandoned' });
      const live = makeOrder();
      await two.create(live);
      expect(await one.abandon(live.orderId)).toBe(false);
      expect(await one.get(live.orderId)).toEqual(live);
    });

    it('lists orders stored before the listing indexes once they are indexed, and after their next change', async () => {
      const [one, two] = stores as [RedisOrderStore, RedisOrderStore];
      const client = (connections[0] as RedisConnection).client;
      // As a version without the indexes left them: the order's JSON and its count only.
      const old = [
        makeOrder({ orderId: timeOrderedId() }),
        makeOrder({ orderId: timeOrderedId(), status: 'RESERVED' }),
        makeOrder({ orderId: timeOrderedId() }),
      ];
      for (const order of old) {
        await client.set(`${namespace}:order:${order.orderId}`, JSON.stringify(order));
        await client.hincrby(`${namespace}:order-counts`, order.status, 1);
      }
      const [first, second, third] = old.map((order) => order.orderId) as [string, string, string];
      const ids = async (status?: OrderStatus): Promise<string[]> =>
        (await one.list({ status, limit: 10 })).map((order) => order.orderId);
      expect(await ids()).toEqual([]);
      // Changed by this version: indexed by the change itself.
      await two.transition(third, 'PENDING', 'RESERVED', AT);
      expect(await ids('RESERVED')).toEqual([third]);

      expect(await two.indexExisting()).toBe(3);
      expect(await ids()).toEqual([third, second, first]);
      expect(await ids('RESERVED')).toEqual([third, second]);
      expect(await ids('PENDING')).toEqual([first]);
      // Once per namespace.
      expect(await one.indexExisting()).toBe(0);
    });

    it('skips a listed order that an older version moved out of the status', async () => {
      const [one] = stores as [RedisOrderStore, RedisOrderStore];
      const order = makeOrder({ orderId: timeOrderedId() });
      await one.create(order);
      // An older version's compare-and-set moves the order without touching the indexes.
      const moved = { ...order, status: 'CANCELLED' as const };
      await connections[0]?.client.set(
        `${namespace}:order:${order.orderId}`,
        JSON.stringify(moved),
      );
      expect(await one.list({ status: 'PENDING', limit: 10 })).toEqual([]);
      expect(await one.list({ limit: 10 })).toEqual([moved]);
    });

    it('keeps a cancel request made between the read and the write of a transition', async () => {
      const [one, two] = stores as [RedisOrderStore, RedisOrderStore];
      const orders = Array.from({ length: 20 }, () => makeOrder());
      await Promise.all(orders.map((order) => one.create(order)));
      await Promise.all(
        orders.flatMap((order) => [
          one.transition(order.orderId, 'PENDING', 'RESERVED', AT),
          two.requestCancel(order.orderId),
        ]),
      );
      for (const order of orders) {
        expect(await one.get(order.orderId)).toMatchObject({
          status: 'RESERVED',
          cancelRequested: true,
        });
      }
      expect(await two.countByStatus()).toEqual({ RESERVED: 20 });
    });
  });
});
