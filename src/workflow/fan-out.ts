import { RetryableError } from '../domain/errors.js';
import { TERMINAL_STATUSES } from '../domain/status.js';
import type { Clock } from '../ports/clock.js';
import type { Mailer } from '../ports/mailer.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';
import type { SyncOutbox } from '../ports/sync-outbox.js';
import { defineConsumer, type ConsumerDefinition } from './define-consumer.js';
import { statusEmail } from './email-templates.js';

export interface FanOutDeps {
  readonly mailer: Mailer;
  readonly sot: SourceOfTruth;
  readonly outbox: SyncOutbox;
  readonly clock: Clock;
}

/** The source of truth may be down: its failures are retried, not dead-lettered. */
async function inSourceOfTruth(what: string, call: () => Promise<void>): Promise<void> {
  try {
    await call();
  } catch (error) {
    throw new RetryableError('sot_unavailable', `${what}: ${String(error)}`, undefined, {
      cause: error,
    });
  }
}

/**
 * The built-in fan-out: notifications, warehouse, analytics and sync-out. They run from the
 * first start, so every status change in the log is theirs (`from: 'beginning'`): none may
 * be skipped, also when the API took orders before the pipeline created its groups.
 */
export function builtInConsumers({ mailer, sot, outbox, clock }: FanOutDeps): ConsumerDefinition[] {
  return [
    defineConsumer({
      from: 'beginning',
      name: 'notifications',
      on: TERMINAL_STATUSES,
      concurrency: 32,
      handle: ({ order, status, once }) =>
        once(`mail:${order.orderId}:${status}`, () => mailer.send(statusEmail(order, status))),
    }),
    defineConsumer({
      from: 'beginning',
      name: 'warehouse',
      on: ['COMPLETED'],
      handle: ({ order }) =>
        inSourceOfTruth('shipment request', () => sot.requestShipment(order, clock.now())),
    }),
    defineConsumer({
      from: 'beginning',
      name: 'analytics',
      on: TERMINAL_STATUSES,
      handle: ({ order, status, at }) =>
        inSourceOfTruth('sales figures', () => sot.recordSale(order, status, Date.parse(at))),
    }),
    defineConsumer({
      from: 'beginning',
      name: 'sync-out',
      on: TERMINAL_STATUSES,
      concurrency: 64,
      handle: ({ order, status }) => outbox.add(order.orderId, status),
    }),
  ];
}
