import type { RetentionPolicy } from '../../ports/retention.js';
import { effectTtlMs } from '../shared/effect-retention.js';
import type { Clock } from '../../ports/clock.js';
import type { EventLog } from '../../ports/event-log.js';
import { RedisApiKeyStore } from './redis-api-key-store.js';
import { RedisConnection, type RedisConnectionOptions } from './redis-connection.js';
import { DECLINE_WINDOW_MS } from '../../ports/decline-counter.js';
import { RedisDeclineCounter } from './redis-decline-counter.js';
import { RedisIdempotencyStore } from './redis-idempotency-store.js';
import { RedisLease } from './redis-lease.js';
import { RedisProcessReports } from './redis-process-reports.js';
import { RedisOrderStore } from './redis-order-store.js';
import { RedisPersistenceCheck } from './redis-persistence.js';
import { RedisRateCounter } from './redis-rate-counter.js';
import { RedisStockStore } from './redis-stock-store.js';
import { RedisSyncOutbox } from './redis-sync-outbox.js';

export interface RedisBackendOptions extends RedisConnectionOptions {
  readonly url: string;
  /** Prefixes every key and channel, so deployments and test runs can share one Redis. */
  readonly namespace: string;
  /** Where the order store emits the events of its writes. */
  readonly log: EventLog;
  readonly clock: Clock;
  /** How long finished orders and reservations stay; omitted: for good. */
  readonly retention?: RetentionPolicy;
}

export interface RedisBackend {
  readonly orders: RedisOrderStore;
  readonly stock: RedisStockStore;
  readonly idempotency: RedisIdempotencyStore;
  readonly outbox: RedisSyncOutbox;
  readonly lease: RedisLease;
  readonly declineCounts: RedisDeclineCounter;
  readonly apiKeys: RedisApiKeyStore;
  readonly reports: RedisProcessReports;
  readonly rateCounts: RedisRateCounter;
  /** True while Redis answers. */
  ping(): Promise<boolean>;
  /** Up but unsafe, by check name: `redisPersistence` when Redis keeps nothing on a restart. */
  warnings(): Promise<Record<string, string>>;
  /** Closes the order store's subscriber and the connection; the log is the caller's. */
  close(): Promise<void>;
}

/**
 * The hot stores of the scale-out deployment on one Redis connection. Resolves once Redis is
 * ready; rejects with a RetryableError when it is not within `readyTimeoutMs` (5 s).
 */
export async function openRedisBackend(options: RedisBackendOptions): Promise<RedisBackend> {
  const { url, namespace, log, clock } = options;
  const orderMs = options.retention?.orderMs ?? 0;
  const connection = await RedisConnection.open(url, options);
  const orders = new RedisOrderStore(connection, namespace, log, orderMs);
  // Subscribed before the process serves: a watch must not miss a change made elsewhere
  // while its subscription was still on its way.
  await orders.watching().catch(() => undefined);
  let closing: Promise<void> | undefined;
  // In the background: a namespace an older version filled may hold many orders.
  const indexing = orders.indexExisting().then(
    () => undefined,
    (error: unknown) => {
      if (closing) return;
      const reason = error instanceof Error ? error.message : 'unknown failure';
      process.emitWarning(
        `orders stored before the listing indexes are not indexed yet (${reason}); the next start tries again`,
        'OrderflowRedisWarning',
      );
    },
  );
  const persistence = new RedisPersistenceCheck(connection);
  return {
    orders,
    stock: new RedisStockStore(connection, namespace, orderMs),
    idempotency: new RedisIdempotencyStore(
      connection,
      namespace,
      clock,
      effectTtlMs(options.retention),
    ),
    outbox: new RedisSyncOutbox(connection, namespace, clock),
    lease: new RedisLease(connection, namespace),
    declineCounts: new RedisDeclineCounter(connection, namespace, clock, DECLINE_WINDOW_MS),
    apiKeys: new RedisApiKeyStore(connection, namespace),
    reports: new RedisProcessReports(connection, namespace, clock),
    rateCounts: new RedisRateCounter(connection, namespace),
    ping: () => connection.ping(),
    warnings: async (): Promise<Record<string, string>> => {
      const warning = await persistence.warning();
      return warning === undefined ? {} : { redisPersistence: warning };
    },
    close: () =>
      (closing ??= (async () => {
        await orders.close();
        await indexing;
        await connection.close();
      })()),
  };
}
