import type { Clock } from '../ports/clock.js';
import type { Mailer } from '../ports/mailer.js';
import type { PaymentGateway, PaymentWebhooks } from '../ports/payment-gateway.js';
import type { RetentionPolicy } from '../ports/retention.js';
import { SOT_DATABASE_MISSING, type SourceOfTruth } from '../ports/source-of-truth.js';
import { MemoryRateCounter } from '../adapters/memory/memory-rate-counter.js';
import { ConfigError, type Config } from './config.js';
import type { Backends } from './context.js';
import { LazySourceOfTruth } from './lazy-source-of-truth.js';

/**
 * Picks the adapters from the configuration: the one place that knows them. Drivers are
 * imported lazily, so a process loads only the engines it uses.
 *
 * - nothing set: everything embedded (SQLite files in the data dir), one process;
 * - `ORDERFLOW_DATABASE_URL` alone: embedded, with the shop's PostgreSQL as source of truth;
 * - Redis + NATS + PostgreSQL: the scale-out set, any number of processes. Redis and NATS
 *   go together (a hot store shared by processes needs a log shared by them), and then the
 *   source of truth must be shared too.
 */
export async function openBackends(config: Config, clock: Clock): Promise<Backends> {
  const { redisUrl, natsUrl, databaseUrl, namespace, dataDir, sqliteSync } = config;
  if ((redisUrl === undefined) !== (natsUrl === undefined)) {
    throw new ConfigError(
      'ORDERFLOW_REDIS_URL and ORDERFLOW_NATS_URL are set together or not at all',
    );
  }
  if (redisUrl !== undefined && natsUrl !== undefined) {
    if (databaseUrl === undefined) {
      throw new ConfigError(
        'with Redis and NATS, ORDERFLOW_DATABASE_URL (PostgreSQL) is required too',
      );
    }
    return openDistributed(redisUrl, natsUrl, databaseUrl, namespace, config.retention, clock);
  }
  const { openSqliteBackend } = await import('../adapters/sqlite/sqlite-backend.js');
  const embedded = openSqliteBackend(dataDir, clock, {
    synchronous: sqliteSync,
    commitWindowMs: config.sqliteCommitWindowMs,
    retention: config.retention,
  });
  let sot: SourceOfTruth = embedded.sot;
  let problems: Backends['problems'];
  if (databaseUrl !== undefined) {
    try {
      const postgres = await openPostgres(databaseUrl, clock);
      sot = postgres;
      problems = () => sourceOfTruthProblems(postgres);
    } catch (error) {
      await embedded.close();
      throw error;
    }
  }
  return {
    ...embedded,
    // One process serves the embedded API: its own memory holds the rate counts.
    rateCounts: new MemoryRateCounter(clock),
    sot,
    ...(problems && { problems }),
    close: async () => {
      if (sot !== embedded.sot) await sot.close();
      await embedded.close();
    },
  };
}

/** PostgreSQL may be down at start: it is opened (and migrated) on the first use that works. */
async function openPostgres(url: string, clock: Clock): Promise<LazySourceOfTruth> {
  const { openPostgresSourceOfTruth } =
    await import('../adapters/postgres/postgres-source-of-truth.js');
  const sot = new LazySourceOfTruth(() => openPostgresSourceOfTruth({ url, clock }));
  await sot.warmUp();
  return sot;
}

/**
 * A source-of-truth database that does not exist, or a schema its user may not migrate,
 * fails readiness (an outage does not).
 */
async function sourceOfTruthProblems(sot: LazySourceOfTruth): Promise<Record<string, string>> {
  const problem = await sot.configurationProblem();
  if (problem === undefined) return {};
  if (problem.code !== SOT_DATABASE_MISSING) return { sourceOfTruth: problem.message };
  return {
    sourceOfTruth: `${problem.message}: create it (\`orderflow doctor\` prints the command) or correct ORDERFLOW_DATABASE_URL`,
  };
}

async function openDistributed(
  redisUrl: string,
  natsUrl: string,
  databaseUrl: string,
  namespace: string,
  retention: RetentionPolicy,
  clock: Clock,
): Promise<Backends> {
  const [{ openNatsEventLog }, { openRedisBackend }] = await Promise.all([
    import('../adapters/nats/nats-event-log.js'),
    import('../adapters/redis/redis-backend.js'),
  ]);
  const log = await openNatsEventLog({ url: natsUrl, namespace, clock, retention });
  const redis = await openRedisBackend({ url: redisUrl, namespace, log, clock, retention }).catch(
    async (error: unknown) => {
      await log.close();
      throw error;
    },
  );
  const sot = await openPostgres(databaseUrl, clock).catch(async (error: unknown) => {
    await redis.close();
    await log.close();
    throw error;
  });
  return {
    log,
    orders: redis.orders,
    stock: redis.stock,
    idempotency: redis.idempotency,
    outbox: redis.outbox,
    lease: redis.lease,
    declineCounts: redis.declineCounts,
    apiKeys: redis.apiKeys,
    reports: redis.reports,
    rateCounts: redis.rateCounts,
    sot,
    ping: async () => {
      const [logUp, redisUp] = await Promise.all([log.ping(), redis.ping()]);
      return { log: logUp, redis: redisUp };
    },
    warnings: () => redis.warnings(),
    problems: () => sourceOfTruthProblems(sot),
    close: async () => {
      await redis.close();
      await log.close();
      await sot.close();
    },
  };
}

export interface Payments {
  readonly gateway: PaymentGateway;
  /** Present for providers that notify by webhook. */
  readonly webhooks: PaymentWebhooks | undefined;
}

/**
 * The Stripe-compatible provider (with its webhooks) when it is configured, behind a
 * circuit breaker; else the simulated one.
 */
export async function openPayments(config: Config, clock: Clock): Promise<Payments> {
  const { stripe: settings } = config;
  if (settings !== undefined) {
    const [{ StripePayments }, { PaymentCircuitBreaker }] = await Promise.all([
      import('../adapters/payments/stripe-payments.js'),
      import('./circuit-breaker.js'),
    ]);
    const stripe = new StripePayments(settings);
    return { gateway: new PaymentCircuitBreaker(stripe, { clock }), webhooks: stripe };
  }
  const { SimulatedPayments } = await import('../adapters/payments/simulated-payments.js');
  return { gateway: new SimulatedPayments(config.simPaymentFailureRate), webhooks: undefined };
}

export async function openMailer(config: Config, outboxDir: string): Promise<Mailer> {
  if (config.smtpUrl !== undefined) {
    const { SmtpMailer } = await import('../adapters/mail/smtp-mailer.js');
    return new SmtpMailer(config.smtpUrl, config.mailFrom);
  }
  const { OutboxMailer } = await import('../adapters/mail/outbox-mailer.js');
  return new OutboxMailer(outboxDir, config.mailFrom);
}
