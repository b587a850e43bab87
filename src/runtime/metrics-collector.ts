import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { ORDER_STATUSES } from '../domain/status.js';
import type { Clock } from '../ports/clock.js';
import type { EventLog } from '../ports/event-log.js';
import type { OrderStore } from '../ports/order-store.js';
import type { PaymentGateway } from '../ports/payment-gateway.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';
import type { StockItem, StockStore } from '../ports/stock-store.js';
import type { SyncOutbox } from '../ports/sync-outbox.js';
import { withDeadline } from '../workflow/deadline.js';
import { PaymentCircuitBreaker, type CircuitState } from './circuit-breaker.js';
import type { Metrics } from './metrics.js';

/** What the scrape-time gauges read: the shared stores, plus what only this process knows. */
export interface MetricSources {
  readonly orders: Pick<OrderStore, 'countByStatus'>;
  readonly log: Pick<EventLog, 'stats'>;
  /** The sync backlog, and the last successful sync-out, whichever process ran it. */
  readonly outbox: Pick<SyncOutbox, 'size' | 'lastSyncedAt'>;
  /** Where the catalog's SKUs come from (the stock gauges' bounded label set). */
  readonly sot: Pick<SourceOfTruth, 'products'>;
  readonly stock: Pick<StockStore, 'items'>;
  /** Its state is reported when it is a circuit breaker (a Stripe-compatible provider). */
  readonly payments: PaymentGateway;
  readonly clock: Clock;
  /** `ORDERFLOW_DLQ_LIMIT`: the dead letters a group may hold, beside how many it holds. */
  readonly deadLetterLimit?: number;
  readonly logger?: Pick<Logger, 'warn'>;
}

export interface CollectorOptions {
  /** How long one store read may take before the scrape goes on without it (2 s). */
  readonly readTimeoutMs?: number;
  /** How often the catalog's SKU list is read again (60 s); stock itself is read every scrape. */
  readonly catalogRefreshMs?: number;
  /**
   * False in a process whose metrics another process serves merged with its own (the
   * embedded pipeline process, see `PipelineProcess`): the store-derived gauges are then
   * read once, by the serving process, rather than twice and summed. True by default.
   */
  readonly fromStores?: boolean;
}

/** The most SKUs the stock gauges report: the first ones of the catalog, sorted by SKU. */
export const STOCK_SKU_LIMIT = 50;

/** The store reads a scrape makes; a read that fails or times out is counted under its name. */
export const METRIC_SOURCES = [
  'orders',
  'consumers',
  'sync_backlog',
  'sync_last_success',
  'catalog',
  'stock',
] as const;
type Source = (typeof METRIC_SOURCES)[number];

const CIRCUIT_STATES = ['closed', 'open', 'half-open'] as const satisfies readonly CircuitState[];
const PAYMENTS_BREAKER = 'payments';
const READ_TIMEOUT_MS = 2_000;
const CATALOG_REFRESH_MS = 60_000;

/**
 * Registers the gauges that are computed when `/metrics` is scraped, from the stores every
 * process shares, so that an `api` process shows the lag and the dead letters of workers it
 * does not run. A scrape never fails or waits long because of a store: each read is bounded
 * and shared by the gauges that need it; one that fails or times out is counted in
 * `orderflow_metrics_collect_failures_total{source}` and its gauges keep their last value.
 * Also counts the payment circuit breaker's trips and reports its state (this process's).
 */
export function collectMetrics(
  metrics: Metrics,
  sources: MetricSources,
  options: CollectorOptions = {},
): void {
  collectBreaker(metrics, sources.payments);
  if (options.fromStores ?? true) collectStoreMetrics(metrics, sources, options);
}

