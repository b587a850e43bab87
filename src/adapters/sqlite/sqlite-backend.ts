import fs from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../ports/clock.js';
import type { RetentionPolicy } from '../../ports/retention.js';
import { effectTtlMs } from '../shared/effect-retention.js';
import { DECLINE_WINDOW_MS } from '../../ports/decline-counter.js';
import { SqliteApiKeyStore } from './sqlite-api-key-store.js';
import { SqliteProcessReports } from './sqlite-process-reports.js';
import { SqliteDatabase, type SqliteSync } from './sqlite-database.js';
import { SqliteDeclineCounter } from './sqlite-decline-counter.js';
import { SQLITE_FILES } from './sqlite-files.js';
import { SqliteEventLog } from './sqlite-event-log.js';
import { SqliteIdempotencyStore } from './sqlite-idempotency-store.js';
import { SqliteLease } from './sqlite-lease.js';
import { SqliteOrderStore } from './sqlite-order-store.js';
import { SqliteSourceOfTruth } from './sqlite-source-of-truth.js';
import { SqliteStockStore } from './sqlite-stock-store.js';
import { SqliteSyncOutbox } from './sqlite-sync-outbox.js';

export interface SqliteBackend {
  readonly log: SqliteEventLog;
  readonly orders: SqliteOrderStore;
  readonly stock: SqliteStockStore;
  readonly idempotency: SqliteIdempotencyStore;
  readonly outbox: SqliteSyncOutbox;
  readonly sot: SqliteSourceOfTruth;
  readonly lease: SqliteLease;
  readonly declineCounts: SqliteDeclineCounter;
  readonly apiKeys: SqliteApiKeyStore;
  readonly reports: SqliteProcessReports;
  /** The hot file shared by everything but the source of truth (one group-commit writer). */
  readonly hot: SqliteDatabase;
  /** The source-of-truth file. */
  readonly sotFile: SqliteDatabase;
  /** The embedded engine answers while its files are open. */
  ping(): Promise<Record<string, boolean>>;
  /** Stops the log's timers, commits what is queued and closes both files. */
  close(): Promise<void>;
}

export interface SqliteBackendOptions {
  /** `PRAGMA synchronous` of both files (`ORDERFLOW_SQLITE_SYNC`). */
  readonly synchronous?: SqliteSync;
  /** See `SqliteDatabaseOptions.commitWindowMs`. */
  readonly commitWindowMs?: number;
  /** What the hot file keeps; omitted: everything, for good. */
  readonly retention?: RetentionPolicy;
}

/**
 * The embedded backend: `orderflow.db` holds the log and every cache, so writes of one tick
 * (an order, its event, its idempotency record) commit together; `sot.db` is the source of
 * truth, a separate file as the shop's own database would be. Processes of other roles may
 * share the data dir (an `api`, a `worker`, a `scheduler`): the log and the order watchers
 * notice each other's commits, the stores' writes are conditional statements, the schedules
 * take turns through the lease. One process per data dir runs the consumers (a group's
 * in-flight deliveries live in that process's memory). With a `retention` policy the hot file
 * gives the space of what the log and the caches let go back to the file system.
 */
export function openSqliteBackend(
  dataDir: string,
  clock: Clock,
  options: SqliteBackendOptions = {},
): SqliteBackend {
  fs.mkdirSync(dataDir, { recursive: true });
  const files = { synchronous: options.synchronous, commitWindowMs: options.commitWindowMs };
  const { retention } = options;
  const hot = new SqliteDatabase(path.join(dataDir, SQLITE_FILES.hot), {
    ...files,
    reclaimsSpace: retention !== undefined,
  });
  const sotDatabase = new SqliteDatabase(path.join(dataDir, SQLITE_FILES.sourceOfTruth), files);
  const log = new SqliteEventLog(hot, clock, retention);
  const cache = retention && { clock, orderMs: retention.orderMs };
  const orders = new SqliteOrderStore(hot, log, cache);
  const stock = new SqliteStockStore(hot, cache);
  const idempotency = new SqliteIdempotencyStore(hot, clock, effectTtlMs(options.retention));
  const outbox = new SqliteSyncOutbox(hot, clock);
  const sot = new SqliteSourceOfTruth(sotDatabase, clock);
  const lease = new SqliteLease(hot, clock);
  const declines = new SqliteDeclineCounter(hot, clock, DECLINE_WINDOW_MS);
  const apiKeys = new SqliteApiKeyStore(hot);
  const reports = new SqliteProcessReports(hot, clock);
  let closing: Promise<void> | undefined;
  return {
    log,
    orders,
    stock,
    idempotency,
    outbox,
    sot,
    lease,
    declineCounts: declines,
    apiKeys,
    reports,
    hot,
    sotFile: sotDatabase,
    ping: async () => ({ sqlite: await log.ping() }),
    close: () =>
      (closing ??= (async () => {
        await Promise.all([
          log.close(),
          orders.close(),
          stock.close(),
          idempotency.close(),
          outbox.close(),
          sot.close(),
          lease.close(),
          apiKeys.close(),
          reports.close(),
        ]);
        hot.close();
        sotDatabase.close();
      })()),
  };
}
