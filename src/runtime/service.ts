import { join } from 'node:path';
import type { Logger } from 'pino';
import { v7 as timeOrderedId } from 'uuid';
import { SAGA_EVENT_TYPES, statusChangeType } from '../domain/events.js';
import type { Clock } from '../ports/clock.js';
import type { Mailer } from '../ports/mailer.js';
import { DeclineGuard, declineSubjectOf } from '../workflow/decline-guard.js';
import type { ConsumerDefinition } from '../workflow/define-consumer.js';
import { builtInConsumers } from '../workflow/fan-out.js';
import { Intake } from '../workflow/intake.js';
import { announceExpiredHolds, fanOutHandler, sagaHandler } from '../workflow/pipeline.js';
import { applyRetention, retentionIntervalMs } from '../workflow/retention.js';
import { OrderSaga } from '../workflow/saga.js';
import { SourceOfTruthSync } from '../workflow/sync.js';
import { AdminService } from '../workflow/admin-service.js';
import { DashboardService } from '../workflow/dashboard-service.js';
import { CatalogService } from '../workflow/catalog-service.js';
import { KeyService } from '../workflow/key-service.js';
import { OrdersService } from '../workflow/orders-service.js';
import { BreakerReporter } from './breaker-reporter.js';
import { PaymentCircuitBreaker } from './circuit-breaker.js';
import { openBackends, openMailer, openPayments, type Payments } from './backends.js';
import type { Config } from './config.js';
import { ConsumerRunner, type RunnerSpec } from './consumer-runner.js';
import type { Backends, ServiceContext } from './context.js';
import { checkpoints } from './faults.js';
import { createMetrics, type Metrics } from './metrics.js';
import { collectMetrics } from './metrics-collector.js';
import { metricsRenderer, type MetricsPeer } from './metrics-render.js';
import { LeaseKeeper } from './lease-keeper.js';
import { Scheduler } from './scheduler.js';

export interface ServiceOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** The shop's own fan-out consumers, beside the built-in ones. */
  readonly consumers?: readonly ConsumerDefinition[];
  readonly clock?: Clock;
  /**
   * Puts something in front of the adapters the configuration picked (a backend that
   * fails on purpose, in an outage test); the service closes what it returns.
   */
  readonly wrapBackends?: (opened: Backends) => Backends;
  /** Other processes whose metrics this one's `/metrics` merges in (the embedded pipeline). */
  readonly metricPeers?: readonly MetricsPeer[];
  /**
   * False in a process whose metrics another one serves (the embedded pipeline process):
   * the gauges read from the shared stores are left to that one. True by default.
   */
  readonly storeMetrics?: boolean;
}

const EXPIRY_SWEEP_MS = 1000;
const EXPIRY_BATCH = 1000;
/** A hold still there this long after its expiry was announced is announced again. */
const EXPIRY_REANNOUNCE_MS = 30_000;
const SCHEDULE_LEASE_TTL_MS = 5000;

/**
 * The composition root: picks the adapters, builds the saga, the consumers and the
 * schedules, and starts what this process's role runs. Nothing else wires anything.
 */
export class Service {
  readonly ctx: ServiceContext;
  private readonly runners: ConsumerRunner[] = [];
  private readonly scheduler: Scheduler;
  private readonly leaseKeeper: LeaseKeeper;
  private readonly sync: SourceOfTruthSync;
  private readonly saga: OrderSaga;
  private breakerReporter: BreakerReporter | undefined;
  private accepting = false;

