import { RedisApiKeyStore } from '../../src/adapters/redis/redis-api-key-store.js';
import { RedisConnection } from '../../src/adapters/redis/redis-connection.js';
import { RedisDeclineCounter } from '../../src/adapters/redis/redis-decline-counter.js';
import { RedisIdempotencyStore } from '../../src/adapters/redis/redis-idempotency-store.js';
import { RedisLease } from '../../src/adapters/redis/redis-lease.js';
import { RedisOrderStore } from '../../src/adapters/redis/redis-order-store.js';
import { RedisProcessReports } from '../../src/adapters/redis/redis-process-reports.js';
import { RedisStockStore } from '../../src/adapters/redis/redis-stock-store.js';
import { RedisSyncOutbox } from '../../src/adapters/redis/redis-sync-outbox.js';
import type { ApiKeyStore } from '../../src/ports/api-key-store.js';
import type { Clock } from '../../src/ports/clock.js';
import type { EventLog } from '../../src/ports/event-log.js';
import type { IdempotencyStore } from '../../src/ports/idempotency-store.js';
import { DECLINE_WINDOW_MS, type DeclineCounter } from '../../src/ports/decline-counter.js';
import type { Lease } from '../../src/ports/lease.js';
import type { OrderStore } from '../../src/ports/order-store.js';
import type { ProcessReports } from '../../src/ports/process-reports.js';
import type { RetentionPolicy } from '../../src/ports/retention.js';
import type { StockStore } from '../../src/ports/stock-store.js';
import type { SyncOutbox } from '../../src/ports/sync-outbox.js';
import type { RetentionCacheFixture } from '../contract/cache-retention.contract.js';
import { systemClock, type FixtureFactory } from '../contract/fixture.js';
import type { OrdersAndLog } from '../contract/order-events.contract.js';
import { natsLogsIn } from './backends-nats.js';
import { ENGINES, randomNamespace } from './engines.js';
import { sleep } from './wait.js';

interface Closable {
  close(): Promise<void>;
}

/** What a Redis fixture's `open` gets: one connection and namespace for the whole test. */
export interface RedisFixtureContext {
  readonly connection: RedisConnection;
  readonly namespace: string;
  readonly clock: Clock;
  /** A NATS event log on the same namespace: the order store emits on it, as in production. */
  readonly eventLog: () => EventLog;
}

export function openRedis(): Promise<RedisConnection> {
  return RedisConnection.open(ENGINES.redis);
}

/** Deletes every key of the namespace (SCAN + UNLINK): many test runs share the Redis. */
export async function deleteNamespace(
  connection: RedisConnection,
  namespace: string,
): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await connection.client.scan(
      cursor,
      'MATCH',
      `${namespace}:*`,
      'COUNT',
      1000,
    );
    cursor = next;
    if (keys.length > 0) await connection.client.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * A fresh namespace per fixture on one connection (and on NATS, for the log the order store
 * emits on); every `open` is a new adapter on it, so a reopen sees the same keys. `dispose`
 * closes what was opened and deletes the keys and the streams.
 */
export function redisFixture<T>(create: (context: RedisFixtureContext) => T): FixtureFactory<T> {
  return async () => {
    const connection = await openRedis();
    const namespace = randomNamespace('of');
    const logs = natsLogsIn(namespace);
    const closables: Closable[] = [];
    return {
      open(clock) {
        const instance = create({
          connection,
          namespace,
          clock,
          eventLog: () => logs.open(clock),
        });
        if (isClosable(instance)) closables.push(instance);
        return instance;
      },
      async dispose() {
        await Promise.all(closables.map((instance) => instance.close()));
        await logs.dispose();
        await deleteNamespace(connection, namespace);
        await connection.close();
      },
    };
  };
}

/**
 * The Redis order and stock caches under a retention policy, in a fresh namespace (the order
 * store emitting on a NATS log in it). Redis expires keys by its own clock: `pass` waits the
 * time out.
 */
export async function redisRetentionCaches(
  policy: RetentionPolicy,
): Promise<RetentionCacheFixture> {
  const connection = await openRedis();
  const namespace = randomNamespace('ret');
  const logs = natsLogsIn(namespace);
  const opened: Closable[] = [];
  return {
    open() {
      const orders = new RedisOrderStore(
        connection,
        namespace,
        logs.open(systemClock),
        policy.orderMs,
      );
      const stock = new RedisStockStore(connection, namespace, policy.orderMs);
      opened.push(orders, stock);
      return { orders, stock };
    },
    pass: sleep,
    async dispose() {
      await Promise.all(opened.map((instance) => instance.close()));
      await logs.dispose();
      await deleteNamespace(connection, namespace);
      await connection.close();
    },
  };
}

function isClosable(value: unknown): value is Closable {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<Closable>).close === 'function'
  );
}

export const REDIS_FIXTURES = {
  orderStore: redisFixture<OrderStore>(
    ({ connection, namespace, eventLog }) => new RedisOrderStore(connection, namespace, eventLog()),
  ),
  orderStoreWithLog: redisFixture<OrdersAndLog>(({ connection, namespace, eventLog }) => {
    const log = eventLog();
    const orders = new RedisOrderStore(connection, namespace, log);
    // The log is the fixture's to close, as the Redis backend leaves it to its caller.
    return { orders, log, close: () => orders.close() };
  }),
  stockStore: redisFixture<StockStore>(
    ({ connection, namespace }) => new RedisStockStore(connection, namespace),
  ),
  idempotencyStore: redisFixture<IdempotencyStore>(
    ({ connection, namespace, clock }) => new RedisIdempotencyStore(connection, namespace, clock),
  ),
  syncOutbox: redisFixture<SyncOutbox>(
    ({ connection, namespace, clock }) => new RedisSyncOutbox(connection, namespace, clock),
  ),
  lease: redisFixture<Lease>(({ connection, namespace }) => new RedisLease(connection, namespace)),
  declineCounter: redisFixture<DeclineCounter>(
    ({ connection, namespace, clock }) =>
      new RedisDeclineCounter(connection, namespace, clock, DECLINE_WINDOW_MS),
  ),
  apiKeyStore: redisFixture<ApiKeyStore>(
    ({ connection, namespace }) => new RedisApiKeyStore(connection, namespace),
  ),
  processReports: redisFixture<ProcessReports>(
    ({ connection, namespace, clock }) => new RedisProcessReports(connection, namespace, clock),
  ),
  cacheWith: redisRetentionCaches,
} as const;
