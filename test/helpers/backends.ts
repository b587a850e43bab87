import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteApiKeyStore } from '../../src/adapters/sqlite/sqlite-api-key-store.js';
import { SqliteEventLog } from '../../src/adapters/sqlite/sqlite-event-log.js';
import { SqliteIdempotencyStore } from '../../src/adapters/sqlite/sqlite-idempotency-store.js';
import { SqliteDeclineCounter } from '../../src/adapters/sqlite/sqlite-decline-counter.js';
import { SqliteLease } from '../../src/adapters/sqlite/sqlite-lease.js';
import { SqliteOrderStore } from '../../src/adapters/sqlite/sqlite-order-store.js';
import { SqliteProcessReports } from '../../src/adapters/sqlite/sqlite-process-reports.js';
import { SqliteSourceOfTruth } from '../../src/adapters/sqlite/sqlite-source-of-truth.js';
import { SqliteStockStore } from '../../src/adapters/sqlite/sqlite-stock-store.js';
import { SqliteSyncOutbox } from '../../src/adapters/sqlite/sqlite-sync-outbox.js';
import type { ApiKeyStore } from '../../src/ports/api-key-store.js';
import type { Clock } from '../../src/ports/clock.js';
import type { EventLog } from '../../src/ports/event-log.js';
import type { IdempotencyStore } from '../../src/ports/idempotency-store.js';
import { DECLINE_WINDOW_MS, type DeclineCounter } from '../../src/ports/decline-counter.js';
import type { Lease } from '../../src/ports/lease.js';
import type { OrderStore } from '../../src/ports/order-store.js';
import type { ProcessReports } from '../../src/ports/process-reports.js';
import type { RetentionPolicy } from '../../src/ports/retention.js';
import type { SourceOfTruth } from '../../src/ports/source-of-truth.js';
import type { StockStore } from '../../src/ports/stock-store.js';
import type { SyncOutbox } from '../../src/ports/sync-outbox.js';
import type {
  RetentionCacheFactory,
  RetentionCacheFixture,
  RetentionCaches,
} from '../contract/cache-retention.contract.js';
import {
  ManualClock,
  type FixtureFactory,
  type SqlFixture,
  type SqlFixtureFactory,
} from '../contract/fixture.js';
import type {
  RetentionLogFactory,
  RetentionLogFixture,
} from '../contract/log-retention.contract.js';
import type { OrdersAndLog } from '../contract/order-events.contract.js';
import { natsEventLogFixture, natsRetentionLog } from './backends-nats.js';
import { postgresSourceOfTruth } from './backends-postgres.js';
import { REDIS_FIXTURES } from './backends-redis.js';
import { enginesUp } from './engines.js';

/** One backend's adapters, each as a factory of isolated fixtures for the contract suites. */
export interface Backend {
  readonly name: string;
  readonly eventLog: FixtureFactory<EventLog>;
  readonly orderStore: FixtureFactory<OrderStore>;
  /** An order store with the event log it emits on, as the composition root pairs them. */
  readonly orderStoreWithLog: FixtureFactory<OrdersAndLog>;
  readonly stockStore: FixtureFactory<StockStore>;
  readonly idempotencyStore: FixtureFactory<IdempotencyStore>;
  readonly syncOutbox: FixtureFactory<SyncOutbox>;
  readonly lease: FixtureFactory<Lease>;
  readonly declineCounter: FixtureFactory<DeclineCounter>;
  readonly apiKeyStore: FixtureFactory<ApiKeyStore>;
  readonly processReports: FixtureFactory<ProcessReports>;
  readonly sourceOfTruth: SqlFixtureFactory<SourceOfTruth>;
  /** The event log opened with a retention policy; omitted: the log retention suite skips it. */
  readonly eventLogWith?: RetentionLogFactory;
  /** The order and stock caches opened with a retention policy. */
  readonly cacheWith?: RetentionCacheFactory;
}

interface Closable {
  close(): Promise<void>;
}