function collectStoreMetrics(
  metrics: Metrics,
  sources: MetricSources,
  options: CollectorOptions,
): void {
  const { registry } = metrics;
  const timeoutMs = options.readTimeoutMs ?? READ_TIMEOUT_MS;
  const reads: (() => Promise<unknown>)[] = [];
  const failures = new Counter({
    name: 'orderflow_metrics_collect_failures_total',
    help: 'Store reads for scrape-time gauges that failed or timed out; those gauges kept their last value.',
    labelNames: ['source'],
    registers: [registry],
    // Joins this scrape's reads (the gauges share them), so that it counts their failures.
    collect: async () => {
      await Promise.all(reads.map((read) => read()));
    },
  });
  for (const source of METRIC_SOURCES) failures.inc({ source }, 0);
  const reader = <T>(source: Source, read: () => Promise<T>, ms = timeoutMs) =>
    sharedRead(read, ms, (error) => {
      failures.inc({ source });
      sources.logger?.warn({ source, err: error }, 'a metrics read failed');
    });
  /** A read every scrape makes (the catalog's is not: it is read now and then). */
  const everyScrape = <T>(read: () => Promise<T | undefined>) => {
    reads.push(read);
    return read;
  };

  const readCounts = everyScrape(reader('orders', () => sources.orders.countByStatus()));
  const orders: Gauge<'status'> = new Gauge({
    name: 'orderflow_orders',
    help: 'Orders by current status, as the order store counts them (the same in every process).',
    labelNames: ['status'],
    registers: [registry],
    collect: async () => {
      const counts = await readCounts();
      if (!counts) return;
      for (const status of ORDER_STATUSES) orders.set({ status }, counts[status] ?? 0);
    },
  });

  const readGroups = everyScrape(reader('consumers', () => sources.log.stats()));
  const groupGauge = (name: string, help: string, field: 'lag' | 'inFlight' | 'dlq'): void => {
    const gauge: Gauge<'group'> = new Gauge({
      name,
      help,
      labelNames: ['group'],
      registers: [registry],
      collect: async () => {
        const groups = await readGroups();
        if (!groups) return;
        gauge.reset();
        for (const [group, stats] of Object.entries(groups)) gauge.set({ group }, stats[field]);
      },
    });
  };
  groupGauge(
    'orderflow_consumer_lag',
    'Events appended that a consumer group was not handed yet.',
    'lag',
  );
  groupGauge(
    'orderflow_consumer_in_flight',
    'Deliveries a consumer group has outstanding.',
    'inFlight',
  );
  groupGauge('orderflow_consumer_dead_letters', 'Dead letters waiting, by consumer group.', 'dlq');
  if (sources.deadLetterLimit !== undefined) {
    new Gauge({
      name: 'orderflow_consumer_dead_letter_limit',
      help: 'Dead letters one consumer group may hold (ORDERFLOW_DLQ_LIMIT); past it its failing events stay in the log, retried, until letters are redriven or discarded.',
      registers: [registry],
    }).set(sources.deadLetterLimit);
  }

  const readBacklog = everyScrape(reader('sync_backlog', () => sources.outbox.size()));
  const backlog: Gauge = new Gauge({
    name: 'orderflow_sync_backlog',
    help: 'Terminal order statuses waiting to be written to the source of truth.',
    registers: [registry],
    collect: async () => {
      const size = await readBacklog();
      if (size !== undefined) backlog.set(size);
    },
  });

  const readLastSync = everyScrape(
    reader('sync_last_success', async () => (await sources.outbox.lastSyncedAt()) ?? 0),
  );
  const lastSync: Gauge = new Gauge({
    name: 'orderflow_sync_last_success_timestamp_seconds',
    help: 'When a sync-out pass last succeeded, in whichever process ran it (Unix seconds, as the store records it); 0: never.',
    registers: [registry],
    collect: async () => {
      const at = await readLastSync();
      if (at !== undefined) lastSync.set(at / 1000);
    },
  });

  const readStock = stockReader(sources, reader, {
    readTimeoutMs: timeoutMs,
    catalogRefreshMs: options.catalogRefreshMs ?? CATALOG_REFRESH_MS,
  });
  collectStock(metrics, everyScrape(readStock));
}

type Reader = <T>(
  source: Source,
  read: () => Promise<T>,
  ms?: number,
) => () => Promise<T | undefined>;

/**
 * Stock of at most STOCK_SKU_LIMIT SKUs of the catalog (sorted, the first ones), so the
 * label set stays bounded however large the catalog grows. The SKU list is read from the
 * source of truth now and then; the stock cache every scrape.
 */
