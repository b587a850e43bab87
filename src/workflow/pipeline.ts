import { TerminalError } from '../domain/errors.js';
import { asOrderEvent, type OrderEvent } from '../domain/events.js';
import type { Clock } from '../ports/clock.js';
import type { EventLog, LogEvent } from '../ports/event-log.js';
import type { IdempotencyStore } from '../ports/idempotency-store.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';
import type { OrderStore } from '../ports/order-store.js';
import type { StockStore } from '../ports/stock-store.js';
import type { ConsumerDefinition } from './define-consumer.js';
import { toLogEvent } from './log-event.js';
import { findOrder } from './order-lookup.js';
import type { OrderSaga } from './saga.js';

/** The event's data as an order event; a payload that is not one is dead-lettered at once. */
export function orderEventOf(event: LogEvent): OrderEvent {
  const data = asOrderEvent(event.data);
  if (!data)
    throw new TerminalError('not_an_order_event', `event ${event.id} is not an order event`);
  return data;
}

/** The `workflow` group's handler: every saga event drives the saga. */
export function sagaHandler(saga: OrderSaga): (event: LogEvent) => Promise<void> {
  return (event) => saga.handle(orderEventOf(event));
}

export interface FanOutDeps {
  readonly orders: OrderStore;
  /** Keeps the `once` effect ledger: which effects ran to completion. */
  readonly idempotency: IdempotencyStore;
  /** Where an order that left the cache is read from. */
  readonly sot: Pick<SourceOfTruth, 'order'>;
}

/**
 * A fan-out consumer's handler: the order as it is now, for each status it wants, and the
 * effect ledger behind `once`, scoped by the consumer's name.
 */
export function fanOutHandler(
  definition: ConsumerDefinition,
  { orders, idempotency, sot }: FanOutDeps,
): (event: LogEvent) => Promise<void> {
  return async (event) => {
    const data = orderEventOf(event);
    if (data.type !== 'OrderStatusChanged' || !definition.on.includes(data.status)) return;
    // An order that left the cache (a group lagging past the order retention, a dead letter
    // redriven late) is read from the source of truth; one in neither was abandoned.
    const order = await findOrder({ orders, sot }, event.key);
    if (!order) return;
    await definition.handle({
      status: data.status,
      at: data.at,
      order,
      seq: event.seq,
      once: async (key, effect) => {
        const scoped = `${definition.name}:${key}`;
        if (await idempotency.wasDone(scoped)) return;
        await effect();
        await idempotency.markDone(scoped);
      },
    });
  };
}

export interface ExpiryDeps {
  readonly stock: StockStore;
  readonly log: EventLog;
  readonly clock: Clock;
}

/**
 * One sweep of the reservation expiry: holds past their expiry (at most `batch`, a hold
 * announced within `reannounceMs` skipped) become `ReservationExpired` events; the saga
 * then ends their orders. Returns how many were announced.
 */
export async function announceExpiredHolds(
  { stock, log, clock }: ExpiryDeps,
  batch: number,
  reannounceMs: number,
): Promise<number> {
  const now = clock.now();
  const at = new Date(now).toISOString();
  const expired = await stock.claimExpired(now, batch, reannounceMs);
  if (expired.length === 0) return 0;
  await log.append(
    expired.map(({ orderId, expiresAt }) =>
      toLogEvent({ type: 'ReservationExpired', orderId, expiresAt, at }),
    ),
  );
  return expired.length;
}
