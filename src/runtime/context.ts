import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApiKeyStore } from '../ports/api-key-store.js';
import type { Clock } from '../ports/clock.js';
import type { EventLog } from '../ports/event-log.js';
import type { IdempotencyStore } from '../ports/idempotency-store.js';
import type { DeclineCounter } from '../ports/decline-counter.js';
import type { Lease } from '../ports/lease.js';
import type { OrderStore } from '../ports/order-store.js';
import type { ProcessReports } from '../ports/process-reports.js';
import type { RateCounter } from '../ports/rate-counter.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';
import type { StockStore } from '../ports/stock-store.js';
import type { SyncOutbox } from '../ports/sync-outbox.js';
import type { AdminService } from '../workflow/admin-service.js';
import type { CatalogService } from '../workflow/catalog-service.js';
import type { DashboardService } from '../workflow/dashboard-service.js';
import type { KeyService } from '../workflow/key-service.js';
import type { OrdersService } from '../workflow/orders-service.js';
import type { Config } from './config.js';
import type { MetricsText } from './metrics-render.js';

/** The adapters picked for this process: every port, and how to close them all. */
export interface Backends {
  readonly log: EventLog;
  readonly orders: OrderStore;
  readonly stock: StockStore;
  readonly idempotency: IdempotencyStore;
  readonly outbox: SyncOutbox;
  readonly sot: SourceOfTruth;
  readonly lease: Lease;
  /** Declined payments per customer, method, card and IP, shared by every process. */
  readonly declineCounts: DeclineCounter;
  /** The API keys created at run time (`orderflow keys create`), shared by every process. */
  readonly apiKeys: ApiKeyStore;
  /** What each process says about itself (its payment breaker), shared by every process. */
  readonly reports: ProcessReports;
  /** Requests per key and per IP for the rate limits: in memory embedded, Redis scaled out. */
  readonly rateCounts: RateCounter;
  /** Whether the engines the intake needs (the hot store and the log) answer. */
  ping(): Promise<Record<string, boolean>>;
  /**
   * What answers but is unsafe, by check name (`redisPersistence`: a Redis that keeps
   * nothing across a restart): logged at start and shown by `/readyz`, never a reason to
   * refuse work. Absent or empty: nothing to warn about.
   */
  warnings?(): Promise<Record<string, string>>;
  /**
   * What is wrong by configuration rather than down, by check name (`sourceOfTruth`: its
   * database does not exist): unlike an outage of the source of truth, which orders ride
   * out, a reason for `/readyz` to fail, with these words. Absent or empty: nothing wrong.
   */
  problems?(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export interface ReadyReport {
  readonly ready: boolean;
  /** Per check: passed, failed, or `'warning'` (passed, but unsafe: see `warnings`). */
  readonly checks: Record<string, boolean | 'warning'>;
  /** Why a check is a warning, by its name. */
  readonly warnings?: Record<string, string>;
  /** Why a check failed, by its name, where the reason is known (a configuration error). */
  readonly failures?: Record<string, string>;
}

/**
 * Everything the HTTP layer needs, built once by the composition root: workflow-level
 * services, never ports.
 */
export interface ServiceContext {
  readonly config: Config;
  readonly clock: Clock;
  readonly orders: OrdersService;
  readonly catalog: CatalogService;
  readonly admin: AdminService;
  /** The operator dashboard's live figures. */
  readonly dashboard: DashboardService;
  /** Who a request's key belongs to, and the keys operators create and revoke. */
  readonly keys: KeyService;
  readonly logger: Logger;
  /** This process's registry, where the HTTP layer registers its own metrics. */
  readonly metrics: Registry;
  /**
   * The counts behind the request rate limits, shared by every API process of a scale-out
   * deployment: infrastructure of the HTTP layer, like `metrics`, not a use case.
   */
  readonly rateCounts: RateCounter;
  /**
   * `/metrics`: this process's registry, with what another process of the same service
   * counts merged in (the embedded pipeline process's saga and consumers).
   */
  renderMetrics(): Promise<MetricsText>;
  /** Backends reachable and the process accepting work. */
  ready(): Promise<ReadyReport>;
}