function stockReader(
  { sot, stock, clock }: MetricSources,
  reader: Reader,
  { readTimeoutMs, catalogRefreshMs }: Required<Omit<CollectorOptions, 'fromStores'>>,
): () => Promise<Map<string, StockItem> | undefined> {
  let skus: readonly string[] = [];
  let skusReadAt: number | undefined;
  const readSkus = reader('catalog', async () =>
    (await sot.products())
      .map((product) => product.sku)
      .sort()
      .slice(0, STOCK_SKU_LIMIT),
  );
  const currentSkus = async (): Promise<readonly string[]> => {
    if (skusReadAt === undefined || clock.now() - skusReadAt >= catalogRefreshMs) {
      const fresh = await readSkus();
      if (fresh) {
        skus = fresh;
        skusReadAt = clock.now();
      }
    }
    return skus;
  };
  // Bounded by twice the read timeout: the catalog read (itself bounded) may come first.
  return reader(
    'stock',
    async () => {
      const wanted = await currentSkus();
      return wanted.length === 0 ? new Map<string, StockItem>() : stock.items(wanted);
    },
    2 * readTimeoutMs,
  );
}

function collectStock(
  { registry }: Metrics,
  readItems: () => Promise<Map<string, StockItem> | undefined>,
): void {
  const stockGauge = (name: string, help: string, field: 'available' | 'reserved'): void => {
    const gauge: Gauge<'sku'> = new Gauge({
      name,
      help,
      labelNames: ['sku'],
      registers: [registry],
      collect: async () => {
        const items = await readItems();
        if (!items) return;
        gauge.reset();
        for (const [sku, item] of items) gauge.set({ sku }, item[field]);
      },
    });
  };
  stockGauge(
    'orderflow_stock_available',
    `Stock that can be sold now, for the first ${STOCK_SKU_LIMIT} SKUs of the catalog (sorted).`,
    'available',
  );
  stockGauge(
    'orderflow_stock_reserved',
    `Stock held for unpaid orders, for the first ${STOCK_SKU_LIMIT} SKUs of the catalog (sorted).`,
    'reserved',
  );
}

/**
 * The payment breaker's state at scrape time (one series per state, 1 for the current one).
 * Merged with another process's (the embedded pipeline's), a state is 1 if either is in it,
 * as the alerts read it across processes (`max`).
 */
function collectBreaker({ registry, breakerTrips }: Metrics, payments: PaymentGateway): void {
  const breaker = payments instanceof PaymentCircuitBreaker ? payments : undefined;
  const state: Gauge<'breaker' | 'state'> = new Gauge({
    name: 'orderflow_circuit_breaker_state',
    help: 'Circuit breaker state: 1 for the current one of closed, open and half-open.',
    labelNames: ['breaker', 'state'],
    registers: [registry],
    aggregator: 'max',
    collect: () => {
      if (!breaker) return;
      const now = breaker.state;
      for (const each of CIRCUIT_STATES) {
        state.set({ breaker: PAYMENTS_BREAKER, state: each }, each === now ? 1 : 0);
      }
    },
  });
  if (!breaker) return;
  breakerTrips.inc({ breaker: PAYMENTS_BREAKER }, 0);
  breaker.onTrip(() => breakerTrips.inc({ breaker: PAYMENTS_BREAKER }));
}

/**
 * One read shared by every caller while it runs (the gauges of one scrape ask at once),
 * resolving undefined when it fails or outlasts `timeoutMs`. A read past its deadline is
 * let go: the next scrape starts a fresh one, so a hung store never wedges the metrics.
 */
function sharedRead<T>(
  read: () => Promise<T>,
  timeoutMs: number,
  onFailure: (error: unknown) => void,
): () => Promise<T | undefined> {
  let pending: Promise<T | undefined> | undefined;
  return () => {
    if (pending) return pending;
    const attempt = withDeadline(read, timeoutMs).then(
      (value) => value,
      (error: unknown) => {
        onFailure(error);
        return undefined;
      },
    );
    pending = attempt;
    void attempt.finally(() => {
      if (pending === attempt) pending = undefined;
    });
    return attempt;
  };
}