  private constructor(
    private readonly options: ServiceOptions,
    private readonly backends: Backends,
    private readonly payments: Payments,
    private readonly mailer: Mailer,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {
    const { config, logger } = options;
    this.leaseKeeper = new LeaseKeeper(
      backends.lease,
      'schedules',
      SCHEDULE_LEASE_TTL_MS,
      logger,
      () => this.sync.syncIn().then(() => undefined),
    );
    this.scheduler = new Scheduler(logger, metrics, () => this.leaseKeeper.held);
    const checkpoint = checkpoints(config.faultKillAt, logger);
    const declines = new DeclineGuard(config.declineLimit, clock, backends.declineCounts);
    this.sync = new SourceOfTruthSync({ ...backends, clock });
    this.saga = new OrderSaga({
      ...backends,
      payments: payments.gateway,
      clock,
      reservationTtlMs: config.reservationTtlMs,
      paymentGiveUpMs: config.paymentGiveUpMs,
      checkpoint,
      onStatus: (order) => {
        metrics.transitions.inc({ status: order.status });
        const { orderId, status } = order;
        logger.info(
          { orderId, status, from: order.history.at(-2)?.status },
          'order status changed',
        );
      },
      countDecline: (order) => declines.record(declineSubjectOf(order)),
    });
    const intake = new Intake({
      ...backends,
      clock,
      // Time-ordered ids keep every index keyed by order id append-only (UUIDv7).
      newId: timeOrderedId,
      declines,
      checkpoint,
    });
    const sync = this.sync;
    const catalog = new CatalogService({
      ...backends,
      sync,
      onFallback: (sku, error) =>
        logger.warn(
          { err: error, sku },
          'source of truth unreachable; answering from the stock cache',
        ),
    });
    const admin = new AdminService({ ...backends, sync, clock });
    collectMetrics(
      metrics,
      {
        ...backends,
        payments: payments.gateway,
        clock,
        logger,
        deadLetterLimit: config.retention.deadLettersPerGroup,
      },
      { fromStores: options.storeMetrics ?? true },
    );
    this.ctx = {
      config,
      clock,
      orders: new OrdersService({ ...backends, intake, webhooks: payments.webhooks }),
      catalog,
      admin,
      dashboard: new DashboardService({ ...backends, admin, catalog, clock }),
      keys: new KeyService({
        apiKeys: backends.apiKeys,
        clock,
        bootstrap: config.apiKeys,
        onTouchFailed: (error) =>
          logger.warn({ err: error }, "could not record an API key's last use"),
      }),
      logger,
      metrics: metrics.registry,
      rateCounts: backends.rateCounts,
      renderMetrics: metricsRenderer(metrics.registry, options.metricPeers ?? [], logger),
      ready: async () => {
        const [engines, warnings, failures] = await Promise.all([
          backends.ping().catch(() => ({ engines: false })),
          this.warnings(),
          this.problems(),
        ]);
        const checks: Record<string, boolean | 'warning'> = {
          ...engines,
          accepting: this.accepting,
        };
        for (const check of Object.keys(warnings)) checks[check] = 'warning';
        for (const check of Object.keys(failures)) checks[check] = false;
        const ready = Object.values(checks).every((passed) => passed !== false);
        return Object.keys(failures).length === 0
          ? { ready, checks, warnings }
          : { ready, checks, warnings, failures };
      },
    };
  }

  static async open(options: ServiceOptions): Promise<Service> {
    const clock = options.clock ?? { now: () => Date.now() };
    const { config } = options;
    const opened = await openBackends(config, clock);
    const backends = options.wrapBackends?.(opened) ?? opened;
    const payments = await openPayments(config, clock);
    const mailer = await openMailer(config, join(config.dataDir, 'outbox'));
    return new Service(options, backends, payments, mailer, createMetrics(), clock);
  }

  /**
   * Seeds the demo catalog on first start and starts this role's work. The schedules
   * (and a first sync-in) run in the one process that holds their lease.
   */
  async start(options: { seed?: boolean } = {}): Promise<void> {
    const { config, logger } = this.options;
    if (options.seed ?? true) {
      await this.seedDemoCatalog().catch((error: unknown) => {
        logger.warn({ err: error }, 'source of truth unreachable at start; using the stock cache');
      });
    }
    for (const [check, warning] of Object.entries(await this.warnings())) {
      logger.warn({ check }, warning);
    }
    for (const [check, problem] of Object.entries(await this.problems())) {
      logger.error({ check }, `not ready: ${problem}`);
    }
    if (config.role === 'all' || config.role === 'worker') this.startConsumers();
    if (config.role === 'all' || config.role === 'scheduler') {
      this.startSchedules();
      await this.leaseKeeper.start();
    }
    this.accepting = true;
  }

  /** Stops taking work, lets what is in hand finish, and closes the backends. */
  async stop(): Promise<void> {
    this.accepting = false;
    await this.scheduler.stop();
    await this.leaseKeeper.stop();
    await Promise.all(this.runners.map((runner) => runner.stop()));
    await this.breakerReporter?.stop();
    await this.mailer.close();
    await this.backends.close();
  }

  /** What the backends warn about (a Redis without persistence); never fails. */
  private warnings(): Promise<Record<string, string>> {
    return this.backends.warnings?.().catch(() => ({})) ?? Promise.resolve({});
  }

  /** What is wrong by configuration (a database never created); never fails. */
  private problems(): Promise<Record<string, string>> {
    return this.backends.problems?.().catch(() => ({})) ?? Promise.resolve({});
  }

  private startConsumers(): void {
    const { logger, consumers = [] } = this.options;
    const { log } = this.backends;
    this.runners.push(
      new ConsumerRunner(
        log,
        {
          group: 'workflow',
          types: SAGA_EVENT_TYPES,
          concurrency: 256,
          // A provider outage is waited out by the saga itself (its give-up horizon), not
          // by counting attempts: payment work must not be dead-lettered while it lasts.
          policy: { maxRetryableAttempts: Number.MAX_SAFE_INTEGER },
          handle: sagaHandler(this.saga),
          // A dead-lettered saga event still ends its order (stock back, no money kept).
          onDeadLetter: (event, reason) => this.saga.giveUp(event.key, reason),
        },
        logger,
        this.metrics,
      ),
    );
    const fanOut = [
      ...builtInConsumers({ ...this.backends, mailer: this.mailer, clock: this.clock }),
      ...consumers,
    ];
    for (const definition of fanOut) {
      this.runners.push(new ConsumerRunner(log, this.fanOutSpec(definition), logger, this.metrics));
    }
    for (const runner of this.runners) runner.start();
    const { gateway } = this.payments;
    if (gateway instanceof PaymentCircuitBreaker) {
      this.breakerReporter = new BreakerReporter(
        gateway,
        this.backends.reports,
        this.clock,
        logger,
      );
      this.breakerReporter.start();
    }
  }

  private fanOutSpec(definition: ConsumerDefinition): RunnerSpec {
    return {
      group: definition.name,
      types: definition.on.map(statusChangeType),
      concurrency: definition.concurrency ?? 16,
      startAt: definition.from ?? 'now',
      policy: {
        maxAttempts: definition.retry?.attempts,
        baseDelayMs: definition.retry?.baseDelayMs,
        maxDelayMs: definition.retry?.maxDelayMs,
      },
      handle: fanOutHandler(definition, this.backends),
    };
  }

  private startSchedules(): void {
    const { config } = this.options;
    this.scheduler.every('sync-out', config.syncOutIntervalMs, () => this.sync.syncOut());
    this.scheduler.every('sync-in', config.syncInIntervalMs, () => this.sync.syncIn());
    this.scheduler.every(
      'reservation-expiry',
      Math.min(EXPIRY_SWEEP_MS, config.reservationTtlMs),
      async () => {
        await announceExpiredHolds(
          { ...this.backends, clock: this.clock },
          EXPIRY_BATCH,
          EXPIRY_REANNOUNCE_MS,
        );
      },
    );
    this.scheduler.every('retention', retentionIntervalMs(config.retention), async () => {
      const removed = await applyRetention(this.backends);
      for (const store of ['events', 'orders', 'reservations'] as const)
        if (removed[store] > 0) this.metrics.retentionRemoved.inc({ store }, removed[store]);
    });
  }

  private async seedDemoCatalog(): Promise<void> {
    // A shop's own source of truth (PostgreSQL) has its own catalog.
    if (this.options.config.databaseUrl) return;
    if (await this.ctx.catalog.seedDemo())
      this.options.logger.info('demo catalog seeded: A123 (100 on hand), B456 (0 on hand)');
  }
}
