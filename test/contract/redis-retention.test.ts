import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRedisBackend } from '../../src/adapters/redis/redis-backend.js';
import type { RedisConnection } from '../../src/adapters/redis/redis-connection.js';
import { RedisOrderStore } from '../../src/adapters/redis/redis-order-store.js';
import { RedisStockStore } from '../../src/adapters/redis/redis-stock-store.js';
import { SqliteEventLog } from '../../src/adapters/sqlite/sqlite-event-log.js';
import type { OrderStatus } from '../../src/domain/status.js';
import type { RetentionPolicy } from '../../src/ports/retention.js';
import { deleteNamespace, openRedis } from '../helpers/backends-redis.js';
import { ENGINES, enginesUp, randomNamespace } from '../helpers/engines.js';
import { scanKeys } from '../helpers/redis-keys.js';
import { ManualClock } from './fixture.js';
import { eventually, makeOrder } from './support.js';

const AT = '2030-01-01T12:00:05.000Z';
const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
/** Short enough for a test to see Redis expire a settled order. */
const SHORT_MS = 1_000;
const EXPIRES = Date.UTC(2030, 0, 1, 12, 15);

const up = await enginesUp('redis');
describe.skipIf(!up)('redis retention', () => {
  let dir: string;
  let namespace: string;
  let connection: RedisConnection;
  let log: SqliteEventLog;
  const opened: { close(): Promise<void> }[] = [];

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-redis-retention-'));
    namespace = randomNamespace('retention');
    connection = await openRedis();
    log = new SqliteEventLog(path.join(dir, 'log.db'), new ManualClock());
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await deleteNamespace(connection, namespace);
    await connection.close();
    await log.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const orderStore = (orderMs: number): RedisOrderStore => {
    const store = new RedisOrderStore(connection, namespace, log, orderMs);
    opened.push(store);
    return store;
  };
  const pttl = (key: string): Promise<number> => connection.client.pttl(`${namespace}:${key}`);
  const members = (key: string): Promise<string[]> =>
    connection.client.zrange(`${namespace}:${key}`, '0', '-1');

  /** Creates an order and moves it through `statuses`; resolves to its id. */
  const placed = async (store: RedisOrderStore, ...statuses: OrderStatus[]): Promise<string> => {
    const order = makeOrder();
    await store.create(order);
    let from: OrderStatus = order.status;
    for (const to of statuses) {
      expect(await store.transition(order.orderId, from, to, AT)).toBeDefined();
      from = to;
    }
    return order.orderId;
  };

  /** Every key of the namespace, by SCAN. */
  const keyCount = async (): Promise<number> =>
    (await scanKeys(connection.client, `${namespace}:*`)).length;

  describe('RedisOrderStore', () => {
    it('gives an order settled in its status the retention as TTL, and no other order', async () => {
      const store = orderStore(30 * DAY_MS);
      const completed = await placed(store, 'RESERVED', 'PAID', 'COMPLETED');
      const elsewhere = await placed(store, 'RESERVED');
      const unsettled = await placed(store, 'RESERVED', 'CANCELLED');
      await store.settled([
        { orderId: completed, status: 'COMPLETED' },
        // The SoT holds a status the order has left (or never had): it stays.
        { orderId: elsewhere, status: 'CANCELLED' },
        // Not terminal: an order still moving stays, whatever the SoT holds.
        { orderId: elsewhere, status: 'RESERVED' },
        { orderId: 'never-created', status: 'COMPLETED' },
      ]);
      const ttl = await pttl(`order:${completed}`);
      expect(ttl).toBeGreaterThan(29 * DAY_MS);
      expect(ttl).toBeLessThanOrEqual(30 * DAY_MS);
      expect(await pttl(`order:${elsewhere}`)).toBe(-1);
      expect(await pttl(`order:${unsettled}`)).toBe(-1);
      expect(await pttl('order:never-created')).toBe(-2);
      expect(await members('orders-expiring')).toEqual([completed]);
      const score = Number(
        await connection.client.zscore(`${namespace}:orders-expiring`, completed),
      );
      const [seconds] = await connection.client.time();
      expect(Math.abs(score - (Number(seconds) * 1000 + 30 * DAY_MS))).toBeLessThan(5_000);
    });

    it('keeps a settled order that moves on until it is settled again', async () => {
      const store = orderStore(30 * DAY_MS);
      const id = await placed(store, 'RESERVED', 'PAID', 'COMPLETED');
      await store.settled([{ orderId: id, status: 'COMPLETED' }]);
      expect(await pttl(`order:${id}`)).toBeGreaterThan(0);
      expect((await store.requestCancel(id))?.cancelRequested).toBe(true);
      expect(await pttl(`order:${id}`)).toBe(-1);
      await store.settled([{ orderId: id, status: 'COMPLETED' }]);
      expect(await pttl(`order:${id}`)).toBeGreaterThan(0);
      expect(await store.transition(id, 'COMPLETED', 'REFUNDED', AT)).toBeDefined();
      expect(await pttl(`order:${id}`)).toBe(-1);
      // The SoT still holds it as COMPLETED: a refund under way is not let go.
      await store.settled([{ orderId: id, status: 'COMPLETED' }]);
      expect(await pttl(`order:${id}`)).toBe(-1);
      await store.settled([{ orderId: id, status: 'REFUNDED' }]);
      expect(await pttl(`order:${id}`)).toBeGreaterThan(0);
    });

    it('keeps every order when the retention is 0 or not given', async () => {
      const none = new RedisOrderStore(connection, namespace, log);
      opened.push(none);
      const zero = orderStore(0);
      const first = await placed(none, 'RESERVED', 'CANCELLED');
      const second = await placed(zero, 'RESERVED', 'CANCELLED');
      await none.settled([{ orderId: first, status: 'CANCELLED' }]);
      await zero.settled([{ orderId: second, status: 'CANCELLED' }]);
      expect(await pttl(`order:${first}`)).toBe(-1);
      expect(await pttl(`order:${second}`)).toBe(-1);
      expect(await members('orders-expiring')).toEqual([]);
      expect(await zero.evictSettled()).toBe(0);
    });

    it('settles more orders than one script takes', async () => {
      const store = orderStore(30 * DAY_MS);
      const ids = await Promise.all(
        Array.from({ length: 1_100 }, () => placed(store, 'RESERVED', 'CANCELLED')),
      );
      await store.settled(ids.map((orderId) => ({ orderId, status: 'CANCELLED' as const })));
      expect(await connection.client.zcard(`${namespace}:orders-expiring`)).toBe(1_100);
      const ttls = await Promise.all(ids.map((id) => pttl(`order:${id}`)));
      expect(ttls.filter((ttl) => ttl > 0)).toHaveLength(1_100);
    });

    it('drops expired orders from the indexes, keeps their counts and lists the rest', async () => {
      const store = orderStore(SHORT_MS);
      const completed = await placed(store, 'RESERVED', 'PAID', 'COMPLETED');
      const failed = await placed(store, 'FAILED_NO_STOCK');
      const refunding = await placed(store, 'RESERVED', 'PAID', 'COMPLETED');
      const unsettled = await placed(store, 'RESERVED', 'CANCELLED');
      const pending = await placed(store);
      await store.settled([
        { orderId: completed, status: 'COMPLETED' },
        { orderId: failed, status: 'FAILED_NO_STOCK' },
        { orderId: refunding, status: 'COMPLETED' },
      ]);
      // Moved after it was settled: it must outlive the retention.
      await store.requestCancel(refunding);
      const counts = await store.countByStatus();
      const keysBefore = await keyCount();
      await eventually(async () => {
        expect(await connection.client.exists(`${namespace}:order:${completed}`)).toBe(0);
        expect(await connection.client.exists(`${namespace}:order:${failed}`)).toBe(0);
      }, 10_000);

      // Expired but still indexed: a page skips them rather than fail.
      const beforeEviction = await store.list({ limit: 10 });
      expect(beforeEviction.map((order) => order.orderId).sort()).toEqual(
        [refunding, unsettled, pending].sort(),
      );
      expect(await store.list({ status: 'COMPLETED', limit: 10 })).toEqual([
        expect.objectContaining({ orderId: refunding }),
      ]);
      expect(await members('orders-by-id')).toHaveLength(5);

      expect(await store.evictSettled()).toBe(2);
      expect(await members('orders-expiring')).toEqual([]);
      expect((await members('orders-by-id')).sort()).toEqual(
        [refunding, unsettled, pending].sort(),
      );
      expect(await members('orders-by-status:COMPLETED')).toEqual([refunding]);
      expect(await members('orders-by-status:FAILED_NO_STOCK')).toEqual([]);
      expect(await store.countByStatus()).toEqual(counts);
      expect(counts).toMatchObject({ COMPLETED: 2, FAILED_NO_STOCK: 1 });
      expect(await store.get(refunding)).toMatchObject({ cancelRequested: true });
      // The two orders, and the sets they left empty: FAILED_NO_STOCK's index, orders-expiring.
      expect(await keyCount()).toBe(keysBefore - 4);
      expect(await store.evictSettled()).toBe(0);
    });

    it('evicts in batches until nothing due is left', async () => {
      const store = orderStore(SHORT_MS);
      const ids = await Promise.all(
        Array.from({ length: 1_200 }, () => placed(store, 'RESERVED', 'CANCELLED')),
      );
      const kept = await placed(store, 'RESERVED', 'CANCELLED');
      await store.settled(ids.map((orderId) => ({ orderId, status: 'CANCELLED' as const })));
      await eventually(async () => {
        const left = await connection.client.exists(...ids.map((id) => `${namespace}:order:${id}`));
        expect(left).toBe(0);
      }, 15_000);
      expect(await store.evictSettled()).toBe(1_200);
      expect(await members('orders-by-id')).toEqual([kept]);
      expect(await members('orders-by-status:CANCELLED')).toEqual([kept]);
      expect(await store.countByStatus()).toEqual({ CANCELLED: 1_201 });
    });
  });

  describe('RedisStockStore', () => {
    const stockStore = async (orderMs: number): Promise<RedisStockStore> => {
      const store = new RedisStockStore(connection, namespace, orderMs);
      await store.reconcile([
        { sku: 'A', name: 'A', price: { amount: 100, currency: 'USD' }, onHand: 100 },
      ]);
      return store;
    };
    const line = [{ sku: 'A', qty: 2 }];

    it('lets a finished, marked reservation outlive its order, never a held one', async () => {
      const orderMs = 30 * DAY_MS;
      const stock = await stockStore(orderMs);
      const [held, sold, released] = ['held', 'sold', 'released'];
      for (const id of [held, sold, released]) await stock.reserve(id, line, EXPIRES);
      await stock.commit(sold);
      await stock.release(released);
      await Promise.all([
        stock.markSynced(held, false),
        stock.markSynced(sold, true),
        stock.markSynced(released, false),
      ]);
      expect(await pttl(`res:${held}`)).toBe(-1);
      for (const id of [sold, released]) {
        const ttl = await pttl(`res:${id}`);
        expect(ttl).toBeGreaterThan(orderMs);
        expect(ttl).toBeLessThanOrEqual(orderMs + HOUR_MS);
      }
      expect(await stock.evictSettled()).toBe(0);
    });

    it('keeps a record that still counts for the source of truth', async () => {
      const stock = await stockStore(30 * DAY_MS);
      await stock.reserve('sold', line, EXPIRES);
      await stock.commit('sold');
      // Sold, but the SoT does not reflect it yet: it weighs in pending_sot.
      await stock.markSynced('sold', false);
      expect(await pttl('res:sold')).toBe(-1);
      await stock.markSynced('sold', true);
      expect(await pttl('res:sold')).toBeGreaterThan(0);
      // Refunded: returned while the SoT still counts the sale, until it is marked again.
      await stock.release('sold');
      expect(await pttl('res:sold')).toBe(-1);
      await stock.markSynced('sold', true);
      expect(await pttl('res:sold')).toBe(-1);
      await stock.markSynced('sold', false);
      expect(await pttl('res:sold')).toBeGreaterThan(0);
    });

    it('lets a released hold expire unsynced, and holds it anew for good', async () => {
      const orderMs = 30 * DAY_MS;
      const stock = await stockStore(orderMs);
      await stock.reserve('again', line, EXPIRES);
      // Its order may never reach sync-out (the intake abandoned it): the record still goes.
      await stock.release('again');
      expect(await pttl('res:again')).toBeGreaterThan(orderMs);
      await stock.markSynced('again', false);
      expect(await pttl('res:again')).toBeGreaterThan(orderMs);
      expect(await stock.reserve('again', line, EXPIRES)).toMatchObject({ ok: true });
      expect(await pttl('res:again')).toBe(-1);
    });

    it('keeps every record when the retention is 0', async () => {
      const stock = await stockStore(0);
      await stock.reserve('sold', line, EXPIRES);
      await stock.commit('sold');
      await stock.markSynced('sold', true);
      expect(await pttl('res:sold')).toBe(-1);
    });
  });

  it('openRedisBackend hands the order retention to the order and stock stores', async () => {
    const retention: RetentionPolicy = {
      logMs: 7 * DAY_MS,
      orderMs: 2 * DAY_MS,
      deadLettersPerGroup: 10,
      logMaxBytes: 0,
    };
    const backend = await openRedisBackend({
      url: ENGINES.redis,
      namespace,
      log,
      clock: new ManualClock(),
      retention,
    });
    opened.push(backend);
    const id = await placed(backend.orders, 'RESERVED', 'CANCELLED');
    await backend.orders.settled([{ orderId: id, status: 'CANCELLED' }]);
    await backend.stock.reconcile([
      { sku: 'A', name: 'A', price: { amount: 100, currency: 'USD' }, onHand: 5 },
    ]);
    await backend.stock.reserve(id, [{ sku: 'A', qty: 1 }], EXPIRES);
    await backend.stock.release(id);
    await backend.stock.markSynced(id, false);
    const orderTtl = await pttl(`order:${id}`);
    const reservationTtl = await pttl(`res:${id}`);
    expect(orderTtl).toBeGreaterThan(DAY_MS);
    expect(orderTtl).toBeLessThanOrEqual(2 * DAY_MS);
    expect(reservationTtl).toBeGreaterThan(2 * DAY_MS);
    expect(reservationTtl).toBeLessThanOrEqual(2 * DAY_MS + HOUR_MS);
  });
});
