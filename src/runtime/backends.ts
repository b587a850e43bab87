import type { Clock } from '../ports/clock.js';
import type { Mailer } from '../ports/mailer.js';
import type { PaymentGateway } from '../ports/payment-gateway.js';
import { ConfigError, type Config } from './config.js';
import type { Backends } from './context.js';

/**
 * Picks the adapters from the configuration: the one place that knows them. Drivers are
 * imported lazily, so a process loads only the engines it uses.
 */
export async function openBackends(config: Config, clock: Clock): Promise<Backends> {
  const distributed = [
    ['ORDERFLOW_REDIS_URL', config.redisUrl],
    ['ORDERFLOW_NATS_URL', config.natsUrl],
    ['ORDERFLOW_DATABASE_URL', config.databaseUrl],
  ].filter(([, url]) => url !== undefined);
  if (distributed.length > 0) {
    throw new ConfigError(
      `${distributed.map(([name]) => name).join(', ')}: this version runs on the embedded backend only; unset them`,
    );
  }
  const { openSqliteBackend } = await import('../adapters/sqlite/sqlite-backend.js');
  return openSqliteBackend(config.dataDir, clock);
}

export async function openPayments(config: Config): Promise<PaymentGateway> {
  if (config.paymentsUrl !== undefined || config.paymentsKey !== undefined) {
    throw new ConfigError(
      'ORDERFLOW_PAYMENTS_URL / ORDERFLOW_PAYMENTS_KEY: this version has the simulated provider only; unset them',
    );
  }
  const { SimulatedPayments } = await import('../adapters/payments/simulated-payments.js');
  return new SimulatedPayments(config.simPaymentFailureRate);
}

export async function openMailer(config: Config, outboxDir: string): Promise<Mailer> {
  if (config.smtpUrl !== undefined) {
    const { SmtpMailer } = await import('../adapters/mail/smtp-mailer.js');
    return new SmtpMailer(config.smtpUrl, config.mailFrom);
  }
  const { OutboxMailer } = await import('../adapters/mail/outbox-mailer.js');
  return new OutboxMailer(outboxDir, config.mailFrom);
}