/** A fresh temp dir per fixture; every `open` is a new adapter on the same file. */
function sqliteFixture<T extends Closable>(
  file: string,
  create: (file: string, clock: Clock) => T,
): () => Promise<SqlFixture<T>> {
  return async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-contract-'));
    const filePath = path.join(dir, file);
    const opened: T[] = [];
    return {
      open(clock) {
        const instance = create(filePath, clock);
        opened.push(instance);
        return instance;
      },
      rows(sql, ...params) {
        const db = new Database(filePath, { readonly: true });
        try {
          return Promise.resolve(
            db.prepare<unknown[], Record<string, unknown>>(sql).all(...params),
          );
        } finally {
          db.close();
        }
      },
      async dispose() {
        await Promise.all(opened.map((instance) => instance.close()));
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  };
}

/**
 * A temp dir per fixture with a manual clock: `pass` moves it. `file` is the hot file's path
 * (SQLite-specific tests read it directly).
 */
export async function sqliteRetentionFixture<T extends Closable>(
  policy: RetentionPolicy,
  create: (file: string, clock: ManualClock, policy: RetentionPolicy) => T,
): Promise<{
  open(): T;
  pass(ms: number): Promise<void>;
  dispose(): Promise<void>;
  readonly file: string;
}> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-retention-'));
  const file = path.join(dir, 'orderflow.db');
  const clock = new ManualClock();
  const opened: T[] = [];
  return {
    file,
    open() {
      const instance = create(file, clock, policy);
      opened.push(instance);
      return instance;
    },
    pass(ms) {
      clock.advance(ms);
      return Promise.resolve();
    },
    async dispose() {
      await Promise.all(opened.map((instance) => instance.close()));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** The SQLite log under a retention policy, on its own file. */
export async function sqliteRetentionLog(
  policy: RetentionPolicy,
): Promise<RetentionLogFixture & { readonly file: string }> {
  const fixture = await sqliteRetentionFixture(
    policy,
    (file, clock, retention) => new SqliteEventLog(file, clock, retention),
  );
  return { ...fixture, countsRemoved: true };
}

/** The SQLite order and stock caches under a retention policy, sharing one file. */
export function sqliteRetentionCaches(
  policy: RetentionPolicy,
): Promise<RetentionCacheFixture & { readonly file: string }> {
  return sqliteRetentionFixture(policy, (file, clock, { orderMs }): RetentionCaches & Closable => {
    const orders = new SqliteOrderStore(file, undefined, { clock, orderMs });
    const stock = new SqliteStockStore(file, { clock, orderMs });
    return {
      orders,
      stock,
      close: async () => void (await Promise.all([orders.close(), stock.close()])),
    };
  });
}

export const SQLITE_BACKEND: Backend = {
  name: 'sqlite',
  eventLog: sqliteFixture('orderflow.db', (file, clock) => new SqliteEventLog(file, clock)),
  orderStore: sqliteFixture('orderflow.db', (file) => new SqliteOrderStore(file)),
  orderStoreWithLog: sqliteFixture('orderflow.db', (file, clock) => {
    const log = new SqliteEventLog(file, clock);
    // The store opens its own handle on the file: the events go in after its commit.
    const orders = new SqliteOrderStore(file, log);
    return {
      orders,
      log,
      close: async () => void (await Promise.all([orders.close(), log.close()])),
    };
  }),
  stockStore: sqliteFixture('orderflow.db', (file) => new SqliteStockStore(file)),
  idempotencyStore: sqliteFixture(
    'orderflow.db',
    (file, clock) => new SqliteIdempotencyStore(file, clock),
  ),
  syncOutbox: sqliteFixture('orderflow.db', (file, clock) => new SqliteSyncOutbox(file, clock)),
  lease: sqliteFixture('orderflow.db', (file, clock) => new SqliteLease(file, clock)),
  declineCounter: sqliteFixture(
    'orderflow.db',
    (file, clock) => new SqliteDeclineCounter(file, clock, DECLINE_WINDOW_MS),
  ),
  apiKeyStore: sqliteFixture('orderflow.db', (file) => new SqliteApiKeyStore(file)),
  processReports: sqliteFixture(
    'orderflow.db',
    (file, clock) => new SqliteProcessReports(file, clock),
  ),
  sourceOfTruth: sqliteFixture('sot.db', (file, clock) => new SqliteSourceOfTruth(file, clock)),
  eventLogWith: sqliteRetentionLog,
  cacheWith: sqliteRetentionCaches,
};

/**
 * The scale-out set as `openBackends` wires it (`openDistributed`): the hot stores on Redis,
 * the order store emitting on the NATS log, PostgreSQL as the source of truth. Each fixture
 * takes a random namespace (Redis keys, NATS streams, a PostgreSQL schema) and removes it.
 */
export const DISTRIBUTED_BACKEND: Backend = {
  name: 'redis+nats+postgres',
  eventLog: natsEventLogFixture,
  eventLogWith: natsRetentionLog,
  ...REDIS_FIXTURES,
  sourceOfTruth: postgresSourceOfTruth,
};

/**
 * The backends every contract suite runs against: SQLite always, the distributed set when
 * Redis, NATS and PostgreSQL answer at `ENGINES` (`ORDERFLOW_TEST_*_URL`). Under CI (`CI=true`)
 * an engine that does not answer fails every suite instead of leaving it out.
 */
export const BACKENDS: readonly Backend[] = (await enginesUp('redis', 'nats', 'postgres'))
  ? [SQLITE_BACKEND, DISTRIBUTED_BACKEND]
  : [SQLITE_BACKEND];
